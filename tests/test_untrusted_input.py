"""Untrusted input: odd numbers into the checks, corrupt event files into the CLI and the plugin."""

from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorboard_plugin_scram.checks import build_checks
from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.engine import Engine
from tensorboard_plugin_scram.events import metadata, payload
from tensorboard_plugin_scram.events.writer import ScramSummaryWriter
from tensorboard_plugin_scram.observations import (
    BatchObservation,
    EpochObservation,
    LayerStats,
    LossInfo,
    ModelStats,
    OutputInfo,
    PredictionStats,
    RunInfo,
    TensorStats,
)
from tests.builders import run_scram
from tests.tensorboard_helpers import data_provider, get_json, plugin_client

LOADERS = ["python", pytest.param("rust", marks=pytest.mark.tensorboard)]  # rust: the data server process

# -- the checks' inputs, fuzzed ---------------------------------------------------------------

ODD_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, -1.0, 1.0, 16.0, 1e10, float("nan"), float("inf")]),
)
COUNTS = st.one_of(st.integers(0, 10), st.integers(0, 2**62))
METRICS = ["loss", "val_loss", "accuracy", "val_accuracy", "acc", "val_acc", "learning_rate", "mae", "val_mae"]
LOGS = st.dictionaries(st.one_of(st.sampled_from(METRICS), st.text(max_size=8)), ODD_FLOATS, max_size=6)
MAYBE = lambda strategy: st.none() | strategy  # noqa: E731

TENSORS = st.builds(
    TensorStats, name=st.sampled_from(["x", "y", "pixels", "x[1]"]), role=st.sampled_from(["input", "target"]),
    count=COUNTS, nonfinite=COUNTS, nonfinite_total=COUNTS, min=ODD_FLOATS, max=ODD_FLOATS, mean=ODD_FLOATS,
    std=ODD_FLOATS, feature_mean_abs=ODD_FLOATS, feature_std=ODD_FLOATS, integral=st.booleans(),
    feeds_embedding=st.booleans(),
)
LAYERS = st.builds(
    LayerStats, name=st.sampled_from(["dense", "dense_1", "conv"]), kind=st.sampled_from(["Dense", "Conv2D"]),
    activation=MAYBE(st.sampled_from(["relu", "sigmoid", "tanh", "softmax", "linear"])),
    weight_norm=MAYBE(ODD_FLOATS), grad_norm=MAYBE(ODD_FLOATS), update_norm=MAYBE(ODD_FLOATS),
    update_steps=MAYBE(COUNTS), dead_fraction=MAYBE(ODD_FLOATS), saturated_fraction=MAYBE(ODD_FLOATS),
    nonfinite_output=st.booleans(), nonfinite_weights=st.booleans(), units=MAYBE(COUNTS),
)
PREDICTIONS = st.builds(PredictionStats, count=COUNTS, majority_share=MAYBE(ODD_FLOATS),
                        predicted_classes=MAYBE(COUNTS), std=ODD_FLOATS)
MODELS = st.builds(ModelStats, layers=st.lists(LAYERS, max_size=4).map(tuple), predictions=MAYBE(PREDICTIONS))
LOSS_NAMES = ["sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
              "mean_squared_error", "weird"]
RUNS = st.builds(
    RunInfo,
    optimizer=MAYBE(st.sampled_from(["Adam", "SGD", "RMSprop", "Weird"])),
    learning_rate=MAYBE(ODD_FLOATS), peak_learning_rate=MAYBE(ODD_FLOATS),
    losses=st.lists(st.builds(LossInfo, name=st.sampled_from(LOSS_NAMES), from_logits=st.booleans()),
                    max_size=2).map(tuple),
    outputs=st.lists(st.builds(OutputInfo, layer=st.just("out"), units=MAYBE(COUNTS),
                               activation=MAYBE(st.sampled_from(["softmax", "sigmoid", "linear", "relu"]))),
                     max_size=2).map(tuple),
    input_sizes=st.dictionaries(st.sampled_from(["x", "pixels"]), COUNTS, max_size=2),
    batch_size=MAYBE(COUNTS), trainable_params=MAYBE(COUNTS), total_params=MAYBE(COUNTS),
    optimizer_slots=COUNTS, activations_per_sample=MAYBE(COUNTS), bytes_per_value=st.sampled_from([0, 2, 4, 8]),
    device_memory=MAYBE(COUNTS), batch_norm_momentum=MAYBE(ODD_FLOATS),
)
EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("batch"), LOGS, MAYBE(st.lists(TENSORS, max_size=3).map(tuple)), MAYBE(MODELS)),
        st.tuples(st.just("epoch"), LOGS),
    ),
    max_size=30,
)


def _replay(run: RunInfo, events: list[tuple]) -> list[Diagnostic]:
    failures: list[str] = []
    engine = Engine(build_checks(), on_error=lambda where, error: failures.append(f"{where}: {error!r}"))
    found = engine.begin(run, 0)
    step, epoch = 0, 0
    for event in events:
        if event[0] == "batch":
            found += engine.batch(BatchObservation(step, epoch, event[1], event[2], event[3]))
            step += 1
        else:
            found += engine.epoch(EpochObservation(max(step - 1, 0), epoch, event[1]))
            epoch += 1
    assert failures == []
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run=RUNS, events=EVENTS)
def test_no_check_fails_on_odd_numbers(run, events):
    found = _replay(run, events)
    assert [d for d in found if d.check == "scram_internal_error"] == []
    # Whatever was found can be stored and read back.
    decoded = payload.decode(payload.encode_diagnostics(found)).diagnostics
    assert [d.check for d in decoded] == [d.check for d in found]


def test_an_absurd_output_width_costs_no_memory():
    # Found by the test above: a width of 3e9 units once made `accuracy_at_chance` build a
    # list of that many equal label shares (a MemoryError, or the process killed).
    run = RunInfo(losses=(LossInfo("sparse_categorical_crossentropy"),),
                  outputs=(OutputInfo("out", 3_181_151_616, None),))
    logs = {"loss": 21.8, "accuracy": 0.0, "val_loss": 21.8, "val_accuracy": 0.0}
    found = _replay(run, [("epoch", dict(logs, loss=22.0 - 0.1 * e)) for e in range(6)])
    assert [d for d in found if d.check == "scram_internal_error"] == []


# -- corrupt event files into the CLI and the plugin --------------------------------------------

HOSTILE = "<script>alert(1)</script>"
ODD_RUNS = ["with space", "ünïcødé 日本", HOSTILE, "quote's \"double\""]
HUGE_TITLE = "x" * 3_000_000


def _diagnostic(title: str = HOSTILE, step: int = 3) -> Diagnostic:
    return Diagnostic("nan_loss", Severity.ERROR, title, "e", "s", None, {"loss": float("nan")}, step, 0)


def _write_run(run_dir, *records: tuple[str, str], good: bool = True, version: int | None = None) -> None:
    """A run written by SCRAM's writer: one good record of each kind, then raw `(tag, payload)` records.

    With `version`, the writer is a SCRAM of that format version (older or newer than this one).
    """
    with pytest.MonkeyPatch.context() as patch:
        if version is not None:
            patch.setattr(metadata, "PLUGIN_DATA_VERSION", version)
        writer = ScramSummaryWriter(str(run_dir))
        if good:
            writer.write_diagnostics(3, [_diagnostic()])
            writer.write_batch(3, 0, {"loss": 2.0})
            writer.write_epoch(9, 0, {"loss": 1.0}, {"fraction": 0.01})
        for step, (tag, text) in enumerate(records, start=10):
            writer._write(tag, step, text)
        writer.close()


def _event_file(run_dir) -> str:
    [name] = [n for n in os.listdir(run_dir) if "tfevents" in n]
    return os.path.join(run_dir, name)


def _cut_offsets(size: int) -> list[int]:
    return sorted({0, 5, 12, 16, 40, size // 3, size // 2, size - 5, size - 1})


@pytest.fixture(scope="module")
def hostile_logdir(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("hostile")
    _write_run(root / "good" / "scram")
    good = open(_event_file(root / "good" / "scram"), "rb").read()
    noise = os.urandom(300)
    for offset in _cut_offsets(len(good)):
        _put(root / f"truncated_{offset}" / "scram", good[:offset])
    _put(root / "appended" / "scram", good + noise)
    _put(root / "inserted" / "scram", good[:len(good) // 2] + noise + good[len(good) // 2:])
    _put(root / "garbage" / "scram", noise * 10)
    diag = metadata.DIAGNOSTICS_TAG
    _write_run(root / "newer" / "scram", version=metadata.PLUGIN_DATA_VERSION + 1)  # 3 records, valid today
    _write_run(root / "older" / "scram", version=0)
    _write_run(root / "wrong_types" / "scram", (diag, "{not json"), (diag, "[1, 2]"), (diag, '"text"'),
               (diag, '{"schema": 1, "kind": "diagnostics", "diagnostics": {"a": 1}}'),
               (diag, '{"schema": 1, "kind": "diagnostics", "diagnostics": [{"step": "x", "check": null}]}'),
               (metadata.EPOCH_TAG, '{"schema": 1, "kind": "epoch", "step": 1.5, "epoch": [], "logs": 3}'),
               (metadata.BATCH_TAG, '{"schema": "1", "kind": "batch"}'))
    huge = ScramSummaryWriter(str(root / "huge" / "scram"))
    huge.write_diagnostics(1, [_diagnostic(HUGE_TITLE, 1), _diagnostic("small", 2)])
    huge.close()
    for name in ODD_RUNS:
        _write_run(root / name / "scram")
    return str(root)


def _put(run_dir, data: bytes) -> None:
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "events.out.tfevents.1.host.1.0"), "wb") as handle:
        handle.write(data)


def test_truncated_event_files_keep_what_came_before_the_cut(hostile_logdir):
    from tensorboard_plugin_scram.events.file_reader import read_logdir

    runs = {r.run: r for r in read_logdir(hostile_logdir)}
    good = runs["good/scram"]
    kept = [len(runs[f"truncated_{o}/scram"].diagnostics) if f"truncated_{o}/scram" in runs else 0
            for o in _cut_offsets(os.path.getsize(_event_file(os.path.join(hostile_logdir, "good", "scram"))))]
    assert kept == sorted(kept) and kept[-1] == len(good.diagnostics), "a longer prefix never yields less"
    assert len(runs["appended/scram"].diagnostics) == len(good.diagnostics)
    assert runs["wrong_types/scram"].skipped == 7
    assert (runs["newer/scram"].skipped, runs["newer/scram"].diagnostics) == (3, ()), "a newer format is skipped"
    assert (runs["older/scram"].skipped, len(runs["older/scram"].diagnostics)) == (0, 1), "an older one is read"
    assert "garbage/scram" not in runs


@pytest.mark.parametrize("flags", [[], ["--json"], ["--color", "always"]], ids=["human", "json", "color"])
def test_cli_reports_hostile_logdir_without_traceback(hostile_logdir, flags):
    result = run_scram("report", *flags, hostile_logdir)
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr[-2000:]
    if flags == ["--json"]:
        rows = json.loads(result.stdout)
        runs = {row["run"] for row in rows}
        assert {f"{name}/scram" for name in ODD_RUNS} <= runs and "huge/scram" in runs
        assert HUGE_TITLE in {row["title"] for row in rows}, "an enormous string is shown, not fatal"
    else:
        assert "could not be read" in result.stdout and f"{HOSTILE}/scram" in result.stdout


@pytest.mark.parametrize("loader", LOADERS)
def test_plugin_routes_answer_hostile_logdir_with_json(hostile_logdir, loader):
    from urllib.parse import quote

    with data_provider(hostile_logdir, loader) as provider:
        client = plugin_client(provider)
        wanted = {"good/scram", "newer/scram", "older/scram", "wrong_types/scram", "huge/scram"}
        runs = _wait_for_runs(client, wanted | {f"{n}/scram" for n in ODD_RUNS})
        assert runs["wrong_types/scram"]["skipped"] == 7
        assert runs["newer/scram"]["skipped"] == 3 and runs["newer/scram"]["counts"]["error"] == 0
        assert runs["older/scram"]["skipped"] == 0 and runs["older/scram"]["counts"]["error"] == 1
        for run in runs:
            for route in ("diagnostics", "series"):
                status, body = get_json(client, f"{route}?run={quote(run)}")
                assert status == 200 and body["run"] == run, (route, run, body)
        odd = "&".join(f"run={quote(n + '/scram')}" for n in ODD_RUNS)
        assert get_json(client, f"compare?{odd}")[0] == 200
        status, body = get_json(client, f"diagnostics?run={quote('huge/scram')}")
        assert status == 200 and {d["title"] for d in body["diagnostics"]} in ({HUGE_TITLE, "small"}, {"small"})


def _wait_for_runs(client, wanted: set[str]) -> dict[str, dict]:
    deadline = time.monotonic() + 60
    while True:
        status, body = get_json(client, "runs")
        assert status == 200, body
        runs = {r["run"]: r for r in body["runs"]}
        if wanted <= set(runs) or time.monotonic() > deadline:
            assert wanted <= set(runs), sorted(runs)
            return runs
        time.sleep(0.5)


# -- security: content types, no filesystem access from requests, TensorBoard on 127.0.0.1 ----------

TRAVERSALS = ["../../etc/passwd", "/etc/passwd", "good/../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "good/scram\x00"]


@pytest.mark.parametrize("loader", LOADERS)
def test_responses_set_restrictive_content_types(hostile_logdir, loader):
    with data_provider(hostile_logdir, loader) as provider:
        client = plugin_client(provider)
        _wait_for_runs(client, {"good/scram"})
        for path in ("runs", "checks", "diagnostics?run=good/scram", "series?run=good/scram", "diagnostics",
                     "diagnostics?run=nope", "docs/checks/nope.md"):
            response = client.get("/data/plugin/scram/" + path)
            assert response.headers["Content-Type"].startswith("application/json"), path
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
        bundle = client.get("/data/plugin/scram/index.js")
        assert bundle.status_code == 200 and bundle.headers["Content-Type"].startswith("text/javascript")
        assert bundle.headers["X-Content-Type-Options"] == "nosniff"


def test_no_request_parameter_reaches_the_filesystem(hostile_logdir, monkeypatch):
    import builtins
    from urllib.parse import quote

    with data_provider(hostile_logdir, "python") as provider:
        client = plugin_client(provider)
        opened: list[str] = []
        real_open = builtins.open

        def recording_open(file, *args, **kwargs):
            opened.append(str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", recording_open)
        for bad in TRAVERSALS:
            for route in ("diagnostics", "series"):
                status, body = get_json(client, f"{route}?run={quote(bad)}")
                assert status == 404 and "error" in body, (route, bad)
            assert get_json(client, f"compare?run={quote(bad)}&run=good/scram")[0] == 404
        for doc in ("docs/checks/../../setup.py", "docs/checks/..%2F..%2Fsetup.py", "docs/checks/%2e%2e/setup.py"):
            response = client.get("/data/plugin/scram/" + doc)
            assert response.status_code == 404 and "error" in response.get_json(), doc
        assert opened == [], "the plugin read files for a request"


def test_demo_binds_tensorboard_to_localhost(monkeypatch):
    import demo.__main__ as demo_main

    commands: list[list[str]] = []
    monkeypatch.setattr(demo_main.subprocess, "call", lambda command: commands.append(command) or 0)
    assert demo_main.serve("some logs", 6123) == 0
    [command] = commands
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "6123" and command[command.index("--logdir") + 1] == "some logs"
    assert "--bind_all" not in command
