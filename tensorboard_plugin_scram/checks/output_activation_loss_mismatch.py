"""output_activation_loss_mismatch: the last layer's activation does not fit the loss."""

from __future__ import annotations

import dataclasses

from tensorboard_plugin_scram.checks import _losses, _pytorch_idiom
from tensorboard_plugin_scram.checks._advice import PYTORCH
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.observations import LossInfo, OutputInfo, RunInfo


@dataclasses.dataclass(frozen=True)
class _Problem:
    severity: Severity
    why: str
    fix: str
    snippet: str


class OutputActivationLossMismatch(Check):
    """## What it does
    Before the first batch, compares each output layer's activation with its loss:
    a softmax over a single unit (under any loss), or a categorical cross-entropy over a
    single unit (whatever its activation); probabilities (softmax, sigmoid) fed
    to a loss told `from_logits=True`; raw scores (a linear output) fed to a
    cross-entropy that expects probabilities; sigmoid over several classes with
    categorical cross-entropy; softmax over 3 or more units with binary cross-entropy;
    ReLU on a classification output. The activation is read through wrappers
    (`TimeDistributed`, `Bidirectional`), nested models and `Activation`/`Softmax`
    layers; inside a custom layer it is guessed from its last sub-layer (then reported
    as info, low confidence); an activation it cannot read is unknown, never "linear".

    ## Why is this bad?
    Keras runs without an error, but the loss computes nonsense: a softmax over one unit
    always outputs 1.0 (the loss cannot change, or predictions are all 1), a loss that
    takes probabilities for logits squashes them twice, and one that takes logits for
    probabilities clips them. Binary cross-entropy scores each softmax unit as its own
    yes/no question while softmax makes the units compete (and Keras' "accuracy" then
    becomes per-unit binary accuracy). The model then learns slowly, not at all, or
    reports misleading metrics.

    Keras 3 on TensorFlow hides some of these: when Keras' own softmax or sigmoid is the
    output layer's activation (in float32), a cross-entropy loss computes from the
    logits cached on that output. Softmax with `from_logits=True` then trains correctly,
    and sigmoid with categorical cross-entropy trains like softmax. These are reported
    as info (portability: on JAX or PyTorch, behind a `TimeDistributed` wrapper or a
    cast, the bug bites), and as warnings where no cached logits reach the loss.

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

    In PyTorch (`ScramMonitor`, `ScramLightningCallback`) the same faults in its terms:
    `nn.Softmax` or `nn.Sigmoid` (or `torch.softmax` in `forward`) before
    `nn.CrossEntropyLoss` or `nn.BCEWithLogitsLoss`, which take logits; `nn.NLLLoss`
    without `log_softmax`; raw scores into `nn.BCELoss`; a softmax or a cross-entropy
    over a single output; ReLU-like outputs under a classification loss. A
    `log_softmax` before `nn.CrossEntropyLoss` is left alone: it changes nothing. The
    output activation is the last module the forward pass ran, or read from the output
    values themselves (rows summing to 1: softmax; rows whose exponentials sum to 1:
    log_softmax; every value strictly between 0 and 1: sigmoid).

    ## Rule
    A static rule over the model's outputs and losses: no thresholds. A softmax over a
    single unit is an error under any loss, and so are a categorical loss over one unit
    and raw scores under a cross-entropy expecting probabilities; the other pairs are warnings (info where Keras' cached
    logits make them harmless in this run).
    """

    id = "output_activation_loss_mismatch"
    title = "Output activation does not fit the loss"
    severity = Severity.WARNING
    confidence = Confidence.HIGH

    def on_train_begin(self, run: RunInfo) -> Findings:
        findings = []
        judge = _pytorch_problem if run.framework == PYTORCH else _problem
        for output, loss in _losses.pairs(run):
            problem = judge(output, loss)
            if problem:
                findings.append(self._finding(output, loss, problem, run.compile_location, run.framework))
        return findings

    def _finding(self, output: OutputInfo, loss: LossInfo, problem: _Problem, location: str | None,
                 framework: str = "keras") -> Finding:
        severity, confidence, why = problem.severity, None, problem.why
        if output.activation_guessed:
            # A custom layer's call() may not return its last sub-layer's output as it is.
            severity, confidence = Severity.INFO, Confidence.LOW
            why += (" (The activation was read from the custom layer's last sub-layer "
                    f"'{output.activation_layer}': if its call() returns something else, ignore this.)")
        return Finding(
            title=self.title,
            explanation=(f"The output layer {_described(output)} has {output.units} unit(s) with "
                         f"{output.activation} activation, and the loss is {_loss_named(loss, framework)}. {why}"),
            suggestion=problem.fix,
            snippet=problem.snippet,
            evidence={"layer": output.layer, "units": output.units, "activation": output.activation,
                      "activation_layer": output.activation_layer, "loss": loss.name,
                      "from_logits": loss.from_logits, "cached_logits": output.cached_logits},
            severity=severity,
            confidence=confidence,
            key=output.layer,
            location=location,
        )


def _loss_named(loss: LossInfo, framework: str) -> str:
    if framework == PYTORCH:
        return f"nn.{_pytorch_idiom.loss_module(loss)}"
    return f"{loss.name} (from_logits={loss.from_logits})"


def _described(output: OutputInfo) -> str:
    if output.activation_layer:
        return f"'{output.layer}' (its inner layer '{output.activation_layer}')"
    return f"'{output.layer}'"


# Keras 3 on TensorFlow, in the cases it hides: said in every such message.
_HIDDEN = ("Keras 3 on TensorFlow computes this loss from the logits it cached on the {0} output, so this "
           "run trains correctly (Keras warns about it); on JAX or PyTorch, behind a wrapper such as "
           "TimeDistributed, or under mixed precision, the bug bites.")


def _problem(output: OutputInfo, loss: LossInfo) -> _Problem | None:
    """What is wrong with this output and loss, or None (also when the activation is unknown)."""
    if output.activation == "softmax" and output.units == 1:
        return _single_unit_softmax(output, loss)
    if output.units == 1 and loss.name in _losses.SPARSE + _losses.CATEGORICAL:
        return _single_unit_categorical(loss)
    if output.activation is None:
        return None
    if not _losses.is_classification(loss):
        return None
    for rule in (_probabilities_as_logits, _raw_scores_as_probabilities, _sigmoid_over_classes,
                 _softmax_with_binary_loss, _unbounded_classification_output):
        problem = rule(output, loss)
        if problem:
            return problem
    return None


def _pytorch_problem(output: OutputInfo, loss: LossInfo) -> _Problem | None:
    """The same faults in PyTorch's terms (its loss modules, its errors, its snippets)."""
    problem = _pytorch_idiom.output_problem(output, loss)
    return _Problem(*problem) if problem else None


def _single_unit_softmax(output: OutputInfo, loss: LossInfo) -> _Problem:
    why = "A softmax over a single unit always outputs 1.0, whatever the input"
    if loss.name in _losses.BINARY:
        why += ", so every prediction is the positive class."
        if output.cached_logits:
            why += (" Keras 3 on TensorFlow computes binary cross-entropy from the cached logits, so the loss "
                    "may still fall, but predict() and the accuracy only ever see 1.0.")
        return _Problem(Severity.ERROR, why, "For two classes use one unit with sigmoid.",
                        'keras.layers.Dense(1, activation="sigmoid")\nmodel.compile(loss="binary_crossentropy", ...)')
    if _losses.is_classification(loss):
        return _Problem(Severity.ERROR, why + ": the loss is 0 from the first batch and nothing is learned.",
                        "Give the layer one unit per class (softmax), or one sigmoid unit with binary_crossentropy "
                        "for two classes.",
                        'keras.layers.Dense(1, activation="sigmoid")\nmodel.compile(loss="binary_crossentropy", ...)'
                        '\n# or, one unit per class: keras.layers.Dense(n_classes, activation="softmax")')
    return _Problem(Severity.ERROR, why + f": {loss.name} cannot change, so nothing is learned.",
                    "For a regression output drop the activation (linear); for targets between 0 and 1 use sigmoid.",
                    "keras.layers.Dense(1)  # linear: any real value\n"
                    '# or, for targets in [0, 1]: keras.layers.Dense(1, activation="sigmoid")')


def _single_unit_categorical(loss: LossInfo) -> _Problem:
    # Whatever the unit's activation: the loss's own softmax over one value is always 1.
    return _Problem(Severity.ERROR, "Categorical cross-entropy over a single unit knows one class only: the "
                    "softmax over one value is always 1, so the loss is 0 for class 0, and class id 1 is out of "
                    "range (an error on CPU, NaN on GPU).",
                    "For two classes use one sigmoid unit with binary_crossentropy, or two units with softmax.",
                    'keras.layers.Dense(1, activation="sigmoid")\nmodel.compile(loss="binary_crossentropy", ...)\n'
                    f'# or: keras.layers.Dense(2, activation="softmax") with {loss.name}')


def _probabilities_as_logits(output: OutputInfo, loss: LossInfo) -> _Problem | None:
    activation, units = output.activation, output.units
    if activation not in _losses.PROBABILITY_ACTIVATIONS or not loss.from_logits:
        return None
    fix = f"Set from_logits=False (keeps {activation} probabilities for predict()), or remove the {activation}."
    snippet = f"model.compile(loss=keras.losses.{_loss_class(loss)}(), ...)  # from_logits=False"
    if output.cached_logits:
        return _Problem(Severity.INFO, f"The loss applies {activation} itself (from_logits=True). "
                        + _HIDDEN.format(activation), fix, snippet)
    return _Problem(Severity.WARNING, f"The loss applies {activation} itself (from_logits=True), so the "
                    "probabilities are squashed twice and the gradients become tiny.", fix,
                    snippet + f"\n# or: keras.layers.Dense({units})  # no activation, keep from_logits=True"
                    + _losses.inner_layer_note(output))


def _raw_scores_as_probabilities(output: OutputInfo, loss: LossInfo) -> _Problem | None:
    if output.activation != "linear" or loss.from_logits:
        return None
    return _Problem(Severity.ERROR, "The loss expects probabilities but gets raw scores, which it clips "
                    "to [1e-7, 1 - 1e-7]; training is then very likely broken.",
                    "Tell the loss it gets logits (from_logits=True), or add the activation to the last layer.",
                    f"model.compile(loss=keras.losses.{_loss_class(loss)}(from_logits=True), ...)")


def _sigmoid_over_classes(output: OutputInfo, loss: LossInfo) -> _Problem | None:
    units = output.units or 0
    if output.activation != "sigmoid" or loss.name not in _losses.CATEGORICAL + _losses.SPARSE or units <= 1:
        return None
    why = ("Sigmoid scores each class independently, while categorical cross-entropy expects one probability "
           "distribution over the classes.")
    fix = "Use softmax for one class per sample (or binary_crossentropy for several labels per sample)."
    snippet = f'keras.layers.Dense({units}, activation="softmax")'
    if output.cached_logits:
        return _Problem(Severity.INFO, why + " " + _HIDDEN.format("sigmoid") + " Its predictions still do not "
                        "sum to 1.", fix, snippet)
    return _Problem(Severity.WARNING, why, fix, snippet)


def _softmax_with_binary_loss(output: OutputInfo, loss: LossInfo) -> _Problem | None:
    # Two softmax units with binary cross-entropy on one-hot labels equal categorical
    # cross-entropy: a common, working program. From 3 units on they do not.
    units = output.units or 0
    if output.activation != "softmax" or loss.name not in _losses.BINARY or units < 3:
        return None
    why = (f"Binary cross-entropy scores each of the {units} units as its own yes/no question, while softmax "
           "makes them compete (they sum to 1), so rows with several labels can never be fitted; Keras' "
           "\"accuracy\" then also becomes per-unit binary accuracy, which looks high while predicting nothing.")
    if output.cached_logits:
        why += (" (Keras 3 on TensorFlow computes the loss from the cached logits, so the loss falls as with "
                "sigmoid, but predict() and the metrics see the softmax.)")
    return _Problem(Severity.WARNING, why,
                    "Several labels per sample: sigmoid with binary_crossentropy. One class per sample: softmax "
                    "with categorical_crossentropy.",
                    f'keras.layers.Dense({units}, activation="sigmoid")  # multi-label\n'
                    'model.compile(loss="binary_crossentropy", metrics=["binary_accuracy"], ...)\n'
                    '# one class per sample: model.compile(loss="categorical_crossentropy", metrics=["accuracy"])')


def _unbounded_classification_output(output: OutputInfo, loss: LossInfo) -> _Problem | None:
    activation, units = output.activation, output.units
    if activation not in ("relu", "elu", "selu", "gelu", "softplus", "leaky_relu"):
        return None
    return _Problem(Severity.WARNING, f"A {activation} output is not a probability, which a classification "
                    "loss expects.", "Use softmax (several classes) or sigmoid (binary) on the last layer.",
                    f'keras.layers.Dense({units}, activation="{"sigmoid" if units == 1 else "softmax"}")')


def _loss_class(loss: LossInfo) -> str:
    return "".join(part.title() for part in loss.name.split("_"))
