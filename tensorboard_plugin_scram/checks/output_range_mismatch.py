"""output_range_mismatch: the output activation cannot produce the targets."""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks import _losses, _pytorch_idiom
from tensorboard_plugin_scram.checks._advice import idiom
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, LossInfo, OutputInfo, TensorStats

# A rule's answer: (severity, why, fix, snippet).
Problem = tuple[Severity, str, str, str]


class OutputRangeMismatch(Check):
    """## What it does
    On the first batches, compares the targets with what the output activation can
    produce: sigmoid and softmax give 0 to 1, tanh -1 to 1, ReLU and softplus 0 and up,
    ELU -1 and up. Under a regression loss (MSE, MAE, Huber, ...) it reports targets
    beyond that range, such as prices of 0 to 500 behind a sigmoid, or standardised
    (negative) targets behind a ReLU. Under any loss but a sparse one it reports
    multi-label targets (rows holding several 1s) behind a softmax, whose outputs
    compete and always sum to 1.

    ## Why is this bad?
    The model can never output those targets: the loss stays high whatever it learns,
    the output saturates and its gradients vanish. The training looks stuck, or settles
    on predicting the edge of the range, and nothing in Keras says why.

    ## Example
    ```python
    keras.layers.Dense(1, activation="sigmoid")   # house prices, 50 to 500
    model.compile(loss="mse")
    ```

    ## Fix
    ```python
    keras.layers.Dense(1)   # linear: any real value (or scale the targets into [0, 1])
    model.compile(loss="mse")
    ```
    For several labels per sample, use sigmoid with `binary_crossentropy`.

    ## Rule
    Fires when the part of the targets' span (in a sampled batch) beyond the
    activation's range exceeds `share` of that span (at least `share` itself, for nearly
    constant targets): an error when more than half of the span is out of reach, else a
    warning. Multi-label rows behind a softmax are an error under a regression or binary
    loss, and a warning under categorical cross-entropy (which still learns a ranking).
    A softmax over a single unit is left to `output_activation_loss_mismatch`; an
    activation guessed from a custom layer's sub-layer gives info only.
    """

    id = "output_range_mismatch"
    title = "Output activation cannot reach the targets"
    severity = Severity.ERROR
    confidence = Confidence.HIGH
    thresholds = {"share": 0.05}
    batch_needs = frozenset({"tensors"})

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        if obs.tensors is None:
            return None
        targets = [t for t in obs.tensors if t.role == "target"]
        if not targets or not history.run.outputs:
            return None
        findings = []
        framework = history.run.framework
        for (output, loss), label in _losses.with_labels(_losses.pairs(history.run), targets):
            problem = _multi_label_softmax(output, loss, label, framework) or _out_of_range(
                output, loss, label, self.threshold("share"), framework)
            if problem:
                findings.append(self._finding(output, loss, label, problem, history.run.compile_location, framework))
        return findings

    def _finding(self, output: OutputInfo, loss: LossInfo, label: TensorStats, problem: Problem,
                 location: str | None, framework: str) -> Finding:
        severity, why, fix, snippet = problem
        confidence = None
        if output.activation_guessed:
            severity, confidence = Severity.INFO, Confidence.LOW
            why += (f" (The activation was read from the custom layer's last sub-layer '{output.activation_layer}'"
                    ": if its call() returns something else, ignore this.)")
        where = f" (its inner layer '{output.activation_layer}')" if output.activation_layer else ""
        return Finding(
            title=self.title,
            explanation=(f"The targets '{label.name}' range from {label.min:g} to {label.max:g}, the output layer "
                         f"'{output.layer}'{where} has {output.units} unit(s) with {output.activation} activation "
                         f"and the loss is {_pytorch_idiom.loss_name(loss, framework)}. {why}"),
            suggestion=fix,
            snippet=snippet,
            evidence={"targets_min": label.min, "targets_max": label.max, "activation": output.activation,
                      "activation_range": list(_losses.ACTIVATION_RANGES.get(output.activation or "", ())),
                      "multi_hot_rows": label.multi_hot_rows, "units": output.units, "loss": loss.name},
            severity=severity,
            confidence=confidence,
            key=label.name,
            location=location,
        )


def _multi_label_softmax(output: OutputInfo, loss: LossInfo, label: TensorStats, framework: str) -> Problem | None:
    units = output.units or 0
    if output.activation != "softmax" or units < 2 or not label.multi_hot_rows or loss.name in _losses.SPARSE:
        return None
    if loss.name in _losses.BINARY and units >= 3:
        return None  # output_activation_loss_mismatch names softmax with binary cross-entropy before training
    rows = f" of the {label.count // units}" if label.count % units == 0 else ""
    why = (f"{label.multi_hot_rows}{rows} label rows in a sampled batch hold two or more 1s (several labels "
           "per sample), but softmax makes the outputs compete: they always sum to 1, so those rows can never "
           "be fitted.")
    severity = Severity.WARNING if loss.name in _losses.CATEGORICAL else Severity.ERROR
    if severity == Severity.WARNING:
        why += " Categorical cross-entropy still learns a ranking of the labels, but not which of them apply."
    return (severity, why, *idiom(
        framework,
        ("For several labels per sample use one sigmoid unit per label with binary cross-entropy, and a threshold "
         "(0.5) per label.",
         f'keras.layers.Dense({units}, activation="sigmoid")\n'
         'model.compile(loss="binary_crossentropy", metrics=["binary_accuracy"], ...)'),
        ("For several labels per sample use one output per label without activation and nn.BCEWithLogitsLoss "
         "(a sigmoid per label), and a threshold (0.5) per label.",
         f"nn.Linear(in_features, {units})  # one logit per label, no softmax\n"
         "loss_fn = nn.BCEWithLogitsLoss()  # targets: float 0.0 / 1.0 per label\n"
         "# labels that apply: torch.sigmoid(model(x)) > 0.5")))


def _out_of_range(output: OutputInfo, loss: LossInfo, label: TensorStats, share: float,
                  framework: str) -> Problem | None:
    activation = output.activation or ""
    if loss.name not in _losses.REGRESSION or activation not in _losses.ACTIVATION_RANGES:
        return None
    if activation == "softmax" and output.units == 1:
        return None  # output_activation_loss_mismatch: a softmax over one unit is always 1
    low, high = _losses.ACTIVATION_RANGES[activation]
    span = label.max - label.min
    beyond = max(0.0, label.max - high) + max(0.0, low - label.min)
    if not math.isfinite(beyond) or beyond <= share * max(span, 1.0):
        return None
    severity = Severity.ERROR if beyond > 0.5 * span else Severity.WARNING
    effect = ("the output saturates at its limit, where its gradient vanishes" if math.isfinite(high)
              else f"the output sits at its floor for them, where a {activation} passes little or no gradient")
    return (severity, f"A {activation} output only gives values {_range_text(low, high)}, so "
            f"{_reach_text(label, low, high)} can never be reached: the loss stays high and {effect}.",
            *_range_fix(output, label, activation, framework))


def _range_text(low: float, high: float) -> str:
    return f"from {low:g} to {high:g}" if math.isfinite(high) else f"of {low:g} and up"


def _reach_text(label: TensorStats, low: float, high: float) -> str:
    parts = []
    if label.max > high:
        parts.append(f"targets up to {label.max:g}")
    if label.min < low:
        parts.append(f"targets down to {label.min:g}")
    return " and ".join(parts)


def _range_fix(output: OutputInfo, label: TensorStats, activation: str, framework: str) -> tuple[str, str]:
    units = output.units or 1
    linear = idiom(framework, f"keras.layers.Dense({units})  # linear output: any real value"
                   f"{_losses.inner_layer_note(output)}",
                   f"nn.Linear(in_features, {units})  # last, with no "
                   f"{_pytorch_idiom.activation_module(activation)} after it (nor in forward()): any real value")
    low, high = _losses.ACTIVATION_RANGES[activation]
    if not math.isfinite(high):
        return (f"Drop the {activation} from the last layer (a linear output), or shift the targets to be "
                "non-negative.", linear)
    scaled = f"(y - {label.min:g}) / ({label.max:g} - {label.min:g})"
    if (low, high) != (0.0, 1.0):
        scaled = f"{low:g} + {scaled} * {high - low:g}"
    return (f"For a regression drop the {activation} (a linear output), or scale the targets into its range "
            "and scale the predictions back.",
            f"{linear}\n# or keep the {activation} and scale the targets into its range:\n# y_scaled = {scaled}")

