"""The committed panel bundle matches its sources, and the panel's pure logic passes its node tests."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMITTED = os.path.join(ROOT, "tensorboard_plugin_scram", "static", "index.js")


def npm(*args: str, cwd: str) -> subprocess.CompletedProcess:
    assert shutil.which("npm"), "Node.js and npm are needed to check the panel bundle"
    return subprocess.run(["npm", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def frontend_copy(tmp_path_factory) -> str:
    """A fresh copy of frontend/ (without node_modules) with `npm ci` run in it."""
    copy = str(tmp_path_factory.mktemp("frontend") / "frontend")
    shutil.copytree(os.path.join(ROOT, "frontend"), copy, ignore=shutil.ignore_patterns("node_modules"))
    result = npm("ci", "--no-audit", "--no-fund", cwd=copy)
    assert result.returncode == 0, result.stderr[-2000:]
    return copy


@pytest.mark.npm
def test_committed_bundle_is_built_from_the_sources(frontend_copy, tmp_path):
    fresh = tmp_path / "index.js"
    result = subprocess.run(["node", "build.mjs", str(fresh)], cwd=frontend_copy, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with open(COMMITTED, "rb") as handle:
        assert fresh.read_bytes() == handle.read(), "run `npm ci && npm run build` in frontend/ and commit"


@pytest.mark.npm
def test_panel_logic_unit_tests_pass(frontend_copy):
    result = npm("test", cwd=frontend_copy)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "# fail 0" in result.stdout


def test_bundle_renders_text_only():
    with open(COMMITTED, encoding="utf-8") as handle:
        bundle = handle.read()
    assert "innerHTML" not in bundle and "insertAdjacentHTML" not in bundle
    assert "export" in bundle and "render" in bundle
