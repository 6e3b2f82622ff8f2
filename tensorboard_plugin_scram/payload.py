"""The JSON payload of SCRAM's events, with a schema version.

Every SCRAM event holds one JSON document in a scalar string tensor:
`{"schema": 1, "kind": "diagnostics", "diagnostics": [...]}` for diagnostics,
`{"schema": 1, "kind": "epoch", ...}` and `{"schema": 1, "kind": "batches", "batches": [...]}`
for the training curves and SCRAM's own cost (earlier versions wrote one sampled batch per
record, `"kind": "batch"`, which is still read). Readers must treat payloads as untrusted:
`decode` raises `PayloadError` for anything malformed, and callers skip and count such records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from tensorboard_plugin_scram.diagnostic import Diagnostic, json_safe

SCHEMA_VERSION = 1

# Payloads beyond this size are refused, so a hostile event file cannot make a reader
# hold or render megabytes of text.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


class PayloadError(ValueError):
    """A payload that is not a valid SCRAM record (corrupt, foreign or newer)."""


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


def decode(raw: bytes | str) -> dict[str, Any]:
    """Parses and validates a payload; returns the record as a dict.

    Diagnostics records get their `diagnostics` list turned into `Diagnostic` objects.
    Non-finite metric values written as "nan"/"inf" are turned back into floats.

    Raises:
        PayloadError: if the payload is not valid JSON, has an unknown kind or a newer
            schema, or has fields of the wrong type.
    """
    record = _load(raw)
    kind = record.get("kind")
    if kind == "diagnostics":
        items = record.get("diagnostics")
        if not isinstance(items, list):
            raise PayloadError("diagnostics must be a list")
        try:
            record["diagnostics"] = [Diagnostic.from_json(item) for item in items]
        except ValueError as error:
            raise PayloadError(str(error)) from error
    elif kind in ("epoch", "batch"):
        _check_point(record)
        if kind == "epoch":
            record["cost"] = _numbers(record.get("cost", {}), "cost")
    elif kind == "batches":
        items = record.get("batches")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise PayloadError("batches must be a list of objects")
        for item in items:
            _check_point(item)
    else:
        raise PayloadError(f"unknown record kind {kind!r}")
    return record


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(json_safe({"schema": SCHEMA_VERSION, **record}), separators=(",", ":"))


def _load(raw: bytes | str) -> dict[str, Any]:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise PayloadError("payload is not JSON") from error
    if not isinstance(record, dict):
        raise PayloadError("payload is not a JSON object")
    schema = record.get("schema")
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise PayloadError("payload has no schema version")
    if schema > SCHEMA_VERSION:
        raise PayloadError(f"payload schema {schema} is newer than this SCRAM ({SCHEMA_VERSION})")
    return record


def _check_point(record: dict[str, Any]) -> None:
    """Validates a point of a curve (`step`, `epoch`, `logs`) in place."""
    _require_int(record, "step")
    _require_int(record, "epoch")
    record["logs"] = _numbers(record.get("logs", {}), "logs")


def _require_int(record: Mapping[str, Any], key: str) -> None:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{key} must be an integer")


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
