"""saturated_activations: sigmoid or tanh outputs pinned near their limits."""

from __future__ import annotations

from tensorboard_plugin_scram.checks._advice import PYTORCH, idiom, torch_norm_layer
from tensorboard_plugin_scram.checks._layers import StreakCheck, layer_line, measured
from tensorboard_plugin_scram.checks.base import Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, LayerStats

# Raw inputs saturate the first squashing layer: scaling them is the first fix.
_NORMALIZE_FIRST = ("normalizer = keras.layers.Normalization()   # first, when the inputs are raw\n"
                    "normalizer.adapt(x_train)   # then: keras.Input(...), normalizer, the layers\n")
_TORCH_NORMALIZE_FIRST = ("mean, std = x_train.mean(0), x_train.std(0) + 1e-8   # first, when the inputs are raw\n"
                          "x_train = (x_train - mean) / std   # the same mean and std for validation and test\n")


class SaturatedActivations(StreakCheck):
    """## What it does
    On sampled training steps, measures for each hidden sigmoid or tanh layer the share
    of its outputs pinned near the activation's limits (sigmoid below 0.01 or above
    0.99, tanh beyond +-0.98, where the derivative is below about 4% of its peak), and
    reports layers where most outputs are.

    ## Why is this bad?
    A saturated unit passes almost no gradient: the layer and every layer before it
    learn very slowly or not at all. Usual causes are unnormalised inputs, weights
    initialised too large, or a learning rate that grew the weights.

    ## Example
    ```python
    keras.layers.Dense(64, activation="sigmoid",
                       kernel_initializer=keras.initializers.RandomNormal(stddev=3.0))
    model.fit(x_raw, y)          # features in the tens or hundreds
    ```

    ## Fix
    Normalise the inputs, keep the default (Glorot) initialisation, and prefer ReLU-like
    activations in hidden layers, or add `keras.layers.BatchNormalization()` before the
    sigmoid/tanh.

    ## Rule
    Fires for a hidden sigmoid/tanh layer when at least `saturated_share` of its outputs
    were pinned on `patience` sampled steps in a row. Output layers are not measured: a
    confident classifier's sigmoid output is near 0 or 1 by design. 0.5 is the share
    SageMaker Debugger and DeepDiagnosis use. In SCRAM's runs a healthy sigmoid stack
    on scaled digits had 0% pinned outputs, while sigmoid layers with weights of
    standard deviation 3 on inputs scaled to [0, 10] had 79-97%. Confidence is high from
    `high_share` on.
    """

    id = "saturated_activations"
    title = "Saturated activations"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"saturated_share": 0.5, "high_share": 0.8, "patience": 2}
    batch_needs = frozenset({"model"})

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        model = measured(obs, history)
        if model is None:
            return None
        limit = self.threshold("saturated_share")
        pinned = [layer for layer in model.layers
                  if layer.saturated_fraction is not None and layer.saturated_fraction >= limit]
        streaks = self._streaks.update(layer.name for layer in pinned)
        patience = self.threshold("patience")
        return [self._finding(layer, obs, history) for layer in pinned if streaks[layer.name] >= patience]

    def _finding(self, layer: LayerStats, obs: BatchObservation, history: History) -> Finding:
        share = layer.saturated_fraction
        limits = "below 0.01 or above 0.99" if layer.activation != "tanh" else "beyond -0.98 or +0.98"
        raw_inputs = _raw_inputs(history)
        cause = (f" The input {', '.join(repr(n) for n in raw_inputs)} reaches values beyond +-5 (up to "
                 f"{max(raw_inputs.values()):g}), which likely drives the saturation: scale it first."
                 if raw_inputs else "")
        return Finding(
            title=f"Saturated {layer.activation} activations in layer '{layer.name}'",
            explanation=(
                f"{share:.0%} of the outputs of layer '{layer.name}' ({layer.kind}, {layer.activation}) were "
                f"{limits} at step {obs.step}, on {int(self.threshold('patience'))} sampled steps in a row. "
                "There the activation's slope is almost zero, so this layer and the layers before it "
                f"likely learn very slowly.{cause}"
            ),
            suggestion=(
                "Normalise the inputs, keep the default initialisation (or smaller weights), and use "
                "relu-like activations in hidden layers, or put "
                f"{idiom(history.run.framework, 'BatchNormalization', torch_norm_layer(layer.kind))} before the "
                f"{layer.activation}."
            ),
            snippet=_torch_snippet(layer, raw_inputs) if history.run.framework == PYTORCH
            else (_NORMALIZE_FIRST if raw_inputs else "")
            + (layer_line(layer, activation="relu", kernel_initializer="he_normal")
                     + f"\n# or keep {layer.activation}, normalising what goes into it:\n"
                     + f"keras.layers.{layer.kind}(..., activation=None),\n"
                     + "keras.layers.BatchNormalization(),\n"
                     + f'keras.layers.Activation("{layer.activation}"),'),
            evidence={"layer": layer.name, "saturated_fraction": share,
                      "saturated_share": self.threshold("saturated_share")},
            confidence=Confidence.HIGH if share >= self.threshold("high_share") else Confidence.MEDIUM,
            key=layer.name,
        )


def _torch_snippet(layer: LayerStats, raw_inputs: dict[str, float]) -> str:
    """The fix in PyTorch's terms: the measured layer is the nn.Sigmoid/nn.Tanh module itself."""
    return ((_TORCH_NORMALIZE_FIRST if raw_inputs else "")
            + f"nn.ReLU(),  # instead of nn.{layer.kind}() '{layer.name}'\n"
            + f"# or keep the {layer.activation}, normalising what goes into it:\n"
            + f"nn.Linear(...), nn.BatchNorm1d(...), nn.{layer.kind}(),")


def _raw_inputs(history: History) -> dict[str, float]:
    """Inputs the model takes unscaled with values beyond +-5, with their largest magnitude."""
    scaled = history.run.scaled_inputs
    return {t.name: max(abs(t.min), abs(t.max)) for t in history.last_tensors
            if t.role == "input" and not t.feeds_embedding and t.name not in scaled and "*" not in scaled
            and max(abs(t.min), abs(t.max)) > 5}
