"""data_not_shuffled: consecutive batches hold runs of the same label."""

from __future__ import annotations

from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation


class DataNotShuffled(Check):
    """## What it does
    Looks at the labels of the first training batches: when most batches hold a single
    class while the batches differ from each other, the data reach the model sorted.

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

    ## Rule
    Over the first `window` sampled batches, fires when at least `single_share` of them
    hold one label value only (every label column constant within the batch) and at
    least two batches differ. A shuffled batch of 32 from 2 or more balanced classes is
    almost never single-class, so this rarely misfires; batches of 1 are skipped.
    """

    id = "data_not_shuffled"
    title = "Training data not shuffled"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"window": 10, "single_share": 0.5}
    batch_needs = frozenset({"tensors"})

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._batches: list[tuple[bool, float]] = []

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        labels = [t for t in obs.tensors or () if t.role == "target" and t.count > 1]
        if not labels or len(self._batches) >= self.threshold("window"):
            return None
        label = labels[0]
        self._batches.append((label.feature_std <= 1e-6, label.mean))
        if len(self._batches) < self.threshold("window"):
            return None
        single = sum(1 for is_single, _ in self._batches if is_single) / len(self._batches)
        varied = len({round(mean, 6) for _, mean in self._batches}) > 1
        if single < self.threshold("single_share") or not varied:
            return []
        return [Finding(
            title=self.title,
            explanation=(f"{single:.0%} of the first {len(self._batches)} training batches hold a single label "
                         "value, and the label changes from batch to batch: the data likely reach the model "
                         "sorted, so each batch pulls it towards one class."),
            suggestion="Shuffle the training data: `dataset.shuffle(buffer)` for tf.data (buffer as large as the "
                       "data set if it fits), or shuffle=True in fit().",
            snippet="ds = tf.data.Dataset.from_tensor_slices((x_train, y_train))\n"
                    "ds = ds.shuffle(len(x_train), reshuffle_each_iteration=True).batch(32)",
            evidence={"single_label_share": single, "batches": len(self._batches),
                      "threshold": self.threshold("single_share")},
            key=label.name,
            location=history.run.fit_location,
        )]
