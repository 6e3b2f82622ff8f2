"""learning_rate_unusual: a learning rate far outside the optimizer's usual range."""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks._advice import learning_rate_range, momentum_snippet, optimizer_snippet
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import EpochObservation, RunInfo


class LearningRateUnusual(Check):
    """## What it does
    Before training, and at each epoch's end for schedules, compares the optimizer's
    learning rate with the range that usually works for that optimizer.

    ## Why is this bad?
    Far too high, and the loss blows up to NaN (the paper's learning rate of 1e10); far
    too low, and training crawls so slowly that it looks stuck.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=10.0), ...)
    ```

    ## Fix
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), ...)
    ```

    ## Rule
    Fires when the learning rate is more than `factor` times above the top of the usual
    range, or `factor` times below its bottom. Usual ranges: Adam, AdamW, Nadam, RMSprop
    (and PyTorch's RAdam) [1e-5, 1e-2]; SGD (and ASGD) [1e-4, 1]; Adagrad [1e-4, 0.1];
    Lion [1e-6, 1e-3]; the same for `torch.optim`'s classes of those names. The default
    `factor` of 1 flags anything outside the range; a rate within float32 rounding of
    a bound (a relative 1e-4: `SGD(1e-4)` stores 9.99999975e-05) is on it, not outside;
    optimizers it does not know are skipped. A schedule is judged by its peak over its first 100,000 steps, not by its
    value at the start: a warm-up begins at or near 0 (a cosine schedule with warm-up
    fired at step 0 in SCRAM's sweep of healthy setups before this rule), and a decay
    ends near 0, both on purpose. For the same reason, a rate that a callback changes
    during training (`ReduceLROnPlateau`, `LearningRateScheduler`) is only reported
    when it rises above the range. In PyTorch the peak is the highest of each parameter
    group's `lr`, `initial_lr` and `max_lr` (a scheduler's warm-up lowers `lr` at once).

    SGD with momentum m moves `lr / (1 - m)` per unit of a gradient that keeps its
    direction: `SGD(0.1, momentum=0.99)` steps like a plain SGD at 10. Before training,
    a rate inside the range fires when that effective rate exceeds `momentum_factor`
    times the range's top (`SGD(0.1, momentum=0.9)`, effective 1, the classic ResNet
    setting, stays quiet).
    """

    id = "learning_rate_unusual"
    title = "Unusual learning rate"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"factor": 1.0, "momentum_factor": 2.0}

    def on_train_begin(self, run: RunInfo) -> Findings:
        peak = run.peak_learning_rate
        if peak is None:  # the schedule could not be read: judge the current rate
            findings = self._judge(run, run.learning_rate)
        else:
            findings = self._judge(run, peak, scheduled=peak != run.learning_rate)
        return findings or self._judge_momentum(run, peak if peak is not None else run.learning_rate) or findings

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._reported = False

    def on_epoch(self, obs: EpochObservation, history: History) -> Findings:
        # Keras logs the current rate as "learning_rate" when a schedule changes it; a
        # schedule that keeps crossing the range is reported once, not at every crossing.
        if "learning_rate" not in obs.logs or self._reported:
            return None
        return self._judge(history.run, obs.logs["learning_rate"], low_side=False)

    def _judge(self, run: RunInfo, lr: float | None, scheduled: bool = False, low_side: bool = True) -> Findings:
        usual = learning_rate_range(run.optimizer)
        if usual is None or lr is None:
            return None
        low, high, suggested = usual
        factor = self.threshold("factor")
        above = _beyond(lr, high * factor, above=True)
        if not above and (not low_side or not _beyond(lr, low / factor, above=False)):
            return []
        self._reported = True
        direction = "above" if above else "below"
        effect = ("could make the loss blow up to NaN" if above
                  else "could make training so slow that it looks stuck")
        far = lr > 100 * high or lr < low / 100
        return [Finding(
            title=f"Learning rate far {direction} the usual range" if far else self.title,
            explanation=(f"The learning rate {'schedule peaks at' if scheduled else 'is'} {lr:g}, {direction} "
                         f"{run.optimizer}'s usual range [{low:g}, {high:g}]; this {effect}."),
            suggestion=f"Start from {suggested:g}, the usual default for {run.optimizer}, and tune from there.",
            snippet=optimizer_snippet(run.optimizer, suggested, run.framework),
            evidence={"learning_rate": lr, "optimizer": run.optimizer, "usual_range": [low, high],
                      "factor": factor},
            confidence=Confidence.HIGH if far else Confidence.MEDIUM,
            location=run.compile_location,
        )]


    def _judge_momentum(self, run: RunInfo, lr: float | None) -> Findings:
        usual, momentum = learning_rate_range(run.optimizer), run.momentum
        if usual is None or lr is None or momentum is None or not 0.0 < momentum < 1.0:
            return None
        low, high, suggested = usual
        effective = lr / (1.0 - momentum)
        if effective <= self.threshold("momentum_factor") * high:
            return None
        self._reported = True
        return [Finding(
            title="Momentum makes the learning rate too high",
            explanation=(f"The learning rate {lr:g} is inside {run.optimizer}'s usual range [{low:g}, {high:g}], but "
                         f"with momentum {momentum:g} the steps add up: where the gradient keeps its direction, "
                         f"SGD moves lr / (1 - momentum) = {effective:.3g} per unit of gradient, "
                         f"{effective / high:.3g} times the range's top. The loss is likely to swing up and down "
                         "or blow up."),
            suggestion=(f"Keep lr / (1 - momentum) at most {high:g}: with momentum {momentum:g}, a learning rate of "
                        f"{high * (1.0 - momentum):.2g} or lower; or the usual momentum 0.9 with a learning rate "
                        f"of {suggested:g}."),
            snippet=momentum_snippet(suggested, run.framework),
            evidence={"learning_rate": lr, "momentum": momentum, "effective_learning_rate": effective,
                      "usual_range": [low, high], "momentum_factor": self.threshold("momentum_factor")},
            location=run.compile_location,
        )]


# Learning rates are stored in float32: 1e-4 becomes 9.99999975e-05. A rate within this
# relative distance of a bound is on it, not beyond it; one farther away differs from the
# bound within the 6 significant digits `:g` prints, so it never reads as the bound.
_REL_TOLERANCE = 1e-4


def _beyond(lr: float, bound: float, above: bool) -> bool:
    """Whether `lr` lies beyond `bound` (above or below it) by more than float32 rounding."""
    if math.isclose(lr, bound, rel_tol=_REL_TOLERANCE):
        return False
    return lr > bound if above else lr < bound

