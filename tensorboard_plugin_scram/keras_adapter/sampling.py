"""When to look inside the model: an adaptive schedule of sampled training steps.

Measuring the model's internals costs one extra forward and backward pass, so it is done
on a sample of steps: once early (problems of the initialisation show at once), then
every `every` steps, and more often while the loss looks wrong (non-finite, or well
above its best so far), when a closer look is worth its cost.
"""

from __future__ import annotations

import math


class InternalsSchedule:
    """Decides, at the end of each step, whether the next step is measured.

    Args:
        every: Steps between two measurements in normal training.
        first: The step of the first measurement.
        alarm_every: Steps between measurements while the loss looks wrong.
        rise_factor: The loss "looks wrong" when it is at least this many times its
            lowest value so far (or not finite).
    """

    def __init__(self, every: int = 50, first: int = 5, alarm_every: int | None = None,
                 rise_factor: float = 2.0) -> None:
        self.every = max(1, int(every))
        self.first = max(0, int(first))
        self.alarm_every = max(1, int(alarm_every or self.every // 10 or 1))
        self.rise_factor = rise_factor
        self._last_sampled: int | None = None
        self._best_loss = math.inf
        self._previous_step: int | None = None

    def sampled(self, step: int) -> None:
        """Records that `step` was measured."""
        self._last_sampled = step

    def next_is_due(self, step: int, loss: float | None) -> bool:
        """Whether the step after `step` (which just ended, with this running loss) is due."""
        stride = step - self._previous_step if self._previous_step is not None and step > self._previous_step else 1
        self._previous_step = step
        upcoming = step + stride
        alarming = self._alarming(loss)
        if self._last_sampled is None:
            return upcoming >= self.first or alarming
        interval = self.alarm_every if alarming else self.every
        return upcoming - self._last_sampled >= interval

    def _alarming(self, loss: float | None) -> bool:
        if loss is None:
            return False
        if not math.isfinite(loss):
            return True
        self._best_loss = min(self._best_loss, loss)
        return loss > self.rise_factor * self._best_loss > 0
