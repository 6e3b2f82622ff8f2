"""accuracy_at_chance: accuracy stays near what guessing would score."""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks import _losses
from tensorboard_plugin_scram.checks._advice import PYTORCH, idiom, shuffled_loader
from tensorboard_plugin_scram.checks._batch import scored_counts
from tensorboard_plugin_scram.checks._metrics import accuracy_key, all_finite, falling_streak
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import EpochObservation, RunInfo

_OTHER_ENCODING = "The labels are likely not what the loss expects (their encoding, range or shape)."
# Losses whose value for a model that guesses the label shares is those shares' entropy.
_PLAIN_CROSS_ENTROPY = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
                        _losses.NEGATIVE_LOG_LIKELIHOOD)


class AccuracyAtChance(Check):
    """## What it does
    After a few epochs, compares training accuracy with chance: 1/k for k classes, or
    the share of the most common class when SCRAM saw the binary labels.

    ## Why is this bad?
    A model at chance has learned nothing: it guesses. Typical causes are labels shuffled
    separately from the inputs, a learning rate far off, unnormalised inputs, or an
    output layer that does not fit the loss.

    ## Example
    ```python
    np.random.shuffle(y_train)       # labels no longer match the inputs
    ```

    ## Fix
    Check that inputs and labels stay aligned (shuffle them together), then the other
    diagnostics (learning rate, normalisation, output activation).

    ## Rule
    From epoch `min_epochs` and `min_steps` optimizer steps on (an epoch of a tiny data
    set or a full batch is one step), fires while training accuracy is at most chance
    plus `margin` x (1 - chance) and the run is not still climbing: over the last epochs
    spanning at least `window_steps` steps, accuracy rose by less than `min_gain` and the
    loss fell by less than `min_loss_drop` (relative), and it is not a slow learner: one
    whose training and validation losses both fell at each of the last `steady_epochs`
    epochs, by `min_loss_drop` in all, with the validation loss below the cross-entropy of
    guessing the label shares by `min_loss_drop` (a small CNN on a few batches per epoch
    crept from 1.377 to 1.318 over 4 epochs, its validation loss from 1.366 to 1.288,
    under the 1.38 of guessing, at accuracy 0.32 against a chance of 0.28; random labels
    give losses that creep down too, from a poor start towards the guessing loss, but
    never below it on validation data). Chance is 1/k for k classes, or the share of the
    most common class when SCRAM counted the labels (binary or
    imbalanced data; sequence labels at every time step, without the class a sparse
    loss's `ignore_class` skips). When a mask reaches the output (padded sequences
    under `Embedding(mask_zero=True)`) the accuracy skips the masked positions that the
    counts include, so chance is 1/k there. A loss near zero (at most `tiny_loss` x ln k) with accuracy at
    chance is reported at once, with high confidence: the loss and the labels disagree,
    e.g. labels with fractions under a sparse categorical loss, which casts them to class
    0; but not under a mask, where the loss skips the padding and, on JAX, Keras' training
    accuracy does not. AUTOTRAINER's slow-convergence rule looks at similar numbers (accuracy below 0.6
    with gains under 0.01); measuring against chance also works for many classes and for
    imbalanced binary data.
    Under a regression loss (MSE, MAE, Huber, ...) with targets that are not class ids,
    accuracy counts exact matches and stays near 0 however well the model learns: a
    training accuracy at most `regression_accuracy` is reported from the first epoch as
    the wrong metric, with a regression metric to track instead.
    """

    id = "accuracy_at_chance"
    title = "Accuracy at chance level"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"min_epochs": 3, "margin": 0.1, "min_steps": 100, "window_steps": 50, "min_gain": 0.02,
                  "min_loss_drop": 0.02, "tiny_loss": 0.05, "steady_epochs": 3, "regression_accuracy": 0.05}

    def on_epoch(self, obs: EpochObservation, history: History) -> Findings:
        key = accuracy_key(obs.logs)
        if key is not None and _regression(history.run):
            return self._regression_findings(obs, history, key)
        classes, chance = _losses.class_count(history.run), _chance(history)
        loss = obs.logs.get("loss")
        if key is None or chance is None or not all_finite(loss, obs.logs.get(key)):
            return None  # a NaN loss is nan_loss's to report, not a learning problem
        if len(history.epochs) < self.threshold("min_epochs"):
            return None
        accuracy = obs.logs[key]
        limit = chance + self.threshold("margin") * (1 - chance)
        if accuracy > limit:
            return []
        if loss <= self.threshold("tiny_loss") * math.log(classes):
            # Under a mask the loss skips the padding; on JAX Keras' training accuracy does not
            # follow it the same way: the loss, near zero, is the one to believe.
            return [] if history.run.masked_output else [self._mismatch_finding(accuracy, chance, loss, history)]
        if obs.step + 1 < self.threshold("min_steps"):
            return None
        climbing = self._climbing(history, key)
        if climbing is None:
            return None
        if climbing:
            return []
        return [Finding(
            title=self.title,
            explanation=(f"After {len(history.epochs)} epochs ({obs.step + 1} optimizer steps) the training "
                         f"accuracy is {accuracy:.3g}, about what guessing scores ({chance:.3g}), and it has not "
                         "risen lately. The model has likely learned nothing: the labels may not match the inputs, "
                         "or the learning rate, input scaling or output layer may be off."),
            suggestion="Check that inputs and labels are shuffled together and match; then look at the learning "
                       "rate, the input scaling and the output activation.",
            snippet=idiom(history.run.framework,
                          "order = np.random.default_rng(0).permutation(len(x_train))\n"
                          "x_train, y_train = x_train[order], y_train[order]  # shuffle together, never separately",
                          "dataset = TensorDataset(x_train, y_train)  # each input stays with its label\n"
                          + shuffled_loader() + "  # shuffles the pairs, never one side alone"),
            evidence={"accuracy": accuracy, "chance": chance, "limit": limit, "epochs": len(history.epochs),
                      "steps": obs.step + 1},
            location=history.run.fit_location,
        )]

    def _climbing(self, history: History, key: str) -> bool | None:
        """Whether accuracy or loss still improve over the last epochs spanning `window_steps` steps."""
        steps, spanned, window = history.epoch_steps(), 0, 0
        while window < len(steps) and (window < 2 or spanned < self.threshold("window_steps")):
            window += 1
            spanned += steps[-window]
        recent = history.epochs[-window:]
        accuracies = [e.logs.get(key) for e in recent]
        losses = [e.logs.get("loss") for e in recent]
        if window < 2 or not all_finite(*accuracies, *losses):
            return None
        gained = accuracies[-1] - min(accuracies[:-1]) >= self.threshold("min_gain")
        dropped = losses[-1] <= max(losses[:-1]) * (1 - self.threshold("min_loss_drop"))
        return gained or dropped or self._creeping(history)

    def _creeping(self, history: History) -> bool:
        """Whether the model learns, slowly: its validation loss beats guessing the label
        shares by `min_loss_drop`, and the training and validation losses both fell at
        each of the last `steady_epochs` epochs, by `min_loss_drop` in all.

        Random labels give losses that creep down too, from a poor start towards the
        guessing loss, but never below it on validation data.
        """
        guessing = _guessing_loss(history)
        recent = history.epochs[-int(self.threshold("steady_epochs")) - 1:]
        if guessing is None or len(recent) <= self.threshold("steady_epochs"):
            return False
        drop = self.threshold("min_loss_drop")
        for key in ("loss", "val_loss"):
            losses = [e.logs.get(key) for e in recent]
            steady = all_finite(*losses) and falling_streak(losses) >= len(losses) - 1
            if not steady or losses[-1] > losses[0] * (1 - drop):
                return False
        return recent[-1].logs["val_loss"] <= guessing * (1 - drop)

    def _regression_findings(self, obs: EpochObservation, history: History, key: str) -> Findings:
        """Accuracy under a regression loss on targets that are not class ids: it counts exact matches."""
        accuracy = obs.logs[key]
        if not all_finite(accuracy):
            return None
        if accuracy > self.threshold("regression_accuracy"):
            return []
        run = history.run
        return [Finding(
            title="Accuracy tracked on a regression task",
            explanation=(f"The model is trained with {run.losses[0].name}, a regression loss, and its training "
                         f"accuracy is {accuracy:.3g} after {len(history.epochs)} epoch(s). Accuracy counts "
                         "predictions that equal their target exactly (or, for one output, predictions on the "
                         "same side of 0.5), which real-valued predictions of real-valued targets almost never "
                         "do: it stays near 0 however well the model learns, and says nothing about this run. "
                         "The loss is the measure to watch."),
            suggestion=idiom(run.framework,
                             "Track a regression metric instead of accuracy: mean absolute error (\"mae\") is in "
                             "the targets' own units.",
                             "Track a regression metric instead of accuracy: the mean absolute error is in the "
                             "targets' own units."),
            snippet=idiom(run.framework,
                          'model.compile(optimizer="adam", loss="mse", metrics=["mae"])  # not "accuracy"',
                          "mae = torch.nn.functional.l1_loss(prediction, target)  # not an accuracy\n"
                          "scram.step(loss, mae=mae)"),
            evidence={"accuracy": accuracy, "loss": run.losses[0].name,
                      "regression_accuracy": self.threshold("regression_accuracy")},
            confidence=Confidence.HIGH,
            location=run.compile_location or run.fit_location,
        )]

    def _mismatch_finding(self, accuracy: float, chance: float, loss: float, history: History) -> Finding:
        run = history.run
        cause, suggestion, snippet = _torch_label_advice() if run.framework == PYTORCH else _label_advice(run)
        return Finding(
            title="Loss near zero but accuracy at chance",
            explanation=(f"The training loss is {loss:.3g}, near zero, yet the training accuracy is {accuracy:.3g}, "
                         f"about what guessing scores ({chance:.3g}). The loss and the accuracy cannot both be "
                         f"right: the labels and the loss likely do not match. {cause}"),
            suggestion=suggestion,
            snippet=snippet,
            evidence={"loss": loss, "accuracy": accuracy, "chance": chance,
                      "tiny_loss": self.threshold("tiny_loss")},
            confidence=Confidence.HIGH,
            location=run.compile_location or run.fit_location,
        )


def _label_advice(run: RunInfo) -> tuple[str, str, str]:
    """`(likely cause, suggestion, snippet)` for labels the loss does not expect, in Keras."""
    sparse = bool(run.losses) and run.losses[0].name in _losses.SPARSE
    cause = ("Under sparse_categorical_crossentropy, labels with fractions (e.g. 0.3 or 0.7) are silently "
             "cast to whole class ids, mostly class 0, so the loss learns a trivial target while accuracy "
             "compares with the real labels." if sparse else _OTHER_ENCODING)
    return (cause,
            "Check the labels' values and type: integer class ids 0..k-1 for a sparse categorical "
            "loss, one-hot rows for categorical cross-entropy, 0/1 for binary cross-entropy; "
            "continuous targets need a regression loss.",
            "import numpy as np\n"
            "print(y_train.dtype, np.unique(y_train)[:10])  # expect whole class ids 0..k-1\n"
            "y_train = y_train.astype(\"int64\")  # only if they are class ids stored as floats")


def _torch_label_advice() -> tuple[str, str, str]:
    """`_label_advice` in PyTorch, which casts nothing: float targets of nn.CrossEntropyLoss are probabilities."""
    return (_OTHER_ENCODING,
            "Check the labels' values and type: class ids 0..k-1 (torch.long) for nn.CrossEntropyLoss, or one row "
            "of class probabilities per sample (float); 0.0/1.0 floats for nn.BCEWithLogitsLoss; continuous "
            "targets need a regression loss (nn.MSELoss).",
            "print(y_train.dtype, torch.unique(y_train)[:10])  # expect whole class ids 0..k-1\n"
            "y_train = y_train.long()  # only if they are class ids stored as floats")


def _regression(run: RunInfo) -> bool:
    """Whether every loss is a regression loss and the labels are not class ids (which label_output_mismatch
    judges: whole numbers under a regression loss are often classes)."""
    return bool(run.losses) and all(loss.name in _losses.REGRESSION for loss in run.losses) \
        and not run.label_counts


def _chance(history: History) -> float | None:
    """What always answering the most common class scores: 1/k, or more on imbalanced labels."""
    classes = _losses.class_count(history.run)
    if classes is None:
        return None
    return max(1 / classes, max(_label_shares(history, classes) or [0.0]))


def _guessing_loss(history: History) -> float | None:
    """The cross-entropy of predicting the label shares for every sample, or None for other losses."""
    classes = _losses.class_count(history.run)
    if classes is None or history.run.losses[0].name not in _PLAIN_CROSS_ENTROPY:
        return None
    shares = _label_shares(history, classes)
    if shares is None:  # equal shares
        return math.log(classes)
    return -sum(p * math.log(p) for p in shares if p > 0)


def _label_shares(history: History, classes: int) -> list[float] | None:
    """The classes' shares among the labels SCRAM counted; None (equal shares) where it counted none.

    Equal shares are not spelled out: the output's width is the model's word, and a wrong
    or huge one must not cost a list that long.
    """
    # Under a mask the counted labels include the padding the accuracy skips: no shares there.
    labels = None if history.run.masked_output else next(
        (t for t in history.last_tensors if t.role == "target"), None)
    counts = scored_counts(history.label_counts(labels.name), history.run) if labels is not None else ()
    if counts and sum(counts):
        return [c / sum(counts) for c in counts]
    if classes == 2 and labels is not None and labels.max <= 1:
        share = history.target_mean(labels.name)
        if share is not None:
            return [1 - share, share]
    return None
