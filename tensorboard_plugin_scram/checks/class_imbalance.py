"""class_imbalance: one class makes up most of the labels."""

from __future__ import annotations

from tensorboard_plugin_scram.checks import _losses
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation


class ClassImbalance(Check):
    """## What it does
    Counts the labels of sampled batches (class ids or one-hot rows, binary or
    multi-class) and reports when one class makes up most of them.

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
    rule (largest/smallest > 10) in spirit while staying quiet on mild imbalance; with
    many classes a 90% majority is an even stronger skew. Labels are counted for class
    ids 0..63 (and one-hot rows of up to 64 columns), and only under a classification loss
    (cross-entropy): integer regression targets are not classes; soft or multi-hot labels
    are not counted.
    """

    id = "class_imbalance"
    title = "Imbalanced classes"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"majority_share": 0.9, "min_labels": 500}
    batch_needs = frozenset({"tensors"})

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._counts: list[int] = []

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        if not any(_losses.is_classification(loss) for loss in history.run.losses):
            return None  # integer regression targets (counts) are not classes
        labels = next((t for t in obs.tensors or () if t.role == "target" and t.class_counts), None)
        if labels is None:
            return None
        self._add(labels.class_counts)
        seen = sum(self._counts)
        if seen < self.threshold("min_labels"):
            return None
        major_class = max(range(len(self._counts)), key=self._counts.__getitem__)
        majority = self._counts[major_class] / seen
        if majority < self.threshold("majority_share"):
            return []
        return [Finding(
            title=self.title,
            explanation=(f"{majority:.0%} of the {seen} labels seen so far are class {major_class}. "
                         f"A model that always answers {major_class} would score {majority:.0%} accuracy, so "
                         "accuracy is likely misleading here."),
            suggestion="Weight the rare class more (class_weight), resample the data, and judge the model by "
                       "precision, recall or AUC rather than accuracy.",
            snippet=("counts = np.bincount(y_train.astype(int))\n"
                     "class_weight = {c: len(y_train) / (len(counts) * n) for c, n in enumerate(counts)}\n"
                     "model.compile(..., metrics=[\"accuracy\", keras.metrics.Precision(), keras.metrics.Recall()])\n"
                     "model.fit(x_train, y_train, class_weight=class_weight, ...)"),
            evidence={"majority_class": major_class, "majority_share": majority, "labels_seen": seen,
                      "classes_seen": sum(1 for c in self._counts if c),
                      "threshold": self.threshold("majority_share")},
            key=labels.name,
            location=history.run.fit_location,
        )]

    def _add(self, counts: tuple[int, ...]) -> None:
        if len(counts) > len(self._counts):
            self._counts.extend([0] * (len(counts) - len(self._counts)))
        for label, count in enumerate(counts):
            self._counts[label] += count
