"""The zoo benchmark: trains every scenario once and scores SCRAM against the baselines."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable

from bench import scoring
from bench.detectors import DETECTORS, Alarm
from bench.runner import ScenarioRun, run_scenario
from bench.zoo import Scenario, select
from tensorboard_plugin_scram.checks import CATALOGUE as IMPLEMENTED


def _alarm(alarm: Alarm | None) -> dict | None:
    return None if alarm is None else dataclasses.asdict(alarm)


def scenario_record(run: ScenarioRun) -> dict:
    """One scenario's metadata, what happened, and each detector's outcome."""
    s = run.scenario
    last = run.trace.epochs[-1] if run.trace.epochs else {}
    detectors = {}
    for detector in DETECTORS:
        o = scoring.outcome(run, detector)
        detectors[detector] = {
            "detected": o.detected, "first": _alarm(o.first), "delay": o.delay, "off_target": list(o.off_target),
            "tolerated_raised": sorted({a.check for a in run.alarms[detector] if a.is_alarm} & s.tolerated),
            "alarms": [_alarm(a) for a in run.alarms[detector]],
        }
    return {
        "name": s.name, "group": s.group, "kind": s.kind, "description": s.description,
        "expected": sorted(s.expected), "tolerated": sorted(s.tolerated), "unit": s.unit, "onset": run.onset,
        "seconds": run.seconds, "error": run.error, "notes": run.notes, "last_epoch": last,
        "detectors": detectors,
    }


def run(names: list[str] | None = None, progress: Callable[[str], None] = print, log_root: str | None = None) -> dict:
    """Runs the scenarios (all when `names` is None) and returns the JSON-ready results.

    With `log_root`, SCRAM's logs of each scenario stay in `log_root/<name>` (for
    `scram report` or TensorBoard); otherwise they go to temporary directories.
    """
    started = time.perf_counter()
    runs = []
    chosen: list[Scenario] = select(names)
    scenarios = [s for s in chosen if s.runs_here]
    for i, scenario in enumerate(scenarios, 1):
        runs.append(run_scenario(scenario, os.path.join(log_root, scenario.name) if log_root else None))
        scram = scoring.outcome(runs[-1], "scram")
        verdict = ("quiet" if not scram.off_target else "FALSE ALARM") if scenario.healthy else (
            "detected" if scram.detected else "missed")
        progress(f"zoo {i}/{len(scenarios)} {scenario.name}: SCRAM {verdict} ({runs[-1].seconds:.1f} s)")
    return {
        "scenarios": [scenario_record(r) for r in runs],
        "summary": [dataclasses.asdict(s) | {"recall": s.recall, "precision": s.precision}
                    for s in scoring.all_summaries(runs)],
        "coverage": [dataclasses.asdict(c) | {"implemented": c.check in IMPLEMENTED, "recall": c.recall,
                                              "precision": c.precision}
                     for c in scoring.coverage(runs)],
        "targets": {d: [dataclasses.asdict(t) for t in scoring.targets(runs, d)] for d in DETECTORS},
        "not_run": [{"name": s.name, "description": s.description, "backends": sorted(s.backends)}
                    for s in chosen if not s.runs_here],
        "seconds": time.perf_counter() - started,
    }
