"""The base class of every check, and the finding a check reports."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import (
    BatchObservation,
    EpochObservation,
    RunInfo,
)

__all__ = ["BATCH_PARTS", "Check", "Finding", "Findings", "batch_needs"]

# The parts of a `BatchObservation` a check can declare in `Check.batch_needs`.
BATCH_PARTS = frozenset({"tensors", "model"})


@dataclasses.dataclass(frozen=True)
class Finding:
    """One firing of a check: the message and the evidence.

    Attributes:
        title: A short headline.
        explanation: What was observed, with the numbers, worded with honest uncertainty.
        suggestion: What to try.
        snippet: Code the user can paste, or None.
        evidence: Observed values and the thresholds they crossed.
        severity: Overrides the check's default severity.
        confidence: Overrides the check's default confidence.
        key: Separates independent episodes of one check (e.g. one per input), so that
            a problem in input "a" does not hide a later one in input "b".
        location: `"file.py:42"` of the user's code to change, if known.
    """

    title: str
    explanation: str
    suggestion: str
    snippet: str | None = None
    evidence: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    severity: Severity | None = None
    confidence: Confidence | None = None
    key: str = ""
    location: str | None = None


# What a hook returns: None when it had nothing to judge (the engine then keeps the
# current episodes open), otherwise the findings, possibly none.
Findings = Iterable[Finding] | None


class Check:
    """Base class of SCRAM's checks; subclass it to write your own.

    A check is a small rule over plain numbers. Set the class attributes, override the
    hooks you need, and return `Finding`s. The engine turns findings into diagnostics and
    reports a condition that persists once per episode, not at every batch.

    The class docstring is the check's documentation page: use the headings
    "What it does", "Why is this bad?", "Example" and "Fix" like a linter's rules.

    Class attributes:
        id: Stable identifier, like a lint rule code (`"nan_loss"`).
        title: Default headline.
        severity: Default `Severity`.
        confidence: Default `Confidence`.
        thresholds: Default values of the configurable thresholds, by name.
        batch_needs: The parts of a `BatchObservation` that `on_batch` cannot judge
            without (a set of `"tensors"`, `"model"`): batches that lack one skip the
            check, as if it had returned None. Most batches carry neither, so this keeps
            the per-step cost to the checks that read the loss. Another name raises
            `ValueError` when the check is added.

    Example:

    ```python
    from tensorboard_plugin_scram.checks import Check, Finding, Severity

    class LossTooHigh(Check):
        id = "loss_too_high"
        title = "Loss above target"
        severity = Severity.WARNING
        thresholds = {"limit": 5.0}

        def on_epoch(self, obs, history):
            loss = obs.logs.get("loss")
            if loss is None:
                return None
            if loss <= self.threshold("limit"):
                return []
            return [Finding(
                title=self.title,
                explanation=f"The loss is {loss:.3g}, above {self.threshold('limit')}.",
                suggestion="Train longer or check the labels.",
                evidence={"loss": loss, "limit": self.threshold("limit")},
            )]

    ScramCallback(log_dir, extra_checks=[LossTooHigh()])
    ```
    """

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    severity: ClassVar[Severity] = Severity.WARNING
    confidence: ClassVar[Confidence] = Confidence.MEDIUM
    thresholds: ClassVar[Mapping[str, float]] = {}
    batch_needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **thresholds: float) -> None:
        self._thresholds = dict(self.thresholds)
        self.configure(**thresholds)

    def configure(self, **thresholds: float) -> None:
        """Overrides thresholds by name; raises ValueError for an unknown name."""
        unknown = sorted(set(thresholds) - set(self.thresholds))
        if unknown:
            known = ", ".join(sorted(self.thresholds)) or "none"
            raise ValueError(f"check {self.id!r} has no threshold {unknown[0]!r} (known: {known})")
        self._thresholds.update(thresholds)

    def threshold(self, name: str) -> float:
        """The configured value of one threshold."""
        return self._thresholds[name]

    def configured_thresholds(self) -> dict[str, float]:
        """Every threshold with its configured value."""
        return dict(self._thresholds)

    def suspects(self) -> bool:
        """Whether the check has seen its condition, but not yet often enough to report it.

        While a check suspects something, SCRAM measures the model's internals more
        often, so the condition is confirmed (or cleared) sooner.
        """
        return False

    @classmethod
    def doc(cls) -> str:
        """The check's documentation (its class docstring, dedented)."""
        return inspect.cleandoc(cls.__doc__ or "")

    def on_train_begin(self, run: RunInfo) -> Findings:
        """Called once before the first batch: static checks of model, loss, optimizer."""
        return None

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        """Called for every training batch, in order (`history` already includes `obs`).

        A batch carrying only metrics (no `tensors`, no `model`) may be handed over with the
        next few, at most 16 steps later; a batch whose loss is not finite or has risen to
        twice its lowest, a sampled batch and an epoch's end are handed over at once.
        """
        return None

    def on_epoch(self, obs: EpochObservation, history: History) -> Findings:
        """Called after every epoch (`history` already includes `obs`)."""
        return None


def batch_needs(check: Check) -> frozenset[str]:
    """`check.batch_needs` as a set of part names (one name alone is accepted too).

    Raises:
        ValueError: for a name that is not one of `BATCH_PARTS`: such a check would
            silently never run.
    """
    declared = check.batch_needs
    names = frozenset({declared} if isinstance(declared, str) else declared)
    unknown = sorted(names - BATCH_PARTS)
    if unknown:
        raise ValueError(f"check {check.id!r} declares batch_needs {unknown[0]!r} "
                         f"(known: {', '.join(sorted(BATCH_PARTS))})")
    return names
