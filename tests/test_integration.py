"""Real tiny trainings with the paper's three faults and healthy runs, read back by `scram report`."""

from __future__ import annotations

import math

import pytest

from tests.builders import report_json

pytestmark = pytest.mark.training

ALARMS = ("warning", "error")


@pytest.fixture(scope="module")
def diagnostics(trained_logdir) -> list[dict]:
    return report_json(trained_logdir)


def _of(diagnostics: list[dict], run: str) -> list[dict]:
    return [d for d in diagnostics if d["run"] == f"{run}/scram"]


def test_every_diagnostic_has_the_public_fields(diagnostics):
    assert diagnostics
    required = {"run", "step", "epoch", "check", "severity", "title", "explanation", "suggestion", "snippet"}
    required.add("evidence")
    for d in diagnostics:
        assert required <= set(d)
        assert d["severity"] in ("error", "warning", "info")
        assert isinstance(d["step"], int) and d["step"] >= 0
        assert d["epoch"] is None or isinstance(d["epoch"], int)
        assert isinstance(d["evidence"], dict)


def test_unnormalized_pixels_found_at_first_batch_with_observed_range(diagnostics):
    found = [d for d in _of(diagnostics, "unnormalized") if d["check"] == "input_not_normalized"]
    assert len(found) == 1, "a persisting condition is reported once, not every batch"
    d = found[0]
    assert d["step"] == 0 and d["severity"] == "warning"
    assert "from 0 to 16" in d["explanation"]
    assert "/ 16" in d["snippet"]
    assert d["evidence"]["max"] == 16.0


def test_nan_loss_found_at_the_batch_it_appears(diagnostics):
    found = [d for d in _of(diagnostics, "nan_loss") if d["check"] == "nan_loss"]
    assert found and found[0]["severity"] == "error"
    first = found[0]
    assert first["epoch"] == 0
    assert "1e+10" in first["explanation"] and "SGD" in first["explanation"]
    assert "learning_rate=" in first["snippet"]
    assert first["evidence"]["learning_rate"] == 1e10
    # says where the NaN went: which layers' weights turned non-finite, or that none did yet
    assert "nonfinite_layers" in first["evidence"]
    assert ("still finite" in first["explanation"]) == (first["evidence"]["nonfinite_layers"] == [])
    # The loss recorded at the diagnostic's step is the first non-finite one.
    assert first["step"] <= 5


def test_overfitting_found_within_three_epochs_of_onset(trained_logdir, diagnostics):
    from tensorboard_plugin_scram.events.file_reader import read_logdir

    found = [d for d in _of(diagnostics, "overfitting") if d["check"] == "overfitting"]
    assert len(found) == 1
    epochs = [r for r in read_logdir(trained_logdir) if r.run == "overfitting/scram"][0].epochs
    val = [e.logs["val_loss"] for e in epochs]
    onset = val.index(min(val)) + 1  # first epoch after the best validation loss
    assert onset <= found[0]["epoch"] <= onset + 3
    assert "validation" in found[0]["explanation"]
    assert "EarlyStopping" in found[0]["snippet"]


@pytest.mark.parametrize("run", ["healthy_tabular", "healthy_digits"])
def test_healthy_runs_raise_no_alarm(diagnostics, run):
    alarms = [d for d in _of(diagnostics, run) if d["severity"] in ALARMS]
    assert alarms == []


def test_faulty_runs_raise_no_off_target_alarm(diagnostics):
    # The learning rate of 1e10 is itself a finding, and the loss diverges before it is NaN.
    learning_rate = {"nan_loss", "learning_rate_unusual", "loss_diverging"}
    expected = {"unnormalized": {"input_not_normalized"}, "nan_loss": learning_rate, "overfitting": {"overfitting"}}
    for run, checks in expected.items():
        fired = {d["check"] for d in _of(diagnostics, run) if d["severity"] in ALARMS}
        assert fired == checks, run


def test_scram_records_curves_and_its_own_cost(trained_logdir):
    from tensorboard_plugin_scram.events.file_reader import read_logdir

    runs = {r.run: r for r in read_logdir(trained_logdir)}
    healthy = runs["healthy_digits/scram"]
    assert [e.epoch for e in healthy.epochs] == list(range(12))
    steps = [e.step for e in healthy.epochs]
    assert steps == sorted(set(steps)), "global step only grows"
    cost = healthy.epochs[-1].cost
    assert 0 < cost["scram_seconds"] < cost["train_seconds"]
    assert healthy.batches and all(math.isfinite(b.logs["loss"]) for b in healthy.batches)
