"""The trainable parts of a model that trains through its own `train_step` and has no `call()`.

A GAN or a VAE written as Keras' examples write them cannot be run forward as a whole:
`Model.call` only raises, and the losses live inside `train_step`. What SCRAM can still
measure without running the model is what each step does to the weights of its parts
(the generator and the discriminator, the encoder and the decoder): copies of every
part's layers' weights before a sampled step, compared right after it (as `updates.py`
does for any model), give their norm, the size of the step's update and NaN/Inf. The
parts' gradients are not measured (their losses are computed inside `train_step`, out of
SCRAM's reach), nor their activations (a decoder or a generator needs latent vectors that
only `train_step` draws), nor predictions (the model has no output of its own).

Each layer is named after its part, `"generator.dense_2"`, so that diagnostics say
which network of the pair is at fault.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from tensorboard_plugin_scram.keras_adapter.internals import LayerPlan, _norm, plan_layers
from tensorboard_plugin_scram.keras_adapter.model_info import activation_name
from tensorboard_plugin_scram.keras_adapter.sampling import InternalsSchedule, StepClock
from tensorboard_plugin_scram.keras_adapter.updates import WeightSnapshots, numpy_copies
from tensorboard_plugin_scram.observations import LayerStats, ModelStats

__all__ = ["Part", "PartsMonitor", "frozen_parts", "parts_monitor", "trainable_parts"]


@dataclasses.dataclass(frozen=True)
class Part:
    """One trainable part of the model (a sub-model, or a layer the model owns directly).

    Attributes:
        name: The part's name (`"generator"`).
        plans: Its layers with trainable weights, in its forward order.
    """

    name: str
    plans: tuple[LayerPlan, ...]

    def qualified(self, plan: LayerPlan) -> str:
        """`"generator.dense_2"`; a layer the model owns directly keeps its own name."""
        return plan.layer.name if plan.layer.name == self.name else f"{self.name}.{plan.layer.name}"


def trainable_parts(model: keras.Model) -> list[Part]:
    """The model's direct sub-models and layers that hold trainable weights, each with its weighted layers."""
    parts = []
    for child in getattr(model, "layers", []):
        if not child.trainable_variables:
            continue  # frozen on purpose, or no weights: nothing a step changes
        if getattr(child, "layers", None):
            plans = tuple(plan for plan in plan_layers(child) if plan.variables)
        else:
            plans = (LayerPlan(child, activation_name(child), False, tuple(child.trainable_variables)),)
        if plans:
            parts.append(Part(child.name, plans))
    return parts


def frozen_parts(model: keras.Model) -> list[str]:
    """The names of the model's direct sub-models and layers that hold weights, none of them trainable."""
    return [child.name for child in getattr(model, "layers", [])
            if child.weights and not child.trainable_variables]


def parts_monitor(model: keras.Model, schedule: InternalsSchedule, clock: StepClock | None = None,
                  weights: Callable[[Sequence[Any]], list[np.ndarray]] | None = None) -> PartsMonitor | None:
    """A `PartsMonitor` of the model's trainable parts, or None when it has none."""
    parts = trainable_parts(model)
    return PartsMonitor(parts, schedule, clock, weights) if parts else None


class PartsMonitor:
    """Weight norms and one step's updates of the parts' layers, at the steps the schedule samples.

    The same interface as `InternalsMonitor` for the callback: `after_step`, `rerun`, and a
    `sample` attribute (unused: nothing here runs the model).

    Args:
        parts: From `trainable_parts`.
        schedule: Which steps to measure.
        clock: The run's typical step time, to weigh what a measurement costs.
        weights: The backend's reader of variables' current values (host copies).
    """

    def __init__(self, parts: Sequence[Part], schedule: InternalsSchedule, clock: StepClock | None = None,
                 weights: Callable[[Sequence[Any]], list[np.ndarray]] | None = None) -> None:
        self._names = [part.qualified(plan) for part in parts for plan in part.plans]
        self._plans = [plan for part in parts for plan in part.plans]
        self._read = weights or numpy_copies
        self._snapshots = WeightSnapshots([plan.layer for plan in self._plans], read=self._read)
        self._schedule = schedule
        self._clock = clock or StepClock()
        self._armed = False
        self.sample: Any = None

    def after_step(self, step: int, loss: float | None, suspicious: bool = False) -> ModelStats | None:
        """The parts' statistics if `step` was measured (else None); copies the weights if the next one is due."""
        stats = self._measure(step) if self._armed else None
        self._armed = self._schedule.next_is_due(step, loss, suspicious) and self._snapshots.enabled
        if self._armed:
            self._snapshots.take(step)
        return stats

    def rerun(self) -> ModelStats:
        """The parts' weights as they are now (at a non-finite loss: which layer's weights hold NaN or Inf)."""
        return ModelStats(layers=self._layer_stats(self._current(), [None] * len(self._plans), None))

    def _measure(self, step: int) -> ModelStats:
        started = time.perf_counter()
        current = self._current()
        norms, steps = self._snapshots.changes(step, current)
        self._schedule.sampled(step)
        self._schedule.cost(self._clock.in_steps(time.perf_counter() - started))
        return ModelStats(layers=self._layer_stats(current, norms, steps))

    def _current(self) -> list[list[np.ndarray]]:
        return [self._read(plan.variables) for plan in self._plans]

    def _layer_stats(self, weights: list[list[np.ndarray]], updates: list[float | None],
                     steps: int | None) -> tuple[LayerStats, ...]:
        return tuple(
            LayerStats(name=name, kind=type(plan.layer).__name__, activation=plan.activation,
                       weight_norm=_norm(values), update_norm=update,
                       update_steps=steps if update is not None else None,
                       nonfinite_weights=not all(np.isfinite(v).all() for v in values), units=plan.units)
            for name, plan, values, update in zip(self._names, self._plans, weights, updates, strict=True))
