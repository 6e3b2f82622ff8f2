"""`ScramLightningCallback` in a real Lightning `Trainer` (CPU): faults found, the healthy twin quiet,
SCRAM's events beside Lightning's own logs, served by `scram report` and the plugin's routes."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lightning = pytest.importorskip("lightning")
from lightning.pytorch.loggers import TensorBoardLogger  # noqa: E402

from tensorboard_plugin_scram import ScramLightningCallback  # noqa: E402
from tests.builders import report_json  # noqa: E402
from tests.tensorboard_helpers import data_provider, get_json, plugin_client  # noqa: E402

pytestmark = pytest.mark.training


class Classifier(lightning.LightningModule):
    """A small MLP over the digits, its loss module kept as `self.loss_fn` as Lightning users do."""

    def __init__(self, softmax: bool = False, lr: float = 1e-3) -> None:
        super().__init__()
        head = [nn.Softmax(dim=1)] if softmax else []
        self.net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 10), *head)
        self.loss_fn = nn.CrossEntropyLoss()
        self.lr = lr

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def loaders() -> tuple[DataLoader, DataLoader]:
    data = load_digits()
    x = torch.tensor(data.data[:320] / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target[:320])
    generator = torch.Generator().manual_seed(0)
    train = DataLoader(TensorDataset(x[:256], y[:256]), batch_size=32, shuffle=True, generator=generator)
    return train, DataLoader(TensorDataset(x[256:], y[256:]), batch_size=32)


def fit(root, module: Classifier, callbacks: list, epochs: int = 2) -> lightning.Trainer:
    trainer = lightning.Trainer(max_epochs=epochs, callbacks=callbacks, logger=TensorBoardLogger(str(root)),
                                enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                                accelerator="cpu", deterministic=True)
    trainer.fit(module, *loaders())
    return trainer


def test_softmax_before_cross_entropy_found_and_healthy_twin_quiet(tmp_path):
    lightning.seed_everything(0)
    faulty, healthy = ScramLightningCallback(verbose=False), ScramLightningCallback(verbose=False)
    fit(tmp_path / "faulty", Classifier(softmax=True), [faulty])
    fit(tmp_path / "healthy", Classifier(), [healthy])
    assert [(d.check, d.step) for d in faulty.diagnostics if d.severity.value != "info"] == [
        ("output_activation_loss_mismatch", 0)]
    d = faulty.diagnostics[0]
    assert "nn.CrossEntropyLoss" in d.explanation and "torch.softmax" in d.snippet
    assert d.location is not None and d.location.startswith("tests/test_pytorch_lightning.py:")
    assert [d.check for d in healthy.diagnostics if d.severity.value != "info"] == []


def test_events_beside_lightning_logs_read_by_report_and_plugin(tmp_path):
    lightning.seed_everything(0)
    fit(tmp_path, Classifier(lr=10.0), [ScramLightningCallback(verbose=False)])
    assert (tmp_path / "lightning_logs" / "version_0" / "scram").is_dir()
    written = report_json(tmp_path / "lightning_logs")
    assert {d["run"] for d in written} == {"version_0/scram"}
    lr = [d for d in written if d["check"] == "learning_rate_unusual"]
    assert len(lr) == 1 and lr[0]["snippet"].startswith("optimizer = torch.optim.Adam(model.parameters()")
    with data_provider(str(tmp_path / "lightning_logs"), "python") as provider:
        client = plugin_client(provider)
        status, body = get_json(client, "runs")
        assert status == 200 and [r["run"] for r in body["runs"]] == ["version_0/scram"]
        status, body = get_json(client, "diagnostics?run=version_0/scram")
        assert status == 200 and {d["check"] for d in body["diagnostics"]} == {d["check"] for d in written}


def test_weights_identical_with_and_without_the_callback(tmp_path):
    trained = []
    for with_scram in (False, True):
        lightning.seed_everything(0)
        module = Classifier()
        fit(tmp_path / str(with_scram), module, [ScramLightningCallback(verbose=False, internals_every=2)]
            if with_scram else [])
        trained.append(module.state_dict())
    assert list(trained[0]) == list(trained[1])
    for name in trained[0]:
        assert torch.equal(trained[0][name], trained[1][name]), name
