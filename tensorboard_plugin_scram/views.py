"""JSON views over runs' records: what the plugin's routes answer (framework-free)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.events.records import RunRecords

# Keras metric names worth a curve: losses and accuracies.
_CURVE_HINTS = ("loss", "acc")


def severity_counts(diagnostics: Iterable[Diagnostic]) -> dict[str, int]:
    counts = {s.value: 0 for s in Severity}
    for d in diagnostics:
        counts[d.severity.value] += 1
    return counts


def run_summary(records: RunRecords) -> dict[str, Any]:
    """One entry of the `runs` route."""
    steps = [d.step for d in records.diagnostics] + [e.step for e in records.epochs]
    steps += [b.step for b in records.batches]
    return {
        "run": records.run,
        "counts": severity_counts(records.diagnostics),
        "checks": sorted({d.check for d in records.diagnostics}),
        "last_step": max(steps) if steps else None,
        "overhead": _overhead(records),
        "skipped": records.skipped,
    }


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
    return [{"name": name, "points": sorted(points)} for name, points in sorted(curves.items())]


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
        moved = sorted([epoch_steps[e], _plottable(v)] for e, v in points if e in epoch_steps)
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


def _is_curve(name: str) -> bool:
    return any(hint in name for hint in _CURVE_HINTS)


def _plottable(value: float) -> float | None:
    return value if math.isfinite(value) else None
