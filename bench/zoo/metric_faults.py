"""Faults that show in the metrics: validation from another distribution, a metric that cannot fit the task."""

from __future__ import annotations

import numpy as np

from bench import data, models
from bench.zoo.registry import Job, job, scenario


@scenario(expected=["train_val_mismatch"], kind="epoch")
def sorted_validation_split() -> Job:
    """Digits sorted by label, then validation_split=0.2: validation holds only unseen classes."""
    x, y = data.digits()
    order = np.argsort(y, kind="stable")
    return job(models.compiled(models.mlp(64, (64,), 10)), x[order], y[order], epochs=5, validation_split=0.2)


@scenario(expected=["accuracy_at_chance"], kind="epoch", onset=0)
def accuracy_metric_on_regression() -> Job:
    """Diabetes regression under MSE, tracked with accuracy: exact matches of real values, 0 however it learns.

    Its fixed twin is healthy_regression (the same with "mae")."""
    x, y = data.diabetes()
    model = models.compiled(models.mlp(10, (32,), 1, activation=None), loss="mse", metrics=["accuracy"])
    return job(model, x, y, epochs=4, validation_split=0.2)
