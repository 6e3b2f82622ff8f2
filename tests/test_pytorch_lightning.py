"""`ScramLightningCallback` in a real Lightning `Trainer` (CPU): faults found, the healthy twin quiet,
SCRAM's events beside Lightning's own logs, served by `scram report` and the plugin's routes."""

from __future__ import annotations

import os

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

lightning = pytest.importorskip("lightning")
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import TensorBoardLogger  # noqa: E402

from tensorboard_plugin_scram import ScramLightningCallback  # noqa: E402
from tensorboard_plugin_scram.checks.loss_not_decreasing import LossNotDecreasing  # noqa: E402
from tensorboard_plugin_scram.diagnostic import Severity  # noqa: E402
from tensorboard_plugin_scram.observations import EarlyStoppingInfo  # noqa: E402
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


def fit(root, module: Classifier, callbacks: list, epochs: int = 2,
        data: tuple[DataLoader, DataLoader] | None = None) -> lightning.Trainer:
    checkpointing = any(isinstance(c, ModelCheckpoint) for c in callbacks)  # only the test's own
    trainer = lightning.Trainer(max_epochs=epochs, callbacks=callbacks, logger=TensorBoardLogger(str(root)),
                                enable_progress_bar=False, enable_model_summary=False,
                                enable_checkpointing=checkpointing, accelerator="cpu", deterministic=True)
    trainer.fit(module, *(data or loaders()))
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


class Spy(LossNotDecreasing):
    """Records what the checks are given: the run's facts and each epoch's logs."""

    id = "spy"

    def __init__(self) -> None:
        super().__init__()
        self.runs, self.logs = [], []

    def on_train_begin(self, run):
        self.runs.append(run)

    def on_epoch(self, obs, history):
        self.logs.append(sorted(obs.logs))
        return []


class NamedMetrics(Classifier):
    """Logs its metrics under the names Lightning users pick: `train_acc` per step and epoch, `val/...`."""

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = self.loss_fn(logits, y)
        self.log("train_loss", loss)
        self.log("train_acc", (logits.argmax(1) == y).float().mean(), on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val/loss", self.loss_fn(logits, y))
        self.log("val/acc", (logits.argmax(1) == y).float().mean())


def test_metrics_reach_the_checks_under_keras_names(tmp_path):
    # Paired by Keras' names (acc with val_acc), or the overfitting rules would never see them.
    lightning.seed_everything(0)
    spy = Spy()
    fit(tmp_path, NamedMetrics(), [ScramLightningCallback(verbose=False, extra_checks=[spy])])
    assert spy.logs == [["acc", "loss", "val_acc", "val_loss"]] * 2


@pytest.mark.parametrize(("callbacks", "expected"), [
    ([], (None, None)),
    ([EarlyStopping(monitor="val_loss", patience=4)], (EarlyStoppingInfo("val_loss", False, 4), None)),
    ([ModelCheckpoint(monitor="val_loss")], (None, "ckpts")),
    ([ModelCheckpoint()], (None, None)),  # monitoring nothing, it keeps the last epoch
], ids=["none", "early_stopping", "best_checkpoint", "last_checkpoint"])
def test_the_trainers_early_stopping_and_checkpoint_reach_the_checks(tmp_path, callbacks, expected):
    for callback in callbacks:
        if isinstance(callback, ModelCheckpoint):
            callback.dirpath = str(tmp_path / "ckpts")
    spy = Spy()
    fit(tmp_path, Classifier(), [ScramLightningCallback(verbose=False, extra_checks=[spy]), *callbacks], epochs=1)
    [run] = spy.runs
    assert (run.early_stopping, run.best_checkpoint and os.path.basename(run.best_checkpoint)) == expected


def memorising_data() -> tuple[DataLoader, DataLoader]:
    """100 training digits in one batch and 300 validation ones: a wide MLP learns the 100 by heart, and its
    validation loss turns up after about 10 epochs."""
    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32)
    y = torch.tensor(data.target)
    train = DataLoader(TensorDataset(x[:100], y[:100]), batch_size=100)
    return train, DataLoader(TensorDataset(x[400:700], y[400:700]), batch_size=100)


class Wide(NamedMetrics):
    def __init__(self) -> None:
        super().__init__(lr=3e-3)
        self.net = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


@pytest.mark.parametrize("checkpoint", [False, True], ids=["early_stopping_alone", "with_best_checkpoint"])
def test_overfitting_told_in_lightnings_terms(tmp_path, checkpoint):
    # Lightning's EarlyStopping stops the run but never restores the best weights.
    lightning.seed_everything(0)
    scram = ScramLightningCallback(verbose=False)
    stopping = EarlyStopping(monitor="val/loss", patience=5)
    kept = [ModelCheckpoint(dirpath=str(tmp_path / "ckpts"), monitor="val/loss")] if checkpoint else []
    fit(tmp_path, Wide(), [scram, stopping, *kept], epochs=40, data=memorising_data())
    [finding] = [d for d in scram.diagnostics if d.check == "overfitting"]
    assert stopping.stopped_epoch > 0  # the run was stopped, after SCRAM reported it
    if checkpoint:
        assert finding.severity == Severity.INFO
        assert "load_from_checkpoint(trainer.checkpoint_callback.best_model_path)" in finding.snippet
    else:
        assert finding.severity == Severity.WARNING
        assert "never restores the best weights" in finding.explanation
        assert 'ModelCheckpoint(monitor="val/loss", save_top_k=1)' in finding.snippet
