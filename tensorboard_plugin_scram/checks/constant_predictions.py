"""constant_predictions: the model predicts (nearly) the same class or value for every sample."""

from __future__ import annotations

import collections
import math

from tensorboard_plugin_scram.checks._advice import idiom
from tensorboard_plugin_scram.checks._batch import binomial_tail
from tensorboard_plugin_scram.checks._layers import StreakCheck, measured
from tensorboard_plugin_scram.checks._metrics import fitted_growth
from tensorboard_plugin_scram.checks.base import Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, PredictionStats, TensorStats

_CLASS_SNIPPET = """\
import numpy as np
print(np.unique(y_train, return_counts=True))       # are all classes there?
print(np.unique(model.predict(x_train[:500]).argmax(-1), return_counts=True))"""

_ONE_LABEL_SNIPPET = """\
import numpy as np
print(np.unique(y_train, return_counts=True))  # expect every class, not one"""

_REGRESSION_SNIPPET = """\
y_mean, y_std = y_train.mean(), y_train.std()
model.fit(x_train, (y_train - y_mean) / y_std, ...)   # predict y * y_std + y_mean"""

# Targets in [0, 1] behind a sigmoid or softmax are already on the output's scale: standardising
# them would push them out of its reach, so the advice looks inside the model instead.
_BOUNDED_SNIPPET = """\
import numpy as np
pred = model.predict(x_train[:512], verbose=0)
print(pred.std(axis=0).mean(), np.std(y_train[:512], axis=0).mean())  # spread: predictions vs targets
print(model.optimizer.learning_rate)  # then the hidden layers: dead ReLU units (see dead_relu)"""

# The same advice in a PyTorch loop's terms, by the Keras snippet it replaces.
_TORCH_SNIPPETS = {
    _CLASS_SNIPPET: ("print(torch.unique(y_train, return_counts=True))   # are all classes there?\n"
                     "with torch.no_grad():\n"
                     "    print(torch.unique(model(x_batch).argmax(1), return_counts=True))\n"
                     "loss_fn = nn.CrossEntropyLoss(weight=class_weights)   # rare classes weigh more"),
    _ONE_LABEL_SNIPPET: "print(torch.unique(y_train, return_counts=True))  # expect every class, not one",
    _REGRESSION_SNIPPET: ("y_mean, y_std = y_train.mean(0), y_train.std(0)\n"
                          "y_train = (y_train - y_mean) / y_std   # train on this; predict model(x) * y_std + y_mean"),
    _BOUNDED_SNIPPET: ("with torch.no_grad():\n"
                       "    print(model(x_batch).std(0).mean(), y_batch.float().std(0).mean())  # spread: predictions "
                       "vs targets\n"
                       'print(optimizer.param_groups[0]["lr"])  # then the hidden layers: dead ReLU units'),
}

# Sampled spreads kept to tell a model leaving its starting plateau from a collapsed one.
_SPREAD_SAMPLES = 16
# Spreads this small (relative to the targets', or as probabilities) are rounding noise.
_SPREAD_NOISE = 1e-6


class ConstantPredictions(StreakCheck):
    """## What it does
    On sampled training steps, looks at the model's predictions for the batch and
    reports when it predicts the same class for (nearly) every sample, or, for
    regression, values that hardly vary compared with the targets.

    ## Why is this bad?
    A model that always answers the same has collapsed to the majority class or to the
    mean target: its accuracy may look acceptable on imbalanced data, but it has learnt
    nothing about the inputs. Usual causes: labels that are all (or almost all) one
    class, a learning rate too high or too low, dead ReLU layers, or a bug that
    disconnects the inputs.

    ## Example
    ```python
    y_train = np.zeros(len(x_train))      # a bug while loading the labels
    model.fit(x_train, y_train)
    ```

    ## Fix
    Check the labels (`np.unique(y_train, return_counts=True)`), balance the classes
    (`class_weight=`), and check the learning rate and the layers' activations.

    ## Rule
    After a warm-up of `warmup_steps` steps (a freshly initialised classifier often
    predicts one class for everything: SCRAM's healthy CNN did at step 5), fires when
    on `patience` sampled steps in a row spanning at least `min_span` training steps,
    on batches of at least `min_batch` samples,
    - classification: the most common predicted class covers at least `majority_share`
      (0.95) of the batch, and the labels do not explain it: at the class frequencies of
      the training labels (counted over all of them for arrays, else over the sampled
      batches), a batch of that size would hold that share of one class with a chance
      below `max_chance` (0.01). With 0.2% positives a batch of 32 is all negatives with
      chance 0.94, so predicting one class there is right; with 10 balanced classes the
      chance is about 0. Labels of one class only are reported (a labelling bug) when
      counted over all of them (arrays); seen only in the sampled batches of a data set,
      one class may just mean the rare one has not come by yet (0.05% positives through
      `tf.data` at batch 64: no positive in the first sampled batches), so predicting it
      is right. Healthy runs on 10 balanced digit classes stayed at 0.16-0.34; labels
      all one class or dead ReLU layers gave 1.0;
    - regression, and classification losses on continuous targets (ratings scaled to
      [0, 1] under binary cross-entropy are values, not classes, never cut at 0.5): the
      predictions' standard deviation across the batch is at most `std_ratio` (0.01)
      times the targets'.

    and the model shows no sign of leaving that state: over the streak's last 16 sampled
    steps, the predictions' standard deviation did not grow `rise` (2) times or more (the
    factor read off a straight line fitted through its logarithms, so one noisy batch
    neither makes nor hides a trend; spreads below 1e-6 of the targets' count as 1e-6).
    A model starting on a plateau leaves it with a spread that grows step after step: in
    SCRAM's healthy sweep a recommender multiplying two small embeddings predicted ratings
    within 1e-4 of each other for 120 steps, its spread growing 8 to 180 times over them,
    and then learnt; on Keras' PyTorch backend one seed's grew only 3.3 times over its
    first 100 steps, and it learnt too. A collapsed model (dead ReLU layers, inputs cut
    off, one label) keeps a spread of exactly 0, or a shrinking one: doubling is a sign.
    The span is there for models that are slow to leave their starting plateau: in
    SCRAM's healthy sweep (`python -m bench sweep`), binary text models (Embedding with
    LSTM or Conv1D) and a sigmoid MLP on digits predicted one class for 95-100% of the
    batch for up to 40 steps in a row, while their loss still sat at its starting
    value, and then learnt (accuracy 0.75-0.97). A collapsed model keeps one answer for
    good, so waiting `min_span` = 100 steps costs a fault little and spares those runs.
    Confidence is high when exactly one class is predicted.
    """

    id = "constant_predictions"
    title = "Constant predictions"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"majority_share": 0.95, "std_ratio": 0.01, "warmup_steps": 20, "patience": 2, "min_span": 100,
                  "min_batch": 16, "max_chance": 0.01, "rise": 2.0}
    batch_needs = frozenset({"model"})

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._last_step = 0
        # (step, predictions' spread) on the current streak's latest sampled steps.
        self._spreads: collections.deque[tuple[int, float]] = collections.deque(maxlen=_SPREAD_SAMPLES)

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        model = measured(obs, history)
        predictions = model.predictions if model is not None else None
        if predictions is None or obs.step < self.threshold("warmup_steps"):
            return None
        if predictions.count < self.threshold("min_batch"):
            return None
        target = next((t for t in history.last_tensors if t.role == "target"), None)
        by_class = predictions.majority_share is not None and (target is None or target.integral)
        constant = self._constant_class(predictions, target, history) if by_class else \
            self._constant_value(predictions, target)
        if constant is None:
            return None
        self._last_step = obs.step
        streak = self._streaks.update([""] if constant else [], obs.step).get("", 0)
        self._track_spread(constant, obs.step, predictions.std)
        if not constant or streak < self.threshold("patience") or self._span(obs.step) < self.threshold("min_span"):
            return []
        growth = self._spread_growth(None if by_class else target)
        if growth >= self.threshold("rise"):
            return []  # leaving its starting plateau, not collapsed: the spread keeps growing
        if by_class:
            return [self._class_finding(predictions, target, obs, history, growth)]
        return [self._regression_finding(predictions, target, obs, history, growth)]

    def suspects(self) -> bool:
        # A streak still too short to count: its next sample is wanted soon.
        young = self._streaks.since("") is not None and self._span(self._last_step) < self.threshold("min_span")
        return young or super().suspects()

    def _span(self, step: int) -> int:
        since = self._streaks.since("")
        return step - since if since is not None else 0

    def _held(self, obs: BatchObservation, growth: float) -> str:
        return (f"on every sampled step from step {self._streaks.since('')} to step {obs.step}, with no sign of "
                f"leaving that state (the predictions' spread changed by x{growth:.2g} over those steps)")

    def _track_spread(self, constant: bool, step: int, spread: float) -> None:
        if not constant:
            self._spreads.clear()
        elif math.isfinite(spread):
            self._spreads.append((step, spread))

    def _spread_growth(self, target: TensorStats | None) -> float:
        """How much the predictions' spread grew over the streak's sampled steps (a fitted factor).

        A model on the plateau of its initialisation (two small embeddings multiplied, a
        sigmoid stack starting flat) leaves it with a spread growing step after step; a
        collapsed one (dead layers, cut-off inputs, one label) keeps it flat or shrinking.
        """
        scale = target.feature_std if target is not None else 1.0
        return fitted_growth(list(self._spreads), _SPREAD_NOISE * scale)

    def _constant_class(self, predictions: PredictionStats, target: TensorStats | None,
                        history: History) -> bool:
        share = predictions.majority_share
        if share < self.threshold("majority_share"):
            return False
        counted, exact = history.class_frequencies(target.name) if target is not None else ([], False)
        frequencies = [f for f in counted if f > 0]
        if len(frequencies) < 2:
            # Labels not counted, or all of one class: a labelling bug, unless they were only
            # sampled (a data set), where a rare class may not have come by yet.
            return exact or not frequencies
        # How often a batch of this size holds that share of the most common class by itself.
        hits = math.ceil(share * predictions.count - 1e-9)
        return binomial_tail(predictions.count, max(frequencies), hits) < self.threshold("max_chance")

    def _constant_value(self, predictions: PredictionStats, target: TensorStats | None) -> bool | None:
        if target is None or target.feature_std <= 0:
            return None  # constant targets: a constant prediction is right
        return predictions.std <= self.threshold("std_ratio") * target.feature_std

    def _class_finding(self, predictions: PredictionStats, target: TensorStats | None,
                       obs: BatchObservation, history: History, growth: float) -> Finding:
        share = predictions.majority_share
        frequencies = history.class_frequencies(target.name)[0] if target is not None else []
        label_share = max(frequencies) if frequencies else None
        labels_text = (f" The most common label makes up only {label_share:.0%} of the labels, so the labels do "
                       "not explain it." if label_share is not None and label_share < 1 else "")
        one_label = target is not None and target.std == 0
        if one_label:
            cause = (f"The labels of the batch are all the same too ({target.min:g}): the training data likely "
                     "holds a single class, e.g. labels filtered or loaded wrongly.")
        else:
            cause = ("Likely causes: most labels belong to one class, a learning rate too high or too low, "
                     "dead ReLU layers, or inputs that do not reach the output.")
        return Finding(
            title=self.title,
            explanation=(f"The model predicted the same class for {share:.0%} of the {predictions.count} samples "
                         f"of the batch ({predictions.predicted_classes} distinct class(es) predicted), "
                         f"{self._held(obs, growth)}. It has likely collapsed to one answer and ignores its input."
                         f"{labels_text} {cause}"),
            suggestion=("Check that every class is present in the labels; balance the classes with "
                        + idiom(history.run.framework, "`class_weight=`", "`nn.CrossEntropyLoss(weight=...)`")
                        + "; check the learning rate and the hidden layers (dead ReLU)."),
            snippet=_idiom(_ONE_LABEL_SNIPPET if one_label else _CLASS_SNIPPET, history),
            evidence={"majority_share": share, "predicted_classes": predictions.predicted_classes,
                      "batch": predictions.count, "majority_share_limit": self.threshold("majority_share"),
                      "label_majority_share": label_share, "spread_growth": growth,
                      "rise": self.threshold("rise")},
            confidence=Confidence.HIGH if predictions.predicted_classes == 1 else Confidence.MEDIUM,
        )

    def _regression_finding(self, predictions: PredictionStats, target: TensorStats,
                            obs: BatchObservation, history: History, growth: float) -> Finding:
        bounded = _bounded_output(history) and 0 <= target.min and target.max <= 1
        if bounded:
            suggestion = ("Keep the targets in [0, 1] (the output's range); check the learning rate, and check that "
                          "the hidden layers are alive (dead ReLU) and the inputs reach the output.")
        else:
            suggestion = ("Standardise the targets, check the learning rate, and check that the hidden layers are "
                          "alive (dead ReLU) and the inputs reach the output.")
        return Finding(
            title=self.title,
            explanation=(f"The predictions' standard deviation across the batch is {predictions.std:.3g}, against "
                         f"{target.feature_std:.3g} for the targets, {self._held(obs, growth)}: the model likely "
                         "predicts about the same value (the mean target) for every sample and ignores its input."),
            suggestion=suggestion,
            snippet=_idiom(_BOUNDED_SNIPPET if bounded else _REGRESSION_SNIPPET, history),
            evidence={"prediction_std": predictions.std, "target_std": target.feature_std,
                      "std_ratio": self.threshold("std_ratio"), "spread_growth": growth,
                      "rise": self.threshold("rise")},
        )


def _idiom(snippet: str, history: History) -> str:
    """The snippet in the run's framework: Keras', or a PyTorch loop's."""
    return idiom(history.run.framework, snippet, _TORCH_SNIPPETS[snippet])


def _bounded_output(history: History) -> bool:
    """Whether the (first) output squashes into [0, 1]: a sigmoid or softmax."""
    outputs = history.run.outputs
    return bool(outputs) and outputs[0].activation in ("sigmoid", "softmax")
