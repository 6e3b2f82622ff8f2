"""Faults in the data: scaling, NaN values, class balance, order."""

from __future__ import annotations

import numpy as np

from bench import data, models
from bench.zoo import symptoms
from bench.zoo.registry import Job, job, scenario


def _with_nan_rows(values: np.ndarray, share: float) -> np.ndarray:
    """A copy where a `share` of the rows hold one NaN value."""
    values = values.copy()
    rows = np.random.default_rng(1).random(len(values)) < share
    values.reshape(len(values), -1)[rows, 0] = np.nan
    return values


@scenario(expected=["input_not_normalized"],
          tolerated=(*symptoms.STALLED, *symptoms.EXTREME_START, *symptoms.SATURATED_OUTPUT))
def unnormalized_tabular() -> Job:
    """Raw breast-cancer features (areas up to ~4000) into an MLP."""
    x, y = data.breast_cancer(scaled=False)
    model = models.compiled(models.mlp(30, (16,), 1, activation="sigmoid"), loss="binary_crossentropy")
    return job(model, x, y, epochs=5, validation_split=0.2)


@scenario(expected=["input_contains_nan"], kind="batch", tolerated=symptoms.AFTER_NAN)
def nan_in_inputs() -> Job:
    """20% of the digit rows hold a NaN pixel (a failed preprocessing step)."""
    x, y = data.digits()
    return job(models.compiled(models.mlp(64, (32,), 10)), _with_nan_rows(x, 0.2), y, epochs=2)


@scenario(expected=["input_contains_nan"], kind="batch", tolerated=symptoms.AFTER_NAN)
def nan_in_labels() -> Job:
    """10% of the regression targets are NaN (missing values never filled)."""
    x, y = data.diabetes()
    model = models.compiled(models.mlp(10, (32,), 1, activation=None), loss="mse", metrics=["mae"])
    return job(model, x, _with_nan_rows(y, 0.1), epochs=2)


@scenario(expected=["class_imbalance"], kind="batch",
          tolerated=("accuracy_at_chance", "constant_predictions"))
def imbalanced_classes() -> Job:
    """Binary labels with 97% negatives: 97% accuracy by always saying "no"."""
    x, y = data.tabular(3000, 20, 2, weights=[0.97], flip_y=0.0)
    model = models.compiled(models.mlp(20, (16,), 1, activation="sigmoid"), loss="binary_crossentropy")
    return job(model, x, y.astype("float32"), epochs=4, validation_split=0.2)


@scenario(expected=["data_not_shuffled"], kind="batch", tolerated=("loss_oscillating",))
def sorted_without_shuffle() -> Job:
    """Training digits sorted by label and fit(shuffle=False): each batch holds one class."""
    x, y = data.digits()
    train = np.argsort(y[:1400], kind="stable")
    return job(models.compiled(models.mlp(64, (64,), 10)), x[train], y[train], epochs=4, shuffle=False,
               validation_data=(x[1400:], y[1400:]))
