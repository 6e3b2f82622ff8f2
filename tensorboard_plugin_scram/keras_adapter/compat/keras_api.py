"""Keras internals used on every backend (Keras 3.10-3.15)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the console, which the Keras-free tier loads
    import keras


def all_layers(layer: Any, recursive: bool = True) -> list[Any]:
    """Every layer inside `layer` (itself excluded), nested ones too when `recursive`.

    Keras' `_flatten_layers` also sees layers held in plain attributes of a custom layer;
    without it, the public `layers` list (a model's direct layers, or none).
    """
    try:
        return list(layer._flatten_layers(include_self=False, recursive=recursive))
    except Exception:
        return list(getattr(layer, "layers", []))


def symbolic_build(model: keras.Model, batch: tuple) -> None:
    """Builds an unbuilt model from a sample batch `(x, y[, sample_weight])` as Keras does under a strategy.

    Raises whatever Keras raises; the caller leaves the model for Keras to build at its first step.
    """
    if not all(layer.built for layer in model._flatten_layers()):
        model._symbolic_build(data_batch=(*batch, None)[:3])


def training_loss(model: keras.Model, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> Any:
    """The loss the train step minimises, regularisation included.

    Keras' trainers call `_compute_loss` (which a user's `compute_loss` override feeds); the
    public `compute_loss` is the fallback.
    """
    compute = getattr(model, "_compute_loss", None) or model.compute_loss
    return compute(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)


def learning_rate_schedule(optimizer: Any) -> Any:
    """The optimizer's learning-rate schedule object, if it has one (its `learning_rate` evaluates it)."""
    return getattr(optimizer, "_learning_rate", None)


def producing_layer(tensor: Any) -> Any:
    """The layer that produced a symbolic tensor of a functional model, or None."""
    return getattr(getattr(tensor, "_keras_history", None), "operation", None)


def inbound_nodes(layer: Any) -> list[Any]:
    """The nodes through which a layer is called in functional graphs (none when unknown)."""
    return list(getattr(layer, "_inbound_nodes", None) or [])


def print_line(text: str) -> None:
    """Prints as Keras' own callbacks do (`EarlyStopping`): under the progress bar, or to absl's log."""
    from keras.src.utils import io_utils

    io_utils.print_msg(text)


def interactive_logging() -> bool:
    """Whether Keras prints to stdout (its progress bar) rather than to absl's log."""
    try:
        from keras.src.utils import io_utils

        return bool(io_utils.is_interactive_logging_enabled())
    except Exception:
        return True
