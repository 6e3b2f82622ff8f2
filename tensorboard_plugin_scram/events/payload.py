"""The JSON payload of SCRAM's events: one record per event, encoded and decoded here.

Every SCRAM event holds one JSON document in a scalar string tensor:
`{"kind": "diagnostics", "diagnostics": [...]}` for diagnostics, `{"kind": "epoch", ...}`
and `{"kind": "batches", "batches": [...]}` for the training curves and SCRAM's own cost
(earlier versions wrote one sampled batch per record, `"kind": "batch"`, which is still
read). The format's version is the series' metadata (`metadata.PLUGIN_DATA_VERSION`), not
the payload's: a `"schema"` field written by earlier versions is ignored.

Readers must treat payloads as untrusted: `decode` raises `PayloadError` for anything
malformed, and callers skip and count such records. A batches payload in exactly the form
`encode_batches` writes (`is_plain_batches`) is sure to decode, so readers may leave it
undecoded until its batches are asked for, and still count skipped records exactly.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tensorboard_plugin_scram.diagnostic import Diagnostic, json_safe
from tensorboard_plugin_scram.events.records import (
    BatchesRecord,
    BatchRecord,
    DiagnosticsRecord,
    EpochRecord,
    Record,
)

# Payloads beyond this size are refused, so a hostile event file cannot make a reader
# hold or render megabytes of text.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


# The form `encode_batches` writes: compact ASCII JSON, at least one batch, integer steps and
# epochs, metrics whose values are numbers or strings. Every alternative starts with its own
# character, so matching never backtracks, whatever the input; anything else is decoded at once.
_STRING = rb'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
_INTEGER = rb"-?(?:0|[1-9][0-9]*)"
_METRIC = _STRING + rb":(?:" + _INTEGER + rb"(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|" + _STRING + rb")"
_BATCH = (rb'\{"step":' + _INTEGER + rb',"epoch":' + _INTEGER + rb',"logs":\{(?:' + _METRIC + rb"(?:," + _METRIC
          + rb")*)?\}\}")
_PLAIN_BATCHES = re.compile(rb'\{"kind":"batches","batches":\[' + _BATCH + rb"(?:," + _BATCH + rb")*\]\}")
# A batch's step in a plain batches payload: `"logs":{` cannot follow inside a batch's metrics.
_PLAIN_BATCH_STEP = re.compile(rb'\{"step":(' + _INTEGER + rb'),"epoch":' + _INTEGER + rb',"logs":\{')


class PayloadError(ValueError):
    """A payload that is not a valid SCRAM record (corrupt or foreign)."""


def encode_diagnostics(diagnostics: Iterable[Diagnostic]) -> str:
    """The payload of one diagnostics record."""
    return _dump({"kind": "diagnostics", "diagnostics": [d.to_json() for d in diagnostics]})


def encode_epoch(step: int, epoch: int, logs: Mapping[str, float], cost: Mapping[str, float]) -> str:
    """The payload of one end-of-epoch record: metrics and SCRAM's cost so far."""
    return _dump({"kind": "epoch", "step": step, "epoch": epoch, "logs": dict(logs), "cost": dict(cost)})


def encode_batches(batches: Iterable[tuple[int, int, Mapping[str, float]]]) -> str:
    """The payload of one record of sampled batches: `(step, epoch, running metrics)` each."""
    return _dump({"kind": "batches", "batches": [{"step": step, "epoch": epoch, "logs": dict(logs)}
                                                 for step, epoch, logs in batches]})


def decode(raw: bytes | str) -> Record:
    """Parses and validates a payload into its typed record.

    Non-finite metric values written as "nan"/"inf" are turned back into floats; a
    single-batch record of earlier versions becomes a `BatchesRecord` of one batch.

    Raises:
        PayloadError: if the payload is not valid JSON, has an unknown kind, or has
            fields of the wrong type.
    """
    record = _load(raw)
    kind = record.get("kind")
    if kind == "diagnostics":
        return DiagnosticsRecord(_diagnostics(record.get("diagnostics")))
    if kind == "epoch":
        point = _batch(record)
        return EpochRecord(point.step, point.epoch, point.logs, _numbers(record.get("cost", {}), "cost"))
    if kind == "batch":
        return BatchesRecord((_batch(record),))
    if kind == "batches":
        items = record.get("batches")
        if not isinstance(items, list):
            raise PayloadError("batches must be a list")
        return BatchesRecord(tuple(_batch(item) for item in items))
    raise PayloadError(f"unknown record kind {kind!r}")


def is_plain_batches(raw: bytes | str) -> bool:
    """Whether a payload is a batches record in the writer's own form, which `decode` never refuses.

    Checking is about ten times cheaper than decoding; a payload it is not sure of (another
    writer's spacing, non-ASCII text, a malformed record) is not plain and must be decoded.
    """
    if isinstance(raw, str):
        try:
            raw = raw.encode("ascii")
        except UnicodeEncodeError:
            return False
    return len(raw) <= MAX_PAYLOAD_BYTES and _PLAIN_BATCHES.fullmatch(raw) is not None


def plain_batches_last_step(raw: bytes | str) -> int:
    """The largest batch step of a payload `is_plain_batches` accepted, without decoding it."""
    data = raw.encode("ascii") if isinstance(raw, str) else raw
    return max(int(step) for step in _PLAIN_BATCH_STEP.findall(data))


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(json_safe(record), separators=(",", ":"))


def _load(raw: bytes | str) -> dict[str, Any]:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise PayloadError("payload is not JSON") from error
    if not isinstance(record, dict):
        raise PayloadError("payload is not a JSON object")
    return record


def _diagnostics(items: Any) -> tuple[Diagnostic, ...]:
    if not isinstance(items, list):
        raise PayloadError("diagnostics must be a list")
    try:
        return tuple(Diagnostic.from_json(item) for item in items)
    except ValueError as error:
        raise PayloadError(str(error)) from error


def _batch(item: Any) -> BatchRecord:
    """A point of a curve (`step`, `epoch`, `logs`), validated."""
    if not isinstance(item, Mapping):
        raise PayloadError("a batch must be an object")
    return BatchRecord(_int(item, "step"), _int(item, "epoch"), _numbers(item.get("logs", {}), "logs"))


def _int(record: Mapping[str, Any], key: str) -> int:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{key} must be an integer")
    return value


def _numbers(value: Any, name: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{name} must be an object")
    numbers = {}
    for key, item in value.items():
        number = _number(item)
        if number is not None:
            numbers[str(key)] = number
    return numbers


def _number(item: Any) -> float | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, float):
        return item
    if isinstance(item, int):
        return float(item) if abs(item) < 2**1023 else None
    if isinstance(item, str):
        try:
            number = float(item)
        except ValueError:
            return None
        return number if not math.isfinite(number) else None
    return None
