"""Faults that show in the metrics: validation from another distribution."""

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
