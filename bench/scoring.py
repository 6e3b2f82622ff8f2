"""Scores detectors on the zoo: recall, false alarms, time to detection, and the issue's targets."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable

from bench.detectors import DETECTORS, Alarm
from bench.runner import ScenarioRun
from bench.zoo import CATALOGUE
from bench.zoo.registry import first_nonfinite_loss


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one detector did on one scenario.

    Attributes:
        detected: Faulty scenario: an expected check was raised as a warning or error.
        first: The first such alarm.
        delay: `first`'s step (or epoch) minus the onset; negative = before the onset.
        off_target: Ids of warnings/errors that are neither expected nor tolerated (on a
            healthy scenario: every warning or error), in order of first appearance.
    """

    detected: bool
    first: Alarm | None
    delay: int | None
    off_target: tuple[str, ...]


def outcome(run: ScenarioRun, detector: str) -> Outcome:
    """Scores `detector`'s alarms on one run."""
    scenario = run.scenario
    alarms = [a for a in run.alarms[detector] if a.is_alarm]
    correct = [a for a in alarms if a.check in scenario.expected]
    first = min(correct, key=lambda a: _position(a, scenario.unit), default=None)
    onset = run.onset
    delay = None if first is None or onset is None else _position(first, scenario.unit) - onset
    neutral = scenario.expected | scenario.tolerated
    off = tuple(dict.fromkeys(a.check for a in alarms if a.check not in neutral))
    return Outcome(first is not None, first, delay, off)


def _position(alarm: Alarm, unit: str) -> int:
    """An alarm's step, or its epoch (a static alarm counts as epoch 0)."""
    if unit == "epoch":
        return alarm.epoch if alarm.epoch is not None else 0
    return alarm.step


@dataclasses.dataclass(frozen=True)
class Summary:
    """One detector over the whole zoo."""

    detector: str
    faulty: int
    detected: int
    healthy: int
    healthy_with_alarms: tuple[str, ...]
    faulty_with_off_target: tuple[str, ...]
    median_delay_steps: float | None
    median_delay_epochs: float | None
    correct_alarms: int = 0
    false_alarms: int = 0

    @property
    def recall(self) -> float:
        """Share of faulty scenarios correctly diagnosed."""
        return self.detected / self.faulty if self.faulty else 0.0

    @property
    def precision(self) -> float | None:
        """Share of raised (scenario, check) pairs that were a correct diagnosis; None when nothing was raised.

        A tolerated consequence (NaN loss after NaN inputs) counts neither way; an alarm on a healthy
        scenario, or one neither expected nor tolerated on a faulty one, is a false alarm.
        """
        raised = self.correct_alarms + self.false_alarms
        return self.correct_alarms / raised if raised else None


def summarize(runs: list[ScenarioRun], detector: str) -> Summary:
    """Recall, false alarms and median delays of one detector."""
    faulty = [r for r in runs if not r.scenario.healthy]
    results = {r.scenario.name: outcome(r, detector) for r in runs}
    delays = {unit: [results[r.scenario.name].delay for r in faulty if r.scenario.unit == unit] for unit in
              ("step", "epoch")}
    return Summary(
        detector=detector,
        faulty=len(faulty),
        detected=sum(results[r.scenario.name].detected for r in faulty),
        healthy=len(runs) - len(faulty),
        healthy_with_alarms=tuple(r.scenario.name for r in runs if r.scenario.healthy
                                  and results[r.scenario.name].off_target),
        faulty_with_off_target=tuple(r.scenario.name for r in faulty if results[r.scenario.name].off_target),
        median_delay_steps=_median(delays["step"]),
        median_delay_epochs=_median(delays["epoch"]),
        correct_alarms=sum(len(_raised(r, detector) & r.scenario.expected) for r in runs),
        false_alarms=sum(len(results[r.scenario.name].off_target) for r in runs),
    )


def _raised(run: ScenarioRun, detector: str) -> set[str]:
    """Ids of the checks `detector` raised as a warning or error in `run`."""
    return {a.check for a in run.alarms[detector] if a.is_alarm}


def _median(values: Iterable[int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


@dataclasses.dataclass(frozen=True)
class CheckCoverage:
    """One catalogue check: the scenarios expecting it and where SCRAM raised it.

    Attributes:
        false_in: Scenarios where SCRAM raised it as a false alarm: on a healthy scenario
            (a healthy job or the fixed twin of a faulty one), or neither expected nor
            tolerated on a faulty one.
    """

    check: str
    scenarios: tuple[str, ...]
    raised_in: tuple[str, ...]
    raised_anywhere: tuple[str, ...]
    false_in: tuple[str, ...] = ()

    @property
    def recall(self) -> float | None:
        """Share of the scenarios expecting the check where it was raised (None: none expects it)."""
        return len(self.raised_in) / len(self.scenarios) if self.scenarios else None

    @property
    def precision(self) -> float | None:
        """Share of its correct alarms among its correct and false ones (None: never raised)."""
        raised = len(self.raised_in) + len(self.false_in)
        return len(self.raised_in) / raised if raised else None


def coverage(runs: list[ScenarioRun]) -> list[CheckCoverage]:
    """Per catalogue check id: where it was expected, where SCRAM raised it (warning/error), and where falsely."""
    raised = {r.scenario.name: _raised(r, "scram") for r in runs}
    rows = []
    for check in CATALOGUE:
        expecting = [r for r in runs if check in r.scenario.expected]
        rows.append(CheckCoverage(
            check=check,
            scenarios=tuple(r.scenario.name for r in expecting),
            raised_in=tuple(r.scenario.name for r in expecting if check in raised[r.scenario.name]),
            raised_anywhere=tuple(r.scenario.name for r in runs if check in raised[r.scenario.name]),
            false_in=tuple(r.scenario.name for r in runs if check in raised[r.scenario.name]
                           and check not in r.scenario.expected | r.scenario.tolerated),
        ))
    return rows


@dataclasses.dataclass(frozen=True)
class Target:
    """One of issue 5's targets, for one detector: met or not, with the figures."""

    name: str
    met: bool
    detail: str


def targets(runs: list[ScenarioRun], detector: str) -> list[Target]:
    """The issue's targets: recall, quiet healthy runs, static at once, NaN at once, overfitting soon."""
    summary = summarize(runs, detector)
    results = [(r, outcome(r, detector)) for r in runs]
    static = [(r.scenario.name, o.delay) for r, o in results if r.scenario.kind == "static" and o.detected]
    late_static = [name for name, delay in static if delay is None or delay > 0]
    nan_delays = [(r.scenario.name, _nan_delay(r, detector)) for r in runs if first_nonfinite_loss(r.trace) is not None]
    late_nan = [name for name, delay in nan_delays if delay != 0]
    fits = [(r.scenario.name, o.delay) for r, o in results if "overfitting" in r.scenario.expected]
    late_fit = [name for name, delay in fits if delay is None or delay > 3]
    return [
        Target("recall >= 0.95", summary.recall >= 0.95, f"{summary.detected}/{summary.faulty} = {summary.recall:.2f}"),
        Target("no false alarm on a healthy scenario", not summary.healthy_with_alarms,
               ", ".join(summary.healthy_with_alarms) or f"0 of {summary.healthy}"),
        Target("static faults found before the first batch ends", not late_static,
               f"{len(static) - len(late_static)}/{len(static)} detected static faults in time"
               + (f"; late: {', '.join(late_static)}" if late_static else "")),
        Target("NaN reported at the batch it appears", not late_nan,
               f"{len(nan_delays) - len(late_nan)}/{len(nan_delays)} runs with a NaN/Inf loss"
               + (f"; late or missed: {', '.join(late_nan)}" if late_nan else "")),
        Target("overfitting within 3 epochs of onset", bool(fits) and not late_fit,
               "; ".join(f"{name}: {'missed' if d is None else f'{d} epochs'}" for name, d in fits)),
    ]


def _nan_delay(run: ScenarioRun, detector: str) -> int | None:
    """Steps from the first non-finite loss to the detector's `nan_loss` report (None: never)."""
    nan = [a.step for a in run.alarms[detector] if a.check == "nan_loss" and a.is_alarm]
    return min(nan) - first_nonfinite_loss(run.trace) if nan else None


def all_summaries(runs: list[ScenarioRun]) -> list[Summary]:
    """`summarize` for every detector."""
    return [summarize(runs, detector) for detector in DETECTORS]
