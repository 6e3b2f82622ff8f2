"""Describes a Keras model, its loss and optimizer as a plain `RunInfo`."""

from __future__ import annotations

import os
import sys
from typing import Any

import keras

from tensorboard_plugin_scram.observations import RunInfo

# Frames from these packages are never the user's code.
_LIBRARY_MARKERS = tuple(
    os.sep + name + os.sep for name in ("keras", "tensorflow", "tensorboard_plugin_scram", "tf_keras", "absl")
)


def describe(model: keras.Model, fit_location: str | None = None) -> RunInfo:
    """The static facts the checks need, read once before training."""
    optimizer = _unwrap(getattr(model, "optimizer", None))
    return RunInfo(
        optimizer=type(optimizer).__name__ if optimizer is not None else None,
        learning_rate=_learning_rate(optimizer),
        losses=_loss_names(getattr(model, "loss", None)),
        embedding_inputs=_embedding_inputs(model),
        fit_location=fit_location,
    )


def user_location() -> str | None:
    """`"file.py:42"` of the innermost caller outside Keras, TensorFlow and SCRAM."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not any(marker in filename for marker in _LIBRARY_MARKERS) and not filename.startswith("<frozen"):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def _unwrap(optimizer: Any) -> Any:
    # Mixed precision wraps the user's optimizer in a LossScaleOptimizer.
    return getattr(optimizer, "inner_optimizer", optimizer)


def _learning_rate(optimizer: Any) -> float | None:
    if optimizer is None:
        return None
    try:
        # Keras 3 evaluates a schedule at the current iteration here.
        return float(optimizer.learning_rate)
    except Exception:
        return None


def _loss_names(loss: Any) -> tuple[str, ...]:
    if loss is None:
        return ()
    if isinstance(loss, dict):
        return tuple(n for value in loss.values() for n in _loss_names(value))
    if isinstance(loss, (list, tuple)):
        return tuple(n for value in loss for n in _loss_names(value))
    if isinstance(loss, str):
        return (loss,)
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    return (str(name),)


def _embedding_inputs(model: keras.Model) -> tuple[str, ...]:
    """Names of inputs that are token ids for an Embedding layer.

    `("*",)` means "any integer-valued input": the model has an Embedding layer but its
    wiring could not be traced back to a named input.
    """
    embeddings = [layer for layer in _all_layers(model) if isinstance(layer, keras.layers.Embedding)]
    if not embeddings:
        return ()
    if isinstance(model, keras.Sequential) and model.layers and model.layers[0] in embeddings:
        return ("x",)
    return ("*",)


def _all_layers(model: keras.Model) -> list:
    try:
        return list(model._flatten_layers(include_self=False, recursive=True))
    except Exception:
        return list(getattr(model, "layers", []))
