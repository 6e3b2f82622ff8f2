"""Reads SCRAM's records back from event files on disk, without TensorFlow.

Used by the `scram` command. The TensorBoard plugin reads through TensorBoard's data
provider instead; both decode records with `payload.decode`. Event files are untrusted:
truncated or corrupt data ends a file's reading, and records that do not decode are
skipped and counted, never raised.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Iterator

from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

from tensorboard_plugin_scram import metadata, payload
from tensorboard_plugin_scram.diagnostic import Diagnostic

_HEADER = struct.Struct("<QI")
# A record longer than this is taken for corruption rather than read into memory.
_MAX_RECORD_BYTES = 64 * 1024 * 1024


@dataclasses.dataclass
class RunRecords:
    """Everything SCRAM wrote into one run.

    Attributes:
        run: The run's name as TensorBoard shows it (path relative to the logdir).
        diagnostics: Diagnostics ordered by step.
        epochs: Decoded end-of-epoch records (metrics and cost), in order.
        batches: Sampled batches (dicts of `step`, `epoch`, `logs`), in order.
        skipped: Records that could not be decoded.
        views: Views derived from these records, kept by the plugin while they are unchanged.
    """

    run: str
    diagnostics: list[Diagnostic] = dataclasses.field(default_factory=list)
    epochs: list[dict] = dataclasses.field(default_factory=list)
    batches: list[dict] = dataclasses.field(default_factory=list)
    skipped: int = 0
    views: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)


def read_logdir(logdir: str) -> list[RunRecords]:
    """Every run under `logdir` (recursively) that holds SCRAM records, by run name."""
    runs = []
    for run, path in find_run_dirs(logdir):
        records = read_run(path, run)
        if records.diagnostics or records.epochs or records.batches or records.skipped:
            runs.append(records)
    return runs


def find_run_dirs(logdir: str) -> list[tuple[str, str]]:
    """`(run name, directory)` of every directory holding event files, like TensorBoard."""
    found = []
    for directory, dirnames, filenames in os.walk(logdir):
        dirnames.sort()
        if any(_is_event_file(name) for name in filenames):
            run = os.path.relpath(directory, logdir).replace(os.sep, "/")
            found.append((run, directory))
    return sorted(found)


def read_run(directory: str, run: str) -> RunRecords:
    """SCRAM's records from the event files directly inside `directory`."""
    records = RunRecords(run=run)
    names = sorted(n for n in os.listdir(directory) if _is_event_file(n))
    for name in names:
        for tag, raw in _scram_values(os.path.join(directory, name)):
            add_record(records, tag, raw)
    records.diagnostics.sort(key=lambda d: d.step)
    return records


def add_record(records: RunRecords, tag: str, raw: object) -> None:
    """Decodes one stored payload into `records`; counts it as skipped if it is bad."""
    if not isinstance(raw, (bytes, str)):
        records.skipped += 1
        return
    try:
        record = payload.decode(raw)
    except payload.PayloadError:
        records.skipped += 1
        return
    kind = record["kind"]
    if kind == "diagnostics" and tag == metadata.DIAGNOSTICS_TAG:
        records.diagnostics.extend(record["diagnostics"])
    elif kind == "epoch" and tag == metadata.EPOCH_TAG:
        records.epochs.append(record)
    elif kind == "batch" and tag == metadata.BATCH_TAG:
        records.batches.append(record)
    elif kind == "batches" and tag == metadata.BATCH_TAG:
        records.batches.extend(record["batches"])
    else:
        records.skipped += 1


def _scram_values(path: str) -> Iterator[tuple[str, bytes]]:
    """`(tag, tensor bytes)` of every SCRAM summary value in one event file."""
    scram_tags: set[str] = set()
    for data in _records(path):
        try:
            event = event_pb2.Event.FromString(data)
        except Exception:  # protobuf raises DecodeError and others for garbage
            continue
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == metadata.PLUGIN_NAME:
                scram_tags.add(value.tag)
            if value.tag in scram_tags and value.tensor.string_val:
                yield value.tag, value.tensor.string_val[0]


def _records(path: str) -> Iterator[bytes]:
    """The records of a TFRecord file; stops at the first truncated or corrupt header."""
    try:
        handle = open(path, "rb")
    except OSError:
        return
    with handle:
        while True:
            header = handle.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            length, length_crc = _HEADER.unpack(header)
            if masked_crc32c(header[:8]) != length_crc or length > _MAX_RECORD_BYTES:
                return
            data = handle.read(length)
            footer = handle.read(4)
            if len(data) < length or len(footer) < 4:
                return
            yield data


def _is_event_file(name: str) -> bool:
    return "tfevents" in name
