"""Remote log directories: SCRAM writes and reads them through TensorBoard's file layer.

The rule of `events.storage` (which layer for which scheme), the remote writer's uploads
and their faults on stand-in file layers, and end to end against a real S3-compatible
server: moto in server mode on 127.0.0.1, reached as TensorBoard reaches S3 (`S3_ENDPOINT`
and `AWS_*` from the environment, set here and nowhere in SCRAM). A real training writes to
`s3://`, `scram report` and `read()` list its diagnostics, a real `tensorboard --logdir s3://`
without TensorFlow serves them in the SCRAM tab, and a store that goes down mid-run costs
the training one warning and no record.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import types
import uuid
import warnings

import pytest

from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.events import metadata, storage
from tensorboard_plugin_scram.events import writer as event_writer
from tensorboard_plugin_scram.events.file_reader import read_logdir
from tests.builders import run_scram
from tests.tensorboard_helpers import TensorBoardProcess, free_port, tensorboard_records

BUCKET = "scram-logs"
TENSORFLOW_SCHEMES = ["ram", "file", "", "gs"]  # what TensorFlow 2.21 registers without tensorflow-io


def _fake_tensorflow(schemes: list[str]) -> types.SimpleNamespace:
    gfile = types.ModuleType("tf_gfile")
    gfile.get_registered_schemes = lambda: list(schemes)
    return types.SimpleNamespace(io=types.SimpleNamespace(gfile=gfile))


def _diagnostic(step: int, check: str = "nan_loss") -> Diagnostic:
    return Diagnostic(check, Severity.ERROR, "Loss is NaN", "e", "s", None, {}, step, 0)


# -- which file layer: fast, with stand-in modules -----------------------------------------------


def test_each_scheme_goes_where_it_can_be_read():
    tensorflow = _fake_tensorflow(TENSORFLOW_SCHEMES)
    modules = {"tensorflow": tensorflow}
    for path in ("logs", "/tmp/logs", "file:///tmp/logs", "gs://bucket/logs", "ram://logs"):
        assert storage.gfile(modules, path=path) is tensorflow.io.gfile, path
    for path in ("s3://bucket/logs", "memory://logs", "hdfs://name/logs"):
        assert storage.gfile(modules, path=path).__name__ == "tensorboard.compat.tensorflow_stub.io.gfile", path


def test_s3_goes_through_tensorflow_once_tensorflow_io_registers_it():
    tensorflow = _fake_tensorflow([*TENSORFLOW_SCHEMES, "s3"])
    assert storage.gfile({"tensorflow": tensorflow}, path="s3://bucket/logs") is tensorflow.io.gfile


def test_without_tensorflow_every_scheme_is_tensorboards():
    for path in ("logs", "gs://bucket/logs", "s3://bucket/logs"):
        assert storage.gfile({}, path=path).__name__ == "tensorboard.compat.tensorflow_stub.io.gfile"


def test_scheme_and_join():
    assert [storage.scheme(p) for p in ("logs", "s3://b/l", "file:///x")] == ["", "s3", "file"]
    assert storage.join("s3://b/logs/", "run") == "s3://b/logs/run"
    assert storage.join("logs", "run") == os.path.join("logs", "run")


# -- the remote writer on fsspec's in-memory store (fast, no server) ------------------------------


def test_memory_store_round_trip():
    """`memory://` (fsspec) is remote to SCRAM: written by uploads, read back like a directory."""
    logdir = f"memory://scram-{uuid.uuid4().hex}"
    writer = event_writer.ScramSummaryWriter(f"{logdir}/run/scram", on_error=_raise)
    for step in (3, 7):
        writer.write_diagnostics(step, [_diagnostic(step)])
    writer.write_epoch(9, 0, {"loss": 1.0}, {})
    writer.close()
    [records] = read_logdir(logdir)
    assert records.run == "run/scram"
    assert [d.step for d in records.diagnostics] == [3, 7]
    assert [e.epoch for e in records.epochs] == [0]
    assert writer.records_written == {metadata.DIAGNOSTICS_TAG: 2, metadata.EPOCH_TAG: 1}


class _FlakyStore:
    """A file layer whose uploads fail while `down`; keeps what each path last received."""

    def __init__(self) -> None:
        self.down = False
        self.files: dict[str, bytes] = {}
        self.attempts = 0

    def makedirs(self, path: str) -> None:
        self._check()

    def GFile(self, path: str, mode: str):  # noqa: N802 (gfile's name)
        store = self

        class Handle:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def write(self, data: bytes) -> None:
                store._check()
                store.files[path] = bytes(data)

        return Handle()

    def _check(self) -> None:
        self.attempts += 1
        if self.down:
            raise ConnectionError("store down")


@pytest.fixture
def flaky(monkeypatch) -> _FlakyStore:
    store = _FlakyStore()
    monkeypatch.setattr(storage, "gfile", lambda modules=None, path="": store)
    monkeypatch.setattr(event_writer, "CLOSE_WAIT_SECS", 5.0)
    return store


def _records_in(store: _FlakyStore, tmp_path) -> list[tuple[str, int]]:
    """(tag, step) of every record in the store's files, oldest file first, read by TensorBoard's reader."""
    found = []
    for path in sorted(store.files, key=lambda p: int(p.rsplit(".", 1)[1])):
        local = tmp_path / path.rsplit("/", 1)[1]
        local.write_bytes(store.files[path])
        found += [(value.tag, event.step) for event in tensorboard_records(str(local)) for value in event.summary.value]
    return found


def test_store_down_then_back_loses_no_record_and_reports_once(flaky, tmp_path):
    reported: list[BaseException] = []
    writer = event_writer.ScramSummaryWriter("s3://bucket/logs/run/scram", on_error=lambda w, e: reported.append(e),
                                             retry_secs=0.05)
    writer.write_diagnostics(1, [_diagnostic(1)])
    assert writer._uploader.wait_idle(5)
    flaky.down = True
    for step in range(2, 6):
        writer.write_diagnostics(step, [_diagnostic(step)])
        time.sleep(0.1)  # the uploader tries, fails, waits to retry
    writer.write_diagnostics(6, [_diagnostic(6)])
    assert len(reported) == 1 and isinstance(reported[0], ConnectionError), reported
    flaky.down = False
    writer.close()
    assert len(reported) == 1, "the outage is reported once"
    steps = [step for tag, step in _records_in(flaky, tmp_path) if tag == metadata.DIAGNOSTICS_TAG]
    assert steps == [1, 2, 3, 4, 5, 6], "the records written while the store was down arrive once it is back"


def test_store_down_keeps_at_most_two_files_in_memory(flaky, monkeypatch, tmp_path):
    monkeypatch.setattr(event_writer, "REMOTE_FILE_BYTES", 600)
    writer = event_writer.ScramSummaryWriter("s3://bucket/logs/run/scram", on_error=lambda w, e: None,
                                             retry_secs=0.05)
    flaky.down = True
    for step in range(40):
        writer.write_diagnostics(step, [_diagnostic(step)])
    written = writer.records_written[metadata.DIAGNOSTICS_TAG]
    assert 2 <= written < 40, "past two full files, the records are dropped while the store is down"
    assert len(writer._uploader._waiting) <= 2
    flaky.down = False
    writer.close()
    steps = [step for tag, step in _records_in(flaky, tmp_path) if tag == metadata.DIAGNOSTICS_TAG]
    assert len(flaky.files) == 2
    assert steps == sorted(steps) and len(steps) == written, "every record kept is uploaded, in order"


def test_a_slow_store_never_holds_up_the_writer(flaky, monkeypatch, tmp_path):
    release = threading.Event()
    upload = flaky.GFile

    def slow(path, mode):
        release.wait(10)
        return upload(path, mode)

    monkeypatch.setattr(flaky, "GFile", slow)
    writer = event_writer.ScramSummaryWriter("s3://bucket/logs/run/scram", on_error=_raise)
    started = time.monotonic()
    for step in range(20):
        writer.write_diagnostics(step, [_diagnostic(step)])
    took = time.monotonic() - started
    release.set()
    writer.close()
    assert took < 2.0, f"20 flushed writes took {took:.1f} s while the store hung"
    assert len([1 for tag, _ in _records_in(flaky, tmp_path) if tag == metadata.DIAGNOSTICS_TAG]) == 20


def _raise(where: str, error: BaseException) -> None:
    raise error


# -- against a real S3-compatible server ----------------------------------------------------------


@dataclasses.dataclass
class S3Server:
    """moto in server mode on 127.0.0.1; `env` is what a process needs to reach it."""

    port: int
    env: dict[str, str]
    server: object = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def url(self, prefix: str) -> str:
        return f"s3://{BUCKET}/{prefix}"


def _s3_environment(endpoint: str) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "scram-test", "AWS_SECRET_ACCESS_KEY": "scram-test",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "2", "S3_ENDPOINT": endpoint}


def _use_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Sets `env` for this process and its children, and has TensorBoard's S3 layer read it anew.

    TensorBoard's layer reads `S3_ENDPOINT` once, when first imported; an earlier test
    may have imported it before this endpoint existed.
    """
    from tensorboard.compat.tensorflow_stub.io import gfile

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setitem(gfile._REGISTERED_FILESYSTEMS, "s3", gfile.S3FileSystem())


@pytest.fixture(scope="module")
def s3():
    import boto3

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    port = free_port()
    server = S3Server(port, _s3_environment(f"http://127.0.0.1:{port}"))
    server.start()
    with pytest.MonkeyPatch.context() as monkeypatch:
        _use_environment(monkeypatch, server.env)
        boto3.client("s3", endpoint_url=server.env["S3_ENDPOINT"]).create_bucket(Bucket=BUCKET)
        yield server
    server.stop()


def _fit(log_dir: str, epochs: int = 3, callbacks: tuple = (), **scram) -> tuple[object, object, list[str]]:
    """A tiny MLP on 256 digits at a learning rate of 1e10: NaN within the first epoch."""
    import keras

    from tensorboard_plugin_scram import ScramCallback
    from tests import scenarios

    keras.utils.set_random_seed(0)
    x, y = scenarios.digits()
    model = scenarios.mlp(64, (16,), 10)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e10), loss="sparse_categorical_crossentropy")
    callback = ScramCallback(log_dir, internals_every=0, **scram)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x[:256], y[:256], epochs=epochs, batch_size=32, verbose=0,
                            callbacks=[*callbacks, callback])
    told = [str(w.message) for w in caught if str(w.message).startswith("SCRAM:")]
    return history, callback, told


@pytest.fixture(scope="module")
def s3_run(s3):
    """One faulty training written straight to `s3://scram-logs/trained/lr_1e10`."""
    logdir = s3.url("trained")
    history, callback, told = _fit(f"{logdir}/lr_1e10")
    return types.SimpleNamespace(logdir=logdir, history=history, callback=callback, told=told)


def _keyed(rows) -> list[tuple]:
    return sorted((row["run"], row["check"], row["step"], row["severity"]) for row in rows)


@pytest.mark.training
def test_training_writes_its_diagnostics_to_s3(s3, s3_run):
    import boto3

    from tensorboard_plugin_scram import read

    assert s3_run.told == [] and len(s3_run.history.epoch) == 3
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3.env["S3_ENDPOINT"]).list_objects_v2(
        Bucket=BUCKET, Prefix="trained/")["Contents"]]
    assert any(k.startswith("trained/lr_1e10/scram/events.out.tfevents.") for k in keys), keys
    found = read(s3_run.logdir)  # in this process TensorFlow is imported: s3:// still goes through boto3
    emitted = s3_run.callback.diagnostics
    assert len(found) == len(emitted) > 0
    assert sorted((d.check, d.step) for d in found) == sorted((d.check, d.step) for d in emitted)
    assert {"nan_loss", "loss_diverging"} & {d.check for d in found if d.severity == "error"}


@pytest.mark.training
def test_scram_report_reads_s3(s3_run):
    from tensorboard_plugin_scram import read

    result = run_scram("report", "--json", "--fail-on", "never", s3_run.logdir)  # env: S3_ENDPOINT, AWS_*
    assert result.returncode == 0, result.stderr
    import json

    rows = json.loads(result.stdout)
    assert _keyed(rows) == _keyed(d.to_json() for d in read(s3_run.logdir))
    text = run_scram("report", s3_run.logdir + "/")
    assert text.returncode == 1, "an error-severity diagnostic fails the report"
    assert rows[0]["title"] in text.stdout and "lr_1e10/scram" in text.stdout


@pytest.mark.training
def test_scram_report_on_a_missing_bucket_says_so(s3):
    result = run_scram("report", "s3://no-such-bucket-scram/logs")
    assert result.returncode == 2 and "cannot be read (NoSuchBucket" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def s3_tensorboard(s3, s3_run):
    """A real `tensorboard --logdir s3://...` where TensorFlow cannot be imported (it reads S3 through boto3)."""
    process = TensorBoardProcess(s3_run.logdir, "--reload_interval", "1", env=dict(os.environ),
                                 without_tensorflow=True)
    process.wait_for(lambda tb: [r["run"] for r in tb.get_json("/data/plugin/scram/runs")[1]["runs"]]
                     == ["lr_1e10/scram"])
    yield process
    process.stop()


@pytest.mark.training
@pytest.mark.tensorboard
def test_tensorboard_serves_the_s3_run(s3_run, s3_tensorboard):
    from tensorboard_plugin_scram import read

    status, body = s3_tensorboard.get_json("/data/plugin/scram/diagnostics?run=lr_1e10/scram")
    assert status == 200
    assert _keyed(body["diagnostics"]) == _keyed(d.to_json() for d in read(s3_run.logdir))
    _, runs = s3_tensorboard.get_json("/data/plugin/scram/runs")
    [run] = runs["runs"]
    assert run["counts"]["error"] == sum(d.severity == "error" for d in s3_run.callback.diagnostics) > 0


@pytest.mark.training
@pytest.mark.tensorboard
@pytest.mark.browser
def test_scram_tab_shows_the_s3_run(s3_run, s3_tensorboard, page):
    from playwright.sync_api import expect

    from tests.browser_helpers import no_problems, open_panel, shot

    panel = open_panel(page, s3_tensorboard.url)
    run = panel.locator('[data-testid=run-item][data-run="lr_1e10/scram"]')
    expect(run).to_be_visible(timeout=30_000)
    run.click()
    first = s3_run.callback.diagnostics[0]
    row = panel.locator(f'[data-testid=diagnostic][data-check="{first.check}"]').first
    expect(row).to_be_visible()
    expect(row).to_contain_text(first.title)
    shown = panel.locator("[data-testid=diagnostic]").count()
    assert shown == len(s3_run.callback.diagnostics)
    shot(page, "s3-run.png")
    no_problems(page)


# -- the writer's fault rules on a real store -----------------------------------------------------


class _Outage:
    """Stops the S3 server at the start of one epoch and starts it again at the start of another.

    Placed before SCRAM, so SCRAM's epoch record of the last epoch before the outage is
    uploaded while the server is down; the pause lets the uploader try and fail.
    """

    def __init__(self, server: S3Server, down_at: int, up_at: int) -> None:
        import keras

        self.server, self.down_at, self.up_at = server, down_at, up_at
        self.callback = keras.callbacks.LambdaCallback(on_epoch_begin=self.on_epoch_begin)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.down_at:
            self.server.stop()
        if epoch == self.down_at + 1:
            time.sleep(1.5)
        if epoch == self.up_at:
            self.server.start()


@pytest.mark.training
def test_server_down_mid_run_costs_one_warning_and_no_record(s3, monkeypatch):
    monkeypatch.setattr(event_writer, "RETRY_SECS", 0.2)
    logdir = s3.url("outage")
    outage = _Outage(s3, down_at=2, up_at=5)
    history, callback, told = _fit(f"{logdir}/run", epochs=7, callbacks=(outage.callback,))
    assert len(history.epoch) == 7, "the training went on"
    assert len(told) == 1 and "event writer failed" in told[0] and "connect" in told[0].lower(), told
    [records] = read_logdir(logdir)
    assert [e.epoch for e in records.epochs] == list(range(7)), "the epochs written while it was down arrived too"
    assert len(records.diagnostics) == len(callback.diagnostics)


@pytest.mark.training
def test_unreachable_endpoint_costs_one_warning(s3, monkeypatch):
    monkeypatch.setattr(event_writer, "RETRY_SECS", 0.2)
    monkeypatch.setattr(event_writer, "CLOSE_WAIT_SECS", 1.0)
    _use_environment(monkeypatch, {"S3_ENDPOINT": f"http://127.0.0.1:{free_port()}"})  # nothing listens there
    started = time.monotonic()
    history, callback, told = _fit(s3.url("unreachable/run"), epochs=3)
    took = time.monotonic() - started
    assert len(history.epoch) == 3 and callback.diagnostics, "the training ran and SCRAM judged it"
    assert len(told) == 1 and "event writer failed" in told[0], told
    assert took < 60, f"the fit took {took:.0f} s"
