"""Many writers at once: 8 processes train into one log dir while a real TensorBoard reads it.

Each process is its own run (`w0/scram` ... `w7/scram`) and prints how many records its
writer handed to its event files, by tag. Afterwards every record must be in the files
(counted by SCRAM's reader and by TensorBoard's own, which checks each record's CRCs), and
TensorBoard's SCRAM routes must serve every run and every diagnostic; while they write, the
routes must keep answering.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import IO

import pytest

from tensorboard_plugin_scram.events import metadata
from tensorboard_plugin_scram.events.file_reader import is_event_file, read_run, scram_values
from tests.tensorboard_helpers import TensorBoardProcess, tensorboard_records

pytestmark = [pytest.mark.training, pytest.mark.tensorboard]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tests", "scripts", "many_writers_fit.py")
WRITERS = 8
SCRAM_TAGS = (metadata.DIAGNOSTICS_TAG, metadata.EPOCH_TAG, metadata.BATCH_TAG)


def _start_writers(logdir: str, out: IO[str], err: IO[str]) -> subprocess.Popen:
    """The script that forks the writing processes (their output goes to files: no pipe fills up)."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, SCRIPT, logdir, str(WRITERS)], env=env, stdout=out, stderr=err)


def _poll_while_running(tensorboard: TensorBoardProcess, writers: subprocess.Popen) -> list[tuple[int, int]]:
    """(status, runs listed) of each `/runs` answer while the writers run."""
    polls = []
    deadline = time.monotonic() + 300
    while writers.poll() is None and time.monotonic() < deadline:
        status, body, _ = tensorboard.get("/data/plugin/scram/runs")
        polls.append((status, len(json.loads(body)["runs"]) if status == 200 else -1))
        time.sleep(0.5)
    return polls


def _reports(writers: subprocess.Popen, out: IO[str], err: IO[str]) -> dict[str, dict]:
    writers.wait(timeout=60)
    out.seek(0)
    err.seek(0)
    assert writers.returncode == 0, err.read()[-3000:]
    reports = [json.loads(line) for line in out.read().splitlines() if line.startswith("{")]
    assert len(reports) == WRITERS, reports
    return {report["run"]: report for report in reports}


def _counts_in(run_dir: str) -> tuple[collections.Counter, collections.Counter]:
    """Records per SCRAM tag in a run's event files: by SCRAM's reader, and by TensorBoard's."""
    ours, theirs = collections.Counter(), collections.Counter()
    for name in sorted(os.listdir(run_dir)):
        if not is_event_file(name):
            continue
        path = os.path.join(run_dir, name)
        ours.update(tag for tag, _, readable in scram_values(path) if readable)
        theirs.update(value.tag for event in tensorboard_records(path) for value in event.summary.value
                      if value.tag in SCRAM_TAGS)
    return ours, theirs


def test_eight_processes_write_one_logdir_at_once(tmp_path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    tensorboard = TensorBoardProcess(str(logdir), "--reload_interval", "1")
    try:
        tensorboard.wait_for(lambda tb: tb.get("/data/plugin/scram/runs")[0] == 200)
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            writers = _start_writers(str(logdir), out, err)
            polls = _poll_while_running(tensorboard, writers)
            reports = _reports(writers, out, err)

        assert sorted(reports) == [f"w{i}/scram" for i in range(WRITERS)]
        assert polls and all(status == 200 for status, _ in polls), "the routes answered while the files grew"
        assert any(runs > 0 for _, runs in polls), f"TensorBoard showed runs while they were written: {polls}"
        for run, report in reports.items():
            run_dir = os.path.join(logdir, *run.split("/"))
            ours, theirs = _counts_in(run_dir)
            assert dict(ours) == dict(theirs) == report["written"], run
            assert report["written"][metadata.EPOCH_TAG] == 4
            assert len(read_run(run_dir, run).diagnostics) == report["diagnostics"] > 0, run

        def served_all(tb: TensorBoardProcess) -> bool:
            listed = [r["run"] for r in tb.get_json("/data/plugin/scram/runs")[1]["runs"]]
            return sorted(listed) == sorted(reports) and all(
                len(tb.get_json(f"/data/plugin/scram/diagnostics?run={run}")[1]["diagnostics"])
                == report["diagnostics"] for run, report in reports.items())

        tensorboard.wait_for(served_all, timeout=60)
    finally:
        tensorboard.stop()
