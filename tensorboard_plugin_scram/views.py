"""JSON views over runs' records: what the plugin's routes answer (framework-free)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np

from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.events.records import PendingBatches, RunRecords

# Keras metric names worth a curve: losses and accuracies.
_CURVE_HINTS = ("loss", "acc")
# A curve longer than this is downsampled for the chart (a few per pixel of a wide screen).
MAX_CURVE_POINTS = 2000


def severity_counts(diagnostics: Iterable[Diagnostic]) -> dict[str, int]:
    counts = {s.value: 0 for s in Severity}
    for d in diagnostics:
        counts[d.severity.value] += 1
    return counts


def run_summary(records: RunRecords) -> dict[str, Any]:
    """One entry of the `runs` route (the run's sampled batches stay undecoded)."""
    return {
        "run": records.run,
        "counts": severity_counts(records.diagnostics),
        "checks": sorted({d.check for d in records.diagnostics}),
        "last_step": records.last_step,
        "first_error_step": first_step(records.diagnostics, Severity.ERROR),
        "first_warning_step": first_step(records.diagnostics, Severity.WARNING),
        "overhead": _overhead(records),
        "skipped": records.skipped,
    }


def first_step(diagnostics: Iterable[Diagnostic], severity: Severity) -> int | None:
    """The smallest step of a diagnostic of exactly this severity, or None."""
    return min((d.step for d in diagnostics if d.severity == severity), default=None)


def diagnostics_json(records: RunRecords) -> str:
    """The `diagnostics` route's body as compact JSON text (the plugin keeps it while the run is unchanged)."""
    return json.dumps(diagnostics_view(records), separators=(",", ":"))


def diagnostics_view(records: RunRecords) -> dict[str, Any]:
    """The `diagnostics` route: every field of every diagnostic, ordered by step."""
    ordered = sorted(records.diagnostics, key=lambda d: d.step)
    return {
        "run": records.run,
        "skipped": records.skipped,
        "diagnostics": [{"run": records.run, **d.to_json()} for d in ordered],
    }


def compare_view(runs: list[RunRecords]) -> dict[str, Any]:
    """The `compare` route: where each check first fired in each run; for two, what changed."""
    names = [r.run for r in runs]
    check_ids = sorted({d.check for r in runs for d in r.diagnostics})
    rows = [{"check": c, "first": {r.run: _first(r, c) for r in runs}} for c in check_ids]
    view: dict[str, Any] = {"runs": names, "checks": rows}
    if len(runs) == 2:
        before, after = ({d.check for d in r.diagnostics} for r in runs)
        view["diff"] = {
            "fixed": sorted(before - after),
            "still_present": sorted(before & after),
            "new": sorted(after - before),
        }
    return view


def downsample(points: Sequence[list], keep_steps: Collection[int] = (),
               max_points: int = MAX_CURVE_POINTS) -> list[list]:
    """A long curve's `[step, value]` points thinned for display; short curves are returned as they are.

    Kept: the first and last points, every point at one of `keep_steps` (the steps of the
    diagnostics' markers), and in each of equal buckets of the rest its lowest and highest
    value and its first unplottable (None) one, so spikes and NaN gaps survive. At most
    `max_points` points while the kept steps take up to half of them; beyond that, the kept
    steps plus `max_points // 2`.
    """
    if len(points) <= max_points:
        return list(points)
    kept = kept_indices([point[0] for point in points], [point[1] for point in points], keep_steps, max_points)
    return [points[i] for i in kept]


def kept_indices(steps: Sequence[int], values: Sequence[float | None], keep_steps: Collection[int] = (),
                 max_points: int = MAX_CURVE_POINTS) -> list[int]:
    """The indices of the points `downsample` keeps of a curve given as its steps and its values, in order.

    Thinning a long run's records needs only which points stay: given as flat lists, a curve of
    100,000 points costs no list per point (and no garbage collection passes over them).
    """
    if len(steps) <= max_points:
        return list(range(len(steps)))
    chosen = {0, len(steps) - 1} | {i for i, step in enumerate(steps) if step in keep_steps}
    buckets = max(max_points // 6, (max_points - len(chosen)) // 3)
    chosen.update(_bucket_extremes(values, buckets))
    return sorted(chosen)


def _bucket_extremes(values: list[float | None], buckets: int) -> list[int]:
    """Indices of the lowest and highest value and of the first None in each of `buckets` runs of values."""
    size = -(-len(values) // buckets)
    grid = np.full(size * buckets, np.nan)
    grid[:len(values)] = [math.nan if v is None else v for v in values]
    nones = np.zeros(size * buckets, dtype=bool)
    nones[:len(values)] = [v is None for v in values]
    grid, nones = grid.reshape(buckets, size), nones.reshape(buckets, size)
    missing = np.isnan(grid)  # None, or the padding after the last value
    starts = np.arange(buckets) * size
    has_value, has_none = ~missing.all(axis=1), nones.any(axis=1)
    lowest = np.where(missing, np.inf, grid).argmin(axis=1)
    highest = np.where(missing, -np.inf, grid).argmax(axis=1)
    found = [starts[has_value] + lowest[has_value], starts[has_value] + highest[has_value],
             starts[has_none] + nones.argmax(axis=1)[has_none]]
    return np.concatenate(found).tolist()


def marker_steps(records: RunRecords) -> set[int]:
    """The steps the chart puts a diagnostic's marker at."""
    return {d.step for d in records.diagnostics}


def thin_records(records: RunRecords, max_points: int = MAX_CURVE_POINTS) -> RunRecords:
    """The run with no more batch and epoch records than its chart can show: what the plugin keeps.

    Each curve of the batches (and of the epochs) is downsampled as `downsample` does, and a
    record stays if any curve kept its point; the first and last records always stay (the
    run's last step, its latest cost). So a run keeps at most about `max_points` records per
    curve plus those at diagnostics' steps, however long it ran; its diagnostics all stay.
    A run of more epochs than that has Keras' own epoch curves shown at the epochs kept.
    Batches not decoded yet (`PendingBatches`) are thinned once they are.
    """
    markers = marker_steps(records)
    epochs = _thinned(records.epochs, markers, max_points)
    if isinstance(records.batches, PendingBatches):
        return dataclasses.replace(records, batches=records.batches.then(
            lambda batches: _thinned(batches, markers, max_points)), epochs=epochs)
    batches = _thinned(records.batches, markers, max_points)
    if len(batches) == len(records.batches) and len(epochs) == len(records.epochs):
        return records
    return dataclasses.replace(records, batches=batches, epochs=epochs)


def _thinned(items: tuple, markers: set[int], max_points: int) -> tuple:
    """`items` (batch or epoch records, with `step` and `logs`) of which some curve keeps a point."""
    if len(items) <= max_points:
        return items
    kept = {0, len(items) - 1}
    names = {name for item in items for name in item.logs}
    for name in sorted(filter(_is_curve, names)):
        present = [index for index, item in enumerate(items) if name in item.logs]
        steps = [items[index].step for index in present]
        values = [_plottable(items[index].logs[name]) for index in present]
        kept.update(present[i] for i in kept_indices(steps, values, markers, max_points))
    return tuple(items[index] for index in sorted(kept))


def display_series(series: list[dict[str, Any]], keep_steps: Collection[int]) -> list[dict[str, Any]]:
    """The `series` route's curves, each downsampled for the chart (see `downsample`)."""
    return [{**curve, "points": downsample(curve["points"], keep_steps)} for curve in series]


def scram_series(records: RunRecords) -> list[dict[str, Any]]:
    """Curves from SCRAM's own records: sampled batches for training metrics, epochs for validation."""
    curves: dict[str, list] = {}
    for batch in records.batches:
        for name, value in batch.logs.items():
            if _is_curve(name):
                curves.setdefault(name, []).append([batch.step, _plottable(value)])
    for epoch in records.epochs:
        for name, value in epoch.logs.items():
            if _is_curve(name) and (name.startswith("val_") or name not in curves):
                curves.setdefault(name, []).append([epoch.step, _plottable(value)])
    return [{"name": name, "points": sorted(points, key=_step)} for name, points in sorted(curves.items())]


def keras_series(scalars: dict[str, list[tuple[int, float]]], epoch_steps: dict[int, int]) -> list[dict[str, Any]]:
    """Curves from Keras' TensorBoard callback, moved from epochs to SCRAM's global steps.

    Args:
        scalars: Metric name (`"loss"`, `"val_accuracy"`) to `(epoch, value)` points.
        epoch_steps: Epoch to the global step of its last batch, from SCRAM's records.
    """
    series = []
    for name, points in sorted(scalars.items()):
        if not _is_curve(name):
            continue
        moved = sorted(([epoch_steps[e], _plottable(v)] for e, v in points if e in epoch_steps), key=_step)
        if moved:
            series.append({"name": name, "points": moved})
    return series


def epoch_steps(records: RunRecords) -> dict[int, int]:
    return {e.epoch: e.step for e in records.epochs}


def _first(records: RunRecords, check: str) -> dict[str, Any] | None:
    found = [d for d in records.diagnostics if d.check == check]
    if not found:
        return None
    first = min(found, key=lambda d: d.step)
    worst = max(found, key=lambda d: d.severity.rank)
    return {"step": first.step, "epoch": first.epoch, "severity": worst.severity.value, "count": len(found)}


def _overhead(records: RunRecords) -> dict[str, float] | None:
    if not records.epochs:
        return None
    cost = records.epochs[-1].cost
    if "scram_seconds" not in cost or "train_seconds" not in cost:
        return None
    train = cost["train_seconds"]
    return {
        "fraction": cost["scram_seconds"] / train if train > 0 else 0.0,
        "scram_seconds": cost["scram_seconds"],
        "train_seconds": train,
    }


def _step(point: list) -> int:
    return point[0]


def _is_curve(name: str) -> bool:
    return any(hint in name for hint in _CURVE_HINTS)


def _plottable(value: float) -> float | None:
    return value if math.isfinite(value) else None
