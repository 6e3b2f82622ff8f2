"""Shared knowledge the checks' messages draw on: optimizers' usual learning rates, and the
framework's idiom for the snippets (Keras, or PyTorch when `RunInfo.framework` says so)."""

from __future__ import annotations

from typing import TypeVar

# Conventional learning-rate ranges and a safe default per optimizer (lower-cased class
# name). Adam-family values follow Kingma & Ba and Keras' defaults; SGD's follow common
# practice (0.01-0.1 with momentum). Outside these ranges training usually diverges or
# stalls.
LEARNING_RATE_RANGES: dict[str, tuple[float, float, float]] = {
    "adam": (1e-5, 1e-2, 1e-3),
    "adamw": (1e-5, 1e-2, 1e-3),
    "nadam": (1e-5, 1e-2, 1e-3),
    "adamax": (1e-5, 1e-2, 2e-3),
    "lamb": (1e-5, 1e-2, 1e-3),
    "rmsprop": (1e-5, 1e-2, 1e-3),
    "adagrad": (1e-4, 1e-1, 1e-2),
    "adadelta": (1e-3, 10.0, 1.0),
    "adafactor": (1e-5, 1e-2, 1e-3),
    "lion": (1e-6, 1e-3, 1e-4),
    "ftrl": (1e-4, 1.0, 1e-3),
    "sgd": (1e-4, 1.0, 1e-2),
    # PyTorch's own: RAdam follows Adam, averaged SGD follows SGD.
    "radam": (1e-5, 1e-2, 1e-3),
    "asgd": (1e-4, 1.0, 1e-2),
}

PYTORCH = "pytorch"

_Said = TypeVar("_Said")


def learning_rate_range(optimizer: str | None) -> tuple[float, float, float] | None:
    """`(low, high, suggested)` for an optimizer class name, or None if unknown."""
    return LEARNING_RATE_RANGES.get((optimizer or "").lower())


def optimizer_snippet(optimizer: str | None, learning_rate: float, framework: str = "keras") -> str:
    """The line that creates the optimizer with a given learning rate, in the framework's idiom."""
    name = optimizer if learning_rate_range(optimizer) else "Adam"
    if framework == PYTORCH:
        return f"optimizer = torch.optim.{name}(model.parameters(), lr={learning_rate:g})"
    return (
        f"optimizer = keras.optimizers.{name}(learning_rate={learning_rate:g})\n"
        "model.compile(optimizer=optimizer, loss=..., metrics=[...])"
    )


def momentum_snippet(learning_rate: float, framework: str = "keras") -> str:
    """SGD with the usual momentum 0.9 at a given learning rate."""
    if framework == PYTORCH:
        return f"optimizer = torch.optim.SGD(model.parameters(), lr={learning_rate:g}, momentum=0.9)"
    return f"keras.optimizers.SGD(learning_rate={learning_rate:g}, momentum=0.9)"


def unfreeze_advice(framework: str = "keras") -> tuple[str, str, str]:
    """`(likely cause, suggestion, snippet)` for a model none of whose weights will be trained."""
    if framework == PYTORCH:
        return ("Most likely every parameter was frozen (requires_grad=False), or the optimizer was given "
                "only frozen ones.",
                "Unfreeze the parameters you want to train (or add a trainable head), then create the "
                "optimizer over them.",
                "for p in model.fc.parameters():  # the layers to train\n    p.requires_grad = True\n"
                "optimizer = torch.optim.Adam((p for p in model.parameters() if p.requires_grad), lr=1e-3)")
    return ("Most likely the model or all its layers were frozen (trainable=False).",
            "Unfreeze the layers you want to train (or add a trainable head), then compile again.",
            "for layer in model.layers[-2:]:  # the layers to train\n    layer.trainable = True\n"
            "model.compile(optimizer=..., loss=..., metrics=[...])")


def idiom(framework: str, keras: _Said, pytorch: _Said) -> _Said:
    """What to say in the run's framework: `pytorch` in a PyTorch run, else `keras`."""
    return pytorch if framework == PYTORCH else keras


def gradient_clipping(framework: str = "keras") -> str:
    """How to clip the gradients' norm at 1: an optimizer argument in Keras, a call in a PyTorch loop."""
    return idiom(framework, "clipnorm=1.0", "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0) between "
                 "loss.backward() and optimizer.step()")


def clipped_optimizer_snippet(optimizer: str | None, learning_rate: float, framework: str = "keras") -> str:
    """The optimizer at a given learning rate, with the gradients' norm clipped at 1."""
    if framework == PYTORCH:
        return (optimizer_snippet(optimizer, learning_rate, framework) + "\n...\nloss.backward()\n"
                "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # after backward(), before step()\n"
                "optimizer.step()")
    name = optimizer if learning_rate_range(optimizer) else "Adam"
    return (f"optimizer = keras.optimizers.{name}(learning_rate={learning_rate:g}, clipnorm=1.0)\n"
            "model.compile(optimizer=optimizer, loss=..., metrics=[...])")


# PyTorch's layers initialise themselves at a scale that follows their width; He initialisation
# suits the layers before a ReLU. Said where weights initialised too large are the likely cause.
TORCH_DEFAULT_INIT = ("PyTorch's own initialisation of nn.Linear and nn.Conv2d, or He initialisation "
                      "(nn.init.kaiming_normal_) for the layers before a ReLU")
_TORCH_HE_INIT = ("for module in model.modules():  # He initialisation for the layers before a ReLU\n"
                  "    if isinstance(module, (nn.Linear, nn.Conv2d)):\n"
                  "        nn.init.kaiming_normal_(module.weight, nonlinearity=\"relu\")\n"
                  "        if module.bias is not None:\n"
                  "            nn.init.zeros_(module.bias)")


def he_init_snippet(framework: str = "keras") -> str:
    """A ReLU layer initialised at the scale its activation needs (He)."""
    return idiom(framework, 'keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal")',
                 _TORCH_HE_INIT)


def module_path(name: str) -> str:
    """How PyTorch code reaches a named submodule: `model.fc1`, `model.get_submodule("layers.0")`."""
    if name and all(part.isidentifier() for part in name.split(".")):
        return f"model.{name}"
    return f'model.get_submodule("{name}")'


def torch_norm_layer(kind: str) -> str:
    """The normalisation module that fits after a PyTorch layer of this class (`"Conv2d"`, `"Linear"`)."""
    if kind.startswith("Conv") and kind[-2:] in ("1d", "2d", "3d"):
        return f"nn.BatchNorm{kind[-2:]}(out_channels)"
    if kind in ("RNN", "LSTM", "GRU"):
        return "nn.LayerNorm(hidden_size)"  # batch statistics do not suit recurrent states
    return "nn.BatchNorm1d(out_features)"


def shuffled_loader(batch_size: int | str = 64, dataset: str = "dataset") -> str:
    """A PyTorch DataLoader that reshuffles the samples at every epoch."""
    return f"loader = DataLoader({dataset}, batch_size={batch_size}, shuffle=True)"


def torch_drop_nonfinite(tensor: str = "x_train") -> str:
    """Keeping the samples without NaN or Inf in `tensor`, in PyTorch."""
    return (f"ok = torch.isfinite({tensor}).reshape(len({tensor}), -1).all(1)  # samples without NaN or Inf\n"
            "x_train, y_train = x_train[ok], y_train[ok]\n"
            "# or with pandas, before making tensors: df = df.dropna()")


TORCH_STANDARDISE = ("mean, std = x_train.mean(0), x_train.std(0) + 1e-8   # per column, from the training data\n"
                     "x_train, x_test = (x_train - mean) / std, (x_test - mean) / std   # the same for validation")
