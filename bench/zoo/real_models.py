"""Classes of faults in the model's output, loss and labels seen in real users' programs,
each with a healthy twin: the same program, fixed, which must stay quiet.

The classes: a softmax over a single unit; an output activation whose range cannot reach
the targets; softmax on multi-label targets (or with a regression loss); fractional labels
under a sparse loss; a loss that does not fit the task; and the shapes SCRAM once
misread: wrapped and custom output layers, `Activation` layers, `tf.nn` activations, a
learning rate on its optimizer's bound, and Keras 3's cached logits.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_diabetes, load_wine

from bench import data, models
from bench.zoo import symptoms
from bench.zoo.registry import Job, job, scenario

# A model whose output cannot move or cannot reach its targets: the loss stays flat,
# the output saturates and its gradients vanish.
STUCK = (*symptoms.STALLED, *symptoms.NO_SIGNAL, "saturated_activations")


# -- data --------------------------------------------------------------------------------

def prices() -> data.Arrays:
    """Diabetes progression (25 to 346) as raw regression targets, features z-scored."""
    x, y = data.shuffled(*load_diabetes(return_X_y=True))
    return data.standardized(x), y.astype("float32")


def digit_attributes() -> data.Arrays:
    """Digits with 4 yes/no attributes each (even, below 5, multiple of 3, above 6): multi-label rows."""
    x, y = data.digits()
    labels = np.stack([y % 2 == 0, y < 5, y % 3 == 0, y > 6], axis=1)
    return x, labels.astype("float32")


def digit_sequences() -> data.Arrays:
    """Each digit image as 4 steps of 16 pixels, with 2 yes/no attributes per step (even, below 5)."""
    x, y = data.digits()
    per_step = np.stack([y % 2 == 0, y < 5], axis=1).astype("float32")
    return x.reshape(-1, 4, 16), np.repeat(per_step[:, None, :], 4, axis=1)


def functional(inputs: int, hidden: int, head: keras.layers.Layer) -> keras.Model:
    """A functional one-hidden-layer model ending in `head`."""
    x_in = keras.Input((inputs,))
    return keras.Model(x_in, head(keras.layers.Dense(hidden, activation="relu")(x_in)))


def sequence_model(head: keras.layers.Layer) -> keras.Model:
    """A per-step dense model over 4 steps of 16 values, ending in `head`."""
    return keras.Sequential([keras.Input((4, 16)),
                             keras.layers.TimeDistributed(keras.layers.Dense(32, activation="relu")), head])


# -- a softmax over a single unit ----------------------------------------------------------

@scenario(expected=["output_activation_loss_mismatch"], tolerated=STUCK)
def softmax_one_unit_regression() -> Job:
    """Dense(1, softmax) regressing targets of 25 to 346 with MSE: the output is always 1.0."""
    x, y = prices()
    return job(models.compiled(models.mlp(10, (32,), 1, activation="softmax"), loss="mse", metrics=["mae"]),
               x, y, epochs=4, validation_split=0.2)


@scenario(expected=["output_activation_loss_mismatch"], tolerated=(*STUCK, "class_imbalance"))
def softmax_one_unit_binary() -> Job:
    """Functional model, Dense(1, softmax) with binary cross-entropy: every prediction is 1.0."""
    x, y = data.breast_cancer()
    model = functional(30, 16, keras.layers.Dense(1, activation="softmax"))
    return job(models.compiled(model, loss="binary_crossentropy"), x, y, epochs=4, validation_split=0.2)


@scenario()
def linear_one_unit_regression() -> Job:
    """The fix of both regressions: Dense(1) (linear) on targets of 25 to 346 with MSE."""
    x, y = prices()
    return job(models.compiled(models.mlp(10, (32,), 1, activation=None), keras.optimizers.Adam(0.01),
                               loss="mse", metrics=["mae"]), x, y, epochs=8, validation_split=0.2)


@scenario()
def sigmoid_one_unit_binary() -> Job:
    """The fix: functional model, Dense(1, sigmoid) with binary cross-entropy on breast-cancer labels."""
    x, y = data.breast_cancer()
    model = functional(30, 16, keras.layers.Dense(1, activation="sigmoid"))
    return job(models.compiled(model, loss="binary_crossentropy"), x, y, epochs=4, validation_split=0.2)


# -- an output activation that cannot reach the targets ----------------------------------

@scenario(expected=["output_range_mismatch"], tolerated=STUCK)
def sigmoid_output_on_prices() -> Job:
    """Dense(1, sigmoid) regressing targets of 25 to 346 with MSE: the output stops at 1."""
    x, y = prices()
    return job(models.compiled(models.mlp(10, (32,), 1, activation="sigmoid"), loss="mse", metrics=["mae"]),
               x, y, epochs=4, validation_split=0.2)


@scenario(expected=["output_range_mismatch"], tolerated=(*STUCK, "dead_relu"))
def relu_output_on_standardised_targets() -> Job:
    """Functional model, Dense(1, relu) regressing z-scored targets (half negative) with MSE."""
    x, y = data.diabetes()
    model = functional(10, 32, keras.layers.Dense(1, activation="relu"))
    return job(models.compiled(model, loss="mse", metrics=["mae"]), x, y, epochs=4, validation_split=0.2)


@scenario(expected=["output_range_mismatch"], tolerated=STUCK)
def tanh_output_on_ratings() -> Job:
    """Dense(1, tanh) regressing wine's colour intensity (1.3 to 13) with MAE: tanh stops at 1."""
    raw, _ = data.shuffled(*load_wine(return_X_y=True))
    intensity = raw[:, 9].astype("float32")
    features = data.standardized(np.delete(raw, 9, axis=1))
    return job(models.compiled(models.mlp(12, (16,), 1, activation="tanh"), loss="mae", metrics=None),
               features, intensity, epochs=6, batch_size=16)


@scenario()
def sigmoid_output_on_scaled_prices() -> Job:
    """The fix that keeps the sigmoid: targets of 25 to 346 scaled into [0, 1], MSE."""
    x, y = prices()
    scaled = (y - y.min()) / (y.max() - y.min())
    return job(models.compiled(models.mlp(10, (32,), 1, activation="sigmoid"), keras.optimizers.Adam(0.01),
                               loss="mse", metrics=["mae"]), x, scaled, epochs=8, validation_split=0.2)


@scenario()
def linear_output_on_standardised_targets() -> Job:
    """The fix: functional model, Dense(1) (linear) regressing z-scored targets with MSE."""
    x, y = data.diabetes()
    model = functional(10, 32, keras.layers.Dense(1))
    return job(models.compiled(model, loss="mse", metrics=["mae"]), x, y, epochs=6, validation_split=0.2)


# -- softmax on multi-label targets, or with a regression loss -------------------------------

@scenario(expected=["output_activation_loss_mismatch"])
def softmax_multi_label_binary_crossentropy() -> Job:
    """Dense(4, softmax) with binary cross-entropy on digits' 4 yes/no attributes (several per row)."""
    x, y = digit_attributes()
    model = models.compiled(models.mlp(64, (32,), 4, activation="softmax"), loss="binary_crossentropy",
                            metrics=["binary_accuracy"])
    return job(model, x, y, epochs=4, validation_split=0.2)


@scenario(expected=["output_range_mismatch"], tolerated=symptoms.STALLED)
def softmax_multi_label_mse() -> Job:
    """Functional model, Dense(4, softmax) with MSE on digits' 4 yes/no attributes."""
    x, y = digit_attributes()
    model = functional(64, 32, keras.layers.Dense(4, activation="softmax"))
    return job(models.compiled(model, loss="mse", metrics=["binary_accuracy"]), x, y, epochs=4,
               validation_split=0.2)


@scenario(expected=["output_range_mismatch"], tolerated=symptoms.STALLED)
def softmax_multi_label_categorical() -> Job:
    """Dense(4, softmax) with categorical cross-entropy on digits' 4 yes/no attributes."""
    x, y = digit_attributes()
    model = models.compiled(models.mlp(64, (32,), 4, activation="softmax"), loss="categorical_crossentropy",
                            metrics=["binary_accuracy"])
    return job(model, x, y, epochs=4, validation_split=0.2)


@scenario(expected=["label_output_mismatch"])
def softmax_one_hot_mse() -> Job:
    """Dense(10, softmax) with MSE on one-hot digit labels: a classification trained as a regression."""
    x, y = data.digits()
    model = models.compiled(models.mlp(64, (32,), 10), loss="mse", metrics=["accuracy"])
    return job(model, x, keras.utils.to_categorical(y, 10), epochs=4, validation_split=0.2)


@scenario()
def sigmoid_multi_label_binary_crossentropy() -> Job:
    """The fix: Dense(4, sigmoid) with binary cross-entropy on digits' 4 yes/no attributes."""
    x, y = digit_attributes()
    model = models.compiled(models.mlp(64, (32,), 4, activation="sigmoid"), loss="binary_crossentropy",
                            metrics=["binary_accuracy"])
    return job(model, x, y, epochs=4, validation_split=0.2)


@scenario()
def softmax_one_hot_categorical() -> Job:
    """The fix: Dense(10, softmax) with categorical cross-entropy on one-hot digit labels."""
    x, y = data.digits()
    model = models.compiled(models.mlp(64, (32,), 10), loss="categorical_crossentropy")
    return job(model, x, keras.utils.to_categorical(y, 10), epochs=4, validation_split=0.2)


# -- fractional labels under a sparse loss --------------------------------------------------

@scenario(expected=["label_output_mismatch"], tolerated=(*symptoms.STALLED, "loss_diverging"))
def sparse_labels_divided_by_255() -> Job:
    """Digit labels divided by 255 along with the pixels, sparse loss: every label becomes class 0."""
    x, y = data.digits(scaled=False)
    return job(models.compiled(models.mlp(64, (32,), 10)), x / 255.0, y / 255.0, epochs=4, validation_split=0.2)


@scenario(expected=["label_output_mismatch"], tolerated=symptoms.STALLED)
def sparse_labels_scaled_to_one() -> Job:
    """Functional model, labels 0..9 min-max scaled to [0, 1] with the features, sparse loss."""
    x, y = data.digits()
    model = functional(64, 32, keras.layers.Dense(10, activation="softmax"))
    return job(models.compiled(model), x, (y / 9.0).astype("float32"), epochs=4, validation_split=0.2)


@scenario()
def sparse_integer_labels() -> Job:
    """The fix: pixels scaled to [0, 1], labels kept as class ids 0..9, sparse loss."""
    x, y = data.digits(scaled=False)
    return job(models.compiled(models.mlp(64, (32,), 10)), x / 16.0, y, epochs=4, validation_split=0.2)


# -- a loss that does not fit the task -------------------------------------------------------

@scenario(expected=["label_output_mismatch"])
def mse_on_binary_sigmoid() -> Job:
    """Dense(1, sigmoid) with MSE on breast-cancer 0/1 labels: learns, but slowly and poorly."""
    x, y = data.breast_cancer()
    return job(models.compiled(models.mlp(30, (16,), 1, activation="sigmoid"), loss="mse"), x, y, epochs=4,
               validation_split=0.2)


@scenario(expected=["label_output_mismatch"])
def mae_on_binary_sigmoid() -> Job:
    """Functional model, Dense(1, sigmoid) with MAE on breast-cancer 0/1 labels."""
    x, y = data.breast_cancer()
    model = functional(30, 16, keras.layers.Dense(1, activation="sigmoid"))
    return job(models.compiled(model, loss="mae"), x, y, epochs=4, validation_split=0.2)


@scenario(expected=["label_output_mismatch"], tolerated=(*symptoms.STALLED, "dead_relu"))
def binary_crossentropy_on_three_classes() -> Job:
    """One sigmoid unit with binary cross-entropy on wine's 3 classes (labels 0, 1, 2)."""
    x, y = data.wine()
    model = models.compiled(models.mlp(13, (16,), 1, activation="sigmoid"), loss="binary_crossentropy")
    return job(model, x, y.astype("float32"), epochs=6, batch_size=16)


@scenario()
def softmax_three_classes_sparse() -> Job:
    """The fix: three softmax units with sparse categorical cross-entropy on wine's 3 classes."""
    x, y = data.wine()
    return job(models.compiled(models.mlp(13, (16,), 3)), x, y, epochs=8, batch_size=16)


# -- output layers SCRAM once misread -------------------------------------------------------

class SigmoidHead(keras.layers.Layer):
    """A custom output layer: a hidden Dense and a sigmoid Dense, applied in that order."""

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(units, activation="sigmoid")

    def call(self, inputs):
        return self.out(self.hidden(inputs))


@scenario()
def time_distributed_sigmoid_binary_crossentropy() -> Job:
    """TimeDistributed(Dense(2, sigmoid)) with binary cross-entropy on 2 yes/no attributes per step."""
    x, y = digit_sequences()
    model = sequence_model(keras.layers.TimeDistributed(keras.layers.Dense(2, activation="sigmoid")))
    return job(models.compiled(model, loss="binary_crossentropy", metrics=["binary_accuracy"]), x, y, epochs=4,
               validation_split=0.2)


@scenario()
def custom_layer_sigmoid_head() -> Job:
    """A custom Layer wrapping Dense(1, sigmoid) as the output, binary cross-entropy on breast cancer."""
    x, y = data.breast_cancer()
    model = functional(30, 16, SigmoidHead(1))
    return job(models.compiled(model, loss="binary_crossentropy"), x, y, epochs=4, validation_split=0.2)


@scenario()
def activation_layer_sigmoid() -> Job:
    """Dense(1) then Activation("sigmoid") as the last layer, binary cross-entropy on breast cancer."""
    x, y = data.breast_cancer()
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1),
                              keras.layers.Activation("sigmoid")])
    return job(models.compiled(model, loss="binary_crossentropy"), x, y, epochs=4, validation_split=0.2)


@scenario(backends=("tensorflow",))
def tf_nn_softmax_activation() -> Job:
    """Dense(10, activation=tf.nn.softmax) with sparse categorical cross-entropy on digits."""
    x, y = data.digits()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation=tf.nn.softmax)])
    return job(models.compiled(model), x, y, epochs=4, validation_split=0.2)


@scenario()
def adagrad_on_its_highest_usual_rate() -> Job:
    """Adagrad(0.1) on digits: 0.1, stored in float32 as 0.10000000149, is on the range's top, not above it."""
    x, y = data.digits()
    return job(models.compiled(models.mlp(64, (32,), 10), keras.optimizers.Adagrad(0.1)), x, y, epochs=4,
               validation_split=0.2)


@scenario(expected=["output_activation_loss_mismatch"], tolerated=symptoms.STALLED)
def time_distributed_softmax_from_logits() -> Job:
    """TimeDistributed(Dense(10, softmax)) with from_logits=True: no cached logits, squashed twice.

    The same head without the wrapper (`static.softmax_with_from_logits`) trains correctly on
    Keras 3's TensorFlow backend, which computes the loss from the logits cached on the output.
    """
    x, y = data.digits()
    steps = np.repeat(y[:, None], 4, axis=1)
    model = sequence_model(keras.layers.TimeDistributed(keras.layers.Dense(10, activation="softmax")))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return job(models.compiled(model, loss=loss), x.reshape(-1, 4, 16), steps, epochs=4, validation_split=0.2)
