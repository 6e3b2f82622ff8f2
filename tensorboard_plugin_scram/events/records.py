"""The typed records of SCRAM's events, and `RunRecords`: everything SCRAM wrote into one run.

Each event holds one record (see `payload`): a `DiagnosticsRecord` under the diagnostics
tag, an `EpochRecord` under the epoch tag, a `BatchesRecord` of sampled batches under the
batch tag. Readers gather a run's records into one `RunRecords`, whose sampled batches
(most of a run's records, and what `scram report` and most routes never look at) may be
`PendingBatches`: decoded on first use.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence

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
# A stored batches payload, or batches decoded already: what `PendingBatches` is made of.
BatchesPart = bytes | str | tuple[BatchRecord, ...]


class PendingBatches(Sequence[BatchRecord]):
    """A run's sampled batches, kept as their stored payloads until first used, then decoded once.

    Reading a log directory was mostly decoding batches that `scram report` never shows.
    Readers keep a payload undecoded only when it is sure to decode (see
    `payload.is_plain_batches`), so their count of skipped records does not change.
    Whether there are any batches, and their largest step, are known without decoding.

    Args:
        parts: Stored payloads, each a non-empty batches record, and non-empty tuples of
            batches decoded already, in the order written.
        decode: Turns one stored payload into its batches.
        last_step: The largest batch step of one stored payload, found without decoding it.
        finish: Applied to all the batches once decoded (the plugin thins long curves).
    """

    def __init__(self, parts: Sequence[BatchesPart], decode: Callable[[bytes | str], tuple[BatchRecord, ...]],
                 last_step: Callable[[bytes | str], int],
                 finish: Callable[[tuple[BatchRecord, ...]], tuple[BatchRecord, ...]] | None = None) -> None:
        self._parts: Sequence[BatchesPart] | None = tuple(parts)
        self._decode, self._part_last_step, self._finish = decode, last_step, finish
        self._any = bool(self._parts)
        self._last_step: int | None = None
        self._batches: tuple[BatchRecord, ...] | None = None
        self._lock = threading.Lock()

    def then(self, finish: Callable[[tuple[BatchRecord, ...]], tuple[BatchRecord, ...]]) -> Sequence[BatchRecord]:
        """These batches with `finish` applied to them: now if they are decoded, else once they are."""
        with self._lock:
            if self._parts is None:
                return finish(self._batches or ())
            before = self._finish
            combined = finish if before is None else (lambda batches: finish(before(batches)))
            return PendingBatches(self._parts, self._decode, self._part_last_step, combined)

    def last_step(self) -> int | None:
        """The largest step of all the batches (before `finish`), decoding nothing."""
        with self._lock:
            return self._known_last_step()

    @property
    def decoded(self) -> bool:
        """Whether the payloads have been decoded (and let go of)."""
        return self._parts is None

    def _known_last_step(self) -> int | None:
        """`last_step`, worked out while the parts are still held (the lock held)."""
        if self._last_step is None and self._parts:
            self._last_step = max(max(b.step for b in part) if isinstance(part, tuple) else self._part_last_step(part)
                                  for part in self._parts)
        return self._last_step

    def _all(self) -> tuple[BatchRecord, ...]:
        with self._lock:
            if self._parts is not None:
                self._known_last_step()
                batches = tuple(batch for part in self._parts
                                for batch in (part if isinstance(part, tuple) else self._decode(part)))
                self._batches = self._finish(batches) if self._finish else batches
                self._parts = None  # the payloads are let go of: a long run's are megabytes
            return self._batches

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, index):
        return self._all()[index]

    def __iter__(self) -> Iterator[BatchRecord]:
        return iter(self._all())

    def __bool__(self) -> bool:
        return self._any

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (PendingBatches, tuple, list)):
            return self._all() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like the tuple of dicts it stands for

    def __repr__(self) -> str:
        return f"PendingBatches({'decoded' if self.decoded else 'undecoded'})"


def last_batch_step(batches: Sequence[BatchRecord]) -> int | None:
    """The largest step among `batches`, without decoding pending ones."""
    if isinstance(batches, PendingBatches):
        return batches.last_step()
    return max((batch.step for batch in batches), default=None)


@dataclasses.dataclass(frozen=True)
class RunRecords:
    """Everything SCRAM wrote into one run.

    Attributes:
        run: The run's name as TensorBoard shows it (path relative to the logdir).
        diagnostics: Diagnostics ordered by step.
        epochs: End-of-epoch records, in the order written.
        batches: Sampled batches, in the order written: a tuple, or `PendingBatches`
            (a sequence decoded on first use).
        skipped: Records that could not be read: corrupt, foreign, or written by a newer SCRAM.
    """

    run: str
    diagnostics: tuple[Diagnostic, ...] = ()
    epochs: tuple[EpochRecord, ...] = ()
    batches: Sequence[BatchRecord] = ()
    skipped: int = 0

    @property
    def empty(self) -> bool:
        """Whether the run holds nothing of SCRAM's, not even unreadable records."""
        return not (self.diagnostics or self.epochs or self.batches or self.skipped)

    @property
    def last_step(self) -> int | None:
        """The largest step of any of the run's records, or None; pending batches stay undecoded."""
        steps = [d.step for d in self.diagnostics] + [e.step for e in self.epochs]
        batch_step = last_batch_step(self.batches)
        if batch_step is not None:
            steps.append(batch_step)
        return max(steps, default=None)
