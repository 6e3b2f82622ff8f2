"""SCRAM on Keras' PyTorch backend: gradients by `torch.autograd.grad`, batches seen as the step takes them.

The measurement's forward pass runs the model as the train step does; `torch.autograd.grad`
returns its gradients without touching the weights' `.grad`, and what the pass changes
(batch normalisation statistics, metrics, the random generators dropout draws from) is
put back, so training goes on exactly as without SCRAM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import torch

from tensorboard_plugin_scram.keras_adapter.compat import keras_api, torch_api
from tensorboard_plugin_scram.keras_adapter.internals import LayerPlan, Pass, capturing
from tensorboard_plugin_scram.keras_adapter.step_tap import PythonStepProbes

# Batches reach Python as the step takes them: the internals are measured on one of
# them, after the step (`internals_probe`, `step_probe`: at the end).
MEASURES_IN_STEP = False


def gradient_pass(model: keras.Model, plans: Sequence[LayerPlan], x: Any, y: Any) -> Pass:
    """One forward and backward pass of (x, y) that leaves the model and the random state as they were."""
    restored = [*model.non_trainable_variables, *model.metrics_variables]
    saved = [v.value.detach().clone() for v in restored]
    tensors = [v.value for plan in plans for v in plan.variables]
    x, y = keras.tree.map_structure(keras.ops.convert_to_tensor, (x, y))
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    layers = [plan.layer for plan in plans]
    try:
        with torch.random.fork_rng(devices=devices), torch.enable_grad(), capturing(layers) as outputs:
            y_pred = model(x, training=True)
            loss = keras_api.training_loss(model, x, y, y_pred)
            grads = torch.autograd.grad(loss, tensors, allow_unused=True) if tensors else ()
    finally:
        with torch.no_grad():
            for variable, value in zip(restored, saved, strict=True):
                variable.assign(value)
    return (_numpy(keras.tree.flatten(y_pred)[0]), [None if out is None else _numpy(out) for out in outputs],
            [_numpy(t).copy() for t in tensors], [None if g is None else _numpy(g) for g in grads])


def weight_values(model: keras.Model, variables: Sequence[Any]) -> list[np.ndarray]:
    return [_numpy(v.value).copy() for v in variables]


def single_device(model: keras.Model) -> bool:
    return True


def is_chief(model: keras.Model) -> bool:
    """Whether this process writes: rank 0 of a `torch.distributed` run."""
    distributed = torch.distributed
    return not (distributed.is_available() and distributed.is_initialized()) or distributed.get_rank() == 0


def has_gpu() -> bool:
    return torch.cuda.is_available()


def _numpy(tensor: Any) -> np.ndarray:
    if isinstance(tensor, torch.Tensor):
        return tensor.detach().cpu().numpy()
    return np.asarray(tensor)


# `(model, see) -> undo`: shows `see` each batch as the train function takes it.
wrap_train_function = torch_api.wrap_step_batches
_probes = PythonStepProbes(gradient_pass, wrap_train_function, _numpy)
internals_probe, step_probe = _probes.internals_probe, _probes.step_probe
