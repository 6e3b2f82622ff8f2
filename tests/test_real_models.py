"""Issue 17, model/loss/label rules: the root causes of real users' buggy programs, and quiet fixed twins.

Rule logic on hand-built observations first, then each class of fault (and its fix) on a real
tiny training, built by the zoo's own scenarios in `bench/zoo/real_models.py`.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from bench.zoo import real_models as Z
from bench.zoo import static as static_zoo
from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.checks.label_output_mismatch import LabelOutputMismatch
from tensorboard_plugin_scram.checks.learning_rate_unusual import LearningRateUnusual
from tensorboard_plugin_scram.checks.output_activation_loss_mismatch import OutputActivationLossMismatch
from tensorboard_plugin_scram.checks.output_range_mismatch import OutputRangeMismatch
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.keras_adapter.array_probe import ArrayProbe
from tensorboard_plugin_scram.keras_adapter.model_info import describe
from tensorboard_plugin_scram.observations import LossInfo, OutputInfo
from tests.builders import batches, report_json, run_info, x_and_y

pytestmark = pytest.mark.training

MSE, MAE = LossInfo("mean_squared_error"), LossInfo("mean_absolute_error")
BCE, CCE, SPARSE = LossInfo("binary_crossentropy"), LossInfo("categorical_crossentropy"), \
    LossInfo("sparse_categorical_crossentropy")
LOGITS = LossInfo("sparse_categorical_crossentropy", from_logits=True)


def head(units, activation, **kw) -> OutputInfo:
    return OutputInfo("head", units, activation, **kw)


def static(output: OutputInfo, loss: LossInfo):
    return OutputActivationLossMismatch().on_train_begin(run_info(outputs=(output,), losses=(loss,)))


def on_labels(check, output: OutputInfo, loss: LossInfo, labels, **logs):
    """The check's findings on one batch of 32 samples with these label statistics."""
    obs = dataclasses.replace(labels, logs={"loss": 1.0, **logs})
    [found] = batches(check, [obs], run_info(outputs=(output,), losses=(loss,)))
    return found


# -- reading the output activation (model_info) ----------------------------------------------

class _Head(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(4, activation="relu")
        self.out = keras.layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def _output_of(*layers, shape=(5,)) -> OutputInfo:
    [output] = describe(keras.Sequential([keras.Input(shape), *layers])).outputs
    return output


def test_wrapped_and_nested_output_layers_are_looked_through():
    wrapped = _output_of(keras.layers.TimeDistributed(keras.layers.Dense(2, activation="sigmoid")), shape=(3, 5))
    assert (wrapped.activation, wrapped.units, wrapped.activation_guessed) == ("sigmoid", 2, False)
    assert wrapped.activation_layer and not wrapped.cached_logits, "a wrapper's reshape drops Keras' cached logits"
    nested = _output_of(keras.Sequential([keras.layers.Dense(3), keras.layers.Softmax()]))
    assert nested.activation == "softmax" and nested.activation_layer
    assert _output_of(keras.layers.Bidirectional(keras.layers.LSTM(3)), shape=(4, 5)).activation == "tanh"


def test_activation_layers_and_callables_are_read_by_name():
    assert _output_of(keras.layers.Dense(3), keras.layers.Activation("sigmoid")).activation == "sigmoid"
    assert _output_of(keras.layers.Dense(3, activation=tf.nn.softmax)).activation == "softmax"
    assert _output_of(keras.layers.Dense(3, activation=keras.activations.sigmoid)).cached_logits
    assert _output_of(keras.layers.Dense(3), keras.layers.Softmax()).cached_logits
    assert not _output_of(keras.layers.Dense(3, activation=tf.nn.softmax)).cached_logits  # no cache on tf.nn's
    assert _output_of(keras.layers.Dense(3)).activation == "linear"


def test_unreadable_activations_are_unknown_not_linear():
    guessed = _output_of(_Head())
    assert (guessed.activation, guessed.activation_guessed) == ("sigmoid", True)
    # A softmax over time (attention weights) is no class output; a Flatten hides what came before.
    assert _output_of(keras.layers.Dense(1), keras.layers.Softmax(axis=1), shape=(4, 5)).activation is None
    assert _output_of(keras.layers.Dense(3, activation="softmax"), keras.layers.Flatten(), shape=(4, 5)).activation \
        is None


# -- output_activation_loss_mismatch -------------------------------------------------------------

@pytest.mark.parametrize("loss, words", [(MSE, "cannot change"), (MAE, "cannot change"),
                                         (BCE, "positive class"), (SPARSE, "loss is 0")])
def test_a_softmax_over_one_unit_is_an_error_under_any_loss(loss, words):
    [finding] = static(head(1, "softmax"), loss)
    assert finding.severity == Severity.ERROR and "always outputs 1.0" in finding.explanation
    assert words in finding.explanation


def test_a_single_softmax_unit_under_binary_crossentropy_says_what_keras_3_hides():
    [cached] = static(head(1, "softmax", cached_logits=True), BCE)
    assert "loss may still fall" in cached.explanation and 'activation="sigmoid"' in cached.snippet


def test_cached_logits_make_probabilities_with_from_logits_info_only():
    [hidden] = static(head(10, "softmax", cached_logits=True), LOGITS)
    [bites] = static(head(10, "softmax"), LOGITS)
    assert hidden.severity == Severity.INFO and "trains correctly" in hidden.explanation
    assert bites.severity == Severity.WARNING and "squashed twice" in bites.explanation
    [sigmoid] = static(head(10, "sigmoid", cached_logits=True), SPARSE)
    assert sigmoid.severity == Severity.INFO and "do not sum to 1" in sigmoid.explanation


def test_softmax_with_binary_crossentropy_from_three_units():
    [finding] = static(head(4, "softmax", cached_logits=True), BCE)
    assert finding.severity == Severity.WARNING and "compete" in finding.explanation
    assert 'activation="sigmoid"' in finding.snippet
    assert static(head(2, "softmax"), BCE) == []  # two softmax units + BCE on one-hot = categorical CE


def test_unknown_and_guessed_activations():
    assert static(head(1, None), BCE) == [] and static(head(10, None), SPARSE) == []
    assert static(head(2, "sigmoid", activation_layer="dense"), BCE) == []  # TimeDistributed(Dense(2, sigmoid))
    [guess] = static(head(10, "softmax", activation_layer="dense_1", activation_guessed=True), LOGITS)
    assert guess.severity == Severity.INFO and guess.confidence == Confidence.LOW and "'dense_1'" in guess.explanation


# -- output_range_mismatch ------------------------------------------------------------------------

def test_targets_beyond_the_output_range():
    [sigmoid] = on_labels(OutputRangeMismatch(), head(1, "sigmoid"), MSE, x_and_y(25, 346, integral=False))
    assert sigmoid.severity == Severity.ERROR and "up to 346" in sigmoid.explanation and "Dense(1)" in sigmoid.snippet
    [relu] = on_labels(OutputRangeMismatch(), head(1, "relu"), MAE, x_and_y(-2.1, 3.0, integral=False))
    assert relu.severity == Severity.WARNING and "down to -2.1" in relu.explanation
    [tanh] = on_labels(OutputRangeMismatch(), head(1, "tanh"), MSE, x_and_y(0, 10, integral=False))
    assert tanh.severity == Severity.ERROR and "-1 + " in tanh.snippet


@pytest.mark.parametrize("output, loss, low, high", [
    (head(1, "sigmoid"), MSE, 0.0, 1.0),           # scaled targets
    (head(1, "sigmoid"), MSE, 0.0, 1.03),          # a few percent over: no class of fault
    (head(1, "relu"), MSE, -0.02, 40.0),           # a sliver of negative noise on counts
    (head(1, "linear"), MSE, -300.0, 500.0),
    (head(1, None), MSE, 25.0, 346.0),             # unknown activation
    (head(1, "sigmoid"), BCE, 0.0, 9.0),           # label_output_mismatch's case
    (head(1, "softmax"), MSE, 25.0, 346.0),        # output_activation_loss_mismatch's case
])
def test_reachable_or_someone_elses_targets_are_quiet(output, loss, low, high):
    assert on_labels(OutputRangeMismatch(), output, loss, x_and_y(low, high, integral=False)) == []


def test_multi_label_rows_behind_a_softmax():
    multi = x_and_y(0, 1, y_count=32 * 4, multi_hot_rows=12)
    [mse] = on_labels(OutputRangeMismatch(), head(4, "softmax"), MSE, multi)
    assert mse.severity == Severity.ERROR and "12 of the 32" in mse.explanation and "sigmoid" in mse.snippet
    [cce] = on_labels(OutputRangeMismatch(), head(4, "softmax"), CCE, multi)
    assert cce.severity == Severity.WARNING
    assert on_labels(OutputRangeMismatch(), head(4, "softmax"), BCE, multi) == []  # said before training
    assert on_labels(OutputRangeMismatch(), head(4, "sigmoid"), BCE, multi) == []
    one_hot = x_and_y(0, 1, y_count=32 * 4, class_counts=(8, 8, 8, 8))
    assert on_labels(OutputRangeMismatch(), head(4, "softmax"), CCE, one_hot) == []


# -- label_output_mismatch ------------------------------------------------------------------------

def test_fractional_labels_under_a_sparse_loss():
    [scaled] = on_labels(LabelOutputMismatch(), head(10, "softmax"), SPARSE, x_and_y(0, 9 / 255, integral=False))
    assert scaled.severity == Severity.ERROR and "becomes class 0" in scaled.explanation
    [above] = on_labels(LabelOutputMismatch(), head(10, "softmax"), SPARSE, x_and_y(0, 4.5, integral=False))
    assert "class below" in above.explanation
    # Per-step labels (one id per time step) are class ids too.
    sequence = x_and_y(0, 0.5, y_count=32 * 4, integral=False)
    assert on_labels(LabelOutputMismatch(), head(10, "softmax"), SPARSE, sequence)


def test_negative_and_too_large_class_ids_of_any_shape():
    [negative] = on_labels(LabelOutputMismatch(), head(10, "softmax"), SPARSE, x_and_y(-1, 9))
    assert "down to -1" in negative.explanation
    [beyond] = on_labels(LabelOutputMismatch(), head(10, "softmax"), SPARSE, x_and_y(0, 12, y_count=32 * 4))
    assert "up to 12" in beyond.explanation
    assert on_labels(LabelOutputMismatch(), head(10, "softmax"), SPARSE, x_and_y(0, 9, y_count=32 * 4)) == []


def test_binary_crossentropy_on_three_classes_names_them():
    [finding] = on_labels(LabelOutputMismatch(), head(1, "sigmoid"), BCE, x_and_y(0, 2))
    assert "3 classes" in finding.explanation and "Dense(3" in finding.snippet


def test_a_regression_loss_on_binary_labels():
    [sigmoid] = on_labels(LabelOutputMismatch(), head(1, "sigmoid"), MSE, x_and_y(0, 1))
    assert sigmoid.severity == Severity.WARNING and "binary_crossentropy" in sigmoid.snippet
    [linear] = on_labels(LabelOutputMismatch(), head(1, "linear"), MSE, x_and_y(0, 1), mae=0.3)
    assert linear.severity == Severity.INFO  # a linear probability model is a choice, not a bug
    assert on_labels(LabelOutputMismatch(), head(1, "sigmoid"), MSE, x_and_y(0, 1, integral=False)) == []


def test_a_regression_loss_on_one_hot_rows():
    one_hot = x_and_y(0, 1, y_count=320, class_counts=(4,) * 8)
    [finding] = on_labels(LabelOutputMismatch(), head(10, "softmax"), MSE, one_hot)
    assert finding.severity == Severity.WARNING and "categorical_crossentropy" in finding.snippet
    multi_hot = x_and_y(0, 1, y_count=320, multi_hot_rows=5)
    assert on_labels(LabelOutputMismatch(), head(10, "softmax"), MSE, multi_hot) == []  # output_range_mismatch's


# -- learning_rate_unusual -------------------------------------------------------------------------

def test_a_rate_on_the_bound_in_float32_is_in_range():
    for optimizer, rate in (("SGD", 1e-4), ("Adam", 1e-5), ("Adagrad", 0.1), ("Lion", 1e-3)):
        stored = float(np.float32(rate))
        assert stored != rate
        assert LearningRateUnusual().on_train_begin(run_info(optimizer=optimizer, learning_rate=stored)) == []
    [below] = LearningRateUnusual().on_train_begin(run_info(optimizer="SGD", learning_rate=float(np.float32(9e-5))))
    assert "is 9e-05, below" in below.explanation


# -- the label statistic -------------------------------------------------------------------------

def test_multi_hot_rows_are_counted_for_targets_only():
    x, y = Z.digit_attributes()
    probe = ArrayProbe({"x": x[:64], "y": y[:64], "shuffle": False}, batch_size=64)
    probe.install()
    stats = {t.name: t for t in probe.read()}
    assert stats["y"].multi_hot_rows == int((y[:64].sum(axis=1) >= 2).sum()) > 0
    assert stats["x"].multi_hot_rows == 0


# -- real tiny trainings: each class of fault, and its fix ---------------------------------------

# scenario -> (check, severities it must report), or None: a fixed program, none of the rules fires.
OURS = ("output_activation_loss_mismatch", "label_output_mismatch", "output_range_mismatch",
        "learning_rate_unusual")
ERROR, WARNING, INFO = "error", "warning", "info"
CASES = {
    Z.softmax_one_unit_regression: ("output_activation_loss_mismatch", {ERROR}),
    Z.softmax_one_unit_binary: ("output_activation_loss_mismatch", {ERROR}),
    Z.sigmoid_output_on_prices: ("output_range_mismatch", {ERROR}),
    Z.relu_output_on_standardised_targets: ("output_range_mismatch", {WARNING, ERROR}),
    Z.softmax_multi_label_mse: ("output_range_mismatch", {ERROR}),
    Z.softmax_multi_label_binary_crossentropy: ("output_activation_loss_mismatch", {WARNING}),
    Z.sparse_labels_divided_by_255: ("label_output_mismatch", {ERROR}),
    Z.mse_on_binary_sigmoid: ("label_output_mismatch", {WARNING}),
    Z.binary_crossentropy_on_three_classes: ("label_output_mismatch", {ERROR}),
    Z.time_distributed_softmax_from_logits: ("output_activation_loss_mismatch", {WARNING}),
    static_zoo.softmax_with_from_logits: ("output_activation_loss_mismatch", {INFO}),  # cached logits
    Z.linear_one_unit_regression: None,
    Z.sigmoid_output_on_scaled_prices: None,
    Z.sigmoid_multi_label_binary_crossentropy: None,
    Z.sparse_integer_labels: None,
    Z.sigmoid_one_unit_binary: None,
    Z.time_distributed_sigmoid_binary_crossentropy: None,
    Z.custom_layer_sigmoid_head: None,
    Z.activation_layer_sigmoid: None,
    Z.tf_nn_softmax_activation: None,
    Z.adagrad_on_its_highest_usual_rate: None,
}


@pytest.fixture(scope="module")
def diagnostics(tmp_path_factory) -> dict[str, list[dict]]:
    root = tmp_path_factory.mktemp("real_models")
    for build in CASES:
        keras.utils.set_random_seed(0)
        job = build()
        # One epoch is enough: these rules speak before or at the first sampled batch.
        fit = {**job.fit, "epochs": 1}
        job.model.fit(job.x, job.y, callbacks=[ScramCallback(str(root / build.__name__))], **fit)
    found: dict[str, list[dict]] = {}
    for d in report_json(root):
        found.setdefault(d["run"].split("/")[0], []).append(d)
    return found


@pytest.mark.parametrize("build", list(CASES), ids=[b.__name__ for b in CASES])
def test_real_training(diagnostics, build):
    found = diagnostics.get(build.__name__, [])
    assert "scram_internal_error" not in {d["check"] for d in found}, "SCRAM's own machinery failed"
    ours = [d for d in found if d["check"] in OURS]
    if CASES[build] is None:
        assert [d for d in ours if d["severity"] != INFO] == [], ours
        return
    check, severities = CASES[build]
    hits = [d for d in ours if d["check"] == check]
    assert hits and {d["severity"] for d in hits} <= severities, ours
    assert min(d["step"] for d in hits) <= 1, "named before or at the first batch"
    assert all(d["snippet"] and d["suggestion"] for d in hits)


def test_the_class_a_sparse_loss_ignores_is_no_bad_id():
    """Segmentation masks mark "no label" pixels -1 or 255 and tell the loss `ignore_class`."""
    for void in (-1, 255):
        loss = LossInfo("sparse_categorical_crossentropy", ignore_class=void)
        masks = x_and_y(min(void, 0), max(void, 20), y_count=32 * 64)
        assert on_labels(LabelOutputMismatch(), head(21, "softmax"), loss, masks) == []
        assert on_labels(LabelOutputMismatch(), head(21, "softmax"), SPARSE, masks)
    loss = keras.losses.SparseCategoricalCrossentropy(ignore_class=255)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(loss=loss)
    assert describe(model).losses[0].ignore_class == 255


def test_a_custom_layer_applying_its_activation_in_call_is_unknown():
    """Experts write `keras.activations.sigmoid(self.dense(x))`: a linear last sub-layer is no evidence."""

    class SigmoidInCall(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(1)

        def call(self, inputs):
            return keras.activations.sigmoid(self.dense(inputs))

    output = _output_of(SigmoidInCall())
    assert output.activation is None and not output.activation_guessed
    assert static(output, BCE) == []


@pytest.mark.parametrize("activation", ["sigmoid", "linear", None])
def test_a_categorical_loss_over_one_unit_is_an_error_whatever_its_activation(activation):
    [finding] = static(head(1, activation), SPARSE)
    assert finding.severity == Severity.ERROR and "one class only" in finding.explanation
    assert static(head(1, activation), BCE if activation == "sigmoid" else MSE) == []
