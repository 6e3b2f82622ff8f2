"""Activations and predictions of PyTorch runs: dead ReLUs, saturated sigmoids, constant predictions.

Real tiny CPU loops under `ScramMonitor` (and one Lightning `Trainer`) on scikit-learn's digits:
each fault is found in the diagnostics read back from the log directory, its healthy twin stays
quiet. The measurement's numbers are checked against plain torch references, on the shapes
that decide which axis holds a layer's units.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from tensorboard_plugin_scram import ScramMonitor
from tensorboard_plugin_scram.observations import LayerStats, LossInfo, ModelStats
from tensorboard_plugin_scram.pytorch.activations import (
    ActivationProbe,
    dead_share,
    prediction_row,
    prediction_stats,
    saturated_share,
)
from tests.builders import report_json

pytestmark = pytest.mark.training

SAMPLES, BATCH = 512, 32


def digits(scale: float = 1 / 16) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_digits()
    return torch.tensor(data.data[:SAMPLES] * scale, dtype=torch.float32), torch.tensor(data.target[:SAMPLES])


def train(model: nn.Module, log_dir, x: torch.Tensor, y: torch.Tensor, epochs: int = 3, lr: float = 1e-3,
          loss_fn: nn.Module | None = None, internals_every: int = 10, batch: int = BATCH, autocast: bool = False,
          before_step: Callable[[], None] = lambda: None) -> tuple[ScramMonitor, list[ModelStats]]:
    """A plain loop under the monitor; also returns the model statistics each measured step carried."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    scram = ScramMonitor(model, optimizer, log_dir, loss_fn=loss_fn, verbose=False, internals_every=internals_every)
    measured = []
    for _ in range(epochs):
        model.train()
        for i in range(0, len(x), batch):
            before_step()
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = loss_fn(model(x[i:i + batch]), y[i:i + batch])
            loss.backward()
            optimizer.step()
            if scram._session._model_stats is not None:
                measured.append(scram._session._model_stats)
            scram.step(loss)
        model.eval()
        with torch.no_grad():
            scram.end_epoch(val_loss=loss_fn(model(x[:64]), y[:64]))
    scram.close()
    return scram, measured


def written(log_dir) -> dict[str, list[dict]]:
    """Warnings and errors read back from the event files (`scram report --json`), by check id."""
    found: dict[str, list[dict]] = {}
    for d in report_json(log_dir):
        if d["severity"] != "info":
            found.setdefault(d["check"], []).append(d)
    return found


def relu_mlp(bias: float | None = None) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    if bias is not None:
        with torch.no_grad():
            model[2].bias.fill_(bias)  # every unit of the second ReLU below zero for every input
    return model


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


# -- dead ReLU units ------------------------------------------------------------------------------


def test_dying_relu_found_and_healthy_twin_quiet(tmp_path):
    x, y = digits()
    _, measured = train(relu_mlp(bias=-10.0), tmp_path / "dead", x, y)
    faulty = written(tmp_path / "dead")
    assert [d["evidence"]["layer"] for d in faulty["dead_relu"]] == ["3"]  # the nn.ReLU after the -10 bias
    assert faulty["dead_relu"][0]["evidence"]["dead_fraction"] == 1.0
    assert "nn.LeakyReLU" in faulty["dead_relu"][0]["snippet"] and "keras" not in faulty["dead_relu"][0]["snippet"]
    relus = [layer for layer in measured[-1].layers if layer.kind == "ReLU"]
    assert [(layer.name, layer.units) for layer in relus] == [("1", 64), ("3", 64)]
    _, measured = train(relu_mlp(), tmp_path / "healthy", x, y)
    assert written(tmp_path / "healthy") == {}
    shares = [layer.dead_fraction for stats in measured for layer in stats.layers if layer.kind == "ReLU"]
    assert shares and max(shares) < 0.7  # measured, and far from the rule's bar


def test_dead_fraction_is_that_of_the_relu_output_seen_by_a_plain_hook(tmp_path):
    x, y = digits()
    model = relu_mlp()
    outputs = []
    model[3].register_forward_hook(lambda module, args, out: outputs.append(out.detach().clone()))
    _, measured = train(model, tmp_path, x, y, epochs=1, internals_every=4)
    # The first measured step is step 5 (`InternalsSchedule.first`): its forward pass is the sixth.
    reference = 1.0 - (outputs[5] > 0).any(dim=0).float().mean().item()
    dead = next(layer.dead_fraction for layer in measured[0].layers if layer.name == "3")
    assert 0.0 < reference < 1.0 and dead == pytest.approx(reference)


def test_units_of_a_convolution_are_its_channels():
    # Channel 0 positive somewhere in every sample, channel 1 zero everywhere: one of two dead,
    # whatever the spatial positions do. On the last axis (columns) no unit would be dead.
    out = torch.zeros(4, 2, 3, 3)
    out[:, 0, 1, :] = 1.0
    assert dead_share(out, 1).item() == 0.5
    assert dead_share(out, 3).item() == 0.0
    # Features on the last axis of a sequence (batch, positions, features): a linear layer's units.
    sequence = torch.zeros(4, 5, 8)
    sequence[..., :6] = 1.0
    assert dead_share(sequence, 2).item() == pytest.approx(2 / 8)


def one_pass(model: nn.Module, x: torch.Tensor) -> dict[str, LayerStats]:
    """The probe's layers for one training forward pass of `model` on `x`, by name."""
    errors: list[BaseException] = []
    trained = [(name, m) for name, m in model.named_modules() if any(p.requires_grad for p in m.parameters(False))]
    probe = ActivationProbe(model, trained, None, errors.append)
    probe.arm()
    model(x)
    stats = probe.combine(None)
    assert errors == [] and not probe._handles  # the pass removed its hooks
    return {layer.name: layer for layer in stats.layers}


def test_units_are_found_on_the_axis_the_layer_before_writes():
    linear = nn.Linear(8, 6)
    with torch.no_grad():
        linear.bias[:2] = -100.0  # two features dead at every position
    layers = one_pass(nn.Sequential(linear, nn.ReLU()), torch.rand(4, 5, 8))  # (batch, positions, features)
    assert (layers["1"].units, layers["1"].dead_fraction) == (6, pytest.approx(2 / 6))
    conv = nn.Conv1d(3, 4, 3)
    with torch.no_grad():
        conv.bias[0] = -100.0  # one channel dead
    layers = one_pass(nn.Sequential(conv, nn.ReLU()), torch.rand(4, 3, 10))  # (batch, channels, length)
    assert (layers["1"].units, layers["1"].dead_fraction) == (4, pytest.approx(1 / 4))


class SharedRelu(nn.Module):
    """One nn.ReLU module called after two layers, as torchvision's blocks do."""

    def __init__(self, frozen_first: bool = False) -> None:
        super().__init__()
        self.first, self.second, self.relu = nn.Linear(8, 8), nn.Linear(8, 8), nn.ReLU()
        self.first.requires_grad_(not frozen_first)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.second(self.relu(self.first(x))))


def test_a_shared_relu_is_measured_per_call_and_not_after_a_frozen_layer():
    layers = one_pass(SharedRelu(), torch.rand(16, 8))
    assert [name for name in layers if "relu" in name] == ["relu", "relu (call 2)"]
    layers = one_pass(SharedRelu(frozen_first=True), torch.rand(16, 8))
    assert [name for name in layers if "relu" in name] == ["relu (call 2)"]  # the call after the frozen one: none


def test_dead_convolution_filters_found_on_a_cnn(tmp_path):
    x, y = digits()
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(16 * 64, 10))
    with torch.no_grad():
        model[2].bias.fill_(-10.0)
    train(model, tmp_path / "dead", x.reshape(-1, 1, 8, 8), y, epochs=2)
    assert [d["evidence"]["units"] for d in written(tmp_path / "dead")["dead_relu"]] == [16]  # the channels
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(16 * 64, 10))
    train(model, tmp_path / "healthy", x.reshape(-1, 1, 8, 8), y, epochs=2)
    assert "dead_relu" not in written(tmp_path / "healthy")


def test_small_batches_never_judge_dead_units(tmp_path):
    x, y = digits()
    # Batches of 4: a unit can be zero for all of them by chance.
    _, measured = train(relu_mlp(bias=-10.0), tmp_path, x[:240], y[:240], epochs=1, batch=4, internals_every=4)
    assert [stats.predictions.count for stats in measured][:1] == [4]  # measured, on 4 samples
    assert "dead_relu" not in written(tmp_path)


# -- saturated sigmoids ---------------------------------------------------------------------------


def sigmoid_stack() -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 32), nn.Sigmoid(), nn.Linear(32, 10))


def test_saturated_sigmoids_on_unscaled_inputs_found_and_scaled_twin_quiet(tmp_path):
    x, y = digits(scale=100 / 16)  # pixels up to 100
    train(sigmoid_stack(), tmp_path / "raw", x, y, epochs=2)
    faulty = written(tmp_path / "raw")
    assert [d["evidence"]["layer"] for d in faulty["saturated_activations"]][:1] == ["1"]
    assert faulty["saturated_activations"][0]["evidence"]["saturated_fraction"] >= 0.5
    x, y = digits()
    _, measured = train(sigmoid_stack(), tmp_path / "scaled", x, y, epochs=2)
    assert "saturated_activations" not in written(tmp_path / "scaled")
    shares = [layer.saturated_fraction for stats in measured for layer in stats.layers if layer.kind == "Sigmoid"]
    assert shares and max(shares) < 0.5


def test_the_output_sigmoid_is_not_judged(tmp_path):
    # A binary classifier confident on separable data: its output sigmoid pinned near 0 and 1 by design.
    x, y = digits()
    binary = (y >= 5).float()[:, None]
    model = nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 1), nn.Sigmoid())
    _, measured = train(model, tmp_path, x, binary, epochs=3, lr=1e-2, loss_fn=nn.BCELoss())
    last = measured[-1].layers
    assert [(layer.name, layer.saturated_fraction is None) for layer in last if layer.kind in ("Tanh", "Sigmoid")] \
        == [("1", False), ("3", True)]
    assert measured[-1].predictions.majority_share is not None  # BCELoss: a classification, on one output


def test_saturated_share_matches_the_keras_margins():
    sigmoid = torch.tensor([0.005, 0.5, 0.995, 0.98])
    tanh = torch.tensor([-0.99, 0.0, 0.97, 0.985])
    assert saturated_share(sigmoid, "sigmoid").item() == 0.5
    assert saturated_share(tanh, "tanh").item() == 0.5
    assert saturated_share(sigmoid.to(torch.bfloat16), "sigmoid").item() == 0.5  # computed in float32


# -- predictions ----------------------------------------------------------------------------------


def test_prediction_row_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(40, 3)).astype("float32")
    row = prediction_row(torch.tensor(logits), LossInfo("sparse_categorical_crossentropy", from_logits=True))
    stats = prediction_stats(row.tolist())
    counts = np.bincount(logits.argmax(-1), minlength=3)
    assert stats.count == 40 and stats.predicted_classes == np.count_nonzero(counts)
    assert stats.majority_share == pytest.approx(counts.max() / 40)
    assert stats.std == pytest.approx(logits.std(axis=0).mean(), rel=1e-5)
    regression = prediction_stats(prediction_row(torch.tensor(logits), LossInfo("mean_squared_error")).tolist())
    assert regression.majority_share is None and regression.predicted_classes is None
    # Cross-entropy over a sequence (batch, classes, positions): every position is a prediction.
    sequence = torch.tensor(rng.normal(size=(4, 3, 5)).astype("float32"))
    assert prediction_stats(prediction_row(sequence, LossInfo("sparse_categorical_crossentropy")).tolist()).count \
        == 20


class FrozenZeroHead(nn.Module):
    """The output layer's weights zeroed and frozen: every sample gets the same logits (the bias)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 32), nn.ReLU())
        self.head = nn.Linear(32, 10)
        with torch.no_grad():
            self.head.weight.zero_()
        self.head.weight.requires_grad = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def test_constant_predictions_found_and_healthy_twin_quiet(tmp_path):
    x, y = digits()
    train(FrozenZeroHead(), tmp_path / "constant", x, y, epochs=10, lr=1e-2)
    faulty = written(tmp_path / "constant")
    assert faulty["constant_predictions"][0]["evidence"]["predicted_classes"] == 1
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    train(model, tmp_path / "healthy", x, y, epochs=10, lr=1e-2)
    assert "constant_predictions" not in written(tmp_path / "healthy")


# -- NaN: where it went -----------------------------------------------------------------------------


def test_nan_on_a_step_not_measured_names_the_layers_whose_weights_it_reached(tmp_path):
    x, y = digits()
    x[100, 3] = float("nan")  # in the fourth batch (step 3); the first measured step is step 5
    train(relu_mlp(), tmp_path / "nan", x, y, epochs=1)
    nan = written(tmp_path / "nan")["nan_loss"]
    assert [d["step"] for d in nan] == [3]
    assert nan[0]["evidence"]["nonfinite_layers"] == ["0", "2", "4"]  # the step's update carried it everywhere
    assert "'0' (Linear)" in nan[0]["explanation"]
    _, measured = train(relu_mlp(), tmp_path / "finite", *digits(), epochs=1)
    assert "nan_loss" not in written(tmp_path / "finite") and not any(
        layer.nonfinite_output or layer.nonfinite_weights for stats in measured for layer in stats.layers)


# -- the measurement's guarantees -----------------------------------------------------------------


def test_no_hook_outside_the_measured_steps(tmp_path):
    x, y = digits()
    model, hooked = relu_mlp(), []
    train(model, tmp_path, x[:320], y[:320], epochs=1, internals_every=50,
          before_step=lambda: hooked.append(bool(model[1]._forward_hooks)))
    # Step 0 has the session's own hooks that learn the forward order; then only the measured step 5.
    assert hooked[1:] == [step == 5 for step in range(1, 10)]
    assert not model[1]._forward_hooks


def test_a_failing_measurement_warns_once_and_the_norms_go_on(tmp_path, monkeypatch):
    from tensorboard_plugin_scram.pytorch import activations

    def broken(*args, **kwargs):
        raise ValueError("activations broke")

    monkeypatch.setattr(activations, "dead_share", broken)
    x, y = digits()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scram, measured = train(relu_mlp(), tmp_path, x, y, epochs=2)
    assert [str(w.message) for w in caught if "SCRAM" in str(w.message)][0].count("activations broke") == 1
    assert len([w for w in caught if "SCRAM" in str(w.message)]) == 1
    assert [d.check for d in scram.diagnostics] == ["scram_internal_error"]
    assert measured and all(stats.predictions is None for stats in measured)
    assert all(layer.grad_norm is not None for stats in measured for layer in stats.layers)


def test_autocast_outputs_measured_in_float32(tmp_path):
    x, y = digits()
    _, measured = train(relu_mlp(bias=-10.0), tmp_path, x, y, epochs=2, internals_every=5, autocast=True)
    assert measured and measured[-1].predictions is not None and measured[-1].predictions.count == BATCH
    assert "dead_relu" in written(tmp_path)


# -- Lightning ------------------------------------------------------------------------------------


def test_lightning_run_carries_activation_statistics(tmp_path):
    lightning = pytest.importorskip("lightning")
    from lightning.pytorch.loggers import TensorBoardLogger
    from torch.utils.data import DataLoader, TensorDataset

    from tensorboard_plugin_scram import ScramLightningCallback

    class Module(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.loss_fn = relu_mlp(bias=-10.0), nn.CrossEntropyLoss()

        def training_step(self, batch, index):
            return self.loss_fn(self.net(batch[0]), batch[1])  # the root module's forward never runs

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    lightning.seed_everything(0)
    x, y = digits()
    callback = ScramLightningCallback(verbose=False, internals_every=10)
    trainer = lightning.Trainer(max_epochs=2, callbacks=[callback], logger=TensorBoardLogger(str(tmp_path)),
                                enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                                accelerator="cpu")
    trainer.fit(Module(), DataLoader(TensorDataset(x, y), batch_size=BATCH))
    dead = written(tmp_path / "lightning_logs")["dead_relu"]
    assert [(d["evidence"]["layer"], d["evidence"]["dead_fraction"]) for d in dead] == [("net.3", 1.0)]


def test_lightning_gradient_norms_are_those_of_the_step_they_are_reported_for(tmp_path, monkeypatch):
    """Lightning steps with a closure, so the gradients are whole only after the optimizer's pre-step hook."""
    lightning = pytest.importorskip("lightning")
    from torch.utils.data import DataLoader, TensorDataset

    from tensorboard_plugin_scram import ScramLightningCallback
    from tensorboard_plugin_scram.engine import Engine

    reported: dict[int, float] = {}
    engine_batch = Engine.batch

    def spy(engine, obs):
        if obs.model is not None:
            reported[obs.step] = next(layer.grad_norm for layer in obs.model.layers if layer.name == "net.0")
        return engine_batch(engine, obs)

    monkeypatch.setattr(Engine, "batch", spy)

    class TrueGradients(lightning.Callback):
        def __init__(self) -> None:
            self.norms: dict[int, float] = {}

        def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
            grads = [p.grad for p in pl_module.net[0].parameters()]
            self.norms[trainer.global_step] = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))

    class Module(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.loss_fn = relu_mlp(), nn.CrossEntropyLoss()

        def training_step(self, batch, index):
            return self.loss_fn(self.net(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    lightning.seed_everything(0)
    x, y = digits()
    truth = TrueGradients()
    trainer = lightning.Trainer(max_epochs=2, callbacks=[truth, ScramLightningCallback(str(tmp_path), verbose=False,
                                                                                         internals_every=5)],
                                logger=False, enable_progress_bar=False, enable_model_summary=False,
                                enable_checkpointing=False, accelerator="cpu")
    trainer.fit(Module(), DataLoader(TensorDataset(x, y), batch_size=BATCH))
    assert len(reported) >= 2, "several steps were measured"
    for step, norm in reported.items():
        assert norm == pytest.approx(truth.norms[step], rel=1e-4), step
