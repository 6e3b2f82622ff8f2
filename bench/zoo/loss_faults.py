"""Faults that show in the training loss: NaN, divergence, plateaus, oscillation."""

from __future__ import annotations

import keras
import numpy as np

from bench import data, models
from bench.zoo import symptoms
from bench.zoo.registry import Job, first_nonfinite_loss, job, scenario


def sqrt_error(y_true, y_pred):
    """A home-made loss: the square root of the signed error (NaN for negative errors)."""
    return keras.ops.mean(keras.ops.sqrt(y_pred - keras.ops.cast(y_true, y_pred.dtype)), axis=-1)


@scenario(expected=["nan_loss"], kind="batch", onset=first_nonfinite_loss, tolerated=symptoms.AFTER_NAN)
def nan_from_custom_loss() -> Job:
    """A custom loss takes the square root of a signed error: NaN at the first batch."""
    x, y = data.diabetes()
    model = models.compiled(models.mlp(10, (32,), 1, activation=None), loss=sqrt_error, metrics=["mae"])
    return job(model, x, y, epochs=2)


@scenario(expected=["loss_diverging", "exploding_gradients", "nan_loss"], kind="batch",
          tolerated=symptoms.AFTER_NAN)
def sgd_diverging_regression() -> Job:
    """Linear regression with SGD at 1.05x the stability limit 2/lambda_max: the loss grows every step."""
    x, y = data.diabetes()
    curvature = float(np.linalg.eigvalsh(x.T @ x / len(x)).max())
    model = models.compiled(models.mlp(10, (), 1, activation=None), keras.optimizers.SGD(2.1 / curvature), "mse",
                            metrics=["mae"])
    return job(model, x, y, epochs=8)


@scenario(expected=["loss_not_decreasing", "accuracy_at_chance"], kind="epoch",
          tolerated=("constant_predictions",))
def random_labels() -> Job:
    """Labels drawn at random, independent of the features: nothing to learn."""
    x, _ = data.tabular(4000, 20, 4)
    y = np.random.default_rng(3).integers(0, 4, len(x))
    return job(models.compiled(models.mlp(20, (8,), 4)), x, y, epochs=6, validation_split=0.2)


@scenario(expected=["loss_oscillating", "learning_rate_unusual"], kind="batch",
          tolerated=("loss_diverging", "exploding_gradients", "dead_relu", *symptoms.STALLED))
def momentum_too_high() -> Job:
    """SGD with learning rate 0.1 and momentum 0.99 on digits: the loss swings up and down."""
    x, y = data.digits()
    optimizer = keras.optimizers.SGD(0.1, momentum=0.99)
    return job(models.compiled(models.mlp(64, (32,), 10), optimizer), x, y, epochs=10, validation_split=0.2)
