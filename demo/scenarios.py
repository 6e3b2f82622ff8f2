"""The paper's three faulty training scripts, and a fixed version of each.

Each scenario is what a non-expert would write: ordinary Keras, plus the two callbacks.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import keras

from demo import data
from tensorboard_plugin_scram import ScramCallback


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    story: str
    train: Callable[[str, int, data.Dataset], object]  # Keras' History, or ScramMonitor's diagnostics
    loader: str
    epochs: int
    expected: tuple[str, ...]  # check ids that should fire; () for a fixed scenario
    quick_epochs: int = 3  # with --quick: enough for the fault to show
    tolerated: tuple[str, ...] = ()  # true consequences of the fault that may fire too


def seed(value: int) -> None:
    """The demo's seed for Keras (Python's, NumPy's and the backend's generators)."""
    keras.utils.set_random_seed(value)


def run_dir(logdir: str, scenario: Scenario) -> str:
    """Where a scenario's run goes: LOGDIR/<scenario>."""
    return os.path.join(logdir, scenario.name)


def _callbacks(log_dir: str, *extra: keras.callbacks.Callback) -> list:
    return [*extra, keras.callbacks.TensorBoard(log_dir), ScramCallback(log_dir)]


# -- 1. Overfitting: a large fully connected network without regularisation ------------

def overfitting_fault(log_dir: str, epochs: int, ds: data.Dataset) -> keras.callbacks.History:
    x, y = ds.x_train[:400] / 255.0, ds.y_train[:400]  # a small labelled set, as users often have
    model = keras.Sequential([
        keras.Input(x.shape[1:]),
        keras.layers.Flatten(),
        keras.layers.Dense(1024, activation="relu"),
        keras.layers.Dense(1024, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(x, y, validation_split=0.25, epochs=epochs, batch_size=32, verbose=0,
                     callbacks=_callbacks(log_dir))


def overfitting_fixed(log_dir: str, epochs: int, ds: data.Dataset) -> keras.callbacks.History:
    x, y = ds.x_train[:400] / 255.0, ds.y_train[:400]
    model = keras.Sequential([
        keras.Input(x.shape[1:]),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    early_stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    return model.fit(x, y, validation_split=0.25, epochs=epochs, batch_size=32, verbose=0,
                     callbacks=_callbacks(log_dir, early_stop))


# -- 2. A learning rate of 1e10 on a movie-review sentiment model -----------------------

def _sentiment_model(ds: data.Dataset) -> keras.Model:
    return keras.Sequential([
        keras.Input(ds.x_train.shape[1:], dtype="int32"),
        keras.layers.Embedding(int(ds.x_train.max()) + 1, 16),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])


def learning_rate_fault(log_dir: str, epochs: int, ds: data.Dataset) -> keras.callbacks.History:
    model = _sentiment_model(ds)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e10), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model.fit(ds.x_train, ds.y_train, validation_split=0.2, epochs=epochs, batch_size=32, verbose=0,
                     callbacks=_callbacks(log_dir))


def learning_rate_fixed(log_dir: str, epochs: int, ds: data.Dataset) -> keras.callbacks.History:
    model = _sentiment_model(ds)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model.fit(ds.x_train, ds.y_train, validation_split=0.2, epochs=epochs, batch_size=32, verbose=0,
                     callbacks=_callbacks(log_dir))


# -- 3. Unnormalised image pixels --------------------------------------------------------

def _image_model(ds: data.Dataset) -> keras.Model:
    return keras.Sequential([
        keras.Input(ds.x_train.shape[1:]),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def normalization_fault(log_dir: str, epochs: int, ds: data.Dataset) -> keras.callbacks.History:
    x = ds.x_train.astype("float32")  # raw pixels, 0..255
    model = _image_model(ds)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(x, ds.y_train, validation_split=0.2, epochs=epochs, batch_size=32, verbose=0,
                     callbacks=_callbacks(log_dir))


def normalization_fixed(log_dir: str, epochs: int, ds: data.Dataset) -> keras.callbacks.History:
    x = ds.x_train.astype("float32") / 255.0  # the snippet from SCRAM's message
    model = _image_model(ds)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(x, ds.y_train, validation_split=0.2, epochs=epochs, batch_size=32, verbose=0,
                     callbacks=_callbacks(log_dir))


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("overfitting", "large dense net, no regularisation", overfitting_fault, "fashion_mnist", 20,
             ("overfitting",), quick_epochs=14),
    Scenario("overfitting_fixed", "dropout, smaller net, early stopping", overfitting_fixed, "fashion_mnist", 20, ()),
    Scenario("learning_rate", "learning rate 1e10", learning_rate_fault, "imdb", 3,
             ("learning_rate_unusual", "loss_diverging", "nan_loss"),
             tolerated=("exploding_gradients", "update_ratio_unusual", "constant_predictions", "dead_relu")),
    Scenario("learning_rate_fixed", "learning rate 1e-3", learning_rate_fixed, "imdb", 5, ()),
    Scenario("normalization", "raw pixels 0-255", normalization_fault, "cifar10", 5, ("input_not_normalized",),
             tolerated=("dead_relu", "saturated_activations", "loss_diverging")),
    Scenario("normalization_fixed", "pixels divided by 255", normalization_fixed, "cifar10", 5, ()),
)
