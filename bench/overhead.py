"""Overhead: plain fit() against Keras' TensorBoard(histogram_freq=1), SCRAM, and both.

Side by side in one process, interleaved (each repeat runs every configuration, in a
rotated order), on a small CNN and on an MLP. Each fit builds a fresh model, so graph
tracing is part of the total; "steady" time excludes the first epoch (tracing, warm-up).

Ratios are paired: each repeat's time of a configuration over plain fit()'s time in the
same repeat, then the median over repeats. Neighbouring fits share the machine's load of
the moment, so on a shared machine this is much steadier than a ratio of medians; the
quartiles of the paired ratios are reported beside it. Process CPU time (all threads) is
paired the same way: it moves much less with the machine's load, but it understates
serial costs (SCRAM's Python runs on one thread while TensorFlow computes on several).
SCRAM's own account of its hooks' time (the cost shown in the SCRAM tab) is kept too.

"Net" time is the total less the time Keras spends on the data iterators between epochs,
where no callback runs: in TensorFlow 2.21 dropping a `tf.data` iterator waits for its
autotuning thread's next wake-up, 0 to about 1 s at random per epoch in every
configuration (a gdb backtrace shows the main thread in `RootDataset::Iterator`'s
destructor while that thread sleeps in `Model::OptimizeLoop`; with autotuning off the
wait is gone). On a fit of a few seconds that noise dwarfs a few percent.
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping

import keras
import numpy as np

from bench import data, models
from tensorboard_plugin_scram import ScramCallback

CONFIGS: dict[str, Callable[[str], list[keras.callbacks.Callback]]] = {
    "plain": lambda log_dir: [],
    "tensorboard_hist": lambda log_dir: [keras.callbacks.TensorBoard(log_dir, histogram_freq=1)],
    "scram": lambda log_dir: [ScramCallback(log_dir)],
    "both": lambda log_dir: [keras.callbacks.TensorBoard(log_dir, histogram_freq=1), ScramCallback(log_dir)],
}


@dataclasses.dataclass(frozen=True)
class Workload:
    """A model and data to time; `samples // batch_size` steps per epoch."""

    name: str
    description: str
    model: Callable[[], keras.Model]
    x: np.ndarray
    y: np.ndarray
    epochs: int
    batch_size: int = 32
    repeats: int = 11


def workloads(quick: bool) -> list[Workload]:
    """The small CNN on 32x32x3 images in three fit lengths, and an MLP.

    SCRAM pays a fixed cost once per `fit()` (its first internals measurement and
    statistics) beside a per-step one, so the CNN runs for 768 steps (a quick experiment,
    ~4-6 s), 150 steps (~1 s, a notebook's short fit, where the one-off cost weighs most;
    the two lengths side by side give that cost, `one_off`) and 2560 steps (10 epochs, a
    usual length, ~13 s, where the per-step cost dominates). The MLP's steps are so cheap
    that per-batch Python costs show most. The 768-step CNN carries the 5% target, so it
    is repeated most: paired wall-clock ratios on a shared machine spread by +-7%, and 21
    repeats narrow their median to about +-3%.
    """
    images, short_images = (2048, 512) if quick else (8192, 2400)
    rows = 2048 if quick else 8192
    x_img, y_img = data.images(images)
    x_tab, y_tab = data.tabular(rows, 64, 10)
    cnn = "CNN (2 conv + 2 dense) on {} generated 32x32x3 images, batch 32"
    return [
        Workload("cnn", cnn.format(images), lambda: models.compiled(models.cnn()), x_img, y_img, epochs=3,
                 repeats=21),
        Workload("cnn_short", cnn.format(short_images), lambda: models.compiled(models.cnn()),
                 x_img[:short_images], y_img[:short_images], epochs=2),
        Workload("cnn_10_epochs", cnn.format(images), lambda: models.compiled(models.cnn()), x_img, y_img,
                 epochs=10, repeats=7),
        Workload("mlp", f"MLP 64-128-128-10 on {rows} generated rows, batch 32",
                 lambda: models.compiled(models.mlp(64, (128, 128), 10)), x_tab, y_tab, epochs=4),
    ]


class _EpochClock(keras.callbacks.Callback):
    """Wall-clock and CPU times at each epoch's end, and the time Keras spends on the data between epochs.

    Put it last: the others' epoch work then counts in the epochs. Between an epoch's
    start and its first batch Keras makes the epoch's data iterator and drops the last
    one; after `on_train_end` it drops the last. No callback runs there, but dropping a
    `tf.data` iterator waits for its autotuning thread to wake up (TensorFlow 2.21),
    which takes 0 to about 1 s at random in any configuration: `data_wait` holds it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[tuple[float, float]] = []
        self.data_wait = 0.0
        self.train_ended = 0.0
        self._epoch_began: float | None = None

    def on_epoch_begin(self, epoch: int, logs: Mapping | None = None) -> None:
        self._epoch_began = time.perf_counter()

    def on_train_batch_begin(self, batch: int, logs: Mapping | None = None) -> None:
        if self._epoch_began is not None:
            self.data_wait += time.perf_counter() - self._epoch_began
            self._epoch_began = None

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        self.ends.append((time.perf_counter(), time.process_time()))

    def on_train_end(self, logs: Mapping | None = None) -> None:
        self.train_ended = time.perf_counter()


def time_fit(workload: Workload, config: str, epochs: int) -> dict[str, float]:
    """One fit: wall and CPU seconds, in total and after the first epoch, and SCRAM's own account.

    `net` is the total less Keras' time on the data iterators between epochs (`_EpochClock`).
    """
    log_dir = tempfile.mkdtemp(prefix="scram-overhead-")
    try:
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = workload.model()
        clock = _EpochClock()
        callbacks = CONFIGS[config](log_dir)
        started, cpu_started = time.perf_counter(), time.process_time()
        model.fit(workload.x, workload.y, batch_size=workload.batch_size, epochs=epochs, verbose=0,
                  callbacks=[*callbacks, clock])
        ended = time.perf_counter()
        total, cpu = ended - started, time.process_time() - cpu_started
        data_wait = clock.data_wait + ended - clock.train_ended
        own = sum(c._scram_seconds for c in callbacks if isinstance(c, ScramCallback))
        return {"total": total, "net": total - data_wait, "data_wait": data_wait,
                "steady": clock.ends[-1][0] - clock.ends[0][0], "cpu_total": cpu,
                "cpu_steady": clock.ends[-1][1] - clock.ends[0][1], "scram_own": own / total, "scram_own_s": own}
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def measure(workload: Workload, repeats: int, epochs: int) -> dict[str, dict[str, list[float]]]:
    """Every configuration `repeats` times, interleaved in rotated order."""
    names = list(CONFIGS)
    times: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    time_fit(workload, "plain", 1)  # warm-up: imports, thread pools, first tracing
    for repeat in range(repeats):
        for name in names[repeat % len(names):] + names[: repeat % len(names)]:
            for kind, seconds in time_fit(workload, name, epochs).items():
                times[name].setdefault(kind, []).append(seconds)
    return times


def summarize(times: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    """Medians, and paired ratios against plain fit() (median and quartiles over repeats)."""
    plain = times["plain"]
    summary = {}
    for name, t in times.items():
        row = {"median_total_s": statistics.median(t["total"]), "median_steady_s": statistics.median(t["steady"]),
               "median_data_wait_s": statistics.median(t["data_wait"]),
               "scram_own_share": statistics.median(t["scram_own"]),
               "scram_own_s": statistics.median(t["scram_own_s"])}
        for kind in ("total", "net", "steady", "cpu_total", "cpu_steady"):
            ratios = [mine / base for mine, base in zip(t[kind], plain[kind], strict=True)]
            q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
            row.update({f"ratio_{kind}": statistics.median(ratios), f"ratio_{kind}_q1": q1, f"ratio_{kind}_q3": q3})
            if kind in ("total", "net"):
                row[f"ratio_{kind}_ci95"] = median_interval(ratios)
        summary[name] = row
    return summary


def median_interval(ratios: list[float], resamples: int = 4000, seed: int = 0) -> list[float]:
    """A 95% bootstrap interval of the median of `ratios` (percentile method, fixed seed).

    It says what a run can resolve: on a noisy machine a median of 1.04 whose interval
    spans 0.98-1.10 cannot tell a 5% cost from none.
    """
    values = np.asarray(ratios, dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    medians = np.median(values[picks], axis=1)
    return [float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))]


class _EveryOtherStep(keras.callbacks.Callback):
    """Runs SCRAM's batch hook at even steps only, and times the training step after each kind.

    A step after SCRAM's hook and a step after none run in the same fit, milliseconds
    apart, so the machine's load cancels out of their ratio: it shows whether the hook's
    work slows TensorFlow's next step (caches it evicted, say) beyond the hook's own time,
    a cost SCRAM's own account could not see.
    """

    def __init__(self, scram: ScramCallback) -> None:
        super().__init__()
        self.scram = scram
        self.after: dict[bool, list[float]] = {True: [], False: []}
        self._end: float | None = None
        self._hooked = False

    def set_model(self, model: keras.Model) -> None:
        super().set_model(model)
        self.scram.set_model(model)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        self.scram.set_params(params)

    def on_train_begin(self, logs: Mapping | None = None) -> None:
        self.scram.on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: Mapping | None = None) -> None:
        self._end = None  # the first step of an epoch follows no hook, but the epoch's end
        self.scram.on_epoch_begin(epoch, logs)

    def on_train_batch_end(self, batch: int, logs: Mapping | None = None) -> None:
        if self._end is not None:
            self.after[self._hooked].append(time.perf_counter() - self._end)
        self._hooked = batch % 2 == 0
        if self._hooked:
            self.scram.on_train_batch_end(batch, logs)
        self._end = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        self.scram.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: Mapping | None = None) -> None:
        self.scram.on_train_end(logs)


def step_aftereffect(workload: Workload, fits: int, epochs: int, skip: int = 50) -> dict:
    """Per fit, the median training step after SCRAM's hook over the median step after none.

    The first `skip` steps (tracing, warm-up, SCRAM's first samples) are left out.
    """
    ratios, after_hook, after_none = [], [], []
    for _ in range(fits):
        log_dir = tempfile.mkdtemp(prefix="scram-aftereffect-")
        try:
            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            alternate = _EveryOtherStep(ScramCallback(log_dir))
            workload.model().fit(workload.x, workload.y, batch_size=workload.batch_size, epochs=epochs,
                                 verbose=0, callbacks=[alternate])
        finally:
            shutil.rmtree(log_dir, ignore_errors=True)
        hook = statistics.median(alternate.after[True][skip // 2:])
        none = statistics.median(alternate.after[False][skip // 2:])
        ratios.append(hook / none)
        after_hook.append(hook)
        after_none.append(none)
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    return {"workload": workload.name, "fits": fits, "epochs": epochs, "ratio": statistics.median(ratios),
            "ratio_q1": q1, "ratio_q3": q3, "after_hook_s": statistics.median(after_hook),
            "after_none_s": statistics.median(after_none), "ratios": ratios}


def selected(quick: bool, names: list[str] | None = None) -> list[Workload]:
    """The workloads named (all of them without names); an unknown name is an error."""
    every = workloads(quick)
    unknown = set(names or ()) - {w.name for w in every}
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(sorted(unknown))}; known: {', '.join(w.name for w in every)}")
    return [w for w in every if not names or w.name in names]


def run(quick: bool = False, progress: Callable[[str], None] = print, names: list[str] | None = None,
        max_repeats: int | None = None) -> dict:
    """The overhead benchmark (all workloads, or those named) as a JSON-ready dict.

    `max_repeats` caps each workload's paired repeats (and the after-effect's fits).
    """
    started = time.perf_counter()
    results = []
    cnn = workloads(quick)[0]
    fits = 2 if quick else min(7, max_repeats or 7)
    aftereffect = step_aftereffect(cnn, fits=fits, epochs=2 if quick else cnn.epochs)
    progress(f"overhead: training step after SCRAM's hook x{aftereffect['ratio']:.3f} the step after none")
    for workload in selected(quick, names):
        epochs, repeats = (2, 3) if quick else (workload.epochs, min(workload.repeats, max_repeats or workload.repeats))
        times = measure(workload, repeats, epochs)
        steps = epochs * int(np.ceil(len(workload.x) / workload.batch_size))
        results.append({"workload": workload.name, "description": workload.description, "epochs": epochs,
                        "steps_per_fit": steps, "repeats": repeats, "configs": summarize(times), "raw": times})
        progress(f"overhead {workload.name}: " + ", ".join(
            f"{n} x{c['ratio_total']:.3f}" for n, c in results[-1]["configs"].items()))
    return {"workloads": results, "step_aftereffect": aftereffect, "one_off": one_off_cost(results),
            "seconds": time.perf_counter() - started}


def one_off_cost(results: list[dict], long: str = "cnn", short: str = "cnn_short") -> dict | None:
    """SCRAM's cost once per fit(), from its own time on the same CNN at two fit lengths.

    Own seconds per fit are taken as `one_off + steps * per_step`: the two lengths give both.
    None unless both workloads ran.
    """
    by_name = {r["workload"]: r for r in results}
    if long not in by_name or short not in by_name:
        return None
    (steps_long, own_long), (steps_short, own_short) = (
        (by_name[n]["steps_per_fit"], by_name[n]["configs"]["scram"]["scram_own_s"]) for n in (long, short))
    if steps_long == steps_short:
        return None
    per_step = (own_long - own_short) / (steps_long - steps_short)
    return {"workloads": [long, short], "per_step_s": per_step, "one_off_s": own_short - steps_short * per_step,
            "own_s": {long: own_long, short: own_short}, "steps": {long: steps_long, short: steps_short}}
