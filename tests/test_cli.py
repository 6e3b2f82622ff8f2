"""The `scram` command: exit codes, formats, and a logdir without SCRAM data."""

from __future__ import annotations

import json

import pytest

from tests.builders import run_scram


@pytest.mark.training
def test_exit_status_is_one_when_an_error_was_found(trained_logdir):
    result = run_scram("report", trained_logdir)
    assert result.returncode == 1
    assert "nan_loss/scram" in result.stdout
    assert "[nan_loss]" in result.stdout
    assert "\033[" not in result.stdout, "no colour when stdout is not a terminal"
    assert "Traceback" not in result.stderr


@pytest.mark.training
def test_fail_on_changes_the_exit_status(trained_logdir, tmp_path):
    assert run_scram("report", "--fail-on", "never", trained_logdir).returncode == 0
    only_warnings = tmp_path / "w"
    from tests import scenarios

    scenarios.unnormalized(str(only_warnings))
    assert run_scram("report", str(only_warnings)).returncode == 0
    assert run_scram("report", "--fail-on", "warning", str(only_warnings)).returncode == 1


@pytest.mark.training
def test_color_always_colours_the_severity(trained_logdir):
    result = run_scram("report", "--color", "always", trained_logdir)
    assert "\033[31m" in result.stdout


def test_missing_logdir_is_a_usage_error_without_traceback(tmp_path):
    result = run_scram("report", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "not a directory" in result.stderr and "Traceback" not in result.stderr


def test_unknown_option_is_a_usage_error():
    result = run_scram("report", "--frobnicate", ".")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_logdir_without_scram_data(tmp_path):
    (tmp_path / "train").mkdir()
    result = run_scram("report", str(tmp_path))
    assert result.returncode == 0
    assert "no SCRAM data" in result.stdout and "ScramCallback" in result.stdout
    result = run_scram("report", "--json", str(tmp_path))
    assert result.returncode == 0 and json.loads(result.stdout) == []


def test_checks_lists_the_catalogue():
    result = run_scram("checks")
    assert result.returncode == 0
    for check_id in ("nan_loss", "input_not_normalized", "overfitting", "scram_internal_error"):
        assert check_id in result.stdout


@pytest.mark.training
def test_summary_of_real_trainings_agrees_with_the_full_report(trained_logdir):
    from tests.builders import report_json

    diagnostics = report_json(trained_logdir)
    result = run_scram("report", "--summary", "--json", "--fail-on", "never", trained_logdir)
    rows = {row["run"]: row for row in json.loads(result.stdout)}
    assert {d["run"] for d in diagnostics} <= set(rows) and "nan_loss/scram" in rows
    for run, row in rows.items():
        mine = [d for d in diagnostics if d["run"] == run]
        assert row["counts"] == {s: sum(d["severity"] == s for d in mine) for s in ("error", "warning", "info")}
        errors = [d["step"] for d in mine if d["severity"] == "error"]
        assert (row["first_error"] or {}).get("step") == (min(errors) if errors else None), run
    text = run_scram("report", "--summary", "--run", "^nan_loss/", trained_logdir)
    [line, footer] = text.stdout.splitlines()
    first_error = rows["nan_loss/scram"]["first_error"]
    assert line.startswith("nan_loss/scram") and f"first at step {first_error['step']}" in line
    assert footer.startswith("1 run: 1 with errors") and text.returncode == 1
