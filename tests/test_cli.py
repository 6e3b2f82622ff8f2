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
