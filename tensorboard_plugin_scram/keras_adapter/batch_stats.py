"""Statistics of one batch's tensors, in NumPy: what the input and target checks read.

Every way SCRAM sees a batch (the arrays given to `fit()`, the data passing a JAX or
PyTorch train step, TensorFlow's in-graph probe) ends in the same `TensorStats`: a row of
`COLUMNS` per tensor plus its class counts. The NumPy functions here are the reference;
TensorFlow's in-graph twin (`backends/tensorflow/batch_probe.py`) is held to the same
numbers by a test.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorboard_plugin_scram.observations import TensorStats

MAX_TENSORS = 16
COLUMNS = ("count", "nonfinite", "min", "max", "mean", "std", "feature_mean_abs", "feature_std", "integral",
           "multi_hot_rows")
# Class counts are kept for label ids 0..MAX_CLASSES-1 (or that many one-hot columns).
MAX_CLASSES = 64


def leaves(value: Any, prefix: str) -> list[tuple[str, Any]]:
    """`(name, tensor)` pairs: dict keys, `x[1]` for list items, `x` for one tensor."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [leaf for key in sorted(value, key=str) for leaf in leaves(value[key], str(key))]
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return leaves(value[0], prefix)
        return [leaf for i, item in enumerate(value) for leaf in leaves(item, f"{prefix}[{i}]")]
    return [(prefix, value)]


def named_leaves(x: Any, y: Any, numeric: Any) -> list[tuple[str, str, Any]]:
    """`(name, role, tensor)` of the inputs then the targets that `numeric` accepts, at most `MAX_TENSORS`."""
    named = [(n, "input", t) for n, t in leaves(x, "x")] + [(n, "target", t) for n, t in leaves(y, "y")]
    return [(n, role, t) for n, role, t in named if numeric(t)][:MAX_TENSORS]


def is_numeric_array(array: Any) -> bool:
    """A NumPy array of real numbers or booleans (complex ones are left out, as in the train step)."""
    return isinstance(array, np.ndarray) and array.ndim >= 1 and (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
        or array.dtype == np.bool_)


def summarize_batch(named: Sequence[tuple[str, str, np.ndarray]], totals: dict[str, int],
                    embedding_inputs: tuple[str, ...] = ()) -> tuple[TensorStats, ...]:
    """`TensorStats` of each named array of one batch; `totals`: NaN/Inf seen so far per name."""
    result = []
    # Overflows and empty features give inf/NaN statistics, as in TensorFlow, not warnings.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, role, array in named:
            classes = class_counts(array) if role == "target" else np.zeros(MAX_CLASSES)
            result.append(tensor_stats(name, role, batch_statistics(array, role == "target"), classes,
                                       totals.get(name, 0), embedding_inputs))
    return tuple(result)


def tensor_stats(name: str, role: str, stats: np.ndarray, classes: np.ndarray, nonfinite_total: float,
                 embedding_inputs: tuple[str, ...] = ()) -> TensorStats:
    """`TensorStats` from one tensor's `COLUMNS` row and class counts."""
    values = dict(zip(COLUMNS, stats.tolist(), strict=True))
    integral = bool(values.pop("integral"))
    multi_hot_rows = int(values.pop("multi_hot_rows"))
    token_ids = role == "input" and integral and ("*" in embedding_inputs or name in embedding_inputs)
    counts = [int(c) for c in classes.tolist()]
    while counts and not counts[-1]:
        counts.pop()
    return TensorStats(
        name=name,
        role=role,
        count=int(values.pop("count")),
        nonfinite=int(values.pop("nonfinite")),
        nonfinite_total=int(nonfinite_total),
        integral=integral,
        feeds_embedding=token_ids,
        class_counts=tuple(counts),
        multi_hot_rows=multi_hot_rows,
        **values,
    )


def batch_statistics(batch: np.ndarray, target: bool = False) -> np.ndarray:
    """One row of `COLUMNS` for a batch array, over its finite values only."""
    x = batch.reshape(len(batch), -1).astype(np.float32, copy=False)
    column_sums = x.sum(axis=0, dtype=np.float32)
    multi_hot = multi_hot_rows(batch) if target else 0.0
    # A NaN or Inf anywhere makes the sum non-finite (so may an overflow: then the exact
    # path below decides). Data are nearly always finite, and this costs no extra pass.
    if np.isfinite(column_sums.sum(dtype=np.float64)):
        return np.append(_finite_statistics(x, column_sums), multi_hot)
    return np.append(_masked_statistics(x), multi_hot)


def multi_hot_rows(batch: np.ndarray) -> float:
    """Rows (last-axis vectors) of 0s and 1s holding two or more 1s; 0 for other arrays."""
    width = batch.shape[-1] if batch.ndim > 1 else 1
    if width < 2:
        return 0.0
    rows = batch.reshape(-1, width).astype(np.float32, copy=False)
    if not np.all((rows == 0) | (rows == 1)):
        return 0.0
    return float(np.count_nonzero(rows.sum(axis=1) >= 2))


def class_counts(batch: np.ndarray) -> np.ndarray:
    """How many labels of the batch have each class (zeros if not class labels).

    Class ids (one value per sample) are counted for ids 0..MAX_CLASSES-1; one-hot rows of
    up to MAX_CLASSES columns are summed column by column. Sequence labels are counted at
    every position: one-hot rows per time step `(batch, time, classes)`, ids per time step
    `(batch, time)` or `(batch, time, 1)`, so the counts are the real class frequencies of
    the positions the loss scores. A 2-D array of 0s and 1s that is not one-hot (multi-hot
    labels, or binary tags per position: the loss alone tells them apart) and anything
    else (ids out of range, wider or soft labels, non-integer targets) gives zeros.
    Integer regression targets do give counts: whether the loss is a classification loss
    is the check's call.
    """
    counts = np.zeros(MAX_CLASSES)
    width = batch.shape[-1] if batch.ndim > 1 else 1
    if not 0 < width <= MAX_CLASSES:
        return counts
    rows = batch.reshape(-1, width).astype(np.float32, copy=False)
    if not np.array_equal(rows, np.round(rows)):  # NaN, fractions: not class labels
        return counts
    if width == 1:
        return _id_counts(rows[:, 0])
    if rows.min(initial=0) >= 0 and rows.max(initial=0) <= 1:
        if np.all(rows.sum(axis=1) == 1):
            counts[:width] = rows.sum(axis=0)
        return counts  # multi-hot, or binary tags per position: not told apart here
    return _id_counts(rows.reshape(-1)) if batch.ndim == 2 else counts


def _id_counts(ids: np.ndarray) -> np.ndarray:
    """Labels per class id, for ids 0..MAX_CLASSES-1 (zeros if any id is out of that range)."""
    if ids.size and (ids.min() < 0 or ids.max() >= MAX_CLASSES):
        return np.zeros(MAX_CLASSES)
    return np.bincount(ids.astype(np.int64), minlength=MAX_CLASSES).astype(np.float64)


def nonfinite_count(array: np.ndarray) -> int:
    """NaN/Inf values in an array, in chunks so that no full-size temporary is made."""
    if not np.issubdtype(array.dtype, np.floating):
        return 0
    flat = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
    per_chunk = max(1, _CHUNK_VALUES // max(flat.shape[1], 1))
    return sum(_chunk_nonfinite(flat[i:i + per_chunk]) for i in range(0, len(flat), per_chunk))


_CHUNK_VALUES = 2**20


def _chunk_nonfinite(chunk: np.ndarray) -> int:
    # A finite sum proves every value finite, for less than testing each one (an
    # overflowing sum only costs the exact count).
    with np.errstate(all="ignore"):
        if np.isfinite(chunk.sum()):
            return 0
    return int(np.count_nonzero(~np.isfinite(chunk)))


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
