"""SCRAM's checks: small rules over plain numbers, one module each.

Write your own by subclassing `Check` (see its docstring) and pass an instance to
`ScramCallback(log_dir, extra_checks=[...])`.
"""

from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.checks.registry import BUILTIN_CHECKS, CATALOGUE, build_checks
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import (
    BatchObservation,
    EpochObservation,
    RunInfo,
    TensorStats,
)

__all__ = [
    "BUILTIN_CHECKS",
    "CATALOGUE",
    "BatchObservation",
    "Check",
    "Confidence",
    "EpochObservation",
    "Finding",
    "Findings",
    "History",
    "RunInfo",
    "Severity",
    "TensorStats",
    "build_checks",
]
