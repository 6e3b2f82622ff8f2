"""Per-layer weight, gradient and update norms of one optimizer step, on sampled steps.

Read around the optimizer's own `step()`: just before it every gradient of the step is in
`.grad` (whatever the loop does with `zero_grad` afterwards), and just after it the change
of the weights is that one step's update. Nothing is read on the other steps.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import nn

from tensorboard_plugin_scram.keras_adapter.updates import MAX_PARAMS
from tensorboard_plugin_scram.observations import LayerStats, ModelStats


class LayerNorms:
    """The layers (modules holding trainable parameters of their own) of a model, measured on demand.

    Args:
        model: The root module.
        order: Module names in the order the forward pass ran them, if known (else the
            order of `named_modules()`).
        activations: The activation that follows each module in the forward pass, by name.
    """

    def __init__(self, model: nn.Module, order: Sequence[str] = (), activations: dict[str, str] | None = None) -> None:
        rank = {name: i for i, name in enumerate(order)}
        layers = [(name, module, [p for p in module.parameters(recurse=False) if p.requires_grad])
                  for name, module in model.named_modules()]
        layers = [layer for layer in layers if layer[2]]
        # Modules the forward pass never ran (or not seen) keep their place after the others.
        self._layers = sorted(layers, key=lambda layer: rank.get(layer[0], len(rank)))
        self._activations = dict(activations or {})
        self.enabled = sum(p.numel() for _, _, params in self._layers for p in params) <= MAX_PARAMS
        self._before: list[list[torch.Tensor]] | None = None
        self._grads: list[float | None] = []
        self.seconds = 0.0  # what the last `before_update` took

    @property
    def modules(self) -> list[tuple[str, nn.Module]]:
        """The measured modules by name, in forward order."""
        return [(name, module) for name, module, _ in self._layers]

    def before_update(self) -> None:
        """Reads the gradients and copies the weights, right before the optimizer's step."""
        if not self.enabled:
            return
        started = time.perf_counter()
        with torch.no_grad():
            self._grads = [_grad_norm(params) for _, _, params in self._layers]
            self._before = [[p.detach().clone() for p in params] for _, _, params in self._layers]
        self.seconds = time.perf_counter() - started

    def refresh_gradients(self) -> None:
        """Reads the gradients again, when they were completed after `before_update` ran.

        An optimizer stepped with a closure (`optimizer.step(closure)`, as Lightning does) runs
        its pre-step hook before the closure's backward pass: the gradients are only whole later.
        """
        if self._before is None:
            return
        with torch.no_grad():
            self._grads = [_grad_norm(params) for _, _, params in self._layers]

    def after_update(self) -> ModelStats | None:
        """The layers' statistics of the step that just ended; None when `before_update` did not run."""
        before, self._before = self._before, None
        if before is None or len(before) != len(self._layers):
            return None
        stats = []
        with torch.no_grad():
            for (name, module, params), copies, grad in zip(self._layers, before, self._grads, strict=True):
                update = _norm([p.detach() - c for p, c in zip(params, copies, strict=True)])
                stats.append(self._stats(name, module, params, grad_norm=grad, update_norm=update, update_steps=1))
        return ModelStats(layers=tuple(stats))

    def weights_now(self) -> ModelStats:
        """The layers' weight norms as they are now, nothing else: where a NaN went, at the loss's first NaN."""
        with torch.no_grad():
            return ModelStats(layers=tuple(self._stats(name, module, params) for name, module, params in self._layers))

    def _stats(self, name: str, module: nn.Module, params: Sequence[nn.Parameter], **measured: float) -> LayerStats:
        weight = _norm(params)
        return LayerStats(name=name or type(module).__name__, kind=type(module).__name__,
                          activation=self._activations.get(name), weight_norm=weight,
                          nonfinite_weights=not _finite(weight), units=_units(module), **measured)


def _norm(tensors: Sequence[torch.Tensor]) -> float:
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t.float()) for t in tensors])))


def _grad_norm(params: Sequence[nn.Parameter]) -> float:
    # A parameter the backward pass never reached has no .grad: its gradient is zero (a
    # detached layer), and the optimizer skips it.
    grads = [p.grad for p in params if p.grad is not None]
    return _norm(grads) if grads else 0.0


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def _units(module: nn.Module) -> int | None:
    for attribute in ("out_features", "out_channels", "hidden_size", "embedding_dim", "num_features"):
        value = getattr(module, attribute, None)
        if isinstance(value, int):
            return value
    return None
