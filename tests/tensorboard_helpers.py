"""Real TensorBoard for tests: in-process data providers for both loaders, and whole processes."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

from tensorboard.backend import application
from tensorboard.backend.event_processing import data_provider as multiplexer_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.data import server_ingester
from tensorboard.plugins import base_plugin
from tensorboard.util import grpc_util
from werkzeug import test as werkzeug_test

from tensorboard_plugin_scram.plugin import ScramPlugin


@contextlib.contextmanager
def data_provider(logdir: str, loader: str) -> Iterator[object]:
    """A data provider over `logdir`: "python" (multiplexer) or "rust" (data server)."""
    if loader == "python":
        multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={"scram": 0})
        multiplexer.AddRunsFromDirectory(logdir)
        multiplexer.Reload()
        yield multiplexer_provider.MultiplexerDataProvider(multiplexer, logdir)
        return
    ingester = server_ingester.SubprocessServerDataIngester(
        server_binary=server_ingester.get_server_binary(),
        logdir=logdir,
        reload_interval=1,
        channel_creds_type=grpc_util.ChannelCredsType.LOCAL,
        samples_per_plugin={"scram": 0},
    )
    ingester.start()
    yield ingester.data_provider


def plugin_client(provider: object) -> werkzeug_test.Client:
    """A werkzeug client for TensorBoard's WSGI app serving only the SCRAM plugin."""
    plugin = ScramPlugin(base_plugin.TBContext(data_provider=provider, logdir=None))
    app = application.TensorBoardWSGI([plugin], data_provider=provider)
    return werkzeug_test.Client(app)


def get_json(client: werkzeug_test.Client, path: str) -> tuple[int, dict]:
    response = client.get("/data/plugin/scram/" + path)
    return response.status_code, json.loads(response.get_data(as_text=True))


def tensorboard_records(path: str) -> list:
    """Every event of a local event file, read by TensorBoard's own record reader.

    It checks both CRCs of each record and raises `DataLossError` on a corrupt or
    truncated one, so a file that reads to its end is whole.
    """
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.tensorflow_stub import errors
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New

    reader = PyRecordReader_New(path)
    events = []
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return events
        events.append(event_pb2.Event.FromString(reader.record()))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# `tensorboard` where `import tensorflow` fails, as where it is not installed: TensorBoard then
# reads through its own file layer (`s3://` through boto3) instead of `tf.io.gfile`.
_TENSORBOARD_WITHOUT_TENSORFLOW = (
    "import sys; sys.modules['tensorflow'] = None; "
    "from tensorboard.main import run_main; sys.argv[0] = 'tensorboard'; run_main()"
)


class TensorBoardProcess:
    """`tensorboard --logdir LOGDIR` on 127.0.0.1, started directly and stopped by PID.

    `env` replaces the process's environment (an S3 endpoint, credentials); with
    `without_tensorflow`, TensorFlow cannot be imported in it.
    """

    def __init__(self, logdir: str, *flags: str, env: dict[str, str] | None = None,
                 without_tensorflow: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        executable = os.path.join(os.path.dirname(sys.executable), "tensorboard")
        command = [sys.executable, "-c", _TENSORBOARD_WITHOUT_TENSORFLOW] if without_tensorflow else [executable]
        self._process = subprocess.Popen(
            [*command, "--logdir", logdir, "--host", "127.0.0.1", "--port", str(self.port), *flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )

    def get(self, path: str, timeout: float = 10) -> tuple[int, bytes, dict]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read(), dict(error.headers)

    def get_json(self, path: str) -> tuple[int, dict]:
        status, body, _ = self.get(path)
        return status, json.loads(body)

    def wait_for(self, predicate, timeout: float = 90) -> None:
        """Polls until `predicate(self)` is true (TensorBoard loads asynchronously)."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("tensorboard exited: " + self._process.stderr.read().decode()[-2000:])
            try:
                if predicate(self):
                    return
            except (OSError, ValueError, KeyError) as error:
                last_error = error
            time.sleep(0.5)
        raise TimeoutError(f"TensorBoard never got ready: {last_error!r}")

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
