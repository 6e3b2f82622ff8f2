"""Healthy jobs: normalised data, sensible learning rates, shuffled, enough capacity."""

from __future__ import annotations

import keras

from bench import data, models
from bench.zoo.registry import Job, job, scenario


@scenario()
def healthy_mlp_digits() -> Job:
    """Digits scaled to [0, 1], MLP with dropout, Adam 1e-3, multi-class, validation_split."""
    x, y = data.digits()
    return job(models.compiled(models.mlp(64, (64,), 10, dropout=0.2)), x, y, epochs=10, validation_split=0.2)


@scenario()
def healthy_cnn_images() -> Job:
    """Generated 32x32x3 images scaled to [0, 1], small CNN, validation_data."""
    x, y = data.images(1024)
    xv, yv = data.images(256, seed=1)
    return job(models.compiled(models.cnn()), x, y, epochs=4, validation_data=(xv, yv))


@scenario()
def healthy_text_embedding() -> Job:
    """Token ids into an Embedding, binary sentiment, Adam 1e-3, validation_split."""
    x, y = data.tokens(6000, cue=0.1)
    model = models.compiled(models.text(), keras.optimizers.Adam(1e-3), "binary_crossentropy")
    return job(model, x, y, epochs=4, validation_split=0.2)


@scenario()
def healthy_binary_no_validation() -> Job:
    """Z-scored breast-cancer features (values beyond 1 are normal), binary, no validation data."""
    x, y = data.breast_cancer()
    model = models.compiled(models.mlp(30, (16,), 1, activation="sigmoid"), loss="binary_crossentropy")
    return job(model, x, y, epochs=12)


@scenario()
def healthy_regression() -> Job:
    """Diabetes regression, z-scored features and target, MSE, linear output, validation_split."""
    x, y = data.diabetes()
    model = models.compiled(models.mlp(10, (32,), 1, activation=None), loss="mse", metrics=["mae"])
    return job(model, x, y, epochs=15, batch_size=16, validation_split=0.2)


@scenario()
def healthy_wine_sgd() -> Job:
    """Wine (3 classes, z-scored), SGD 0.05 with momentum 0.9, no validation data."""
    x, y = data.wine()
    model = models.compiled(models.mlp(13, (32,), 3), keras.optimizers.SGD(0.05, momentum=0.9))
    return job(model, x, y, epochs=15, batch_size=16)


@scenario()
def healthy_tabular_deep() -> Job:
    """Generated 20-feature, 4-class data, 3 hidden layers, one-hot labels, validation_split."""
    x, y = data.tabular(3000, 20, 4)
    onehot = keras.utils.to_categorical(y, 4)
    model = models.compiled(models.mlp(20, (64, 64, 32), 4), loss="categorical_crossentropy")
    return job(model, x, onehot, epochs=6, validation_split=0.2)


@scenario()
def healthy_tutorial_cnn() -> Job:
    """Keras' CNN tutorial model (3 conv layers, logits out) on generated images in [0, 1], validation_split.

    About half the units of its Dense layer are zero for a whole batch: usual behind ReLU features.
    """
    x, y = data.images(1536)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return job(models.compiled(models.tutorial_cnn(), loss=loss), x, y, epochs=4, validation_split=0.2)


@scenario()
def healthy_sigmoid_slow_start() -> Job:
    """Digits, two sigmoid hidden layers, Adam 1e-3: one class predicted for its first 25-65 steps, then it learns."""
    x, y = data.digits()
    model = models.compiled(models.mlp(64, (64, 64), 10, hidden_activation="sigmoid"))
    return job(model, x, y, epochs=8, validation_split=0.2)
