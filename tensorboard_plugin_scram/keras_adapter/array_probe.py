"""Batch statistics read from the arrays given to `fit()`, without touching the train step.

When `fit()` gets NumPy arrays, SCRAM knows the data: a sampled batch is taken from the
arrays on the host (the very batch when `shuffle=False`, a random one of the same size
otherwise, which is what a shuffled batch is) and summarised in NumPy (`batch_stats`),
at a fifth of the cost of calling TensorFlow for a batch. The train step stays exactly
as Keras built it. NaN/Inf values are counted over all the training data once,
before the first batch, so they are reported before training has used any of them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tensorboard_plugin_scram.keras_adapter.batch_stats import (
    class_counts,
    is_numeric_array,
    leaves,
    named_leaves,
    nonfinite_count,
    summarize_batch,
)
from tensorboard_plugin_scram.keras_adapter.source import take_rows
from tensorboard_plugin_scram.observations import TensorStats

# Above this many values (over all arrays) the data are not scanned whole for NaN/Inf (a
# memory-mapped data set could be far larger than memory): the batches are then screened
# as they pass the train step instead.
MAX_SCANNED_VALUES = 2**28


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
        self._named = named_leaves(*_training_part(arguments), is_numeric_array)
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
        self._totals = {name: nonfinite_count(array) for name, _, array in self._named}

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
        named = [(name, role, array[rows]) for name, role, array in self._named]
        return summarize_batch(named, self._totals, self._embedding_inputs)

    def _batch_rows(self, batch: int) -> np.ndarray | slice:
        if self._ordered:
            batches = math.ceil(self._rows / self._batch_size)
            start = (batch % batches) * self._batch_size
            return slice(start, min(start + self._batch_size, self._rows))
        return np.sort(self._rng.integers(0, self._rows, self._batch_size))


def training_label_counts(arguments: dict) -> dict[str, tuple[int, ...]]:
    """Samples per class of each class-label array `fit()` trains on, by target name ({} for other data).

    One pass over the labels, before the first batch: the checks then know the true class
    frequencies, not only those of the sampled batches.
    """
    if not ArrayProbe.suits(arguments):
        return {}
    counts = {}
    for name, array in leaves(_training_part(arguments)[1], "y"):
        if is_numeric_array(array) and len(array):
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
