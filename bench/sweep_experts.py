"""Healthy sweep setups in the style of experts' example programs: a custom output layer,
in-model Rescaling/Normalization, a recommender regressing ratings with binary cross-entropy,
a fraud-style classifier with 0.2% positives and class weights, a GAN and a VAE with their own
`train_step` (issue 17).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from bench import data, models
from bench.zoo.real_internals import gan_job, normalized_mlp, pixel_images, rescaling_cnn, vae_job, vital_signs
from bench.zoo.registry import Job, Setup, job

L = keras.layers


class SigmoidHead(L.Layer):
    """A custom output layer, as experts write them: a Dense wrapped with its sigmoid."""

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dense = L.Dense(units)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return keras.activations.sigmoid(self.dense(inputs))


def _custom_head() -> Job:
    x, y = data.digits()
    labels = (y % 2 == 0).astype("float32")[:, None]
    inputs = keras.Input((64,))
    outputs = SigmoidHead(1, name="head")(L.Dense(32, activation="relu")(inputs))
    model = models.compiled(keras.Model(inputs, outputs), loss="binary_crossentropy")
    return job(model, x, labels, epochs=8, validation_split=0.2)


def _rescaling() -> Job:
    return job(models.compiled(rescaling_cnn()), *pixel_images(), epochs=4, validation_split=0.2)


def _normalization() -> Job:
    x, y = vital_signs()
    model = models.compiled(normalized_mlp(x), loss="binary_crossentropy")
    return job(model, x, y, epochs=8, validation_split=0.2)


def _recommender() -> Job:
    """Users x movies: ratings 1..5 scaled to [0, 1], fitted with a sigmoid and binary cross-entropy."""
    rng = np.random.default_rng(0)
    users, movies, pairs = 200, 150, 8000
    taste, appeal = rng.normal(size=(users, 4)), rng.normal(size=(movies, 4))
    u, m = rng.integers(0, users, pairs), rng.integers(0, movies, pairs)
    ratings = np.clip(np.round(3 + (taste[u] * appeal[m]).sum(1) / 2 + rng.normal(0, 0.3, pairs)), 1, 5)
    pair_in = keras.Input((2,), dtype="int32")
    user_vec = L.Embedding(users, 8)(pair_in[:, 0])
    movie_vec = L.Embedding(movies, 8)(pair_in[:, 1])
    score = L.Dot(axes=1)([user_vec, movie_vec])
    model = keras.Model(pair_in, L.Activation("sigmoid")(L.Dense(1)(score)))
    model = models.compiled(model, keras.optimizers.Adam(3e-3), loss="binary_crossentropy", metrics=None)
    pairs_x = np.stack([u, m], 1).astype("int32")
    return job(model, pairs_x, ((ratings - 1) / 4).astype("float32"), epochs=5, batch_size=64,
               validation_split=0.2)


def fraud_data(samples: int = 20000) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
    """0.2% positive transactions, the positives shifted on 3 of 12 features; class weights balancing them."""
    rng = np.random.default_rng(0)
    y = (rng.random(samples) < 0.002).astype("float32")
    x = rng.normal(size=(samples, 12)).astype("float32")
    x[y == 1, :3] += 2.5
    return x, y, {0: 0.5 / (1 - y.mean()), 1: 0.5 / y.mean()}


def fraud_model() -> keras.Model:
    return models.compiled(models.mlp(12, (32,), 1, activation="sigmoid"), loss="binary_crossentropy",
                           metrics=[keras.metrics.AUC(name="auc")])


def _fraud() -> Job:
    """0.2% positives among 20,000 transactions, class weights balancing the classes."""
    x, y, weights = fraud_data()
    return job(fraud_model(), x, y, epochs=3, batch_size=256, validation_split=0.2, class_weight=weights)


def _fraud_tf_data() -> Job:
    """The same transactions through a shuffled tf.data pipeline: SCRAM sees the batches inside the train
    step, and most batches of 256 hold no positive at all (0.998^256 = 0.6)."""
    x, y, weights = fraud_data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).batch(256)
    return Job(fraud_model(), dataset, None, {"epochs": 3, "verbose": 0, "class_weight": weights})


SETUPS: tuple[Setup, ...] = (
    Setup("expert_custom_sigmoid_head", "digits even/odd, a custom Layer wrapping Dense + sigmoid, binary "
          "cross-entropy", _custom_head),
    Setup("expert_rescaling_in_model", "pixels 0..255 into a CNN whose preprocessing model flips and "
          "rescales by 1/255", _rescaling),
    Setup("expert_normalization_in_model", "table of vital signs 0..255, Normalization adapted first in the "
          "model", _normalization),
    Setup("expert_recommender_bce", "user x movie embeddings, dot product + sigmoid, ratings scaled to [0, 1] "
          "with binary cross-entropy", _recommender),
    Setup("expert_fraud_class_weights", "0.2% positives, class weights, AUC metric", _fraud),
    Setup("expert_fraud_tf_data", "0.2% positives through tf.data shuffle().batch(256), class weights, AUC metric",
          _fraud_tf_data),
    Setup("expert_gan_train_step", "GAN of two MLPs on digits, own train_step, no call()", gan_job),
    Setup("expert_vae_train_step", "VAE of two MLPs on digits, own train_step, no call()", vae_job),
)
