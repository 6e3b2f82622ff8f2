"""Shared knowledge the checks' messages draw on: optimizers' usual learning rates, and the
framework's idiom for the snippets (Keras, or PyTorch when `RunInfo.framework` says so)."""

from __future__ import annotations

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
