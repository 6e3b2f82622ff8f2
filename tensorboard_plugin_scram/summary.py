"""Writes SCRAM's records as TensorBoard summary events.

One scalar string tensor holding a JSON payload (see `payload`) per record, under the
tags of `metadata`, in a run directory of SCRAM's own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

from tensorboard_plugin_scram import metadata, payload
from tensorboard_plugin_scram.diagnostic import Diagnostic


class ScramSummaryWriter:
    """Appends SCRAM's records to an event file in `run_dir`.

    TensorBoard's Rust data server drops stored records whose step is not strictly
    greater than the last one of the same tag, so each tag's event steps are kept
    strictly increasing here. The event step is only a storage key: the diagnostic's
    own `step` field is the truth readers show.

    Args:
        run_dir: The run directory, created if missing.
        flush_secs: How often buffered records reach the disk at the latest.
    """

    def __init__(self, run_dir: str, flush_secs: float = 5.0) -> None:
        self._run_dir = run_dir
        self._flush_secs = flush_secs
        self._writer: EventFileWriter | None = None
        self._last_step: dict[str, int] = {}

    def write_diagnostics(self, step: int, diagnostics: Iterable[Diagnostic], flush: bool = True) -> None:
        """Writes one record holding these diagnostics (nothing if there are none)."""
        diagnostics = list(diagnostics)
        if diagnostics:
            self._write(metadata.DIAGNOSTICS_TAG, step, payload.encode_diagnostics(diagnostics))
            if flush:
                self.flush()

    def write_epoch(self, step: int, epoch: int, logs: Mapping[str, float], cost: Mapping[str, float]) -> None:
        """Writes the epoch's metrics and SCRAM's cost so far."""
        self._write(metadata.EPOCH_TAG, step, payload.encode_epoch(step, epoch, logs, cost))

    def write_batch(self, step: int, epoch: int, logs: Mapping[str, float]) -> None:
        """Writes one sampled batch's running metrics (the chart's fine-grained curve)."""
        self._write(metadata.BATCH_TAG, step, payload.encode_batch(step, epoch, logs))

    def flush(self) -> None:
        """Pushes buffered records to the file, so they survive the process dying."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Closes the event file; a later write opens a new one in the same run."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _write(self, tag: str, step: int, text: str) -> None:
        step = max(step, self._last_step.get(tag, -1) + 1)
        self._last_step[tag] = step
        value = summary_pb2.Summary.Value(
            tag=tag,
            metadata=metadata.create_summary_metadata(tag),
            tensor=tensor_util.make_tensor_proto(np.array(text.encode("utf-8"), dtype=object)),
        )
        event = event_pb2.Event(wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=[value]))
        if self._writer is None:
            os.makedirs(self._run_dir, exist_ok=True)
            self._writer = EventFileWriter(self._run_dir, flush_secs=self._flush_secs)
        self._writer.add_event(event)
