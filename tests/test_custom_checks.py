"""Configuration and a user-written check, in real training (the documented example, run as it stands)."""

from __future__ import annotations

import os
import re
import warnings

import keras
import pytest

from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.checks import Check, Finding
from tests import scenarios
from tests.builders import report_json

pytestmark = pytest.mark.training

EXAMPLE_PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "configuration.md")
EXAMPLE_MARKER = "<!-- tested: custom-check"


def readme_example() -> dict:
    """The names that the documented custom-check example defines (docs/configuration.md, linked from the README)."""
    with open(EXAMPLE_PAGE, encoding="utf-8") as handle:
        page = handle.read()
    assert page.count(EXAMPLE_MARKER) == 1, f"the page needs one {EXAMPLE_MARKER} ... --> above the example"
    after_marker = page.split(EXAMPLE_MARKER, 1)[1]
    block = re.match(r"[^\n]*-->\n```python\n(.*?)\n```\n", after_marker, re.DOTALL)
    assert block, "the marker must sit on the line right above the example's ```python block"
    names: dict = {}
    exec(compile(block.group(1), f"{EXAMPLE_PAGE} (custom-check example)", "exec"), names)
    return names


def test_the_readme_example_defines_one_check():
    checks = [v for v in readme_example().values() if isinstance(v, type) and issubclass(v, Check) and v is not Check]
    assert [cls.id for cls in checks] == ["loss_too_high"]


def train(log_dir, callback):
    x, y = scenarios.digits(scaled=False)
    model = scenarios.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:320], y[:320], epochs=2, batch_size=32, verbose=0, callbacks=[callback])


def test_user_check_with_threshold_override_reports_in_real_training(tmp_path):
    loss_too_high = readme_example()["LossTooHigh"]
    train(str(tmp_path), ScramCallback(str(tmp_path), extra_checks=[loss_too_high()],
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
    for a, b in zip(plain, watched, strict=True):
        assert (a == b).all()


class _SeenSteps(Check):
    """## What it does
    Records the batches it is shown, and reports the one at `report_at`.
    """

    id = "seen_steps"
    title = "A batch seen"

    def __init__(self, report_at: int = -1) -> None:
        super().__init__()
        self.seen: list[tuple[int, float]] = []
        self.report_at = report_at

    def on_batch(self, obs, history):
        self.seen.append((obs.step, obs.logs.get("loss")))
        if obs.step != self.report_at:
            return []
        return [Finding(title=self.title, explanation=f"Batch {obs.step}.", suggestion="None.")]


class _ScriptedLoss(keras.callbacks.Callback):
    """Placed before SCRAM: replaces the loss Keras logged (the callbacks share `logs`)."""

    def __init__(self, losses: dict[int, float]) -> None:
        super().__init__()
        self.losses, self.step = losses, 0

    def on_train_batch_end(self, batch, logs=None):
        logs["loss"] = self.losses.get(self.step, 1.0)
        self.step += 1


class _WhatTheCheckSaw(keras.callbacks.Callback):
    """Placed after SCRAM: at each batch's end, the last step the check had been shown."""

    def __init__(self, check: _SeenSteps) -> None:
        super().__init__()
        self.check, self.last_seen = check, []

    def on_train_batch_end(self, batch, logs=None):
        self.last_seen.append(self.check.seen[-1][0] if self.check.seen else None)


def test_batch_checks_see_every_batch_in_order_and_news_at_once(tmp_path):
    """Batches with metrics alone may reach the checks a few at a time (the per-step cost),
    but every one arrives, in order, by the epoch's end; a rising or NaN loss arrives at
    once; and a diagnostic carries the step of its batch, not of the delivery."""
    check = _SeenSteps(report_at=33)
    spy = _WhatTheCheckSaw(check)
    scripted = _ScriptedLoss({45: 3.0, 60: float("nan")})
    x, y = scenarios.digits()
    model = scenarios.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    # 40 batches per epoch; internals off so that only the loss decides what comes at once.
    model.fit(x[:1280], y[:1280], epochs=2, batch_size=32, verbose=0, shuffle=False,
              callbacks=[scripted, ScramCallback(str(tmp_path), extra_checks=[check], internals_every=0), spy])
    assert [step for step, _ in check.seen] == list(range(80))
    assert check.seen[45][1] == 3.0, "the check saw the loss of its own batch"
    assert spy.last_seen[45] == 45, "three times the lowest loss: shown at once"
    assert spy.last_seen[60] == 60, "a NaN loss: shown at once"
    assert spy.last_seen[39] == 39 and spy.last_seen[79] == 79, "an epoch's last batch is always shown"
    held_back = [step for step in range(20, 40) if spy.last_seen[step] != step]
    assert held_back, "ordinary batches after the sampled first ones are grouped"
    shown = [-1 if seen is None else seen for seen in spy.last_seen]  # None: nothing shown yet
    assert all(shown[step] >= step - 16 for step in range(80)), "at most a group late"
    reported = [d for d in report_json(tmp_path) if d["check"] == "seen_steps"]
    assert [d["step"] for d in reported] == [33]
