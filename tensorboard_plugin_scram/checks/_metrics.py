"""Finding metrics in Keras' logs, whatever the user named them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from tensorboard_plugin_scram.history import History

# Keras names accuracy after the metric the user passed: "accuracy", "acc",
# "sparse_categorical_accuracy", "binary_accuracy", ...
_ACCURACY_HINTS = ("accuracy", "acc")


def accuracy_key(keys: Iterable[str]) -> str | None:
    """The training accuracy metric's name in a run's logs, or None."""
    names = sorted(k for k in keys if not k.startswith("val_"))
    for hint in _ACCURACY_HINTS:
        for name in names:
            if name == hint or name.endswith("_" + hint):
                return name
    return None


def rising_streak(values: list[float]) -> int:
    """How many times in a row the series rose at its end (0 if the last step fell)."""
    streak = 0
    for before, after in zip(reversed(values[:-1]), reversed(values), strict=False):
        if after <= before:
            break
        streak += 1
    return streak


def falling_streak(values: list[float]) -> int:
    """How many times in a row the series fell at its end."""
    return rising_streak([-v for v in values])


def all_finite(*values: float | None) -> bool:
    """Whether every value is present and finite (a NaN loss makes metrics meaningless)."""
    return all(v is not None and math.isfinite(v) for v in values)


def loss_floor(history: History) -> float:
    """The lowest training loss the labels allow: 0, except for soft targets under binary cross-entropy.

    Targets in (0, 1), such as ratings scaled to [0, 1], leave a binary cross-entropy of
    their own entropy at best; judged against 0, a model that reached it looks stuck. The
    mean entropy is estimated from the targets' mean m and spread s to second order:
    H(m) - s^2 / (2 m (1 - m)).
    """
    run = history.run
    if not run.losses or run.losses[0].name not in ("binary_crossentropy",):
        return 0.0
    target = next((t for t in history.last_tensors if t.role == "target"), None)
    mean = history.target_mean(target.name) if target is not None else None
    if target is None or target.integral or mean is None or not 0 < mean < 1 or target.min < 0 or target.max > 1:
        return 0.0
    entropy = -(mean * math.log(mean) + (1 - mean) * math.log(1 - mean))
    return max(0.0, entropy - target.std ** 2 / (2 * mean * (1 - mean)))


def fitted_growth(points: Sequence[tuple[int, float]], floor: float) -> float:
    """The factor a positive series grew by from its first step to its last, read off a straight line
    fitted (least squares) through its logarithms; values below `floor` count as `floor`.

    A line through every point, not last over first: one noisy sample neither makes nor
    hides a trend. 1.0 with fewer than two steps.
    """
    steps = [step for step, _ in points]
    if len(points) < 2 or max(steps) == min(steps):
        return 1.0
    logs = [math.log(max(value, floor, 1e-300)) for _, value in points]
    mean_step, mean_log = sum(steps) / len(steps), sum(logs) / len(logs)
    spread = sum((s - mean_step) ** 2 for s in steps)
    slope = sum((s - mean_step) * (v - mean_log) for s, v in zip(steps, logs, strict=True)) / spread
    return math.exp(min(slope * (max(steps) - min(steps)), 700.0))  # 700: exp stays finite
