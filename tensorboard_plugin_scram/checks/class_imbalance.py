"""class_imbalance: one class makes up most of the labels."""

from __future__ import annotations

from collections.abc import Mapping

from tensorboard_plugin_scram.checks import _losses
from tensorboard_plugin_scram.checks._advice import idiom
from tensorboard_plugin_scram.checks._batch import scored_counts
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, RunInfo


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
    In PyTorch: `nn.CrossEntropyLoss(weight=...)` (`nn.BCEWithLogitsLoss(pos_weight=...)`
    for one output), or a `WeightedRandomSampler` for the DataLoader.

    ## Rule
    Once `min_labels` labels have been seen, fires when the most common class's share is
    at least `majority_share`. The 0.9 default follows SageMaker Debugger's imbalance
    rule (largest/smallest > 10) in spirit while staying quiet on mild imbalance; with
    many classes a 90% majority is an even stronger skew. Labels are counted for class
    ids 0..63 (and one-hot rows of up to 64 columns), and only under a classification loss
    (cross-entropy): integer regression targets are not classes; soft or multi-hot labels
    are not counted. Sequence labels (`(batch, time)` ids, one-hot rows per time step) are
    counted at every position; the class a sparse loss ignores (`ignore_class`) is left
    out. When the program already handles the imbalance (`class_weight` or `sample_weight`
    given to `fit()`, a mask reaching the output, as `Embedding(mask_zero=True)` makes for
    padded sequences, or a metric that sees past the majority class tracked: AUC,
    precision, recall, F1, true/false positives), the finding is info, not a warning, and
    says what SCRAM saw.
    """

    id = "class_imbalance"
    title = "Imbalanced classes"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"majority_share": 0.9, "min_labels": 500}
    batch_needs = frozenset({"tensors"})

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        if not any(_losses.is_classification(loss) for loss in history.run.losses):
            return None  # integer regression targets (counts) are not classes
        labels = next((t for t in obs.tensors or () if t.role == "target" and t.class_counts), None)
        if labels is None:
            return None
        counts = scored_counts(history.label_counts(labels.name), history.run)
        seen = sum(counts)
        if seen < self.threshold("min_labels"):
            return None
        major_class = max(range(len(counts)), key=counts.__getitem__)
        majority = counts[major_class] / seen
        if majority < self.threshold("majority_share"):
            return []
        handled = _handling(history.run, obs.logs)
        evidence = {"majority_class": major_class, "majority_share": majority, "labels_seen": seen,
                    "classes_seen": sum(1 for c in counts if c), "threshold": self.threshold("majority_share"),
                    "handled_by": handled}
        seen_text = (f"{majority:.0%} of the {seen} labels seen so far are class {major_class}. A model that always "
                     f"answers {major_class} would score {majority:.0%} accuracy")
        if history.run.masked_output:
            seen_text += (". These counts include the positions the model's mask hides (padding), which the loss "
                          "and the metrics skip, so the labels scored may be far less skewed")
        if handled:
            return [Finding(
                title=self.title,
                explanation=(f"{seen_text}. The program already handles this ({', '.join(handled)}), so this is "
                             "only a reminder: judge the model by those, not by accuracy."),
                suggestion="Nothing to change; compare the model's precision and recall on the rare class with a "
                           "baseline that always answers the majority class.",
                snippet=idiom(history.run.framework,
                              "model.compile(..., metrics=[keras.metrics.AUC(), keras.metrics.Recall()])",
                              _torch_report(history.run)),
                evidence=evidence,
                severity=Severity.INFO,
                key=labels.name,
                location=history.run.fit_location,
            )]
        return [Finding(
            title=self.title,
            explanation=f"{seen_text}, so accuracy is likely misleading here.",
            suggestion=idiom(history.run.framework, "Weight the rare class more (class_weight), resample the data, "
                             "and judge the model by precision, recall or AUC rather than accuracy.",
                             f"Weight the rare class more ({_torch_weighting(history.run)}) or draw it more often "
                             "(a WeightedRandomSampler), and judge the model by precision, recall or AUC rather than "
                             "accuracy."),
            snippet=idiom(history.run.framework,
                          "counts = np.bincount(y_train.astype(int))\n"
                          "class_weight = {c: len(y_train) / (len(counts) * n) for c, n in enumerate(counts)}\n"
                          "model.compile(..., metrics=[\"accuracy\", keras.metrics.Precision(), "
                          "keras.metrics.Recall()])\n"
                          "model.fit(x_train, y_train, class_weight=class_weight, ...)",
                          _torch_weighted_snippet(history.run)),
            evidence=evidence,
            key=labels.name,
            location=history.run.fit_location,
        )]


# Metrics that see past the majority class (Keras names them after the class, lower-cased).
_IMBALANCE_METRICS = ("auc", "precision", "recall", "f1", "fbeta", "prc", "sensitivity", "specificity",
                      "true_positives", "false_positives", "true_negatives", "false_negatives")


def _handling(run: RunInfo, logs: Mapping[str, float]) -> list[str]:
    """How the program already handles imbalance: weights given to fit(), metrics tracked."""
    handled = [name for name, used in (("class_weight", run.class_weighted), ("sample_weight", run.sample_weighted),
                                       ("a mask on the output", run.masked_output)) if used]
    metrics = sorted(k for k in logs if not k.startswith("val_") and any(h in k.lower() for h in _IMBALANCE_METRICS))
    return handled + [f"metric '{name}'" for name in metrics]


def _binary(run: RunInfo) -> bool:
    """One output scoring one class against the other (nn.BCEWithLogitsLoss / nn.BCELoss)."""
    return bool(run.losses) and run.losses[0].name in _losses.BINARY


def _torch_weighting(run: RunInfo) -> str:
    return "nn.BCEWithLogitsLoss(pos_weight=...)" if _binary(run) else "nn.CrossEntropyLoss(weight=...)"


def _torch_weighted_snippet(run: RunInfo) -> str:
    """The rare class weighted in the loss, or drawn more often, in a PyTorch loop."""
    if _binary(run):
        weighted = ("counts = torch.bincount(y_train.long())\n"
                    "loss_fn = nn.BCEWithLogitsLoss(pos_weight=counts[0] / counts[1])  # balances the two classes\n")
    else:
        weighted = ("counts = torch.bincount(y_train.long())\n"
                    "weight = len(y_train) / (len(counts) * counts.float())  # rare classes weigh more\n"
                    "loss_fn = nn.CrossEntropyLoss(weight=weight)\n")
    return (weighted + "# or draw each class about as often (instead of shuffle=True):\n"
            "sampler = WeightedRandomSampler((1.0 / counts.float())[y_train.long()], num_samples=len(y_train))\n"
            "loader = DataLoader(dataset, batch_size=64, sampler=sampler)\n"
            "# judge by precision and recall: sklearn.metrics.classification_report(y_val, predictions)")


def _torch_report(run: RunInfo) -> str:
    """Precision and recall per class of a PyTorch model's predictions on the validation data."""
    output = run.outputs[0] if run.outputs else None
    if output is not None and output.units == 1:
        threshold = "0.5" if output.activation == "sigmoid" else "0"  # a probability, or a logit
        predict = f"(model(x_val).squeeze(1) > {threshold}).long()"
    else:
        predict = "model(x_val).argmax(1)"
    return ("from sklearn.metrics import classification_report\n"
            "with torch.no_grad():\n"
            f"    predictions = {predict}\n"
            "print(classification_report(y_val, predictions))  # precision and recall per class")
