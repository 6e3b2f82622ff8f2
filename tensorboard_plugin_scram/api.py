"""SCRAM's diagnostics as Python objects: `tensorboard_plugin_scram.read(logdir)`.

For notebooks, scripts and tests that assert on what SCRAM found. It reads the event
files the way `scram report` does (`events.file_reader.read_logdir`), and `scram report --json`
prints exactly these objects' `to_json()`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import Any

from tensorboard_plugin_scram.diagnostic import Diagnostic
from tensorboard_plugin_scram.events import storage
from tensorboard_plugin_scram.events.file_reader import read_logdir
from tensorboard_plugin_scram.events.records import RunRecords
from tensorboard_plugin_scram.notebook import DiagnosticList

_DIAGNOSTIC_FIELDS = tuple(field.name for field in dataclasses.fields(Diagnostic))


@dataclasses.dataclass(frozen=True)
class RunDiagnostic(Diagnostic):
    """A diagnostic and the run it was found in: one object of `scram report --json`.

    Attributes:
        run: The run's name as TensorBoard shows it, e.g. `"lr_1e10/scram"`.
        The others: as `Diagnostic` (`check`, `severity`, `title`, `step`, `epoch`, ...).
    """

    run: str = ""

    @classmethod
    def of(cls, diagnostic: Diagnostic, run: str) -> RunDiagnostic:
        """`diagnostic`, found in `run`."""
        return cls(**{name: getattr(diagnostic, name) for name in _DIAGNOSTIC_FIELDS}, run=run)

    def to_json(self) -> dict[str, Any]:
        """The JSON object `scram report --json` prints: `run` first, then the diagnostic's fields."""
        return {"run": self.run, **super().to_json()}


def run_diagnostics(runs: Iterable[RunRecords]) -> DiagnosticList:
    """The diagnostics of `runs` (from `read_logdir`), run by run, each by step."""
    return DiagnosticList(RunDiagnostic.of(d, run.run) for run in runs for d in run.diagnostics)


def read(logdir: str | os.PathLike) -> DiagnosticList:
    """The diagnostics of every run under `logdir`, as objects.

    The same diagnostics and fields as `scram report --json LOGDIR`: `run`, `step`,
    `epoch`, `check`, `severity` (a `Severity`, equal to its string: `d.severity == "error"`),
    `confidence`, `title`, `explanation`, `suggestion`, `snippet`, `evidence`, `location`,
    `doc`, `wall_time`. In a notebook the list shows as a table.

    Example:

    ```python
    import tensorboard_plugin_scram as scram

    found = scram.read("logs")
    assert not [d for d in found if d.severity == "error"], found
    ```

    `logdir` may be anywhere TensorBoard reads one: a local path, `s3://bucket/logs`,
    `gs://bucket/logs`, ... (see `events.storage`).

    Raises:
        FileNotFoundError: when `logdir` is not a directory, or cannot be read (no such
            bucket, no credentials, an unreachable store).
    """
    path = os.fspath(logdir)
    problem = storage.directory_problem(path)
    if problem:
        raise FileNotFoundError(f"SCRAM: log directory {path!r} {problem}")
    return run_diagnostics(read_logdir(path))
