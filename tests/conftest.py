"""Shared fixtures: tiny real Keras training runs written by the real callback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from tests import scenarios  # noqa: E402


def run_scram(*args: str) -> subprocess.CompletedProcess:
    """Runs the installed `scram` command as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "tensorboard_plugin_scram.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def report_json(logdir: str) -> list[dict]:
    """`scram report --json LOGDIR` parsed."""
    result = run_scram("report", "--json", "--fail-on", "never", str(logdir))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def demo_logdir(tmp_path_factory) -> str:
    """The demo's logdir (quick mode, offline stand-ins), with Keras' TensorBoard runs beside SCRAM's."""
    root = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--quick", "--no-tensorboard", "--logdir", str(root)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (root / "demo-stdout.txt").write_text(result.stdout)
    return str(root)


@pytest.fixture(scope="session")
def trained_logdir(tmp_path_factory) -> str:
    """One logdir holding the paper's three faults and two healthy runs, trained once."""
    root = tmp_path_factory.mktemp("logs")
    for name, train in scenarios.ALL.items():
        train(str(root / name))
    return str(root)
