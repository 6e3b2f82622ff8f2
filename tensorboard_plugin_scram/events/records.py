"""The typed records of SCRAM's events, and `RunRecords`: everything SCRAM wrote into one run.

Each event holds one record (see `payload`): a `DiagnosticsRecord` under the diagnostics
tag, an `EpochRecord` under the epoch tag, a `BatchesRecord` of sampled batches under the
batch tag. Readers gather a run's records into one `RunRecords`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from tensorboard_plugin_scram.diagnostic import Diagnostic


@dataclasses.dataclass(frozen=True)
class BatchRecord:
    """One sampled batch: a point of the fine-grained training curve.

    Attributes:
        step: 0-based global training step of the batch.
        epoch: 0-based epoch.
        logs: Keras' running metrics after the batch (non-finite values kept as floats).
    """

    step: int
    epoch: int
    logs: Mapping[str, float]


@dataclasses.dataclass(frozen=True)
class EpochRecord:
    """The end of one epoch: its metrics and SCRAM's cost so far.

    Attributes:
        step: Global step of the epoch's last batch.
        epoch: 0-based epoch.
        logs: Keras' epoch metrics (`loss`, `val_loss`, ...).
        cost: SCRAM's own time so far (`scram_seconds`, `train_seconds`, ...).
    """

    step: int
    epoch: int
    logs: Mapping[str, float]
    cost: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DiagnosticsRecord:
    """The diagnostics found at one step."""

    diagnostics: tuple[Diagnostic, ...]


@dataclasses.dataclass(frozen=True)
class BatchesRecord:
    """Sampled batches written together, in order."""

    batches: tuple[BatchRecord, ...]


Record = DiagnosticsRecord | EpochRecord | BatchesRecord


@dataclasses.dataclass(frozen=True)
class RunRecords:
    """Everything SCRAM wrote into one run.

    Attributes:
        run: The run's name as TensorBoard shows it (path relative to the logdir).
        diagnostics: Diagnostics ordered by step.
        epochs: End-of-epoch records, in the order written.
        batches: Sampled batches, in the order written.
        skipped: Records that could not be read: corrupt, foreign, or written by a newer SCRAM.
    """

    run: str
    diagnostics: tuple[Diagnostic, ...] = ()
    epochs: tuple[EpochRecord, ...] = ()
    batches: tuple[BatchRecord, ...] = ()
    skipped: int = 0

    @property
    def empty(self) -> bool:
        """Whether the run holds nothing of SCRAM's, not even unreadable records."""
        return not (self.diagnostics or self.epochs or self.batches or self.skipped)
