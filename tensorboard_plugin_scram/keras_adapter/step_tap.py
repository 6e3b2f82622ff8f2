"""Statistics of the batches a JAX or PyTorch train step takes, seen in Python on their way in.

On those backends Keras hands each batch to its train function from Python (for JAX, an
iterator the compiled step draws from). `StepTap` wraps that function: every batch in
host memory is screened for NaN/Inf (one sum per floating tensor), and the batches the
callback asks for, or that hold a NaN or Inf, are summarised in NumPy (`batch_stats`), as
batches read from arrays are. A batch already on an accelerator (Keras on JAX puts a
`PyDataset`'s batches on the GPU before its step) is only read when asked for: copying
every batch back to the host would cost more than the step. The callback also reads the
batch where the loss turned NaN, so a NaN that came with the data is named as such on a
GPU too. The step itself is not changed. The last batch seen is kept (a reference, no
copy) so that the model's internals can be measured on training data when no arrays were
given to `fit()`, and so that a batch passed over can still be read afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from tensorboard_plugin_scram.keras_adapter.batch_stats import (
    is_numeric_array,
    named_leaves,
    nonfinite_count,
    summarize_batch,
)
from tensorboard_plugin_scram.keras_adapter.internals import GradientPass, InternalsProbe, PassPreparer
from tensorboard_plugin_scram.observations import LossInfo, TensorStats

# Rows of the last batch the internals are measured on.
SAMPLE_ROWS = 32


class StepTap:
    """Batch statistics of the data passing Keras' train function (JAX, PyTorch).

    Args:
        model: The Keras model being trained.
        embedding_inputs: Input names that feed an Embedding layer (`"*"`: any
            integer-valued input).
        on_error: Called with the exception if a batch cannot be summarised; the tap
            then stays out of the way.
        wrap: The backend's `(model, see) -> undo`: makes the train function show each
            batch to `see`.
        to_numpy: The backend's tensor-to-NumPy conversion.
    """

    # Whether `request` must be told, at each step, if the next one is sampled.
    needs_requests = True

    def __init__(self, model: keras.Model, embedding_inputs: tuple[str, ...] = (),
                 on_error: Callable[[BaseException], None] | None = None,
                 wrap: Callable[[keras.Model, Callable[[Any], None]], Callable[[], None]] | None = None,
                 to_numpy: Callable[[Any], np.ndarray] = np.asarray) -> None:
        self._model = model
        self._embedding_inputs = embedding_inputs
        self._on_error = on_error
        self._wrap = wrap
        self._to_numpy = to_numpy
        self._undo: Callable[[], None] | None = None
        self._wanted = True
        self._pending: tuple[TensorStats, ...] | None = None
        self._totals: dict[str, int] = {}
        self._latest: Any = None
        self._latest_read = False
        self._broken = False

    def install(self) -> None:
        """Wraps the model's train function (Keras built it before `on_train_begin`)."""
        self._undo = self._wrap(self._model, self._see)

    def uninstall(self) -> None:
        """Gives the model back its own train function."""
        if self._undo is not None:
            self._undo()
            self._undo = None
        self._latest = None

    def request(self, wanted: bool) -> None:
        """Whether the next batches are summarised (batches with NaN/Inf always are)."""
        self._wanted = wanted

    def read(self, batch: int = 0) -> tuple[TensorStats, ...] | None:
        """The statistics of the last batch summarised since the last read, else None.

        The callback reads on a sampled step, on an epoch's last and where the loss turned
        NaN: a batch left on an accelerator at that step is copied and summarised now.
        """
        if self._pending is None and self._latest is not None and not self._latest_read:
            self._look_at(self._latest, wanted=True)
        stats, self._pending = self._pending, None
        return stats

    def latest_sample(self) -> tuple[Any, Any] | None:
        """Up to `SAMPLE_ROWS` rows `(x, y)` of the last batch seen, as NumPy arrays, or None."""
        if self._latest is None:
            return None
        x, y, _ = keras.utils.unpack_x_y_sample_weight(self._latest)
        if y is None:
            return None
        rows = keras.tree.map_structure(lambda t: self._to_numpy(t)[:SAMPLE_ROWS], (x, y))
        return rows[0], rows[1]

    def _see(self, data: Any) -> None:
        if self._broken:  # switched off: no batch is held either
            return
        self._latest, self._latest_read = data, False
        self._look_at(data, self._wanted)

    def _look_at(self, data: Any, wanted: bool) -> None:
        if self._broken:
            return
        try:
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            if not wanted and not all(_on_host(t) for t in keras.tree.flatten((x, y)) if _has_shape(t)):
                return
            self._latest_read = True
            named = [(n, role, self._to_numpy(t)) for n, role, t in named_leaves(x, y, _has_shape)]
            named = [(n, role, a) for n, role, a in named if is_numeric_array(a)]
            bad = {n: nonfinite_count(a) for n, _, a in named}
            for name, count in bad.items():
                self._totals[name] = self._totals.get(name, 0) + count
            if wanted or any(bad.values()):
                self._pending = summarize_batch(named, self._totals, self._embedding_inputs)
        except Exception as error:  # a batch SCRAM cannot read must never stop the step
            self._broken, self._latest = True, None
            if self._on_error is not None:
                self._on_error(error)


def _has_shape(tensor: Any) -> bool:
    return hasattr(tensor, "shape") and hasattr(tensor, "dtype")


def _on_host(tensor: Any) -> bool:
    """Whether NumPy can read the tensor without a copy from an accelerator (JAX, PyTorch, NumPy)."""
    device = getattr(tensor, "device", None)
    kind = getattr(device, "type", None) or getattr(device, "platform", None)
    return kind is None or kind == "cpu"


class PythonStepProbes:
    """The probes of a backend whose batches pass through Python into the step (JAX, PyTorch).

    Args:
        gradient_pass: The backend's forward and backward pass of a sample.
        wrap: The backend's `(model, see) -> undo` around its train function.
        to_numpy: The backend's tensor-to-NumPy conversion.
        prepare: The backend's `PassPreparer`, if readying its pass early pays.
    """

    def __init__(self, gradient_pass: GradientPass,
                 wrap: Callable[[keras.Model, Callable[[Any], None]], Callable[[], None]],
                 to_numpy: Callable[[Any], np.ndarray], prepare: PassPreparer | None = None) -> None:
        self._gradient_pass = gradient_pass
        self._prepare = prepare
        self._wrap = wrap
        self._to_numpy = to_numpy

    def internals_probe(self, model: keras.Model, losses: Sequence[LossInfo | str],
                        on_error: Callable[[BaseException], None]) -> InternalsProbe:
        return InternalsProbe(model, losses, on_error=on_error, gradient_pass=self._gradient_pass,
                              prepare=self._prepare)

    def step_probe(self, model: keras.Model, embedding_inputs: tuple[str, ...],
                   on_error: Callable[[BaseException], None], recorders: Sequence[Callable[[Any], None]] = (),
                   ) -> StepTap:
        """A `StepTap`; `recorders` (graph code of TensorFlow's in-step probe) have no place here."""
        return StepTap(model, embedding_inputs, on_error=on_error, wrap=self._wrap, to_numpy=self._to_numpy)
