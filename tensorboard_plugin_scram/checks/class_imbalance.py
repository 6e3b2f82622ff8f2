"""class_imbalance: one class makes up most of the labels."""

from __future__ import annotations

from tensorboard_plugin_scram.checks import _batch
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, TensorStats


class ClassImbalance(Check):
    """## What it does
    Watches the labels of sampled batches and reports when one class makes up most of
    them (for binary 0/1 labels).

    ## Why is this bad?
    A model that always predicts the majority class then scores a high accuracy while
    having learned nothing: 95% accuracy on data with 95% negatives is no skill at all.

    ## Example
    ```python
    model.fit(x, y)          # 97% of y is 0
    ```

    ## Fix
    ```python
    counts = np.bincount(y_train)
    class_weight = {c: len(y_train) / (len(counts) * n) for c, n in enumerate(counts)}
    model.fit(x_train, y_train, class_weight=class_weight,
              ...)  # and judge with precision/recall, not accuracy
    ```

    ## Rule
    Once `min_labels` labels have been seen, fires when the most common class's share is
    at least `majority_share`. The 0.9 default follows SageMaker Debugger's imbalance
    rule (largest/smallest > 10) in spirit while staying quiet on mild imbalance.
    Multi-class labels are not covered yet (their per-class counts are not collected).
    """

    id = "class_imbalance"
    title = "Imbalanced classes"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"majority_share": 0.9, "min_labels": 500}

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._positives = 0.0
        self._labels = 0

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        batch = _batch.batch_size(history.run, obs.tensors or ())
        labels = [t for t in obs.tensors or () if _binary_labels(t) and _batch.per_sample(t, batch) == 1]
        if not labels:
            return None
        self._positives += labels[0].mean * labels[0].count
        self._labels += labels[0].count
        if self._labels < self.threshold("min_labels"):
            return None
        positive = self._positives / self._labels
        majority = max(positive, 1 - positive)
        if majority < self.threshold("majority_share"):
            return []
        major_class = 1 if positive >= 0.5 else 0
        return [Finding(
            title=self.title,
            explanation=(f"{majority:.0%} of the {self._labels} labels seen so far are class {major_class}. "
                         f"A model that always answers {major_class} would score {majority:.0%} accuracy, so "
                         "accuracy is likely misleading here."),
            suggestion="Weight the rare class more (class_weight), resample the data, and judge the model by "
                       "precision, recall or AUC rather than accuracy.",
            snippet=("counts = np.bincount(y_train.astype(int))\n"
                     "class_weight = {c: len(y_train) / (len(counts) * n) for c, n in enumerate(counts)}\n"
                     "model.compile(..., metrics=[\"accuracy\", keras.metrics.Precision(), keras.metrics.Recall()])\n"
                     "model.fit(x_train, y_train, class_weight=class_weight, ...)"),
            evidence={"majority_class": major_class, "majority_share": majority, "labels_seen": self._labels,
                      "threshold": self.threshold("majority_share")},
            key=labels[0].name,
            location=history.run.fit_location,
        )]


def _binary_labels(t: TensorStats) -> bool:
    return t.role == "target" and t.integral and t.min >= 0 and t.max <= 1 and t.count > 0
