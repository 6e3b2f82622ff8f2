"""Small Keras models shared by the zoo and the overhead benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras


def mlp(inputs: int, hidden: Sequence[int], outputs: int, activation: str | None = "softmax",
        hidden_activation: str = "relu", dropout: float = 0.0, **dense: Any) -> keras.Model:
    """A dense network; `dense` goes to every hidden Dense layer (initialisers, ...)."""
    layers: list = [keras.Input((inputs,))]
    for units in hidden:
        layers.append(keras.layers.Dense(units, activation=hidden_activation, **dense))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(outputs, activation=activation))
    return keras.Sequential(layers)


def cnn(shape: tuple[int, ...] = (32, 32, 3), outputs: int = 4, filters: int = 16) -> keras.Model:
    """A small convolutional classifier."""
    return keras.Sequential([
        keras.Input(shape),
        keras.layers.Conv2D(filters, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(2 * filters, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(outputs, activation="softmax"),
    ])


def tutorial_cnn(shape: tuple[int, ...] = (32, 32, 3), outputs: int = 4) -> keras.Model:
    """The CNN of TensorFlow's image classification tutorial: 3 convolutions, a Dense layer, logits out."""
    return keras.Sequential([
        keras.Input(shape),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(outputs),
    ])


def text(length: int = 40, vocab: int = 500, width: int = 16) -> keras.Model:
    """An embedding + average pooling sentiment classifier (sigmoid output)."""
    return keras.Sequential([
        keras.Input((length,), dtype="int32"),
        keras.layers.Embedding(vocab, width),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])


def compiled(model: keras.Model, optimizer: Any = "adam", loss: Any = "sparse_categorical_crossentropy",
             metrics: Sequence[str] | None = ("accuracy",)) -> keras.Model:
    """`model`, compiled (returns it, for one-expression scenario definitions)."""
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics) if metrics else None)
    return model
