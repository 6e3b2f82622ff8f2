"""Reads SCRAM's records back from event files, without TensorFlow.

Used by the `scram` command and `tensorboard_plugin_scram.read`. The TensorBoard plugin
reads through TensorBoard's data provider instead (`provider_reader`); both gather records
with `collector.RunCollector`. Files are read through TensorBoard's file layer (`storage`),
so a log directory can be anywhere TensorBoard reads one (`s3://...`, fsspec URLs). Event
files are untrusted: truncated or corrupt data ends a file's reading, and records that do
not decode, or belong to a series written by a newer SCRAM, are skipped and counted,
never raised.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator

from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

from tensorboard_plugin_scram.events import metadata, storage
from tensorboard_plugin_scram.events.collector import RunCollector
from tensorboard_plugin_scram.events.records import RunRecords

_HEADER = struct.Struct("<QI")
# A record longer than this is taken for corruption rather than read into memory.
_MAX_RECORD_BYTES = 64 * 1024 * 1024
# Files are read in pieces this large: one request per piece on a remote store, rather
# than three per record.
_CHUNK_BYTES = 4 * 1024 * 1024


def read_logdir(logdir: str, run_filter: Callable[[str], object] | None = None) -> list[RunRecords]:
    """Every run under `logdir` (recursively) that holds SCRAM records, by run name.

    Args:
        logdir: A local path or a URL of TensorBoard's file layer.
        run_filter: Only runs whose name it is true for are read (e.g. a compiled regex's `search`).
    """
    found = [(run, path) for run, path in find_run_dirs(logdir) if run_filter is None or run_filter(run)]
    runs = (read_run(path, run) for run, path in found)
    return [records for records in runs if not records.empty]


def find_run_dirs(logdir: str) -> list[tuple[str, str]]:
    """`(run name, directory)` of every directory holding event files, like TensorBoard."""
    found = []
    logdir = storage.directory(logdir)
    for directory, dirnames, filenames in storage.gfile(path=logdir).walk(logdir):
        dirnames.sort()
        if any(is_event_file(name) for name in filenames):
            run = os.path.relpath(directory, logdir).replace(os.sep, "/")
            found.append((run, directory))
    return sorted(found)


def read_run(directory: str, run: str) -> RunRecords:
    """SCRAM's records from the event files directly inside `directory`."""
    collector = RunCollector(run)
    names = sorted(n for n in storage.gfile(path=directory).listdir(directory) if is_event_file(n))
    for name in names:
        for tag, raw, readable in scram_values(os.path.join(directory, name)):
            if readable:
                collector.add(tag, raw)
            else:
                collector.skip()
    return collector.records()


def scram_values(path: str) -> Iterator[tuple[str, bytes, bool]]:
    """`(tag, tensor bytes, readable)` of every SCRAM summary value in one event file.

    A tag is SCRAM's from its first value marked with SCRAM's metadata on; that value's
    metadata version says whether this SCRAM can read the series (`readable`).
    """
    readable: dict[str, bool] = {}
    for data in _records(path):
        try:
            event = event_pb2.Event.FromString(data)
        except Exception:  # protobuf raises DecodeError and others for garbage
            continue
        for value in event.summary.value:
            plugin_data = value.metadata.plugin_data
            if plugin_data.plugin_name == metadata.PLUGIN_NAME and value.tag not in readable:
                readable[value.tag] = metadata.is_readable(plugin_data.content)
            if value.tag in readable and value.tensor.string_val:
                yield value.tag, value.tensor.string_val[0], readable[value.tag]


def is_event_file(name: str) -> bool:
    """Whether a file name is a TensorBoard event file's."""
    return "tfevents" in name


def _records(path: str) -> Iterator[bytes]:
    """The records of a TFRecord file; stops at the first truncated or corrupt header."""
    try:
        handle = storage.gfile(path=path).GFile(path, "rb")
    except Exception:  # OSError, or the file layer's NotFoundError
        return
    with handle:
        yield from _split_records(_chunks(handle))


def _chunks(handle) -> Iterator[bytes]:
    while True:
        chunk = handle.read(_CHUNK_BYTES)
        if not chunk:
            return
        yield chunk


def _split_records(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """TFRecord framing (length, its CRC, data, data's CRC) over a file read in pieces."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        offset = 0
        while len(buffer) - offset >= _HEADER.size:
            header = bytes(buffer[offset:offset + _HEADER.size])
            length, length_crc = _HEADER.unpack(header)
            if masked_crc32c(header[:8]) != length_crc or length > _MAX_RECORD_BYTES:
                return
            end = offset + _HEADER.size + length + 4
            if end > len(buffer):
                break  # the record goes on in the next piece
            yield bytes(buffer[offset + _HEADER.size:end - 4])
            offset = end
        del buffer[:offset]
