"""The paper's three faulty training scripts and their fixes again, as plain PyTorch loops.

The same data, faults and fixes as `demo/scenarios.py`, written the way a PyTorch user would:
a hand-written loop, the usual `SummaryWriter` for TensorBoard's scalars, and `ScramMonitor`
(`scram.step(loss)` after each optimizer step, `scram.end_epoch(...)` after each epoch). The
models end in logits, as PyTorch's losses expect. Each run goes to `LOGDIR/torch/<name>`
(scalars) and `LOGDIR/torch/<name>/scram` (SCRAM). `python -m demo` imports this module only
with `--framework torch`, so the Keras demo never imports torch.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from demo import data
from demo.scenarios import Scenario
from tensorboard_plugin_scram import ScramMonitor
from tensorboard_plugin_scram.diagnostic import Diagnostic

RUN_PREFIX = "torch"  # runs are LOGDIR/torch/<scenario>, beside the Keras demo's LOGDIR/<scenario>
BATCH_SIZE = 32


def seed(value: int) -> None:
    """The demo's seed for torch's initialisation and shuffling."""
    torch.manual_seed(value)


# -- the loop ---------------------------------------------------------------------------------


class EarlyStopping:
    """Keras' `EarlyStopping(monitor="val_loss", restore_best_weights=True)` for a plain loop."""

    def __init__(self, model: nn.Module, patience: int = 3) -> None:
        self.model, self.patience = model, patience
        self.best, self.waited, self.best_state = float("inf"), 0, None

    def should_stop(self, val_loss: float) -> bool:
        if val_loss < self.best:
            self.best, self.waited = val_loss, 0
            self.best_state = copy.deepcopy(self.model.state_dict())
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore_best(self) -> None:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)


def accuracy(outputs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of right answers: argmax over class logits, or logit > 0 for one binary output."""
    predicted = outputs.argmax(1) if outputs.shape[1] > 1 else (outputs[:, 0] > 0).long()
    return float((predicted == labels.reshape(predicted.shape).long()).float().mean())


def split(x: np.ndarray, y: np.ndarray, validation: float) -> tuple[torch.Tensor, ...]:
    """The last `validation` share held out, as Keras' `validation_split`: x, y, x_val, y_val."""
    cut = int(len(x) * (1 - validation))
    return torch.as_tensor(x[:cut]), torch.as_tensor(y[:cut]), torch.as_tensor(x[cut:]), torch.as_tensor(y[cut:])


def evaluate(model: nn.Module, loss_fn: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        outputs = model(x)
        return float(loss_fn(outputs, y)), accuracy(outputs, y)


def fit(run_dir: str, model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: nn.Module,
        tensors: tuple[torch.Tensor, ...], epochs: int, patience: int | None = None) -> list[Diagnostic]:
    """Shuffled batches, a validation pass per epoch, optional early stopping; SCRAM watching."""
    x, y, x_val, y_val = tensors
    stopper = EarlyStopping(model, patience) if patience else None
    writer = SummaryWriter(run_dir)
    scram = ScramMonitor(model, optimizer, run_dir, loss_fn=loss_fn, verbose=False)  # the demo prints the report
    try:
        for epoch in range(epochs):
            train_loss = train_epoch(model, optimizer, loss_fn, x, y, scram)
            val_loss, val_accuracy = evaluate(model, loss_fn, x_val, y_val)
            scram.end_epoch(val_loss=val_loss, val_accuracy=val_accuracy)
            writer.add_scalar("loss/train", train_loss, epoch)
            writer.add_scalar("loss/validation", val_loss, epoch)
            if stopper is not None and stopper.should_stop(val_loss):
                break
    finally:
        scram.close()
        writer.close()
    if stopper is not None:
        stopper.restore_best()
    return scram.diagnostics


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: nn.Module, x: torch.Tensor,
                y: torch.Tensor, scram: ScramMonitor) -> float:
    """One pass over shuffled batches; the mean training loss."""
    model.train()
    losses = []
    for index in torch.randperm(len(x)).split(BATCH_SIZE):
        optimizer.zero_grad()
        outputs = model(x[index])
        loss = loss_fn(outputs, y[index])
        loss.backward()
        optimizer.step()
        scram.step(loss, accuracy=accuracy(outputs, y[index]))  # the second line SCRAM needs, with end_epoch
        losses.append(loss.item())
    return float(np.mean(losses))


# -- 1. Overfitting: a large fully connected network without regularisation ------------------


def _small_labelled_set(ds: data.Dataset) -> tuple[torch.Tensor, ...]:
    x = (ds.x_train[:400] / 255.0).astype("float32")  # a small labelled set, as users often have
    return split(x, ds.y_train[:400].astype("int64"), validation=0.25)


def _pixels(ds: data.Dataset) -> int:
    return int(np.prod(ds.x_train.shape[1:]))


def overfitting_fault(run_dir: str, epochs: int, ds: data.Dataset) -> list[Diagnostic]:
    model = nn.Sequential(nn.Flatten(), nn.Linear(_pixels(ds), 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                          nn.Linear(1024, 10))
    return fit(run_dir, model, torch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss(),
               _small_labelled_set(ds), epochs)


def overfitting_fixed(run_dir: str, epochs: int, ds: data.Dataset) -> list[Diagnostic]:
    model = nn.Sequential(nn.Flatten(), nn.Linear(_pixels(ds), 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    return fit(run_dir, model, torch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss(),
               _small_labelled_set(ds), epochs, patience=3)


# -- 2. A learning rate of 1e10 on a movie-review sentiment model -----------------------------


class SentimentModel(nn.Module):
    """Embedding, mean over the words (Keras' GlobalAveragePooling1D), a hidden layer, one logit."""

    def __init__(self, vocabulary: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, 16)
        self.hidden, self.out = nn.Linear(16, 16), nn.Linear(16, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(self.embedding(tokens).mean(dim=1))))


def _sentiment(run_dir: str, epochs: int, ds: data.Dataset, learning_rate: float) -> list[Diagnostic]:
    model = SentimentModel(int(ds.x_train.max()) + 1)
    tensors = split(ds.x_train.astype("int64"), ds.y_train.astype("float32")[:, None], validation=0.2)
    return fit(run_dir, model, torch.optim.Adam(model.parameters(), lr=learning_rate), nn.BCEWithLogitsLoss(),
               tensors, epochs)


def learning_rate_fault(run_dir: str, epochs: int, ds: data.Dataset) -> list[Diagnostic]:
    return _sentiment(run_dir, epochs, ds, learning_rate=1e10)


def learning_rate_fixed(run_dir: str, epochs: int, ds: data.Dataset) -> list[Diagnostic]:
    return _sentiment(run_dir, epochs, ds, learning_rate=1e-3)


# -- 3. Unnormalised image pixels ---------------------------------------------------------------


def _image_model(ds: data.Dataset) -> nn.Sequential:
    height, width, channels = ds.x_train.shape[1:]
    flat = 16 * ((height - 2) // 2) * ((width - 2) // 2)  # after the 3x3 convolution and 2x2 pooling
    return nn.Sequential(nn.Conv2d(channels, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(flat, 32),
                         nn.ReLU(), nn.Linear(32, 10))


def _images(run_dir: str, epochs: int, ds: data.Dataset, scale: float) -> list[Diagnostic]:
    x = ds.x_train.transpose(0, 3, 1, 2).astype("float32") / scale  # channels first, as nn.Conv2d expects
    model = _image_model(ds)
    return fit(run_dir, model, torch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss(),
               split(x, ds.y_train.astype("int64"), validation=0.2), epochs)


def normalization_fault(run_dir: str, epochs: int, ds: data.Dataset) -> list[Diagnostic]:
    return _images(run_dir, epochs, ds, scale=1.0)  # raw pixels, 0..255


def normalization_fixed(run_dir: str, epochs: int, ds: data.Dataset) -> list[Diagnostic]:
    return _images(run_dir, epochs, ds, scale=255.0)  # the snippet from SCRAM's message


# Expected and tolerated as in demo/scenarios.py, but for the loss: BCEWithLogitsLoss stays finite
# where Keras' sigmoid and binary cross-entropy reach NaN, so nan_loss is a possible consequence here.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("overfitting", "large MLP, no regularisation", overfitting_fault, "fashion_mnist", 20,
             ("overfitting",), quick_epochs=14),
    Scenario("overfitting_fixed", "dropout, smaller MLP, early stopping", overfitting_fixed, "fashion_mnist", 20, ()),
    Scenario("learning_rate", "Adam lr=1e10", learning_rate_fault, "imdb", 3,
             ("learning_rate_unusual", "loss_diverging"),
             tolerated=("nan_loss", "exploding_gradients", "update_ratio_unusual", "accuracy_at_chance",
                        "constant_predictions", "dead_relu")),
    Scenario("learning_rate_fixed", "Adam lr=1e-3", learning_rate_fixed, "imdb", 5, ()),
    Scenario("normalization", "raw pixels 0-255", normalization_fault, "cifar10", 5, ("input_not_normalized",),
             tolerated=("dead_relu", "saturated_activations", "loss_diverging")),
    Scenario("normalization_fixed", "pixels divided by 255", normalization_fixed, "cifar10", 5, ()),
)


def run_dir(logdir: str, scenario: Scenario) -> str:
    """Where a scenario's run goes: LOGDIR/torch/<scenario>."""
    return os.path.join(logdir, RUN_PREFIX, scenario.name)
