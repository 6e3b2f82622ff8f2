"""dead_relu: most units of a ReLU layer output zero for every sample."""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks._advice import PYTORCH, idiom
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
    by chance). A healthy layer fed by non-negative inputs (a Dense layer after a
    convolution's ReLUs, images in [0, 1]) starts with about half its units dead for
    the whole batch: its inputs share a large common part, and the sign of each unit's
    weights against it decides the unit for every sample alike. Keras' CNN tutorial model
    trained to 100% accuracy with 39-53% of its Dense units dead that way, SCRAM's
    benchmark CNN with 39-62%, so SageMaker Debugger's 0.5 would cry wolf on them;
    `dead_share` = 0.7 follows DeepDiagnosis. For a narrow layer, chance alone moves that
    half a lot (the dead units of `n` are then about Binomial(n, 1/2)), so the bar is
    also at least `chance_sds` standard deviations above it: 0.7 for 64 units or more,
    0.875 for 16, every unit for 9 or fewer. Digits MLPs and CNNs stay at 12-31%, while
    a bias initialised at -1 kills ~85% and one at -10 all of them.
    Confidence is high from `high_share` dead units on.
    """

    id = "dead_relu"
    title = "Dead ReLU units"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"dead_share": 0.7, "chance_sds": 3.0, "high_share": 0.9, "patience": 2, "min_batch": 16}
    batch_needs = frozenset({"model"})

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        model = measured(obs, history)
        if model is None or model.predictions is None or model.predictions.count < self.threshold("min_batch"):
            return None
        relus = [layer for layer in model.layers if layer.dead_fraction is not None]
        dead = [layer for layer in relus if layer.dead_fraction >= self._bar(layer)]
        streaks = self._streaks.update(layer.name for layer in dead)
        patience = self.threshold("patience")
        return [self._finding(layer, obs, history) for layer in dead if streaks[layer.name] >= patience]

    def _bar(self, layer: LayerStats) -> float:
        """The dead share that counts for this layer: `dead_share`, raised where chance could reach it."""
        bar = self.threshold("dead_share")
        if layer.units:
            bar = max(bar, 0.5 + self.threshold("chance_sds") * 0.5 / math.sqrt(layer.units))
        return min(bar, 1.0)

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
                f"initialise with {idiom(history.run.framework, 'he_normal', 'nn.init.kaiming_normal_')} and zero "
                "biases, and check that the inputs are normalised."
                + lr_note
            ),
            snippet=_snippet(layer, history.run.framework),
            evidence={"layer": layer.name, "dead_fraction": share, "dead_share": self._bar(layer),
                      "units": layer.units, "learning_rate": lr},
            confidence=Confidence.HIGH if share >= self.threshold("high_share") else Confidence.MEDIUM,
            key=layer.name,
        )


def _snippet(layer: LayerStats, framework: str) -> str:
    if framework == PYTORCH:  # the measured layer is the nn.ReLU module itself
        return (f"nn.LeakyReLU(0.1),  # instead of nn.ReLU() '{layer.name}'\n"
                "# and for the layer before it: He initialisation, zero bias\n"
                'nn.init.kaiming_normal_(layer.weight, nonlinearity="leaky_relu"); nn.init.zeros_(layer.bias)')
    if layer.kind in ("ReLU", "Activation"):
        return f"keras.layers.LeakyReLU(negative_slope=0.1)  # instead of layer '{layer.name}'"
    return layer_line(layer, activation="leaky_relu", kernel_initializer="he_normal")
