"""Shared fixtures (tiny real Keras training runs written by the real callback) and the test tiers.

The slow kinds of test carry a marker registered in pytest.ini: `training`, `tensorboard`,
`browser`, `npm`. `make test-fast` deselects all four. A run that deselects `training` must not
load Keras or TensorFlow at all, since importing them costs more than all the fast tests: this
file imports neither; a module marked as a slow kind as a whole (`pytestmark =
pytest.mark.training`) is not even imported when its kind is deselected; TensorBoard's own
event-file I/O is held to its TensorFlow-free stub (as under Keras on JAX, or TensorBoard without
TensorFlow; the full suite runs it over TensorFlow); and `KerasFreeGuard` fails the test or module
that loads Keras or TensorFlow in such a run anyway, naming it, so that a missing marker is found
at once.
"""

from __future__ import annotations

import ast
import functools
import itertools
import os
import subprocess
import sys
import types
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# `make test` (the gate CI runs) replays the same fuzz examples every time, so a red build points
# at the change that caused it, never at a rare input drawn that day; `make test-fast`, the inner
# loop, keeps drawing new ones (and replays its failures from .hypothesis/): that is where such
# inputs are found.
settings.register_profile("fixed", derandomize=True, print_blob=True)
if os.environ.get("SCRAM_FUZZ") == "fixed":
    settings.load_profile("fixed")

TIERS = ("training", "tensorboard", "browser", "npm")
HEAVY_MODULES = ("keras", "tensorflow")
# Present, it makes `tensorboard.compat.tf` TensorBoard's stub instead of importing TensorFlow.
TENSORBOARD_WITHOUT_TF = "tensorboard.compat.notf"


# -- fixtures ------------------------------------------------------------------------------------


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


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, one per module (`tests/browser_helpers.py`)."""
    from tests.browser_helpers import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    """A fresh page in `browser`; `page.problems` lists what went wrong in it."""
    from tests.browser_helpers import recording_page

    with recording_page(browser) as fresh:
        yield fresh


@pytest.fixture(scope="session")
def trained_logdir(tmp_path_factory) -> str:
    """One logdir holding the paper's three faults and two healthy runs, trained once."""
    from tests import scenarios  # imports Keras: only the tests that train ask for this fixture

    root = tmp_path_factory.mktemp("logs")
    for name, train in scenarios.ALL.items():
        train(str(root / name))
    return str(root)


# -- tiers: which modules a marker expression can skip without importing them --------------------


@functools.cache
def _compiled(markexpr: str):
    """The `-m` expression compiled by pytest's own parser, or None where pytest moved it."""
    try:
        from _pytest.mark.expression import Expression
    except ImportError:  # a later pytest: every module is then imported, and the guard says so
        return None
    return Expression.compile(markexpr)


def _mark_expression(config: pytest.Config):
    markexpr = config.getoption("markexpr", default="")
    return _compiled(markexpr) if markexpr else None


def _may_select(expression, module_marks: frozenset[str]) -> bool:
    """Whether some test of a module with these marks could match, whatever tiers its tests add.

    Every combination of the four tiers is tried; a name outside them that the expression asks
    about (`-m "slow"`) cannot be ruled out, so the module is collected then.
    """
    unknown: list[str] = []

    def matcher(extra: tuple[str, ...]):
        def has(name: str, /, **_: object) -> bool:
            if name not in TIERS and name not in module_marks:
                unknown.append(name)
            return name in module_marks or name in extra
        return has

    for size in range(len(TIERS) + 1):
        for extra in itertools.combinations(TIERS, size):
            if expression.evaluate(matcher(extra)) or unknown:
                return True
    return False


def _module_marks(path: Path) -> frozenset[str] | None:
    """The marker names of a module's top-level `pytestmark`, read without importing it.

    None where the assignment is not a plain `pytest.mark.NAME` or a list or tuple of those.
    """
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError):
        return None  # let pytest collect it and report the error
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            values = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            names = [_mark_name(value) for value in values]
            return None if None in names else frozenset(names)
    return frozenset()


def _mark_name(node: ast.expr) -> str | None:
    is_mark = (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
               and node.value.attr == "mark" and getattr(node.value.value, "id", None) == "pytest")
    return node.attr if is_mark else None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skips, unimported, a module whose `pytestmark` the `-m` expression deselects in full."""
    if not (collection_path.name.startswith("test_") and collection_path.suffix == ".py"):
        return None
    expression = _mark_expression(config)
    if expression is None:
        return None
    marks = _module_marks(collection_path)
    if marks is None or _may_select(expression, marks):
        return None
    return True


# -- the guard of keras-free runs ----------------------------------------------------------------


def _heavy_loaded() -> set[str]:
    return {name for name in HEAVY_MODULES if name in sys.modules}


def _fail(report: pytest.CollectReport | pytest.TestReport, message: str) -> None:
    """Fails the report with `message`, kept beside the report's own failure if it had one."""
    if report.outcome == "failed":
        report.sections.append(("keras-free guard", message))
    else:
        report.outcome, report.longrepr = "failed", message


class KerasFreeGuard:
    """In a run that deselects `training`: fails whatever first loads Keras or TensorFlow."""

    def __init__(self) -> None:
        self.loaded = _heavy_loaded()

    def _news(self) -> set[str]:
        now = _heavy_loaded()
        news, self.loaded = now - self.loaded, now
        return news

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.loaded:
            raise pytest.UsageError(
                f"{', '.join(sorted(self.loaded))} was imported before collection (by a conftest.py or a plugin) "
                "in a run that deselects `training`: import it inside the fixtures that need it")

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector):
        report = yield
        news = self._news()
        if news:
            _fail(report, f"importing {collector.nodeid} loads {', '.join(sorted(news))} in a run that deselects "
                          "`training`: give the module `pytestmark = pytest.mark.training` or import them inside "
                          "its tests")
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        news = self._news()
        if news:
            _fail(report, f"{item.nodeid} loads {', '.join(sorted(news))} ({call.when}) in a run that deselects "
                          "`training`: mark it `@pytest.mark.training`")
        return report


def pytest_configure(config: pytest.Config) -> None:
    expression = _mark_expression(config)
    if expression is None:
        return
    # Every test marked `training` deselected, whatever other kinds it is marked with.
    if not _may_select(expression, frozenset({"training"})):
        sys.modules.setdefault(TENSORBOARD_WITHOUT_TF, types.ModuleType(TENSORBOARD_WITHOUT_TF))
        config.pluginmanager.register(KerasFreeGuard(), "scram-keras-free-guard")
