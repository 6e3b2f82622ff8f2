"""Gathers one run's stored payloads into `RunRecords`: the part both readers share.

The readers differ only in where the payloads come from (event files on disk, or
TensorBoard's data provider); what a payload means, and when it is skipped, is decided
here once.
"""

from __future__ import annotations

from tensorboard_plugin_scram.diagnostic import Diagnostic
from tensorboard_plugin_scram.events import metadata, payload
from tensorboard_plugin_scram.events.records import (
    BatchesRecord,
    BatchRecord,
    DiagnosticsRecord,
    EpochRecord,
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
        self._batches: list[BatchRecord] = []
        self._skipped = 0

    def add(self, tag: str, raw: object) -> None:
        """Decodes one stored payload; counts it as skipped if it is bad or under the wrong tag."""
        if not isinstance(raw, (bytes, str)):
            self.skip()
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
        else:
            self._batches.extend(record.batches)

    def skip(self, count: int = 1) -> None:
        """Counts records left unread (a series written by a newer SCRAM, a bad payload)."""
        self._skipped += count

    def records(self) -> RunRecords:
        """What was added so far, diagnostics ordered by step."""
        return RunRecords(
            run=self._run,
            diagnostics=tuple(sorted(self._diagnostics, key=lambda d: d.step)),
            epochs=tuple(self._epochs),
            batches=tuple(self._batches),
            skipped=self._skipped,
        )
