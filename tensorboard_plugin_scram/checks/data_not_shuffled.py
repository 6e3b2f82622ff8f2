"""data_not_shuffled: consecutive batches hold runs of the same label."""

from __future__ import annotations

import collections
import dataclasses

from tensorboard_plugin_scram.checks._advice import PYTORCH, shuffled_loader
from tensorboard_plugin_scram.checks._batch import at_least_chance, samples, single_label_chance
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, RunInfo, TensorStats

_DATASET_SNIPPET = """\
ds = tf.data.Dataset.from_tensor_slices((x_train, y_train))
ds = ds.shuffle(len(x_train), reshuffle_each_iteration=True).batch(32)"""

_ARRAYS_SNIPPET = "model.fit(x_train, y_train, shuffle=True, ...)  # Keras' default; or drop shuffle=False"


@dataclasses.dataclass(frozen=True)
class _Batch:
    """What one sampled batch's labels looked like."""

    step: int
    single: bool  # one label value only
    samples: int
    label: float  # the majority class, or the mean label: tells batches apart
    class_counts: tuple[int, ...]


class DataNotShuffled(Check):
    """## What it does
    Looks at the labels of the training batches SCRAM samples, a window of them at a time
    all through the run: when most batches of a window hold a single class while the
    batches differ from each other, the data reach the model sorted.

    ## Why is this bad?
    With sorted data each batch pulls the model towards one class, so it forgets the
    previous ones: the loss zig-zags and accuracy stays poor. Keras shuffles NumPy arrays
    itself, but not a `tf.data.Dataset`, a generator, or `fit(..., shuffle=False)`.

    ## Example
    ```python
    ds = tf.data.Dataset.from_tensor_slices((x_sorted, y_sorted)).batch(32)
    model.fit(ds)
    ```

    ## Fix
    ```python
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x)).batch(32)
    ```
    In PyTorch: `DataLoader(dataset, batch_size=32, shuffle=True)`.

    ## Rule
    Over each `window` of consecutive sampled batches of at least 2 samples (batches of
    one sample hold one label necessarily and are skipped), counts the batches that hold
    one label value only (one class, or every label column constant). It fires when at
    least `single_share` of them do, at least two batches differ, and a random order
    would give that many so rarely that the chance, times the number of windows judged
    so far (each is one more chance of a false alarm), is at most `max_chance`. The
    window slides with every sampled batch, so data sorted only after a shuffled first
    part, or sampling that begins late (a second `fit()`), are judged wherever in the
    epoch the runs of one class come, not only in the first batches; it keeps the last
    `window` batches, so memory does not grow with the run. Once reported, the check
    stays reported for the run (a window across a boundary between classes looks mixed).
    The chance comes from a binomial null model: at the class frequencies seen in the
    window, a random batch of n samples holds a single class with chance sum over classes
    of p^n (0.99^64 = 0.53 for 99:1 labels at batch size 64, so half the batches of
    shuffled, heavily imbalanced data hold one class; 10 x 0.1^32, about 0, for 10
    balanced classes). Labels SCRAM cannot count as classes (regression targets,
    multi-hot rows) are compared with a chance of zero.
    """

    id = "data_not_shuffled"
    title = "Training data not shuffled"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"window": 10, "single_share": 0.5, "max_chance": 1e-4}
    batch_needs = frozenset({"tensors"})

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._batches: collections.deque[_Batch] = collections.deque(maxlen=int(self.threshold("window")))
        self._judged = 0  # windows judged so far: each is one more chance of a false alarm
        self._fired = False

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        label = next((t for t in obs.tensors or () if t.role == "target"), None)
        size = samples(label, history.run, obs.tensors) if label is not None else None
        if size is None or size < 2:
            return None
        self._batches.append(_describe(label, size, obs.step))
        if len(self._batches) < self.threshold("window"):
            return None
        self._judged += 1
        singles = sum(1 for batch in self._batches if batch.single)
        varied = len({batch.label for batch in self._batches}) > 1
        if singles < self.threshold("single_share") * len(self._batches) or not varied:
            return self._quiet()
        chances = _single_label_chances(list(self._batches))
        chance = at_least_chance(chances, singles)
        if chance * self._judged > self.threshold("max_chance"):
            return self._quiet()
        self._fired = True
        return [self._finding(label.name, singles, chances, chance, history.run)]

    def _quiet(self) -> Findings:
        # The order of the data is the same all run: once reported, a window that happens to
        # look mixed (a boundary between classes) does not end the report to start another.
        return None if self._fired else []

    def _finding(self, name: str, singles: int, chances: list[float], chance: float, run: RunInfo) -> Finding:
        batches = len(self._batches)
        expected = sum(chances) / len(chances)
        sizes = sorted({batch.samples for batch in self._batches})
        steps = f"steps {self._batches[0].step}-{self._batches[-1].step}"
        suggestion, snippet = _fix(run, sizes[-1])
        return Finding(
            title=self.title,
            explanation=(f"{singles} of the {batches} training batches sampled at {steps} "
                         f"({singles / batches:.0%}, batches of {_sizes(sizes)} samples) hold a single label value, "
                         f"and the label changes from batch to batch. In a random order about {expected:.0%} would, "
                         f"given how often each label occurs (chance of seeing {singles} or more: {chance:.1e}). "
                         "The data likely reach the model sorted, so each batch pulls it towards one class."),
            suggestion=suggestion,
            snippet=snippet,
            evidence={"single_label_batches": singles, "batches": batches, "single_label_share": singles / batches,
                      "expected_share": expected, "chance": chance, "windows_judged": self._judged,
                      "first_step": self._batches[0].step, "last_step": self._batches[-1].step, "batch_sizes": sizes,
                      "threshold": self.threshold("single_share"), "max_chance": self.threshold("max_chance")},
            key=name,
            location=run.fit_location,
        )


def _fix(run: RunInfo, batch_size: int) -> tuple[str, str]:
    """The suggestion and snippet for the way the run's data reach the model."""
    if run.framework == PYTORCH:
        return ("Let the DataLoader reshuffle the data set at every epoch (shuffle=True, or a sampler that draws at "
                "random); an IterableDataset needs a shuffle buffer of its own.",
                shuffled_loader(batch_size) + "  # reshuffles at every epoch")
    if run.batch_size is None:  # a data set or generator batches itself
        return ("Shuffle the data set before batching it (`dataset.shuffle(buffer)`, the buffer as large as "
                "the data set if it fits).", _DATASET_SNIPPET)
    return "Let fit() shuffle the arrays (shuffle=True, its default), or shuffle them once yourself.", _ARRAYS_SNIPPET


def _describe(label: TensorStats, size: int, step: int) -> _Batch:
    if label.class_counts:
        present = [c for c, count in enumerate(label.class_counts) if count]
        majority = max(present, key=label.class_counts.__getitem__)
        return _Batch(step, len(present) == 1, size, float(majority), label.class_counts)
    return _Batch(step, label.feature_std <= 1e-6, size, round(label.mean, 6), ())


def _single_label_chances(batches: list[_Batch]) -> list[float]:
    """Per batch, the chance that a random batch of its size holds one class, at the pooled class frequencies.

    Pooled over the same sorted batches, the frequencies lean towards the classes seen,
    which makes single-class batches look likelier: the test errs on the quiet side.
    Without class counts the chance is taken as zero (see the rule).
    """
    totals: list[int] = []
    for batch in batches:
        totals.extend([0] * (len(batch.class_counts) - len(totals)))
        for label, count in enumerate(batch.class_counts):
            totals[label] += count
    seen = sum(totals)
    if not seen:
        return [0.0] * len(batches)
    frequencies = [count / seen for count in totals]
    return [single_label_chance(frequencies, batch.samples) if batch.class_counts else 0.0 for batch in batches]


def _sizes(sizes: list[int]) -> str:
    return str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
