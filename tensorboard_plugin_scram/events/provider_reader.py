"""Reads SCRAM's records through TensorBoard's data provider (both loaders, --load_fast too).

What the TensorBoard plugin reads with. Decoded runs are cached by their series' (max step,
max wall time), so a panel polling every few seconds only decodes the runs that changed; of
a run that grew, the diagnostics decoded before are reused (`_Progress`). Sampled batches
are decoded only when first used (`records.PendingBatches`). Series whose metadata says a
newer SCRAM wrote them are counted as skipped, not decoded.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tensorboard.data import provider as provider_lib

from tensorboard_plugin_scram.events import metadata
from tensorboard_plugin_scram.events.collector import RunCollector
from tensorboard_plugin_scram.events.records import RunRecords

# Never read with downsample 0 (it returns nothing); ask for more than any run holds.
_READ_ALL = 10_000_000
_KERAS_RUNS = {"train": "", "validation": "val_"}
_KERAS_PREFIX = "epoch_"

# A run's series as `list_tensors` gives them: tag to `TensorTimeSeries`.
_Series = Mapping[str, provider_lib.TensorTimeSeries]


class ProviderReader:
    """SCRAM's records of an experiment, via `context.data_provider`.

    Args:
        data_provider: TensorBoard's `DataProvider`.
        keep: What of a freshly decoded run is cached and handed out (the plugin thins
            long runs' curves with it, to bound its memory); all of it by default.
    """

    def __init__(self, data_provider: provider_lib.DataProvider,
                 keep: Callable[[RunRecords], RunRecords] | None = None) -> None:
        self._provider = data_provider
        self._keep = keep or (lambda records: records)
        self._cache: dict[str, tuple[Any, RunRecords]] = {}
        self._progress: dict[str, _Progress] = {}
        self._lock = threading.Lock()

    def records(self, ctx: Any, experiment_id: str, runs: list[str] | None = None) -> dict[str, RunRecords]:
        """Decoded records of the given runs (all SCRAM runs when None); unknown runs are absent.

        A run's `RunRecords` is the same object from call to call while its series are unchanged.
        """
        listing = self._provider.list_tensors(
            ctx,
            experiment_id=experiment_id,
            plugin_name=metadata.PLUGIN_NAME,
            run_tag_filter=provider_lib.RunTagFilter(runs=runs, tags=metadata.TAGS),
        )
        listing = {run: tags for run, tags in listing.items() if tags}
        versions = {run: _version(tags) for run, tags in listing.items()}
        with self._lock:
            stale = [run for run, version in versions.items() if self._cache.get(run, (None,))[0] != version]
            progress = {run: self._progress.get(run) for run in stale}
        data = self._read(ctx, experiment_id, stale) if stale else {}
        fresh = {run: _decode(run, data.get(run, {}), listing[run], progress[run]) for run in stale}
        with self._lock:
            for run, (records, decoded_so_far) in fresh.items():
                self._cache[run] = (versions[run], self._keep(records))
                self._progress[run] = decoded_so_far
            if runs is None:  # every run was listed: forget those that are gone
                for gone in set(self._cache) - set(versions):
                    del self._cache[gone]
                    self._progress.pop(gone, None)
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

    def _read(self, ctx: Any, experiment_id: str, runs: list[str]) -> Mapping[str, Mapping[str, Sequence]]:
        """Every stored datum of SCRAM's series of `runs`: run to tag to data, in step order."""
        return self._provider.read_tensors(
            ctx,
            experiment_id=experiment_id,
            plugin_name=metadata.PLUGIN_NAME,
            downsample=_READ_ALL,
            run_tag_filter=provider_lib.RunTagFilter(runs=runs, tags=metadata.TAGS),
        )


@dataclasses.dataclass(frozen=True)
class _Progress:
    """A run's diagnostics series as far as it was decoded, so that once it grows only its new data is.

    TensorBoard hands back whole series. SCRAM's writer only appends to them, so the data decoded
    before are still the first `count`, with the same first and last (step, wall time), unless the
    run was rewritten; then the series is decoded afresh. Epochs and batches are not kept this way:
    the plugin thins long runs' curves from all their records, and keeps only what it shows.
    """

    collector: RunCollector  # holding the diagnostics series alone; copied, never added to
    count: int = 0
    ends: tuple = ()

    def goes_on_in(self, data: Sequence) -> bool:
        """Whether `data` starts with the data decoded so far."""
        return len(data) >= self.count and _ends(data, self.count) == self.ends


def _decode(run: str, data: Mapping[str, Sequence], series: _Series,
            progress: _Progress | None) -> tuple[RunRecords, _Progress]:
    """A run's records from its series' data, and the diagnostics decoded so far for the next time."""
    diagnostics = data.get(metadata.DIAGNOSTICS_TAG, ())
    if progress is None or not progress.goes_on_in(diagnostics):
        progress = _Progress(RunCollector(run))
    collector = progress.collector.copy()
    _collect(collector, metadata.DIAGNOSTICS_TAG, diagnostics[progress.count:], series.get(metadata.DIAGNOSTICS_TAG))
    progress = _Progress(collector.copy(), len(diagnostics), _ends(diagnostics, len(diagnostics)))
    for tag in (metadata.EPOCH_TAG, metadata.BATCH_TAG):
        _collect(collector, tag, data.get(tag, ()), series.get(tag))
    return collector.records(), progress


def _ends(data: Sequence, count: int) -> tuple:
    """The (step, wall time) of the first and the `count`th datum: what tells a series that only grew."""
    return ((data[0].step, data[0].wall_time), (data[count - 1].step, data[count - 1].wall_time)) if count else ()


def _collect(collector: RunCollector, tag: str, data: Any, series: provider_lib.TensorTimeSeries | None) -> None:
    """Adds one series' data, or counts it as skipped when a newer SCRAM wrote it."""
    if series is not None and not metadata.is_readable(series.plugin_content):
        collector.skip(len(data))
        return
    for datum in data:
        collector.add(tag, _raw(datum))


def _version(tags: _Series) -> tuple:
    return tuple(sorted((tag, ts.max_step, ts.max_wall_time) for tag, ts in tags.items()))


def _raw(datum: provider_lib.TensorDatum) -> object:
    try:
        return datum.numpy.item()
    except (AttributeError, ValueError):
        return None
