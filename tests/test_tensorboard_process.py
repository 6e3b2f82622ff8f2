"""A real `tensorboard` process with default flags keeps and serves every diagnostic, on both loaders."""

from __future__ import annotations

import pytest

from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.events.writer import ScramSummaryWriter
from tests.tensorboard_helpers import TensorBoardProcess

pytestmark = pytest.mark.tensorboard

COUNT = 2000


@pytest.fixture(scope="module")
def big_logdir(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("big")
    writer = ScramSummaryWriter(str(root / "big" / "scram"))
    for step in range(COUNT):
        d = Diagnostic("nan_loss", Severity.ERROR, f"diagnostic {step}", "e", "s", None, {"i": step}, step, 0)
        writer.write_diagnostics(step, [d], flush=False)
    writer.close()
    return str(root)


@pytest.mark.parametrize("flags", [(), ("--load_fast=false",)], ids=["default-rust", "python-loader"])
def test_every_one_of_2000_diagnostics_is_served(big_logdir, flags):
    tensorboard = TensorBoardProcess(big_logdir, *flags)
    try:
        def loaded(tb):
            status, body = tb.get_json("/data/plugin/scram/diagnostics?run=big/scram")
            return status == 200 and len(body["diagnostics"]) == COUNT

        tensorboard.wait_for(loaded)
        _, body = tensorboard.get_json("/data/plugin/scram/diagnostics?run=big/scram")
        assert [d["step"] for d in body["diagnostics"]] == list(range(COUNT))
        _, runs = tensorboard.get_json("/data/plugin/scram/runs")
        assert runs["runs"][0]["counts"]["error"] == COUNT
        status, listing = tensorboard.get_json("/data/plugins_listing")
        assert listing["scram"]["enabled"] is True
        status, _, headers = tensorboard.get("/data/plugin/scram/runs")
        assert headers["Content-Type"].startswith("application/json")
        assert headers.get("X-Content-Type-Options") == "nosniff"
    finally:
        tensorboard.stop()
