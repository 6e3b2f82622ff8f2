"""The SCRAM TensorBoard plugin: JSON routes over SCRAM's records, and the panel's bundle.

Each route is a thin `*_route` that parses the request and calls a plain `*_impl` that
returns data (the pattern of TensorBoard's scalar plugin). See docs/routes.md.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import os
import threading
import weakref
from collections.abc import Callable, Collection
from typing import Any

from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tensorboard_plugin_scram import views
from tensorboard_plugin_scram.checks import CATALOGUE
from tensorboard_plugin_scram.docs import check_page
from tensorboard_plugin_scram.events import metadata
from tensorboard_plugin_scram.events.provider_reader import ProviderReader
from tensorboard_plugin_scram.events.records import RunRecords

_STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
_MAX_COMPARED_RUNS = 50
# The diagnostics route's JSON text is kept for this many runs (the most recently asked for):
# a run of 5,000 diagnostics makes about 8 MB of it.
_KEPT_DIAGNOSTICS_JSON = 16
logger = logging.getLogger(__name__)


class RouteError(Exception):
    """A bad request: answered as `{"error": message}` with `status`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _json_route(route: Callable[..., Any]) -> Callable:
    """Serves a route's return value as JSON; errors become JSON with a 4xx/500 status."""

    @functools.wraps(route)
    @wrappers.Request.application
    def serve(self: ScramPlugin, request: wrappers.Request) -> wrappers.Response:
        try:
            body, status = route(self, request), 200
            if not isinstance(body, str):  # a str is JSON text already (cached)
                body = json.dumps(body)
        except RouteError as error:
            body, status = json.dumps({"error": str(error)}), error.status
        except Exception:  # a bug of ours: say so in JSON, keep details in the log
            logger.exception("SCRAM route %s failed", request.path)
            body, status = json.dumps({"error": "internal error in the SCRAM plugin; see TensorBoard's log"}), 500
        return http_util.Respond(request, body, "application/json", code=status)

    return serve


class ScramPlugin(base_plugin.TBPlugin):
    """Serves SCRAM's diagnostics to the SCRAM tab."""

    plugin_name = metadata.PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext) -> None:
        # Long runs' curves are thinned as they are decoded, so what the plugin holds per run
        # is bounded by what its chart shows (see `views.thin_records`), not by its length.
        self._reader = ProviderReader(context.data_provider, keep=views.thin_records)
        # What the routes build from a run's records, kept while the reader hands back the
        # same records: a polling panel costs no re-encoding.
        self._summaries = PerRunCache(views.run_summary)
        self._diagnostics_json = PerRunCache(views.diagnostics_json, limit=_KEPT_DIAGNOSTICS_JSON)

    def get_plugin_apps(self) -> dict[str, Callable]:
        return {
            "/index.js": self._serve_bundle,
            "/runs": self.runs_route,
            "/diagnostics": self.diagnostics_route,
            "/series": self.series_route,
            "/compare": self.compare_route,
            "/checks": self.checks_route,
            "/docs/checks/*": self._serve_check_doc,
        }

    def is_active(self) -> bool:
        # Only asked when no run holds SCRAM data (data_plugin_names covers the rest).
        return False

    def data_plugin_names(self) -> tuple[str, ...]:
        return (metadata.PLUGIN_NAME,)

    def frontend_metadata(self) -> base_plugin.FrontendMetadata:
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="SCRAM")

    # -- routes ----------------------------------------------------------------------

    @_json_route
    def runs_route(self, request: wrappers.Request) -> Any:
        return self.runs_impl(*_context(request))

    @_json_route
    def diagnostics_route(self, request: wrappers.Request) -> Any:
        return self.diagnostics_impl(*_context(request), _run_argument(request))

    @_json_route
    def series_route(self, request: wrappers.Request) -> Any:
        return self.series_impl(*_context(request), _run_argument(request))

    @_json_route
    def compare_route(self, request: wrappers.Request) -> Any:
        runs = request.args.getlist("run")
        if len(runs) < 2:
            raise RouteError("compare needs at least two 'run' parameters")
        if len(runs) > _MAX_COMPARED_RUNS:
            raise RouteError(f"compare takes at most {_MAX_COMPARED_RUNS} runs")
        return self.compare_impl(*_context(request), runs)

    @_json_route
    def checks_route(self, request: wrappers.Request) -> Any:
        return self.checks_impl()

    @wrappers.Request.application
    def _serve_check_doc(self, request: wrappers.Request) -> wrappers.Response:
        # The page is generated from the catalogue: the request only picks a known id.
        name = request.path.rsplit("/", 1)[-1]
        check = CATALOGUE.get(name[: -len(".md")] if name.endswith(".md") else "")
        if check is None:
            return http_util.Respond(request, json.dumps({"error": "no such check"}), "application/json", code=404)
        return http_util.Respond(request, check_page(check), "text/plain")

    @wrappers.Request.application
    def _serve_bundle(self, request: wrappers.Request) -> wrappers.Response:
        with open(os.path.join(_STATIC, "index.js"), encoding="utf-8") as handle:
            return http_util.Respond(request, handle.read(), "text/javascript")

    # -- implementations ---------------------------------------------------------------

    def runs_impl(self, ctx: Any, experiment: str) -> dict[str, Any]:
        records = self._reader.records(ctx, experiment)
        self._summaries.retain(records)
        return {"runs": [self._summaries.get(records[run]) for run in sorted(records)]}

    def diagnostics_impl(self, ctx: Any, experiment: str, run: str) -> str:
        """The run's diagnostics as JSON text (see `views.diagnostics_view`)."""
        return self._diagnostics_json.get(self._run_records(ctx, experiment, [run])[0])

    def series_impl(self, ctx: Any, experiment: str, run: str) -> dict[str, Any]:
        """The run's curves, long ones downsampled, keeping the points at its diagnostics' steps."""
        records = self._run_records(ctx, experiment, [run])[0]
        keras_points = self._reader.keras_scalars(ctx, experiment, run)
        series = views.keras_series(keras_points, views.epoch_steps(records)) if keras_points else []
        source = "keras" if series else "scram"
        series = series or views.scram_series(records)
        return {"run": run, "source": source, "series": views.display_series(series, views.marker_steps(records))}

    def compare_impl(self, ctx: Any, experiment: str, runs: list[str]) -> dict[str, Any]:
        return views.compare_view(self._run_records(ctx, experiment, runs))

    def checks_impl(self) -> dict[str, Any]:
        return {
            "checks": [
                {"check": c.id, "title": c.title, "severity": c.severity.value, "doc": f"docs/checks/{c.id}.md"}
                for c in CATALOGUE.values()
            ]
        }

    def _run_records(self, ctx: Any, experiment: str, runs: list[str]) -> list[RunRecords]:
        found = self._reader.records(ctx, experiment, runs)
        missing = [run for run in runs if run not in found]
        if missing:
            raise RouteError(f"no SCRAM data for run {missing[0]!r}", status=404)
        return [found[run] for run in runs]


class PerRunCache:
    """A value built from a run's records, kept while the reader hands back the same records object.

    The records are referenced weakly: a run re-read by the reader is rebuilt, and the old
    records are not kept alive by this cache.

    Args:
        build: Builds the value from a run's records.
        limit: How many runs' values are kept at most, the least recently used dropped
            first; None keeps every run's.
    """

    def __init__(self, build: Callable[[RunRecords], Any], limit: int | None = None) -> None:
        self._build = build
        self._limit = limit
        self._kept: collections.OrderedDict[str, tuple[weakref.ref, Any]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, records: RunRecords) -> Any:
        """The value for these records, built now unless kept."""
        with self._lock:
            kept = self._kept.get(records.run)
            if kept is not None and kept[0]() is records:
                self._kept.move_to_end(records.run)
                return kept[1]
        value = self._build(records)
        with self._lock:
            self._kept[records.run] = (weakref.ref(records), value)
            self._kept.move_to_end(records.run)
            while self._limit is not None and len(self._kept) > self._limit:
                self._kept.popitem(last=False)
        return value

    def retain(self, runs: Collection[str]) -> None:
        """Forgets the values of runs not among `runs` (runs that are gone)."""
        with self._lock:
            for gone in set(self._kept) - set(runs):
                del self._kept[gone]

    def __len__(self) -> int:
        return len(self._kept)


def _context(request: wrappers.Request) -> tuple[Any, str]:
    from tensorboard import plugin_util

    return plugin_util.context(request.environ), plugin_util.experiment_id(request.environ)


def _run_argument(request: wrappers.Request) -> str:
    run = request.args.get("run")
    if not run:
        raise RouteError("missing parameter 'run'")
    return run
