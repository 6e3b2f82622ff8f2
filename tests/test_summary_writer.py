"""SCRAM's event writer: sampled batches are written together, and none is lost."""

from __future__ import annotations

import math
import os

from tensorboard_plugin_scram.events import file_reader, metadata
from tensorboard_plugin_scram.events.writer import MAX_BATCHES_PER_RECORD, ScramSummaryWriter


def _batch_records(run_dir: str) -> int:
    """How many event records hold sampled batches."""
    names = [n for n in os.listdir(run_dir) if file_reader.is_event_file(n)]
    values = [value for name in names for value in file_reader.scram_values(f"{run_dir}/{name}")]
    return sum(tag == metadata.BATCH_TAG for tag, _, _ in values)


def test_batches_are_written_together_in_order_and_completely(tmp_path):
    run_dir = str(tmp_path / "scram")
    writer = ScramSummaryWriter(run_dir, flush_secs=3600)
    total = 2 * MAX_BATCHES_PER_RECORD + 30
    for step in range(total):
        writer.write_batch(step, step // 100, {"loss": 1.0 / (step + 1)})
    writer.close()
    records = file_reader.read_run(run_dir, "scram")
    assert [b.step for b in records.batches] == list(range(total))
    assert records.batches[-1].logs["loss"] == 1.0 / total and records.batches[-1].epoch == 2
    assert _batch_records(run_dir) == 3, "one record per MAX_BATCHES_PER_RECORD batches, the rest at close"


def test_flush_writes_pending_batches_and_old_ones_are_not_held_longer_than_flush_secs(tmp_path):
    run_dir = str(tmp_path / "scram")
    writer = ScramSummaryWriter(run_dir, flush_secs=3600)
    writer.write_batch(0, 0, {"loss": float("nan")})
    writer.flush()
    [batch] = file_reader.read_run(run_dir, "scram").batches
    assert batch.step == 0 and math.isnan(batch.logs["loss"])
    writer.close()

    eager = ScramSummaryWriter(str(tmp_path / "eager"), flush_secs=0.0)
    eager.write_batch(0, 0, {"loss": 1.0})
    eager.write_batch(1, 0, {"loss": 0.5})
    eager._writer.flush()  # the file's own buffer only: no pending batch is pushed by this
    assert [b.step for b in file_reader.read_run(str(tmp_path / "eager"), "eager").batches] == [0, 1]
    eager.close()
