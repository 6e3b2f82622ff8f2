"""label_output_mismatch: the labels do not fit the model's output and loss."""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks import _batch, _losses, _pytorch_idiom
from tensorboard_plugin_scram.checks._advice import PYTORCH
from tensorboard_plugin_scram.checks._metrics import accuracy_key
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, LossInfo, OutputInfo, TensorStats


class LabelOutputMismatch(Check):
    """## What it does
    On the first batches, compares the labels with the output layer and the loss:
    under a sparse loss, labels that are not whole class ids (fractions, e.g. divided by
    255 along with the pixels), negative ids, ids beyond the number of output units, or
    one-hot rows; class ids with a categorical loss; binary cross-entropy on labels
    outside [0, 1] (naming the classes when one sigmoid unit gets 3 or more); a
    regression loss (MSE, MAE, ...) on labels that look like classes: small whole-number
    ids (0 to 20), 0/1 labels with one output unit, or one-hot rows. Those regression
    cases are warnings (low confidence) when the model also tracks accuracy or ends in a
    softmax or sigmoid, else advice (info): counts and ratings are legitimate targets.

    ## Why is this bad?
    Several of these run without an error and train on garbage: a sparse loss casts
    fractional labels to integers (0.004 becomes class 0, so the loss falls to 0 while
    accuracy sits at chance), class ids with `categorical_crossentropy` are silently
    broadcast against every class, and labels beyond the output's range give NaN or
    meaningless losses. A regression loss on a classification learns, but slowly and
    poorly.

    ## Example
    ```python
    model.compile(loss="categorical_crossentropy")   # labels are class ids 0..9
    model.fit(x, y)
    ```

    ## Fix
    ```python
    model.compile(loss="sparse_categorical_crossentropy")
    ```
    or one-hot encode the labels with `keras.utils.to_categorical(y, 10)`.

    In PyTorch the labels are read where they meet the loss module: class ids beyond
    the output's width or below 0 (other than `ignore_index`) under `nn.CrossEntropyLoss`
    or `nn.NLLLoss`, which then raise an `IndexError` (a device-side assert on a GPU:
    SCRAM names the cause first); labels outside [0, 1] under `nn.BCELoss` or
    `nn.BCEWithLogitsLoss` (the latter trains on them silently); a regression loss on
    labels that look like classes. Float targets under `nn.CrossEntropyLoss` are class
    probabilities, which PyTorch accepts.

    ## Rule
    Uses the statistics of the label tensor (min, max, whole numbers, values per sample,
    rows summing to one) of a sampled batch. Under a sparse loss every label is a class
    id, whatever its shape (one per sample or one per time step); elsewhere one label per
    sample of whole numbers is taken for class ids, and as many values per sample as
    output units, all 0 or 1, for one-hot labels.
    """

    id = "label_output_mismatch"
    title = "Labels do not fit the model's output"
    severity = Severity.ERROR
    confidence = Confidence.HIGH
    batch_needs = frozenset({"tensors"})

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        if obs.tensors is None:
            return None
        run = history.run
        targets = [t for t in obs.tensors if t.role == "target"]
        if not targets or not run.outputs:
            return None
        batch = _batch.batch_size(run, obs.tensors)
        findings = []
        classifying = accuracy_key(obs.logs) is not None or accuracy_key(run.metrics) is not None
        judge = _pytorch_idiom.label_problem if run.framework == PYTORCH else _problem
        for (output, loss), label in _losses.with_labels(_losses.pairs(run), targets):
            problem = judge(output, loss, label, _batch.per_sample(label, batch), classifying)
            if problem:
                findings.append(self._finding(output, loss, label, *problem, run.compile_location, run.framework))
        return findings

    def _finding(self, output: OutputInfo, loss: LossInfo, label: TensorStats, severity: Severity,
                 why: str, fix: str, snippet: str, location: str | None, framework: str = "keras") -> Finding:
        loss_name = _pytorch_idiom.loss_name(loss, framework)
        return Finding(
            title=self.title,
            explanation=(f"The labels '{label.name}' range from {label.min:g} to {label.max:g}, the output "
                         f"layer '{output.layer}' has {output.units} unit(s) and the loss is {loss_name}. {why}"),
            suggestion=fix,
            snippet=snippet,
            evidence={"labels_min": label.min, "labels_max": label.max, "whole_numbers": label.integral,
                      "units": output.units, "loss": loss.name},
            severity=severity,
            confidence=Confidence.HIGH if severity == Severity.ERROR else Confidence.LOW,
            key=label.name,
            location=location,
        )


# Whole-number labels up to this look like class ids rather than quantities.
_MAX_CLASS_ID = 20

# A rule's answer: (severity, why, fix, snippet).
Problem = tuple[Severity, str, str, str]


def _problem(output: OutputInfo, loss: LossInfo, label: TensorStats, values: int | None,
             classifying: bool = False) -> Problem | None:
    """What is wrong, if anything: severity, why, fix, snippet.

    `values`: values per sample of the labels (None when the batch size is unknown).
    `classifying`: the model tracks accuracy, so whole-number labels under a regression
    loss are likely class ids (integer counts and ratings regressed with MSE are not).
    """
    if not (math.isfinite(label.min) and math.isfinite(label.max)):
        return None  # labels holding NaN or Inf (or nothing finite): `input_contains_nan` says so
    if loss.name in _losses.SPARSE:
        return _sparse_problem(output, loss, label, values)
    if loss.name in _losses.CATEGORICAL and values == 1 and label.integral and (output.units or 0) > 1:
        return (Severity.ERROR, "The labels are class ids (one whole number per sample), but categorical "
                "cross-entropy expects one-hot vectors: Keras silently broadcasts them and trains on garbage.",
                "Use sparse_categorical_crossentropy, or one-hot encode the labels.",
                'model.compile(loss="sparse_categorical_crossentropy", ...)\n'
                f"# or: y_train = keras.utils.to_categorical(y_train, {output.units})")
    if loss.name in _losses.BINARY and (label.min < 0 or label.max > 1):
        return _binary_problem(output, label, values)
    if loss.name in _losses.REGRESSION:
        return _regression_problem(output, label, values, classifying)
    return None


def _one_hot(output: OutputInfo, label: TensorStats, values: int | None) -> bool:
    units = output.units or 0
    return values is not None and values == units > 1 and label.integral and label.min >= 0 and label.max <= 1


def _sparse_problem(output: OutputInfo, loss: LossInfo, label: TensorStats, values: int | None) -> Problem | None:
    """A sparse loss takes class ids 0..units-1, whatever the labels' shape (one per sample, or per step).

    The id the loss ignores (`ignore_class=-1` or `255`) may stand at either end of the range;
    the ids behind it are not seen, so that end is not judged.
    """
    units = output.units or 0
    if _one_hot(output, label, values):
        return (Severity.ERROR, "The labels look one-hot encoded, but a sparse loss expects one class id "
                "per sample.", "Use categorical_crossentropy with one-hot labels.",
                'model.compile(loss="categorical_crossentropy", ...)')
    if not label.integral:
        return _fractional_class_ids(label, units)
    if label.min < 0 and label.min != loss.ignore_class:
        return (Severity.ERROR, f"Class ids go down to {label.min:g}, but a sparse loss takes ids from 0 up: "
                "negative ids (often -1 for 'no label') give NaN or an error.",
                "Drop the samples without a label, tell the loss to ignore that id, or renumber the classes "
                "from 0.", "keep = y_train >= 0\nx_train, y_train = x_train[keep], y_train[keep]\n"
                f"# or: loss=keras.losses.SparseCategoricalCrossentropy(ignore_class={int(label.min)})")
    if label.max >= units > 1 and label.max != loss.ignore_class:
        return (Severity.ERROR, f"Class ids go up to {label.max:g}, but {units} units only cover classes "
                f"0 to {units - 1}: those labels give meaningless losses.",
                f"Give the last layer {int(label.max) + 1} units (one per class), or renumber the "
                "classes from 0.", f"keras.layers.Dense({int(label.max) + 1}, activation=\"softmax\")")
    return None


def _fractional_class_ids(label: TensorStats, units: int) -> Problem:
    # Keras casts sparse labels to integers, which cuts off the fraction (0.99 -> 0).
    if label.max < 1:
        effect = ("so every label becomes class 0: the loss can fall to 0 while the accuracy stays at chance "
                  "(labels scaled along with the inputs, e.g. divided by 255, do this)")
    else:
        effect = "so each label becomes the class below it and the classes get mixed up"
    return (Severity.ERROR, f"The labels are not whole numbers, but a sparse loss takes class ids: it casts "
            f"each label to an integer, cutting off the fraction, {effect}.",
            "Keep the labels as whole class ids (scale only the inputs).",
            "x_train = x_train / 255.0   # scale the inputs only\n"
            f"y_train = y_train.astype(\"int64\")  # unscaled: class ids 0..{max(units, 2) - 1}")


def _binary_problem(output: OutputInfo, label: TensorStats, values: int | None) -> Problem:
    classes = int(label.max) + 1
    if values == 1 and label.integral and label.min >= 0 and output.units == 1:
        return (Severity.ERROR, f"Binary cross-entropy needs labels between 0 and 1, and these hold {classes} "
                "classes: one sigmoid unit can only tell two classes apart.",
                f"Use {classes} output units with softmax and sparse_categorical_crossentropy.",
                f'keras.layers.Dense({classes}, activation="softmax")\n'
                'model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], ...)')
    return (Severity.ERROR, "Binary cross-entropy needs labels between 0 and 1.",
            "Map the labels to 0 and 1, or use sparse_categorical_crossentropy for several classes.",
            "y_train = (y_train > 0).astype('float32')  # for two classes")


def _regression_problem(output: OutputInfo, label: TensorStats, values: int | None,
                        classifying: bool) -> Problem | None:
    """A regression loss on labels that look like classes: class ids, 0/1 labels or one-hot rows."""
    units = output.units or 0
    # The output's activation says the model classifies as clearly as an accuracy metric does.
    severity = Severity.WARNING if classifying or output.activation in _losses.PROBABILITY_ACTIVATIONS \
        else Severity.INFO
    class_ids = values == 1 and label.integral and label.min >= 0
    if class_ids and 2 <= label.max <= _MAX_CLASS_ID:
        head = "a softmax output" if output.activation == "softmax" else f"{units} output unit(s)"
        severity = Severity.WARNING if classifying or output.activation == "softmax" else Severity.INFO
        return (severity, f"A regression loss on small whole-number labels with {head} could be a "
                "classification problem trained with the wrong loss: it then treats class 9 as 'more' than class "
                "1. If the labels are real quantities (counts, ratings), ignore this.",
                "For class ids use one output unit per class with softmax and sparse_categorical_crossentropy.",
                f'keras.layers.Dense({int(label.max) + 1}, activation="softmax")\n'
                'model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], ...)')
    if class_ids and label.max == 1 and units == 1:
        why = ("its gradient vanishes as the sigmoid output nears 0 or 1" if output.activation == "sigmoid"
               else "its outputs are not probabilities and overshoot 0 and 1")
        return (severity, "The labels are 0 and 1, a binary classification, trained with a regression loss: it "
                f"learns, but slowly and poorly ({why}).", "Use binary_crossentropy with one sigmoid unit.",
                'keras.layers.Dense(1, activation="sigmoid")\n'
                'model.compile(loss="binary_crossentropy", metrics=["accuracy"], ...)')
    if _one_hot(output, label, values) and label.multi_hot_rows == 0 and label.class_counts:
        return (severity, f"The labels are one-hot rows over {units} classes, a classification, trained with a "
                "regression loss: it learns slowly and poorly (its gradient through a softmax is small "
                "and it does not score probabilities).", "Use categorical_crossentropy with a softmax output.",
                f'keras.layers.Dense({units}, activation="softmax")\n'
                'model.compile(loss="categorical_crossentropy", metrics=["accuracy"], ...)')
    return None
