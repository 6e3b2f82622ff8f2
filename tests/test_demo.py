"""The demo end to end on the offline stand-ins, in quick mode."""

from __future__ import annotations

import os
import subprocess
import sys

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


# -- `python -m demo --framework torch`: the same scenarios as plain PyTorch loops --------------------

TORCH_SCENARIOS = ("overfitting", "overfitting_fixed", "normalization", "normalization_fixed", "learning_rate",
                   "learning_rate_fixed")


@pytest.fixture(scope="module")
def torch_demo(tmp_path_factory) -> tuple[str, str, list[dict]]:
    """The demo's PyTorch runs (quick, offline stand-ins): the logdir, its stdout, `scram report --json`."""
    root = tmp_path_factory.mktemp("demo_torch")
    command = ["-m", "demo", "--framework", "torch", "--quick", "--no-tensorboard", "--logdir", str(root)]
    result = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return str(root), result.stdout, report_json(str(root))


def test_torch_demo_writes_every_run_under_torch_and_reports_them(torch_demo):
    from demo import torch_scenarios

    logdir, stdout, _ = torch_demo
    assert [s.name for s in torch_scenarios.SCENARIOS] == [s.name for s in SCENARIOS]  # the same three and fixes
    assert os.listdir(logdir) == ["torch"]
    for scenario in torch_scenarios.SCENARIOS:
        assert os.path.isdir(os.path.join(logdir, "torch", scenario.name, "scram")), scenario.name
        assert f"trained torch/{scenario.name} " in stdout
    assert "torch/learning_rate/scram" in stdout and "Found " in stdout


@pytest.mark.parametrize("name", TORCH_SCENARIOS)
def test_torch_demo_finds_each_fault_and_nothing_in_the_fixes(torch_demo, name):
    from demo import torch_scenarios

    scenario = next(s for s in torch_scenarios.SCENARIOS if s.name == name)
    fired = {d["check"] for d in torch_demo[2]
             if d["run"] == f"torch/{name}/scram" and d["severity"] in ("warning", "error")}
    assert set(scenario.expected) <= fired <= set(scenario.expected + scenario.tolerated)


def test_torch_demo_advice_is_in_pytorch_terms(torch_demo):
    found = {d["check"]: d for d in torch_demo[2] if d["run"] == "torch/learning_rate/scram"}
    assert found["learning_rate_unusual"]["snippet"].startswith("optimizer = torch.optim.Adam(model.parameters(),")
    assert "keras" not in found["learning_rate_unusual"]["snippet"]


def test_keras_demo_never_imports_torch():
    code = ("import sys; from demo.__main__ import scenarios_module; scenarios_module('keras'); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
