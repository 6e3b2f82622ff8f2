"""Reads SCRAM's records through TensorBoard's data provider (both loaders, --load_fast too).

Decoded runs are cached by their series' (max step, max wall time), so a panel polling
every few seconds only decodes what is new.
"""

from __future__ import annotations

import threading
from typing import Any

from tensorboard.data import provider as provider_lib

from tensorboard_plugin_scram import metadata
from tensorboard_plugin_scram.reader import RunRecords, add_record

# Never read with downsample 0 (it returns nothing); ask for more than any run holds.
_READ_ALL = 10_000_000
_KERAS_RUNS = {"train": "", "validation": "val_"}
_KERAS_PREFIX = "epoch_"


class ProviderReader:
    """SCRAM's records of an experiment, via `context.data_provider`.

    Args:
        data_provider: TensorBoard's `DataProvider`.
    """

    def __init__(self, data_provider: provider_lib.DataProvider) -> None:
        self._provider = data_provider
        self._cache: dict[str, tuple[Any, RunRecords]] = {}
        self._lock = threading.Lock()

    def runs(self, ctx: Any, experiment_id: str) -> list[str]:
        """Names of the runs that hold SCRAM data, sorted."""
        listing = self._provider.list_tensors(ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME)
        return sorted(run for run, tags in listing.items() if set(tags) & set(metadata.TAGS))

    def records(self, ctx: Any, experiment_id: str, runs: list[str] | None = None) -> dict[str, RunRecords]:
        """Decoded records of the given runs (all SCRAM runs when None); unknown runs are absent."""
        listing = self._provider.list_tensors(
            ctx,
            experiment_id=experiment_id,
            plugin_name=metadata.PLUGIN_NAME,
            run_tag_filter=provider_lib.RunTagFilter(runs=runs, tags=metadata.TAGS),
        )
        versions = {run: _version(tags) for run, tags in listing.items() if tags}
        with self._lock:
            stale = [run for run, version in versions.items() if self._cache.get(run, (None,))[0] != version]
        fresh = self._read(ctx, experiment_id, stale) if stale else {}
        with self._lock:
            for run in stale:
                self._cache[run] = (versions[run], fresh.get(run, RunRecords(run=run)))
            return {run: self._cache[run][1] for run in versions}

    def keras_scalars(self, ctx: Any, experiment_id: str, scram_run: str) -> dict[str, list[tuple[int, float]]]:
        """Epoch metrics that `keras.callbacks.TensorBoard` wrote beside a SCRAM run.

        SCRAM's run `exp/scram` sits beside Keras' `exp/train` and `exp/validation`.
        Returns metric name (`"loss"`, `"val_loss"`) to `(epoch, value)` points.
        """
        parent = scram_run.rpartition("/")[0]
        names = {(f"{parent}/{run}" if parent else run): prefix for run, prefix in _KERAS_RUNS.items()}
        data = self._provider.read_scalars(
            ctx,
            experiment_id=experiment_id,
            plugin_name="scalars",
            downsample=_READ_ALL,
            run_tag_filter=provider_lib.RunTagFilter(runs=list(names)),
        )
        scalars: dict[str, list[tuple[int, float]]] = {}
        for run, tags in data.items():
            for tag, points in tags.items():
                if tag.startswith(_KERAS_PREFIX):
                    name = names[run] + tag[len(_KERAS_PREFIX):]
                    scalars[name] = [(p.step, float(p.value)) for p in points]
        return scalars

    def _read(self, ctx: Any, experiment_id: str, runs: list[str]) -> dict[str, RunRecords]:
        data = self._provider.read_tensors(
            ctx,
            experiment_id=experiment_id,
            plugin_name=metadata.PLUGIN_NAME,
            downsample=_READ_ALL,
            run_tag_filter=provider_lib.RunTagFilter(runs=runs, tags=metadata.TAGS),
        )
        decoded = {}
        for run, tags in data.items():
            records = RunRecords(run=run)
            for tag in metadata.TAGS:
                for datum in tags.get(tag, ()):
                    add_record(records, tag, _raw(datum))
            records.diagnostics.sort(key=lambda d: d.step)
            decoded[run] = records
        return decoded


def _version(tags: dict) -> tuple:
    return tuple(sorted((tag, ts.max_step, ts.max_wall_time) for tag, ts in tags.items()))


def _raw(datum: provider_lib.TensorDatum) -> object:
    try:
        return datum.numpy.item()
    except (AttributeError, ValueError):
        return None
