"""The fast tier: `make test-fast` deselects the slow kinds and loads neither Keras nor TensorFlow.

tests/conftest.py holds the machinery; these tests run pytest in a subprocess, over the repository's
tests and over a small directory of made-up test modules that break the rules on purpose.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fast_tier_expression() -> str:
    """The `-m` expression of the Makefile's `test-fast` recipe, so that this test follows it."""
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as handle:
        recipe = handle.read().split("\ntest-fast:", 1)[1].split("\n\n", 1)[0]
    found = re.search(r'-m "([^"]+)"', recipe)
    assert found, "the test-fast recipe must select with -m \"...\""
    return found.group(1)


def run_pytest(directory, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=directory, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def test_the_fast_tier_collects_without_loading_keras(request):
    """For the full run: a module importing Keras at its top without its marker fails this collection."""
    if request.config.pluginmanager.has_plugin("scram-keras-free-guard"):
        pytest.skip("this run deselects `training`: the guard checks its own collection")
    result = run_pytest(ROOT, "--collect-only", "-m", fast_tier_expression(), "tests")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    collected = re.search(r"(\d+)/(\d+) tests collected \((\d+) deselected\)", result.stdout)
    assert collected, result.stdout[-500:]
    selected, total, deselected = map(int, collected.groups())
    assert 0 < selected < total and selected + deselected == total


RULE_BREAKERS = {
    "test_fast.py": (
        "import sys, types\n"
        "def test_plain():\n    assert True\n"
        "def test_sneaks_keras_in():\n    sys.modules['keras'] = types.ModuleType('keras')\n"
    ),
    "test_heavy.py": (
        "import pytest\npytestmark = pytest.mark.training\n"
        "raise RuntimeError('a training module was imported')\n"
    ),
    "test_unmarked_heavy.py": (
        "import sys, types\nsys.modules['tensorflow'] = types.ModuleType('tensorflow')\n"
        "def test_after_tensorflow():\n    assert True\n"
    ),
}


def rule_breakers(directory) -> None:
    """Made-up test modules beside the repository's pytest.ini and the conftest hooks."""
    with open(os.path.join(ROOT, "pytest.ini"), encoding="utf-8") as handle:
        (directory / "pytest.ini").write_text(handle.read())
    (directory / "conftest.py").write_text(
        "from tests.conftest import pytest_configure, pytest_ignore_collect  # noqa: F401\n")
    for name, source in RULE_BREAKERS.items():
        (directory / name).write_text(source)


def test_what_loads_keras_in_the_fast_tier_fails_by_name_and_training_modules_stay_unimported(tmp_path):
    rule_breakers(tmp_path)
    result = run_pytest(tmp_path, "--continue-on-collection-errors", "-m", fast_tier_expression(), ".")
    out = result.stdout
    assert result.returncode == 1, out[-3000:]
    assert "a training module was imported" not in out, "the training module was imported"
    assert "importing test_unmarked_heavy.py loads tensorflow" in out
    assert "test_fast.py::test_sneaks_keras_in loads keras (call)" in out
    assert re.search(r"\b1 failed, 1 passed\b", out), out[-500:]


def test_a_run_that_selects_a_slow_kind_imports_the_modules_marked_with_one(tmp_path):
    """`-m tensorboard`: a test of a module marked `training` may carry `tensorboard` as well, and load Keras."""
    rule_breakers(tmp_path)
    result = run_pytest(tmp_path, "--continue-on-collection-errors", "-m", "tensorboard", ".")
    assert "a training module was imported" in result.stdout, result.stdout[-2000:]
    assert "loads keras" not in result.stdout and "loads tensorflow" not in result.stdout, "no guard in this run"
