"""In-graph statistics of each training batch, read cheaply by the callback.

Keras 3 callbacks receive no data. This module wraps the model's `train_step` so that,
inside the compiled step, a few reductions per input and target tensor are written into
a small `tf.Variable`. The callback reads that variable (a few hundred bytes) on the
batches it samples; whole batches never leave the device. A second variable accumulates
NaN/Inf counts over every batch, so sampling misses none. Extra keys in `logs` would
also work but leak into History, the progress bar and Keras' TensorBoard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tensorboard_plugin_scram.observations import TensorStats

MAX_TENSORS = 16
_COLUMNS = ("count", "nonfinite", "min", "max", "mean", "std", "feature_mean_abs", "feature_std", "integral")


class BatchProbe:
    """Statistics of the inputs and targets of the batch last trained on.

    Args:
        model: The Keras model being trained (TensorFlow backend).
        embedding_inputs: Input names that feed an Embedding layer (`"*"`: any
            integer-valued input).
        on_error: Called with the exception if the statistics cannot be built.
        recorders: More graph-building functions called with each step's data inside
            the wrapped train step, before the step itself (e.g.
            `InternalsProbe.record`). Each must guard itself against errors.
    """

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
        self._stats: tf.Variable | None = None
        self._totals: tf.Variable | None = None

    def install(self) -> None:
        """Wraps `model.train_step` and rebuilds the train function around it."""
        model = self._model
        with model.distribute_strategy.scope():
            self._stats = _probe_variable("scram_batch_stats", [MAX_TENSORS, len(_COLUMNS)])
            self._totals = _probe_variable("scram_nonfinite_totals", [MAX_TENSORS])
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

    def read(self) -> tuple[TensorStats, ...]:
        """The last recorded batch's statistics (empty before the first batch)."""
        if self._stats is None or not self._names:
            return ()
        rows = self._stats.numpy()
        totals = self._totals.numpy()
        return tuple(
            self._tensor_stats(name, role, rows[i], totals[i]) for i, (name, role) in enumerate(self._names)
        )

    def _tensor_stats(self, name: str, role: str, row: np.ndarray, total: float) -> TensorStats:
        values = dict(zip(_COLUMNS, row.tolist()))
        integral = bool(values.pop("integral"))
        token_ids = role == "input" and integral and (
            "*" in self._embedding_inputs or name in self._embedding_inputs
        )
        return TensorStats(
            name=name,
            role=role,
            count=int(values.pop("count")),
            nonfinite=int(values.pop("nonfinite")),
            nonfinite_total=int(total),
            integral=integral,
            feeds_embedding=token_ids,
            **values,
        )

    def _record(self, data: Any) -> None:
        # Runs while Keras traces the train step: Python here builds graph ops once.
        try:
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            named = [(n, "input", t) for n, t in _leaves(x, "x")] + [(n, "target", t) for n, t in _leaves(y, "y")]
            named = [(n, role, t) for n, role, t in named if _is_numeric(t)][:MAX_TENSORS]
            if not named:
                return
            rows = tf.stack([_batch_stats(t) for _, _, t in named])
            padded = tf.pad(rows, [[0, MAX_TENSORS - len(named)], [0, 0]])
            self._stats.assign(padded)
            self._totals.assign_add(padded[:, 1])
            self._names = [(n, role) for n, role, _ in named]
        except Exception as error:  # never let statistics break the user's train step
            self._names = []
            if self._on_error is not None:
                self._on_error(error)


def _probe_variable(name: str, shape: list[int]) -> tf.Variable:
    return tf.Variable(
        tf.zeros(shape, tf.float32),
        trainable=False,
        name=name,
        # Under a distribution strategy each replica sees its own batch; the first
        # replica's statistics stand for the global batch.
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
    )


def _leaves(value: Any, prefix: str) -> list[tuple[str, Any]]:
    """`(name, tensor)` pairs: dict keys, `x[1]` for list items, `x` for one tensor."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [leaf for key in sorted(value, key=str) for leaf in _leaves(value[key], str(key))]
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return _leaves(value[0], prefix)
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, f"{prefix}[{i}]")]
    return [(prefix, value)]


def _is_numeric(tensor: Any) -> bool:
    if not isinstance(tensor, tf.Tensor):
        return False
    dtype = tensor.dtype
    return dtype.is_floating or dtype.is_integer or dtype.is_bool


def _batch_stats(tensor: tf.Tensor) -> tf.Tensor:
    """One row of `_COLUMNS` for a batch tensor; statistics over finite values only."""
    x = tf.cast(tensor, tf.float32)
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
    ])
