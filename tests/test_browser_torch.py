"""A PyTorch run in the SCRAM tab: a real `ScramMonitor` loop, a real `tensorboard`, Debian's headless Chromium.

Two tiny loops on scikit-learn's digits, written by the PyTorch demo's own loop (`demo.torch_scenarios.fit`:
`scram.step(loss)` per step, `scram.end_epoch(val_loss=...)` per epoch): Adam at lr=10, whose loss blows
up, and its twin at lr=1e-3. The tab must list both, show the faulty run's error, a card whose snippet is
PyTorch code, and the loss curve SCRAM recorded. A screenshot goes to test-artifacts/torch-card.png.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import pytest
import torch
from playwright.sync_api import expect
from sklearn.datasets import load_digits
from torch import nn

from demo.torch_scenarios import BATCH_SIZE, fit, split
from tests.browser_helpers import no_problems, open_panel, shot
from tests.tensorboard_helpers import TensorBoardProcess

pytestmark = [pytest.mark.browser, pytest.mark.tensorboard, pytest.mark.training]

FAULTY, HEALTHY = "torch/lr_10/scram", "torch/lr_0.001/scram"
SAMPLES, TRAIN_SAMPLES, EPOCHS = 320, 240, 3  # a quarter held out for validation


def train(logdir: str, learning_rate: float) -> list:
    """The demo's PyTorch loop: an MLP on SAMPLES digits, Adam, EPOCHS epochs."""
    digits = load_digits()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    tensors = split((digits.data[:SAMPLES] / 16.0).astype("float32"), digits.target[:SAMPLES],
                    validation=1 - TRAIN_SAMPLES / SAMPLES)
    run_dir = os.path.join(logdir, "torch", f"lr_{learning_rate:g}")
    return fit(run_dir, model, torch.optim.Adam(model.parameters(), lr=learning_rate), nn.CrossEntropyLoss(),
               tensors, epochs=EPOCHS)


@pytest.fixture(scope="module")
def tensorboard(tmp_path_factory) -> Iterator[TensorBoardProcess]:
    logdir = str(tmp_path_factory.mktemp("torch_browser"))
    faulty = [d for d in train(logdir, 10.0) if d.severity.value == "error"]
    assert faulty, "lr=10 gave no error to show"
    assert [d for d in train(logdir, 1e-3) if d.severity.value != "info"] == []
    process = TensorBoardProcess(logdir)
    try:
        process.wait_for(lambda tb: len(tb.get_json("/data/plugin/scram/runs")[1]["runs"]) == 2)
        yield process
    finally:
        process.stop()


def test_pytorch_run_in_the_scram_tab(page, tensorboard):
    _, body = tensorboard.get_json(f"/data/plugin/scram/diagnostics?run={FAULTY}")
    diagnostics = body["diagnostics"]
    errors = [d for d in diagnostics if d["severity"] == "error"]
    assert errors and any(d["check"] == "learning_rate_unusual" for d in diagnostics)

    panel = open_panel(page, tensorboard.url)
    expect(panel.locator("[data-testid=run-item]")).to_have_count(2, timeout=30_000)
    expect(panel.locator(f'[data-testid=run-item][data-run="{HEALTHY}"] [data-testid=run-counts]')).to_have_text(
        "No issues")
    run = panel.locator(f'[data-testid=run-item][data-run="{FAULTY}"]')
    expect(run.locator("[data-testid=run-counts]")).to_contain_text(f"{len(errors)} error")
    run.click()

    expect(panel.locator("[data-testid=diagnostic]")).to_have_count(len(diagnostics))
    expect(panel.locator("[data-testid=diagnostic][data-severity=error]")).to_have_count(len(errors))
    panel.locator('[data-testid=diagnostic][data-check="learning_rate_unusual"]').click()
    card = panel.locator("[data-testid=diagnostic-card]").first
    expect(card).to_contain_text("Adam")
    snippet = card.locator("[data-testid=snippet]")
    expect(snippet).to_contain_text("torch.optim.Adam(model.parameters(), lr=0.001)")
    expect(snippet).not_to_contain_text("keras")

    _, body = tensorboard.get_json(f"/data/plugin/scram/series?run={FAULTY}")
    curves = {s["name"]: s["points"] for s in body["series"]}
    assert len(curves["val_loss"]) == EPOCHS
    steps = [step for step, _ in curves["loss"]]  # each of the first 20 steps, then sampled ones
    assert steps[:20] == list(range(20)) and steps[-1] < EPOCHS * math.ceil(TRAIN_SAMPLES / BATCH_SIZE)
    chart = panel.locator("[data-testid=chart]")
    expect(chart.locator("canvas").first).to_be_visible()
    expect(chart.locator(".chart-note")).to_be_hidden()  # shown only when no loss curve was recorded
    legend = chart.locator(".u-legend")
    expect(legend).to_contain_text("val_loss")
    expect(legend.locator(".u-label", has_text="loss")).to_have_count(2)  # loss and val_loss
    expect(panel.locator("[data-testid=chart-marker]").first).to_be_visible()
    shot(page, "torch-card.png")
    no_problems(page)
