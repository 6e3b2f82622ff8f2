"""In-graph statistics of each training batch, for data TensorFlow reads itself (tf.data).

Keras 3 callbacks receive no data, and a `tf.data` pipeline never passes through Python.
This module wraps the model's `train_step` so that, inside the compiled step, a few
reductions per input and target tensor are written into a small `tf.Variable`. The
callback reads that variable (a few hundred bytes) on the batches it samples; whole
batches never leave the device. Extra keys in `logs` would also work but leak into
History, the progress bar and Keras' TensorBoard.

The statistics are computed only on the steps the callback asks for (a boolean
variable read inside the step), so an unsampled step pays for one sum per floating
input: if that sum is not finite, the batch may hold a NaN or Inf, and the statistics
are computed anyway. NaN/Inf counts therefore cover every batch, sampled or not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tensorboard_plugin_scram.keras_adapter.batch_stats import COLUMNS as _COLUMNS
from tensorboard_plugin_scram.keras_adapter.batch_stats import MAX_CLASSES, MAX_TENSORS, named_leaves, tensor_stats
from tensorboard_plugin_scram.observations import TensorStats

# One variable holds everything the callback reads, so a read is one device-to-host copy:
# a row per tensor (its statistics, its NaN/Inf total, its class counts) and a last row
# whose first cell counts the steps that computed statistics (float64: exact for 2**53).
_TOTAL = len(_COLUMNS)
_CLASSES = _TOTAL + 1
_WIDTH = _CLASSES + MAX_CLASSES


class BatchProbe:
    """Statistics of the inputs and targets of the batches the callback asks for.

    Args:
        model: The Keras model being trained (TensorFlow backend).
        embedding_inputs: Input names that feed an Embedding layer (`"*"`: any
            integer-valued input).
        on_error: Called with the exception if the statistics cannot be built.
        recorders: More graph-building functions called with each step's data inside
            the wrapped train step, before the step itself (e.g.
            `InternalsProbe.record`). Each must guard itself against errors.
    """

    # Whether `request` must be told, at each step, if the next one is sampled.
    needs_requests = True

    def __init__(self, model: keras.Model, embedding_inputs: tuple[str, ...] = (),
                 on_error: Callable[[BaseException], None] | None = None,
                 recorders: Sequence[Callable[[Any], None]] = ()) -> None:
        self._model = model
        self._embedding_inputs = embedding_inputs
        self._on_error = on_error
        self._recorders = tuple(recorders)
        self._names: list[tuple[str, str]] = []
        self._had_own_train_step = False
        self._own_train_step: Any = None
        self._table: tf.Variable | None = None
        self._wanted: tf.Variable | None = None
        self._requested = True
        self._runs_read = 0.0
        # Inside a tf.cond, a distributed variable cannot merge its replicas' writes: under a
        # distribution strategy the statistics are computed on every step instead.
        self._conditional = single_device(model)

    def install(self) -> None:
        """Wraps `model.train_step` and rebuilds the train function around it."""
        model = self._model
        with model.distribute_strategy.scope():
            self._table = _probe_variable("scram_batch_stats", tf.zeros([MAX_TENSORS + 1, _WIDTH], tf.float64))
            self._wanted = _probe_variable("scram_stats_wanted", tf.constant(self._requested))
        self._had_own_train_step = "train_step" in vars(model)
        self._own_train_step = vars(model).get("train_step")
        original = model.train_step

        def train_step(data):
            self._record(data)
            for record in self._recorders:
                record(data)
            return original(data)

        model.train_step = train_step
        model.train_function = None
        model.make_train_function(force=True)

    def uninstall(self) -> None:
        """Restores the model's own `train_step`; the next `fit()` rebuilds cleanly."""
        model = self._model
        if self._had_own_train_step:
            model.train_step = self._own_train_step
        else:
            vars(model).pop("train_step", None)
        model.train_function = None

    def request(self, wanted: bool) -> None:
        """Whether the next steps compute their statistics (batches with NaN/Inf always do)."""
        if self._wanted is not None and wanted != self._requested:
            self._wanted.assign(tf.constant(wanted), read_value=False)
            self._requested = wanted

    def read(self, batch: int = 0) -> tuple[TensorStats, ...] | None:
        """The statistics of the last batch they were computed for since the last read, else None.

        `batch` (the batch's index in its epoch) is not needed: the step itself recorded them.
        """
        if self._table is None or not self._names:
            return None
        table = self._table.numpy()
        runs = float(table[MAX_TENSORS, 0])
        if runs == self._runs_read:
            return None
        self._runs_read = runs
        return tuple(
            tensor_stats(name, role, table[i, :_TOTAL], table[i, _CLASSES:], table[i, _TOTAL], self._embedding_inputs)
            for i, (name, role) in enumerate(self._names)
        )


    def _record(self, data: Any) -> None:
        # Runs while Keras traces the train step: Python here builds graph ops once.
        try:
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            named = named_leaves(x, y, _is_numeric)
            if not named:
                return
            tensors = [(role, t) for _, role, t in named]
            if self._conditional:
                due = tf.logical_or(self._wanted, _may_be_nonfinite([t for _, t in tensors]))
                tf.cond(due, lambda: self._store(tensors), lambda: tf.constant(False))
            else:
                self._store(tensors)
            self._names = [(n, role) for n, role, _ in named]
        except Exception as error:  # never let statistics break the user's train step
            self._names = []
            if self._on_error is not None:
                self._on_error(error)

    def _store(self, tensors: list[tuple[str, tf.Tensor]]) -> tf.Tensor:
        count = len(tensors)
        # A function of its own: Keras traces the train step twice, this only once.
        stats, classes = statistics_function(tuple(role for role, _ in tensors))([t for _, t in tensors])
        old = self._table.read_value()
        totals = old[:count, _TOTAL] + stats[:, 1]
        rows = tf.concat([stats, totals[:, None], classes], axis=1)
        runs = tf.pad(old[MAX_TENSORS:, :1] + 1.0, [[0, 0], [0, _WIDTH - 1]])
        self._table.assign(tf.concat([tf.pad(rows, [[0, MAX_TENSORS - count], [0, 0]]), runs], axis=0))
        return tf.constant(True)


def single_device(model: keras.Model) -> bool:
    """Whether the model trains without a distribution strategy that mirrors variables.

    Even a one-replica `MirroredStrategy` mirrors them, and their writes cannot sit inside
    a `tf.cond` (TensorFlow refuses a cross-replica merge there).
    """
    strategy = getattr(model, "distribute_strategy", None)
    return strategy is None or isinstance(strategy, tf.distribute.OneDeviceStrategy) or (
        type(strategy).__name__ == "_DefaultDistributionStrategy")


def _probe_variable(name: str, initial: tf.Tensor) -> tf.Variable:
    return tf.Variable(
        initial,
        trainable=False,
        name=name,
        # Under a distribution strategy each replica sees its own batch; the first
        # replica's statistics stand for the global batch.
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
    )


def _is_numeric(tensor: Any) -> bool:
    if not isinstance(tensor, tf.Tensor):
        return False
    dtype = tensor.dtype
    return dtype.is_floating or dtype.is_integer or dtype.is_bool


def _batch_stats(tensor: tf.Tensor, target: bool = False) -> tf.Tensor:
    """One row of `_COLUMNS` for a batch tensor; statistics over finite values only."""
    x = tf.cast(tensor, tf.float32)
    # Multi-label rows matter for targets only: inputs skip that pass.
    multi_hot = _multi_hot_rows(x) if target else tf.constant(0.0)
    x = tf.reshape(x, [tf.shape(x)[0], -1]) if x.shape.rank else tf.reshape(x, [1, 1])
    finite = tf.math.is_finite(x)
    safe = tf.where(finite, x, 0.0)
    ones = tf.cast(finite, tf.float32)
    count = tf.cast(tf.size(x), tf.float32)
    n_finite = tf.reduce_sum(ones)
    mean = tf.reduce_sum(safe) / tf.maximum(n_finite, 1.0)
    var = tf.reduce_sum(tf.where(finite, tf.square(x - mean), 0.0)) / tf.maximum(n_finite, 1.0)
    per_count = tf.maximum(tf.reduce_sum(ones, axis=0), 1.0)
    per_mean = tf.reduce_sum(safe, axis=0) / per_count
    per_var = tf.reduce_sum(tf.where(finite, tf.square(x - per_mean), 0.0), axis=0) / per_count
    return tf.stack([
        count,
        count - n_finite,
        tf.reduce_min(tf.where(finite, x, np.inf)),
        tf.reduce_max(tf.where(finite, x, -np.inf)),
        mean,
        tf.sqrt(var),
        tf.reduce_mean(tf.abs(per_mean)),
        tf.reduce_mean(tf.sqrt(per_var)),
        tf.cast(tf.reduce_all(tf.equal(safe, tf.round(safe))), tf.float32),
        multi_hot,
    ])


def _multi_hot_rows(x: tf.Tensor) -> tf.Tensor:
    """Rows (last-axis vectors) of a tensor of 0s and 1s holding two or more 1s; 0 for other tensors."""
    width = x.shape[-1] if x.shape.rank and x.shape.rank > 1 else 1
    if width is None or width < 2:
        return tf.constant(0.0)
    rows = tf.reshape(x, [-1, width])
    binary = tf.reduce_all(tf.equal(rows, 0.0) | tf.equal(rows, 1.0))
    several = tf.reduce_sum(tf.cast(tf.reduce_sum(rows, axis=1) >= 2.0, tf.float32))
    return tf.where(binary, several, 0.0)


@functools.lru_cache(maxsize=64)
def statistics_function(roles: tuple[str, ...]) -> Callable:
    """A compiled function from a batch's tensors (with these roles) to `(stats, classes)`.

    `stats` holds a `_COLUMNS` row per tensor, `classes` its class counts (targets only),
    both float64. Used inside the train step (`BatchProbe`); `batch_stats` computes the same
    numbers in NumPy for batches seen on the host.
    """
    # One trace per input shape: relaxed shapes could lose the rank the statistics rely on.
    return tf.function(functools.partial(_statistics, roles), autograph=False)


def _statistics(roles: tuple[str, ...], tensors: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
    """Per tensor: its `_COLUMNS` row, and its class counts (targets only), in float64."""
    stats = tf.stack([_batch_stats(t, role == "target") for role, t in zip(roles, tensors, strict=True)])
    classes = tf.stack([_class_counts(t) if role == "target" else tf.zeros([MAX_CLASSES])
                        for role, t in zip(roles, tensors, strict=True)])
    return tf.cast(stats, tf.float64), tf.cast(classes, tf.float64)


def _may_be_nonfinite(tensors: list[tf.Tensor]) -> tf.Tensor:
    """True if a floating tensor's sum is not finite: it holds a NaN or Inf (or is huge).

    One reduction per tensor; a false alarm (an overflowing sum) only costs the exact count.
    """
    sums = [tf.reduce_sum(tf.cast(t, tf.float32)) for t in tensors if t.dtype.is_floating]
    if not sums:
        return tf.constant(False)
    return tf.logical_not(tf.reduce_all(tf.math.is_finite(tf.stack(sums))))


def _class_counts(tensor: tf.Tensor) -> tf.Tensor:
    """`batch_stats.class_counts` in graph ops: the same counts, the same zeros (a test holds them equal)."""
    x = tf.cast(tensor, tf.float32)
    width = x.shape[-1] if x.shape.rank and x.shape.rank > 1 else 1
    if width is None or width > MAX_CLASSES:
        return tf.zeros([MAX_CLASSES])
    rows = tf.reshape(x, [-1, width])
    whole = tf.reduce_all(tf.equal(rows, tf.round(rows)))
    if width == 1:
        return _id_counts(rows[:, 0], whole)
    zeros_and_ones = tf.reduce_all((rows >= 0) & (rows <= 1))
    one_hot = whole & zeros_and_ones & tf.reduce_all(tf.equal(tf.reduce_sum(rows, 1), 1.0))
    counts = tf.where(one_hot, tf.pad(tf.reduce_sum(rows, axis=0), [[0, MAX_CLASSES - width]]), tf.zeros([MAX_CLASSES]))
    if x.shape.rank != 2:
        return counts
    # (batch, time) class ids: every position counted, unless they are 0s and 1s (multi-hot rows)
    return tf.where(zeros_and_ones, counts, _id_counts(tf.reshape(rows, [-1]), whole))


def _id_counts(ids: tf.Tensor, whole: tf.Tensor) -> tf.Tensor:
    """Labels per class id for ids 0..MAX_CLASSES-1; zeros unless every id is a whole number in range."""
    valid = whole & tf.reduce_all((ids >= 0) & (ids < MAX_CLASSES))
    counts = tf.math.bincount(tf.cast(tf.where(valid, ids, 0.0), tf.int32), minlength=MAX_CLASSES,
                              maxlength=MAX_CLASSES, dtype=tf.float32)
    return tf.where(valid, counts, tf.zeros([MAX_CLASSES]))
