"""What SCRAM's static checks need to know of a PyTorch run, read from its modules.

The module tree, the loss module and the optimizer become the fields of `RunInfo` in
SCRAM's vocabulary (the Keras names of the losses and optimizers), so that every check
with a meaning in PyTorch judges a PyTorch run by the same rule. Read once, at the first
call of the loss module (or the first step), from the tensors that call sees.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from tensorboard_plugin_scram.checks import _losses
from tensorboard_plugin_scram.checks._advice import PYTORCH
from tensorboard_plugin_scram.keras_adapter import source
from tensorboard_plugin_scram.observations import LossInfo, OutputInfo, RunInfo

# Attributes a LightningModule (or any module) usually keeps its loss module in.
LOSS_ATTRIBUTES = ("loss_fn", "criterion", "loss_func", "loss_function", "loss_module", "loss")
# `nn` loss classes -> SCRAM's (Keras) name and whether the loss takes logits.
_LOSSES: dict[str, tuple[str, bool]] = {
    "BCEWithLogitsLoss": ("binary_crossentropy", True),
    "BCELoss": ("binary_crossentropy", False),
    "NLLLoss": (_losses.NEGATIVE_LOG_LIKELIHOOD, False),
    "MSELoss": ("mean_squared_error", False),
    "L1Loss": ("mean_absolute_error", False),
    "HuberLoss": ("huber", False),
    "SmoothL1Loss": ("huber", False),
}
_ACTIVATIONS = {
    nn.Softmax: "softmax", nn.LogSoftmax: "log_softmax", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh",
    nn.ReLU: "relu", nn.ReLU6: "relu6", nn.ELU: "elu", nn.SELU: "selu", nn.GELU: "gelu", nn.SiLU: "silu",
    nn.Softplus: "softplus", nn.LeakyReLU: "leaky_relu", nn.Hardsigmoid: "hard_sigmoid", nn.Hardtanh: "hard_tanh",
    nn.Softsign: "softsign",
}
_AFFINE = (nn.Linear, nn.Bilinear, nn.LazyLinear, nn.modules.conv._ConvNd)
# Modules whose forward differs between train() and eval() mode.
MODE_DEPENDENT = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)
# Output values needed before "every value strictly between 0 and 1" reads as a sigmoid.
_SIGMOID_EVIDENCE = 32
_TOLERANCE = 1e-3


def find_loss_module(module: nn.Module) -> nn.Module | None:
    """The loss module a model (a LightningModule) keeps as an attribute, if any."""
    for name in LOSS_ATTRIBUTES:
        candidate = getattr(module, name, None)
        if isinstance(candidate, nn.Module) and type(candidate).__name__.endswith("Loss"):
            return candidate
    return None


def loss_info(loss_fn: Any, target: torch.Tensor | None) -> LossInfo | None:
    """The loss module in SCRAM's terms, or None for one it does not know.

    `nn.CrossEntropyLoss` takes class ids (integer targets: the sparse loss) or class
    probabilities (float targets: the categorical one); its `ignore_index` is always in force.
    """
    kind = type(loss_fn).__name__
    if kind == "CrossEntropyLoss":
        probabilities = target is not None and target.is_floating_point()
        name = "categorical_crossentropy" if probabilities else "sparse_categorical_crossentropy"
        return LossInfo(name, from_logits=True, ignore_class=int(getattr(loss_fn, "ignore_index", -100)))
    if kind == "NLLLoss":
        return LossInfo(_losses.NEGATIVE_LOG_LIKELIHOOD, ignore_class=int(getattr(loss_fn, "ignore_index", -100)))
    if kind in _LOSSES:
        name, logits = _LOSSES[kind]
        return LossInfo(name, from_logits=logits)
    return None


def class_dim(loss: LossInfo | None, output: torch.Tensor) -> int:
    """The axis of the output that holds the classes: 1 for `CrossEntropyLoss`/`NLLLoss`, else the last."""
    if loss is not None and loss.name in _losses.SPARSE + _losses.CATEGORICAL and output.dim() >= 2:
        return 1
    return output.dim() - 1


def output_info(output: torch.Tensor, loss: LossInfo | None, last_module: tuple[str, nn.Module] | None,
                last_output: torch.Tensor | None = None) -> OutputInfo:
    """The model's output: its width, and its activation from the last module run or from its values.

    `last_output`: what the last module returned. When the loss receives that very tensor (or a
    view of it, `squeeze(1)` say), a known module says what the output is: small logits that
    happen to lie in (0, 1) are not a sigmoid's. Otherwise `forward()` may have applied an
    activation of its own (`torch.sigmoid(x)`), and only the values can tell.
    """
    dim = class_dim(loss, output)
    units = int(output.shape[dim]) if output.dim() >= 2 else 1
    name, module = last_module if last_module is not None else ("output", None)
    if module is not None and _same_storage(output, last_output) and activation_of(module) is not None:
        return OutputInfo(layer=name, units=units, activation=activation_of(module))
    with torch.no_grad():
        activation = _activation_from_values(output.detach().float(), dim if output.dim() >= 2 else 0, units)
    if activation is None and module is not None:
        activation = activation_of(module)
        if activation == "linear" and _within_unit_interval(output):
            activation = None  # a sigmoid applied in forward(): not raw scores
    return OutputInfo(layer=name, units=units, activation=activation)


def activation_of(module: nn.Module) -> str | None:
    """`"relu"` for an `nn.ReLU`, `"linear"` for an affine layer, None for anything else."""
    for kind, name in _ACTIVATIONS.items():
        if isinstance(module, kind):
            return name
    return "linear" if isinstance(module, _AFFINE) else None


def _same_storage(output: torch.Tensor, other: torch.Tensor | None) -> bool:
    """Whether `output` holds exactly `other`'s values: the same tensor, or a view of it of the same size."""
    return (isinstance(other, torch.Tensor) and output.numel() == other.numel()
            and output.data_ptr() == other.data_ptr())


def _within_unit_interval(output: torch.Tensor) -> bool:
    with torch.no_grad():
        values = output.detach()
        return bool(values.numel()) and bool(((values >= 0) & (values <= 1)).all())


def _activation_from_values(values: torch.Tensor, dim: int, units: int) -> str | None:
    """softmax, log_softmax or sigmoid when the output's values can only have come from one."""
    if not values.numel() or not bool(torch.isfinite(values).all()):
        return None
    if units >= 2 and values.dim() >= 2:
        if bool((values >= 0).all()) and bool(torch.allclose(values.sum(dim), torch.ones(()), atol=_TOLERANCE)):
            return "softmax"
        if bool((values <= 0).all()) and bool(torch.allclose(values.exp().sum(dim), torch.ones(()), atol=_TOLERANCE)):
            return "log_softmax"
    if units == 1 and bool(torch.all(values == 1)):
        return "softmax"  # a softmax over one value: nothing else gives exactly 1.0 everywhere
    if values.numel() >= _SIGMOID_EVIDENCE and bool(((values > 0) & (values < 1)).all()):
        return "sigmoid"
    return None


def optimizer_facts(optimizers: Sequence[torch.optim.Optimizer]) -> dict[str, Any]:
    """`RunInfo` fields of the (first) optimizer: its class, learning rate, peak rate and momentum.

    The peak is the highest of each group's `lr`, `initial_lr` and `max_lr`: a scheduler's
    warm-up lowers `lr` as soon as it is created, and `OneCycleLR` keeps its peak in `max_lr`.
    """
    if not optimizers:
        return {}
    optimizer = optimizers[0]
    groups = list(getattr(optimizer, "param_groups", ()))
    rates = [float(g["lr"]) for g in groups if _number(g.get("lr"))]
    peaks = [float(g[key]) for g in groups for key in ("lr", "initial_lr", "max_lr") if _number(g.get(key))]
    facts: dict[str, Any] = {"optimizer": type(optimizer).__name__,
                             "learning_rate": max(rates) if rates else None,
                             "peak_learning_rate": max(peaks) if peaks else None}
    if type(optimizer).__name__ == "SGD" and groups:
        facts["momentum"] = float(groups[0].get("momentum", 0.0) or 0.0)
    return facts


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def optimized_parameters(optimizers: Iterable[torch.optim.Optimizer]) -> list[nn.Parameter]:
    """Every parameter the optimizers update, each once."""
    seen: dict[int, nn.Parameter] = {}
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            for param in group["params"]:
                seen.setdefault(id(param), param)
    return list(seen.values())


def parameter_counts(model: nn.Module, optimizers: Sequence[torch.optim.Optimizer]) -> dict[str, int]:
    """`trainable_params`: values that require a gradient and that an optimizer updates; `total_params`."""
    stepped = optimized_parameters(optimizers) if optimizers else list(model.parameters())
    trainable = sum(p.numel() for p in stepped if p.requires_grad)
    return {"trainable_params": int(trainable), "total_params": int(sum(p.numel() for p in model.parameters()))}


def input_facts(inputs: torch.Tensor | None, model: nn.Module) -> dict[str, Any]:
    """Batch size, values per sample, image-shaped inputs and token ids feeding an `nn.Embedding`."""
    facts: dict[str, Any] = {}
    if any(isinstance(m, nn.Embedding) for m in model.modules()):
        facts["embedding_inputs"] = ("*",)
    if isinstance(inputs, torch.Tensor) and inputs.dim() >= 1 and len(inputs):
        facts["batch_size"] = int(inputs.shape[0])
        facts["input_sizes"] = {"x": int(inputs[0].numel())}
        if inputs.dim() == 4 and inputs.shape[1] <= 4:  # (batch, channels, height, width)
            facts["image_inputs"] = ("x",)
    return facts


def run_info(model: nn.Module, optimizers: Sequence[torch.optim.Optimizer], loss_fn: Any = None,
             output: torch.Tensor | None = None, target: torch.Tensor | None = None,
             inputs: torch.Tensor | None = None, last_module: tuple[str, nn.Module] | None = None,
             locations: tuple[str | None, str | None] = (None, None),
             last_output: torch.Tensor | None = None) -> RunInfo:
    """Everything known of a PyTorch run at its first step, as SCRAM's `RunInfo`.

    `last_module` and `last_output`: the last module the forward pass ran, and what it returned.
    """
    loss = loss_info(loss_fn, target) if loss_fn is not None else None
    outputs = (output_info(output, loss, last_module, last_output),) if isinstance(output, torch.Tensor) else ()
    return RunInfo(
        framework=PYTORCH,
        losses=(loss,) if loss is not None and outputs else (),
        outputs=outputs,
        compile_location=locations[0],
        fit_location=locations[1],
        **optimizer_facts(optimizers),
        **parameter_counts(model, optimizers),
        **input_facts(inputs, model),
    )


def optimizer_location(optimizer_class: str | None, path: str | None, before_line: int | None,
                       within: tuple[int, int] | None = None) -> str | None:
    """`"train.py:12"` of the call creating the optimizer (`torch.optim.Adam(...)`) in the user's file."""
    if not path or not optimizer_class:
        return None
    lines = [n for n in source._method_call_lines(path, optimizer_class)
             if (before_line is None or n <= before_line) and (within is None or within[0] <= n < within[1])]
    return f"{source._display_name(path)}:{max(lines)}" if lines else None


def caller_locations(optimizer_class: str | None) -> tuple[str | None, str | None]:
    """`(optimizer line, SCRAM's line)` in the user's code that is creating SCRAM (a plain loop).

    The optimizer line is the last call of its class (`torch.optim.Adam(...)`) above SCRAM's line.
    """
    frame = source.user_frame()
    if frame is None:
        return None, None
    path, line = frame.f_code.co_filename, frame.f_lineno
    return optimizer_location(optimizer_class, path, line), f"{source._display_name(path)}:{line}"


def method_lines(method: Any) -> tuple[str, tuple[int, int]] | None:
    """The file and line range of a method's source (a LightningModule's `configure_optimizers`)."""
    try:
        path = inspect.getsourcefile(method)
        lines, start = inspect.getsourcelines(method)
    except (OSError, TypeError):
        return None
    return (path, (start, start + len(lines))) if path else None
