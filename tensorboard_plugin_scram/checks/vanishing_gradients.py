"""vanishing_gradients: the first layers get almost no gradient."""

from __future__ import annotations

from tensorboard_plugin_scram.checks._advice import PYTORCH, idiom, module_path, torch_norm_layer
from tensorboard_plugin_scram.checks._layers import (
    StreakCheck,
    layer_line,
    lookup_table,
    measured,
    names,
    with_gradients,
)
from tensorboard_plugin_scram.checks.base import Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, LayerStats

_SQUASHING = ("sigmoid", "tanh", "hard_sigmoid", "softsign")


class VanishingGradients(StreakCheck):
    """## What it does
    On sampled training steps, compares the gradient norm of the model's first layer
    with that of its last layer (each over the layer's trainable weights), and looks
    for gradients that are tiny everywhere although the loss is not.

    ## Why is this bad?
    Each layer multiplies the gradient flowing back by its activation's slope. With many
    sigmoid or tanh layers (slope at most 0.25 or 1) the gradient shrinks at every layer,
    and the first layers, which see the raw input, barely learn: training is stuck while
    the loss still looks "fine".

    ## Example
    ```python
    model = keras.Sequential(
        [keras.layers.Dense(32, activation="sigmoid") for _ in range(10)]
        + [keras.layers.Dense(10, activation="softmax")])
    ```

    ## Fix
    ```python
    keras.layers.Dense(32, activation="relu", kernel_initializer="he_normal")
    ```
    add `keras.layers.BatchNormalization()` between layers, use fewer layers, or add
    residual (skip) connections. In PyTorch: `nn.ReLU()` after the layer,
    `nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")`, `nn.BatchNorm1d`.

    ## Rule
    Embedding layers are left out of the comparison: a lookup table's gradient reaches
    only the rows of the batch's ids, each scaled by the vectors it meets downstream, so
    its norm does not measure a gradient shrinking layer after layer (a recommender's
    user embedding got 2e-4 times its 1-unit output layer's gradient while it learnt
    well). The first and last layers are the first and last others. Fires when, on
    `patience` sampled steps in a row, either
    - the first layer's gradient norm is at most `ratio_limit` times the last layer's
      (and not exactly zero: zero gradients are reported by `weights_not_updating` and
      `dead_relu`). 1e-3 is AUTOTRAINER's threshold. In SCRAM's runs healthy MLPs and
      CNNs had ratios of 0.5 to 3.5, a 10-layer sigmoid MLP 1e-6;
    - or every layer's gradient norm is at most `norm_limit` (1e-7, SageMaker Debugger's
      limit) while the loss is still at least `min_loss`, so the model is not simply done.
    Confidence is high when the ratio is at most `high_ratio`.
    """

    id = "vanishing_gradients"
    title = "Vanishing gradients"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"ratio_limit": 1e-3, "high_ratio": 1e-5, "norm_limit": 1e-7, "min_loss": 1e-3, "patience": 2}
    batch_needs = frozenset({"model"})

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        model = measured(obs, history)
        if model is None:
            return None
        layers = [layer for layer in with_gradients(model.layers) if not lookup_table(layer)]
        if len(layers) < 2:
            return []
        reason = self._reason(layers, obs.logs.get("loss"))
        streak = self._streaks.update([""] if reason else []).get("", 0)
        if reason is None or streak < self.threshold("patience"):
            return []
        return [self._finding(layers, reason, obs, history)]

    def _reason(self, layers: list[LayerStats], loss: float | None) -> str | None:
        first, last = layers[0], layers[-1]
        if 0 < first.grad_norm <= self.threshold("ratio_limit") * last.grad_norm:
            return "ratio"
        largest = max(layer.grad_norm for layer in layers)
        if 0 < largest <= self.threshold("norm_limit") and loss is not None and loss >= self.threshold("min_loss"):
            return "tiny"
        return None

    def _finding(self, layers: list[LayerStats], reason: str, obs: BatchObservation, history: History) -> Finding:
        first, last = layers[0], layers[-1]
        ratio = first.grad_norm / last.grad_norm if last.grad_norm else 0.0
        squashing = [layer for layer in layers[:-1] if layer.activation in _SQUASHING]
        if reason == "ratio":
            observed = (f"the gradient reaching the first layer '{first.name}' ({first.grad_norm:.2g}) is "
                        f"{ratio:.1g} times that of the last layer '{last.name}' ({last.grad_norm:.2g})")
        else:
            observed = (f"every layer's gradient norm is at most {max(x.grad_norm for x in layers):.2g} "
                        f"while the loss is still {obs.logs.get('loss'):.3g}")
        cause = (f" The {len(squashing)} {'/'.join(sorted({x.activation for x in squashing}))} layer(s) "
                 f"({names(squashing[:3])}{' ...' if len(squashing) > 3 else ''}) each shrink it on the way back."
                 if squashing else "")
        return Finding(
            title=self.title,
            explanation=(
                f"At step {obs.step}, {observed}, on {int(self.threshold('patience'))} sampled steps in a row. "
                f"The first layers likely learn almost nothing.{cause}"
            ),
            suggestion=idiom(
                history.run.framework,
                "Use relu-like activations with he_normal initialisation in hidden layers, add "
                "BatchNormalization between layers, use fewer layers, or add skip connections.",
                "Use relu-like activations (nn.ReLU) with He initialisation (nn.init.kaiming_normal_) in hidden "
                "layers, add normalisation (nn.BatchNorm1d, nn.BatchNorm2d for convolutions) between layers, use "
                "fewer layers, or add skip connections."),
            snippet=_snippet(squashing[0] if squashing else first, history.run.framework),
            evidence={"first_layer": first.name, "first_grad_norm": first.grad_norm, "last_layer": last.name,
                      "last_grad_norm": last.grad_norm, "ratio": ratio, "ratio_limit": self.threshold("ratio_limit"),
                      "norm_limit": self.threshold("norm_limit")},
            confidence=Confidence.HIGH if reason == "ratio" and ratio <= self.threshold("high_ratio")
            else Confidence.MEDIUM,
        )


def _snippet(layer: LayerStats, framework: str) -> str:
    """The layer re-created with a ReLU and He initialisation, and a normalisation layer after it."""
    if framework == PYTORCH:  # the activation is a module of its own, after the measured layer
        instead = f", instead of its {layer.activation}" if layer.activation else ""
        return (f"nn.ReLU(),  # after '{layer.name}' ({layer.kind}){instead}\n"
                f'nn.init.kaiming_normal_({module_path(layer.name)}.weight, nonlinearity="relu")\n'
                f"{torch_norm_layer(layer.kind)},  # between the layers")
    return (layer_line(layer, activation="relu", kernel_initializer="he_normal")
            + "\nkeras.layers.BatchNormalization(),")
