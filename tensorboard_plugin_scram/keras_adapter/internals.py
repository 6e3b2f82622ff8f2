"""In-graph statistics from inside the model, computed on sampled training steps only.

`InternalsProbe.record` is called by `BatchProbe` inside the compiled train step. It adds
one `tf.cond` on a boolean `tf.Variable`: while the flag is off (almost every step) the
step pays for reading one boolean. When the callback switches the flag on, the next
step runs one extra forward and backward pass before the real one and writes, per
inspected layer, weight and gradient norms, the share of dead ReLU units, the share of
saturated sigmoid/tanh outputs and NaN/Inf flags, plus statistics of the predictions,
into small variables. The flag switches itself off again, so with
`steps_per_execution > 1` only the first step of an execution is measured.

The extra pass leaves training untouched: the model's non-trainable variables (batch
normalisation statistics, dropout seeds) and its metrics' variables are restored after
it, and no optimizer sees its gradients. A model whose layers' outputs cannot be
collected (a subclassed model) still gets weight and gradient norms per layer; one that
cannot be introspected at all gets `layers=()`.

`InternalsProbe.measure_on` measures a sample batch outside the train step instead. When
the sample's layer outputs and gradients are small (`HOST_VALUES`), its traced function
only runs the forward and backward pass and returns them, and the statistics are taken
in NumPy on the host: the same numbers (a test holds the two to them), for half the
one-off cost of tracing and optimising the statistics' graph, which is most of what
SCRAM costs a short `fit()`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.eager import context

from tensorboard_plugin_scram.observations import LayerStats, ModelStats, PredictionStats

# Columns of the per-layer variable; -1 marks "not measured".
_LAYER_COLUMNS = ("weight_norm", "grad_norm", "dead_fraction", "saturated_fraction",
                  "nonfinite_output", "nonfinite_weights")
_PREDICTION_COLUMNS = ("count", "majority_share", "predicted_classes", "std")
_NOT_MEASURED = -1.0
# An output "pinned near a limit": within 1% of the activation's range from it, where
# its derivative is below about 4% of its peak (sigmoid 0.01/0.99, tanh +-0.98).
_SATURATION_MARGIN = {"sigmoid": 0.01, "hard_sigmoid": 0.01, "tanh": 0.02}
_RELU_LIKE = ("relu", "relu6")
_CLASSIFICATION_LOSSES = ("crossentropy", "hinge", "focal")
# A sample pass whose layer outputs, weights and gradients hold at most this many values
# (16 MB in float32) is summarised on the host; larger ones in the graph, on the device.
HOST_VALUES = 2**22


@dataclasses.dataclass(frozen=True)
class _LayerPlan:
    """What to measure for one layer, decided once when the probe is installed."""

    layer: Any
    activation: str | None
    is_output: bool
    variables: tuple[Any, ...]
    units: int | None = None


class InternalsProbe:
    """Per-layer and prediction statistics of a sampled training step.

    Args:
        model: The Keras model being trained (TensorFlow backend).
        losses: The loss names (`RunInfo.losses`), to tell classification from
            regression when summarising predictions.
        on_error: Called with the exception if the statistics cannot be built.
        host_values: `measure_on` summarises on the host a pass with at most this many
            values in its layer outputs, weights and gradients (0: never).
    """

    def __init__(self, model: keras.Model, losses: Sequence[str] = (),
                 on_error: Callable[[BaseException], None] | None = None, host_values: int = HOST_VALUES) -> None:
        self._model = model
        self._signature = _signature(model, losses)
        self._classification = any(m in name.lower() for name in losses for m in _CLASSIFICATION_LOSSES)
        self._on_error = on_error
        self._plans: list[_LayerPlan] = []
        self._extractor: keras.Model | None = None
        self._flag: tf.Variable | None = None
        self._done: tf.Variable | None = None
        self._layer_rows: tf.Variable | None = None
        self._predictions: tf.Variable | None = None
        self._read_done = 0
        self._active = False
        self._measure_function: Callable | None = None
        self._host_values = host_values
        self._on_host = False
        self._host_stats: ModelStats | None = None
        self._host_weights: list[list[np.ndarray]] | None = None

    @property
    def layers(self) -> list[Any]:
        """The inspected Keras layers, in forward order."""
        return [plan.layer for plan in self._plans]

    def install(self) -> None:
        """Plans the layers to inspect and creates the probe's variables (outside any graph)."""
        model = self._model
        self._plans = _plan_layers(model)
        self._extractor = _extractor(model, [p.layer for p in self._plans])
        with model.distribute_strategy.scope():
            self._flag = _variable("scram_internals_flag", tf.constant(False))
            self._done = _variable("scram_internals_done", tf.constant(0, tf.int64))
            self._layer_rows = _variable(
                "scram_layer_stats", tf.fill([max(len(self._plans), 1), len(_LAYER_COLUMNS)], _NOT_MEASURED))
            self._predictions = _variable("scram_prediction_stats", tf.fill([len(_PREDICTION_COLUMNS)], _NOT_MEASURED))
        self._active = True

    def measures(self, model: keras.Model, losses: Sequence[str] = ()) -> bool:
        """Whether this working probe fits `model` as it is now: a later `fit()` can reuse it.

        It does while the model has the same layers, trainable weights and compiled loss;
        reusing it spares tracing its measurement again.
        """
        return self._active and model is self._model and _signature(model, losses) == self._signature

    def request(self) -> None:
        """Asks for the statistics of the next training step."""
        if self._active:
            self._flag.assign(True)

    def read(self) -> ModelStats | None:
        """The statistics of the step measured since the last read, or None if none was."""
        if not self._active:
            return None
        if self._host_stats is not None:
            stats, self._host_stats = self._host_stats, None
            return stats
        self._host_weights = None  # what comes now was measured in the graph (a later fit on a dataset)
        done = int(self._done.numpy())
        if done == self._read_done:
            return None
        self._read_done = done
        rows = self._layer_rows.numpy()
        layers = tuple(_layer_stats(plan, rows[i]) for i, plan in enumerate(self._plans))
        return ModelStats(layers=layers, predictions=_prediction_stats(self._predictions.numpy()))

    def measured_weights(self) -> list[list[np.ndarray]] | None:
        """Per inspected layer, its weights as the last measurement on the host saw them (else None)."""
        return self._host_weights

    def measure_on(self, x: Any, y: Any) -> None:
        """Measures now, on a sample batch, outside the train step (results go to `read`).

        Used when a batch of the training data is at hand: the train step then stays as
        Keras built it, and only this small function is traced, once, without XLA.
        """
        if not self._active:
            return
        with _without_graph_rewrites():
            if self._measure_function is None:
                self._on_host = self._host_sized(x)
                # No AutoGraph, as in Keras' own train step (`do_not_convert`): the model's code
                # cannot branch on tensors anyway, and the trace takes a fifth of the time.
                self._measure_function = tf.function(
                    self._raw_pass if self._on_host else (lambda x, y: self._measure(x, y, None)),
                    jit_compile=False, reduce_retracing=True, autograph=False)
                with _quiet_tensorflow():
                    # One trace per model is intended; TensorFlow would warn of "excessive
                    # retracing" when a script trains several models with SCRAM.
                    result = self._measure_function(x, y)
            else:
                result = self._measure_function(x, y)
        if self._on_host:
            self._host_stats = self._summarize(*result)

    def record(self, data: Any) -> None:
        """Adds the sampled measurement to the train step being traced (graph code)."""
        if not self._active:
            return
        try:
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)

            def measure() -> tf.Tensor:
                self._measure(x, y, sample_weight)
                return tf.constant(True)

            tf.cond(self._flag, measure, lambda: tf.constant(False))
        except Exception as error:  # never let the probe break the user's train step
            self._active = False
            if self._on_error is not None:
                self._on_error(error)

    # -- graph code ------------------------------------------------------------------

    def _measure(self, x: Any, y: Any, sample_weight: Any) -> None:
        y_pred, outputs, weights, grads = self._pass(x, y, sample_weight)
        if self._plans:
            self._layer_rows.assign(tf.cast(_layer_table(self._plans, outputs, weights, grads), tf.float32))
        self._predictions.assign(self._prediction_row(y_pred))
        self._flag.assign(False)
        self._done.assign_add(1)

    def _raw_pass(self, x: Any, y: Any) -> tuple:
        """The pass alone, for `_summarize` on the host: predictions, layer outputs, weights, gradients."""
        y_pred, outputs, weights, grads = self._pass(x, y, None)
        # An embedding's gradient comes as slices, a row per token seen, repeats included:
        # dense, its norm is that of the true gradient.
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        return tf.nest.flatten(y_pred)[0], outputs, weights, grads

    def _pass(self, x: Any, y: Any, sample_weight: Any) -> tuple[Any, list, list, list]:
        """One forward and backward pass that leaves the model's state as it was."""
        model = self._model
        restored = [*model.non_trainable_variables, *model.metrics_variables]
        saved = [tf.identity(v.value) for v in restored]
        variables = [v for plan in self._plans for v in plan.variables]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            weights = [v.value for v in variables]
            tape.watch(weights)
            y_pred, outputs = self._forward(x)
            loss = _compute_loss(model, x, y, y_pred, sample_weight)
        grads = tape.gradient(loss, weights)
        for variable, value in zip(restored, saved, strict=True):
            variable.assign(value)
        return y_pred, outputs, weights, grads

    def _host_sized(self, x: Any) -> bool:
        """Whether a pass on `x` is small enough (`host_values`) to summarise on the host."""
        rows = len(tf.nest.flatten(x)[0])
        weights = [_size(v.shape) for plan in self._plans for v in plan.variables]
        outputs = [_size(tf.nest.flatten(plan.layer.output)[0].shape[1:], rows)
                   for plan in self._plans] if self._extractor is not None else []
        sizes = weights + weights + outputs  # the gradients are as large as the weights
        return None not in sizes and sum(sizes) <= self._host_values

    def _summarize(self, y_pred: tf.Tensor, outputs: list, weights: list, grads: list) -> ModelStats:
        """`_measure`'s statistics in NumPy, from a pass brought to the host."""
        # The weights are copied: kept for the update norm, they must not share a buffer the
        # optimizer could update in place. The pass's own results are read where they lie.
        weights = _by_layer(self._plans, [w.numpy() for w in weights])
        grads = _by_layer(self._plans, [_host_array(g) for g in grads])
        table = _host_layer_table(self._plans, [_host_array(out) for out in outputs], weights, grads)
        self._host_weights = weights
        rows = table.astype(np.float32)  # as stored in the graph's variable
        layers = tuple(_layer_stats(plan, rows[i]) for i, plan in enumerate(self._plans))
        return ModelStats(layers=layers, predictions=_prediction_stats(self._host_prediction_row(_host_array(y_pred))))

    def _forward(self, x: Any) -> tuple[Any, list[tf.Tensor | None]]:
        if self._extractor is not None:
            out = self._extractor(x, training=True)
            return out["pred"], list(out["layers"])
        # A subclassed model has no graph to read layer outputs from: its layers' outputs
        # are caught as its own `call()` runs them (only while this pass is traced).
        with _capturing([plan.layer for plan in self._plans]) as outputs:
            y_pred = self._model(x, training=True)
        return y_pred, outputs

    def _prediction_row(self, y_pred: Any) -> tf.Tensor:
        pred = tf.cast(tf.nest.flatten(y_pred)[0], tf.float32)
        width = pred.shape[-1] if pred.shape.rank and pred.shape.rank > 1 else 1
        # Samples (and time steps or positions) in rows, one column per output unit.
        pred = tf.reshape(pred, [-1, width])
        count = tf.cast(tf.shape(pred)[0], tf.float32)
        _, var = tf.nn.moments(pred, axes=[0])
        std = tf.reduce_mean(tf.sqrt(var))
        if not self._classification or width is None:
            return tf.stack([count, _NOT_MEASURED, _NOT_MEASURED, std])
        if width == 1:
            in_unit = tf.logical_and(tf.reduce_min(pred) >= 0.0, tf.reduce_max(pred) <= 1.0)
            threshold = 0.5 if self._probabilities() else tf.where(in_unit, 0.5, 0.0)
            labels, classes = tf.cast(pred[:, 0] > threshold, tf.int32), 2
        else:
            labels, classes = tf.argmax(pred, axis=-1, output_type=tf.int32), width
        counts = tf.reduce_sum(tf.one_hot(labels, classes), axis=0)
        share = tf.reduce_max(counts) / tf.maximum(count, 1.0)
        distinct = tf.cast(tf.math.count_nonzero(counts), tf.float32)
        return tf.stack([count, share, distinct, std])

    def _host_prediction_row(self, pred: np.ndarray) -> np.ndarray:
        """`_prediction_row` in NumPy."""
        pred = pred.astype(np.float32)
        width = pred.shape[-1] if pred.ndim > 1 else 1
        pred = pred.reshape(-1, width)
        count = float(len(pred))
        with np.errstate(all="ignore"):  # Inf predictions give a NaN spread, as in the graph
            std = float(np.sqrt(pred.var(axis=0)).mean()) if len(pred) else math.nan
        if not self._classification:
            return np.array([count, _NOT_MEASURED, _NOT_MEASURED, std], np.float32)
        if width == 1:
            in_unit = len(pred) and pred.min() >= 0.0 and pred.max() <= 1.0
            threshold = 0.5 if self._probabilities() or in_unit else 0.0
            labels, classes = (pred[:, 0] > threshold).astype(np.int64), 2
        else:  # NaN never wins, as in tf.argmax
            labels, classes = np.where(np.isnan(pred), -np.inf, pred).argmax(axis=-1), width
        counts = np.bincount(labels, minlength=classes)
        share = counts.max() / max(count, 1.0)
        return np.array([count, share, np.count_nonzero(counts), std], np.float32)

    def _probabilities(self) -> bool:
        """Whether the single output is a probability (threshold 0.5), as its activation says.

        An output layer whose activation is not known (a custom Layer wrapping a Dense and a
        sigmoid) is told by its values instead: all within [0, 1] are taken as probabilities.
        """
        return self._output_activation() in ("sigmoid", "softmax")

    def _output_activation(self) -> str | None:
        outputs = [plan for plan in self._plans if plan.is_output]
        return outputs[0].activation if outputs else None


# -- planning (eager, once) ----------------------------------------------------------


def _plan_layers(model: keras.Model) -> list[_LayerPlan]:
    layers = [layer for layer in getattr(model, "layers", []) if not isinstance(layer, keras.layers.InputLayer)]
    output_ids = _output_ids(model)
    plans = []
    for index, layer in enumerate(layers):
        activation = activation_name(layer)
        variables = tuple(layer.trainable_variables)
        if not variables and activation not in (*_RELU_LIKE, *_SATURATION_MARGIN):
            continue
        is_output = _is_output(layer, output_ids) if output_ids else index == len(layers) - 1
        plans.append(_LayerPlan(layer, activation, is_output, variables, _units(layer)))
    return plans


def _units(layer: Any) -> int | None:
    """The width of a layer's output (its last axis), where Keras knows it."""
    try:
        width = tf.nest.flatten(layer.output)[0].shape[-1]
    except Exception:  # a subclassed model's layers have no symbolic output
        return None
    return int(width) if width is not None else None


@contextlib.contextmanager
def _capturing(layers: Sequence[Any]) -> Iterator[list[tf.Tensor | None]]:
    """Catches each layer's output while the block runs (None for one called never or twice).

    Each layer's `call` is wrapped on the instance for the block only; a layer called twice
    (shared) has no single output and stays unmeasured.
    """
    outputs: list[tf.Tensor | None] = [None] * len(layers)
    calls = [0] * len(layers)
    wrapped = []

    def recorder(index: int, call: Callable) -> Callable:
        def record(*args: Any, **kwargs: Any) -> Any:
            result = call(*args, **kwargs)
            calls[index] += 1
            first = tf.nest.flatten(result)[0] if calls[index] == 1 else None
            outputs[index] = first if isinstance(first, tf.Tensor) else None
            return result
        return record

    try:
        for index, layer in enumerate(layers):
            if "call" not in vars(layer):  # never wrap twice
                object.__setattr__(layer, "call", recorder(index, layer.call))
                wrapped.append(layer)
        yield outputs
    finally:
        for layer in wrapped:
            object.__delattr__(layer, "call")


@contextlib.contextmanager
def _quiet_tensorflow() -> Iterator[None]:
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _without_graph_rewrites() -> Iterator[None]:
    """Calls TensorFlow functions in this thread without Grappler's graph optimisation.

    The measurement's function runs a few times per `fit()`: optimising its graph doubles
    its first call (~50 ms instead of ~22 on a small CNN, most of SCRAM's one-off cost
    after tracing) and does not make the later ones faster. The option is the calling
    thread's own (`function_call_options`) and is restored at once, so the user's
    functions are optimised as usual. Without that (private) API, nothing changes.
    """
    ctx, previous = context.context(), None
    try:
        config = config_pb2.ConfigProto.FromString(ctx.function_call_options.config_proto_serialized)
        config.graph_options.rewrite_options.disable_meta_optimizer = True
        previous = ctx.function_call_options
        ctx.function_call_options = context.FunctionCallOptions(previous.executor_type, config)
    except Exception:  # another TensorFlow: its defaults then
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            ctx.function_call_options = previous


def _signature(model: keras.Model, losses: Sequence[str]) -> tuple:
    """What the traced measurement depends on: layers, trainable weights, compiled loss.

    The objects themselves, not their ids: held here, they cannot be freed and their
    addresses taken by new ones (a recompiled loss could otherwise pass for the old).
    Keras variables compare element-wise, so everything is wrapped to compare by identity.
    """
    layers = tuple((_Same(layer), tuple(map(_Same, layer.trainable_variables)))
                   for layer in getattr(model, "layers", []))
    return layers, _Same(getattr(model, "_compile_loss", None)), tuple(losses)


class _Same:
    """Compares equal only to a wrapper of the very same object."""

    __slots__ = ("item",)

    def __init__(self, item: Any) -> None:
        self.item = item

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.item is self.item

    def __hash__(self) -> int:
        return id(self.item)


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
    cannot be measured.
    """
    facts: dict[str, Any] = {"scaled_inputs": (), "image_inputs": (), "internals_unmeasured": None}
    try:
        facts["scaled_inputs"] = _scaled_inputs(model)
        facts["image_inputs"] = _image_inputs(model)
    except Exception:  # an unusual model: nothing known, as before
        pass
    if lacks_call(model):
        parts = ", ".join(f"'{layer.name}'" for layer in getattr(model, "layers", []))
        facts["internals_unmeasured"] = (
            f"{type(model).__name__} overrides train_step() and has no call(): SCRAM cannot run it forward "
            "and backward on a sample, so its gradients, activations and predictions are not measured"
            + (f" (its parts: {parts})" if parts else ""))
    return facts


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
        return ("*",) if any(_is_scaling(layer) for layer in _leaf_layers(model)) else ()
    graph = _functional(model)
    return tuple(name for names, tensor in _input_names(graph) if _tensor_scaled(graph, tensor) for name in names)


def _image_inputs(model: keras.Model) -> tuple[str, ...]:
    if _is_subclassed(model) or not getattr(model, "built", False):
        return ()
    return tuple(name for names, tensor in _input_names(_functional(model)) if _image_shaped(tensor.shape[1:])
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


def _leaf_layers(model: keras.Model) -> list[Any]:
    try:
        return list(model._flatten_layers(include_self=False, recursive=True))
    except Exception:
        return list(getattr(model, "layers", []))


def _scales_first(layer: Any) -> bool:
    """Whether the first thing this layer (or nested model) does to its input is scaling it."""
    if _is_scaling(layer):
        return True
    if isinstance(layer, keras.Sequential):
        first = next((inner for inner in layer.layers if type(inner).__name__ not in _SCALE_KEEPING), None)
        return first is not None and _scales_first(first)
    if isinstance(layer, keras.Model):
        if _is_subclassed(layer):
            return any(_is_scaling(inner) for inner in _leaf_layers(layer))
        graph = _functional(layer)
        return bool(graph.inputs) and all(_tensor_scaled(graph, t) for t in graph.inputs)
    return False


def _tensor_scaled(graph: keras.Model, tensor: Any, depth: int = 0) -> bool:
    """Whether every layer of `graph` that reads `tensor` scales it first (after layers keeping its scale)."""
    consumers = [(layer, node) for layer in getattr(graph, "operations", [])
                 for node in getattr(layer, "_inbound_nodes", [])
                 if any(t is tensor for t in tf.nest.flatten(node.input_tensors))]
    if not consumers or depth > 20:
        return False
    for layer, node in consumers:
        if type(layer).__name__ in _SCALE_KEEPING:
            if not all(_tensor_scaled(graph, out, depth + 1) for out in tf.nest.flatten(node.output_tensors)):
                return False
        elif not _scales_first(layer):
            return False
    return True


def activation_name(layer: Any) -> str | None:
    """The name of a layer's activation (`"relu"`, `"sigmoid"`), or None for linear or none."""
    if isinstance(layer, keras.layers.ReLU):
        slope = float(getattr(layer, "negative_slope", 0.0) or 0.0)
        return "relu" if slope == 0.0 else "leaky_relu"
    if isinstance(layer, keras.layers.LeakyReLU):
        return "leaky_relu"
    function = getattr(layer, "activation", None)
    name = getattr(function, "__name__", None) if callable(function) else function
    if not isinstance(name, str) or name == "linear":
        return None
    return name


def _output_ids(model: keras.Model) -> set[int]:
    try:
        return {id(t) for t in tf.nest.flatten(_functional(model).output)}
    except Exception:
        return set()


def _is_output(layer: Any, output_ids: set[int]) -> bool:
    try:
        return any(id(t) in output_ids for t in tf.nest.flatten(layer.output))
    except Exception:
        return False


def _functional(model: keras.Model) -> keras.Model:
    # A built Sequential model keeps its graph in a Functional model of its own.
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None) or model
    return model


def _extractor(model: keras.Model, layers: list[Any]) -> keras.Model | None:
    """A model sharing the user's layers that returns the predictions and each layer's output."""
    try:
        graph = _functional(model)
        outputs = [tf.nest.flatten(layer.output)[0] for layer in layers]
        return keras.Model(graph.input, {"pred": graph.output, "layers": outputs})
    except Exception:
        return None  # subclassed model or shared layers: norms only, no activations


def _variable(name: str, initial: tf.Tensor) -> tf.Variable:
    return tf.Variable(initial, trainable=False, name=name,
                       aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)


# -- graph helpers -------------------------------------------------------------------


def _compute_loss(model: keras.Model, x: Any, y: Any, y_pred: Any, sample_weight: Any) -> tf.Tensor:
    compute = getattr(model, "_compute_loss", None) or model.compute_loss
    return compute(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)


def _layer_table(plans: Sequence[_LayerPlan], outputs: Sequence[tf.Tensor | None],
                 weights: Sequence[tf.Tensor], grads: Sequence[tf.Tensor | None]) -> tf.Tensor:
    """The `_LAYER_COLUMNS` of every inspected layer, float64, one row per layer.

    Built column by column: every op costs tracing time, so the ops per layer are kept to
    the few that cannot be shared (one norm per variable, one reduction per output).
    Norms are in float64, where a float32 tensor's sum of squares cannot overflow, so a
    non-finite norm means exactly a NaN or Inf inside.
    """
    count = len(plans)
    owners = [i for i, plan in enumerate(plans) for _ in plan.variables]
    has_weights = tf.constant([bool(plan.variables) for plan in plans])
    missing = tf.fill([count], tf.constant(_NOT_MEASURED, tf.float64))
    weight_norm = _norms_by_layer(weights, owners, count)
    grad_norm = _norms_by_layer(grads, owners, count)
    nonfinite_weights = tf.cast(tf.logical_not(tf.math.is_finite(weight_norm)), tf.float64)
    measured = [(i, plan, out) for i, (plan, out) in enumerate(zip(plans, outputs, strict=True)) if out is not None]
    nonfinite_output = _column(count, 0.0, {i: _nonfinite(out) for i, _, out in measured})
    dead = _column(count, _NOT_MEASURED, {i: _dead_fraction(out) for i, plan, out in measured
                                          if plan.activation in _RELU_LIKE and out.shape.rank and out.shape.rank >= 2})
    saturated = _column(count, _NOT_MEASURED, {i: _saturated_fraction(plan, out) for i, plan, out in measured
                                               if plan.activation in _SATURATION_MARGIN and not plan.is_output})
    return tf.stack([tf.where(has_weights, weight_norm, missing), tf.where(has_weights, grad_norm, missing),
                     dead, saturated, nonfinite_output, nonfinite_weights], axis=1)


def _norms_by_layer(tensors: Sequence[tf.Tensor | None], owners: Sequence[int], count: int) -> tf.Tensor:
    """Per layer, the Euclidean norm of its tensors together (0 for a layer without any)."""
    present = [(t, owner) for t, owner in zip(tensors, owners, strict=True) if t is not None]
    if not present:
        return tf.zeros([count], tf.float64)
    norms = tf.stack([tf.math.reduce_euclidean_norm(tf.cast(t, tf.float64)) for t, _ in present])
    squares = tf.math.unsorted_segment_sum(tf.square(norms), [owner for _, owner in present], count)
    return tf.sqrt(squares)


def _nonfinite(out: tf.Tensor) -> tf.Tensor:
    """1.0 if the output holds a NaN or Inf, else 0.0."""
    return tf.cast(tf.logical_not(tf.reduce_all(tf.math.is_finite(tf.cast(out, tf.float32)))), tf.float64)


def _column(count: int, fill: float, values: dict[int, tf.Tensor]) -> tf.Tensor:
    """A float64 column of `count` rows: `values` at their rows, `fill` elsewhere."""
    base = tf.fill([count], tf.constant(fill, tf.float64))
    if not values:
        return base
    rows = sorted(values)
    return tf.tensor_scatter_nd_update(base, [[row] for row in rows], tf.stack([values[row] for row in rows]))


def _dead_fraction(out: tf.Tensor) -> tf.Tensor:
    """Share of units (last axis: Dense units, Conv filters) <= 0 for every sample and position."""
    width = out.shape[-1] if out.shape[-1] is not None else tf.shape(out)[-1]
    alive = tf.reduce_any(tf.reshape(out, [-1, width]) > 0, axis=0)
    return 1.0 - tf.reduce_mean(tf.cast(alive, tf.float64))


def _saturated_fraction(plan: _LayerPlan, out: tf.Tensor) -> tf.Tensor:
    """Share of a hidden sigmoid/tanh layer's outputs pinned near their limits.

    Output layers are not measured: a confident classifier's sigmoid output is near 0 or 1
    by design.
    """
    margin = _SATURATION_MARGIN[plan.activation]
    out = tf.cast(out, tf.float32)  # in float16/bfloat16, 1 - margin itself would round
    if plan.activation == "tanh":
        pinned = tf.abs(out) > 1.0 - margin
    else:
        pinned = tf.logical_or(out < margin, out > 1.0 - margin)
    return tf.reduce_mean(tf.cast(pinned, tf.float64))


# -- host summaries (NumPy twins of the graph helpers) ----------------------------------


def _size(shape: Any, rows: int = 1) -> int | None:
    dims = list(shape)
    return None if None in dims else rows * math.prod(int(d) for d in dims)


def _host_array(tensor: tf.Tensor | None) -> np.ndarray | None:
    # Without the copy `numpy()` makes: several MB of layer outputs per measurement.
    return None if tensor is None else np.asarray(tensor)


def _by_layer(plans: Sequence[_LayerPlan], values: list) -> list[list]:
    """Values listed variable by variable, grouped per layer plan."""
    groups, start = [], 0
    for plan in plans:
        groups.append(values[start:start + len(plan.variables)])
        start += len(plan.variables)
    return groups


def _host_layer_table(plans: Sequence[_LayerPlan], outputs: Sequence[np.ndarray | None],
                      weights: Sequence[Sequence[np.ndarray]], grads: Sequence[Sequence[np.ndarray | None]],
                      ) -> np.ndarray:
    """`_layer_table` in NumPy: the `_LAYER_COLUMNS` of every inspected layer, one row per layer."""
    column = {name: i for i, name in enumerate(_LAYER_COLUMNS)}
    table = np.full((max(len(plans), 1), len(_LAYER_COLUMNS)), _NOT_MEASURED)
    table[:, [column["nonfinite_output"], column["nonfinite_weights"]]] = 0.0  # none seen until found
    for row, plan in enumerate(plans):
        if plan.variables:
            table[row, column["weight_norm"]] = _host_norm(weights[row])
            table[row, column["grad_norm"]] = _host_norm(grads[row])
            table[row, column["nonfinite_weights"]] = float(not math.isfinite(table[row, column["weight_norm"]]))
        out = outputs[row] if row < len(outputs) else None
        if out is None:
            continue
        out = out.astype(np.float32, copy=False)
        table[row, column["nonfinite_output"]] = float(not np.isfinite(out).all())
        if plan.activation in _RELU_LIKE and out.ndim >= 2:
            alive = (out.reshape(-1, out.shape[-1]) > 0).any(axis=0)
            table[row, column["dead_fraction"]] = 1.0 - alive.mean()
        elif plan.activation in _SATURATION_MARGIN and not plan.is_output:
            table[row, column["saturated_fraction"]] = _host_saturated(plan.activation, out)
    return table


def _host_norm(arrays: Sequence[np.ndarray | None]) -> float:
    """The Euclidean norm of the arrays together, in float64 (0 for none)."""
    with np.errstate(all="ignore"):  # huge or non-finite values give Inf/NaN, as in the graph
        squares = [np.square(a.astype(np.float64)).sum() for a in arrays if a is not None]
    return float(np.sqrt(sum(squares)))


def _host_saturated(activation: str, out: np.ndarray) -> float:
    limit = np.float32(1.0 - _SATURATION_MARGIN[activation])
    if activation == "tanh":
        pinned = np.abs(out) > limit
    else:
        pinned = (out < np.float32(_SATURATION_MARGIN[activation])) | (out > limit)
    return float(pinned.mean())


# -- reading (eager) -----------------------------------------------------------------


def _measured(value: float) -> float | None:
    return None if value == _NOT_MEASURED else float(value)


def _layer_stats(plan: _LayerPlan, row: np.ndarray) -> LayerStats:
    values = dict(zip(_LAYER_COLUMNS, row.tolist(), strict=True))
    return LayerStats(
        name=plan.layer.name,
        kind=type(plan.layer).__name__,
        activation=plan.activation,
        weight_norm=_measured(values["weight_norm"]),
        grad_norm=_measured(values["grad_norm"]),
        dead_fraction=_measured(values["dead_fraction"]),
        saturated_fraction=_measured(values["saturated_fraction"]),
        nonfinite_output=bool(values["nonfinite_output"]),
        nonfinite_weights=bool(values["nonfinite_weights"]),
        units=plan.units,
    )



def _prediction_stats(row: np.ndarray) -> PredictionStats:
    values = dict(zip(_PREDICTION_COLUMNS, row.tolist(), strict=True))
    classes = _measured(values["predicted_classes"])
    return PredictionStats(
        count=int(values["count"]),
        majority_share=_measured(values["majority_share"]),
        predicted_classes=int(classes) if classes is not None else None,
        std=float(values["std"]),
    )
