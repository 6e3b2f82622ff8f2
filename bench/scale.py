"""Plugin scale: a logdir of many runs and diagnostics served by a real `tensorboard` process.

Writes 100 runs x 100 diagnostics plus one run with 10,000 (with per-epoch records so
the series route has data), starts `tensorboard --logdir`, waits until everything is
loaded, then times each SCRAM route (median of repeats).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
import urllib.parse
from collections.abc import Callable

from bench.zoo import CATALOGUE
from tensorboard_plugin_scram.diagnostic import Confidence, Diagnostic, Severity
from tensorboard_plugin_scram.events.writer import ScramSummaryWriter
from tests.tensorboard_helpers import TensorBoardProcess

TARGET_MS = 300.0
SEVERITIES = (Severity.ERROR, Severity.WARNING, Severity.INFO)


def diagnostic(i: int) -> Diagnostic:
    """A realistic diagnostic: a catalogue id, a few sentences, evidence and a snippet."""
    return Diagnostic(
        check=CATALOGUE[i % len(CATALOGUE)],
        severity=SEVERITIES[i % 3],
        title=f"Generated diagnostic {i}",
        explanation=("The validation loss rose from 0.41 to 0.57 over 3 epochs while the training loss fell "
                     "from 0.35 to 0.12. The model is likely memorising the training data. ") * 2,
        suggestion="Regularise the model (Dropout, L2), make it smaller, or stop early with EarlyStopping.",
        snippet="keras.layers.Dropout(0.3)\nkeras.callbacks.EarlyStopping(monitor='val_loss', patience=3)",
        evidence={"value": i * 0.5, "threshold": 1.0, "window": [i, i + 1, i + 2]},
        step=i,
        epoch=i // 100,
        confidence=Confidence.MEDIUM,
        location="train.py:42",
        doc=f"docs/checks/{CATALOGUE[i % len(CATALOGUE)]}.md",
    )


def write_run(run_dir: str, count: int, epochs: int = 20) -> None:
    """One SCRAM run directory with `count` diagnostics and `epochs` epoch records."""
    writer = ScramSummaryWriter(run_dir)
    for i in range(count):
        writer.write_diagnostics(i, [diagnostic(i)], flush=False)
    for epoch in range(epochs):
        logs = {"loss": 1.0 / (epoch + 1), "accuracy": epoch / epochs, "val_loss": 1.2 / (epoch + 1)}
        writer.write_epoch(epoch * 100 + 99, epoch, logs, {"scram_seconds": 0.1, "train_seconds": 10.0,
                                                            "fraction": 0.01})
    writer.close()


def write_logdir(root: str, runs: int, per_run: int, big: int) -> dict[str, str]:
    """The logdir; returns the names of a small run, another small run and the big run."""
    for r in range(runs):
        write_run(f"{root}/run_{r:03d}/scram", per_run)
    write_run(f"{root}/big/scram", big)
    return {"small": "run_000/scram", "other": "run_001/scram", "big": "big/scram"}


def routes(names: dict[str, str], per_run: int, big: int) -> dict[str, str]:
    """Route label -> path under TensorBoard, for the generated runs."""
    def q(run: str) -> str:
        return urllib.parse.quote(run, safe="")

    base = "/data/plugin/scram/"
    return {
        "runs": base + "runs",
        f"diagnostics ({per_run:,})": f"{base}diagnostics?run={q(names['small'])}",
        f"diagnostics ({big:,})": f"{base}diagnostics?run={q(names['big'])}",
        f"series ({per_run:,})": f"{base}series?run={q(names['small'])}",
        f"series ({big:,})": f"{base}series?run={q(names['big'])}",
        f"compare ({per_run:,} + {per_run:,})": f"{base}compare?run={q(names['small'])}&run={q(names['other'])}",
        f"compare ({big:,} + {per_run:,})": f"{base}compare?run={q(names['big'])}&run={q(names['small'])}",
    }


def _loaded(expected_runs: int, big_path: str, big: int) -> Callable[[TensorBoardProcess], bool]:
    def check(tb: TensorBoardProcess) -> bool:
        status, body = tb.get_json("/data/plugin/scram/runs")
        if status != 200 or len(body.get("runs", [])) < expected_runs:
            return False
        status, body = tb.get_json(big_path)
        return status == 200 and len(body.get("diagnostics", [])) == big

    return check


def time_route(tb: TensorBoardProcess, path: str, repeats: int) -> dict[str, float]:
    """Median and worst milliseconds of `repeats` GETs (after one warm-up), and the body size."""
    status, body, _ = tb.get(path, timeout=60)
    if status != 200:
        raise RuntimeError(f"{path} answered {status}: {body[:200]!r}")
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        tb.get(path, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(times), "max_ms": max(times), "bytes": len(body)}


def serve_and_time(root: str, names: dict[str, str], sizes: tuple[int, int, int], repeats: int,
                   flags: tuple[str, ...]) -> dict:
    """Starts TensorBoard with `flags`, times the load and every route, stops it.

    `sizes` is (runs, diagnostics per run, diagnostics in the big run).
    """
    runs, per_run, big = sizes
    paths = routes(names, per_run, big)
    started = time.perf_counter()
    tb = TensorBoardProcess(root, *flags)
    try:
        tb.wait_for(_loaded(runs + 1, paths[f"diagnostics ({big:,})"], big), timeout=300)
        load = time.perf_counter() - started
        timed = {label: time_route(tb, path, repeats) for label, path in paths.items()}
    finally:
        tb.stop()
    return {"flags": " ".join(flags) or "(default)", "load_s": load, "routes": timed}


def run(quick: bool = False, progress: Callable[[str], None] = print) -> dict:
    """The whole scale benchmark as a JSON-ready dict."""
    runs, per_run, big, repeats = (20, 100, 2000, 5) if quick else (100, 100, 10_000, 15)
    loaders = [()] if quick else [(), ("--load_fast=false",)]
    started = time.perf_counter()
    root = tempfile.mkdtemp(prefix="scram-scale-")
    try:
        names = write_logdir(root, runs, per_run, big)
        written = time.perf_counter() - started
        progress(f"scale: wrote {runs} x {per_run} + {big} diagnostics in {written:.1f} s")
        served = []
        for flags in loaders:
            served.append(serve_and_time(root, names, (runs, per_run, big), repeats, flags))
            worst = max(r["median_ms"] for r in served[-1]["routes"].values())
            progress(f"scale [{served[-1]['flags']}]: loaded in {served[-1]['load_s']:.1f} s, "
                     f"slowest route median {worst:.0f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"runs": runs, "per_run": per_run, "big": big, "repeats": repeats, "write_s": written,
            "target_ms": TARGET_MS, "loaders": served, "seconds": time.perf_counter() - started}
