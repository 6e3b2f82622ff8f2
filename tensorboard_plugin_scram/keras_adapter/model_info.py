"""Describes a Keras model, its loss and optimizer as a plain `RunInfo`."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from tensorboard_plugin_scram.keras_adapter.compat import keras_api
from tensorboard_plugin_scram.observations import LayerStats, LossInfo, ModelStats, OutputInfo, RunInfo

_LOSS_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "bce": "binary_crossentropy",
    "kld": "kl_divergence",
}
# Per-parameter variables each optimizer keeps, for the memory estimate.
_OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "nadam": 2, "adamax": 2, "lamb": 2, "rmsprop": 1, "adagrad": 1,
                    "adadelta": 2, "ftrl": 2, "lion": 1, "adafactor": 2}


# Where a learning-rate schedule is sampled for its peak: dense early (warm-ups are short),
# sparse later, up to 100,000 steps.
_SCHEDULE_STEPS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)


def describe(model: keras.Model, compile_location: str | None = None, fit_location: str | None = None,
             batch_size: int | None = None) -> RunInfo:
    """The static facts the checks need, read once before training."""
    optimizer = _unwrap(getattr(model, "optimizer", None))
    return RunInfo(
        optimizer=type(optimizer).__name__ if optimizer is not None else None,
        learning_rate=_learning_rate(optimizer),
        peak_learning_rate=_peak_learning_rate(optimizer),
        momentum=_sgd_momentum(optimizer),
        losses=_losses(getattr(model, "loss", None)),
        outputs=_outputs(model),
        embedding_inputs=_embedding_inputs(model),
        input_sizes=_input_sizes(model),
        batch_size=batch_size,
        # An unbuilt model has no weights yet: how many it will train is unknown, not zero.
        trainable_params=_count(getattr(model, "trainable_weights", None)) if getattr(model, "built", True) else None,
        total_params=_count(getattr(model, "weights", None)),
        optimizer_slots=_slots(optimizer),
        activations_per_sample=_activations_per_sample(model),
        bytes_per_value=_bytes_per_value(model),
        device_memory=_device_memory(),
        compile_location=compile_location,
        fit_location=fit_location,
        batch_norm_momentum=_batch_norm_momentum(model),
        metrics=_metric_names(model),
    )


def _metric_names(model: keras.Model) -> tuple[str, ...]:
    """The names of the metrics given to `compile()`: strings as given, metric objects by their name."""
    try:
        metrics = (model.get_compile_config() or {}).get("metrics")
    except Exception:  # not compiled, or a model without a compile config
        return ()
    return tuple(_names_in(metrics))


def _names_in(spec: Any) -> list[str]:
    """Metric names in a `compile(metrics=...)` spec: a name, a serialised metric, or lists and dicts of them."""
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, dict) and "class_name" in spec:  # one serialised metric
        name = (spec.get("config") or {}).get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(spec, dict):  # metrics per output
        return [name for value in spec.values() for name in _names_in(value)]
    if isinstance(spec, (list, tuple)):
        return [name for value in spec for name in _names_in(value)]
    name = getattr(spec, "name", None)
    return [name] if isinstance(name, str) else []


def nonfinite_weights(model: keras.Model, read: Callable[[Sequence[Any]], list[np.ndarray]] | None = None,
                      ) -> ModelStats:
    """Which layers, in forward order, hold NaN or Inf weights (a host copy of the weights).

    Called only at a batch whose loss is not finite, to say where the NaN went. `read`:
    the backend's reader of variables' current values (default: Keras' own).
    """
    read = read or (lambda variables: [keras.ops.convert_to_numpy(v) for v in variables])
    layers = []
    for layer in _all_layers(model):
        weights = getattr(layer, "trainable_weights", None) or []
        if weights and not getattr(layer, "layers", None):  # leaf layers only
            bad = any(not np.isfinite(w).all() for w in read(weights))
            layers.append(LayerStats(name=layer.name, kind=type(layer).__name__, nonfinite_weights=bad))
    return ModelStats(layers=tuple(layers))


def _batch_norm_momentum(model: keras.Model) -> float | None:
    momenta = [float(layer.momentum) for layer in _all_layers(model)
               if isinstance(layer, keras.layers.BatchNormalization)]
    return max(momenta) if momenta else None


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


def _peak_learning_rate(optimizer: Any) -> float | None:
    """A schedule's highest rate: warm-ups start near 0 and decays end there, both on purpose."""
    schedule = keras_api.learning_rate_schedule(optimizer)
    if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return _learning_rate(optimizer)
    try:
        return max(float(schedule(step)) for step in _SCHEDULE_STEPS)
    except Exception:
        return None


def _sgd_momentum(optimizer: Any) -> float | None:
    if not isinstance(optimizer, keras.optimizers.SGD):
        return None
    try:
        return float(optimizer.momentum or 0.0)
    except Exception:
        return None


def _losses(loss: Any, output: str | None = None) -> tuple[LossInfo, ...]:
    if loss is None:
        return ()
    if isinstance(loss, dict):
        return tuple(info for key, value in loss.items() for info in _losses(value, str(key)))
    if isinstance(loss, (list, tuple)):
        return tuple(info for value in loss for info in _losses(value))
    if isinstance(loss, str):
        return (LossInfo(_canonical(loss), output=output),)
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    settings = getattr(loss, "_fn_kwargs", None) or {}
    from_logits = bool(getattr(loss, "from_logits", False) or settings.get("from_logits"))
    ignore_class = getattr(loss, "ignore_class", settings.get("ignore_class"))
    return (LossInfo(_canonical(str(name)), from_logits, output,
                     int(ignore_class) if isinstance(ignore_class, (int, float)) else None),)


def loss_infos(losses: Sequence[LossInfo | str]) -> tuple[LossInfo, ...]:
    """`LossInfo`s for losses given as `LossInfo`s or as names."""
    return tuple(loss if isinstance(loss, LossInfo) else LossInfo(_canonical(str(loss))) for loss in losses)


def _canonical(name: str) -> str:
    name = name.lower()
    return _LOSS_ALIASES.get(name, name)


def _outputs(model: keras.Model) -> tuple[OutputInfo, ...]:
    try:
        tensors = list(model.outputs or ())
    except Exception:
        return ()
    outputs = []
    for tensor in tensors:
        layer = keras_api.producing_layer(tensor)
        units = tensor.shape[-1] if tensor.shape else None
        activation, source, guessed = _output_activation(layer)
        outputs.append(OutputInfo(
            layer=getattr(layer, "name", "output"),
            units=int(units) if units is not None else None,
            activation=activation,
            activation_layer=getattr(source, "name", None) if source is not layer else None,
            activation_guessed=guessed,
            cached_logits=source is layer and activation in ("softmax", "sigmoid") and _caches_logits(layer),
        ))
    return tuple(outputs)


# Activation layers that hold no `activation` attribute, by the name of the function they apply.
_ACTIVATION_LAYERS = {"Softmax": "softmax", "ReLU": "relu", "LeakyReLU": "leaky_relu", "ELU": "elu", "PReLU": "prelu"}
# How deep wrappers and nested models are looked through before giving up.
_MAX_DEPTH = 8


def _output_activation(layer: Any, depth: int = 0) -> tuple[str | None, Any, bool]:
    """`(activation, layer it was read from, guessed)` of an output layer; `(None, None, False)` if unknown.

    Looks through wrappers (`TimeDistributed`, `Bidirectional`), nested models (their own
    output layer) and, guessing, custom layers (their last sub-layer with an activation):
    an activation SCRAM cannot read is unknown, never taken for "linear".
    """
    if layer is None or depth > _MAX_DEPTH:
        return None, None, False
    own = activation_name(layer)
    if own is not None:
        return own, layer, False
    inner = getattr(layer, "layer", None) or getattr(layer, "forward_layer", None)
    if isinstance(inner, keras.layers.Layer):
        return _output_activation(inner, depth + 1)
    if isinstance(layer, keras.Model):
        return _output_activation(_nested_output_layer(layer), depth + 1)
    if not type(layer).__module__.startswith("keras"):
        return _guess_from_sublayers(layer, depth)
    return None, None, False


def activation_name(layer: Any) -> str | None:
    """The activation a layer applies itself, by name (`"relu"`, `"softmax"`, `"linear"`), or None.

    None when the layer applies none of its own or SCRAM cannot tell which; `"linear"`
    only when the layer says so. A `ReLU` layer with a negative slope is a leaky ReLU; a
    `Softmax` over another axis than the last (attention over time) is no class output.
    """
    kind = type(layer).__name__
    if kind == "Softmax":
        return "softmax" if getattr(layer, "axis", -1) in (-1, None) else None
    if kind == "ReLU" and isinstance(layer, keras.layers.Layer):
        return "relu" if not float(getattr(layer, "negative_slope", 0.0) or 0.0) else "leaky_relu"
    if kind in _ACTIVATION_LAYERS and isinstance(layer, keras.layers.Layer):
        return _ACTIVATION_LAYERS[kind]
    if isinstance(layer, keras.Model):
        return None
    activation = getattr(layer, "activation", None)
    if isinstance(activation, str):
        return activation.lower()
    return _function_name(activation) if callable(activation) else None


def _function_name(function: Any) -> str:
    """`"softmax"` for `keras.activations.softmax`, `tf.nn.softmax` (`softmax_v2`) or a `Softmax()` layer."""
    if isinstance(function, keras.layers.Layer):
        return activation_name(function) or type(function).__name__.lower()
    name = str(getattr(function, "__name__", type(function).__name__)).lower()
    return name.removesuffix("_v2")


def _nested_output_layer(model: keras.Model) -> Any:
    try:
        outputs = list(model.outputs or ())
    except Exception:
        return None
    return keras_api.producing_layer(outputs[0]) if len(outputs) == 1 else None


def _guess_from_sublayers(layer: Any, depth: int) -> tuple[str | None, Any, bool]:
    # A custom layer's sub-layers are tracked in the order its __init__ created them,
    # which is usually the order its call() applies them: the last one is a guess. A
    # linear last sub-layer says nothing: call() often applies the activation itself
    # (`keras.activations.sigmoid(self.dense(x))`).
    for sublayer in reversed(keras_api.all_layers(layer, recursive=False)):
        activation, source, _ = _output_activation(sublayer, depth + 1)
        if activation is not None:
            return (activation, source, True) if activation != "linear" else (None, None, False)
    return None, None, False


def _caches_logits(layer: Any) -> bool:
    """Whether Keras' TensorFlow backend gives a cross-entropy loss the logits cached on this layer's output.

    Keras' own softmax and sigmoid attach their input to their output; a float32 output
    keeps it up to the loss (a cast to float32 from float16 makes a new tensor).
    """
    activation = getattr(layer, "activation", None)
    keras_function = callable(activation) and str(getattr(activation, "__module__", "")).startswith("keras")
    applies_its_own = keras_function or type(layer).__name__ == "Softmax"
    return (keras.backend.backend() == "tensorflow" and applies_its_own
            and getattr(layer, "compute_dtype", "float32") == "float32")


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


def _input_sizes(model: keras.Model) -> dict[str, int]:
    try:
        inputs = list(model.inputs or ())
    except Exception:
        return {}
    sizes = {}
    for i, tensor in enumerate(inputs):
        dims = tensor.shape[1:]
        if all(d is not None for d in dims):
            size = math.prod(int(d) for d in dims)
            sizes["x" if len(inputs) == 1 else f"x[{i}]"] = size
            sizes.setdefault(getattr(tensor, "name", f"input_{i}"), size)
    return sizes


def _all_layers(model: keras.Model) -> list:
    return keras_api.all_layers(model)


def _count(weights: Any) -> int | None:
    try:
        return int(sum(math.prod(w.shape) for w in weights))
    except Exception:
        return None


def _slots(optimizer: Any) -> int:
    name = type(optimizer).__name__.lower() if optimizer is not None else ""
    if name == "sgd":
        momentum = getattr(optimizer, "momentum", 0.0)
        return 1 if momentum else 0
    return _OPTIMIZER_SLOTS.get(name, 2)


def _activations_per_sample(model: keras.Model) -> int | None:
    total = 0
    for layer in _all_layers(model):
        try:
            shape = layer.output.shape[1:]
        except Exception:
            continue
        if all(d is not None for d in shape):
            total += math.prod(int(d) for d in shape)
    return total or None


def _bytes_per_value(model: keras.Model) -> int:
    policy = getattr(getattr(model, "dtype_policy", None), "compute_dtype", "float32")
    return 2 if "16" in str(policy) else 4


def _device_memory() -> int | None:
    """Memory of the device training runs on: the machine's RAM, or None on a GPU (the check then stays quiet)."""
    from tensorboard_plugin_scram.keras_adapter import backends

    try:
        if backends.current().has_gpu():
            return None  # not every backend tells a GPU's total
    except Exception:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
