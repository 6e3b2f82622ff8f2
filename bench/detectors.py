"""What each detector reported, and the two baselines attached to the same `fit()` as SCRAM.

- `PaperRules`: the SCRAM paper's Table 1, as literally as it is stated:
  overfitting = validation accuracy decreased two epochs in a row while training
  accuracy increased in both; normalisation = any value of the current input batch
  outside [-1, 1]; hyperparameters = the loss value is NaN.
- `NanOnly`: what `keras.callbacks.TerminateOnNaN` notices (a batch loss that is NaN or
  Inf), without stopping training.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

SCRAM = "scram"
PAPER = "paper_rules"
NAN_ONLY = "nan_only"
DETECTORS = (SCRAM, PAPER, NAN_ONLY)
ALARM_SEVERITIES = ("warning", "error")


@dataclasses.dataclass(frozen=True)
class Alarm:
    """One report of one detector: a check id at a step (and epoch, None before training)."""

    check: str
    severity: str
    step: int
    epoch: int | None
    count: int = 1

    @property
    def is_alarm(self) -> bool:
        """Warnings and errors count; info is advice."""
        return self.severity in ALARM_SEVERITIES


class _AlarmLog(keras.callbacks.Callback):
    """A callback that keeps the first firing of each rule, with how often it fired."""

    def __init__(self) -> None:
        super().__init__()
        self.alarms: dict[str, Alarm] = {}
        self.step = 0
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Mapping | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Mapping | None = None) -> None:
        self.step += 1

    def fire(self, check: str, severity: str, step: int) -> None:
        first = self.alarms.get(check)
        if first is None:
            self.alarms[check] = Alarm(check, severity, step, self.epoch)
        else:
            self.alarms[check] = dataclasses.replace(first, count=first.count + 1)


def floats(logs: Mapping | None) -> dict[str, float]:
    """The numeric entries of Keras' logs as floats."""
    values = {}
    for key, value in (logs or {}).items():
        try:
            values[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return values


def _batch_loss(logs: Mapping | None) -> float | None:
    try:
        return float((logs or {})["loss"])
    except (KeyError, TypeError, ValueError):
        return None


class NanOnly(_AlarmLog):
    """`TerminateOnNaN`'s test (loss NaN or Inf at a batch's end), recorded instead of stopping."""

    def on_train_batch_end(self, batch: int, logs: Mapping | None = None) -> None:
        loss = _batch_loss(logs)
        if loss is not None and (math.isnan(loss) or math.isinf(loss)):
            self.fire("nan_loss", "error", self.step)
        super().on_train_batch_end(batch, logs)


class PaperRules(_AlarmLog):
    """The paper's three rules. Must come after `ScramCallback` in the callback list.

    To see each input batch it wraps the model's `train_step` (as SCRAM does) with an
    in-graph max |value| over every numeric input, read after each batch; on JAX and
    PyTorch, where batches pass through Python, it looks at them there.
    """

    def __init__(self) -> None:
        super().__init__()
        self._max_abs: Any = None
        self._wrapper: Any = None
        self._undo: Any = None
        self._accuracy: list[tuple[float, float]] = []

    def on_train_begin(self, logs: Mapping | None = None) -> None:
        if keras.backend.backend() != "tensorflow":
            from tensorboard_plugin_scram.keras_adapter import backends

            self._max_abs = _HostMaximum()
            self._undo = backends.current().wrap_train_function(self.model, self._max_abs.see)
            return
        import tensorflow as tf

        model = self.model
        self._max_abs = tf.Variable(0.0, trainable=False, name="paper_rules_max_abs")
        inner = model.train_step

        def train_step(data):
            x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
            values = [tf.reduce_max(tf.abs(tf.cast(t, tf.float32))) for t in tf.nest.flatten(x)]
            self._max_abs.assign(tf.reduce_max(tf.stack(values)))
            return inner(data)

        self._wrapper = train_step
        model.train_step = train_step
        model.make_train_function(force=True)

    def on_train_end(self, logs: Mapping | None = None) -> None:
        if self._undo is not None:
            self._undo()
        if self._wrapper is not None and vars(self.model).get("train_step") is self._wrapper:
            vars(self.model).pop("train_step")
            self.model.train_function = None

    def on_train_batch_end(self, batch: int, logs: Mapping | None = None) -> None:
        if self._max_abs is not None and float(self._max_abs.numpy()) > 1.0:
            self.fire("input_not_normalized", "warning", self.step)
        loss = _batch_loss(logs)
        if loss is not None and math.isnan(loss):
            self.fire("nan_loss", "error", self.step)
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        logs = floats(logs)
        if "accuracy" in logs and "val_accuracy" in logs:
            self._accuracy.append((logs["accuracy"], logs["val_accuracy"]))
        if len(self._accuracy) >= 3 and _overfitting(self._accuracy[-3:]):
            self.fire("overfitting", "warning", self.step - 1)


def _overfitting(window: list[tuple[float, float]]) -> bool:
    """Validation accuracy fell in both of the last two epochs while training accuracy rose in both."""
    (t0, v0), (t1, v1), (t2, v2) = window
    return v2 < v1 < v0 and t2 > t1 > t0


class LossTrace(keras.callbacks.Callback):
    """Records Keras' running loss after every batch and the epoch logs (for fault onsets)."""

    def __init__(self) -> None:
        super().__init__()
        self.losses: list[float | None] = []  # None: the model logs no "loss" (a GAN's own train_step)
        self.epochs: list[dict[str, float]] = []

    def on_train_batch_end(self, batch: int, logs: Mapping | None = None) -> None:
        loss = _batch_loss(logs)
        self.losses.append(loss)

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        self.epochs.append(floats(logs))


class AbortBeforeTraining(keras.callbacks.Callback):
    """Stops `fit()` right after every other callback's `on_train_begin` (put it last)."""

    class Stop(Exception):
        """Raised to leave `fit()` before the first batch."""

    def on_train_begin(self, logs: Mapping | None = None) -> None:
        raise self.Stop("stopped before the first batch, as the scenario asks")


class _HostMaximum:
    """The largest |value| of the last batch's inputs, seen in Python (JAX, PyTorch)."""

    def __init__(self) -> None:
        self.value = 0.0

    def see(self, data: Any) -> None:
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        self.value = max(float(np.max(np.abs(keras.ops.convert_to_numpy(t)))) for t in keras.tree.flatten(x))

    def numpy(self) -> float:
        return self.value
