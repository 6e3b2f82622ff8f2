"""label_output_mismatch: the labels do not fit the model's output and loss."""

from __future__ import annotations

from tensorboard_plugin_scram.checks import _batch, _losses
from tensorboard_plugin_scram.checks._metrics import accuracy_key
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, LossInfo, OutputInfo, TensorStats


class LabelOutputMismatch(Check):
    """## What it does
    On the first batches, compares the labels with the output layer and the loss:
    class ids beyond the number of output units; one-hot labels with a sparse loss, or
    class ids with a categorical one; binary cross-entropy on labels outside [0, 1]; a
    regression loss on small whole-number labels (class ids 0 to 20, reported with low
    confidence, since they could be counts or ratings: as a warning when the model also
    tracks accuracy, a classification metric, or ends in a softmax; else as advice, info).

    ## Why is this bad?
    Several of these run without an error and train on garbage: class ids with
    `categorical_crossentropy` are silently broadcast against every class, and labels
    beyond the output's range give NaN or meaningless losses.

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

    ## Rule
    Uses the statistics of the label tensor (min, max, whole numbers, values per sample)
    of a sampled batch. One label per sample of whole numbers is taken for class ids; as
    many values per sample as output units, all 0 or 1, for one-hot labels.
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
        classifying = accuracy_key(obs.logs) is not None
        for (output, loss), label in _with_labels(_losses.pairs(run), targets):
            problem = _problem(output, loss, label, _batch.per_sample(label, batch), classifying)
            if problem:
                findings.append(self._finding(output, loss, label, *problem, run.compile_location))
        return findings

    def _finding(self, output: OutputInfo, loss: LossInfo, label: TensorStats, severity: Severity,
                 why: str, fix: str, snippet: str, location: str | None) -> Finding:
        return Finding(
            title=self.title,
            explanation=(f"The labels '{label.name}' range from {label.min:g} to {label.max:g}, the output "
                         f"layer '{output.layer}' has {output.units} unit(s) and the loss is {loss.name}. {why}"),
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


def _with_labels(pairs: list, targets: list[TensorStats]) -> list:
    """Each (output, loss) with its labels: by name for several outputs, else the only one."""
    if len(pairs) == 1 and len(targets) == 1:
        return [(pairs[0], targets[0])]
    by_name = {t.name: t for t in targets}
    return [(pair, by_name[pair[0].layer]) for pair in pairs if pair[0].layer in by_name]


def _problem(output: OutputInfo, loss: LossInfo, label: TensorStats, values: int | None,
             classifying: bool = False) -> tuple[Severity, str, str, str] | None:
    """What is wrong, if anything: severity, why, fix, snippet.

    `classifying`: the model tracks accuracy, so whole-number labels under a regression
    loss are likely class ids (integer counts and ratings regressed with MSE are not).
    """
    units = output.units or 0
    one_hot = values is not None and values == units > 1 and label.integral and label.min >= 0 and label.max <= 1
    class_ids = values == 1 and label.integral
    if loss.name in _losses.SPARSE:
        if one_hot:
            return (Severity.ERROR, "The labels look one-hot encoded, but a sparse loss expects one class id "
                    "per sample.", "Use categorical_crossentropy with one-hot labels.",
                    'model.compile(loss="categorical_crossentropy", ...)')
        if class_ids and label.max >= units > 1:
            return (Severity.ERROR, f"Class ids go up to {label.max:g}, but {units} units only cover classes "
                    f"0 to {units - 1}: those labels give meaningless losses.",
                    f"Give the last layer {int(label.max) + 1} units (one per class), or renumber the "
                    "classes from 0.", f"keras.layers.Dense({int(label.max) + 1}, activation=\"softmax\")")
    if loss.name in _losses.CATEGORICAL and class_ids and units > 1:
        return (Severity.ERROR, "The labels are class ids (one whole number per sample), but categorical "
                "cross-entropy expects one-hot vectors: Keras silently broadcasts them and trains on garbage.",
                "Use sparse_categorical_crossentropy, or one-hot encode the labels.",
                'model.compile(loss="sparse_categorical_crossentropy", ...)\n'
                f"# or: y_train = keras.utils.to_categorical(y_train, {units})")
    if loss.name in _losses.BINARY and (label.min < 0 or label.max > 1):
        return (Severity.ERROR, "Binary cross-entropy needs labels between 0 and 1.",
                "Map the labels to 0 and 1, or use sparse_categorical_crossentropy for several classes.",
                "y_train = (y_train > 0).astype('float32')  # for two classes")
    if loss.name in _losses.REGRESSION and class_ids and 2 <= label.max <= _MAX_CLASS_ID and label.min >= 0:
        head = "a softmax output" if output.activation == "softmax" else f"{units} output unit(s)"
        severity = Severity.WARNING if classifying or output.activation == "softmax" else Severity.INFO
        return (severity, f"A regression loss on small whole-number labels with {head} could be a "
                "classification problem trained with the wrong loss: it then treats class 9 as 'more' than class "
                "1. If the labels are real quantities (counts, ratings), ignore this.",
                "For class ids use one output unit per class with softmax and sparse_categorical_crossentropy.",
                f'keras.layers.Dense({int(label.max) + 1}, activation="softmax")\n'
                'model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], ...)')
    return None
