"""TensorFlow's measurement of the model's internals: on a sample, or inside the train step.

On a sample batch (arrays given to `fit()`), one traced function runs the forward and
backward pass under a `GradientTape`. When the pass is small (`HOST_VALUES`) it returns
the layer outputs, weights and gradients, summarised on the host by the shared NumPy code
(`keras_adapter/internals.py`): half the one-off cost of tracing and optimising the
statistics' graph, which is most of what SCRAM costs a short `fit()`. A larger pass is
summarised in the graph, on the device, into small variables.

Without a sample (a `tf.data` pipeline), `GraphInternalsProbe.record` is called by
`BatchProbe` inside the compiled train step. It adds one `tf.cond` on a boolean
`tf.Variable`: while the flag is off (almost every step) the step pays for reading one
boolean. When the callback switches the flag on, the next step runs the extra pass
before the real one and writes its statistics into the variables. The flag switches
itself off again, so with `steps_per_execution > 1` only the first step of an execution
is measured.

The extra pass leaves training untouched: the model's non-trainable variables (batch
normalisation statistics, dropout seeds) and its metrics' variables are restored after
it, and no optimizer sees its gradients. The graph statistics are the NumPy ones in
TensorFlow ops; a test holds the two to the same numbers.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tensorboard_plugin_scram.keras_adapter.compat import keras_api, tensorflow_api
from tensorboard_plugin_scram.keras_adapter.internals import (
    LAYER_COLUMNS,
    NOT_MEASURED,
    PREDICTION_COLUMNS,
    RELU_LIKE,
    SATURATION_MARGIN,
    InternalsProbe,
    LayerPlan,
    capturing,
    layer_stats,
    prediction_stats,
)
from tensorboard_plugin_scram.keras_adapter.model_facts import functional
from tensorboard_plugin_scram.observations import LossInfo, ModelStats

# A sample pass whose layer outputs, weights and gradients hold at most this many values
# (16 MB in float32) is summarised on the host; larger ones in the graph, on the device.
HOST_VALUES = 2**22
# The first passes on the host run eagerly: tracing the pass costs about as much as four
# eager ones (180 ms against 45 on the demo's text model), which a short fit() (a
# notebook's) never earns back.
EAGER_PASSES = 4


class GraphInternalsProbe(InternalsProbe):
    """`InternalsProbe` on TensorFlow: measured on a sample, or inside the train step.

    Args:
        model: The Keras model being trained.
        losses: The model's losses, or their names.
        on_error: Called with the exception if the statistics cannot be built.
        host_values: `measure_on` summarises on the host a pass with at most this many
            values in its layer outputs, weights and gradients (0: never).
    """

    def __init__(self, model: keras.Model, losses: Sequence[LossInfo | str] = (),
                 on_error: Callable[[BaseException], None] | None = None, host_values: int = HOST_VALUES) -> None:
        super().__init__(model, losses, on_error)
        self._extractor: keras.Model | None = None
        self._flag: tf.Variable | None = None
        self._done: tf.Variable | None = None
        self._layer_rows: tf.Variable | None = None
        self._predictions: tf.Variable | None = None
        self._read_done = 0
        self._measure_function: Callable | None = None
        self._host_values = host_values
        self._on_host: bool | None = None
        self._eager_passes = 0

    def install(self) -> None:
        """Plans the layers to inspect. Its variables are made when a measurement needs them."""
        super().install()
        self._extractor = _extractor(self._model, self.layers)

    def request(self) -> None:
        """Asks for the statistics of the next training step (measured inside it)."""
        if self._active:
            self._ensure_variables()
            self._flag.assign(True)

    def read(self) -> ModelStats | None:
        """The statistics of the step measured since the last read, or None if none was."""
        host = super().read()
        if host is not None or not self._active or self._done is None:
            return host
        self._host_weights = None  # what comes now was measured in the graph (a later fit on a dataset)
        done = int(self._done.numpy())
        if done == self._read_done:
            return None
        self._read_done = done
        rows = self._layer_rows.numpy()
        layers = tuple(layer_stats(plan, rows[i]) for i, plan in enumerate(self._plans))
        return ModelStats(layers=layers, predictions=prediction_stats(self._predictions.numpy()))

    def measure_on(self, x: Any, y: Any) -> None:
        """Measures now, on a sample batch, outside the train step (results go to `read`).

        The train step then stays as Keras built it, and only this small function is
        traced, once, without XLA.
        """
        if not self._active:
            return
        if self._on_host is None:
            self._on_host = self._host_sized(x)
        if self._on_host and self._eager_passes < EAGER_PASSES:
            self._eager_passes += 1
            result = self._raw_pass(x, y)
        else:
            result = self._traced_pass(x, y)
        if self._on_host:
            y_pred, outputs, weights, grads = result
            # The weights are copied: kept for the update norm, they must not share a buffer
            # the optimizer could update in place. The rest is read where it lies.
            self._host_stats = self.summarize(np.asarray(y_pred), [_host_array(out) for out in outputs],
                                              [w.numpy() for w in weights], [_host_array(g) for g in grads])

    def _traced_pass(self, x: Any, y: Any) -> Any:
        """The pass as a traced function: on the host's share, or the whole measurement in the graph."""
        if not self._on_host:
            self._ensure_variables()
        # Optimising the graph doubles the first call (~50 ms instead of ~22 on a small CNN)
        # and does not make the few later ones faster.
        with tensorflow_api.without_graph_rewrites():
            if self._measure_function is None:
                # No AutoGraph, as in Keras' own train step (`do_not_convert`): the model's code
                # cannot branch on tensors anyway, and the trace takes a fifth of the time.
                self._measure_function = tf.function(
                    self._raw_pass if self._on_host else (lambda x, y: self._measure(x, y, None)),
                    jit_compile=False, reduce_retracing=True, autograph=False)
                with _quiet_tensorflow():
                    # One trace per model is intended; TensorFlow would warn of "excessive
                    # retracing" when a script trains several models with SCRAM.
                    return self._measure_function(x, y)
            return self._measure_function(x, y)

    def _ensure_variables(self) -> None:
        """Creates the variables the graph's measurement writes into, outside any graph, once."""
        if self._flag is not None:
            return
        with tf.init_scope(), self._model.distribute_strategy.scope():
            self._layer_rows = _variable(
                "scram_layer_stats", tf.fill([max(len(self._plans), 1), len(LAYER_COLUMNS)], NOT_MEASURED))
            self._predictions = _variable("scram_prediction_stats", tf.fill([len(PREDICTION_COLUMNS)], NOT_MEASURED))
            self._done = _variable("scram_internals_done", tf.constant(0, tf.int64))
            self._flag = _variable("scram_internals_flag", tf.constant(False))

    def record(self, data: Any) -> None:
        """Adds the sampled measurement to the train step being traced (graph code)."""
        if not self._active:
            return
        try:
            self._ensure_variables()
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
        """The pass alone, for the host: predictions, layer outputs, weights, gradients."""
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
            loss = keras_api.training_loss(model, x, y, y_pred, sample_weight)
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

    def _forward(self, x: Any) -> tuple[Any, list[tf.Tensor | None]]:
        if self._extractor is not None:
            out = self._extractor(x, training=True)
            return out["pred"], list(out["layers"])
        # A subclassed model has no graph to read layer outputs from: its layers' outputs
        # are caught as its own `call()` runs them (only while this pass is traced).
        with capturing(self.layers) as outputs:
            y_pred = self._model(x, training=True)
        return y_pred, outputs

    def _prediction_row(self, y_pred: Any) -> tf.Tensor:
        """`InternalsProbe.prediction_row` in the graph."""
        pred = tf.cast(tf.nest.flatten(y_pred)[0], tf.float32)
        width = pred.shape[-1] if pred.shape.rank and pred.shape.rank > 1 else 1
        # Samples (and time steps or positions) in rows, one column per output unit.
        pred = tf.reshape(pred, [-1, width])
        count = tf.cast(tf.shape(pred)[0], tf.float32)
        _, var = tf.nn.moments(pred, axes=[0])
        std = tf.reduce_mean(tf.sqrt(var))
        if not self._classification or width is None:
            return tf.stack([count, NOT_MEASURED, NOT_MEASURED, std])
        if width == 1:
            in_unit = tf.logical_and(tf.reduce_min(pred) >= 0.0, tf.reduce_max(pred) <= 1.0)
            threshold = 0.5 if self.probabilities() else tf.where(in_unit, 0.5, 0.0)
            labels, classes = tf.cast(pred[:, 0] > threshold, tf.int32), 2
        else:
            labels, classes = tf.argmax(pred, axis=-1, output_type=tf.int32), width
        counts = tf.reduce_sum(tf.one_hot(labels, classes), axis=0)
        share = tf.reduce_max(counts) / tf.maximum(count, 1.0)
        distinct = tf.cast(tf.math.count_nonzero(counts), tf.float32)
        return tf.stack([count, share, distinct, std])


def _extractor(model: keras.Model, layers: list[Any]) -> keras.Model | None:
    """A model sharing the user's layers that returns the predictions and each layer's output."""
    try:
        graph = functional(model)
        outputs = [tf.nest.flatten(layer.output)[0] for layer in layers]
        return keras.Model(graph.input, {"pred": graph.output, "layers": outputs})
    except Exception:
        return None  # subclassed model or shared layers: their outputs are caught as they run


def _variable(name: str, initial: tf.Tensor) -> tf.Variable:
    return tf.Variable(initial, trainable=False, name=name,
                       aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)


def _size(shape: Any, rows: int = 1) -> int | None:
    dims = list(shape)
    return None if None in dims else rows * math.prod(int(d) for d in dims)


def _host_array(tensor: tf.Tensor | None) -> np.ndarray | None:
    # Without the copy `numpy()` makes: several MB of layer outputs per measurement.
    return None if tensor is None else np.asarray(tensor)


# -- graph statistics (the NumPy ones in TensorFlow ops) ------------------------------


def _layer_table(plans: Sequence[LayerPlan], outputs: Sequence[tf.Tensor | None],
                 weights: Sequence[tf.Tensor], grads: Sequence[tf.Tensor | None]) -> tf.Tensor:
    """The `LAYER_COLUMNS` of every inspected layer, float64, one row per layer.

    Built column by column: every op costs tracing time, so the ops per layer are kept to
    the few that cannot be shared (one norm per variable, one reduction per output).
    Norms are in float64, where a float32 tensor's sum of squares cannot overflow, so a
    non-finite norm means exactly a NaN or Inf inside.
    """
    count = len(plans)
    owners = [i for i, plan in enumerate(plans) for _ in plan.variables]
    has_weights = tf.constant([bool(plan.variables) for plan in plans])
    missing = tf.fill([count], tf.constant(NOT_MEASURED, tf.float64))
    weight_norm = _norms_by_layer(weights, owners, count)
    grad_norm = _norms_by_layer(grads, owners, count)
    nonfinite_weights = tf.cast(tf.logical_not(tf.math.is_finite(weight_norm)), tf.float64)
    measured = [(i, plan, out) for i, (plan, out) in enumerate(zip(plans, outputs, strict=True)) if out is not None]
    nonfinite_output = _column(count, 0.0, {i: _nonfinite(out) for i, _, out in measured})
    dead = _column(count, NOT_MEASURED, {i: _dead_fraction(out) for i, plan, out in measured
                                          if plan.activation in RELU_LIKE and out.shape.rank and out.shape.rank >= 2})
    saturated = _column(count, NOT_MEASURED, {i: _saturated_fraction(plan, out) for i, plan, out in measured
                                               if plan.activation in SATURATION_MARGIN and not plan.is_output})
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


def _saturated_fraction(plan: LayerPlan, out: tf.Tensor) -> tf.Tensor:
    """Share of a hidden sigmoid/tanh layer's outputs pinned near their limits.

    Output layers are not measured: a confident classifier's sigmoid output is near 0 or 1
    by design.
    """
    margin = SATURATION_MARGIN[plan.activation]
    out = tf.cast(out, tf.float32)  # in float16/bfloat16, 1 - margin itself would round
    if plan.activation == "tanh":
        pinned = tf.abs(out) > 1.0 - margin
    else:
        pinned = tf.logical_or(out < margin, out > 1.0 - margin)
    return tf.reduce_mean(tf.cast(pinned, tf.float64))


# -- TensorFlow run-time settings for the measurement ---------------------------------


@contextlib.contextmanager
def _quiet_tensorflow() -> Iterator[None]:
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
