"""Writes SCRAM's records as TensorBoard summary events.

One scalar string tensor holding a JSON payload (see `payload`) per record, under the
tags of `metadata`, in a run directory of SCRAM's own.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

from tensorboard_plugin_scram.diagnostic import Diagnostic
from tensorboard_plugin_scram.events import metadata, payload, storage

# Called with `(where, exception)` when the writer fails; see `ScramSummaryWriter`.
ErrorHook = Callable[[str, BaseException], None]
# After a failure, records are dropped for this long before a new event file is tried.
RETRY_SECS = 30.0
# Sampled batches are written together, at most this many per record.
MAX_BATCHES_PER_RECORD = 100


class ScramSummaryWriter:
    """Appends SCRAM's records to an event file in `run_dir`.

    TensorBoard's Rust data server drops stored records whose step is not strictly
    greater than the last one of the same tag, so each tag's event steps are kept
    strictly increasing here. The event step is only a storage key: the diagnostic's
    own `step` field is the truth readers show.

    Faults: with `on_error`, the writer never raises. A failing directory or file (read-only,
    full disk) is reported to `on_error`, the records meanwhile are dropped, and a new file
    is tried after `retry_secs`. An event file deleted while open (the log_dir removed
    mid-run) is noticed at the next record written, reported, and replaced by a new one.
    Without `on_error`, failures raise.

    Args:
        run_dir: The run directory, created if missing.
        flush_secs: How often buffered records reach the disk at the latest.
        on_error: Called with `("event writer", exception)` for each failure.
        retry_secs: How long to drop records after a failure before trying a new file
            (default `RETRY_SECS`).
    """

    def __init__(self, run_dir: str, flush_secs: float = 5.0, on_error: ErrorHook | None = None,
                 retry_secs: float | None = None) -> None:
        self._run_dir = run_dir
        self._flush_secs = flush_secs
        self._on_error = on_error
        self._retry_secs = RETRY_SECS if retry_secs is None else retry_secs
        self._retry_at = 0.0
        self._writer: EventFile | None = None
        self._file: str | None = None
        self._last_step: dict[str, int] = {}
        self._metadata: dict[str, summary_pb2.SummaryMetadata] = {}
        self._batches: list[tuple[int, int, dict[str, float]]] = []
        self._batches_since = 0.0
        self._flushed_at = time.monotonic()

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
        """Adds one sampled batch's running metrics to the chart's fine-grained curve.

        Batches are written together, one record per `MAX_BATCHES_PER_RECORD` or per
        `flush_secs` at most (and at each `flush`): a record per sampled batch would cost
        the training a serialisation and a checksum each time.
        """
        if not self._batches:
            self._batches_since = time.monotonic()
        self._batches.append((step, epoch, dict(logs)))
        if len(self._batches) >= MAX_BATCHES_PER_RECORD or time.monotonic() - self._batches_since >= self._flush_secs:
            self._write_batches()

    def flush(self) -> None:
        """Pushes buffered records to the file, so they survive the process dying."""
        self._write_batches()
        self._flushed_at = time.monotonic()
        if self._writer is not None:
            self._guard(self._writer.flush)

    def close(self) -> None:
        """Closes the event file; a later write opens a new one in the same run."""
        self._write_batches()
        writer, self._writer = self._writer, None
        if writer is not None:
            self._guard(writer.close)

    def _write_batches(self) -> None:
        if self._batches:
            batches, self._batches = self._batches, []
            self._write(metadata.BATCH_TAG, batches[-1][0], payload.encode_batches(batches))

    def _write(self, tag: str, step: int, text: str) -> None:
        step = max(step, self._last_step.get(tag, -1) + 1)
        self._last_step[tag] = step
        if tag not in self._metadata:
            self._metadata[tag] = metadata.create_summary_metadata(tag)
        value = summary_pb2.Summary.Value(tag=tag, metadata=self._metadata[tag], tensor=_string_scalar(text))
        event = event_pb2.Event(wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=[value]))
        self._guard(lambda: self._open().add_event(event))
        if time.monotonic() - self._flushed_at >= self._flush_secs:
            self.flush()

    def _open(self) -> EventFile:
        if self._writer is not None and self._file is not None and not self._writer.exists():
            deleted, self._writer = self._writer, None  # what it holds now goes nowhere
            _close_quietly(deleted)
            self._report(FileNotFoundError(f"the event file {self._file} was deleted; SCRAM goes on in a new one"))
        if self._writer is None:
            if time.monotonic() < self._retry_at:
                raise _Dropped()
            self._writer = EventFile(self._run_dir, storage.gfile())
            self._file = self._writer.path
        return self._writer

    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except _Dropped:
            pass
        except Exception as error:  # OSError, and TensorFlow's errors when gfile is TF's
            if self._on_error is None:
                raise
            broken, self._writer = self._writer, None
            self._retry_at = time.monotonic() + self._retry_secs
            _close_quietly(broken)
            self._report(error)

    def _report(self, error: BaseException) -> None:
        if self._on_error is not None:
            self._on_error("event writer", error)


class _Dropped(Exception):
    """A record dropped while the writer waits to retry after a failure."""


class EventFile:
    """One new event file in `run_dir`, written in TensorBoard's record format through `fs`.

    Records go to the file as they come (SCRAM writes a few per epoch, each flushed at
    once when it matters), so unlike TensorBoard's `EventFileWriter` there is no queue
    and no writer thread.

    Args:
        run_dir: The run directory, created if missing.
        fs: The file layer (`storage.gfile()`).
    """

    _counter = itertools.count()

    def __init__(self, run_dir: str, fs: ModuleType) -> None:
        self._fs = fs
        fs.makedirs(run_dir)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(self._counter)}"
        self.path = f"{run_dir.rstrip('/')}/{name}" if "://" in run_dir else os.path.join(run_dir, name)
        self._records = RecordWriter(fs.GFile(self.path, "wb"))
        self.add_event(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2",
                                       source_metadata=event_pb2.SourceMetadata(writer="tensorboard_plugin_scram")))
        self.flush()

    def add_event(self, event: event_pb2.Event) -> None:
        self._records.write(event.SerializeToString())

    def exists(self) -> bool:
        """Whether the file is still there (a log dir removed mid-run takes it along)."""
        return bool(self._fs.exists(self.path))

    def flush(self) -> None:
        self._records.flush()

    def close(self) -> None:
        self._records.close()


def _close_quietly(writer: EventFile | None) -> None:
    if writer is None:
        return
    try:
        writer.close()
    except Exception:
        pass


def _string_scalar(text: str) -> tensor_pb2.TensorProto:
    """A scalar string tensor (what `tf.constant(text)` would store)."""
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                                  string_val=[text.encode("utf-8")])
