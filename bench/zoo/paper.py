"""The SCRAM paper's three case studies, in small."""

from __future__ import annotations

import keras
import numpy as np

from bench import data, models
from bench.zoo import symptoms
from bench.zoo.registry import Job, after_best_val_loss, job, scenario


@scenario(expected=["overfitting"], kind="epoch", onset=after_best_val_loss)
def paper_overfitting() -> Job:
    """Large dense net (2x512), no regularisation, 600 digits with 30% noisy labels."""
    x, y = data.digits()
    x, y = x[:600], y[:600].copy()
    rng = np.random.default_rng(0)
    flip = rng.random(len(y)) < 0.3
    y[flip] = rng.integers(0, 10, flip.sum())
    return job(models.compiled(models.mlp(64, (512, 512), 10)), x, y, epochs=14, validation_split=0.3)


@scenario(expected=["nan_loss", "learning_rate_unusual", "loss_diverging", "exploding_gradients"],
          tolerated=symptoms.AFTER_NAN)
def paper_lr_1e10_text() -> Job:
    """Learning rate 1e10 (Adam) on an embedding sentiment model: the loss goes NaN."""
    x, y = data.tokens()
    model = models.compiled(models.text(), keras.optimizers.Adam(1e10), "binary_crossentropy")
    return job(model, x, y, epochs=2, validation_split=0.2)


@scenario(expected=["input_not_normalized"], tolerated=["saturated_activations", "dead_relu", *symptoms.EXTREME_START,
                                                      *symptoms.SATURATED_OUTPUT])
def paper_unnormalized_pixels() -> Job:
    """Raw 0..255 pixels of generated 32x32x3 images straight into a CNN."""
    x, y = data.images(1024, raw=True)
    return job(models.compiled(models.cnn()), x, y, epochs=3, validation_split=0.2)
