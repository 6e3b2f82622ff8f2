"""The PyTorch fault zoo and healthy sweep: tiny labelled plain loops under `ScramMonitor`, and Lightning modules.

`python -m bench.zoo_torch [--only NAME ...] [--seeds N] [--json PATH]` trains each scenario on the
CPU and prints, per scenario, what SCRAM reported: a faulty one is found when a warning or error
carries one of its expected ids; an alarm outside `expected` and `tolerated` is off target; any
warning or error on a healthy one is a false alarm. Healthy setups run with `--seeds` seeds (the
sweep); faulty ones with seed 0. Data come from `bench.data` (scikit-learn, generated).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from bench import data
from tensorboard_plugin_scram.diagnostic import Diagnostic

# True consequences of a fault (as `bench.zoo.symptoms`, without importing Keras).
AFTER_NAN = ("nan_loss", "loss_diverging", "exploding_gradients", "update_ratio_unusual", "weights_not_updating",
             "constant_predictions", "accuracy_at_chance", "loss_not_decreasing", "dead_relu")
STALLED = ("loss_not_decreasing", "accuracy_at_chance", "constant_predictions", "update_ratio_unusual")
SWINGING = ("loss_oscillating", "loss_diverging", "exploding_gradients", "update_ratio_unusual", "nan_loss")
NO_SIGNAL = ("vanishing_gradients", "weights_not_updating")


@dataclasses.dataclass(frozen=True)
class TorchScenario:
    name: str
    run: Callable[[str], list[Diagnostic]]
    expected: frozenset[str] = frozenset()
    tolerated: frozenset[str] = frozenset()


SCENARIOS: dict[str, TorchScenario] = {}


def scenario(expected: tuple[str, ...] = (), tolerated: tuple[str, ...] = ()) -> Callable:
    def register(run: Callable[[str], list[Diagnostic]]) -> Callable:
        SCENARIOS[run.__name__] = TorchScenario(run.__name__, run, frozenset(expected), frozenset(tolerated))
        return run

    return register


# -- the loop ----------------------------------------------------------------------------------------


def tensors(x: np.ndarray, y: np.ndarray, float_labels: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(x), torch.tensor(y, dtype=torch.float32 if float_labels else torch.long)


def loop(log_dir: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module | None = None,
         optimizer: torch.optim.Optimizer | None = None, epochs: int = 4, batch: int = 32, zero_grad: bool = True,
         train_mode: bool = True, validation: float = 0.2, autocast: bool = False) -> list[Diagnostic]:
    """A plain PyTorch loop with shuffled batches and a validation pass per epoch, watched by SCRAM."""
    from tensorboard_plugin_scram import ScramMonitor

    loss_fn = loss_fn or nn.CrossEntropyLoss()
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=1e-3)
    split = int(len(x) * (1 - validation))
    x_val, y_val, x, y = x[split:], y[split:], x[:split], y[:split]
    scram = ScramMonitor(model, optimizer, log_dir, loss_fn=loss_fn, verbose=False)
    try:
        for _ in range(epochs):
            if train_mode:
                model.train()
            for index in torch.randperm(len(x)).split(batch):
                if zero_grad:
                    optimizer.zero_grad()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                    loss = loss_fn(model(x[index]), y[index])
                loss.backward()
                optimizer.step()
                scram.step(loss)
            model.eval()
            with torch.no_grad():
                val_loss = loss_fn(model(x_val), y_val) if len(x_val) else None
            scram.end_epoch(**({"val_loss": val_loss} if val_loss is not None else {}))
    except (RuntimeError, IndexError, ValueError):
        pass  # the fault made PyTorch raise: SCRAM's diagnostics came first
    finally:
        scram.close()
    return list(scram.diagnostics)


def mlp(inputs: int = 64, hidden: tuple[int, ...] = (32,), outputs: int = 10, head: tuple[nn.Module, ...] = (),
        dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(inputs, width), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        inputs = width
    return nn.Sequential(*layers, nn.Linear(inputs, outputs), *head)


def cnn(channels: int = 1, classes: int = 10, size: int = 8) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(32, classes))


def digits(scaled: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    return tensors(*data.digits(scaled))


# -- faulty: the paper's three, then PyTorch's classics -------------------------------------------------


@scenario(expected=("overfitting",))
def paper_overfitting(log_dir: str) -> list[Diagnostic]:
    """Large MLP (2x512), no regularisation, 600 digits with 30% noisy labels."""
    x, y = data.digits()
    x, y = x[:600], y[:600].copy()
    rng = np.random.default_rng(0)
    flip = rng.random(len(y)) < 0.3
    y[flip] = rng.integers(0, 10, flip.sum())
    return loop(log_dir, mlp(hidden=(512, 512)), *tensors(x, y), epochs=14, validation=0.3)


@scenario(expected=("nan_loss", "learning_rate_unusual", "loss_diverging", "exploding_gradients"),
          tolerated=AFTER_NAN)
def paper_lr_1e10(log_dir: str) -> list[Diagnostic]:
    """Adam at a learning rate of 1e10 on an embedding sentiment model."""
    x, y = data.tokens(1000)
    model = nn.Sequential(nn.Embedding(500, 16), nn.Flatten(), nn.Linear(40 * 16, 16), nn.ReLU(), nn.Linear(16, 1))
    return loop(log_dir, model, *tensors(x.astype("int64"), y[:, None], float_labels=True), nn.BCEWithLogitsLoss(),
                torch.optim.Adam(model.parameters(), lr=1e10), epochs=2)


@scenario(expected=("input_not_normalized",), tolerated=("loss_diverging", "dead_relu", "saturated_activations"))
def paper_unnormalized_pixels(log_dir: str) -> list[Diagnostic]:
    """Raw 0..255 pixels of generated 32x32x3 images straight into a CNN."""
    x, y = data.images(512, raw=True)
    return loop(log_dir, cnn(3, 4), *tensors(x.transpose(0, 3, 1, 2).copy(), y), epochs=3)


@scenario(expected=("output_activation_loss_mismatch",), tolerated=STALLED)
def softmax_before_cross_entropy(log_dir: str) -> list[Diagnostic]:
    """nn.Softmax at the end of the model, then nn.CrossEntropyLoss (which expects logits)."""
    return loop(log_dir, mlp(head=(nn.Softmax(dim=1),)), *digits())


@scenario(expected=("output_activation_loss_mismatch",), tolerated=STALLED + ("nan_loss", "loss_diverging"))
def nll_loss_on_raw_scores(log_dir: str) -> list[Diagnostic]:
    """nn.NLLLoss on a linear output (no log_softmax)."""
    return loop(log_dir, mlp(), *digits(), nn.NLLLoss(), epochs=2)


@scenario(expected=("gradients_accumulating",), tolerated=SWINGING + STALLED)
def forgotten_zero_grad(log_dir: str) -> list[Diagnostic]:
    """optimizer.zero_grad() missing from the loop: every step applies the sum of all gradients."""
    return loop(log_dir, mlp(), *digits(), zero_grad=False, epochs=2)


@scenario(expected=("model_in_eval_mode",))
def eval_mode_left_on(log_dir: str) -> list[Diagnostic]:
    """model.eval() for validation, never model.train() again: Dropout off from the second epoch."""
    return loop(log_dir, mlp(hidden=(64,), dropout=0.5), *digits(), train_mode=False)


class _Detached(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first, self.second, self.head = nn.Linear(64, 32), nn.Linear(32, 32), nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.second(torch.relu(self.first(x)).detach())))


@scenario(expected=("weights_not_updating",), tolerated=("vanishing_gradients",))
def detached_layer(log_dir: str) -> list[Diagnostic]:
    """.detach() in forward(): the first layer never gets a gradient."""
    return loop(log_dir, _Detached(), *digits(), epochs=6)


@scenario(expected=("no_trainable_weights",))
def frozen_model(log_dir: str) -> list[Diagnostic]:
    """Every parameter frozen (requires_grad=False): backward() raises."""
    model = mlp()
    for p in model.parameters():
        p.requires_grad = False
    return loop(log_dir, model, *digits(), epochs=1)


@scenario(expected=("label_output_mismatch",))
def too_few_outputs(log_dir: str) -> list[Diagnostic]:
    """Ten classes, five outputs: CrossEntropyLoss raises IndexError."""
    return loop(log_dir, mlp(outputs=5), *digits(), epochs=1)


@scenario(expected=("label_output_mismatch",), tolerated=STALLED)
def class_ids_under_bce_with_logits(log_dir: str) -> list[Diagnostic]:
    """Labels 0..9 into BCEWithLogitsLoss on one output: silently trains on garbage."""
    x, y = data.digits()
    return loop(log_dir, mlp(outputs=1), *tensors(x, y[:, None].astype("float32"), float_labels=True),
                nn.BCEWithLogitsLoss(), epochs=2)


def _hidden_bias(model: nn.Sequential, bias: float) -> nn.Sequential:
    """Every hidden nn.Linear's bias set to `bias` (the last layer, the output, keeps its own)."""
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for layer in linears[:-1]:
            layer.bias.fill_(bias)
    return model


@scenario(expected=("dead_relu",), tolerated=STALLED + NO_SIGNAL)
def mostly_dead_relu(log_dir: str) -> list[Diagnostic]:
    """Hidden nn.Linear(64, 128) with its bias set to -0.6: ~85% of the nn.ReLU's units are 0 for every sample."""
    return loop(log_dir, _hidden_bias(mlp(hidden=(128,)), -0.6), *digits(), epochs=3)


@scenario(expected=("dead_relu", "constant_predictions", "weights_not_updating"), tolerated=STALLED + NO_SIGNAL)
def all_relu_dead(log_dir: str) -> list[Diagnostic]:
    """Hidden biases set to -10: every ReLU unit is dead, the output ignores the input."""
    return loop(log_dir, _hidden_bias(mlp(hidden=(64, 64)), -10.0), *digits(), epochs=3)


def _squashing_mlp(activation: type[nn.Module], std: float | None = None) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(64, 64), activation(), nn.Linear(64, 64), activation(), nn.Linear(64, 10))
    if std is not None:
        with torch.no_grad():
            for layer in (model[0], model[2]):
                layer.weight.normal_(0.0, std)
    return model


@scenario(expected=("saturated_activations",), tolerated=STALLED + NO_SIGNAL + ("input_not_normalized",))
def saturated_sigmoid_unscaled_inputs(log_dir: str) -> list[Diagnostic]:
    """nn.Sigmoid layers on the digits' pixels times 100 (0..1600): pre-activations in the hundreds."""
    x, y = data.digits()
    return loop(log_dir, _squashing_mlp(nn.Sigmoid), *tensors(x * 100, y), epochs=3)


@scenario(expected=("saturated_activations",), tolerated=STALLED + NO_SIGNAL)
def saturated_tanh_init(log_dir: str) -> list[Diagnostic]:
    """nn.Tanh layers whose weights are drawn with std 3: pre-activations around +-10, outputs pinned at +-1."""
    model = _squashing_mlp(nn.Tanh, std=3.0)
    return loop(log_dir, model, *digits(), optimizer=torch.optim.SGD(model.parameters(), lr=0.01), epochs=3)


class _FrozenZeroHead(nn.Module):
    """The output layer's weights zeroed and frozen (a fine-tuning slip): its logits are its bias alone."""

    def __init__(self) -> None:
        super().__init__()
        self.body, self.head = nn.Sequential(nn.Linear(64, 64), nn.ReLU()), nn.Linear(64, 10)
        with torch.no_grad():
            self.head.weight.zero_()
        self.head.weight.requires_grad = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@scenario(expected=("constant_predictions",), tolerated=STALLED + NO_SIGNAL)
def frozen_zero_output_layer(log_dir: str) -> list[Diagnostic]:
    """Output weights zeroed and frozen: the same logits for every sample, whatever the input."""
    model = _FrozenZeroHead()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    return loop(log_dir, model, *digits(), optimizer=optimizer, epochs=3)


# -- healthy: the sweep's setups ----------------------------------------------------------------------


@scenario()
def healthy_mlp(log_dir: str) -> list[Diagnostic]:
    """MLP on digits, Adam 1e-3, dropout, 6 epochs."""
    return loop(log_dir, mlp(hidden=(64,), dropout=0.2), *digits(), epochs=6)


@scenario()
def healthy_sigmoid_mlp(log_dir: str) -> list[Diagnostic]:
    """nn.Sigmoid hidden layers on the scaled digits (PyTorch's default initialisation)."""
    return loop(log_dir, _squashing_mlp(nn.Sigmoid), *digits(), epochs=6)


@scenario()
def healthy_cnn(log_dir: str) -> list[Diagnostic]:
    """Small CNN on the 8x8 digits."""
    x, y = data.digits()
    return loop(log_dir, cnn(), *tensors(x.reshape(-1, 1, 8, 8), y), epochs=4)


class _Sequence(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm, self.head = nn.LSTM(8, 32, batch_first=True), nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0][:, -1])


@scenario()
def healthy_lstm(log_dir: str) -> list[Diagnostic]:
    """LSTM reading the digits row by row."""
    x, y = data.digits()
    return loop(log_dir, _Sequence(), *tensors(x.reshape(-1, 8, 8), y), epochs=5)


class _MeanOfEmbeddings(nn.Module):
    """Token ids -> the mean of their embeddings -> one logit (squeezed), as a small sentiment model."""

    def __init__(self, vocabulary: int) -> None:
        super().__init__()
        self.embedding, self.head = nn.Embedding(vocabulary, 16), nn.Linear(16, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(tokens).mean(1)).squeeze(1)


@scenario()
def healthy_one_logit_bce(log_dir: str) -> list[Diagnostic]:
    """One logit under nn.BCEWithLogitsLoss: a mean of token embeddings, whose first logits lie in (0, 1)."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 50, (512, 12))
    y = (tokens < 10).sum(1) > 2  # a positive word count decides the label
    model = _MeanOfEmbeddings(50)
    with torch.no_grad():
        model.head.bias.fill_(0.3)  # small positive logits at first, as a mean over embeddings often gives
    return loop(log_dir, model, torch.tensor(tokens), torch.tensor(y, dtype=torch.float32),
                loss_fn=nn.BCEWithLogitsLoss(), epochs=4)


@scenario()
def healthy_amp_autocast(log_dir: str) -> list[Diagnostic]:
    """MLP under torch.autocast (bfloat16 on the CPU)."""
    return loop(log_dir, mlp(hidden=(64,)), *digits(), epochs=4, autocast=True)


@scenario()
def healthy_sgd_momentum_warmup(log_dir: str) -> list[Diagnostic]:
    """SGD 0.05 with momentum 0.9 and a linear warm-up scheduler created up front."""
    model = mlp(hidden=(64,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01)
    return loop(log_dir, model, *digits(), optimizer=optimizer, epochs=4)


@scenario()
def healthy_batchnorm_cnn(log_dir: str) -> list[Diagnostic]:
    """CNN with BatchNorm on the digits as images: eval() for validation, train() again each epoch."""
    x, y = data.digits()
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Flatten(),
                          nn.Linear(16 * 64, 10))
    return loop(log_dir, model, *tensors(x.reshape(-1, 1, 8, 8), y), epochs=4)


def lightning_fit(log_dir: str, net: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
                  val: tuple[torch.Tensor, torch.Tensor], epochs: int = 4, batch: int = 32, lr: float = 1e-3,
                  val_name: str = "val_loss", callbacks: tuple[Any, ...] = ()) -> list[Diagnostic]:
    """A LightningModule (the net, its loss module as self.loss_fn) under the Trainer on the CPU, with SCRAM."""
    import lightning
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger
    from torch.utils.data import DataLoader, TensorDataset

    from tensorboard_plugin_scram import ScramLightningCallback

    class Module(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.loss_fn = net, nn.CrossEntropyLoss()

        def training_step(self, batch: Any, index: int) -> torch.Tensor:
            return self.loss_fn(self.net(batch[0]), batch[1])

        def validation_step(self, batch: Any, index: int) -> None:
            self.log(val_name, self.loss_fn(self.net(batch[0]), batch[1]))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=lr)

    scram = ScramLightningCallback(verbose=False)
    checkpointing = any(isinstance(c, ModelCheckpoint) for c in callbacks)
    trainer = lightning.Trainer(max_epochs=epochs, callbacks=[scram, *callbacks], logger=TensorBoardLogger(log_dir),
                                enable_progress_bar=False, enable_model_summary=False,
                                enable_checkpointing=checkpointing, accelerator="cpu", default_root_dir=log_dir)
    trainer.fit(Module(), DataLoader(TensorDataset(*train), batch_size=batch, shuffle=True),
                DataLoader(TensorDataset(*val), batch_size=100))
    return list(scram.diagnostics)


@scenario()
def healthy_lightning(log_dir: str) -> list[Diagnostic]:
    """A LightningModule (MLP, loss module as self.loss_fn) under the Trainer, CPU."""
    x, y = digits()
    return lightning_fit(log_dir, mlp(hidden=(64,)), (x[:1400], y[:1400]), (x[1400:], y[1400:]))


def _memorising(log_dir: str, checkpoint: bool) -> list[Diagnostic]:
    """100 digits in one batch under a wide MLP, validation logged as `val/loss`, EarlyStopping(patience=5)."""
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    x, y = digits()
    kept = (ModelCheckpoint(dirpath=os.path.join(log_dir, "ckpts"), monitor="val/loss"),) if checkpoint else ()
    return lightning_fit(log_dir, mlp(hidden=(512, 512)), (x[:100], y[:100]), (x[400:700], y[400:700]), epochs=40,
                         batch=100, lr=3e-3, val_name="val/loss",
                         callbacks=(EarlyStopping(monitor="val/loss", patience=5), *kept))


@scenario(expected=("overfitting",))
def lightning_early_stopping_keeps_the_last_epoch(log_dir: str) -> list[Diagnostic]:
    """Lightning's EarlyStopping stops 5 epochs past the best and never restores the best weights."""
    return _memorising(log_dir, checkpoint=False)


@scenario()
def lightning_early_stopping_with_best_checkpoint(log_dir: str) -> list[Diagnostic]:
    """The same with a ModelCheckpoint on val/loss: the best epoch is kept, so overfitting is info only."""
    return _memorising(log_dir, checkpoint=True)


# -- scoring ------------------------------------------------------------------------------------------


def judge(case: TorchScenario, diagnostics: list[Diagnostic]) -> dict[str, Any]:
    alarms = sorted({d.check for d in diagnostics if d.severity.value != "info"})
    off_target = [c for c in alarms if c not in case.expected | case.tolerated]
    return {"scenario": case.name, "faulty": bool(case.expected), "alarms": alarms,
            "found": bool(case.expected & set(alarms)), "off_target": off_target}


def run(names: list[str] | None = None, seeds: int = 3) -> list[dict[str, Any]]:
    results = []
    for case in (SCENARIOS[n] for n in names) if names else SCENARIOS.values():
        for seed in range(1 if case.expected else seeds):
            torch.manual_seed(seed)
            started = time.perf_counter()
            with tempfile.TemporaryDirectory() as log_dir:
                row = judge(case, case.run(os.path.join(log_dir, case.name)))
            results.append({**row, "seed": seed, "seconds": round(time.perf_counter() - started, 1)})
            print(f"{row['scenario']:<34} seed {seed}  {'found' if row['found'] else '-':<6} "
                  f"alarms={row['alarms']} off_target={row['off_target']}", flush=True)
    return results


def summary(results: list[dict[str, Any]]) -> str:
    faulty = [r for r in results if r["faulty"]]
    healthy = [r for r in results if not r["faulty"]]
    alarms = [r for r in faulty if r["alarms"]]
    precise = [r for r in alarms if not r["off_target"]]
    false_alarms = [r for r in healthy if r["alarms"]]
    return (f"PyTorch zoo: recall {sum(r['found'] for r in faulty)}/{len(faulty)}, runs with no off-target alarm "
            f"{len(precise)}/{len(alarms)}; healthy runs with a false alarm: {len(false_alarms)} of {len(healthy)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.zoo_torch", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(SCENARIOS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds per healthy setup (the sweep)")
    parser.add_argument("--json", help="write the per-run results here")
    args = parser.parse_args(argv)
    results = run(args.only, args.seeds)
    print(summary(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
