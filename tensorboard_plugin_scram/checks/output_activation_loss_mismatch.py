"""output_activation_loss_mismatch: the last layer's activation does not fit the loss."""

from __future__ import annotations

from tensorboard_plugin_scram.checks import _losses
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.observations import LossInfo, OutputInfo, RunInfo


class OutputActivationLossMismatch(Check):
    """## What it does
    Before the first batch, compares each output layer's activation with its loss:
    probabilities (softmax, sigmoid) fed to a loss told `from_logits=True`; raw scores
    (no activation) fed to a cross-entropy that expects probabilities; sigmoid over
    several classes with categorical cross-entropy; softmax over a single unit; ReLU on a
    classification output.

    ## Why is this bad?
    Keras runs without an error, but the loss computes nonsense: a softmax over one unit
    always outputs 1, a loss that takes probabilities for logits squashes them twice, and
    one that takes logits for probabilities clips them. The model then learns slowly, or
    not at all.

    ## Example
    ```python
    keras.layers.Dense(10, activation="softmax")
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ```

    ## Fix
    ```python
    keras.layers.Dense(10)  # no activation: the loss applies softmax itself
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ```

    ## Rule
    A static rule over the model's outputs and losses: no thresholds.
    """

    id = "output_activation_loss_mismatch"
    title = "Output activation does not fit the loss"
    severity = Severity.WARNING
    confidence = Confidence.HIGH

    def on_train_begin(self, run: RunInfo) -> Findings:
        findings = []
        for output, loss in _losses.pairs(run):
            problem = _problem(output, loss)
            if problem:
                findings.append(self._finding(output, loss, *problem, run.compile_location))
        return findings

    def _finding(self, output: OutputInfo, loss: LossInfo, severity: Severity, why: str, fix: str,
                 snippet: str, location: str | None) -> Finding:
        activation = output.activation or "no"
        return Finding(
            title=self.title,
            explanation=(f"The output layer '{output.layer}' has {output.units} unit(s) with {activation} "
                         f"activation, and the loss is {loss.name} (from_logits={loss.from_logits}). {why}"),
            suggestion=fix,
            snippet=snippet,
            evidence={"layer": output.layer, "units": output.units, "activation": output.activation,
                      "loss": loss.name, "from_logits": loss.from_logits},
            severity=severity,
            key=output.layer,
            location=location,
        )


def _problem(output: OutputInfo, loss: LossInfo) -> tuple[Severity, str, str, str] | None:
    """`(severity, why, fix, snippet)` for a mismatch, or None."""
    if not _losses.is_classification(loss):
        return None
    activation, units = output.activation, output.units
    loss_class = "".join(part.title() for part in loss.name.split("_"))
    if activation == "softmax" and units == 1:
        return (Severity.ERROR, "A softmax over a single unit always outputs 1, so nothing can be learned.",
                "For two classes use one unit with sigmoid and binary_crossentropy.",
                'keras.layers.Dense(1, activation="sigmoid")\nmodel.compile(loss="binary_crossentropy", ...)')
    if activation in _losses.PROBABILITY_ACTIVATIONS and loss.from_logits:
        return (Severity.WARNING, f"The loss applies {activation} itself (from_logits=True), so the "
                "probabilities are squashed twice and the gradients become tiny.",
                f"Remove the {activation} from the last layer, or set from_logits=False.",
                f"keras.layers.Dense({units})  # no activation: the loss applies {activation}\n"
                f"model.compile(loss=keras.losses.{loss_class}(from_logits=True), ...)")
    if activation in _losses.NO_ACTIVATION and not loss.from_logits:
        return (Severity.ERROR, "The loss expects probabilities but gets raw scores, which it clips "
                "to [1e-7, 1 - 1e-7]; training is then very likely broken.",
                "Tell the loss it gets logits (from_logits=True), or add the activation to the last layer.",
                f"model.compile(loss=keras.losses.{loss_class}(from_logits=True), ...)")
    if activation == "sigmoid" and loss.name in _losses.CATEGORICAL + _losses.SPARSE and (units or 0) > 1:
        return (Severity.WARNING, "Sigmoid scores each class independently, while categorical "
                "cross-entropy expects one probability distribution over the classes.",
                "Use softmax for one class per sample (or binary_crossentropy for several labels per sample).",
                f'keras.layers.Dense({units}, activation="softmax")')
    if activation in ("relu", "elu", "selu", "gelu", "softplus"):
        return (Severity.WARNING, f"A {activation} output is not a probability and cannot be negative, "
                "which a classification loss does not expect.",
                "Use softmax (several classes) or sigmoid (binary) on the last layer.",
                f'keras.layers.Dense({units}, activation="{"sigmoid" if units == 1 else "softmax"}")')
    return None
