"""The paper's three data sets, through `keras.datasets` when cached, else offline stand-ins.

These machines have no internet. `keras.datasets.*.load_data()` downloads on first use, so
it is only called when the files are already in Keras' cache; otherwise a stand-in that
ships with scikit-learn (or is generated) takes its place, and the demo says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Dataset(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str  # what was really loaded, e.g. "Fashion-MNIST" or "scikit-learn digits (stand-in)"


def keras_cache(*parts: str) -> str:
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(home, "datasets", *parts)


def fashion_mnist(offline_only: bool = False) -> Dataset:
    """Fashion-MNIST (28x28 grey, 0..255), or scikit-learn's digits scaled to 0..255."""
    if not offline_only and os.path.exists(keras_cache("fashion-mnist", "train-images-idx3-ubyte.gz")):
        return _from_keras("fashion_mnist", "Fashion-MNIST")
    x, y = _digits()
    x = (x * 16).clip(0, 255).astype("uint8")  # 8x8 images with Fashion-MNIST's pixel range
    return _split(x, y, "scikit-learn digits (stand-in for Fashion-MNIST)")


def cifar10(offline_only: bool = False) -> Dataset:
    """CIFAR-10 (32x32 colour, 0..255), or digits as 16x16 colour images, 0..255."""
    if not offline_only and os.path.exists(keras_cache("cifar-10-batches-py", "data_batch_1")):
        return _from_keras("cifar10", "CIFAR-10")
    x, y = _digits()
    images = np.kron(x, np.ones((2, 2)))[..., None]  # 8x8 -> 16x16
    tint = np.array([1.0, 0.8, 0.6])
    x = (images * 16 * tint).clip(0, 255).astype("uint8")
    return _split(x, y, "scikit-learn digits as colour images (stand-in for CIFAR-10)")


def imdb(num_words: int = 2000, maxlen: int = 64, offline_only: bool = False) -> Dataset:
    """IMDB reviews as token ids (label 1 = positive), or generated reviews."""
    if not offline_only and os.path.exists(keras_cache("imdb.npz")):
        import keras

        (xt, yt), (xv, yv) = keras.datasets.imdb.load_data(num_words=num_words, maxlen=None)
        pad = lambda seqs: keras.utils.pad_sequences(seqs, maxlen=maxlen)  # noqa: E731
        return Dataset(pad(xt), yt, pad(xv), yv, "IMDB movie reviews")
    return _generated_reviews(num_words, maxlen)


def _from_keras(module: str, name: str) -> Dataset:
    import keras

    (xt, yt), (xv, yv) = getattr(keras.datasets, module).load_data()
    return Dataset(xt, yt.reshape(-1), xv, yv.reshape(-1), name)


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    return images.reshape(-1, 8, 8), labels


def _split(x: np.ndarray, y: np.ndarray, name: str, test_share: float = 0.2) -> Dataset:
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_share))
    return Dataset(x[:cut], y[:cut], x[cut:], y[cut:], name)


def _generated_reviews(num_words: int, maxlen: int, count: int = 2500) -> Dataset:
    """Token-id 'reviews': positive ones draw more often from one word pool, negative from another."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, count)
    pools = (np.arange(10, 60), np.arange(60, 110))  # negative words, positive words
    x = rng.integers(110, num_words, (count, maxlen))
    mask = rng.random((count, maxlen)) < 0.15
    for i, label in enumerate(labels):
        x[i, mask[i]] = rng.choice(pools[label], mask[i].sum())
    return _split(x.astype("int32"), labels, "generated reviews (stand-in for IMDB)")


LOADERS: dict[str, Callable[..., Dataset]] = {"fashion_mnist": fashion_mnist, "cifar10": cifar10, "imdb": imdb}
