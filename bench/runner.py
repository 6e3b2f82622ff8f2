"""Trains one scenario once, with SCRAM and both baselines attached to the same `fit()`."""

from __future__ import annotations

import dataclasses
import inspect
import os
import tempfile
import time
from collections.abc import Callable

import keras

from bench import detectors
from bench.detectors import Alarm
from bench.zoo import Scenario, Trace
from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.events.file_reader import read_logdir


@dataclasses.dataclass
class ScenarioRun:
    """What happened when one scenario was trained.

    Attributes:
        scenario: The scenario.
        alarms: Per detector, its reports (SCRAM: every diagnostic, any severity).
        trace: Per-batch losses and epoch logs.
        seconds: Wall time of building and training.
        error: `Type: message` if `fit()` raised (other than the scenario's own abort).
        notes: Anything the reader should know (an unsupported SCRAM option, ...).
    """

    scenario: Scenario
    alarms: dict[str, list[Alarm]]
    trace: Trace
    seconds: float
    error: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def onset(self) -> int | None:
        """The fault's onset in this run (step or epoch, see `scenario.unit`)."""
        return self.scenario.onset_in(self.trace)


def run_scenario(scenario: Scenario, log_dir: str | None = None) -> ScenarioRun:
    """Trains `scenario` once; SCRAM writes into `log_dir` (a temporary directory if None)."""
    if log_dir is None:
        with tempfile.TemporaryDirectory(prefix=f"scram-bench-{scenario.name}-") as tmp:
            return run_scenario(scenario, tmp)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    scram_options, notes = _supported_options(scenario.scram_options)
    paper, nan_only, trace = detectors.PaperRules(), detectors.NanOnly(), detectors.LossTrace()
    callbacks = [ScramCallback(log_dir, **scram_options), paper, nan_only, trace]
    if scenario.abort_before_training:
        callbacks.append(detectors.AbortBeforeTraining())
    error = _train(scenario, callbacks)
    alarms = {
        detectors.SCRAM: scram_alarms(log_dir),
        detectors.PAPER: list(paper.alarms.values()),
        detectors.NAN_ONLY: list(nan_only.alarms.values()),
    }
    seconds = time.perf_counter() - started
    return ScenarioRun(scenario, alarms, Trace(trace.losses, trace.epochs), seconds, error, notes)


def _train(scenario: Scenario, callbacks: list[keras.callbacks.Callback]) -> str | None:
    """Builds and fits the job; returns the error as text instead of raising."""
    try:
        task = scenario.build()
        fit = dict(task.fit)
        task.model.fit(task.x, task.y, callbacks=[*fit.pop("callbacks", []), *callbacks], **fit)
    except detectors.AbortBeforeTraining.Stop:
        return None
    except Exception as error:  # a crashing job is a result, not a benchmark failure
        return f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
    return None


def _supported_options(options: dict) -> tuple[dict, list[str]]:
    """The options this `ScramCallback` accepts, and a note for each one it does not."""
    accepted = inspect.signature(ScramCallback.__init__).parameters
    kept = {k: v for k, v in options.items() if k in accepted}
    notes = [f"ScramCallback has no option {k!r}: ran without it" for k in options if k not in accepted]
    return kept, notes


def scram_alarms(log_dir: str) -> list[Alarm]:
    """Every diagnostic SCRAM wrote, as alarms, in step order."""
    if not os.path.isdir(log_dir):
        return []
    return [
        Alarm(d.check, d.severity.value, d.step, d.epoch)
        for records in read_logdir(log_dir)
        for d in records.diagnostics
    ]


def run_all(scenarios: list[Scenario], progress: Callable[[ScenarioRun], None] | None = None) -> list[ScenarioRun]:
    """Runs every scenario in turn; `progress` sees each result as it comes."""
    runs = []
    for scenario in scenarios:
        run = run_scenario(scenario)
        runs.append(run)
        if progress is not None:
            progress(run)
    return runs
