"""Builders the tests share: the `scram` CLI, hand-built observations, a probe recorder, tiny models.

Test modules import from here, never from each other. Keras is imported inside the model
builders only, so that the fast tier (`make test-fast`), which imports this module, never
loads Keras or TensorFlow. Whole training scenarios live in `tests/scenarios.py`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tensorboard_plugin_scram.checks import (
    BatchObservation,
    Check,
    EpochObservation,
    History,
    RunInfo,
    TensorStats,
)
from tensorboard_plugin_scram.observations import LossInfo, OutputInfo

if TYPE_CHECKING:
    import keras

# -- the `scram` command -------------------------------------------------------------------------


def run_scram(*args: str) -> subprocess.CompletedProcess:
    """Runs the installed `scram` command as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "tensorboard_plugin_scram.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def report_json(logdir: str) -> list[dict]:
    """`scram report --json LOGDIR` parsed."""
    result = run_scram("report", "--json", "--fail-on", "never", str(logdir))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# -- hand-built observations ---------------------------------------------------------------------

SPARSE = LossInfo("sparse_categorical_crossentropy")


def stats(lo: float, hi: float, mean: float, std: float, **fields: Any) -> TensorStats:
    """Statistics of one input tensor (override `name`, `role` and the rest by keyword)."""
    values = dict(name="x", role="input", count=100, nonfinite=0, nonfinite_total=0, min=lo, max=hi,
                  mean=mean, std=std, feature_mean_abs=abs(mean), feature_std=std, integral=False)
    return TensorStats(**{**values, **fields})


def run_info(units: int = 10, activation: str = "softmax", loss: LossInfo = SPARSE, **fields: Any) -> RunInfo:
    """A compiled classifier's facts: Adam at 1e-3, one output layer 'head', 8 GiB of device memory."""
    values = dict(optimizer="Adam", learning_rate=1e-3, losses=(loss,),
                  outputs=(OutputInfo("head", units, activation),), input_sizes={"x": 64},
                  trainable_params=1000, total_params=1000, optimizer_slots=2, activations_per_sample=100,
                  device_memory=8 * 1024**3, compile_location="train.py:10")
    return RunInfo(**{**values, **fields})


def batches(check: Check, observations: Iterable[BatchObservation], run: RunInfo | None = None) -> list:
    """What `check.on_batch` returned for each observation, fed in order into one history."""
    history = History(run or run_info())
    results = []
    for obs in observations:
        history.add_batch(obs)
        results.append(check.on_batch(obs, history))
    return results


def epochs(check: Check, rows: list[dict], run: RunInfo | None = None, history: History | None = None) -> list:
    """What `check.on_epoch` returned for each epoch's logs (epoch i ends at step 10 i + 9)."""
    history = history or History(run or run_info())
    results = []
    for i, logs in enumerate(rows):
        obs = EpochObservation(i * 10 + 9, i, logs)
        history.add_epoch(obs)
        results.append(check.on_epoch(obs, history))
    return results


def x_and_y(y_min: float, y_max: float, y_count: int = 32, integral: bool = True, **y_fields: Any) -> BatchObservation:
    """A batch of 32 scaled inputs and targets spanning [y_min, y_max]."""
    x = stats(0, 1, 0.5, 0.3, count=32 * 64)
    y = stats(y_min, y_max, (y_min + y_max) / 2, 1.0, name="y", role="target", count=y_count, integral=integral,
              **y_fields)
    return BatchObservation(0, 0, {"loss": 1.0}, (x, y))


# -- real trainings ------------------------------------------------------------------------------


class ModelStatsRecorder(Check):
    """Keeps the model statistics SCRAM measured, to check the probe itself."""

    id = "test_recorder"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[BatchObservation] = []

    def on_batch(self, obs, history):
        if obs.model is not None:
            self.seen.append(obs)
        return None


def small_cnn() -> keras.Model:
    """Two ReLU convolutions over 8x8x1 digits into a softmax over 10 classes."""
    import keras

    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 2, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
