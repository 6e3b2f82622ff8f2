"""Faults inside the model: gradients, activations, weights that do not move, wiring."""

from __future__ import annotations

import keras

from bench import data, models
from bench.zoo import symptoms
from bench.zoo.registry import Job, job, scenario


@scenario(expected=["vanishing_gradients"], kind="batch", tolerated=(*symptoms.STALLED, *symptoms.NO_SIGNAL))
def deep_sigmoid_network() -> Job:
    """Ten sigmoid hidden layers trained with SGD 0.01: the early layers get almost no gradient."""
    x, y = data.digits()
    model = models.mlp(64, (32,) * 10, 10, hidden_activation="sigmoid")
    return job(models.compiled(model, keras.optimizers.SGD(0.01)), x, y, epochs=3, validation_split=0.2)


@scenario(expected=["exploding_gradients", "loss_diverging"], kind="batch", tolerated=symptoms.AFTER_NAN)
def exploding_initialisation() -> Job:
    """Eight ReLU layers initialised with stddev 1 (He would be ~0.18): activations grow 5x per layer."""
    x, y = data.digits()
    init = keras.initializers.RandomNormal(stddev=1.0)
    model = models.mlp(64, (64,) * 8, 10, kernel_initializer=init)
    return job(models.compiled(model, keras.optimizers.SGD(0.01)), x, y, epochs=3, validation_split=0.2)


@scenario(expected=["dead_relu"], kind="batch", tolerated=(*symptoms.STALLED, *symptoms.NO_SIGNAL))
def mostly_dead_relu() -> Job:
    """Hidden ReLU layer initialised with bias -1: ~85% of its units output 0 for every sample."""
    x, y = data.digits()
    model = models.mlp(64, (128,), 10, bias_initializer=keras.initializers.Constant(-1.0))
    return job(models.compiled(model), x, y, epochs=3, validation_split=0.2)


@scenario(expected=["dead_relu", "constant_predictions", "weights_not_updating"], kind="batch",
          tolerated=(*symptoms.STALLED, *symptoms.NO_SIGNAL))
def all_relu_dead() -> Job:
    """Hidden ReLU layers with bias -10: every unit is dead, the output ignores the input."""
    x, y = data.digits()
    model = models.mlp(64, (64, 64), 10, bias_initializer=keras.initializers.Constant(-10.0))
    return job(models.compiled(model), x, y, epochs=3, validation_split=0.2)


@scenario(expected=["saturated_activations"], kind="batch", tolerated=(*symptoms.STALLED, *symptoms.NO_SIGNAL))
def saturated_tanh() -> Job:
    """Tanh layers initialised with stddev 3: pre-activations around +-10, outputs pinned at +-1."""
    x, y = data.digits()
    init = keras.initializers.RandomNormal(stddev=3.0)
    model = models.mlp(64, (64, 64), 10, hidden_activation="tanh", kernel_initializer=init)
    return job(models.compiled(model, keras.optimizers.SGD(0.01)), x, y, epochs=3, validation_split=0.2)


@scenario(expected=["weights_not_updating", "learning_rate_unusual", "update_ratio_unusual", "loss_not_decreasing"],
          kind="batch", tolerated=symptoms.STALLED)
def zero_learning_rate() -> Job:
    """SGD with learning rate 0: nothing changes."""
    x, y = data.digits()
    return job(models.compiled(models.mlp(64, (32,), 10), keras.optimizers.SGD(0.0)), x, y, epochs=3,
               validation_split=0.2)


def _detached_branch_model() -> keras.Model:
    """Two branches, one of which is cut from the gradient by `stop_gradient`."""
    inputs = keras.Input((64,))
    detached = keras.layers.Dense(64, activation="relu", name="detached")(inputs)
    detached = keras.layers.Lambda(keras.ops.stop_gradient)(detached)
    kept = keras.layers.Dense(64, activation="relu")(inputs)
    merged = keras.layers.Concatenate()([kept, detached])
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(merged))


@scenario(expected=["weights_not_updating"], kind="batch")
def detached_layer() -> Job:
    """A layer whose output passes through stop_gradient: its trainable weights never change."""
    x, y = data.digits()
    return job(models.compiled(_detached_branch_model()), x, y, epochs=3, validation_split=0.2)


def _input_ignored_model() -> keras.Model:
    """A wiring bug: the input is multiplied by zero before the network sees it."""
    inputs = keras.Input((64,))
    hidden = keras.layers.Lambda(lambda t: t * 0.0)(inputs)
    hidden = keras.layers.Dense(32, activation="relu")(hidden)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))


@scenario(expected=["cannot_overfit_batch", "constant_predictions", "weights_not_updating"],
          tolerated=(*symptoms.STALLED, *symptoms.NO_SIGNAL, "dead_relu"), scram_options={"preflight": True})
def input_ignored() -> Job:
    """The input is zeroed by a wiring bug; SCRAM's opt-in preflight (overfit one batch) is on."""
    x, y = data.digits()
    return job(models.compiled(_input_ignored_model()), x, y, epochs=3, validation_split=0.2)
