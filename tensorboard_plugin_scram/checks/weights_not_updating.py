"""weights_not_updating: trainable weights that stay exactly the same from step to step."""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks._advice import (
    PYTORCH,
    TORCH_DEFAULT_INIT,
    he_init_snippet,
    idiom,
    learning_rate_range,
    module_path,
    optimizer_snippet,
)
from tensorboard_plugin_scram.checks._layers import (
    StreakCheck,
    followed_by_parts,
    measured,
    names,
    part_names,
    quoted_list,
)
from tensorboard_plugin_scram.checks.base import Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, LayerStats, RunInfo

_ALL = "all layers"


class WeightsNotUpdating(StreakCheck):
    """## What it does
    Around sampled training steps, compares each layer's trainable weights before and
    after the step, and reports trainable layers whose weights did not change at all.

    ## Why is this bad?
    A trainable layer that never changes is dead weight: the model trains as if it were
    not there. When no layer changes, nothing is learnt. Usual causes: a learning rate of
    zero (or a schedule that decayed to zero); a layer cut off from the loss (its output
    unused, a `stop_gradient`, or all ReLU units after it dead); `layer.trainable`
    changed after `compile()` without compiling again. Layers frozen on purpose
    (`trainable=False`) are not trainable weights and never reported.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.0), loss=...)
    ```

    ## Fix
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=...)
    ```

    ## Rule
    Fires for a layer whose weights changed by at most `max_change` (relative to their
    norm, per step; 0 by default: not a single weight changed) on `patience` sampled
    steps in a row. SageMaker Debugger's `allclose` (rtol 1e-5) would also flag layers
    that learn very slowly; those are left to `update_ratio_unusual` and
    `vanishing_gradients`, which name the cause. In SCRAM's runs every layer of every
    healthy run changed at every sampled step (per-step ratios 2e-4 to 6e-3), while a
    zero learning rate left every layer exactly unchanged. When all layers are stuck a
    single diagnostic names the learning rate; otherwise one per layer. Once the loss has
    fallen to `converged_share` of its first value the model has learned what it can:
    near the minimum the gradients, and with plain SGD the updates, are too small to
    change a float32 weight, which is convergence, not a fault, and is not judged.
    A model that trains through its own `train_step` without `call()` (a GAN, a VAE) is
    followed part by part (see `internals_not_measured`), without gradients: a part none
    of whose layers changed is reported once, by name (`'generator'`), as train_step not
    updating it when it never changed, as its gradient having died when it changed at an
    earlier sampled step.
    """

    id = "weights_not_updating"
    title = "Weights not updating"
    severity = Severity.WARNING
    confidence = Confidence.HIGH
    thresholds = {"max_change": 0.0, "patience": 2, "converged_share": 1e-3}
    batch_needs = frozenset({"model"})

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._moved_parts: set[str] = set()  # parts of a model with its own train_step seen changing

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        model = measured(obs, history)
        if model is None:
            return None
        layers = [layer for layer in model.layers
                    if layer.weight_norm is not None and layer.update_norm is not None and layer.update_steps]
        if not layers:
            return None
        if self._converged(history):
            return []
        stuck = [layer for layer in layers if self._unchanged(layer)]
        if followed_by_parts(history.run):
            return self._part_findings(layers, stuck, obs, history.run)
        keys = [_ALL] if stuck and len(stuck) == len(layers) else [layer.name for layer in stuck]
        streaks = self._streaks.update(keys)
        patience = self.threshold("patience")
        if keys == [_ALL]:
            return [self._all_finding(stuck, obs, history)] if streaks[_ALL] >= patience else []
        return [self._layer_finding(layer, obs, history.run.framework) for layer in stuck
                if streaks[layer.name] >= patience]

    def _part_findings(self, layers: list[LayerStats], stuck: list[LayerStats], obs: BatchObservation,
                       run: RunInfo) -> list[Finding]:
        """A model followed part by part (its own train_step): one finding per part none of whose layers changed,
        one per layer for a stuck layer in a part that otherwise learns."""
        whole = [part for part in part_names(stuck) if all(self._unchanged(layer) for layer in layers
                                                            if _part(layer) == part)]
        self._moved_parts.update(part_names(layer for layer in layers if not self._unchanged(layer)))
        alone = [layer for layer in stuck if _part(layer) not in whole]
        streaks = self._streaks.update([*whole, *(layer.name for layer in alone)])
        patience = self.threshold("patience")
        findings = [self._part_finding(part, [layer for layer in stuck if _part(layer) == part], layers, obs, run)
                    for part in whole if streaks[part] >= patience]
        return findings + [self._layer_finding(layer, obs) for layer in alone if streaks[layer.name] >= patience]

    def _part_finding(self, part: str, stuck: list[LayerStats], layers: list[LayerStats], obs: BatchObservation,
                      run: RunInfo) -> Finding:
        others = [name for name in part_names(layers) if name != part]
        moving = f", while {quoted_list(others)} did" if others else ""
        if part in self._moved_parts:  # it learnt, then stopped: its gradient died, not its wiring
            cause = (f"'{part}' did change at earlier sampled steps, so train_step does update it: its gradient has "
                     "likely become exactly zero (outputs saturated after updates too large, see "
                     "update_ratio_unusual), or its optimizer's learning rate decayed to zero.")
            suggestion = (f"Lower the learning rate of the optimizer train_step applies to '{part}' (large updates "
                          "saturate its outputs), or check its learning-rate schedule.")
            snippet = (f"# where you create the optimizer train_step applies to '{part}' (keep its class):\n"
                       "optimizer = keras.optimizers.Adam(learning_rate=current_rate / 10)")
        else:
            cause = (f"The likely cause is that train_step applies no update to '{part}': its gradients taken or "
                     "applied for another part's weights (a copy-paste slip between two optimizer steps), an "
                     "optimizer with learning rate 0, or no optimizer step for it at all.")
            suggestion = (f"In train_step, take the gradient of '{part}''s loss with respect to '{part}''s own "
                          "trainable weights and apply it with its optimizer (learning rate above 0).")
            snippet = (f"weights = self.{part}.trainable_weights  # '{part}', not another part\n"
                       "grads = tape.gradient(loss, weights)\n"
                       "optimizer.apply_gradients(zip(grads, weights))  # its own optimizer, learning_rate > 0")
        return Finding(
            title=f"Weights of '{part}' not updating",
            explanation=(f"None of the {len(stuck)} trainable layers of '{part}' ({names(stuck)}) changed a single "
                         f"weight at step {obs.step}, on {int(self.threshold('patience'))} sampled steps in a "
                         f"row{moving}: '{part}' learns nothing. The model trains through its own train_step, so "
                         f"SCRAM cannot see its gradients. {cause}"),
            suggestion=suggestion,
            snippet=snippet,
            evidence={"part": part, "layers": [layer.name for layer in stuck],
                      "update_norms": {layer.name: layer.update_norm for layer in stuck},
                      "max_change": self.threshold("max_change")},
            confidence=Confidence.HIGH,
            key=part,
            location=run.compile_location or run.fit_location,
        )

    def _converged(self, history: History) -> bool:
        """Whether the latest loss is at most `converged_share` of the first one."""
        first = history.first_loss
        if not history.losses or first is None or first <= 0:
            return False
        loss = history.losses[-1][1]
        return math.isfinite(loss) and loss <= self.threshold("converged_share") * first

    def _unchanged(self, layer: LayerStats) -> bool:
        return layer.update_norm <= self.threshold("max_change") * layer.update_steps * layer.weight_norm

    def _all_finding(self, layers: list[LayerStats], obs: BatchObservation, history: History) -> Finding:
        run = history.run
        lr = run.learning_rate
        usual = learning_rate_range(run.optimizer)
        suggested = usual[2] if usual else 1e-3
        suggestion = f"Use a positive learning rate (try {suggested:g}) where you create the optimizer."
        snippet = optimizer_snippet(run.optimizer, suggested, run.framework)
        gradients = [layer.grad_norm for layer in layers if layer.grad_norm is not None]
        if lr is not None and lr <= 0:
            cause, confidence = f"The learning rate is {lr:g}, so the optimizer makes no updates.", Confidence.HIGH
        elif gradients and not any(gradients):
            # Nothing to apply: blaming the learning rate would send the user the wrong way.
            saturated, detached = idiom(run.framework, ("whose clipped probabilities pass", "a stop_gradient"),
                                        ("saturated at 0 or 1, which passes", "a .detach() or torch.no_grad()"))
            cause, confidence = ("Every layer's gradient is exactly zero, so there is nothing to apply: the outputs "
                                 f"are saturated (a softmax or sigmoid {saturated} no gradient, "
                                 "often from inputs or initial weights far from unit scale) or do not depend on the "
                                 f"weights (dead ReLUs, {detached})."), Confidence.MEDIUM
            suggestion = ("Make the gradient flow: scale the inputs, keep the initial weights at " + idiom(
                run.framework, "Keras' defaults (Glorot, He for ReLU layers)", TORCH_DEFAULT_INIT)
                + ", and check that the first loss is near chance level.")
            snippet = he_init_snippet(run.framework)
        else:
            lr_text = f" ({lr:g})" if lr is not None else ""
            cause, confidence = (f"The learning rate{lr_text} may have decayed to zero, or no gradient reaches "
                                 "the weights."), Confidence.MEDIUM
        return Finding(
            title="No weights are updating",
            explanation=(f"None of the {len(layers)} trainable layers changed a single weight at step {obs.step}, "
                         f"on {int(self.threshold('patience'))} sampled steps in a row: the model learns nothing. "
                         + cause),
            suggestion=suggestion,
            snippet=snippet,
            evidence={"layers": [layer.name for layer in layers], "learning_rate": lr,
                      "max_change": self.threshold("max_change")},
            confidence=confidence,
            key=_ALL,
            location=run.compile_location or run.fit_location,
        )

    def _layer_finding(self, layer: LayerStats, obs: BatchObservation, framework: str = "keras") -> Finding:
        after = _dead_after(layer, obs.model.layers)
        if framework == PYTORCH and layer.grad_norm is not None:
            cause, snippet = _torch_layer_cause(layer, after)
        elif layer.grad_norm is None:  # a part of a model with its own train_step: no gradient measured
            cause = ("SCRAM cannot measure its gradient (the model trains through its own train_step): its output "
                     "may not reach the loss train_step computes, or train_step's optimizer step leaves it out.")
            snippet = "grads = tape.gradient(loss, weights)  # check that this layer's weights are among `weights`"
        elif layer.grad_norm == 0 and after:
            cause = (f"Its gradient is exactly zero: the ReLU units of {names(after)} after it are dead, "
                     "so no gradient flows back to it (see dead_relu).")
            snippet = 'keras.layers.Dense(..., activation="leaky_relu", kernel_initializer="he_normal")'
        elif layer.grad_norm == 0:
            cause = ("Its gradient is exactly zero: its output likely does not reach the loss (unused output, "
                     "a stop_gradient, or a layer after it that passes no gradient).")
            snippet = "model.summary()  # check that the layer's output feeds the model's outputs"
        else:
            cause = ("It does get a gradient, but the optimizer does not apply it: if you changed "
                     "`trainable` after `compile()`, compile again.")
            snippet = "model.compile(optimizer=..., loss=..., metrics=[...])  # again, after changing trainable"
        return Finding(
            title=f"Weights of layer '{layer.name}' not updating",
            explanation=(f"The trainable weights of layer '{layer.name}' ({layer.kind}) did not change at all at "
                         f"step {obs.step}, on {int(self.threshold('patience'))} sampled steps in a row, while "
                         f"other layers did. {cause}"),
            suggestion=idiom(framework,
                             "Reconnect the layer to the loss, or set `trainable=False` if it is meant to stay fixed.",
                             "Reconnect the layer to the loss, or set requires_grad=False on its parameters if it is "
                             "meant to stay fixed."),
            snippet=snippet,
            evidence={"layer": layer.name, "update_norm": layer.update_norm, "grad_norm": layer.grad_norm,
                      "weight_norm": layer.weight_norm, "max_change": self.threshold("max_change")},
            confidence=Confidence.HIGH if layer.grad_norm == 0 else Confidence.MEDIUM,
            key=layer.name,
        )


def _torch_layer_cause(layer: LayerStats, after: list[LayerStats]) -> tuple[str, str]:
    """Why one PyTorch module's parameters did not change, and the snippet that checks or fixes it."""
    path = module_path(layer.name)
    if layer.grad_norm == 0 and after:
        return (f"Its gradient is exactly zero: the ReLU units of {names(after)} after it are dead, so no gradient "
                "flows back to it (see dead_relu).",
                "nn.LeakyReLU(0.1),  # instead of the dead nn.ReLU()\n"
                f'nn.init.kaiming_normal_({path}.weight, nonlinearity="leaky_relu")')
    if layer.grad_norm == 0:
        return ("Its gradient is exactly zero: its output likely does not reach the loss (unused output, a .detach() "
                "or torch.no_grad() on its way, or a module after it that passes no gradient).",
                f"loss.backward()\nprint([p.grad for p in {path}.parameters()])  # None or 0: cut off from the loss")
    return ("It does get a gradient, but the optimizer does not apply it: its parameters are likely not among the "
            "optimizer's (created before the module was added or unfrozen, or over another module's parameters).",
            f'optimizer.add_param_group({{"params": {path}.parameters()}})  # or create the optimizer over '
            "model.parameters()")


def _dead_after(layer: LayerStats, layers: tuple[LayerStats, ...]) -> list[LayerStats]:
    """The layers from this one on whose ReLU units are (almost) all dead."""
    start = next((i for i, other in enumerate(layers) if other.name == layer.name), len(layers))
    return [other for other in layers[start:] if other.dead_fraction is not None and other.dead_fraction >= 0.9]


def _part(layer: LayerStats) -> str:
    return layer.name.partition(".")[0]
