"""SCRAM on Keras' JAX backend: gradients by `jax.value_and_grad`, batches seen as the step takes them.

Keras trains on JAX with a stateless, compiled step: during an epoch the model's
variables are emptied and the current state lives in the trainer (`compat.jax_api`, put
back at each epoch's end). SCRAM reads the weights from there, and runs its measurement through
`model.compute_loss_and_updates`, the very function Keras differentiates, on that state:
nothing is written back, so training is untouched.
"""

from __future__ import annotations

import concurrent.futures
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import jax
import keras
import numpy as np

from tensorboard_plugin_scram.keras_adapter.compat import jax_api
from tensorboard_plugin_scram.keras_adapter.internals import LayerPlan, Pass, capturing
from tensorboard_plugin_scram.keras_adapter.step_tap import PythonStepProbes

# Batches reach Python on their way into the compiled step: the internals are measured
# on one of them, after the step (`internals_probe`, `step_probe`: at the end).
MEASURES_IN_STEP = False


def gradient_pass(model: keras.Model, plans: Sequence[LayerPlan], x: Any, y: Any) -> Pass:
    """One forward and backward pass of (x, y) on the model's current state; nothing written back."""
    state = _state(model)
    index = {id(v): i for i, v in enumerate(model.trainable_variables)}
    positions = [index[id(v)] for plan in plans for v in plan.variables]
    y_pred, outputs, grads = _compiled(model, plans, state, x, y)(state, x, y)
    trainable = state["trainable_variables"]
    # Copies: the state's buffers are handed to (donated to) the next step.
    weights = [np.array(trainable[i], copy=True) for i in positions]
    return (np.asarray(y_pred), [None if out is None else np.asarray(out) for out in outputs], weights,
            [np.asarray(grads[i]) for i in positions])


# Per model, its pass compiled once per input shape: compiling is most of what SCRAM costs
# a short fit() on JAX (1.4 s on a small CNN with XLA's defaults; eager, each primitive
# compiles: 6.5 s), and the pass runs only a few times per fit, so XLA is asked for its
# quickest compile: no LLVM optimisation, no fusion emitters (0.12 s there; the pass then
# runs in 50 ms instead of 11 ms, a good trade for a few runs). With arrays, the sample is
# known before training (`prepare`): the pass is traced then, and XLA compiles it on a
# thread of its own while Keras compiles its train step, when the CPU is not yet busy
# (on 2 cores: a 150-step fit's cost 14% -> 9%). Tracing stays on the caller's thread:
# it runs the model's Python code, which is not safe beside Keras' own tracing.
_compiled_passes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_QUICK_COMPILE = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}
_compiler: concurrent.futures.ThreadPoolExecutor | None = None


def prepare(model: keras.Model, plans: Sequence[LayerPlan], x: Any, y: Any) -> None:
    """Starts compiling the pass for batches shaped like (x, y); `gradient_pass` waits for it."""
    _compilation(model, plans, _state(model), x, y)


def _compiled(model: keras.Model, plans: Sequence[LayerPlan], state: dict, x: Any, y: Any) -> Callable:
    return _compilation(model, plans, state, x, y).result()


def _compilation(model: keras.Model, plans: Sequence[LayerPlan], state: dict, x: Any,
                 y: Any) -> concurrent.futures.Future:
    global _compiler
    entry = _compiled_passes.get(model)
    if entry is None or entry[0] is not plans:  # a new probe (a recompiled model): a new pass
        entry = _compiled_passes[model] = (plans, jax.jit(_pass_function(model, plans)), {})
    _, jitted, by_shape = entry
    # Shardings too: a pass compiled for one layout refuses arrays laid out otherwise.
    key = tuple((tuple(a.shape), str(a.dtype), str(getattr(a, "sharding", ""))) for a in jax.tree.leaves((state, x, y)))
    if key not in by_shape:
        lowered = jitted.lower(state, x, y)
        if _compiler is None:
            _compiler = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="scram-compile")
        by_shape[key] = _compiler.submit(jax_api.quick_compile, lowered, _QUICK_COMPILE)
    return by_shape[key]


def _pass_function(model: keras.Model, plans: Sequence[LayerPlan]) -> Callable:
    """`(state, x, y) -> (predictions, layer outputs, gradients)` through Keras' own loss function."""
    layers = [plan.layer for plan in plans]

    def run(state: dict, x: Any, y: Any) -> tuple:
        def loss_of(trainable: list) -> tuple:
            with capturing(layers) as outputs:
                _, (loss, y_pred, _, _) = model.compute_loss_and_updates(
                    trainable, state["non_trainable_variables"], state["metrics_variables"], x, y, None,
                    training=True, optimizer_variables=state["optimizer_variables"])
            return loss, (keras.tree.flatten(y_pred)[0], list(outputs))

        (_, (y_pred, outputs)), grads = jax.value_and_grad(loss_of, has_aux=True)(state["trainable_variables"])
        return y_pred, outputs, grads

    return run


def weight_values(model: keras.Model, variables: Sequence[Any]) -> list[np.ndarray]:
    trainable = _state(model)["trainable_variables"]
    index = {id(v): i for i, v in enumerate(model.trainable_variables)}
    return [np.array(trainable[index[id(v)]] if id(v) in index else v.value, copy=True) for v in variables]


def single_device(model: keras.Model) -> bool:
    return keras.distribution.distribution() is None


def is_chief(model: keras.Model) -> bool:
    """Whether this process writes: process 0 of a multi-process JAX run."""
    return jax.process_index() == 0


def has_gpu() -> bool:
    return any(device.platform != "cpu" for device in jax.devices())


def _state(model: keras.Model) -> dict[str, list]:
    """The model's current variables' values: Keras' training state during an epoch, else the variables'."""
    state = jax_api.training_state(model)
    if state is not None:
        return state
    optimizer = getattr(model, "optimizer", None)
    return {
        "trainable_variables": [v.value for v in model.trainable_variables],
        "non_trainable_variables": [v.value for v in model.non_trainable_variables],
        "optimizer_variables": [v.value for v in optimizer.variables] if optimizer is not None else [],
        "metrics_variables": [v.value for v in model.metrics_variables],
    }


# `(model, see) -> undo`: shows `see` each batch as the train function takes it.
wrap_train_function = jax_api.wrap_step_batches
_probes = PythonStepProbes(gradient_pass, wrap_train_function, np.asarray, prepare=prepare)
internals_probe, step_probe = _probes.internals_probe, _probes.step_probe
