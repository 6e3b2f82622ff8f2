"""dead_relu: most units of a ReLU layer output zero for every sample."""

from __future__ import annotations

from tensorboard_plugin_scram.checks._layers import StreakCheck, layer_line, measured
from tensorboard_plugin_scram.checks.base import Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, LayerStats


class DeadRelu(StreakCheck):
    """## What it does
    On sampled training steps, measures for each ReLU layer the share of its units
    (Dense units, convolution filters) that output zero for every sample of the batch,
    and reports layers where most units are "dead".

    ## Why is this bad?
    A ReLU unit whose input is negative for every sample outputs zero and gets a zero
    gradient, so it never recovers: it is lost capacity. When a whole layer dies, no
    gradient reaches the layers before it and the model stops learning. Usual causes: a
    learning rate so high that one large update pushes the biases far negative, a
    negative bias initialisation, or unnormalised inputs.

    ## Example
    ```python
    keras.layers.Dense(64, activation="relu",
                       bias_initializer=keras.initializers.Constant(-10.0))
    ```

    ## Fix
    ```python
    keras.layers.Dense(64, activation="leaky_relu", kernel_initializer="he_normal")
    ```
    and lower the learning rate if it is high (large updates kill ReLUs).

    ## Rule
    Fires for a ReLU layer when at least `dead_share` of its units were zero for every
    sample of the batch, on `patience` sampled steps in a row, on batches of at least
    `min_batch` samples (on a batch of a few samples a unit can be zero for all of them
    by chance). `dead_share` = 0.5 follows SageMaker Debugger's default (DeepDiagnosis
    uses 0.7); healthy runs stay well below it: 0-22% dead units in SCRAM's runs on a
    digits MLP and a small CNN, up to 38% with batch normalisation and dropout, while a
    bias initialised at -10 kills 100% and Adam at learning rate 0.1 kills 73-88%.
    Confidence is high from `high_share` dead units on.
    """

    id = "dead_relu"
    title = "Dead ReLU units"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"dead_share": 0.5, "high_share": 0.9, "patience": 2, "min_batch": 16}
    batch_needs = frozenset({"model"})

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        model = measured(obs, history)
        if model is None or model.predictions is None or model.predictions.count < self.threshold("min_batch"):
            return None
        relus = [layer for layer in model.layers if layer.dead_fraction is not None]
        dead = [layer for layer in relus if layer.dead_fraction >= self.threshold("dead_share")]
        streaks = self._streaks.update(layer.name for layer in dead)
        patience = self.threshold("patience")
        return [self._finding(layer, obs, history) for layer in dead if streaks[layer.name] >= patience]

    def _finding(self, layer: LayerStats, obs: BatchObservation, history: History) -> Finding:
        share = layer.dead_fraction
        units = "filters" if "Conv" in layer.kind else "units"
        lr = history.run.learning_rate
        lr_note = f" The learning rate is {lr:g}; if it is high, lower it too." if lr else ""
        return Finding(
            title=f"Dead ReLU units in layer '{layer.name}'",
            explanation=(
                f"{share:.0%} of the {units} of layer '{layer.name}' ({layer.kind}, ReLU) output zero "
                f"for every sample of the batch at step {obs.step}, on {int(self.threshold('patience'))} "
                "sampled steps in a row. Such units get no gradient and likely stay dead, so the "
                "layer has lost most of its capacity"
                + (" and passes almost no gradient to the layers before it." if share >= 0.9 else ".")
            ),
            suggestion=(
                "Use an activation that keeps a gradient for negative inputs (leaky_relu, elu, gelu), "
                "initialise with he_normal and zero biases, and check that the inputs are normalised."
                + lr_note
            ),
            snippet=_snippet(layer),
            evidence={"layer": layer.name, "dead_fraction": share, "dead_share": self.threshold("dead_share"),
                      "learning_rate": lr},
            confidence=Confidence.HIGH if share >= self.threshold("high_share") else Confidence.MEDIUM,
            key=layer.name,
        )


def _snippet(layer: LayerStats) -> str:
    if layer.kind in ("ReLU", "Activation"):
        return f"keras.layers.LeakyReLU(negative_slope=0.1)  # instead of layer '{layer.name}'"
    return layer_line(layer, activation="leaky_relu", kernel_initializer="he_normal")
