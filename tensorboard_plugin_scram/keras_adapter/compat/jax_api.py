"""Keras-on-JAX and JAX internals (Keras 3.10-3.15, JAX 0.10)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras

STATE_KEYS = ("trainable_variables", "non_trainable_variables", "optimizer_variables", "metrics_variables")


def training_state(model: keras.Model) -> dict[str, list] | None:
    """The variables' current values while an epoch runs, or None when the variables hold them.

    Keras' JAX trainer keeps the training state in `model._jax_state` during an epoch (the
    variables are emptied) and writes it back at the epoch's end (`_jax_state_synced`).
    """
    state = getattr(model, "_jax_state", None)
    if state and not getattr(model, "_jax_state_synced", True):
        return {key: list(state.get(key) or ()) for key in STATE_KEYS}
    return None


def wrap_step_batches(model: keras.Model, see: Callable[[Any], None]) -> Callable[[], None]:
    """Shows `see` each batch as Keras' JAX step takes it; returns the undo.

    The JAX trainer's `train_function(state, iterator)` pulls its batches from `iterator`.
    """
    original = model.train_function

    def train_function(state: Any, iterator: Any) -> Any:
        return original(state, _Seen(iterator, see))

    model.train_function = train_function

    def undo() -> None:
        if model.train_function is train_function:
            model.train_function = original

    return undo


class _Seen:
    """An iterator that shows each item to `see` on its way through."""

    def __init__(self, iterator: Any, see: Callable[[Any], None]) -> None:
        self._iterator = iterator
        self._see = see

    def __iter__(self) -> _Seen:
        return self

    def __next__(self) -> Any:
        item = next(self._iterator)
        self._see(item)
        return item


def quick_compile(lowered: Any, options: Mapping[str, Any]) -> Any:
    """Compiles a lowered JAX function with XLA debug `options`; with XLA's defaults if one is unknown."""
    try:
        return lowered.compile(compiler_options=dict(options))
    except Exception:  # an XLA that renamed or dropped an option
        return lowered.compile()
