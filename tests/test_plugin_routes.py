"""The plugin's JSON routes over event files really written by the callback, on both loaders."""

from __future__ import annotations

import time

import pytest

from tensorboard_plugin_scram.events import metadata
from tensorboard_plugin_scram.events.writer import ScramSummaryWriter
from tests.tensorboard_helpers import data_provider, get_json, plugin_client

LOADERS = ["python", pytest.param("rust", marks=pytest.mark.tensorboard)]  # rust: the data server process


@pytest.fixture(scope="module", params=LOADERS)
def client(request, demo_logdir):
    with data_provider(demo_logdir, request.param) as provider:
        client = plugin_client(provider)
        deadline = time.monotonic() + 60
        while len(get_json(client, "runs")[1]["runs"]) < 6 and time.monotonic() < deadline:
            time.sleep(0.5)  # the Rust data server loads asynchronously
        yield client


@pytest.mark.training
def test_runs_lists_every_scram_run_with_counts_and_overhead(client):
    status, body = get_json(client, "runs")
    assert status == 200
    runs = {r["run"]: r for r in body["runs"]}
    assert "learning_rate/scram" in runs and "overfitting_fixed/scram" in runs
    assert not any(name.endswith("/train") for name in runs), "Keras' runs hold no SCRAM data"
    assert runs["learning_rate/scram"]["counts"] == {"error": 2, "warning": 1, "info": 0}
    assert runs["learning_rate/scram"]["checks"] == ["learning_rate_unusual", "loss_diverging", "nan_loss"]
    overhead = runs["normalization/scram"]["overhead"]
    assert 0 < overhead["fraction"] < 1 and overhead["train_seconds"] > overhead["scram_seconds"]


@pytest.mark.training
def test_runs_gives_each_runs_first_error_and_warning_step(client):
    _, body = get_json(client, "runs")
    assert len(body["runs"]) >= 6
    for run in body["runs"]:
        _, diagnostics = get_json(client, f"diagnostics?run={run['run']}")
        for severity in ("error", "warning"):
            steps = [d["step"] for d in diagnostics["diagnostics"] if d["severity"] == severity]
            assert run[f"first_{severity}_step"] == (min(steps) if steps else None), (run["run"], severity)
    assert any(run["first_error_step"] is not None for run in body["runs"])


@pytest.mark.training
def test_diagnostics_returns_every_field(client):
    status, body = get_json(client, "diagnostics?run=learning_rate/scram")
    assert status == 200 and body["skipped"] == 0
    steps = [d["step"] for d in body["diagnostics"]]
    assert steps == sorted(steps)
    [d] = [d for d in body["diagnostics"] if d["check"] == "nan_loss"]
    assert d["check"] == "nan_loss" and d["severity"] == "error" and d["run"] == "learning_rate/scram"
    for field in ("step", "epoch", "title", "explanation", "suggestion", "snippet", "evidence", "confidence", "doc"):
        assert field in d


@pytest.mark.training
def test_series_comes_from_keras_tensorboard_runs_mapped_to_global_steps(client):
    status, body = get_json(client, "series?run=normalization_fixed/scram")
    assert status == 200 and body["source"] == "keras"
    series = {s["name"]: s["points"] for s in body["series"]}
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(series)
    _, epochs_body = get_json(client, "diagnostics?run=normalization_fixed/scram")
    steps = [p[0] for p in series["loss"]]
    assert steps == sorted(steps) and steps[0] > 0, "epoch points sit at each epoch's last global step"


@pytest.mark.training
def test_compare_two_runs_says_what_was_fixed(client):
    status, body = get_json(client, "compare?run=learning_rate/scram&run=learning_rate_fixed/scram")
    assert status == 200
    fixed = ["learning_rate_unusual", "loss_diverging", "nan_loss"]
    assert body["diff"] == {"fixed": fixed, "still_present": [], "new": []}
    row = {r["check"]: r for r in body["checks"]}["nan_loss"]
    assert row["first"]["learning_rate/scram"]["severity"] == "error"
    assert row["first"]["learning_rate_fixed/scram"] is None


@pytest.mark.parametrize(
    "path, status",
    [
        ("diagnostics", 400),
        ("diagnostics?run=", 400),
        ("diagnostics?run=no/such/run", 404),
        ("series?run=../../etc/passwd", 404),
        ("compare?run=learning_rate/scram", 400),
        ("compare?run=learning_rate/scram&run=nope", 404),
    ],
)
@pytest.mark.training
def test_bad_requests_get_json_errors(client, path, status):
    code, body = get_json(client, path)
    assert code == status and isinstance(body["error"], str)


@pytest.mark.training
def test_checks_route_lists_the_catalogue(client):
    _, body = get_json(client, "checks")
    assert {"nan_loss", "input_not_normalized", "overfitting"} <= {c["check"] for c in body["checks"]}


@pytest.mark.training
def test_check_docs_are_served_from_the_catalogue(client):
    response = client.get("/data/plugin/scram/docs/checks/nan_loss.md")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    assert "## What it does" in response.get_data(as_text=True)
    for bad in ("docs/checks/../../setup.py", "docs/checks/nope.md", "docs/checks/nan_loss"):
        assert client.get("/data/plugin/scram/" + bad).status_code == 404


@pytest.mark.training
def test_plugins_listing_marks_scram_as_an_iframe_plugin(client):
    response = client.get("/data/plugins_listing")
    listing = response.get_json()["scram"]
    assert listing["enabled"] is True
    assert listing["loading_mechanism"] == {"type": "IFRAME", "module_path": "/data/plugin/scram/index.js"}
    assert listing["tab_name"] == "SCRAM"


@pytest.mark.parametrize("loader", LOADERS)
def test_corrupt_and_foreign_payloads_are_skipped_and_counted(tmp_path, loader):
    from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity

    writer = ScramSummaryWriter(str(tmp_path / "scram"))
    good = Diagnostic("nan_loss", Severity.ERROR, "<img src=x onerror=alert(1)>", "e", "s", None, {}, 5, 0)
    writer.write_diagnostics(5, [good])
    writer._write(metadata.DIAGNOSTICS_TAG, 6, "{not json")
    writer._write(metadata.DIAGNOSTICS_TAG, 7, '{"kind": "epoch", "step": 7, "epoch": 0, "logs": {}}')  # wrong tag
    writer._write(metadata.DIAGNOSTICS_TAG, 8, '{"kind": "diagnostics", "diagnostics": [{"step": "x"}]}')
    writer.close()
    with data_provider(str(tmp_path), loader) as provider:
        client = plugin_client(provider)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, body = get_json(client, "diagnostics?run=scram")
            if status == 200 and body["skipped"] == 3:
                break
            time.sleep(0.5)
        assert status == 200
        assert body["skipped"] == 3
        assert [d["title"] for d in body["diagnostics"]] == ["<img src=x onerror=alert(1)>"]


@pytest.mark.training
@pytest.mark.parametrize("loader", LOADERS)
def test_scram_curve_from_batched_records_of_a_real_fit(trained_logdir, loader):
    """Without Keras' TensorBoard logs the curve is SCRAM's sampled batches, written together per epoch."""
    with data_provider(trained_logdir, loader) as provider:
        client = plugin_client(provider)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, body = get_json(client, "series?run=healthy_digits/scram")
            if status == 200 and body["series"]:
                break
            time.sleep(0.5)
    assert body["source"] == "scram"
    steps = [step for step, _ in {s["name"]: s["points"] for s in body["series"]}["loss"]]
    # 12 epochs of 45 steps: every one of the first 20 steps, then every 10th, none lost
    # between the records (one per epoch, the last at the end of training).
    assert steps == list(range(20)) + list(range(29, 12 * 45, 10))
