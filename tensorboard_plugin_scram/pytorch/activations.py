"""Activations and predictions of one training forward pass of a PyTorch model, on sampled steps.

The numbers mean what they mean on the Keras side (`keras_adapter/internals.py`), so that
`dead_relu`, `saturated_activations`, `constant_predictions` and `nan_loss` judge them by the
same thresholds:

- a ReLU unit (a feature of a linear layer's output, a channel of a convolution's) is dead
  when it is zero for every sample (and every position) of the batch;
- a hidden sigmoid or tanh output is saturated within 1% of the activation's range from one
  of its limits; the model's output is not judged (a confident classifier's sigmoid is
  pinned by design);
- the predictions (what the loss module receives, else the root module's output) give their
  standard deviation across samples per output, averaged over outputs, and for a
  classification loss the share of the most common predicted class.

`ActivationProbe.arm()` installs forward hooks for the next training forward pass only, on
the activation modules (`nn.ReLU`, `nn.ReLU6`, `nn.Sigmoid`, `nn.Tanh`, `nn.Hardsigmoid`),
the modules holding trainable parameters (whose outputs are only checked for NaN/Inf) and the
root; the pass removes them as it ends, so other steps pay nothing. Each hook reduces an output
on its own device, under `no_grad` and in float32, to one or two numbers; `combine()` copies
them to the host at once, after the optimizer's step. Activations applied as functions in
`forward()` (`torch.relu(x)`) have no module to hook and are not measured. The hooks only read.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from tensorboard_plugin_scram.checks._losses import is_classification
from tensorboard_plugin_scram.observations import LayerStats, LossInfo, ModelStats, PredictionStats
from tensorboard_plugin_scram.pytorch import model_facts

# As `keras_adapter.internals` (which imports Keras): within 1% of the range from a limit,
# where the derivative is below about 4% of its peak (sigmoid 0.01/0.99, tanh +-0.98).
SATURATION_MARGIN = {"sigmoid": 0.01, "hard_sigmoid": 0.01, "tanh": 0.02}
RELU_LIKE = ("relu", "relu6")
# Modules whose outputs put the channels on axis 1 (N, C, ...), as PyTorch's convolutions do.
_CHANNELS_FIRST = (nn.modules.conv._ConvNd, nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LocalResponseNorm)
# A module run more often than this in one pass (an activation inside a loop over time steps)
# is measured on its first calls only.
_CALLS_MEASURED = 4
_NOT_MEASURED = -1.0


@dataclasses.dataclass
class _Record:
    """One module call of the measured pass: what it is, and its statistics still on the device."""

    name: str
    module: nn.Module
    activation: str | None
    units: int | None
    values: dict[str, torch.Tensor]  # "nonfinite", "dead", "saturated": 0-d tensors
    storage: int  # the output's storage, to tell the model's output among the activations


class ActivationProbe:
    """Per-module activation statistics and the predictions of one training forward pass, when armed.

    Args:
        model: The root module.
        layers: The modules holding trainable parameters, by name (those `LayerNorms` measures).
        loss_fn: The loss module, if known: its inputs are the predictions, and its kind tells
            classification from regression.
        on_error: Called with any exception raised inside the probe; the probe then switches off.
    """

    def __init__(self, model: nn.Module, layers: Sequence[tuple[str, nn.Module]], loss_fn: Any,
                 on_error: Callable[[BaseException], None]) -> None:
        self._model, self._loss_fn, self._on_error = model, loss_fn, on_error
        self._layers = [(name, module) for name, module in layers if module is not model]
        # Frozen modules (a pretrained backbone): what follows them is no fault of this training.
        self._frozen = [module for module in model.modules() if module is not model and _frozen(module)]
        self._frozen_ids = {id(module) for module in self._frozen}
        self._activations = [(name, module, kind) for name, module in model.named_modules()
                             if (kind := model_facts.activation_of(module)) in (*RELU_LIKE, *SATURATION_MARGIN)]
        self.enabled = True
        self.seconds = 0.0  # time its hooks took in the forward passes, for the session to count
        self._handles: list[Any] = []
        self._reset()

    # -- arming --------------------------------------------------------------------------------

    def arm(self) -> None:
        """Measures the next training forward pass (any earlier measurement not taken is dropped)."""
        self._run(self._arm)

    def _arm(self) -> None:
        self._reset()
        if self._handles:
            return
        for name, module, kind in self._activations:
            self._handles.append(module.register_forward_hook(self._hook(name, kind)))
        for name, module in self._layers:
            self._handles.append(module.register_forward_hook(self._hook(name, None)))
        for module in self._frozen:
            self._handles.append(module.register_forward_hook(self._on_frozen))
        self._handles.append(self._model.register_forward_hook(self._on_root))

    def _reset(self) -> None:
        self._records: list[_Record] = []
        self._calls: dict[int, int] = {}
        self._previous: nn.Module | None = None  # the module with parameters that ran last
        self._predictions: torch.Tensor | None = None
        self._outputs: set[int] = set()  # storages of the model's outputs: no hidden layer's
        self._from_loss = False

    def _disarm(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def close(self) -> None:
        """Removes any hook still installed."""
        self._disarm()

    # -- the hooks (armed only) ----------------------------------------------------------------

    def _hook(self, name: str, activation: str | None) -> Callable:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if torch.is_grad_enabled():  # validation under no_grad is no training pass
                self._run(self._record, name, module, activation, output)
        return hook

    def _on_frozen(self, module: nn.Module, args: Any, output: Any) -> None:
        if torch.is_grad_enabled():
            self._previous = module

    def _on_root(self, module: nn.Module, args: Any, output: Any) -> None:
        if torch.is_grad_enabled():
            self._run(self._root_output, output)

    def see_loss_input(self, output: Any, target: Any) -> None:
        """The loss module's inputs: the predictions it judges (preferred to the root's output)."""
        if self._handles or self._records:
            self._run(self._loss_input, output, target)

    def _record(self, name: str, module: nn.Module, activation: str | None, output: Any) -> None:
        started = time.perf_counter()
        calls = self._calls[id(module)] = self._calls.get(id(module), 0) + 1
        tensor = _first_tensor(output)
        if tensor is not None and self._measures(calls, activation, tensor):
            shown = name if calls == 1 else f"{name} (call {calls})"
            axis = _channel_axis(tensor, self._previous)
            units = int(tensor.shape[axis]) if tensor.dim() >= 2 else None
            with torch.no_grad():
                values = _statistics(tensor.detach(), activation, axis)
            self._records.append(_Record(shown, module, activation, units, values, _storage(tensor)))
        if activation is None:
            self._previous = module
        self.seconds += time.perf_counter() - started

    def _measures(self, calls: int, activation: str | None, tensor: torch.Tensor) -> bool:
        """A parametrised module's first call places it; an activation's later calls are layers of their own,
        unless it follows a frozen module (its units are not this training's doing)."""
        if tensor.layout != torch.strided or calls > (_CALLS_MEASURED if activation else 1):
            return False
        return activation is None or id(self._previous) not in self._frozen_ids

    def _root_output(self, output: Any) -> None:
        self._disarm()  # the pass is over: a recomputation in backward (checkpointing) is not recorded
        self._outputs.update(_storage(tensor) for tensor in _tensors(output))
        if self._predictions is None:
            self._keep_predictions(_first_tensor(output), None)

    def _loss_input(self, output: Any, target: Any) -> None:
        self._disarm()
        if isinstance(output, torch.Tensor):
            self._outputs.add(_storage(output))
            if not self._from_loss:
                self._keep_predictions(output, target)
                self._from_loss = True

    def _keep_predictions(self, output: torch.Tensor | None, target: Any) -> None:
        if output is None or not output.numel():
            return
        started = time.perf_counter()
        loss = model_facts.loss_info(self._loss_fn, target if isinstance(target, torch.Tensor) else None) \
            if self._loss_fn is not None else None
        with torch.no_grad():
            self._predictions = prediction_row(output.detach(), loss)
        self.seconds += time.perf_counter() - started

    # -- the result ----------------------------------------------------------------------------

    def combine(self, stats: ModelStats | None) -> ModelStats | None:
        """The layers' norms (`LayerNorms`) with the measured pass's statistics, in the pass's order.

        Parametrised modules take their place at their first call, carrying whether their
        output held NaN or Inf; activation modules come as layers of their own (as Keras'
        `ReLU` layers do). Modules the pass did not run keep their place after the others.
        """
        if not self.enabled:
            return stats
        try:
            return self._combine(stats) if self._records or self._predictions is not None else stats
        except Exception as error:  # SCRAM must never break training
            self._fail(error)
            return stats
        finally:
            self._disarm()
            self._reset()

    def _combine(self, stats: ModelStats | None) -> ModelStats:
        numbers = _on_host([value for record in self._records for value in record.values.values()]
                           + ([self._predictions] if self._predictions is not None else []))
        norms = {layer.name: layer for layer in stats.layers} if stats is not None else {}
        read = iter(numbers)
        layers = [self._layer(record, {key: next(read) for key in record.values}, norms) for record in self._records]
        placed = {layer.name for layer in layers}
        layers += [layer for name, layer in norms.items() if name not in placed]
        predictions = prediction_stats(next(read)) if self._predictions is not None else None
        return ModelStats(layers=tuple(layers), predictions=predictions)

    def _layer(self, record: _Record, values: dict[str, Any], norms: dict[str, LayerStats]) -> LayerStats:
        nonfinite = bool(values["nonfinite"])
        if record.activation is None:  # a parametrised module: its norms, and NaN in its output
            known = norms.get(record.name)
            if known is None:
                return LayerStats(name=record.name, kind=type(record.module).__name__, nonfinite_output=nonfinite,
                                  units=record.units)
            return dataclasses.replace(known, nonfinite_output=nonfinite)
        is_output = record.storage in self._outputs
        saturated = values.get("saturated")
        return LayerStats(name=record.name, kind=type(record.module).__name__, activation=record.activation,
                          dead_fraction=values.get("dead"), nonfinite_output=nonfinite, units=record.units,
                          saturated_fraction=None if is_output or saturated is None else saturated)

    # -- failure -------------------------------------------------------------------------------

    def _run(self, part: Callable, *args: Any) -> None:
        if not self.enabled:
            return
        try:
            part(*args)
        except Exception as error:  # SCRAM must never break training
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        self.enabled = False
        self._disarm()
        self._reset()
        self._on_error(error)


# -- statistics on the device ------------------------------------------------------------------


def _statistics(output: torch.Tensor, activation: str | None, axis: int) -> dict[str, torch.Tensor]:
    """NaN/Inf in the output, and the dead or saturated share for a ReLU or a sigmoid/tanh."""
    values = {"nonfinite": ~torch.isfinite(output).all()}
    if activation in RELU_LIKE and output.dim() >= 2:
        values["dead"] = dead_share(output, axis)
    elif activation in SATURATION_MARGIN and output.numel():
        values["saturated"] = saturated_share(output, activation)
    return values


def dead_share(output: torch.Tensor, axis: int) -> torch.Tensor:
    """Share of the units (along `axis`) that are <= 0 for every sample and position."""
    others = tuple(d for d in range(output.dim()) if d != axis % output.dim())
    alive = output.amax(dim=others) > 0
    return 1.0 - alive.float().mean()


def saturated_share(output: torch.Tensor, activation: str) -> torch.Tensor:
    """Share of a sigmoid/tanh layer's outputs pinned near their limits, in float32."""
    values = output.float()
    margin = SATURATION_MARGIN[activation]
    if activation == "tanh":
        pinned = values.abs() > 1.0 - margin
    else:
        pinned = (values < margin) | (values > 1.0 - margin)
    return torch.count_nonzero(pinned) / pinned.numel()


def prediction_row(output: torch.Tensor, loss: LossInfo | None) -> torch.Tensor:
    """`[count, majority share, predicted classes, std]` of a batch of predictions (-1: not measured).

    The outputs' axis (the class axis of a cross-entropy) goes last; every other axis holds
    samples (or positions). The spread is the standard deviation across them per output,
    averaged over outputs; the classes are the argmax, or for one output the side of 0 (logits)
    or 0.5 (probabilities) it falls on.
    """
    values = output.float()
    if values.dim() >= 2:
        values = values.movedim(model_facts.class_dim(loss, values), -1)
    width = values.shape[-1] if values.dim() > 1 else 1
    rows = values.reshape(-1, width)
    count = torch.tensor(float(len(rows)), device=rows.device)
    std = rows.var(dim=0, unbiased=False).sqrt().mean()
    if loss is None or not is_classification(loss):
        missing = torch.tensor(_NOT_MEASURED, device=rows.device)
        return torch.stack([count, missing, missing, std])
    if width == 1:
        labels, classes = (rows[:, 0] > (0.0 if loss.from_logits else 0.5)).long(), 2
    else:  # NaN never wins
        labels, classes = torch.where(rows.isnan(), -math.inf, rows).argmax(dim=-1), width
    counts = torch.bincount(labels, minlength=classes)
    share = counts.max().float() / count
    return torch.stack([count, share, torch.count_nonzero(counts).float(), std])


def prediction_stats(row: Sequence[float]) -> PredictionStats:
    """`prediction_row` read back on the host."""
    count, share, classes, std = row
    return PredictionStats(count=int(count), majority_share=None if share == _NOT_MEASURED else float(share),
                           predicted_classes=None if classes == _NOT_MEASURED else int(classes), std=float(std))


# -- helpers -----------------------------------------------------------------------------------


def _on_host(tensors: list[torch.Tensor]) -> list[Any]:
    """The tensors' values as Python numbers (rows as lists), in one copy per device."""
    if not tensors:
        return []
    flat = [t.detach().float().reshape(-1) for t in tensors]
    devices = {t.device for t in flat}
    if len(devices) > 1:  # a model split over devices
        flat = [t.cpu() for t in flat]
    numbers = torch.cat(flat).tolist()
    values, start = [], 0
    for tensor, original in zip(flat, tensors, strict=True):
        chunk = numbers[start:start + tensor.numel()]
        values.append(chunk[0] if original.dim() == 0 else chunk)
        start += tensor.numel()
    return values


def _first_tensor(output: Any) -> torch.Tensor | None:
    """The output itself, or the first tensor of a tuple/list (an LSTM's) or dict (`logits` first)."""
    if isinstance(output, dict) and isinstance(output.get("logits"), torch.Tensor):
        return output["logits"]
    return next(iter(_tensors(output)), None)


def _tensors(output: Any) -> list[torch.Tensor]:
    """The tensors of an output, nested tuples, lists and dicts included, in order."""
    if isinstance(output, torch.Tensor):
        return [output]
    items = output.values() if isinstance(output, dict) else output if isinstance(output, (list, tuple)) else ()
    return [tensor for item in items for tensor in _tensors(item)]


def _channel_axis(output: torch.Tensor, previous: nn.Module | None) -> int:
    """The axis of a ReLU's units: 1 after a convolution or a normalisation over channels, else the last.

    Without a parametrised module before it, an image-shaped output (4 or more axes) is taken
    as PyTorch lays images out: channels first.
    """
    if output.dim() < 3:
        return output.dim() - 1 if output.dim() else 0
    if isinstance(previous, _CHANNELS_FIRST) or (previous is None and output.dim() >= 4):
        return 1
    return output.dim() - 1


def _frozen(module: nn.Module) -> bool:
    """Whether the module holds parameters of its own and none of them trains."""
    own = list(module.parameters(recurse=False))
    return bool(own) and not any(p.requires_grad for p in own)


def _storage(tensor: torch.Tensor) -> int:
    try:
        return tensor.untyped_storage().data_ptr()
    except Exception:  # tensors without storage (some subclasses)
        return id(tensor)
