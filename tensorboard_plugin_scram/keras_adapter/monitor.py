"""Ties the internals probe, its schedule and the weight copies together for the callback."""

from __future__ import annotations

import dataclasses
import time

from tensorboard_plugin_scram.keras_adapter.internals import InternalsProbe
from tensorboard_plugin_scram.keras_adapter.sampling import InternalsSchedule, StepClock
from tensorboard_plugin_scram.keras_adapter.updates import WeightSnapshots
from tensorboard_plugin_scram.observations import ModelStats


class InternalsMonitor:
    """At each step's end: reads the measured step's statistics, and arms the next one.

    Args:
        probe: An installed `InternalsProbe`.
        schedule: Which steps to measure.
        sample: A batch `(x, y)` of the training data. With it, measurements run on that
            batch in a function of their own, after the step; without it, inside the next
            train step (the probe's `record` must then be part of the train step).
        clock: The run's typical step time, to weigh what a measurement costs.
    """

    def __init__(self, probe: InternalsProbe, schedule: InternalsSchedule, sample: tuple | None = None,
                 clock: StepClock | None = None) -> None:
        self._probe = probe
        self._schedule = schedule
        self._sample = sample
        self._snapshots = WeightSnapshots(probe.layers)
        self._armed = False
        self._measured_on_sample = 0
        self._clock = clock or StepClock()

    def after_step(self, step: int, loss: float | None, suspicious: bool = False) -> ModelStats | None:
        """The model's statistics if `step` was measured (else None); arms the next step if due.

        `suspicious`: a check suspects a fault from the last measurement; the next comes sooner.
        """
        if self._armed and self._sample is not None:
            self._measure_on_sample()
        stats = self._read(step) if self._armed else None
        self._armed = False
        if self._schedule.next_is_due(step, loss, suspicious):
            self._snapshots.take(step)
            if self._sample is None:
                self._probe.request()
            self._armed = True
        return stats

    def rerun(self) -> ModelStats | None:
        """Measures the sample batch now, outside the schedule (None without a sample).

        Used at the first non-finite loss: the sample then runs through the current weights
        layer by layer, which shows the first layer whose output turns NaN or Inf.
        """
        if self._sample is None:
            return None
        self._probe.measure_on(*self._sample)
        return self._probe.read()

    def _measure_on_sample(self) -> None:
        started = time.perf_counter()
        self._probe.measure_on(*self._sample)
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
