"""The event payload: round trips, schema versions, and untrusted input."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorboard_plugin_scram import payload
from tensorboard_plugin_scram.diagnostic import Confidence, Diagnostic, Severity


def make(**kw) -> Diagnostic:
    values = dict(check="nan_loss", severity=Severity.ERROR, title="t", explanation="e", suggestion="s",
                  snippet=None, evidence={"loss": float("nan"), "lr": 10.0}, step=3, epoch=0)
    return Diagnostic(**{**values, **kw})


def test_diagnostics_round_trip_with_non_finite_evidence():
    original = make(confidence=Confidence.HIGH, location="train.py:4")
    text = payload.encode_diagnostics([original])
    json.loads(text)  # strict JSON: no bare NaN
    assert "NaN" not in text
    [back] = payload.decode(text)["diagnostics"]
    assert back.evidence == {"loss": "nan", "lr": 10.0}
    assert (back.check, back.severity, back.confidence, back.location) == ("nan_loss", Severity.ERROR,
                                                                          Confidence.HIGH, "train.py:4")


def test_epoch_record_round_trip_keeps_nan_metrics():
    record = payload.decode(payload.encode_epoch(9, 0, {"loss": float("inf"), "acc": 0.5}, {"fraction": 0.01}))
    assert math.isinf(record["logs"]["loss"]) and record["cost"] == {"fraction": 0.01}


def test_batches_record_round_trip_keeps_order_and_nan():
    text = payload.encode_batches([(10, 0, {"loss": 2.0}), (20, 1, {"loss": float("nan"), "accuracy": 0.5})])
    record = payload.decode(text)
    assert [(b["step"], b["epoch"]) for b in record["batches"]] == [(10, 0), (20, 1)]
    assert math.isnan(record["batches"][1]["logs"]["loss"]) and record["batches"][1]["logs"]["accuracy"] == 0.5


def test_single_batch_records_of_earlier_versions_still_decode():
    record = payload.decode('{"schema": 1, "kind": "batch", "step": 4, "epoch": 0, "logs": {"loss": 1.5}}')
    assert (record["step"], record["logs"]) == (4, {"loss": 1.5})


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"kind": "diagnostics", "diagnostics": []}',                 # no schema
        b'{"schema": 99, "kind": "diagnostics", "diagnostics": []}',   # newer schema
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
    for candidate in (value, {"schema": 1, "kind": "diagnostics", "diagnostics": value},
                      {"schema": 1, "kind": "diagnostics", "diagnostics": [value]}):
        try:
            text = json.dumps(candidate)
        except ValueError:
            continue
        try:
            payload.decode(text)
        except payload.PayloadError:
            pass
