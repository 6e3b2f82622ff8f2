"""`ScramMonitor` in real hand-written PyTorch loops: each fault class found, its healthy twin quiet.

Tiny CPU trainings on scikit-learn's digits and breast-cancer data; every diagnostic is read
back from the monitor and, for the event files, through `scram report` and the plugin's routes.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from torch import nn

from tensorboard_plugin_scram import ScramMonitor
from tests.builders import report_json
from tests.tensorboard_helpers import data_provider, get_json, plugin_client

pytestmark = pytest.mark.training

SAMPLES, BATCH = 256, 32
OPTIMIZER_LINE = next(i for i, line in enumerate(Path(__file__).read_text().splitlines(), 1)
                      if line.strip().startswith("optimizer = optimizer or torch.optim.Adam("))


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_digits()
    x = torch.tensor(data.data[:SAMPLES] / 16.0, dtype=torch.float32)
    return x, torch.tensor(data.target[:SAMPLES])


def mlp(head: list[nn.Module] | None = None, outputs: int = 10, dropout: bool = True) -> nn.Sequential:
    layers = [nn.Linear(64, 32), nn.ReLU()] + ([nn.Dropout(0.1)] if dropout else []) + [nn.Linear(32, outputs)]
    return nn.Sequential(*layers, *(head or []))


def train(model: nn.Module, log_dir, x=None, y=None, loss_fn=None, lr: float = 1e-3, epochs: int = 2,
          zero_grad: bool = True, train_mode: bool = True, optimizer=None, monitor: bool = True,
          **monitor_args) -> ScramMonitor | None:
    """A plain loop: train() at each epoch, zero_grad, forward, loss, backward, step; validation in eval()."""
    if x is None:
        x, y = digits()
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    scram = ScramMonitor(model, optimizer, log_dir, loss_fn=loss_fn, verbose=False, **monitor_args) if monitor \
        else None
    for _ in range(epochs):
        if train_mode:
            model.train()
        for i in range(0, len(x), BATCH):
            if zero_grad:
                optimizer.zero_grad()
            loss = loss_fn(model(x[i:i + BATCH]), y[i:i + BATCH])
            loss.backward()
            optimizer.step()
            if scram is not None:
                scram.step(loss)
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model(x[:64]), y[:64])
        if scram is not None:
            scram.end_epoch(val_loss=val_loss)
    if scram is not None:
        scram.close()
    return scram


def found(scram: ScramMonitor) -> dict[str, list]:
    """Warnings and errors by check id (advice left out: a healthy twin may get some)."""
    result: dict[str, list] = {}
    for d in scram.diagnostics:
        if d.severity.value != "info":
            result.setdefault(d.check, []).append(d)
    return result


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


# -- static checks: the module tree, the loss module, the optimizer --------------------------------


def test_softmax_before_cross_entropy_found_in_pytorch_terms(tmp_path):
    faulty = found(train(mlp([nn.Softmax(dim=1)]), tmp_path / "a"))
    healthy = found(train(mlp(), tmp_path / "b"))
    assert list(faulty) == ["output_activation_loss_mismatch"]
    d = faulty["output_activation_loss_mismatch"][0]
    assert "nn.CrossEntropyLoss" in d.explanation and "logits" in d.explanation
    assert "keras" not in d.snippet and "nn.CrossEntropyLoss()" in d.snippet
    assert d.location == f"tests/test_pytorch_monitor.py:{OPTIMIZER_LINE}"  # where the optimizer is created
    assert healthy == {}


class FunctionalSoftmax(nn.Module):
    """The softmax applied in forward(): no module to see, only its values."""

    def __init__(self) -> None:
        super().__init__()
        self.body = mlp()

    def forward(self, x):
        return torch.softmax(self.body(x), dim=1)


def test_softmax_in_forward_found_from_the_output_values(tmp_path):
    assert "output_activation_loss_mismatch" in found(train(FunctionalSoftmax(), tmp_path))


class OneLogit(nn.Module):
    """A binary classifier with one logit, squeezed for `BCEWithLogitsLoss`; `sigmoid`: a sigmoid in forward() too."""

    def __init__(self, sigmoid: bool) -> None:
        super().__init__()
        self.body, self.head, self.sigmoid = nn.Sequential(nn.Linear(30, 16), nn.ReLU()), nn.Linear(16, 1), sigmoid
        with torch.no_grad():  # logits that all start in (0, 1), as an average over an embedding often gives
            self.head.weight.mul_(0.01)
            self.head.bias.fill_(0.5)

    def forward(self, x):
        logit = self.head(self.body(x)).squeeze(1)
        return torch.sigmoid(logit) if self.sigmoid else logit


def test_small_logits_in_the_unit_interval_are_not_taken_for_a_sigmoid(tmp_path):
    data = load_breast_cancer()
    x = torch.tensor((data.data[:SAMPLES] - data.data.mean(0)) / data.data.std(0), dtype=torch.float32)
    y = torch.tensor(data.target[:SAMPLES], dtype=torch.float32)
    logits, twice = (train(OneLogit(sigmoid), tmp_path / str(sigmoid), x, y, nn.BCEWithLogitsLoss(), epochs=1)
                     for sigmoid in (False, True))
    assert 0 < float(OneLogit(False).head.bias) < 1, "the first logits lie in (0, 1)"
    assert "output_activation_loss_mismatch" not in found(logits), "the loss gets the Linear's own output"
    assert "output_activation_loss_mismatch" in found(twice), "a sigmoid in forward() is seen from the values"


def test_log_softmax_before_cross_entropy_stays_quiet(tmp_path):
    # log_softmax(log_softmax(z)) == log_softmax(z): harmless, so no alarm.
    assert found(train(mlp([nn.LogSoftmax(dim=1)]), tmp_path)) == {}


def test_nll_loss_without_log_softmax_found_and_with_it_quiet(tmp_path):
    faulty = found(train(mlp(), tmp_path / "raw", loss_fn=nn.NLLLoss()))
    healthy = found(train(mlp([nn.LogSoftmax(dim=1)]), tmp_path / "log", loss_fn=nn.NLLLoss()))
    assert "output_activation_loss_mismatch" in faulty
    d = faulty["output_activation_loss_mismatch"][0]
    assert d.severity.value == "error" and "nn.NLLLoss" in d.explanation and "LogSoftmax" in d.suggestion
    assert healthy == {}


def test_learning_rate_far_off_found_with_a_torch_snippet_and_a_warm_up_quiet(tmp_path):
    faulty = found(train(mlp(), tmp_path / "high", lr=10.0, epochs=1))
    d = faulty["learning_rate_unusual"][0]
    assert d.evidence["optimizer"] == "Adam" and d.evidence["learning_rate"] == 10.0
    assert d.snippet.startswith("optimizer = torch.optim.Adam(model.parameters(), lr=0.001)")
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.001)  # lr is 1e-6 now: a warm-up
    assert optimizer.param_groups[0]["lr"] < 1e-5
    assert "learning_rate_unusual" not in found(train(model, tmp_path / "warm", optimizer=optimizer, epochs=1))


def test_sgd_learning_rates_judged_on_torch_names(tmp_path):
    model = mlp()
    slow = found(train(model, tmp_path / "slow", optimizer=torch.optim.SGD(model.parameters(), lr=1e-7), epochs=1))
    assert slow["learning_rate_unusual"][0].evidence["optimizer"] == "SGD"
    model = mlp()
    usual = train(model, tmp_path / "usual", optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                  epochs=1)
    assert "learning_rate_unusual" not in found(usual)


def test_frozen_model_said_before_backward_raises(tmp_path):
    model = mlp()
    for p in model.parameters():
        p.requires_grad = False
    with pytest.raises(RuntimeError, match="does not require grad"):
        train(model, tmp_path, epochs=1)
    written = [d for d in report_json(tmp_path) if d["check"] == "no_trainable_weights"]
    assert len(written) == 1
    assert "requires_grad" in written[0]["explanation"] and "torch.optim" in written[0]["snippet"]


# -- labels where they meet the loss module ---------------------------------------------------------


def test_class_ids_beyond_the_output_said_before_the_index_error(tmp_path):
    with pytest.raises(IndexError):
        train(mlp(outputs=5), tmp_path, epochs=1)
    written = [d for d in report_json(tmp_path) if d["check"] == "label_output_mismatch"]
    assert len(written) == 1 and written[0]["step"] == 0
    assert "IndexError" in written[0]["explanation"] and "nn.Linear(in_features, 10)" in written[0]["snippet"]


def test_class_ids_under_bce_with_logits_found_and_zero_one_labels_quiet(tmp_path):
    x, y = digits()
    faulty = found(train(mlp(outputs=1), tmp_path / "ids", x, y.float()[:, None], nn.BCEWithLogitsLoss(),
                         epochs=1))
    assert "label_output_mismatch" in faulty
    assert "nn.BCEWithLogitsLoss" in faulty["label_output_mismatch"][0].explanation
    binary = (y >= 5).float()[:, None]
    assert "label_output_mismatch" not in found(train(mlp(outputs=1), tmp_path / "ok", x, binary,
                                                      nn.BCEWithLogitsLoss(), epochs=1))


def test_probability_targets_under_cross_entropy_are_no_fault(tmp_path):
    x, y = digits()
    one_hot = nn.functional.one_hot(y, 10).float()
    assert found(train(mlp(), tmp_path, x, one_hot, epochs=1)) == {}


# -- data -----------------------------------------------------------------------------------------


def test_unnormalised_inputs_found_and_scaled_twin_quiet(tmp_path):
    data = load_breast_cancer()
    x = torch.tensor(data.data[:SAMPLES], dtype=torch.float32)
    y = torch.tensor(data.target[:SAMPLES])
    model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 2))
    raw = found(train(model, tmp_path / "raw", x, y, epochs=1))
    assert "input_not_normalized" in raw
    scaled = (x - x.mean(0)) / x.std(0)
    model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 2))
    assert "input_not_normalized" not in found(train(model, tmp_path / "scaled", scaled, y, epochs=1))


# -- the loop itself: eval() mode, zero_grad --------------------------------------------------------


def test_eval_mode_left_on_found_from_the_second_epoch(tmp_path):
    faulty = found(train(mlp(), tmp_path / "eval", train_mode=False, epochs=3))
    d = faulty["model_in_eval_mode"][0]
    assert d.step == SAMPLES // BATCH  # the first step after the first validation
    assert d.evidence["eval_mode_modules"] == ["2"]
    assert "model.train()" in d.snippet


def test_eval_mode_without_dropout_or_batchnorm_changes_nothing_and_stays_quiet(tmp_path):
    assert "model_in_eval_mode" not in found(train(mlp(dropout=False), tmp_path, train_mode=False, epochs=2))


def test_frozen_batchnorm_in_a_training_root_stays_quiet(tmp_path):
    model = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    scram = ScramMonitor(model, torch.optim.Adam(model.parameters(), lr=1e-3), tmp_path, verbose=False,
                         loss_fn=nn.CrossEntropyLoss())
    x, y = digits()
    optimizer = scram._session.optimizers[0]
    for i in range(0, len(x), BATCH):
        model.train()
        model[1].eval()  # frozen BatchNorm statistics on purpose, as when fine-tuning
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x[i:i + BATCH]), y[i:i + BATCH])
        loss.backward()
        optimizer.step()
        scram.step(loss)
    scram.close()
    assert "model_in_eval_mode" not in found(scram)


def test_forgotten_zero_grad_found_and_deliberate_accumulation_quiet(tmp_path):
    faulty = found(train(mlp(), tmp_path / "none", zero_grad=False, epochs=1, lr=1e-4))
    d = faulty["gradients_accumulating"][0]
    assert d.step == 3 and d.evidence["steps_in_a_row"] == 3
    assert d.evidence["grad_norm_now"] > d.evidence["grad_norm_first"]
    assert "optimizer.zero_grad()" in d.snippet
    # Four backward passes per optimizer step, then zero_grad: accumulation on purpose.
    model, x, y = mlp(), *digits()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scram = ScramMonitor(model, optimizer, tmp_path / "accumulate", loss_fn=nn.CrossEntropyLoss(), verbose=False)
    for i in range(0, len(x), 8):
        loss = nn.CrossEntropyLoss()(model(x[i:i + 8]), y[i:i + 8])
        loss.backward()
        if (i // 8) % 4 == 3:
            optimizer.step()
            optimizer.zero_grad(set_to_none=False)  # zeros left in .grad: reset all the same
            scram.step(loss)
    scram.close()
    assert "gradients_accumulating" not in found(scram)


# -- model internals --------------------------------------------------------------------------------


class DetachedFirstLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first, self.second, self.head = nn.Linear(64, 32), nn.Linear(32, 32), nn.Linear(32, 10)

    def forward(self, x):
        hidden = torch.relu(self.first(x)).detach()  # the bug: no gradient reaches `first`
        return self.head(torch.relu(self.second(hidden)))


def test_detached_layer_found_not_updating(tmp_path):
    scram = train(DetachedFirstLayer(), tmp_path, epochs=4, internals_every=4)
    stuck = found(scram).get("weights_not_updating", [])
    assert [d.evidence.get("layer") for d in stuck] == ["first"]


# -- guarantees -------------------------------------------------------------------------------------


def test_weights_identical_with_and_without_the_monitor(tmp_path):
    trained = []
    for monitor in (False, True):
        torch.manual_seed(0)
        model = mlp()
        train(model, tmp_path / str(monitor), monitor=monitor, internals_every=2, epochs=2)
        trained.append(model.state_dict())
    assert list(trained[0]) == list(trained[1])
    for name in trained[0]:
        assert torch.equal(trained[0][name], trained[1][name]), name


def test_a_failing_part_warns_once_and_the_loop_goes_on(tmp_path, monkeypatch):
    from tensorboard_plugin_scram.pytorch import session

    def broken(*args, **kwargs):
        raise ValueError("statistics broke")

    monkeypatch.setattr(session, "summarize_batch", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scram = train(mlp(), tmp_path, epochs=2)
    scram_warnings = [w for w in caught if "SCRAM" in str(w.message)]
    assert len(scram_warnings) == 1 and "statistics broke" in str(scram_warnings[0].message)
    assert [d.check for d in scram.diagnostics] == ["scram_internal_error"]


def test_report_and_plugin_routes_serve_the_pytorch_run(tmp_path):
    train(mlp([nn.Softmax(dim=1)]), tmp_path / "softmax", epochs=2)
    train(mlp(), tmp_path / "healthy", epochs=2)
    written = report_json(tmp_path)
    assert {(d["run"], d["check"]) for d in written} == {("softmax/scram", "output_activation_loss_mismatch")}
    with data_provider(str(tmp_path), "python") as provider:
        client = plugin_client(provider)
        status, body = get_json(client, "runs")
        assert status == 200 and {r["run"] for r in body["runs"]} == {"softmax/scram", "healthy/scram"}
        status, body = get_json(client, "diagnostics?run=softmax/scram")
        assert status == 200
        assert [d["check"] for d in body["diagnostics"]] == ["output_activation_loss_mismatch"]
        status, body = get_json(client, "series?run=healthy/scram")
        assert status == 200
        series = {s["name"]: s["points"] for s in body["series"]}
        assert body["source"] == "scram" and {"loss", "val_loss"} <= set(series)
        assert len(series["val_loss"]) == 2 and len(series["loss"]) == 2 * SAMPLES // BATCH  # every early step


def test_importing_the_package_does_not_import_torch():
    code = ("import sys, tensorboard_plugin_scram as s; assert 'torch' not in sys.modules; "
            "s.ScramMonitor; assert 'torch' in sys.modules; assert 'keras' not in sys.modules")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_configuration_typo_raises_at_once():
    model = mlp()
    with pytest.raises(ValueError, match="unknown check id"):
        ScramMonitor(model, torch.optim.Adam(model.parameters()), "unused", disable=["no_such_check"])


def test_numbers_are_those_of_numpy_reference(tmp_path):
    # The statistics SCRAM wrote for the first batch are those of the batch itself.
    x, y = digits()
    model, loss_fn = mlp(), nn.CrossEntropyLoss()
    scram = ScramMonitor(model, torch.optim.Adam(model.parameters()), tmp_path, loss_fn=loss_fn, verbose=False)
    loss_fn(model(x[:BATCH]), y[:BATCH])
    tensors = scram._session._pre_read
    assert tensors is not None and [t.name for t in tensors] == ["x", "y"]
    assert tensors[0].max == pytest.approx(float(x[:BATCH].max())) and tensors[1].class_counts == tuple(
        np.bincount(y[:BATCH].cpu().numpy()).tolist())
    scram.close()


def test_pytorch_zoo_runs_and_scores_a_fault_and_a_healthy_setup():
    from bench import zoo_torch

    results = zoo_torch.run(["eval_mode_left_on", "healthy_cnn"], seeds=1)
    assert [(r["scenario"], r["found"], r["alarms"]) for r in results] == [
        ("eval_mode_left_on", True, ["model_in_eval_mode"]), ("healthy_cnn", False, [])]
    assert zoo_torch.summary(results).startswith("PyTorch zoo: recall 1/1")
