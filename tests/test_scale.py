"""SCRAM at scale (issue #21): `scram report --summary/--run`, the runs route's first-error fields,
long curves downsampled for the chart, the plugin's memory bounded on a long run, and reading
that decodes sampled batches only where they are shown (the same output as decoding them all).

Log dirs are generated through SCRAM's own writer, the way the callback writes (bench/scale.py);
routes run in-process on TensorBoard's Python loader. A real training's summary is tested in
tests/test_cli.py.
"""

from __future__ import annotations

import gc
import json
import math
import random
import re
import tracemalloc
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import scale
from tensorboard_plugin_scram import cli, report, views
from tensorboard_plugin_scram.diagnostic import Severity
from tensorboard_plugin_scram.events import payload
from tensorboard_plugin_scram.events.file_reader import read_logdir
from tensorboard_plugin_scram.events.records import PendingBatches, RunRecords
from tensorboard_plugin_scram.events.writer import ScramSummaryWriter
from tensorboard_plugin_scram.plugin import PerRunCache
from tests.builders import run_scram
from tests.tensorboard_helpers import data_provider, get_json, plugin_client

# run name -> {step: [(check, severity)]}: what each generated run reports.
FINDINGS = {
    "exp/lr_high/scram": {3: [("learning_rate_unusual", Severity.WARNING)],
                          7: [("nan_loss", Severity.ERROR), ("loss_diverging", Severity.ERROR)],
                          9: [("class_imbalance", Severity.INFO)]},
    "exp/raw_pixels/scram": {0: [("input_not_normalized", Severity.WARNING)], 40: [("overfitting", Severity.WARNING)]},
    "exp/healthy/scram": {},
    "other/lr_high_again/scram": {12: [("nan_loss", Severity.ERROR)]},
}


def write_findings(root: str, findings: dict = FINDINGS, steps: int = 60) -> None:
    for run, found in findings.items():
        diagnostics = {step: [scale.diagnostic(check, severity, step, step // 20) for check, severity in items]
                       for step, items in found.items()}
        scale.write_run(f"{root}/{run}", steps, 20, diagnostics)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("sweep"))
    write_findings(root)
    return root


def expected_first(run: str, severity: Severity) -> tuple[int, str] | None:
    """The earliest `(step, check)` of this severity; at one step, the one written first."""
    found = [(step, check) for step, items in sorted(FINDINGS[run].items()) for check, s in items if s == severity]
    return found[0] if found else None


# -- scram report --summary / --run -----------------------------------------------------------------


def test_summary_prints_one_line_per_run_with_counts_and_first_error(logdir):
    result = run_scram("report", "--summary", logdir)
    assert result.returncode == 1, "errors were found"
    lines = result.stdout.splitlines()
    assert len(lines) == len(FINDINGS) + 1, result.stdout
    by_run = {line.split()[0]: line for line in lines[:-1]}
    assert set(by_run) == set(FINDINGS)
    assert "no issues" in by_run["exp/healthy/scram"]
    for run, found in FINDINGS.items():
        if not found:
            continue
        counts = [s for items in found.values() for _, s in items]
        errors, warnings = counts.count(Severity.ERROR), counts.count(Severity.WARNING)
        assert f"{errors} error" in by_run[run] and f"{warnings} warning" in by_run[run]
        step, check = expected_first(run, Severity.ERROR) or expected_first(run, Severity.WARNING)
        assert re.search(rf"first at step {step} .*: {check}$", by_run[run]), by_run[run]
    assert lines[-1].startswith(f"{len(FINDINGS)} runs: 2 with errors, 1 with warnings but no error, 1 without")


def test_summary_as_json_gives_each_runs_first_error_and_warning(logdir):
    result = run_scram("report", "--summary", "--json", "--fail-on", "never", logdir)
    assert result.returncode == 0
    rows = {row["run"]: row for row in json.loads(result.stdout)}
    assert set(rows) == set(FINDINGS)
    for run in FINDINGS:
        for severity, key in ((Severity.ERROR, "first_error"), (Severity.WARNING, "first_warning")):
            got = rows[run][key]
            assert (None if got is None else (got["step"], got["check"])) == expected_first(run, severity)


def test_run_regex_picks_runs_by_name_and_the_exit_status_follows(logdir):
    only_exp = run_scram("report", "--summary", "--run", "^exp/", logdir)
    assert [line.split()[0] for line in only_exp.stdout.splitlines()[:-1]] == sorted(
        run for run in FINDINGS if run.startswith("exp/"))
    warnings_only = run_scram("report", "--run", "raw_pixels", logdir)
    assert warnings_only.returncode == 0 and "exp/raw_pixels/scram" in warnings_only.stdout
    assert "lr_high" not in warnings_only.stdout
    assert run_scram("report", "--fail-on", "warning", "--run", "raw_pixels", logdir).returncode == 1
    diagnostics = json.loads(run_scram("report", "--json", "--run", "lr_high", logdir).stdout)
    picked = [run for run in FINDINGS if "lr_high" in run]
    assert {d["run"] for d in diagnostics} == set(picked) and len(picked) == 2
    assert len(diagnostics) == sum(len(items) for run in picked for items in FINDINGS[run].values())


def test_run_regex_matching_nothing_and_a_bad_regex(logdir):
    nothing = run_scram("report", "--run", "no_such_run", logdir)
    assert nothing.returncode == 0 and "matches 'no_such_run'" in nothing.stdout
    assert json.loads(run_scram("report", "--json", "--run", "no_such_run", logdir).stdout) == []
    bad = run_scram("report", "--run", "(", logdir)
    assert bad.returncode == 2 and "not a regular expression" in bad.stderr and "Traceback" not in bad.stderr


def test_help_documents_summary_and_run():
    text = run_scram("report", "--help").stdout
    assert "--summary" in text and "--run REGEX" in text and "re.search" in text and "s3://" in text


def test_the_file_reader_reads_records_split_across_its_read_pieces(tmp_path, monkeypatch):
    from tensorboard_plugin_scram.events import file_reader

    write_findings(str(tmp_path))
    whole = read_logdir(str(tmp_path))
    monkeypatch.setattr(file_reader, "_CHUNK_BYTES", 7)  # every record spans several pieces
    assert read_logdir(str(tmp_path)) == whole
    assert sum(len(r.diagnostics) for r in whole) == sum(len(i) for f in FINDINGS.values() for i in f.values())


# -- the plugin: runs route, series downsampled, memory bounded -------------------------------------


@pytest.fixture(scope="module")
def client(logdir):
    with data_provider(logdir, "python") as provider:
        yield plugin_client(provider)


def test_runs_route_gives_the_first_error_and_warning_steps(client):
    status, body = get_json(client, "runs")
    assert status == 200
    runs = {r["run"]: r for r in body["runs"]}
    assert set(runs) == set(FINDINGS)
    for run in FINDINGS:
        for severity, key in ((Severity.ERROR, "first_error_step"), (Severity.WARNING, "first_warning_step")):
            expected = expected_first(run, severity)
            assert runs[run][key] == (expected[0] if expected else None), (run, key)


def curve(length: int, seed: int = 0) -> list[list]:
    """A noisy falling loss with spikes and a stretch of NaN (None) values."""
    rng = random.Random(seed)
    points = [[10 * i, 2 * math.exp(-i / length) + rng.random() * 0.1] for i in range(length)]
    for i in rng.sample(range(length), 20):
        points[i][1] = 50.0 + i  # spikes: each a bucket's highest
    for i in range(length // 2, length // 2 + 30):
        points[i][1] = None
    return points


@pytest.mark.parametrize("markers", [0, 300, 5000])
def test_downsample_keeps_markers_first_last_extremes_and_gaps_under_the_bound(markers):
    points = curve(100_000)
    rng = random.Random(1)
    keep = set(rng.sample([p[0] for p in points], markers)) | {7}  # a step no point has
    thinned = views.downsample(points, keep)
    steps = [p[0] for p in thinned]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert thinned[0] == points[0] and thinned[-1] == points[-1]
    assert keep - {7} <= set(steps)
    spikes = [p for p in points if p[1] is not None and p[1] >= 50]
    assert len(spikes) == 20 and all(p in thinned for p in spikes)
    assert min(p[1] for p in points if p[1] is not None) == min(p[1] for p in thinned if p[1] is not None)
    assert any(p[1] is None for p in thinned), "the NaN stretch shows as a gap"
    kept_markers = len(keep - {7}) + 2
    assert len(thinned) <= max(views.MAX_CURVE_POINTS, kept_markers + views.MAX_CURVE_POINTS // 2)
    assert len(thinned) <= views.MAX_CURVE_POINTS or markers > views.MAX_CURVE_POINTS // 2


def test_a_short_curve_is_left_as_it_is():
    points = curve(views.MAX_CURVE_POINTS)
    assert views.downsample(points, {0}) == points


@pytest.fixture(scope="module")
def long_logdir(tmp_path_factory) -> str:
    """Two runs with the same 600 diagnostics, one three times as long as the other (30k, 90k steps).

    With a batch sampled every 10 steps and 10 steps an epoch, both have thousands of batch
    and epoch records: more than a chart shows.
    """
    root = str(tmp_path_factory.mktemp("long"))
    rng = random.Random(3)
    found: dict = {}
    for i in range(600):
        step = rng.randrange(30_000)
        found.setdefault(step, []).append(scale.diagnostic(*scale.CHECKS[i % len(scale.CHECKS)], step, step // 10))
    for name, steps in (("short", 30_000), ("long", 90_000)):
        scale.write_run(f"{root}/{name}/scram", steps, 10, found)
    return root


def test_long_run_series_is_downsampled_keeping_marker_steps_and_ends(long_logdir):
    [raw] = read_logdir(long_logdir, run_filter=re.compile("^long/").search)
    markers = views.marker_steps(raw)
    with data_provider(long_logdir, "python") as provider:
        status, body = get_json(plugin_client(provider), "series?run=" + urllib.parse.quote("long/scram", safe=""))
    assert status == 200 and body["source"] == "scram"
    series = {s["name"]: s["points"] for s in body["series"]}
    full = {s["name"]: s["points"] for s in views.scram_series(raw)}
    assert set(series) == set(full) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for name, points in full.items():
        shown = series[name]
        assert len(points) > views.MAX_CURVE_POINTS, "the curve is long enough to need downsampling"
        on_markers = [p for p in points if p[0] in markers]
        assert on_markers and all(p in shown for p in on_markers), name
        assert shown[0] == points[0] and shown[-1] == points[-1]
        assert len(shown) <= max(views.MAX_CURVE_POINTS, len(on_markers) + 2 + views.MAX_CURVE_POINTS // 2)
        finite = [p[1] for p in points if p[1] is not None]
        assert max(finite) in [p[1] for p in shown] and min(finite) in [p[1] for p in shown]


def plugin_holdings(root: str, run: str) -> tuple[RunRecords, float]:
    """The records the plugin keeps for one run after serving its routes, and the bytes it holds."""
    from tensorboard.backend.event_processing import data_provider as multiplexer_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer
    from tensorboard.context import RequestContext
    from tensorboard.plugins import base_plugin

    from tensorboard_plugin_scram.plugin import ScramPlugin

    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={"scram": 0})
    multiplexer.AddRun(f"{root}/{run}", name=run)
    multiplexer.Reload()
    provider = multiplexer_provider.MultiplexerDataProvider(multiplexer, root)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        plugin = ScramPlugin(base_plugin.TBContext(data_provider=provider, logdir=None))
        ctx = RequestContext()
        plugin.runs_impl(ctx, "")
        plugin.diagnostics_impl(ctx, "", run)
        plugin.series_impl(ctx, "", run)
        gc.collect()  # what the plugin holds, not garbage a later collection would free
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return plugin._reader.records(ctx, "")[run], held


def test_the_plugin_keeps_a_bounded_share_of_a_long_run(long_logdir):
    raw = {r.run: r for r in read_logdir(long_logdir)}
    assert len(raw["long/scram"].batches) > 2.5 * len(raw["short/scram"].batches)
    held = {}
    for run in ("short/scram", "long/scram"):
        kept, held[run] = plugin_holdings(long_logdir, run)
        assert kept.diagnostics == raw[run].diagnostics, "every diagnostic is kept"
        assert kept.batches[-1] == raw[run].batches[-1] and kept.epochs[-1] == raw[run].epochs[-1]
        markers = len(views.marker_steps(raw[run]))
        for records in (kept.batches, kept.epochs):  # two curves each at most, plus the marker steps
            assert len(records) <= 2 * views.MAX_CURVE_POINTS + markers + 2
    # Three times the steps, the same diagnostics: not three times the memory.
    assert held["long/scram"] < 1.3 * held["short/scram"], held


def test_per_run_cache_rebuilds_for_new_records_and_drops_the_least_recently_used():
    built = []
    cache = PerRunCache(lambda records: built.append(records.run) or len(built), limit=2)
    a, b, c = RunRecords(run="a"), RunRecords(run="b"), RunRecords(run="c")
    assert cache.get(a) == 1 and cache.get(a) == 1 and built == ["a"]
    assert cache.get(RunRecords(run="a", skipped=1)) == 2, "a re-read run is rebuilt"
    cache.get(b)
    cache.get(c)
    assert len(cache) == 2 and built == ["a", "a", "b", "c"]
    cache.retain(["c"])
    assert len(cache) == 1


# -- reading decodes sampled batches only where they are shown ------------------------------------


@pytest.fixture
def decode_all_at_once(monkeypatch):
    """Readers as they were: every batches payload decoded while reading (none is taken for plain)."""
    monkeypatch.setattr(payload, "is_plain_batches", lambda raw: False)


def cli_outputs(root: str, capsys) -> dict[str, str]:
    """What `scram report` prints, and its exit status, for each way of reporting (in-process)."""
    outputs = {}
    for flags in ([], ["--summary"], ["--json"], ["--json", "--summary"], ["--summary", "--run", "lr_high"]):
        capsys.readouterr()
        status = cli.main(["report", "--color", "never", *flags, root])
        outputs[" ".join(flags)] = f"{status}\n" + capsys.readouterr().out
    return outputs


def test_reading_leaves_the_batches_undecoded_and_reports_the_same(logdir, request, capsys):
    runs = read_logdir(logdir)
    assert len(runs) == len(FINDINGS)
    assert all(isinstance(r.batches, PendingBatches) and not r.batches.decoded for r in runs)
    lazy = cli_outputs(logdir, capsys)
    request.getfixturevalue("decode_all_at_once")
    eager_runs = read_logdir(logdir)
    assert all(isinstance(r.batches, tuple) and r.batches for r in eager_runs)
    assert [r.last_step for r in runs] == [r.last_step for r in eager_runs]
    assert not any(r.batches.decoded for r in runs), "last_step is found without decoding"
    assert runs == eager_runs, "decoded on use, the batches are those of an eager read"
    eager = cli_outputs(logdir, capsys)
    assert list(lazy) == list(eager) and all(lazy[k] == eager[k] for k in lazy)
    assert "first at step" in lazy["--summary"] and json.loads(lazy["--json"].split("\n", 1)[1])


def plugin_over(root: str):
    """A SCRAM plugin on TensorBoard's Python loader over `root`, with a request context."""
    from tensorboard.context import RequestContext
    from tensorboard.plugins import base_plugin

    from tensorboard_plugin_scram.plugin import ScramPlugin

    provider = scale.python_loader(root)
    return ScramPlugin(base_plugin.TBContext(data_provider=provider, logdir=None)), RequestContext()


def route_answers(root: str) -> dict[str, object]:
    """Every route's answer for every run of `root`, from a fresh plugin."""
    plugin, ctx = plugin_over(root)
    answers: dict[str, object] = {"runs": plugin.runs_impl(ctx, "")}
    names = [r["run"] for r in answers["runs"]["runs"]]
    for run in names:
        answers[f"diagnostics {run}"] = json.loads(plugin.diagnostics_impl(ctx, "", run))
        answers[f"series {run}"] = plugin.series_impl(ctx, "", run)
    answers["compare"] = plugin.compare_impl(ctx, "", names)
    answers["runs again"] = plugin.runs_impl(ctx, "")
    return answers


def test_routes_answer_the_same_as_when_every_batch_was_decoded(long_logdir, request):
    lazy = route_answers(long_logdir)
    request.getfixturevalue("decode_all_at_once")
    eager = route_answers(long_logdir)
    assert list(lazy) == list(eager) and len(lazy) == 2 * 2 + 3
    for key in lazy:
        assert lazy[key] == eager[key], key
    assert all(len(s["points"]) > 1000 for s in lazy["series long/scram"]["series"]), "long curves, downsampled"


def test_runs_and_diagnostics_routes_decode_no_batch_and_series_only_its_runs(logdir):
    plugin, ctx = plugin_over(logdir)

    def decoded() -> set[str]:
        held = plugin._reader.records(ctx, "")
        assert all(isinstance(r.batches, PendingBatches) for r in held.values())
        return {run for run, r in held.items() if r.batches.decoded}

    runs = plugin.runs_impl(ctx, "")["runs"]
    assert len(runs) == len(FINDINGS) and all(r["last_step"] == 59 for r in runs)
    for run in FINDINGS:
        plugin.diagnostics_impl(ctx, "", run)
    plugin.compare_impl(ctx, "", list(FINDINGS))
    assert decoded() == set()
    series = plugin.series_impl(ctx, "", "exp/lr_high/scram")
    assert decoded() == {"exp/lr_high/scram"}
    assert max(p[0] for s in series["series"] for p in s["points"]) == 59


def test_the_last_step_is_exact_when_a_second_fit_starts_the_steps_again(tmp_path, request):
    """The writer raises the event steps of a repeated step; the batches keep their own."""
    writer = ScramSummaryWriter(str(tmp_path / "scram"))
    for step in [*range(30), *range(12)]:  # a second fit with the same callback counts from 0
        writer.write_batch(step, step // 10, {"loss": 1.0 / (step + 1)})
        if step in (29, 11):
            writer.flush()
    writer.close()
    [lazy] = read_logdir(str(tmp_path))
    assert lazy.last_step == 29 and not lazy.batches.decoded
    assert [b.step for b in lazy.batches] == [*range(30), *range(12)]
    request.getfixturevalue("decode_all_at_once")
    [eager] = read_logdir(str(tmp_path))
    assert eager.last_step == 29 and eager.batches == lazy.batches


@pytest.mark.training
def test_a_real_fit_reads_and_serves_the_same_as_decoding_every_batch(trained_logdir, request, capsys):
    lazy_runs = read_logdir(trained_logdir)
    assert lazy_runs and any(isinstance(r.batches, PendingBatches) for r in lazy_runs)
    lazy_cli, lazy_routes = cli_outputs(trained_logdir, capsys), route_answers(trained_logdir)
    request.getfixturevalue("decode_all_at_once")
    eager_runs = read_logdir(trained_logdir)
    assert lazy_runs == eager_runs and sum(len(r.batches) for r in eager_runs) > 0
    eager_cli, eager_routes = cli_outputs(trained_logdir, capsys), route_answers(trained_logdir)
    assert list(lazy_cli) == list(eager_cli) and all(lazy_cli[k] == eager_cli[k] for k in lazy_cli)
    assert list(lazy_routes) == list(eager_routes) and all(lazy_routes[k] == eager_routes[k] for k in lazy_routes)


# -- plain batches payloads: sure to decode ----------------------------------------------------------

METRIC_NAMES = st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1, max_size=12)
BATCHES = st.lists(st.tuples(st.integers(-5, 10**12), st.integers(0, 10**6),
                             st.dictionaries(METRIC_NAMES, st.floats(width=64), max_size=4)), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(batches=BATCHES)
def test_what_the_writer_writes_is_plain_and_decodes_to_the_same(batches):
    raw = payload.encode_batches(batches)
    assert payload.is_plain_batches(raw) and payload.is_plain_batches(raw.encode("ascii"))
    assert payload.plain_batches_last_step(raw) == max(step for step, _, _ in batches)
    decoded = payload.decode(raw).batches
    assert len(decoded) == len(batches)
    assert [(b.step, b.epoch, len(b.logs)) for b in decoded] == [(s, e, len(logs)) for s, e, logs in batches]


@settings(max_examples=1000, deadline=None)
@given(batches=BATCHES, edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 2),
                                                  st.sampled_from(list('{}[]",:-.0123e\\ ue"aéx'))),
                                       min_size=1, max_size=4))
def test_a_payload_taken_for_plain_always_decodes(batches, edits):
    """Corrupted payloads: any one still taken for plain decodes, so a reader's count of skipped is exact."""
    raw = payload.encode_batches(batches)
    for position, kind, char in edits:
        at = position % (len(raw) + 1)
        raw = raw[:at] + (char if kind else "") + raw[at + (kind != 1):]  # delete, insert or replace
    if payload.is_plain_batches(raw):
        assert payload.decode(raw).batches
        assert payload.plain_batches_last_step(raw) == max(b.step for b in payload.decode(raw).batches)


@pytest.mark.parametrize("raw", ['{"kind": "batches", "batches": [{"step": 1, "epoch": 0, "logs": {}}]}',
                                 '{"kind":"batches","batches":[]}', '{"kind":"batch","step":1,"epoch":0,"logs":{}}',
                                 '{"kind":"batches","batches":[{"step":1,"epoch":0,"logs":{"l":true}}]}',
                                 '{"kind":"batches","batches":[{"step":1.0,"epoch":0,"logs":{}}]}',
                                 '{"kind":"batches","batches":[{"step":1,"epoch":0,"logs":{"é":1.0}}]}'])
def test_other_payloads_are_not_plain_and_are_decoded_at_once(raw):
    assert not payload.is_plain_batches(raw)


# -- the report's line wrapping -----------------------------------------------------------------

WORDS = st.text(st.sampled_from(list("ab-_1.é \t")), max_size=12)


@settings(max_examples=2000, deadline=None)
@given(words=st.lists(WORDS, max_size=30), separators=st.lists(st.sampled_from([" ", "  ", "   "]), min_size=30,
                                                                 max_size=30),
       width=st.integers(12, 100), hanging=st.booleans())
def test_the_reports_wrapping_breaks_lines_as_textwrap_does(words, separators, width, hanging):
    """Like the report's: an explanation under a 6-space indent, a fix with a hanging one."""
    import textwrap

    separators = separators[:len(words)]
    text = "".join(word + separator for word, separator in zip(words, separators, strict=True))
    indent, later = " " * 6, " " * (11 if hanging else 6)
    assert report.wrap(text, width, indent, later) == textwrap.wrap(text, width, initial_indent=indent,
                                                                   subsequent_indent=later)


# -- a live run: what was decoded is reused ------------------------------------------------------


def test_a_growing_run_decodes_only_its_new_diagnostics_and_reads_as_a_fresh_reader(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing import data_provider as multiplexer_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer
    from tensorboard.context import RequestContext

    from tensorboard_plugin_scram.events.provider_reader import ProviderReader
    from tensorboard_plugin_scram.events.records import DiagnosticsRecord

    writer = ScramSummaryWriter(str(tmp_path / "live" / "scram"))

    def train(steps: range, found_every: int) -> None:
        for step in steps:
            writer.write_batch(step, step // 20, {"loss": 1.0 / (step + 1)})
            if step % found_every == 0:
                writer.write_diagnostics(step, [scale.diagnostic("overfitting", Severity.WARNING, step, step // 20)])
            if step % 20 == 19:
                writer.write_epoch(step, step // 20, {"loss": 1.0 / (step + 1)}, {})
        writer.flush()

    decoded = []
    real_decode = payload.decode
    monkeypatch.setattr(payload, "decode", lambda raw: decoded.append(real_decode(raw)) or decoded[-1])
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={"scram": 0})
    provider = multiplexer_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    reader, ctx = ProviderReader(provider, keep=views.thin_records), RequestContext()
    found = 0
    for steps, found_every, new_diagnostics in ((range(0, 100), 10, 10), (range(100, 160), 20, 3)):
        train(steps, found_every)
        multiplexer.AddRunsFromDirectory(str(tmp_path))  # the run as TensorBoard sees it grow
        multiplexer.Reload()
        decoded.clear()
        records, found = reader.records(ctx, "")["live/scram"], found + new_diagnostics
        assert sum(isinstance(r, DiagnosticsRecord) for r in decoded) == new_diagnostics
        assert records == ProviderReader(provider, keep=views.thin_records).records(ctx, "")["live/scram"]
        assert records.last_step == steps[-1] and len(records.diagnostics) == found
    writer.close()


def test_a_rewritten_diagnostics_series_is_decoded_afresh():
    from types import SimpleNamespace

    from tensorboard_plugin_scram.events.collector import RunCollector
    from tensorboard_plugin_scram.events.provider_reader import _Progress

    def series(*points):
        return [SimpleNamespace(step=step, wall_time=wall_time) for step, wall_time in points]

    decoded = series((0, 1.0), (5, 2.0))
    progress = _Progress(RunCollector("r"), len(decoded), ((0, 1.0), (5, 2.0)))
    assert progress.goes_on_in(series((0, 1.0), (5, 2.0), (9, 3.0))), "grown: go on"
    assert progress.goes_on_in(decoded), "unchanged"
    assert not progress.goes_on_in(series((0, 1.0))), "shorter"
    assert not progress.goes_on_in(series((0, 7.0), (5, 2.0), (9, 3.0))), "a new file from step 0"
    assert not progress.goes_on_in(series((0, 1.0), (4, 2.5), (9, 3.0))), "changed in between"
