"""train_val_mismatch: validation far worse than training from the start, or suspiciously better."""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks._advice import idiom, shuffled_loader
from tensorboard_plugin_scram.checks._metrics import accuracy_key, all_finite
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import EpochObservation

_SHUFFLE_SNIPPET = """\
# validation_split takes the LAST samples without shuffling: shuffle first
order = np.random.default_rng(0).permutation(len(x_train))
x_train, y_train = x_train[order], y_train[order]
model.fit(x_train, y_train, validation_split=0.2, ...)"""

# PyTorch: a random split of the data set, not the last samples of sorted data.
_TORCH_SPLIT_SNIPPET = ("train_set, val_set = torch.utils.data.random_split(\n"
                        "    dataset, [0.8, 0.2], generator=torch.Generator().manual_seed(0))  # not x[:n], x[n:]\n"
                        + shuffled_loader(dataset="train_set"))

# BatchNormalization's moving averages start at mean 0 and variance 1; while more than this
# share of them is still that start, validation (which uses them) can trail training widely.
_BN_UNSETTLED = 0.05
# Losses that are a plain mean cross-entropy of the true class (focal losses are smaller).
_CROSS_ENTROPIES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
                    "negative_log_likelihood")


class TrainValMismatch(Check):
    """## What it does
    Compares training and validation metrics over the first epochs, before overfitting
    could explain a gap: validation far worse than training from the first epoch on, or
    validation better than training at every epoch by a wide margin.

    ## Why is this bad?
    Far worse from the start: the validation data likely come from another distribution.
    A classic cause: `validation_split` takes the *last* samples without shuffling, so
    data sorted by class give a validation set of classes the model never sees.
    Suspiciously better throughout: validation samples may leak into training, or the
    two sides are preprocessed differently.
    A model with BatchNormalization layers can trail for a harmless reason after few
    steps: validation runs them on moving averages of the batch statistics that still
    lean on their starting values (in SCRAM's sweep, a BatchNormalization CNN validated
    at 0.21-0.30 accuracy against 0.95-0.98 in training after 117 steps, and at
    0.99-1.00 with `momentum=0.9`). The message says so when that may be the case.

    ## Example
    ```python
    x, y = sorted_by_label(x, y)
    model.fit(x, y, validation_split=0.2)     # validation = only the last classes
    ```

    ## Fix
    Shuffle before splitting, and preprocess training and validation data the same way.

    ## Rule
    Batch normalisation: at any of the first `epochs` epochs, while the model's
    BatchNormalization moving averages still hold at least 5% of their starting values
    (momentum to the power of the steps taken), validation accuracy at least `acc_gap`
    below training accuracy (without accuracy: validation loss at least `loss_ratio`
    times the training loss) is reported with that cause named first.
    Worse: after the first `epochs` epochs, validation accuracy is at least `acc_gap`
    below training accuracy (or, without accuracy, validation loss at least
    `loss_ratio` times the training loss), and validation loss never improved while
    training loss fell (overfitting, by contrast, improves validation first).
    Better: at epoch `better_epochs`, validation accuracy was at least `better_gap`
    above training accuracy in every epoch from epoch 2 on (early epochs' training
    metrics average a model still learning fast), and training accuracy has stopped
    rising fast. Umlaut's 0.05 margin fired on 48 of 68 healthy models with dropout;
    0.15 over several epochs leaves dropout's usual gap alone. Not when the training
    accuracy is below what its own cross-entropy allows (accuracy >= 2 exp(-loss) - 1):
    then the metric does not count what the loss does (on JAX, Keras' training accuracy
    of a masked sequence model disagrees with its loss), and the data are not to blame.
    """

    id = "train_val_mismatch"
    title = "Validation data do not match training data"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"epochs": 3, "acc_gap": 0.3, "loss_ratio": 3.0, "better_gap": 0.15, "better_epochs": 6}

    def on_epoch(self, obs: EpochObservation, history: History) -> Findings:
        if not all_finite(obs.logs.get("loss")):
            return None  # a NaN loss is nan_loss's to report
        done = len(history.epochs)
        if "val_loss" not in obs.logs:
            return None
        window = [e.logs for e in history.epochs]
        if not all(all_finite(w.get("loss"), w.get("val_loss")) for w in window):
            return None
        acc = accuracy_key(obs.logs)
        has_acc = acc is not None and all(acc in w and f"val_{acc}" in w for w in window)
        if done <= self.threshold("epochs") and _unsettled_share(history) >= _BN_UNSETTLED:
            lag = self._batch_norm_lag(window, acc if has_acc else None, history)
            if lag is not None:
                return [lag]
        if done not in (self.threshold("epochs"), self.threshold("better_epochs")):
            return None
        if done == self.threshold("better_epochs"):
            better = has_acc and self._is_better(window, acc) and not _accuracy_below_its_loss(window[-1], acc, history)
            return [self._better(window, acc, history)] if better else []
        # Overfitting needs a phase where validation improved first; here it never did.
        never_improved = (min(w["val_loss"] for w in window[1:]) >= window[0]["val_loss"]
                          and window[-1]["loss"] < window[0]["loss"])
        if has_acc:
            gap = window[-1][acc] - window[-1][f"val_{acc}"] >= self.threshold("acc_gap")
            numbers = f"validation accuracy {window[-1]['val_' + acc]:.3g} vs training {window[-1][acc]:.3g}"
        else:
            gap = window[-1]["val_loss"] >= self.threshold("loss_ratio") * window[-1]["loss"]
            numbers = f"validation loss {window[-1]['val_loss']:.3g} vs training {window[-1]['loss']:.3g}"
        worse = gap and never_improved
        return [self._worse(window, numbers, history)] if worse else []

    def _batch_norm_lag(self, window: list, acc: str | None, history: History) -> Finding | None:
        """Validation far behind training while BatchNormalization's moving averages still hold their start."""
        last = window[-1]
        if acc is not None:
            if last[acc] - last[f"val_{acc}"] < self.threshold("acc_gap"):
                return None
            numbers = f"validation accuracy {last['val_' + acc]:.3g} vs training {last[acc]:.3g}"
        elif last["val_loss"] < self.threshold("loss_ratio") * last["loss"]:
            return None
        else:
            numbers = f"validation loss {last['val_loss']:.3g} vs training {last['loss']:.3g}"
        momentum, steps = history.run.batch_norm_momentum, _steps(history)
        framework = history.run.framework
        return Finding(
            title=f"Validation far behind training: {_batch_norm(framework)} not settled yet",
            explanation=(f"After {len(window)} epoch(s) ({steps} training steps), validation is far behind training "
                         f"({numbers}). The model has {_batch_norm(framework)} layers: validation runs them on moving "
                         f"averages of the batch statistics which, at momentum {_momentum(momentum, framework)}"
                         f"{idiom(framework, '', _TORCH_MOMENTUM)}, still hold "
                         f"{_unsettled_share(history):.0%} of their starting values (mean 0, variance 1), so "
                         "validation sees differently scaled activations than training. This is the likely "
                         "cause; if the gap stays once they settle, the validation data may come from another "
                         "distribution."),
            suggestion=(f"Train longer, or let the moving averages follow faster with "
                        f"{_faster_batch_norm(framework)} (now {_momentum(momentum, framework)}); with very few "
                        "steps per epoch, a smaller batch gives more steps."),
            snippet=idiom(framework, "keras.layers.BatchNormalization(momentum=0.9),   # instead of the default 0.99",
                          "nn.BatchNorm1d(num_features, momentum=0.1),   # PyTorch's default: each batch weighs 0.1"),
            evidence={"epochs": len(window), "steps": steps, "momentum": momentum,
                      "unsettled_share": _unsettled_share(history), "unsettled_limit": _BN_UNSETTLED,
                      "train": [w.get(acc or "loss") for w in window],
                      "validation": [w.get(f"val_{acc}" if acc else "val_loss") for w in window]},
            key="worse",
            location=history.run.fit_location,
        )

    def _is_better(self, window: list, acc: str) -> bool:
        # Skip the first two epochs: an epoch's training accuracy averages a model still
        # learning fast (and dropout), so it lags validation then. Still rising fast also
        # explains a lag.
        settled = window[2:]
        gaps = [w[f"val_{acc}"] - w[acc] for w in settled]
        still_rising = settled[-1][acc] - settled[0][acc] >= self.threshold("better_gap") / 2
        return all(g >= self.threshold("better_gap") for g in gaps) and not still_rising

    def _worse(self, window: list, numbers: str, history: History) -> Finding:
        return Finding(
            title="Validation far worse than training from the start",
            explanation=(f"From the first epoch on, validation is far worse than training ({numbers} after "
                         f"{len(window)} epochs). This is too early for overfitting: the validation data likely "
                         "come from another distribution. " + idiom(
                             history.run.framework, "If you use validation_split, note that it takes the "
                             "LAST samples without shuffling, so sorted data give unseen classes.",
                             "If you split by position (x[:n], x[n:], or a Subset of a range), data sorted by "
                             "class give the validation set classes the model never trained on.")
                         + _batch_norm_note(history)),
            suggestion="Shuffle the data before splitting, and check that validation data are preprocessed "
                       "like the training data.",
            snippet=idiom(history.run.framework, _SHUFFLE_SNIPPET, _TORCH_SPLIT_SNIPPET),
            evidence={"epochs": len(window), "train": [w.get("loss") for w in window],
                      "validation": [w.get("val_loss") for w in window]},
            key="worse",
            location=history.run.fit_location,
        )

    def _better(self, window: list, acc: str, history: History) -> Finding:
        return Finding(
            title="Validation suspiciously better than training",
            explanation=(f"In every epoch from 2 to {len(window) - 1}, validation accuracy beat training accuracy "
                         f"by at least {self.threshold('better_gap'):.0%} (now {window[-1]['val_' + acc]:.3g} vs "
                         f"{window[-1][acc]:.3g}). Strong dropout can explain a small gap, but one this large "
                         "could mean validation samples leak into training or are preprocessed differently."),
            suggestion="Check that no validation sample is also in the training data and that both get the same "
                       "preprocessing; very strong dropout or augmentation can also cause it.",
            snippet=None,
            evidence={"epochs": len(window), acc: [w[acc] for w in window],
                      f"val_{acc}": [w[f"val_{acc}"] for w in window], "better_gap": self.threshold("better_gap")},
            confidence=Confidence.LOW,
            key="better",
            location=history.run.fit_location,
        )


def _accuracy_below_its_loss(logs: dict, acc: str, history: History) -> bool:
    """Whether the training accuracy is lower than its own cross-entropy allows: then it is not measured
    on what the loss is (a mask or sample weights the metric handles otherwise), and comparing it with
    validation accuracy says nothing of the data.

    A mean cross-entropy L means a true-class probability of at least exp(-L) on average
    (Jensen), so at most 2 (1 - exp(-L)) of the samples can have it at 0.5 or below:
    accuracy >= 2 exp(-L) - 1. Only for one plain cross-entropy, unweighted.
    """
    run = history.run
    if len(run.losses) != 1 or run.losses[0].name not in _CROSS_ENTROPIES or run.class_weighted or run.sample_weighted:
        return False
    floor = 2 * math.exp(-logs["loss"]) - 1
    return logs[acc] < floor - 0.05


def _steps(history: History) -> int:
    """Training steps so far, all fits together."""
    return history.losses[-1][0] + 1 if history.losses else 0


def _unsettled_share(history: History) -> float:
    """The share of their starting values BatchNormalization's moving averages still hold (0 without any)."""
    momentum, steps = history.run.batch_norm_momentum, _steps(history)
    if momentum is None or not 0.0 < momentum < 1.0 or not steps:
        return 0.0
    return momentum ** steps


def _batch_norm_note(history: History) -> str:
    """Another cause, where the model's BatchNormalization layers have seen too few steps to settle."""
    momentum, steps, framework = history.run.batch_norm_momentum, _steps(history), history.run.framework
    if _unsettled_share(history) < _BN_UNSETTLED:
        return ""
    return (f" Another likely cause here: the model has {_batch_norm(framework)} layers, and validation runs them on "
            f"moving averages of the batch statistics which, after {steps} training steps at momentum "
            f"{_momentum(momentum, framework)}, still hold {momentum ** steps:.0%} of their starting values. Then the "
            f"gap closes with more epochs, or sooner with {_faster_batch_norm(framework)}.")


def _momentum(momentum: float, framework: str) -> str:
    """The moving averages' momentum as the framework counts it: Keras keeps that share of the average at each
    batch, PyTorch gives the new batch that share (Keras' 0.99 is PyTorch's 0.01)."""
    return idiom(framework, f"{momentum:g}", f"{1 - momentum:.3g}")


# PyTorch counts BatchNorm's momentum the other way round from Keras: said where its value is shown.
_TORCH_MOMENTUM = " (PyTorch's momentum: the weight of each new batch)"


def _batch_norm(framework: str) -> str:
    """The batch normalisation layers by their class name in the framework."""
    return idiom(framework, "BatchNormalization", "BatchNorm")


def _faster_batch_norm(framework: str) -> str:
    return idiom(framework, "BatchNormalization(momentum=0.9)", "nn.BatchNorm's default momentum=0.1")
