"""Gathers one run's stored payloads into `RunRecords`: the part both readers share.

The readers differ only in where the payloads come from (event files on disk, or
TensorBoard's data provider); what a payload means, and when it is skipped, is decided
here once. Sampled batches in the writer's own form are not decoded here but on first use
(`records.PendingBatches`): they are sure to decode, so the count of skipped records is the same.
"""

from __future__ import annotations

from tensorboard_plugin_scram.diagnostic import Diagnostic
from tensorboard_plugin_scram.events import metadata, payload
from tensorboard_plugin_scram.events.records import (
    BatchesPart,
    BatchesRecord,
    BatchRecord,
    DiagnosticsRecord,
    EpochRecord,
    PendingBatches,
    RunRecords,
)

# The tag each kind of record must be stored under; elsewhere it is foreign.
_TAG_OF = {DiagnosticsRecord: metadata.DIAGNOSTICS_TAG, EpochRecord: metadata.EPOCH_TAG,
           BatchesRecord: metadata.BATCH_TAG}


class RunCollector:
    """The records of one run, added payload by payload; `records()` gives them as `RunRecords`.

    Args:
        run: The run's name as TensorBoard shows it.
    """

    def __init__(self, run: str) -> None:
        self._run = run
        self._diagnostics: list[Diagnostic] = []
        self._epochs: list[EpochRecord] = []
        self._batch_parts: list[BatchesPart] = []
        self._skipped = 0

    def add(self, tag: str, raw: object) -> None:
        """Decodes one stored payload; counts it as skipped if it is bad or under the wrong tag.

        Sampled batches in the writer's own form are kept as they are, to be decoded on first use.
        """
        if not isinstance(raw, (bytes, str)):
            self.skip()
            return
        if tag == metadata.BATCH_TAG and payload.is_plain_batches(raw):
            self._batch_parts.append(raw)
            return
        try:
            record = payload.decode(raw)
        except payload.PayloadError:
            self.skip()
            return
        if _TAG_OF[type(record)] != tag:
            self.skip()
        elif isinstance(record, DiagnosticsRecord):
            self._diagnostics.extend(record.diagnostics)
        elif isinstance(record, EpochRecord):
            self._epochs.append(record)
        elif record.batches:
            self._batch_parts.append(record.batches)

    def copy(self) -> RunCollector:
        """Another collector holding what this one holds, to go on adding to without changing this one."""
        twin = RunCollector(self._run)
        twin._diagnostics, twin._epochs = list(self._diagnostics), list(self._epochs)
        twin._batch_parts, twin._skipped = list(self._batch_parts), self._skipped
        return twin

    def skip(self, count: int = 1) -> None:
        """Counts records left unread (a series written by a newer SCRAM, a bad payload)."""
        self._skipped += count

    def records(self) -> RunRecords:
        """What was added so far, diagnostics ordered by step; batches still undecoded."""
        return RunRecords(
            run=self._run,
            diagnostics=tuple(sorted(self._diagnostics, key=lambda d: d.step)),
            epochs=tuple(self._epochs),
            batches=_batches_of(self._batch_parts),
            skipped=self._skipped,
        )


def _batches_of(parts: list[BatchesPart]) -> PendingBatches | tuple[BatchRecord, ...]:
    """The batches of `parts` (payloads `payload.is_plain_batches` accepted, or decoded batches), decoded on use."""
    if all(isinstance(part, tuple) for part in parts):  # nothing left to decode
        return tuple(batch for part in parts for batch in part)
    return PendingBatches(parts, _decode_plain_batches, payload.plain_batches_last_step)


def _decode_plain_batches(raw: bytes | str) -> tuple[BatchRecord, ...]:
    record = payload.decode(raw)
    assert isinstance(record, BatchesRecord), "a plain batches payload decodes to batches"
    return record.batches
