"""Shared knowledge the checks' messages draw on: optimizers' usual learning rates."""

from __future__ import annotations

# Conventional learning-rate ranges and a safe default per optimizer (lower-cased class
# name). Adam-family values follow Kingma & Ba and Keras' defaults; SGD's follow common
# practice (0.01-0.1 with momentum). Outside these ranges training usually diverges or
# stalls.
LEARNING_RATE_RANGES: dict[str, tuple[float, float, float]] = {
    "adam": (1e-5, 1e-2, 1e-3),
    "adamw": (1e-5, 1e-2, 1e-3),
    "nadam": (1e-5, 1e-2, 1e-3),
    "adamax": (1e-5, 1e-2, 2e-3),
    "lamb": (1e-5, 1e-2, 1e-3),
    "rmsprop": (1e-5, 1e-2, 1e-3),
    "adagrad": (1e-4, 1e-1, 1e-2),
    "adadelta": (1e-3, 10.0, 1.0),
    "adafactor": (1e-5, 1e-2, 1e-3),
    "lion": (1e-6, 1e-3, 1e-4),
    "ftrl": (1e-4, 1.0, 1e-3),
    "sgd": (1e-4, 1.0, 1e-2),
}


def learning_rate_range(optimizer: str | None) -> tuple[float, float, float] | None:
    """`(low, high, suggested)` for an optimizer class name, or None if unknown."""
    return LEARNING_RATE_RANGES.get((optimizer or "").lower())


def optimizer_snippet(optimizer: str | None, learning_rate: float) -> str:
    """The line that creates the optimizer with a given learning rate."""
    name = optimizer if learning_rate_range(optimizer) else "Adam"
    return (
        f"optimizer = keras.optimizers.{name}(learning_rate={learning_rate:g})\n"
        "model.compile(optimizer=optimizer, loss=..., metrics=[...])"
    )
