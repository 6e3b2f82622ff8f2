"""Keras-on-PyTorch internals (Keras 3.10-3.15, PyTorch 2.13)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras


def wrap_step_batches(model: keras.Model, see: Callable[[Any], None]) -> Callable[[], None]:
    """Shows `see` each batch as Keras' PyTorch step takes it; returns the undo.

    The PyTorch trainer calls `train_function(data)` with a list of one batch.
    """
    original = model.train_function

    def train_function(data: Any) -> Any:
        see(data[0])
        return original(data)

    model.train_function = train_function

    def undo() -> None:
        if model.train_function is train_function:
            model.train_function = original

    return undo
