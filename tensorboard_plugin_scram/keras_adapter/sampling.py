"""When to look closer: schedules of sampled training steps.

Batch statistics and the fine-grained loss curve are read on every step at first (static
data problems show at once), then every few steps. Measuring the model's internals costs
one extra forward and backward pass, so it is done more sparsely: once early (problems of
the initialisation show at once), then every `every` steps, and more often while the loss
looks wrong (non-finite, or well above its best so far), when a closer look is worth its
cost. Both decide at the end of a step whether the next one is sampled, because that is
when the train step can still be told.
"""

from __future__ import annotations

import math


class _Stride:
    """The step after the one that just ended (Keras may run several per call)."""

    def __init__(self) -> None:
        self._previous: int | None = None

    def upcoming(self, step: int) -> int:
        stride = step - self._previous if self._previous is not None and step > self._previous else 1
        self._previous = step
        return step + stride


class _Budget:
    """Spacing by cost: `interval` keeps one sample's cost within `budget` of the training time."""

    def __init__(self, every: int, budget: float, max_every: int | None, cost_in_steps: float = 0.0) -> None:
        self.every = max(1, int(every))
        self.budget = budget
        self.max_every = max(self.every, int(max_every or 10 * self.every))
        # Steps between two samples in normal training, at the current cost: kept, not
        # computed when asked, as the schedules are asked at every step.
        self.interval = self.every
        self.cost(cost_in_steps)

    def cost(self, steps: float) -> None:
        """Records what one sample costs, in training steps' time."""
        if math.isfinite(steps) and steps >= 0:
            spaced = math.ceil(steps / self.budget) if self.budget > 0 else self.every
            self.interval = min(max(self.every, spaced), self.max_every)


class StatsSchedule(_Budget):
    """Which steps' batch statistics are read.

    Args:
        every: Fewest steps between two samples after the first `always` steps.
        always: Every step before this one is sampled.
        budget: The share of training time reading statistics may take; samples are
            spaced further apart when one costs more. Half that of the internals: data
            problems show in the first `always` steps, later reads watch for a change.
        max_every: Most steps between two samples (default 10 x `every`).
    """

    def __init__(self, every: int = 10, always: int = 20, budget: float = 0.005, max_every: int | None = None) -> None:
        super().__init__(every, budget, max_every)
        self.always = always
        self._last: int | None = None
        self._stride = _Stride()

    def due(self, step: int) -> bool:
        """Whether `step` is sampled."""
        return step < self.always or self._last is None or step - self._last >= self.interval

    def taken(self, step: int) -> None:
        """Records that `step` was sampled (due, or read for another reason)."""
        self._last = step

    def next_is_due(self, step: int) -> bool:
        """Whether the step after `step` (which just ended) is sampled."""
        return self.due(self._stride.upcoming(step))


class LossWatch:
    """Whether a step's loss looks wrong: not finite, or `factor` times the lowest so far.

    Args:
        factor: How far above its lowest value a (positive) loss looks wrong.
    """

    def __init__(self, factor: float = 2.0) -> None:
        self.factor = factor
        self._lowest = math.inf

    def looks_wrong(self, loss: float | None) -> bool:
        """Takes the next step's loss (None: not logged) and says whether it looks wrong."""
        if loss is None:
            return False
        if not math.isfinite(loss):
            return True
        self._lowest = min(self._lowest, loss)
        return loss > self.factor * self._lowest > 0


class StepClock:
    """A running typical training step time, leaving out the time SCRAM itself took."""

    def __init__(self) -> None:
        self.seconds: float | None = None
        self._last: float | None = None
        self._excluded = 0.0

    def tick(self, now: float) -> None:
        """Called at each step's end."""
        if self._last is not None:
            step = max(now - self._last - self._excluded, 1e-9)
            self.seconds = step if self.seconds is None else 0.9 * self.seconds + 0.1 * step
        self._last, self._excluded = now, 0.0

    def pause(self) -> None:
        """The time until the next tick is not a training step (validation, between fits)."""
        self._last, self._excluded = None, 0.0

    def exclude(self, seconds: float) -> None:
        """Time spent by SCRAM since the last tick: not part of the training step."""
        self._excluded += seconds

    def in_steps(self, seconds: float) -> float:
        """`seconds` as a number of typical steps (inf before any step was timed)."""
        return seconds / self.seconds if self.seconds else math.inf


class InternalsSchedule(_Budget):
    """Decides, at the end of each step, whether the next step is measured.

    Measurements come at step `first`, again at step `confirm` (checks that need a
    condition twice can then report early), and then every `every` steps, spaced out
    further when one measurement costs more than `budget` of the training time (a
    measurement costs one or two training steps, so the default 0.5% spaces them 200 to
    400 steps apart, as far as `max_every`). The same half percent as the batch
    statistics: with the per-step bookkeeping and the one-off first measurement, SCRAM's
    whole cost comes to about 4-5% of a `fit()` of a few seconds (`bench/overhead.py`).
    While the loss looks wrong (rising, not yet NaN), or a check suspects a fault it has
    seen once, they come every `alarm_every` steps whatever they cost: then a closer look
    is worth it. None come while the loss is NaN or infinite.

    Args:
        every: Fewest steps between two measurements in normal training.
        first: The step of the first measurement.
        alarm_every: Steps between measurements while the loss looks wrong.
        rise_factor: The loss "looks wrong" when it is at least this many times its
            lowest value so far.
        confirm: The step of the second measurement (0: none out of the regular spacing).
        budget: The share of training time measurements may take in normal training.
        max_every: Most steps between two measurements, whatever they cost (default
            10 x `every`).
    """

    def __init__(self, every: int = 50, first: int = 5, alarm_every: int | None = None,
                 rise_factor: float = 2.0, confirm: int = 20, budget: float = 0.005,
                 max_every: int | None = None) -> None:
        super().__init__(every, budget, max_every, cost_in_steps=1.0)  # until measured: about one step
        self.first = max(0, int(first))
        self.alarm_every = max(1, int(alarm_every or self.every // 10 or 1))
        self._loss = LossWatch(rise_factor)
        self.confirm = max(0, int(confirm))
        self._last_sampled: int | None = None
        self._stride = _Stride()

    def sampled(self, step: int) -> None:
        """Records that `step` was measured."""
        self._last_sampled = step

    def next_is_due(self, step: int, loss: float | None, suspicious: bool = False) -> bool:
        """Whether the step after `step` (which just ended, with this running loss) is due.

        `suspicious`: a check suspects a fault from the last measurement (`Check.suspects`).
        """
        upcoming = self._stride.upcoming(step)
        if loss is not None and not math.isfinite(loss):
            # Where a NaN came from is measured once when it appears (`InternalsMonitor.rerun`);
            # Keras' running loss then stays NaN to the epoch's end, and looks at NaN weights only
            # cost time (a run left to go on after NaN paid 10% of it for them).
            self._loss.looks_wrong(loss)
            return False
        alarming = self._loss.looks_wrong(loss) or suspicious
        if self._last_sampled is None:
            return upcoming >= self.first or alarming
        if alarming:
            return upcoming - self._last_sampled >= self.alarm_every
        if self._last_sampled < self.confirm:  # also after a look sooner: checks with a warm-up need it
            return upcoming >= self.confirm
        return upcoming - self._last_sampled >= self.interval
