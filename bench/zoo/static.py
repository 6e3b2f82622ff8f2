"""Faults that are wrong before the first batch: model, loss, labels, optimizer, memory."""

from __future__ import annotations

import keras
import numpy as np

from bench import data, models
from bench.zoo import symptoms
from bench.zoo.registry import Job, job, scenario


@scenario(faulty_on={"jax": ["output_activation_loss_mismatch"], "torch": ["output_activation_loss_mismatch"]},
          tolerated=(*symptoms.STALLED, *symptoms.EXTREME_START))
def softmax_with_from_logits() -> Job:
    """Softmax output with from_logits=True: harmless on TensorFlow, whose loss reads the cached logits (info only).

    Keras 3 on TensorFlow hands a cross-entropy the logits behind a Keras softmax, so this trains
    like a linear output; `time_distributed_softmax_from_logits` (real_models) is the shape where
    the bug still bites. On JAX and PyTorch no logits are cached: the loss takes the probabilities
    for logits there, the bug SCRAM must name.
    """
    x, y = data.digits()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return job(models.compiled(models.mlp(64, (32,), 10), loss=loss), x, y, epochs=4, validation_split=0.2)


@scenario(expected=["output_activation_loss_mismatch"], tolerated=(*symptoms.STALLED, *symptoms.EXTREME_START))
def linear_output_probability_loss() -> Job:
    """Output layer without activation, cross-entropy expecting probabilities (from_logits=False)."""
    x, y = data.digits()
    return job(models.compiled(models.mlp(64, (32,), 10, activation=None)), x, y, epochs=4, validation_split=0.2)


@scenario(expected=["label_output_mismatch"], tolerated=(*symptoms.STALLED, "dead_relu"))
def binary_loss_on_ten_classes() -> Job:
    """Labels 0..9 with one sigmoid unit and binary cross-entropy."""
    x, y = data.digits()
    model = models.compiled(models.mlp(64, (32,), 1, activation="sigmoid"), loss="binary_crossentropy")
    return job(model, x, y.astype("float32"), epochs=4)


@scenario(expected=["label_output_mismatch"])
def regression_loss_on_class_labels() -> Job:
    """Digit class ids 0..9 fitted with one linear unit and mean squared error."""
    x, y = data.digits()
    model = models.compiled(models.mlp(64, (32,), 1, activation=None), loss="mse", metrics=["accuracy"])
    return job(model, x, y.astype("float32"), epochs=4, validation_split=0.2)


@scenario(expected=["learning_rate_unusual", "update_ratio_unusual", "loss_oscillating", "loss_diverging"],
          tolerated=(*symptoms.STALLED, "dead_relu", "exploding_gradients", *symptoms.SATURATED_OUTPUT))
def adam_learning_rate_too_high() -> Job:
    """Adam with learning rate 0.5 (usual range about 1e-5..1e-2) on digits."""
    x, y = data.digits()
    return job(models.compiled(models.mlp(64, (64,), 10), keras.optimizers.Adam(0.5)), x, y, epochs=5,
               validation_split=0.2)


@scenario(expected=["learning_rate_unusual", "update_ratio_unusual", "loss_not_decreasing"],
          tolerated=(*symptoms.STALLED, *symptoms.NO_SIGNAL))
def sgd_learning_rate_too_low() -> Job:
    """Plain SGD with learning rate 1e-6 on digits: the weights barely move."""
    x, y = data.digits()
    return job(models.compiled(models.mlp(64, (64,), 10), keras.optimizers.SGD(1e-6)), x, y, epochs=5,
               validation_split=0.2)


@scenario(expected=["no_trainable_weights"], tolerated=(*symptoms.STALLED, "weights_not_updating"))
def frozen_model() -> Job:
    """`model.trainable = False` before compile: fit() trains nothing."""
    x, y = data.digits()
    model = models.mlp(64, (32,), 10)
    model.trainable = False
    return job(models.compiled(model), x, y, epochs=3, validation_split=0.2)


@scenario(expected=["batch_memory_risk"], abort_before_training=True)
def batch_too_large_for_memory() -> Job:
    """Batch size 2048 of 64x64x3 images through 3 wide convolutions: tens of GB per step.

    The real step would run out of memory, so the runner stops fit() right after
    `on_train_begin`: only a check made before the first batch can warn in time.
    """
    rng = np.random.default_rng(0)
    x = rng.random((2048, 64, 64, 3), dtype=np.float32)
    y = rng.integers(0, 10, 2048)
    model = keras.Sequential([
        keras.Input((64, 64, 3)),
        *[keras.layers.Conv2D(128, 3, padding="same", activation="relu") for _ in range(3)],
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    return job(models.compiled(model), x, y, epochs=1, batch_size=2048)
