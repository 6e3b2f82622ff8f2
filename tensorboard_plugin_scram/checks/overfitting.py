"""overfitting: validation gets worse while training gets better."""

from __future__ import annotations

import dataclasses
import math
import statistics

from tensorboard_plugin_scram.checks._advice import idiom
from tensorboard_plugin_scram.checks._metrics import accuracy_key, falling_streak, rising_streak
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import EarlyStoppingInfo, EpochObservation, RunInfo, canonical_metric_name

_SNIPPET = """\
# 1. regularise: add dropout between the large layers
keras.layers.Dense(256, activation="relu"),
keras.layers.Dropout(0.3),
# 2. stop when validation stops improving, keeping the best weights
early_stop = keras.callbacks.EarlyStopping(
    monitor="val_loss", patience=3, restore_best_weights=True)
model.fit(x_train, y_train, validation_split=0.2, callbacks=[early_stop])"""

# The same in a PyTorch loop: weight decay is the optimizer's, early stopping a few lines (or Lightning's callback).
_TORCH_SNIPPET = """\
# 1. regularise: dropout between the large layers, L2 through the optimizer's weight decay
nn.Linear(in_features, 256), nn.ReLU(),
nn.Dropout(0.3),
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
# 2. stop when validation stops improving, keeping the best weights
best, waited, patience = float("inf"), 0, 3
for epoch in range(epochs):
    ...  # train, then compute val_loss on the validation set
    if val_loss < best:
        best, waited = val_loss, 0
        best_state = {k: v.clone() for k, v in model.state_dict().items()}
    else:
        waited += 1
        if waited >= patience:
            break
model.load_state_dict(best_state)
# Lightning: Trainer(callbacks=[EarlyStopping(monitor="val_loss", patience=3)])"""


class Overfitting(Check):
    """## What it does
    Compares training and validation metrics at each epoch's end and reports when the
    model keeps getting better on the training data while getting worse on the
    validation data.

    ## Why is this bad?
    The model is memorising the training samples instead of learning patterns that
    generalise: every further epoch makes it worse on new data. Large networks without
    regularisation on small data sets do this within a few epochs.

    ## Example
    ```python
    model = keras.Sequential([keras.layers.Dense(2048, activation="relu"),
                              keras.layers.Dense(2048, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.fit(x_small, y_small, validation_split=0.2, epochs=50)
    ```

    ## Fix
    Add dropout or weight decay, use a smaller network, get or augment more data, and
    stop at the best epoch with `keras.callbacks.EarlyStopping(restore_best_weights=True)`.
    In PyTorch: `nn.Dropout`, `weight_decay=` on the optimizer, and a few lines in the loop
    that keep the best `state_dict()` (Lightning: `EarlyStopping(monitor="val_loss")`).

    ## Rule
    Needs validation data and stays quiet without it. Fires when any of these holds:
    - the paper's rule: validation accuracy fell `patience` epochs in a row, by at least
      `min_acc_drop` in all, while training accuracy rose (and training loss, where
      logged, fell) at each of those epochs, validation accuracy ended below training
      accuracy, and validation loss neither reached a new best nor ended below where it
      stood when the fall began by more than its jitter (below);
    - validation loss rose `patience` epochs in a row, to at least `min_rise` (relative)
      above its best value, while training loss fell at each of those epochs and ended
      below validation loss;
    - the gap between validation and training loss widened `patience` epochs in a row
      and is at least `gap_ratio` times the training loss, while training loss fell at
      each of those epochs and validation loss did not improve on its best;
    - the user's `EarlyStopping` that keeps the last epoch's weights stops the run at this
      epoch (its monitor has not improved for `patience` epochs), the monitor ended worse
      than at its best (by `min_rise` relative for a loss, `min_acc_drop` for an accuracy)
      and the training loss ended below where it stood at that best epoch.
    Both loss rules also want the rise (and the widening, and validation's distance above
    its best) to stand out of the validation loss's own jitter: `noise_multiple` times its
    epoch-to-epoch noise, estimated from its last `noise_epochs` values as the median distance
    of their second differences from the median one (a steady trend adds nothing to it,
    nor does a fall that slows steadily, as a short run's early epochs do, nor one sharp
    turn). A small
    validation set's loss zigzags while it keeps improving; two rises in a row within
    that zigzag are not a sign, nor a gap widened by the training loss alone while
    validation levels off.
    Requiring a streak and a margin keeps epoch-to-epoch noise quiet; validation *better*
    than training (normal with dropout) never counts; a spike where training loss rose
    in the same epoch is instability, not memorising; and validation must have improved
    after the first epoch (if it only ever got worse, the validation data likely differ
    from the training data: see `train_val_mismatch`). Training and validation losses
    are compared with each other only when they are alike: with `class_weight` or
    `sample_weight` the training loss is weighted and the validation loss is not, so
    then only each loss's own course counts.
    The user's own callbacks change what is said: an `EarlyStopping` on a validation
    quantity with `restore_best_weights=True` ends the run with its best epoch's weights,
    and a `ModelCheckpoint(save_best_only=True)` on one saves that epoch, so the finding
    is `info`; otherwise, with `restore_best_weights` left False (the default: the run ends
    `patience` epochs past its best), or a monitor on a training quantity (it keeps
    improving while the model memorises), it stays a warning that names the argument
    to change. Lightning's `EarlyStopping` never restores the best weights, so under a
    Lightning `Trainer` only a `ModelCheckpoint` monitoring a validation quantity makes
    the finding `info`; the warning then shows that checkpoint and the line that loads it.
    """

    id = "overfitting"
    title = "Likely overfitting"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"patience": 2, "min_rise": 0.02, "gap_ratio": 0.5, "min_acc_drop": 0.01,
                  "noise_multiple": 2.0, "noise_epochs": 8}

    def on_epoch(self, obs: EpochObservation, history: History) -> Findings:
        if "val_loss" not in obs.logs and not any(k.startswith("val_") for k in obs.logs):
            return None
        patience = int(self.threshold("patience"))
        window = [e.logs for e in history.epochs[-(patience + 1):]]
        if len(window) <= patience or not _improved_first(history):
            return []
        val_history = _finite(history.epoch_series("val_loss"))
        noise = self.threshold("noise_multiple") * jitter(val_history[-int(self.threshold("noise_epochs")):])
        reasons = [self._accuracy_rule(window, val_history, noise)]
        val, train = _series(window, "val_loss"), _series(window, "loss")
        if val is not None and train is not None:
            # A weighted training loss and an unweighted validation loss are not alike.
            comparable = not (history.run.class_weighted or history.run.sample_weighted)
            reasons.append(self._loss_rule(val_history, val, train, comparable, noise))
            if comparable:
                reasons.append(self._gap_rule(val_history, val, train, noise))
        reasons = [r for r in reasons if r]
        stopping = self._stopping_rule(history)
        if stopping is not None:
            if not reasons:  # the stretch since the best epoch is the evidence
                window = [e.logs for e in history.epochs[-(history.run.early_stopping.patience + 1):]]
            reasons.append(stopping)
        if not reasons:
            return []
        return [self._finding(obs, window, reasons, history.run)]

    def _accuracy_rule(self, window: list[dict], val_history: list[float], noise: float) -> str | None:
        key = accuracy_key(window[-1])
        if key is None or "val_" + key not in window[-1]:
            return None
        val = _series(window, "val_" + key)
        train = _series(window, key)
        if val is None or train is None:
            return None
        val_loss = _series(window, "val_loss")
        # A drop within noise is not a sign, nor one while the validation loss, the finer
        # measure, is at its best or clearly below where it was when the drop began: a few
        # borderline samples flipped while the model as a whole still generalises better.
        dropped = val[0] - val[-1] >= self.threshold("min_acc_drop")
        loss_improving = val_loss is not None and (
            val_loss[-1] <= min(val_history, default=val_loss[-1]) or val_loss[0] - val_loss[-1] > noise)
        training_rose = rising_streak(train) >= len(window) - 1
        # Memorising drives the training loss down; one that rose meanwhile is a swinging
        # run whose accuracies wobble (the loss rules say the same of a spike).
        train_loss = _series(window, "loss")
        training_swung = train_loss is not None and falling_streak(train_loss) < len(window) - 1
        below_training = val[-1] < train[-1]  # validation beating training never counts
        if falling_streak(val) >= len(window) - 1 and training_rose and below_training and dropped \
                and not loss_improving and not training_swung:
            return (f"validation accuracy fell from {val[0]:.3g} to {val[-1]:.3g} while training "
                    f"accuracy rose from {train[0]:.3g} to {train[-1]:.3g}")
        return None

    def _loss_rule(self, val_history: list[float], val: list[float], train: list[float],
                   comparable: bool, noise: float) -> str | None:
        best = min(val_history)
        rose = rising_streak(val) >= len(val) - 1
        training_fell = falling_streak(train) >= len(train) - 1  # a spike with training rising is no memorising
        above_training = val[-1] > train[-1] or not comparable
        margin = max(best * self.threshold("min_rise"), noise)
        if rose and training_fell and above_training and val[-1] - best >= margin:
            return (f"validation loss rose from {val[0]:.3g} to {val[-1]:.3g} (best {best:.3g}) "
                    f"while training loss fell from {train[0]:.3g} to {train[-1]:.3g}")
        return None

    def _gap_rule(self, val_history: list[float], val: list[float], train: list[float], noise: float) -> str | None:
        gaps = [v - t for v, t in zip(val, train, strict=False)]
        best_before = min(val_history[: -len(val) + 1] or [math.inf])
        widening = rising_streak(gaps) >= len(gaps) - 1 and gaps[0] > 0 and falling_streak(train) >= len(train) - 1 \
            and gaps[-1] - gaps[0] >= noise
        large = gaps[-1] >= self.threshold("gap_ratio") * max(train[-1], 1e-12)
        # Training still falling widens the gap of a validation loss that merely levelled off:
        # validation must itself stand above its best by more than its jitter.
        risen = val[-1] - min(val_history) >= noise
        if widening and large and risen and min(val[1:]) >= best_before:
            return (f"the gap between validation loss ({val[-1]:.3g}) and training loss "
                    f"({train[-1]:.3g}) widened for {len(gaps) - 1} epochs in a row")
        return None

    def _stopping_rule(self, history: History) -> str | None:
        """The user's EarlyStopping, which keeps the last epoch's weights, stops the run now, on weights
        measurably worse than its best epoch's, while training improved.

        Its own patience has judged that validation stopped improving: the other rules' noise
        margins wait for a rise beyond the jitter, which a run stopped this early may never show.
        """
        stopper = history.run.early_stopping
        if stopper is None or stopper.restores_best or not stopper.watches_validation:
            return None
        key = canonical_metric_name(stopper.monitor)
        rows = [e.logs for e in history.epochs if key in e.logs and "loss" in e.logs]
        values = [row[key] for row in rows]
        if len(values) <= stopper.patience or not all(math.isfinite(v) for v in values):
            return None
        best = values.index(max(values) if stopper.higher_is_better else min(values))  # the first, as Keras keeps
        if len(values) - 1 - best != stopper.patience:  # not the epoch it stops at
            return None
        if stopper.higher_is_better:
            worse, margin = values[best] - values[-1], self.threshold("min_acc_drop")
        else:
            worse, margin = values[-1] - values[best], abs(values[best]) * self.threshold("min_rise")
        train_then, train_now = rows[best]["loss"], rows[-1]["loss"]
        if worse < margin or not train_now < train_then:
            return None
        return (f"{stopper.monitor} has not improved on its best ({values[best]:.3g}) for {stopper.patience} epochs "
                f"and ended at {values[-1]:.3g}, while training loss fell from {train_then:.3g} to {train_now:.3g}")

    def _finding(self, obs: EpochObservation, window: list[dict], reasons: list[str], run: RunInfo) -> Finding:
        first_epoch = obs.epoch - len(window) + 1
        evidence = {
            "epochs": [first_epoch, obs.epoch],
            "loss": [w.get("loss") for w in window],
            "val_loss": [w.get("val_loss") for w in window],
            "patience": self.threshold("patience"),
        }
        explanation = (
            f"Since epoch {first_epoch}, " + "; and ".join(reasons) + ". The model is likely "
            "memorising the training data rather than learning patterns that carry over "
            "to new data, so further epochs could make it worse on data it has not seen."
        )
        finding = Finding(
            title=self.title,
            explanation=explanation,
            suggestion=idiom(
                run.framework,
                "Regularise the model (Dropout, L2 weight decay), make it smaller, or get more "
                "(or augmented) training data; and stop at the best epoch with EarlyStopping.",
                "Regularise the model (nn.Dropout, weight_decay= on the optimizer), make it smaller, or get more "
                "(or augmented) training data; and stop at the best epoch (a few lines in the loop, or "
                "Lightning's EarlyStopping callback)."),
            snippet=idiom(run.framework, _SNIPPET, _TORCH_SNIPPET),
            evidence=evidence,
            confidence=Confidence.HIGH if len(reasons) > 1 else Confidence.MEDIUM,
        )
        return _with_the_users_callbacks(finding, run)


_REGULARISE = ("To make the best epoch itself better, regularise the model (Dropout, L2 weight decay), make it "
               "smaller, or get more (or augmented) training data.")
_TORCH_REGULARISE = ("To make the best epoch itself better, regularise the model (nn.Dropout, weight_decay= on the "
                     "optimizer), make it smaller, or get more (or augmented) training data.")
_LOAD_BEST = "model = type(model).load_from_checkpoint(trainer.checkpoint_callback.best_model_path)"


def _with_the_users_callbacks(finding: Finding, run: RunInfo) -> Finding:
    """The finding told in the light of the user's own `EarlyStopping` and `ModelCheckpoint`.

    Keeping the best epoch is the fix for a run that ends overfit, so a run that keeps it
    (its weights restored, or its model saved) is reported for information only. Two
    common slips of early stopping are not: `restore_best_weights` is False by default
    (the run ends `patience` epochs past its best), and a monitor on a training quantity
    keeps improving while the model memorises, so it never stops it.
    """
    if run.framework == "pytorch":
        return _with_lightnings_callbacks(finding, run)
    stopper = run.early_stopping
    if stopper is not None and stopper.watches_validation and stopper.restores_best:
        return dataclasses.replace(
            finding,
            explanation=finding.explanation + f" Your {_call(stopper)}, restore_best_weights=True) stops such "
            "a run and keeps the weights of its best epoch, so the model you end with is not the memorising one.",
            suggestion="Nothing to fix for this run: EarlyStopping keeps its best epoch. " + _REGULARISE,
            severity=Severity.INFO)
    if run.best_checkpoint is not None:
        return dataclasses.replace(
            finding,
            explanation=finding.explanation + f" Your ModelCheckpoint saves the best epoch to "
            f"{run.best_checkpoint!r}, and the model you keep is not the memorising one as long as you use that "
            "file rather than the model fit() leaves.",
            suggestion="Use the saved best epoch, not the last one. " + _REGULARISE,
            snippet=f"model = keras.models.load_model({run.best_checkpoint!r})  # or model.load_weights(...)",
            severity=Severity.INFO)
    if stopper is None:
        return finding
    if not stopper.watches_validation:
        return dataclasses.replace(
            finding,
            explanation=finding.explanation + f" Your {_call(stopper)}) watches a training quantity, which keeps "
            "improving while the model memorises, so it will not stop this.",
            suggestion="Make EarlyStopping watch the validation loss and keep the best epoch's weights. " + _REGULARISE,
            snippet=f'keras.callbacks.EarlyStopping(monitor="val_loss", patience={stopper.patience}, '
                    "restore_best_weights=True)")
    return dataclasses.replace(
        finding,
        explanation=finding.explanation + f" Your {_call(stopper)}) will stop the run, but it keeps the weights "
        f"of the last epoch, {stopper.patience} past the best (restore_best_weights is False by default).",
        suggestion="Pass restore_best_weights=True to EarlyStopping to end with the best epoch's weights. "
                   + _REGULARISE,
        snippet=f"keras.callbacks.{_call(stopper)}, restore_best_weights=True)")


def _with_lightnings_callbacks(finding: Finding, run: RunInfo) -> Finding:
    """The same for a Lightning `Trainer`'s callbacks, whose `EarlyStopping` never restores the best weights:
    the best epoch is kept only by a `ModelCheckpoint` monitoring a validation quantity."""
    if run.best_checkpoint is not None:
        return dataclasses.replace(
            finding,
            explanation=finding.explanation + f" Your ModelCheckpoint keeps the best epoch in {run.best_checkpoint!r}, "
            "and the model you keep is not the memorising one as long as you load it rather than use the model "
            "trainer.fit() leaves.",
            suggestion="Use the saved best epoch, not the last one. " + _TORCH_REGULARISE,
            snippet=_LOAD_BEST, severity=Severity.INFO)
    stopper = run.early_stopping
    if stopper is None:
        return finding
    monitor = stopper.monitor if stopper.watches_validation else "val_loss"
    mode = ', mode="max"' if "acc" in monitor else ""
    snippet = (f'checkpoint = ModelCheckpoint(monitor="{monitor}"{mode}, save_top_k=1)\n'
               f'trainer = L.Trainer(callbacks=[EarlyStopping(monitor="{monitor}"{mode}, patience={stopper.patience}), '
               "checkpoint])\ntrainer.fit(model, train_loader, val_loader)\n"
               "model = type(model).load_from_checkpoint(checkpoint.best_model_path)")
    if not stopper.watches_validation:
        return dataclasses.replace(
            finding,
            explanation=finding.explanation + f" Your EarlyStopping(monitor={stopper.monitor!r}) watches a training "
            "quantity, which keeps improving while the model memorises, so it will not stop this.",
            suggestion="Make EarlyStopping watch the validation loss, and keep the best epoch with a ModelCheckpoint "
                       "on it. " + _TORCH_REGULARISE,
            snippet=snippet)
    return dataclasses.replace(
        finding,
        explanation=finding.explanation + f" Your EarlyStopping(monitor={stopper.monitor!r}, patience="
        f"{stopper.patience}) will stop the run, but Lightning's EarlyStopping never restores the best weights: "
        f"the model ends {stopper.patience} epochs past its best.",
        suggestion="Keep the best epoch with a ModelCheckpoint on the same quantity, and load it after "
                   "trainer.fit(). " + _TORCH_REGULARISE,
        snippet=snippet)


def _call(stopper: EarlyStoppingInfo) -> str:
    return f"EarlyStopping(monitor={stopper.monitor!r}, patience={stopper.patience}"


def _improved_first(history: History) -> bool:
    """Whether validation loss improved after the first epoch: overfitting follows a fit.

    Validation that only gets worse from the first epoch on points at mismatched data
    (train_val_mismatch), not at overfitting.
    """
    val = _finite(history.epoch_series("val_loss"))
    return len(val) > 1 and min(val[1:]) < val[0]


def jitter(values: list[float]) -> float:
    """The epoch-to-epoch noise of a series, robust to its trend and its bend; 0 from fewer than 5 values.

    Each second difference (a - 2b + c) is 0 on a straight stretch, and a steady bend (a
    loss falling fast, then slower) shifts them all alike, so their median distance from
    the median one is what noise remains; the medians keep one sharp turn (the very
    turn into a rise the rules look for, or the first epochs' plunge) from passing for
    noise. For independent noise of standard deviation s, half a second difference has
    a median distance from its centre of about 0.82 s.

    From only three second differences (five values), one always is the median, so its
    distance of 0 would often be the median distance too (noise alternates in sign:
    0.3, -0.3, 0.3 gives 0). There the second differences are measured from 0 instead:
    too few of them to tell a bend from noise, they count a bend as noise.
    """
    if len(values) < 5:
        return 0.0
    bends = [a - 2 * b + c for a, b, c in zip(values, values[1:], values[2:], strict=False)]
    centre = statistics.median(bends) if len(bends) > 3 else 0.0
    return statistics.median(abs(d - centre) for d in bends) / 2 / 0.82


def _series(window: list[dict], key: str) -> list[float] | None:
    values = [w.get(key) for w in window]
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    return values


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]
