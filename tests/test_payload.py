"""The event payload: round trips into typed records, and untrusted input."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorboard_plugin_scram.diagnostic import Confidence, Diagnostic, Severity
from tensorboard_plugin_scram.events import payload
from tensorboard_plugin_scram.events.records import BatchesRecord, BatchRecord, DiagnosticsRecord, EpochRecord


def make(**kw) -> Diagnostic:
    values = dict(check="nan_loss", severity=Severity.ERROR, title="t", explanation="e", suggestion="s",
                  snippet=None, evidence={"loss": float("nan"), "lr": 10.0}, step=3, epoch=0)
    return Diagnostic(**{**values, **kw})


def test_diagnostics_round_trip_with_non_finite_evidence():
    original = make(confidence=Confidence.HIGH, location="train.py:4")
    text = payload.encode_diagnostics([original])
    json.loads(text)  # strict JSON: no bare NaN
    assert "NaN" not in text
    record = payload.decode(text)
    assert isinstance(record, DiagnosticsRecord)
    [back] = record.diagnostics
    assert back.evidence == {"loss": "nan", "lr": 10.0}
    assert (back.check, back.severity, back.confidence, back.location) == ("nan_loss", Severity.ERROR,
                                                                          Confidence.HIGH, "train.py:4")


def test_epoch_record_round_trip_keeps_nan_metrics():
    record = payload.decode(payload.encode_epoch(9, 0, {"loss": float("inf"), "acc": 0.5}, {"fraction": 0.01}))
    assert isinstance(record, EpochRecord) and (record.step, record.epoch) == (9, 0)
    assert math.isinf(record.logs["loss"]) and record.logs["acc"] == 0.5 and record.cost == {"fraction": 0.01}


def test_batches_record_round_trip_keeps_order_and_nan():
    text = payload.encode_batches([(10, 0, {"loss": 2.0}), (20, 1, {"loss": float("nan"), "accuracy": 0.5})])
    record = payload.decode(text)
    assert isinstance(record, BatchesRecord)
    assert [(b.step, b.epoch) for b in record.batches] == [(10, 0), (20, 1)]
    assert math.isnan(record.batches[1].logs["loss"]) and record.batches[1].logs["accuracy"] == 0.5


def test_single_batch_records_of_earlier_versions_still_decode():
    record = payload.decode('{"schema": 1, "kind": "batch", "step": 4, "epoch": 0, "logs": {"loss": 1.5}}')
    assert record == BatchesRecord((BatchRecord(step=4, epoch=0, logs={"loss": 1.5}),))


def test_records_are_typed_and_frozen():
    record = payload.decode(payload.encode_epoch(3, 1, {"loss": 0.5}, {}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.step = 4  # type: ignore[misc]
    assert record == EpochRecord(step=3, epoch=1, logs={"loss": 0.5}, cost={})


def test_the_format_version_lives_in_the_series_metadata_not_in_payloads():
    # One versioning mechanism: `metadata.PLUGIN_DATA_VERSION`. The payload's own "schema"
    # field of earlier versions is neither written nor judged.
    assert "schema" not in json.loads(payload.encode_diagnostics([make()]))
    for schema in (1, 99, "x"):
        record = payload.decode(json.dumps({"schema": schema, "kind": "diagnostics", "diagnostics": []}))
        assert record == DiagnosticsRecord(())


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"schema": 1, "kind": "weird"}',
        b'{"schema": 1, "kind": "diagnostics", "diagnostics": [{"check": 1}]}',
        b'{"schema": 1, "kind": "diagnostics", "diagnostics": [{"check": "a", "severity": "fatal"}]}',
        b'{"schema": 1, "kind": "epoch", "step": "3", "epoch": 0}',
        b'{"schema": 1, "kind": "batches", "batches": {"step": 3}}',
        b'{"schema": 1, "kind": "batches", "batches": [3]}',
        b'{"schema": 1, "kind": "batches", "batches": [{"step": 3, "epoch": null}]}',
        b"\xff\xfe",
        b"[" * 100000,
    ],
)
def test_bad_payloads_raise_payload_error(raw):
    with pytest.raises(payload.PayloadError):
        payload.decode(raw)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20))
def test_decoder_only_ever_raises_payload_error(value):
    for candidate in (value, {"kind": "diagnostics", "diagnostics": value},
                      {"kind": "diagnostics", "diagnostics": [value]}, {"kind": "batches", "batches": [value]}):
        try:
            text = json.dumps(candidate)
        except ValueError:
            continue
        try:
            payload.decode(text)
        except payload.PayloadError:
            pass
