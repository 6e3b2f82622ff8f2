"""Configuration and a user-written check, in real training (the README's example)."""

from __future__ import annotations

import warnings

import keras
import pytest

from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.checks import Check, Finding, Severity
from tests import scenarios
from tests.conftest import report_json


class LossTooHigh(Check):
    """## What it does
    Reports epochs whose training loss stays above a target.
    """

    id = "loss_too_high"
    title = "Loss above target"
    severity = Severity.WARNING
    thresholds = {"limit": 5.0}

    def on_epoch(self, obs, history):
        loss = obs.logs.get("loss")
        if loss is None:
            return None
        if loss <= self.threshold("limit"):
            return []
        return [Finding(
            title=self.title,
            explanation=f"The loss is {loss:.3g}, above {self.threshold('limit')}.",
            suggestion="Train longer or check the labels.",
            evidence={"loss": loss, "limit": self.threshold("limit")},
        )]


def train(log_dir, callback):
    x, y = scenarios.digits(scaled=False)
    model = scenarios.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:320], y[:320], epochs=2, batch_size=32, verbose=0, callbacks=[callback])


def test_user_check_with_threshold_override_reports_in_real_training(tmp_path):
    train(str(tmp_path), ScramCallback(str(tmp_path), extra_checks=[LossTooHigh()],
                                       thresholds={"loss_too_high": {"limit": 0.0}}))
    found = [d for d in report_json(tmp_path) if d["check"] == "loss_too_high"]
    assert len(found) == 1, "one episode while the loss stays above the limit"
    assert found[0]["evidence"]["limit"] == 0.0 and found[0]["epoch"] == 0


def test_disabled_check_stays_silent(tmp_path):
    train(str(tmp_path), ScramCallback(str(tmp_path), disable=["input_not_normalized"]))
    assert [d for d in report_json(tmp_path) if d["check"] == "input_not_normalized"] == []


def test_configuration_typo_fails_at_construction():
    with pytest.raises(ValueError, match="unknown check id"):
        ScramCallback("logs", disable=["input_not_normalised"])


class Broken(Check):
    id = "broken"
    title = "broken"

    def on_batch(self, obs, history):
        raise RuntimeError("bug in a check")


def test_a_failing_check_never_breaks_training(tmp_path):
    callback = ScramCallback(str(tmp_path), extra_checks=[Broken()])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(str(tmp_path), callback)
    scram_warnings = [w for w in caught if "SCRAM" in str(w.message)]
    assert len(scram_warnings) == 1 and "bug in a check" in str(scram_warnings[0].message)
    internal = [d for d in report_json(tmp_path) if d["check"] == "scram_internal_error"]
    assert len(internal) == 1 and internal[0]["severity"] == "info"
    assert internal[0]["evidence"]["exception"] == "RuntimeError"
    # The other checks kept working.
    assert any(d["check"] == "input_not_normalized" for d in report_json(tmp_path))


def test_odd_logs_values_are_ignored(tmp_path):
    class OddLogs(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            logs.update(note="text", nothing=None, vector=[1, 2])

    x, y = scenarios.digits()
    model = scenarios.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0,
                  callbacks=[OddLogs(), ScramCallback(str(tmp_path))])
    assert report_json(tmp_path) == []


def test_training_results_are_unchanged_by_scram(tmp_path):
    def weights(callbacks):
        keras.utils.set_random_seed(1)
        x, y = scenarios.digits()
        model = scenarios.mlp(64, (16,), 10)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x[:256], y[:256], epochs=2, batch_size=32, verbose=0, shuffle=False, callbacks=callbacks)
        return model.get_weights()

    plain = weights([])
    watched = weights([ScramCallback(str(tmp_path))])
    for a, b in zip(plain, watched):
        assert (a == b).all()
