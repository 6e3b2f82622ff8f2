"""The demo end to end on the offline stand-ins, in quick mode."""

from __future__ import annotations

import subprocess
import sys

from demo.scenarios import SCENARIOS
from tests.conftest import report_json


def test_demo_finds_each_fault_and_nothing_in_the_fixes(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--quick", "--no-tensorboard", "--logdir", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "stand-in" in result.stdout or "Fashion-MNIST\n" in result.stdout
    assert "Found 1 error, 2 warnings" in result.stdout
    diagnostics = report_json(tmp_path)
    for scenario in SCENARIOS:
        fired = {d["check"] for d in diagnostics
                 if d["run"] == f"{scenario.name}/scram" and d["severity"] in ("warning", "error")}
        assert fired == set(scenario.expected), scenario.name
