"""Ties the internals probe, its schedule and the weight copies together for the callback."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tensorboard_plugin_scram.keras_adapter.internals import InternalsProbe
from tensorboard_plugin_scram.keras_adapter.sampling import InternalsSchedule, StepClock
from tensorboard_plugin_scram.keras_adapter.updates import WeightSnapshots
from tensorboard_plugin_scram.observations import ModelStats


class InternalsMonitor:
    """At each step's end: reads the measured step's statistics, and arms the next one.

    Args:
        probe: An installed `InternalsProbe`.
        schedule: Which steps to measure.
        sample: A batch `(x, y)` of the training data, or a function giving one (the last
            batch a step probe saw). With it, measurements run on that batch, after the
            step; without it, inside the next train step (the probe's `record` must then be
            part of the train step). `sample` may be set later.
        clock: The run's typical step time, to weigh what a measurement costs.
        weights: The backend's reader of variables' current values (host copies).
    """

    def __init__(self, probe: InternalsProbe, schedule: InternalsSchedule,
                 sample: tuple | Callable[[], tuple | None] | None = None, clock: StepClock | None = None,
                 weights: Callable[[Sequence[Any]], list[np.ndarray]] | None = None) -> None:
        self._probe = probe
        self._schedule = schedule
        self.sample = sample
        self._snapshots = WeightSnapshots(probe.layers, read=weights)
        self._armed = False
        self._prepared = False
        self._measured_on_sample = 0
        self._clock = clock or StepClock()

    def prepare(self) -> None:
        """Readies the measurement of the sample before its first use, once there is a sample.

        Called before training (a sample of arrays) and after each step until a step probe
        has seen a batch: the backend then prepares while training runs (JAX compiles).
        """
        if self._prepared:
            return
        sample = self._current_sample()
        if sample is not None:
            self._prepared = True
            self._probe.prepare(*sample)

    def after_step(self, step: int, loss: float | None, suspicious: bool = False) -> ModelStats | None:
        """The model's statistics if `step` was measured (else None); arms the next step if due.

        `suspicious`: a check suspects a fault from the last measurement; the next comes sooner.
        """
        self.prepare()
        if self._armed and self.sample is not None:
            self._measure_on_sample()
        stats = self._read(step) if self._armed else None
        self._armed = False
        if self._schedule.next_is_due(step, loss, suspicious):
            self._snapshots.take(step)
            if self.sample is None:
                self._probe.request()
            self._armed = True
        return stats

    def rerun(self) -> ModelStats | None:
        """Measures the sample batch now, outside the schedule (None without a sample).

        Used at the first non-finite loss: the sample then runs through the current weights
        layer by layer, which shows the first layer whose output turns NaN or Inf.
        """
        sample = self._current_sample()
        if sample is None:
            return None
        self._probe.measure_on(*sample)
        return self._probe.read()

    def _current_sample(self) -> tuple | None:
        return self.sample() if callable(self.sample) else self.sample

    def _measure_on_sample(self) -> None:
        sample = self._current_sample()
        if sample is None:
            return
        started = time.perf_counter()
        self._probe.measure_on(*sample)
        seconds = time.perf_counter() - started
        self._measured_on_sample += 1
        # The first call includes tracing, a one-off cost that says nothing about the next.
        if self._measured_on_sample > 1:
            self._schedule.cost(self._clock.in_steps(seconds))

    def _read(self, step: int) -> ModelStats | None:
        stats = self._probe.read()
        if stats is None:
            return None
        self._schedule.sampled(step)
        norms, steps = self._snapshots.changes(step, self._probe.measured_weights())
        layers = tuple(
            dataclasses.replace(layer, update_norm=norm, update_steps=steps if norm is not None else None)
            for layer, norm in zip(stats.layers, norms, strict=True)
        )
        return dataclasses.replace(stats, layers=layers)
