"""Finding metrics in Keras' logs, whatever the user named them."""

from __future__ import annotations

import math
from collections.abc import Iterable

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
    for before, after in zip(reversed(values[:-1]), reversed(values)):
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
