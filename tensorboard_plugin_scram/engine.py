"""The engine: feeds observations to the checks and turns findings into diagnostics.

It owns the run's `History`, reports a condition that persists once per episode, and
keeps a failing check from ever reaching the user's training.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Iterable, Sequence

from tensorboard_plugin_scram.checks.base import Check, Finding, Findings, batch_needs
from tensorboard_plugin_scram.checks.internal_error import InternalError
from tensorboard_plugin_scram.diagnostic import Diagnostic
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, EpochObservation, RunInfo

DOC_PATH = "docs/checks/{}.md"

# Called once per failure of a part of SCRAM, so the adapter can warn the user.
ErrorHook = Callable[[str, BaseException], None]


class Engine:
    """Runs the checks over one training run.

    Episodes: a check's finding with a given key opens an episode and becomes a
    diagnostic. While the check keeps reporting that key, nothing new is emitted; when a
    hook judges the condition gone (returns findings without that key), the episode ends
    and a later recurrence is reported again. Static findings (before training) are
    reported once for the engine's lifetime, even across several `fit()` calls.

    Args:
        checks: The enabled checks.
        on_error: Called with `(where, exception)` when a check fails.
    """

    def __init__(self, checks: Sequence[Check], on_error: ErrorHook | None = None) -> None:
        # Per phase, only the checks that implement its hook: the batch hook runs at every
        # step, and most checks only look at epochs.
        self._checks = {phase: [c for c in checks if _implements(c, hook)] for phase, hook in _HOOKS.items()}
        self._needs = {id(c): _needs(c) for c in self._checks["batch"]}
        # The batch checks that can judge a batch carrying these parts, listed once: most
        # batches carry the metrics alone, and only the loss checks read them.
        self._batch_checks: dict[frozenset[str], list[Check]] = {}
        self._on_error = on_error
        # Open episodes: (check id, phase) -> keys of the findings still present.
        self._open: dict[tuple[str, str], set[str]] = {}
        self.history = History()
        self._data_judged_at: int | None = None  # the step `batch_data` judged before training

    def begin(self, run: RunInfo, step: int) -> list[Diagnostic]:
        """Static checks, before the first batch of a `fit()` call."""
        self.history.run = run
        return self._run_hook("begin", self._checks["begin"], step, None, lambda c: c.on_train_begin(run))

    def batch(self, obs: BatchObservation) -> list[Diagnostic]:
        """Checks at the end of one training batch.

        A check runs only on batches carrying what it reads (`Check.batch_needs`); on the
        others it is as if it had returned None.
        """
        judged_before = obs.step == self._data_judged_at
        # Statistics judged before training (`batch_data`) are counted once in the history.
        self.history.add_batch(dataclasses.replace(obs, tensors=None) if judged_before else obs)
        history = self.history
        present = _PRESENT[obs.tensors is not None, obs.model is not None]
        checks = self._batch_checks.get(present)
        if checks is None:
            checks = self._batch_checks[present] = [c for c in self._checks["batch"] if self._needs[id(c)] <= present]
        if judged_before:
            checks = [c for c in checks if self._needs[id(c)] != _DATA_ONLY]
        return self._run_hook("batch", checks, obs.step, obs.epoch, lambda c: c.on_batch(obs, history))

    def batch_data(self, obs: BatchObservation) -> list[Diagnostic]:
        """Checks of a batch's data alone (`batch_needs` is "tensors") before training starts on it.

        `obs` carries the statistics and no metrics. When the batch ends, `batch` with the
        same step and statistics runs the other checks; these do not see it twice.
        """
        self._data_judged_at = obs.step
        self.history.add_batch(obs)
        history = self.history
        checks = [c for c in self._checks["batch"] if self._needs[id(c)] == _DATA_ONLY]
        return self._run_hook("batch", checks, obs.step, obs.epoch, lambda c: c.on_batch(obs, history))

    def suspects(self) -> bool:
        """Whether a batch check suspects a condition it has not reported yet (`Check.suspects`)."""
        for check in self._checks["batch"]:
            try:
                if check.suspects():
                    return True
            except Exception:  # a hint only: a failing one counts as no suspicion
                continue
        return False

    def epoch(self, obs: EpochObservation) -> list[Diagnostic]:
        """Checks at the end of one epoch."""
        self.history.add_epoch(obs)
        return self._run_hook("epoch", self._checks["epoch"], obs.step, obs.epoch,
                              lambda c: c.on_epoch(obs, self.history))

    def internal_error(self, where: str, error: BaseException, step: int, epoch: int | None) -> list[Diagnostic]:
        """The diagnostic recording a failure of SCRAM's own machinery (once per `where`)."""
        finding = InternalError.finding_for(where, error)
        return self._open_episodes(InternalError, "internal", [finding], step, epoch)

    def _run_hook(self, phase: str, checks: Sequence[Check], step: int, epoch: int | None,
                  call: Callable[[Check], Findings]) -> list[Diagnostic]:
        diagnostics: list[Diagnostic] = []
        for check in list(checks):
            try:
                findings = call(check)
                # The usual answer, "nothing" with no episode open, needs no bookkeeping.
                if findings is not None and (findings or self._open.get((check.id, phase))):
                    diagnostics += self._open_episodes(check, phase, findings, step, epoch)
            except Exception as error:  # a check must never break training
                self._drop(check)
                if self._on_error is not None:
                    self._on_error(f"check '{check.id}'", error)
                diagnostics += self.internal_error(f"check '{check.id}'", error, step, epoch)
        return diagnostics

    def _drop(self, check: Check) -> None:
        """Runs a failed check no more."""
        for checks in [*self._checks.values(), *self._batch_checks.values()]:
            if check in checks:
                checks.remove(check)

    def _open_episodes(
        self,
        check: Check | type[Check],
        phase: str,
        findings: Iterable[Finding],
        step: int,
        epoch: int | None,
    ) -> list[Diagnostic]:
        findings = list(findings)
        is_open = self._open.setdefault((check.id, phase), set())
        if phase not in ("begin", "internal"):
            # The condition is gone for keys not fired again: their episodes end.
            is_open &= {f.key for f in findings}
        new = []
        for finding in findings:
            if finding.key not in is_open:
                is_open.add(finding.key)
                new.append(_diagnostic(check, finding, step, epoch))
        return new


_HOOKS = {"begin": "on_train_begin", "batch": "on_batch", "epoch": "on_epoch"}
# The parts a batch observation carries, by (has tensors, has model statistics).
# What a check of the batch data alone reads (`Engine.batch_data`).
_DATA_ONLY = frozenset({"tensors"})
_PRESENT = {
    (tensors, model): frozenset(name for name, has in (("tensors", tensors), ("model", model)) if has)
    for tensors in (False, True) for model in (False, True)
}


def _needs(check: Check) -> frozenset[str]:
    """What the check's batch hook reads (`Check.batch_needs`).

    An invalid declaration, which `build_checks` refuses, counts as none: the check runs.
    """
    try:
        return batch_needs(check)
    except (TypeError, ValueError):
        return frozenset()


def _implements(check: Check, hook: str) -> bool:
    """Whether the check's class overrides the base class's no-op hook."""
    return getattr(type(check), hook) is not getattr(Check, hook)


def _diagnostic(check: Check | type[Check], finding: Finding, step: int, epoch: int | None) -> Diagnostic:
    return Diagnostic(
        check=check.id,
        severity=finding.severity or check.severity,
        title=finding.title,
        explanation=finding.explanation,
        suggestion=finding.suggestion,
        snippet=finding.snippet,
        evidence=dict(finding.evidence),
        step=step,
        epoch=epoch,
        confidence=finding.confidence or check.confidence,
        location=finding.location,
        doc=DOC_PATH.format(check.id),
        wall_time=time.time(),
    )


def warn_failure(where: str, error: BaseException, stacklevel: int = 4) -> None:
    """The warning a framework adapter gives when a part of SCRAM fails: training goes on."""
    warnings.warn(f"SCRAM: {where} failed ({type(error).__name__}: {error}); training continues, SCRAM may miss "
                  "some problems.", RuntimeWarning, stacklevel=stacklevel)


class WarnOnce:
    """`(where, error) -> None`: the first failure of a run warns; the later ones are only recorded."""

    def __init__(self) -> None:
        self.warned = False

    def __call__(self, where: str, error: BaseException) -> None:
        if not self.warned:
            self.warned = True
            warn_failure(where, error, stacklevel=5)


def record_failure(engine: Engine | None, emit: Callable[[list[Diagnostic]], None], where: str,
                   error: BaseException, step: int, epoch: int | None) -> None:
    """Hands the `scram_internal_error` diagnostic of a failure to `emit`; never raises."""
    if engine is None:
        return
    try:
        emit(engine.internal_error(where, error, step, epoch))
    except Exception:  # reporting a failure must not become one
        pass
