"""Tiny real training runs, each with one known fault or none (data ships with scikit-learn)."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits

from tensorboard_plugin_scram import ScramCallback


def digits(scaled: bool = True, shuffled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: raw pixel values 0..16, or scaled to [0, 1]."""
    x, y = load_digits(return_X_y=True)
    if shuffled:
        order = np.random.default_rng(0).permutation(len(x))
        x, y = x[order], y[order]
    return (x / 16.0 if scaled else x).astype("float32"), y


def mlp(
    inputs: int, hidden: tuple[int, ...], outputs: int, activation: str = "softmax", dropout: float = 0.0
) -> keras.Model:
    layers: list = [keras.Input((inputs,))]
    for units in hidden:
        layers.append(keras.layers.Dense(units, activation="relu"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(outputs, activation=activation))
    return keras.Sequential(layers)


def fit(model: keras.Model, x, y, log_dir: str, optimizer="adam", loss="sparse_categorical_crossentropy",
        callbacks: tuple = (), **fit_args) -> keras.callbacks.History:
    keras.utils.set_random_seed(0)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    fit_args = {"epochs": 3, "batch_size": 32, "verbose": 0, **fit_args}
    return model.fit(x, y, callbacks=[*callbacks, ScramCallback(log_dir)], **fit_args)


def unnormalized(log_dir: str) -> None:
    """The paper's CIFAR-10 case in small: raw pixel values (0..16) into a dense net."""
    x, y = digits(scaled=False)
    fit(mlp(64, (32,), 10), x, y, log_dir, validation_split=0.2)


def nan_loss(log_dir: str) -> None:
    """The paper's learning-rate case: a learning rate of 1e10 sends the loss to Inf/NaN."""
    x, y = digits()
    fit(mlp(64, (32,), 10), x, y, log_dir, optimizer=keras.optimizers.SGD(learning_rate=1e10), epochs=2)


def overfitting(log_dir: str) -> None:
    """The paper's Fashion-MNIST case in small: a large dense net, no regularisation, noisy labels."""
    x, y = digits()
    x, y = x[:600], y[:600].copy()
    rng = np.random.default_rng(0)
    flip = rng.random(len(y)) < 0.3
    y[flip] = rng.integers(0, 10, flip.sum())
    fit(mlp(64, (512, 512), 10), x, y, log_dir, validation_split=0.3, epochs=14)


def healthy_tabular(log_dir: str) -> None:
    """Standardised (z-scored) breast-cancer features, binary classification: no fault."""
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    order = np.random.default_rng(0).permutation(len(x))
    fit(mlp(30, (16,), 1, activation="sigmoid"), x[order], y[order], log_dir,
        loss="binary_crossentropy", validation_split=0.2, epochs=12)


def healthy_digits(log_dir: str) -> None:
    """Scaled digits with dropout, multi-class: no fault (validation above training is normal)."""
    x, y = digits()
    fit(mlp(64, (64,), 10, dropout=0.2), x, y, log_dir, validation_split=0.2, epochs=12)


ALL: dict[str, Callable[[str], None]] = {
    "unnormalized": unnormalized,
    "nan_loss": nan_loss,
    "overfitting": overfitting,
    "healthy_tabular": healthy_tabular,
    "healthy_digits": healthy_digits,
}
