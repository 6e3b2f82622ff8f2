"""SCRAM at scale (issue #21): a sweep of 1,000 runs in one logdir and a run of 1,000,000 steps.

The logdir holds generated runs, written through SCRAM's own writer the way the callback
writes them (sampled batches, one record per epoch, diagnostics as they are found), a few
real tiny Keras fits with `ScramCallback`, and one long run of 1,000,000 steps with 5,000
diagnostics. Measured on it:

- `scram report` over the whole logdir, `--summary` and `--run REGEX` (as a user runs them);
- a real `tensorboard --logdir`: time to load, then every SCRAM route (median of repeats);
- the long run's series route: time, payload and points per curve (downsampled);
- the plugin's memory for the long run (tracemalloc, in-process, Python loader) and
  TensorBoard's resident memory;
- the panel's opening time in headless Chromium (`bench.panel_timing`, when present).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.parse
from collections.abc import Callable

from tensorboard_plugin_scram.diagnostic import Confidence, Diagnostic, Severity
from tensorboard_plugin_scram.events.writer import ScramSummaryWriter

TARGET_MS = 300.0
TARGET_REPORT_S = 10.0
TARGET_PANEL_MS = 1000.0
# Checks a generated run reports, with their severity (a sample of the catalogue's).
CHECKS = (("nan_loss", Severity.ERROR), ("loss_diverging", Severity.ERROR),
          ("learning_rate_unusual", Severity.WARNING), ("overfitting", Severity.WARNING),
          ("input_not_normalized", Severity.WARNING), ("class_imbalance", Severity.INFO),
          ("batch_memory_risk", Severity.INFO))
# As the callback samples the fine-grained curve: every step of the first 20, then every 10th.
CURVE_ALWAYS, SAMPLE_EVERY = 20, 10
LONG_RUN = "long/scram"


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big the benchmark's logdir is."""

    sweep_runs: int
    real_fits: int
    long_steps: int
    long_diagnostics: int
    repeats: int


FULL = Sizes(sweep_runs=1000, real_fits=20, long_steps=1_000_000, long_diagnostics=5000, repeats=7)
QUICK = Sizes(sweep_runs=100, real_fits=2, long_steps=100_000, long_diagnostics=500, repeats=3)


# -- writing the logdir ------------------------------------------------------------------------


def diagnostic(check: str, severity: Severity, step: int, epoch: int) -> Diagnostic:
    """A realistic diagnostic: a few sentences with numbers, evidence and a snippet."""
    return Diagnostic(
        check=check,
        severity=severity,
        title=f"{check.replace('_', ' ').capitalize()} at step {step}",
        explanation=("The validation loss rose from 0.41 to 0.57 over 3 epochs while the training loss fell "
                     "from 0.35 to 0.12. The model is likely memorising the training data. ") * 2,
        suggestion="Regularise the model (Dropout, L2), make it smaller, or stop early with EarlyStopping.",
        snippet="keras.layers.Dropout(0.3)\nkeras.callbacks.EarlyStopping(monitor='val_loss', patience=3)",
        evidence={"value": step * 0.5, "threshold": 1.0, "window": [step, step + 1, step + 2]},
        step=step,
        epoch=epoch,
        confidence=Confidence.MEDIUM,
        location="train.py:42",
        doc=f"docs/checks/{check}.md",
    )


def write_run(run_dir: str, steps: int, steps_per_epoch: int, found: dict[int, list[Diagnostic]],
              seed: int = 0) -> None:
    """One SCRAM run as the callback writes it: sampled batches, epoch records, diagnostics when found."""
    rng = random.Random(seed)
    writer = ScramSummaryWriter(run_dir, flush_secs=3600)
    last_sampled = -SAMPLE_EVERY
    for step in range(steps):
        epoch = step // steps_per_epoch
        loss = 2.0 * math.exp(-step / (steps / 4)) + 0.05 + 0.05 * rng.random()
        if step < CURVE_ALWAYS or step - last_sampled >= SAMPLE_EVERY:
            last_sampled = step
            writer.write_batch(step, epoch, {"loss": loss, "accuracy": 1.0 - loss / 2.5})
        if step in found:
            writer.write_diagnostics(step, found[step], flush=False)
        if (step + 1) % steps_per_epoch == 0 or step == steps - 1:
            writer.write_epoch(step, epoch, {"loss": loss, "accuracy": 1.0 - loss / 2.5, "val_loss": loss * 1.1,
                                             "val_accuracy": 0.95 - loss / 2.5},
                               {"scram_seconds": 0.01 * (epoch + 1), "train_seconds": 1.0 * (epoch + 1)})
            writer.flush()
    writer.close()


def sweep_run_name(index: int) -> str:
    """`sweep/0042_lr0.01_bs64/scram`: names a regex can pick from."""
    lr = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)[index % 5]
    batch = (16, 32, 64, 128)[index // 5 % 4]
    return f"sweep/{index:04d}_lr{lr:g}_bs{batch}/scram"


def sweep_findings(index: int, steps: int, steps_per_epoch: int) -> dict[int, list[Diagnostic]]:
    """A sweep run's diagnostics: 4 runs in 10 healthy, the rest with up to 8 of mixed severity."""
    rng = random.Random(index)
    if rng.random() < 0.4:
        return {}
    found: dict[int, list[Diagnostic]] = {}
    for _ in range(rng.randint(1, 8)):
        check, severity = rng.choice(CHECKS)
        step = rng.randrange(steps)
        found.setdefault(step, []).append(diagnostic(check, severity, step, step // steps_per_epoch))
    return found


def write_sweep(root: str, runs: int, steps: int = 500, steps_per_epoch: int = 100) -> list[str]:
    """The generated runs of a sweep; returns their names."""
    names = [sweep_run_name(i) for i in range(runs)]
    for index, name in enumerate(names):
        write_run(os.path.join(root, name), steps, steps_per_epoch, sweep_findings(index, steps, steps_per_epoch),
                  seed=index)
    return names


def write_long_run(root: str, steps: int, diagnostics: int, steps_per_epoch: int = 1000) -> str:
    """One run of `steps` steps with `diagnostics` diagnostics spread over it; returns its name."""
    rng = random.Random(1)
    found: dict[int, list[Diagnostic]] = {}
    for i in range(diagnostics):
        check, severity = CHECKS[i % len(CHECKS)]
        step = rng.randrange(steps)
        found.setdefault(step, []).append(diagnostic(check, severity, step, step // steps_per_epoch))
    write_run(os.path.join(root, LONG_RUN), steps, steps_per_epoch, found)
    return LONG_RUN


def write_real_fits(root: str, count: int) -> list[str]:
    """`count` real tiny Keras fits with `ScramCallback` (some faulty), in a child process; returns their names."""
    if count <= 0:
        return []
    code = f"from bench.scale import real_fits; real_fits({root!r}, {count})"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                   cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), capture_output=True)
    return [f"real/fit_{i:02d}_{_FIT_KINDS[i % len(_FIT_KINDS)]}/scram" for i in range(count)]


_FIT_KINDS = ("healthy", "high_lr", "raw_inputs", "healthy_keras_tb")


def real_fits(root: str, count: int) -> None:
    """Trains the real fits one after another (run in a child process: Keras stays out of the bench's)."""
    import keras

    from bench import data, models
    from tensorboard_plugin_scram import ScramCallback

    x, y = data.tabular(384, 12, 3)
    for i in range(count):
        kind = _FIT_KINDS[i % len(_FIT_KINDS)]
        log_dir = os.path.join(root, "real", f"fit_{i:02d}_{kind}")
        keras.utils.set_random_seed(i)
        learning_rate = 50.0 if kind == "high_lr" else 1e-3
        model = models.compiled(models.mlp(12, (16,), 3), optimizer=keras.optimizers.SGD(learning_rate))
        callbacks: list = [ScramCallback(log_dir, verbose=0)]
        if kind == "healthy_keras_tb":
            callbacks.append(keras.callbacks.TensorBoard(log_dir))
        inputs = x * 300.0 + 1000.0 if kind == "raw_inputs" else x
        model.fit(inputs, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0, callbacks=callbacks)


# -- measuring -----------------------------------------------------------------------------------


def median_ms(action: Callable[[], object], repeats: int) -> dict[str, float]:
    """Median and worst milliseconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(times), "max_ms": max(times)}


def time_cli(root: str, repeats: int) -> dict[str, dict]:
    """`scram report` as a user runs it (a new process each time): whole logdir, --summary, --run."""
    variants = {"report": [], "report --summary": ["--summary"], "report --json": ["--json"],
                "report --summary --run 'lr1_bs16'": ["--summary", "--run", "lr1_bs16"]}
    timed = {}
    for label, flags in variants.items():
        command = [sys.executable, "-m", "tensorboard_plugin_scram.cli", "report", "--fail-on", "never", *flags, root]
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            seconds.append(time.perf_counter() - started)
        timed[label] = {"median_s": statistics.median(seconds), "max_s": max(seconds),
                        "lines": result.stdout.count("\n")}
    return timed


def route_paths(names: dict[str, str]) -> dict[str, str]:
    """Route label -> path under TensorBoard."""
    def q(run: str) -> str:
        return urllib.parse.quote(run, safe="")

    base = "/data/plugin/scram/"
    compared = "&".join(f"run={q(name)}" for name in names["compared"].split("\n"))
    return {
        "runs": base + "runs",
        "checks": base + "checks",
        "diagnostics (sweep run)": f"{base}diagnostics?run={q(names['sweep'])}",
        "diagnostics (long run)": f"{base}diagnostics?run={q(names['long'])}",
        "series (sweep run)": f"{base}series?run={q(names['sweep'])}",
        "series (real fit)": f"{base}series?run={q(names['real'])}",
        "series (long run)": f"{base}series?run={q(names['long'])}",
        "compare (2 runs)": f"{base}compare?run={q(names['sweep'])}&run={q(names['other'])}",
        "compare (50 runs)": f"{base}compare?{compared}",
    }


def time_routes(tb, paths: dict[str, str], repeats: int) -> dict[str, dict]:
    """Each route after one warm-up GET: median and worst ms, and the body's size."""
    timed = {}
    for label, path in paths.items():
        status, body, _ = tb.get(path, timeout=120)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}: {body[:200]!r}")
        timed[label] = {**median_ms(lambda path=path: tb.get(path, timeout=120), repeats), "bytes": len(body)}
    return timed


def series_points(tb, path: str) -> dict[str, int]:
    """Points per curve in a series answer."""
    _, body, _ = tb.get(path, timeout=120)
    return {s["name"]: len(s["points"]) for s in json.loads(body)["series"]}


def resident_mib(pid: int) -> float:
    """A process's resident memory and its children's (TensorBoard's data server), in MiB."""
    total = 0
    for candidate in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{candidate}/status", encoding="ascii") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            direct = [int(p) for p in handle.read().split()]
    except OSError:
        return []
    return direct + [grandchild for child in direct for grandchild in _children(child)]


def serve_and_time(root: str, names: dict[str, str], expected_runs: int, repeats: int, flags: tuple[str, ...],
                   panel: bool) -> dict:
    """Starts TensorBoard with `flags`, waits until every run is loaded, times routes (and the panel)."""
    from tests.tensorboard_helpers import TensorBoardProcess

    paths = route_paths(names)
    started = time.perf_counter()
    tb = TensorBoardProcess(root, *flags)
    try:
        tb.wait_for(_loaded(expected_runs, paths["diagnostics (long run)"], names["long_diagnostics"]), timeout=900)
        result: dict = {"flags": " ".join(flags) or "(default)", "load_s": time.perf_counter() - started}
        result["routes"] = time_routes(tb, paths, repeats)
        result["long_series_points"] = series_points(tb, paths["series (long run)"])
        result["resident_mib"] = resident_mib(tb._process.pid)
        if panel:
            result["panel"] = panel_timing(tb.url, names["long"])
    finally:
        tb.stop()
    return result


def _loaded(expected_runs: int, long_path: str, long_diagnostics: int) -> Callable:
    def check(tb) -> bool:
        status, body = tb.get_json("/data/plugin/scram/runs")
        if status != 200 or len(body.get("runs", [])) < expected_runs:
            return False
        status, body, _ = tb.get(long_path, timeout=120)
        return status == 200 and len(json.loads(body).get("diagnostics", [])) == long_diagnostics

    return check


def panel_timing(base_url: str, run: str) -> dict:
    """The panel's opening time from `bench.panel_timing` (the frontend's), or why it was not measured."""
    try:
        timing = importlib.import_module("bench.panel_timing")
    except ImportError as error:
        return {"skipped": f"bench/panel_timing.py is not there ({error})"}
    try:
        return dict(timing.panel_open_ms(base_url, run=run, repeats=3))
    except Exception as error:  # a missing browser, a panel that never renders: said, not fatal
        return {"skipped": f"panel timing failed: {error!r}"[:300]}


def python_loader(root: str, run: str | None = None):
    """TensorBoard's Python loader over `root` (or over one run of it), keeping every SCRAM event."""
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer

    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={"scram": 0})
    if run is None:
        multiplexer.AddRunsFromDirectory(root)
    else:
        multiplexer.AddRun(os.path.join(root, run), name=run)
    multiplexer.Reload()
    return data_provider.MultiplexerDataProvider(multiplexer, root)


def first_runs_request(root: str) -> dict[str, float]:
    """The first `runs` request of a fresh plugin over a loaded logdir (it decodes every run), then the next."""
    from tests.tensorboard_helpers import get_json, plugin_client

    client = plugin_client(python_loader(root))
    first = median_ms(lambda: get_json(client, "runs"), 1)["median_ms"]
    return {"first_ms": first, "next_ms": median_ms(lambda: get_json(client, "runs"), 3)["median_ms"]}


def plugin_memory(root: str, run: str) -> dict[str, float]:
    """What the plugin holds for one run, in-process on TensorBoard's Python loader (tracemalloc, MiB).

    The run's directory is loaded alone. `loader`: TensorBoard's own copy of its events;
    `kept`: what the plugin keeps once the runs, diagnostics and series routes have been
    served (its caches); `peak`: the most the plugin held meanwhile (decoding).
    """
    from tensorboard.compat import tf

    from tests.tensorboard_helpers import get_json, plugin_client

    getattr(tf, "io", None)  # TensorBoard imports TensorFlow lazily: not counted as the loader's memory
    mib = 1024 * 1024
    tracemalloc.start()
    try:
        provider = python_loader(root, run)
        loader = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        client = plugin_client(provider)
        quoted = urllib.parse.quote(run, safe="")
        for path in ("runs", f"diagnostics?run={quoted}", f"series?run={quoted}"):
            status, _ = get_json(client, path)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"loader_mib": loader / mib, "kept_mib": (kept - loader) / mib, "peak_mib": (peak - loader) / mib}


def event_bytes(root: str, run: str) -> int:
    """The size of a run's event files on disk."""
    directory = os.path.join(root, run)
    return sum(os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory))


# -- the whole benchmark ------------------------------------------------------------------------------


def run(quick: bool = False, progress: Callable[[str], None] = print) -> dict:
    """The whole scale benchmark as a JSON-ready dict."""
    sizes = QUICK if quick else FULL
    started = time.perf_counter()
    root = tempfile.mkdtemp(prefix="scram-scale-")
    try:
        result = _measure(root, sizes, quick, progress)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result["seconds"] = time.perf_counter() - started
    return result


def _measure(root: str, sizes: Sizes, quick: bool, progress: Callable[[str], None]) -> dict:
    result: dict = {"sizes": dataclasses.asdict(sizes), "target_ms": TARGET_MS, "target_report_s": TARGET_REPORT_S,
                    "target_panel_ms": TARGET_PANEL_MS}
    started = time.perf_counter()
    sweep = write_sweep(root, sizes.sweep_runs)
    result["write_sweep_s"] = time.perf_counter() - started
    started = time.perf_counter()
    real = write_real_fits(root, sizes.real_fits)
    result["real_fits_s"] = time.perf_counter() - started
    started = time.perf_counter()
    long_run = write_long_run(root, sizes.long_steps, sizes.long_diagnostics)
    result["write_long_s"] = time.perf_counter() - started
    result["long_event_mib"] = event_bytes(root, long_run) / 1024 / 1024
    progress(f"scale: wrote {len(sweep)} sweep runs ({result['write_sweep_s']:.0f} s), {len(real)} real fits "
             f"({result['real_fits_s']:.0f} s), a run of {sizes.long_steps:,} steps ({result['write_long_s']:.0f} s)")
    result["cli"] = time_cli(root, sizes.repeats if quick else 3)
    progress("scale: scram report " + ", ".join(f"{k} {v['median_s']:.1f} s" for k, v in result["cli"].items()))
    result["memory"] = plugin_memory(root, long_run)
    progress(f"scale: plugin memory for the long run: {result['memory']['kept_mib']:.1f} MiB kept, "
             f"{result['memory']['peak_mib']:.1f} MiB peak")
    result["first_runs"] = first_runs_request(root)
    progress(f"scale: a fresh plugin's first runs request {result['first_runs']['first_ms']:.0f} ms, "
             f"then {result['first_runs']['next_ms']:.0f} ms")
    names = {"sweep": sweep[1], "other": sweep[2], "long": long_run, "real": real[0] if real else sweep[3],
             "compared": "\n".join(sweep[:50]), "long_diagnostics": sizes.long_diagnostics}
    expected_runs = len(sweep) + len(real) + 1
    loaders = [()] if quick else [(), ("--load_fast=false",)]
    result["loaders"] = []
    for index, flags in enumerate(loaders):
        served = serve_and_time(root, names, expected_runs, sizes.repeats, flags, panel=index == 0)
        result["loaders"].append(served)
        worst = max(r["median_ms"] for r in served["routes"].values())
        progress(f"scale [{served['flags']}]: loaded in {served['load_s']:.0f} s, slowest route median "
                 f"{worst:.0f} ms, panel {served.get('panel', {})}")
    return result
