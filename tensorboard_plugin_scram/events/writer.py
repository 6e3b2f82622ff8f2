"""Writes SCRAM's records as TensorBoard summary events.

One scalar string tensor holding a JSON payload (see `payload`) per record, under the
tags of `metadata`, in a run directory of SCRAM's own, local or remote (`storage`).
"""

from __future__ import annotations

import collections
import io
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import NamedTuple

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
# A remote event file is uploaded whole at each flush (object stores cannot append); past
# this size the next record starts a new file, so that one upload costs at most this much.
REMOTE_FILE_BYTES = 4 * 1024 * 1024
# At `close`, how long to wait for the remote uploads still under way before going on.
CLOSE_WAIT_SECS = 10.0


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

    A remote run directory (`s3://`, `gs://`, ...; see `storage`) is written by
    `RemoteEventFile`: records collect in memory and each flush hands the whole file to an
    uploader thread, so a slow or unreachable store never holds up the training. A failed
    upload is reported once per outage and retried every `retry_secs` with the newest
    contents, so the records written meanwhile arrive once the store answers again. Memory
    stays bounded: at `REMOTE_FILE_BYTES` a new file is started, and while the previous one
    is still waiting for its upload the new records are dropped instead (two files and the
    copies handed to the uploader: at most about 4 x `REMOTE_FILE_BYTES`, 16 MiB, per writer).
    `close` waits up to `CLOSE_WAIT_SECS` for the uploads.

    Args:
        run_dir: The run directory, created if missing.
        flush_secs: How often buffered records reach the disk (or the store) at the latest.
        on_error: Called with `("event writer", exception)` for each failure.
        retry_secs: How long to drop records after a failure before trying a new file, or
            to wait before uploading again after a failed upload (default `RETRY_SECS`).
    """

    def __init__(self, run_dir: str, flush_secs: float = 5.0, on_error: ErrorHook | None = None,
                 retry_secs: float | None = None) -> None:
        self._run_dir = run_dir
        self._flush_secs = flush_secs
        self._on_error = on_error
        self._retry_secs = RETRY_SECS if retry_secs is None else retry_secs
        self._retry_at = 0.0
        self._writer: EventFile | None = None
        self._uploader = None if storage.is_local(run_dir) else Uploader(self._retry_secs)
        self._file: str | None = None
        self._last_step: dict[str, int] = {}
        # Records handed to an event file, by tag (not those dropped while a failure lasts).
        self.records_written: collections.Counter[str] = collections.Counter()
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
        """Closes the event file; a later write opens a new one in the same run.

        In a remote run directory it waits up to `CLOSE_WAIT_SECS` for the uploads; those
        still unfinished then go on in the background while the process lives.
        """
        self._write_batches()
        writer, self._writer = self._writer, None
        if writer is not None:
            self._guard(writer.close)
        if self._uploader is not None and not self._uploader.wait_idle(CLOSE_WAIT_SECS):
            self._report(TimeoutError(f"SCRAM's records in {self._run_dir} are not all uploaded after "
                                      f"{CLOSE_WAIT_SECS:g} s; the upload goes on while this process lives"))
        self._report_upload_error()

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

        def add() -> None:
            self._open().add_event(event)
            self.records_written[tag] += 1

        self._guard(add)
        self._report_upload_error()
        if time.monotonic() - self._flushed_at >= self._flush_secs:
            self.flush()

    def _open(self) -> EventFile:
        if self._writer is not None and self._file is not None and not self._writer.exists():
            deleted, self._writer = self._writer, None  # what it holds now goes nowhere
            _close_quietly(deleted)
            self._report(FileNotFoundError(f"the event file {self._file} was deleted; SCRAM goes on in a new one"))
        if self._writer is not None and self._writer.full():
            self._start_next_file()
        if self._writer is None:
            if time.monotonic() < self._retry_at:
                raise _Dropped()
            self._writer = self._new_file()
            self._file = self._writer.path
        return self._writer

    def _new_file(self) -> EventFile:
        fs = storage.gfile(path=self._run_dir)
        if self._uploader is None:
            return EventFile(self._run_dir, fs)
        return RemoteEventFile(self._run_dir, fs, self._uploader)

    def _start_next_file(self) -> None:
        """Closes a full remote file, unless the one before it still waits for its upload."""
        assert self._writer is not None and self._uploader is not None
        if self._uploader.waiting_besides(self._writer.path):
            raise _Dropped()  # the store is down or slow: two files in memory at most
        full, self._writer = self._writer, None
        full.close()

    def _report_upload_error(self) -> None:
        error = self._uploader.take_error() if self._uploader is not None else None
        if error is not None:
            self._report(error)

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
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(self._counter)}"
        self.path = storage.join(run_dir, name)
        self._records = RecordWriter(self._open_stream(run_dir))
        # The header event TensorBoard expects first in a file.
        self.add_event(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2",
                                       source_metadata=event_pb2.SourceMetadata(writer="tensorboard_plugin_scram")))
        self.flush()

    def _open_stream(self, run_dir: str) -> object:
        """Where the records' bytes go: the file itself."""
        self._fs.makedirs(run_dir)
        return self._fs.GFile(self.path, "wb")

    def add_event(self, event: event_pb2.Event) -> None:
        self._records.write(event.SerializeToString())

    def exists(self) -> bool:
        """Whether the file is still there (a log dir removed mid-run takes it along)."""
        return bool(self._fs.exists(self.path))

    def full(self) -> bool:
        """Whether the next record should go to a new file (a local file grows as long as it likes)."""
        return False

    def flush(self) -> None:
        self._records.flush()

    def close(self) -> None:
        self._records.close()


class RemoteEventFile(EventFile):
    """One new event file in a remote `run_dir`, held in memory and uploaded whole at each flush.

    Object stores cannot append, so TensorBoard's own writer (and `tf.io.gfile` on `gs://`)
    rewrites the whole object at each flush too; here the upload runs on `uploader`'s
    thread, never on the training's. Each upload replaces the object at once, so readers
    only ever see whole records.

    Args:
        run_dir: The remote run directory.
        fs: The file layer for it (`storage.gfile(path=run_dir)`).
        uploader: The thread that uploads this writer's files, oldest first.
    """

    def __init__(self, run_dir: str, fs: ModuleType, uploader: Uploader) -> None:
        self._run_dir, self._uploader, self._buffer = run_dir, uploader, io.BytesIO()
        super().__init__(run_dir, fs)

    def _open_stream(self, run_dir: str) -> object:
        """Memory: the uploader makes the directory and the file (off the training's thread)."""
        return self._buffer

    def exists(self) -> bool:
        """Always: a store's object deleted meanwhile comes back whole with the next upload."""
        return True

    def full(self) -> bool:
        return self._buffer.tell() >= REMOTE_FILE_BYTES

    def flush(self) -> None:
        self._uploader.submit(_Upload(self.path, self._buffer.getvalue(), self._fs, self._run_dir))

    def close(self) -> None:
        self.flush()


class _Upload(NamedTuple):
    path: str
    data: bytes
    fs: ModuleType
    run_dir: str


# TensorBoard's S3 layer makes a boto3 client per call from boto3's default session, which is
# not safe to use from several threads at once: SCRAM's uploads, of all writers, go one at a time.
_ONE_UPLOAD_AT_A_TIME = threading.Lock()


class Uploader:
    """Uploads remote event files, whole, on a daemon thread of its own; the oldest file first.

    A file submitted again before its upload replaces the waiting contents (they are a
    prefix of the new ones). A failed upload is retried after `retry_secs` with the newest
    contents; its error is kept for `take_error` (the first of each outage), so that the
    writer reports it on the training's thread. The thread ends when nothing waits.
    """

    def __init__(self, retry_secs: float) -> None:
        self._retry_secs = retry_secs
        self._waiting: list[_Upload] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._made: set[str] = set()
        self._failing = False
        self._error: BaseException | None = None

    def submit(self, upload: _Upload) -> None:
        with self._changed:
            same = [i for i, waiting in enumerate(self._waiting) if waiting.path == upload.path]
            if same:
                self._waiting[same[0]] = upload
            else:
                self._waiting.append(upload)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="scram-event-upload", daemon=True)
                self._thread.start()

    def waiting_besides(self, path: str) -> bool:
        """Whether a file other than `path` still waits for its upload."""
        with self._changed:
            return any(waiting.path != path for waiting in self._waiting)

    def take_error(self) -> BaseException | None:
        """The first error of the current outage, once."""
        with self._changed:
            error, self._error = self._error, None
            return error

    def wait_idle(self, timeout: float) -> bool:
        """Waits until every submitted file is uploaded; False if `timeout` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._waiting, timeout)

    def _run(self) -> None:
        while True:
            with self._changed:
                if not self._waiting:
                    self._thread = None
                    return
                upload = self._waiting[0]
            error = self._upload(upload)
            with self._changed:
                if error is None and self._waiting[0] is upload:  # else newer contents came meanwhile
                    self._waiting.pop(0)
                if error is not None and not self._failing:
                    self._error = error
                self._failing = error is not None
                self._changed.notify_all()
            if error is not None:
                time.sleep(self._retry_secs)

    def _upload(self, upload: _Upload) -> BaseException | None:
        try:
            with _ONE_UPLOAD_AT_A_TIME:
                if upload.run_dir not in self._made:
                    upload.fs.makedirs(upload.run_dir)
                    self._made.add(upload.run_dir)
                with upload.fs.GFile(upload.path, "wb") as handle:
                    handle.write(upload.data)
        except Exception as error:  # boto3's, fsspec's, TensorFlow's errors: all reported, then retried
            return error
        return None


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
