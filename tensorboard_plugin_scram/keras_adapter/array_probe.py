"""Batch statistics read from the arrays given to `fit()`, without touching the train step.

When `fit()` gets NumPy arrays, SCRAM knows the data: a sampled batch is taken from the
arrays on the host (the very batch when `shuffle=False`, a random one of the same size
otherwise, which is what a shuffled batch is) and summarised in NumPy: the same
statistics `BatchProbe` computes inside the train step (a test holds the two to the same
numbers), at a fifth of the cost of calling TensorFlow for a batch. The train step stays
exactly as Keras built it. NaN/Inf values are counted over all the training data once,
before the first batch, so they are reported before training has used any of them.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from tensorboard_plugin_scram.keras_adapter.probes import MAX_CLASSES, MAX_TENSORS, leaves, tensor_stats
from tensorboard_plugin_scram.keras_adapter.source import take_rows
from tensorboard_plugin_scram.observations import TensorStats

# Above this many values (over all arrays) the data are not scanned whole for NaN/Inf (a
# memory-mapped data set could be far larger than memory): `BatchProbe` screens each batch
# inside the train step instead.
MAX_SCANNED_VALUES = 2**28
_CHUNK_VALUES = 2**20


class ArrayProbe:
    """Statistics of sampled training batches, taken from the arrays passed to `fit()`.

    Args:
        arguments: `fit()`'s arguments (`source.fit_arguments()`): `x`, `y`,
            `batch_size`, `shuffle`, `validation_split`.
        batch_size: The batch size of the fit.
        embedding_inputs: Input names that feed an Embedding layer (`"*"`: any
            integer-valued input).
    """

    # Batches are read from the arrays when asked for: `request` has nothing to arrange.
    needs_requests = False

    def __init__(self, arguments: dict, batch_size: int, embedding_inputs: tuple[str, ...] = ()) -> None:
        x, y = _training_part(arguments)
        named = [(n, "input", a) for n, a in leaves(x, "x")] + [(n, "target", a) for n, a in leaves(y, "y")]
        self._named = [(n, role, a) for n, role, a in named if _is_numeric(a)][:MAX_TENSORS]
        self._rows = len(self._named[0][2]) if self._named else 0
        self._batch_size = max(1, min(int(batch_size), self._rows or 1))
        # shuffle="batch" keeps each batch's rows (only their order within it changes).
        self._ordered = arguments.get("shuffle", True) in (False, "batch")
        self._embedding_inputs = embedding_inputs
        self._totals: dict[str, int] = {}
        self._rng = np.random.default_rng(0)  # SCRAM's own: the user's random state is left alone

    @staticmethod
    def suits(arguments: dict) -> bool:
        """Whether the arrays are small enough to be scanned whole for NaN/Inf."""
        return sum(a.size for _, a in leaves(_training_part(arguments), "data") if hasattr(a, "size")) \
            <= MAX_SCANNED_VALUES

    def install(self) -> None:
        """Counts NaN/Inf over all the training data."""
        self._totals = {name: _nonfinite(array) for name, _, array in self._named}

    def uninstall(self) -> None:
        """Nothing to undo: the model was never touched."""

    def request(self, wanted: bool) -> None:
        """Nothing to arrange: batches are read from the arrays when asked for."""

    def read(self, batch: int = 0) -> tuple[TensorStats, ...] | None:
        """Statistics of the `batch`-th batch since `fit()` began (`shuffle=False`), or of a random one.

        Counting since `fit()` began, not per epoch: with `steps_per_epoch` below the data's
        batches Keras goes on through the data across epochs, and starts over only once
        all of it was used, so the count modulo the batches is the batch Keras took.
        """
        if not self._named or not self._rows:
            return None
        rows = self._batch_rows(batch)
        result = []
        # Overflows and empty features give inf/NaN statistics, as in TensorFlow, not warnings.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for name, role, array in self._named:
                batch_rows = array[rows]
                classes = class_counts(batch_rows) if role == "target" else np.zeros(MAX_CLASSES)
                result.append(tensor_stats(name, role, batch_statistics(batch_rows, role == "target"), classes,
                                           self._totals.get(name, 0), self._embedding_inputs))
        return tuple(result)

    def _batch_rows(self, batch: int) -> np.ndarray | slice:
        if self._ordered:
            batches = math.ceil(self._rows / self._batch_size)
            start = (batch % batches) * self._batch_size
            return slice(start, min(start + self._batch_size, self._rows))
        return np.sort(self._rng.integers(0, self._rows, self._batch_size))


def batch_statistics(batch: np.ndarray, target: bool = False) -> np.ndarray:
    """`probes._batch_stats` in NumPy: one row of its columns, over finite values only."""
    x = batch.reshape(len(batch), -1).astype(np.float32, copy=False)
    column_sums = x.sum(axis=0, dtype=np.float32)
    multi_hot = multi_hot_rows(batch) if target else 0.0
    # A NaN or Inf anywhere makes the sum non-finite (so may an overflow: then the exact
    # path below decides). Data are nearly always finite, and this costs no extra pass.
    if np.isfinite(column_sums.sum(dtype=np.float64)):
        return np.append(_finite_statistics(x, column_sums), multi_hot)
    return np.append(_masked_statistics(x), multi_hot)


def multi_hot_rows(batch: np.ndarray) -> float:
    """`probes._multi_hot_rows` in NumPy: rows of 0s and 1s holding two or more 1s."""
    width = batch.shape[-1] if batch.ndim > 1 else 1
    if width < 2:
        return 0.0
    rows = batch.reshape(-1, width).astype(np.float32, copy=False)
    if not np.all((rows == 0) | (rows == 1)):
        return 0.0
    return float(np.count_nonzero(rows.sum(axis=1) >= 2))


def _finite_statistics(x: np.ndarray, column_sums: np.ndarray) -> np.ndarray:
    rows, count = max(len(x), 1), float(x.size)
    per_mean = column_sums / np.float32(rows)
    per_square = np.square(x - per_mean).sum(axis=0, dtype=np.float32)
    mean = column_sums.sum(dtype=np.float32) / max(count, 1.0)
    # Squares about the batch mean = squares about each column's mean + each column's shift.
    square = per_square.sum(dtype=np.float64) + rows * np.square(per_mean - mean, dtype=np.float64).sum()
    return np.array([
        count, 0.0, x.min(initial=np.inf), x.max(initial=-np.inf), mean,
        np.sqrt(square / max(count, 1.0)),
        np.abs(per_mean).mean(),
        np.sqrt(per_square / np.float32(rows)).mean(),
        float(_integral(x)),
    ], np.float64)


def _masked_statistics(x: np.ndarray) -> np.ndarray:
    finite = np.isfinite(x)
    safe, n_finite = np.where(finite, x, np.float32(0.0)), float(np.count_nonzero(finite))
    per_count = np.maximum(finite.sum(axis=0, dtype=np.float32), np.float32(1.0))
    mean = safe.sum(dtype=np.float32) / max(n_finite, 1.0)
    per_mean = safe.sum(axis=0, dtype=np.float32) / per_count
    deviation, per_deviation = safe - np.float32(mean), safe - per_mean
    deviation[~finite] = 0.0
    per_deviation[~finite] = 0.0
    return np.array([
        float(x.size),
        float(x.size) - n_finite,
        safe.min(where=finite, initial=np.inf),
        safe.max(where=finite, initial=-np.inf),
        mean,
        np.sqrt(np.square(deviation).sum(dtype=np.float32) / max(n_finite, 1.0)),
        np.abs(per_mean).mean(),
        np.sqrt(np.square(per_deviation).sum(axis=0, dtype=np.float32) / per_count).mean(),
        float(_integral(safe)),
    ], np.float64)


def _integral(x: np.ndarray) -> bool:
    # Non-integral data usually show it in their first row: no full pass for them.
    return bool(len(x) == 0 or (np.array_equal(x[0], np.round(x[0])) and np.array_equal(x, np.round(x))))


def class_counts(batch: np.ndarray) -> np.ndarray:
    """`probes._class_counts` in NumPy: samples per class id or one-hot column, else zeros."""
    counts = np.zeros(MAX_CLASSES)
    width = batch.shape[-1] if batch.ndim > 1 else 1
    if not 0 < width <= MAX_CLASSES:
        return counts
    rows = batch.reshape(-1, width).astype(np.float32, copy=False)
    if not np.array_equal(rows, np.round(rows)):  # NaN, fractions: not class labels
        return counts
    if width == 1:
        ids = rows[:, 0]
        if ids.size and (ids.min() < 0 or ids.max() >= MAX_CLASSES):
            return counts
        return np.bincount(ids.astype(np.int64), minlength=MAX_CLASSES).astype(np.float64)
    if rows.min(initial=0) >= 0 and rows.max(initial=0) <= 1 and np.all(rows.sum(axis=1) == 1):
        counts[:width] = rows.sum(axis=0)
    return counts


def training_label_counts(arguments: dict) -> dict[str, tuple[int, ...]]:
    """Samples per class of each class-label array `fit()` trains on, by target name ({} for other data).

    One pass over the labels, before the first batch: the checks then know the true class
    frequencies, not only those of the sampled batches.
    """
    if not ArrayProbe.suits(arguments):
        return {}
    counts = {}
    for name, array in leaves(_training_part(arguments)[1], "y"):
        if _is_numeric(array) and len(array):
            per_class = [int(c) for c in class_counts(array)]
            while per_class and not per_class[-1]:
                per_class.pop()
            if per_class:
                counts[name] = tuple(per_class)
    return counts


def _training_part(arguments: dict) -> tuple[Any, Any]:
    """`x` and `y` without the part `validation_split` holds out (Keras takes the last rows)."""
    x, y = arguments.get("x"), arguments.get("y")
    split = arguments.get("validation_split") or 0.0
    if not split or arguments.get("validation_data") is not None:
        return x, y
    rows = len(leaves(x, "x")[0][1])
    keep = int(math.floor(rows * (1.0 - split)))
    if keep in (0, rows):
        return x, y
    return take_rows(x, slice(0, keep)), take_rows(y, slice(0, keep))


def _is_numeric(array: Any) -> bool:
    # As in the train step: real numbers and booleans (complex ones are left out).
    return isinstance(array, np.ndarray) and array.ndim >= 1 and (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
        or array.dtype == np.bool_)


def _nonfinite(array: np.ndarray) -> int:
    """NaN/Inf values in an array, in chunks so no full-size temporary is made."""
    if not np.issubdtype(array.dtype, np.floating):
        return 0
    flat = array.reshape(len(array), -1)
    per_chunk = max(1, _CHUNK_VALUES // max(flat.shape[1], 1))
    return sum(_chunk_nonfinite(flat[i:i + per_chunk]) for i in range(0, len(flat), per_chunk))


def _chunk_nonfinite(chunk: np.ndarray) -> int:
    # A finite sum proves every value finite, for less than testing each one (an
    # overflowing sum only costs the exact count).
    with np.errstate(all="ignore"):
        if np.isfinite(chunk.sum()):
            return 0
    return int(np.count_nonzero(~np.isfinite(chunk)))
