"""weights_not_updating: trainable weights that stay exactly the same from step to step."""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks._advice import learning_rate_range, optimizer_snippet
from tensorboard_plugin_scram.checks._layers import StreakCheck, measured, names
from tensorboard_plugin_scram.checks.base import Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, LayerStats

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
    """

    id = "weights_not_updating"
    title = "Weights not updating"
    severity = Severity.WARNING
    confidence = Confidence.HIGH
    thresholds = {"max_change": 0.0, "patience": 2, "converged_share": 1e-3}
    batch_needs = frozenset({"model"})

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
        keys = [_ALL] if stuck and len(stuck) == len(layers) else [layer.name for layer in stuck]
        streaks = self._streaks.update(keys)
        patience = self.threshold("patience")
        if keys == [_ALL]:
            return [self._all_finding(stuck, obs, history)] if streaks[_ALL] >= patience else []
        return [self._layer_finding(layer, obs) for layer in stuck if streaks[layer.name] >= patience]

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
        if lr is not None and lr <= 0:
            cause, confidence = f"The learning rate is {lr:g}, so the optimizer makes no updates.", Confidence.HIGH
        else:
            lr_text = f" ({lr:g})" if lr is not None else ""
            cause, confidence = (f"The learning rate{lr_text} may have decayed to zero, or no gradient reaches "
                                 "the weights."), Confidence.MEDIUM
        return Finding(
            title="No weights are updating",
            explanation=(f"None of the {len(layers)} trainable layers changed a single weight at step {obs.step}, "
                         f"on {int(self.threshold('patience'))} sampled steps in a row: the model learns nothing. "
                         + cause),
            suggestion=f"Use a positive learning rate (try {suggested:g}) where you create the optimizer.",
            snippet=optimizer_snippet(run.optimizer, suggested),
            evidence={"layers": [layer.name for layer in layers], "learning_rate": lr,
                      "max_change": self.threshold("max_change")},
            confidence=confidence,
            key=_ALL,
            location=run.compile_location or run.fit_location,
        )

    def _layer_finding(self, layer: LayerStats, obs: BatchObservation) -> Finding:
        after = _dead_after(layer, obs.model.layers)
        if layer.grad_norm == 0 and after:
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
            suggestion="Reconnect the layer to the loss, or set `trainable=False` if it is meant to stay fixed.",
            snippet=snippet,
            evidence={"layer": layer.name, "update_norm": layer.update_norm, "grad_norm": layer.grad_norm,
                      "weight_norm": layer.weight_norm, "max_change": self.threshold("max_change")},
            confidence=Confidence.HIGH if layer.grad_norm == 0 else Confidence.MEDIUM,
            key=layer.name,
        )


def _dead_after(layer: LayerStats, layers: tuple[LayerStats, ...]) -> list[LayerStats]:
    """The layers from this one on whose ReLU units are (almost) all dead."""
    start = next((i for i, other in enumerate(layers) if other.name == layer.name), len(layers))
    return [other for other in layers[start:] if other.dead_fraction is not None and other.dead_fraction >= 0.9]
