"""The diagnostic record: what SCRAM tells the user about one training problem.

This module is framework-free: it is shared by the checks that create diagnostics,
the writer that stores them, and the readers (CLI and TensorBoard plugin) that show them.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["Confidence", "Diagnostic", "Severity", "json_safe"]


class Severity(str, enum.Enum):
    """How bad a diagnostic is.

    `ERROR`: training is broken (NaN loss). `WARNING`: very likely a problem.
    `INFO`: advice.
    """

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for error: larger is worse."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Confidence(str, enum.Enum):
    """How sure SCRAM is that the diagnosis is right."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """One problem found in one training run.

    Attributes:
        check: Stable id of the check that found it, e.g. `"nan_loss"`.
        severity: A `Severity`.
        title: A short headline.
        explanation: What was observed, with the numbers, in plain words.
        suggestion: What to try.
        snippet: Code the user can paste, or None.
        evidence: The numbers that triggered the check (JSON-safe values).
        step: 0-based global training batch index at which it was detected.
        epoch: 0-based epoch, or None for checks made before training starts.
        confidence: A `Confidence`.
        location: `"file.py:42"` of the user's code to change, or None.
        doc: Relative path of the check's documentation page, or None.
        wall_time: Seconds since the epoch when it was detected.
    """

    check: str
    severity: Severity
    title: str
    explanation: str
    suggestion: str
    snippet: str | None
    evidence: Mapping[str, Any]
    step: int
    epoch: int | None
    confidence: Confidence = Confidence.MEDIUM
    location: str | None = None
    doc: str | None = None
    wall_time: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (enums as strings, non-finite numbers as strings)."""
        # Field by field rather than dataclasses.asdict: this runs for every diagnostic a
        # route serves, and asdict's deep copies made 10,000 of them slow.
        return {
            "check": self.check,
            "severity": self.severity.value,
            "title": self.title,
            "explanation": self.explanation,
            "suggestion": self.suggestion,
            "snippet": self.snippet,
            "evidence": json_safe(dict(self.evidence)),
            "step": self.step,
            "epoch": self.epoch,
            "confidence": self.confidence.value,
            "location": self.location,
            "doc": self.doc,
            "wall_time": self.wall_time,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Diagnostic:
        """Builds a diagnostic from `to_json()` output; raises ValueError if malformed."""
        if not isinstance(data, Mapping):
            raise ValueError("a diagnostic must be a JSON object")
        try:
            return cls(
                check=_text(data, "check"),
                severity=Severity(data["severity"]),
                title=_text(data, "title"),
                explanation=_text(data, "explanation"),
                suggestion=_text(data, "suggestion"),
                snippet=_optional_text(data, "snippet"),
                evidence=_evidence(data.get("evidence", {})),
                step=_int(data, "step"),
                epoch=_optional_int(data, "epoch"),
                confidence=Confidence(data.get("confidence", "medium")),
                location=_optional_text(data, "location"),
                doc=_optional_text(data, "doc"),
                wall_time=float(data.get("wall_time", 0.0)),
            )
        except (KeyError, TypeError, OverflowError) as error:
            raise ValueError(f"malformed diagnostic: {error!r}") from error


def json_safe(value: Any) -> Any:
    """Makes numbers, containers and numpy scalars JSON-safe; NaN becomes "nan"."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value).lower()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if hasattr(value, "item"):  # numpy scalar
        return json_safe(value.item())
    return str(value)


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string")
    return value


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _text(data, key)


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key} must be an integer")
    return value


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) is None else _int(data, key)


def _evidence(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError("evidence must be an object")
    return {str(key): item for key, item in value.items()}
