"""Facts about a model's inputs and structure that the checks need: scaled inputs, images, no `call()`.

Read once before training from the model's graph of layers; nothing here runs the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from tensorboard_plugin_scram.checks._layers import quoted_list
from tensorboard_plugin_scram.keras_adapter.compat import keras_api

# Layers that keep their input's scale (augmentation, resizing, reshaping): a scaling layer
# after them still scales the raw input.
_SCALE_KEEPING = ("InputLayer", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomCrop",
                  "RandomContrast", "RandomBrightness", "Resizing", "CenterCrop", "Reshape", "Flatten", "Permute",
                  "Cropping1D", "Cropping2D", "Cropping3D", "ZeroPadding1D", "ZeroPadding2D", "GaussianNoise")


def model_facts(model: keras.Model) -> dict[str, Any]:
    """`RunInfo` fields about the model's inputs and whether its internals can be measured.

    `scaled_inputs`: inputs a `Rescaling` or `Normalization` layer scales first (dividing
    them again by 255 would scale twice); `image_inputs`: inputs shaped like images;
    `internals_unmeasured`: why a model that overrides `train_step` without a `call()`
    cannot be measured; `masked_output`: whether a Keras mask (padding) reaches the output.
    """
    facts: dict[str, Any] = {"scaled_inputs": (), "image_inputs": (), "internals_unmeasured": None}
    try:
        facts["scaled_inputs"] = _scaled_inputs(model)
        facts["image_inputs"] = _image_inputs(model)
        if _masked_output(model):  # only then: RunInfo's default says no mask
            facts["masked_output"] = True
    except Exception:  # an unusual model: nothing known, as before
        pass
    if lacks_call(model):
        facts["internals_unmeasured"] = _unmeasured_reason(model)
    return facts


def _unmeasured_reason(model: keras.Model) -> str:
    """What cannot be measured in a model without `call()`, why, and what is followed instead."""
    from tensorboard_plugin_scram.keras_adapter.submodels import frozen_parts, trainable_parts  # no cycle

    reason = (f"{type(model).__name__} overrides train_step() and has no call(): SCRAM cannot run it forward and "
              "backward on a sample, so its gradients, activations and predictions are not measured (its losses "
              "are computed inside train_step, and a generator or decoder needs the latent vectors only "
              "train_step draws)")
    parts = trainable_parts(model)
    if parts:
        layers = sum(len(part.plans) for part in parts)
        listed = ", ".join(f"'{part.name}'" for part in parts)
        reason += (f". SCRAM follows the weights of its trainable parts instead ({listed}: {layers} "
                   f"layer{'s' * (layers > 1)} with weights), their norms and each sampled step's update, so "
                   "weights_not_updating and update_ratio_unusual judge them")
    frozen = frozen_parts(model)
    if frozen:
        reason += (f". {quoted_list(frozen)} {'is' if len(frozen) == 1 else 'are'} frozen (trainable=False): no "
                   "step of train_step can change them")
    return reason


def lacks_call(model: keras.Model) -> bool:
    """Whether the model trains through its own `train_step` but cannot be called (a GAN or VAE)."""
    cls = type(model)
    return "train_step" in {k for c in cls.__mro__ if c is not keras.Model for k in vars(c)} and (
        getattr(cls, "call", None) is keras.Model.call)


def _input_names(model: keras.Model) -> list[tuple[list[str], Any]]:
    """Per model input: the names SCRAM's batch statistics may give it, and its symbolic tensor."""
    inputs = list(model.inputs or ())
    named = []
    for i, tensor in enumerate(inputs):
        names = ["x" if len(inputs) == 1 else f"x[{i}]", str(getattr(tensor, "name", ""))]
        named.append(([n for n in names if n], tensor))
    return named


def _scaled_inputs(model: keras.Model) -> tuple[str, ...]:
    if isinstance(model, keras.Sequential):
        return ("x",) if _scales_first(model) else ()
    if _is_subclassed(model):
        return ("*",) if any(_is_scaling(layer) for layer in keras_api.all_layers(model)) else ()
    graph = functional(model)
    return tuple(name for names, tensor in _input_names(graph) if _tensor_scaled(graph, tensor) for name in names)


def _masked_output(model: keras.Model) -> bool:
    """Whether a Keras mask reaches one of the model's outputs: its loss and metrics then skip masked positions."""
    if _is_subclassed(model) or not getattr(model, "built", False):
        return False
    return any(getattr(t, "_keras_mask", None) is not None for t in keras.tree.flatten(functional(model).outputs))


def _image_inputs(model: keras.Model) -> tuple[str, ...]:
    if _is_subclassed(model) or not getattr(model, "built", False):
        return ()
    return tuple(name for names, tensor in _input_names(functional(model)) if _image_shaped(tensor.shape[1:])
                 for name in names)


def _image_shaped(shape: Sequence[int | None]) -> bool:
    """Height, width and a few channels per sample (a time series of features is not one)."""
    dims = list(shape)
    return len(dims) == 3 and dims[-1] is not None and dims[-1] <= 4 or (
        len(dims) == 2 and all(d is not None and d >= 8 for d in dims) and dims[0] == dims[1])


def _is_subclassed(model: Any) -> bool:
    """A model written as a class with its own `call()`: no graph of layers to follow."""
    return not isinstance(model, keras.Sequential) and "Functional" not in {c.__name__ for c in type(model).__mro__}


def _is_scaling(layer: Any) -> bool:
    return isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization))


def _scales_first(layer: Any) -> bool:
    """Whether the first thing this layer (or nested model) does to its input is scaling it."""
    if _is_scaling(layer):
        return True
    if isinstance(layer, keras.Sequential):
        first = next((inner for inner in layer.layers if type(inner).__name__ not in _SCALE_KEEPING), None)
        return first is not None and _scales_first(first)
    if isinstance(layer, keras.Model):
        if _is_subclassed(layer):
            return any(_is_scaling(inner) for inner in keras_api.all_layers(layer))
        graph = functional(layer)
        return bool(graph.inputs) and all(_tensor_scaled(graph, t) for t in graph.inputs)
    return False


def _tensor_scaled(graph: keras.Model, tensor: Any, depth: int = 0) -> bool:
    """Whether every layer of `graph` that reads `tensor` scales it first (after layers keeping its scale)."""
    consumers = [(layer, node) for layer in getattr(graph, "operations", [])
                 for node in keras_api.inbound_nodes(layer)
                 if any(t is tensor for t in keras.tree.flatten(node.input_tensors))]
    if not consumers or depth > 20:
        return False
    for layer, node in consumers:
        if type(layer).__name__ in _SCALE_KEEPING:
            if not all(_tensor_scaled(graph, out, depth + 1) for out in keras.tree.flatten(node.output_tensors)):
                return False
        elif not _scales_first(layer):
            return False
    return True


def functional(model: keras.Model) -> keras.Model:
    # A built Sequential model keeps its graph in a Functional model of its own.
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None) or model
    return model
