"""The demo end to end on the offline stand-ins, in quick mode."""

from __future__ import annotations

import os

import pytest

from demo.scenarios import SCENARIOS
from tests.builders import report_json

pytestmark = pytest.mark.training


def test_demo_finds_each_fault_and_nothing_in_the_fixes(demo_logdir):
    with open(os.path.join(demo_logdir, "demo-stdout.txt")) as handle:
        stdout = handle.read()
    assert "stand-in" in stdout or "Fashion-MNIST\n" in stdout
    assert "learning_rate/scram" in stdout and "Found " in stdout
    diagnostics = report_json(demo_logdir)
    for scenario in SCENARIOS:
        fired = {d["check"] for d in diagnostics
                 if d["run"] == f"{scenario.name}/scram" and d["severity"] in ("warning", "error")}
        assert set(scenario.expected) <= fired <= set(scenario.expected + scenario.tolerated), scenario.name
