"""Healthy sweep setups in the shapes of real users' fixed programs: batch size 1, a data set
smaller than one batch, heavy imbalance with shuffling, long runs after convergence, wrapper
layers (issue 17).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from bench import data, models
from bench.zoo.real_training import tagging_job
from bench.zoo.registry import Job, Setup, job

L = keras.layers


def _one_hot_digits(samples: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = data.digits()
    return x[:samples], keras.utils.to_categorical(y[:samples], 10)


def _batch_size_1_one_hot() -> Job:
    """Digits, one-hot labels, batch size 1: every batch holds one label, necessarily."""
    x, y = _one_hot_digits(300)
    model = models.compiled(models.mlp(64, (32,), 10), loss="categorical_crossentropy")
    return job(model, x, y, epochs=3, batch_size=1, validation_split=0.2)


def _batch_size_1_sparse() -> Job:
    x, y = data.wine()
    model = models.compiled(models.mlp(13, (16,), 3), keras.optimizers.SGD(0.01))
    return job(model, x, y, epochs=4, batch_size=1)


def _full_batch(samples: int, epochs: int, **fit) -> Job:
    """The first `samples` wine samples in one batch per epoch (one optimizer step per epoch), Adam's default rate."""
    x, y = data.wine()
    model = models.compiled(models.mlp(13, (16,), 3))
    return job(model, x[:samples], y[:samples], epochs=epochs, **fit)


def _imbalanced_99_1_shuffled() -> Job:
    """99:1 binary data through a shuffled tf.data pipeline, batch 64, class weights and AUC tracked."""
    x, y = data.tabular(6400, 20, 2, weights=[0.99], flip_y=0.0)
    dataset = tf.data.Dataset.from_tensor_slices((x, y.astype("float32"))).shuffle(len(x), seed=0).batch(64)
    positives = max(float(y.mean()), 1e-3)
    model = models.compiled(models.mlp(20, (16,), 1, activation="sigmoid"), loss="binary_crossentropy",
                            metrics=("accuracy", keras.metrics.AUC(name="auc")))
    weights = {0: 0.5 / (1 - positives), 1: 0.5 / positives}
    return Job(model, dataset, None, {"epochs": 4, "verbose": 0, "class_weight": weights})


def _imbalanced_99_1_arrays() -> Job:
    """99:1 binary arrays shuffled by fit(), batch 64, sample weights, judged by precision and recall."""
    x, y = data.tabular(6400, 20, 2, weights=[0.99], flip_y=0.0, seed=1)
    model = models.compiled(models.mlp(20, (16,), 1, activation="sigmoid"), loss="binary_crossentropy",
                            metrics=("accuracy", keras.metrics.Precision(name="precision"),
                                     keras.metrics.Recall(name="recall")))
    weights = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean())).astype("float32")
    return job(model, x, y.astype("float32"), epochs=4, batch_size=64, validation_split=0.2, sample_weight=weights)


def _separable_blobs(samples: int = 256) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, samples)
    x = rng.normal(0, 1, (samples, 8)) + 4.0 * (2 * y[:, None] - 1)
    return x.astype("float32"), y.astype("float32")


def _converged_to_zero(optimizer: keras.optimizers.Optimizer) -> Job:
    """Separable blobs, 150 epochs: the loss falls to about 1e-5 and stays there."""
    x, y = _separable_blobs()
    model = models.compiled(models.mlp(8, (32,), 1, activation="sigmoid"), optimizer, "binary_crossentropy")
    return job(model, x, y, epochs=150)


def _sequences(samples: int = 600, steps: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sequences whose label at each time step is the sign of a feature (tagging)."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (samples, steps, 4)).astype("float32")
    return x, (x[..., 0] + 0.5 * x[..., 1] > 0).astype("int32")


def _time_distributed_tagging() -> Job:
    """Per-time-step classification: TimeDistributed(Dense) after an LSTM returning sequences."""
    x, y = _sequences()
    model = keras.Sequential([keras.Input(x.shape[1:]), L.LSTM(16, return_sequences=True),
                              L.TimeDistributed(L.Dense(2, activation="softmax"))])
    return job(models.compiled(model), x, y, epochs=6, validation_split=0.2)


def _bidirectional_classifier() -> Job:
    """A Bidirectional LSTM reading the sequences, one label per sequence."""
    x, y = _sequences()
    labels = (y.mean(axis=1) > 0.5).astype("int32")
    model = keras.Sequential([keras.Input(x.shape[1:]), L.Bidirectional(L.LSTM(16)), L.Dense(2, activation="softmax")])
    return job(models.compiled(model), x, labels, epochs=8, validation_split=0.2)


SETUPS: tuple[Setup, ...] = (
    Setup("batch_size_1_one_hot", "digits, one-hot labels, batch size 1", _batch_size_1_one_hot),
    Setup("batch_size_1_sparse", "wine, class ids, SGD, batch size 1", _batch_size_1_sparse),
    Setup("full_batch_tiny", "60 wine samples, batch = data size: one optimizer step per epoch, 200 epochs",
          lambda: _full_batch(60, 200, batch_size=60)),
    Setup("smaller_than_one_batch", "20 wine samples, batch size 32: every epoch is one short batch, 200 epochs",
          lambda: _full_batch(20, 200, batch_size=32)),
    Setup("imbalanced_99_1_tf_data", "99:1 binary, shuffled tf.data, batch 64, class weights, AUC",
          _imbalanced_99_1_shuffled),
    Setup("imbalanced_99_1_arrays", "99:1 binary arrays, batch 64, precision and recall tracked",
          _imbalanced_99_1_arrays),
    Setup("converged_to_zero_adam", "separable blobs, Adam, 150 epochs: the loss reaches about 1e-6 and stays",
          lambda: _converged_to_zero(keras.optimizers.Adam(1e-2))),
    Setup("converged_to_zero_sgd", "separable blobs, SGD, 150 epochs: the loss reaches about 1e-5 and stays",
          lambda: _converged_to_zero(keras.optimizers.SGD(0.5))),
    Setup("time_distributed_tagging", "LSTM + TimeDistributed(Dense), one label per time step",
          _time_distributed_tagging),
    Setup("bidirectional_lstm", "Bidirectional(LSTM) sequence classifier", _bidirectional_classifier),
    Setup("padded_tagging_masked", "Embedding(mask_zero=True) + LSTM + TimeDistributed(Dense(5, softmax)), sparse "
          "tags of shape (batch, 48), over 90% padding (tag 0) skipped by the mask",
          lambda: tagging_job(mask=True)),
    Setup("full_length_tagging", "Embedding + LSTM + TimeDistributed(Dense(5, softmax)), 4 tags at every one of "
          "48 positions, labels of shape (batch, 48)", lambda: tagging_job(mask=False, padded=False)),
)

