"""The internals measured on the host (NumPy) against the in-graph measurement, model by model."""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tensorboard_plugin_scram.keras_adapter.backends.tensorflow.internals import GraphInternalsProbe
from tensorboard_plugin_scram.observations import ModelStats
from tests.builders import small_cnn

pytestmark = pytest.mark.training


def _dense(*layers, inputs=8, classes=3, activation="softmax"):
    return keras.Sequential([keras.Input((inputs,)), *layers, keras.layers.Dense(classes, activation)])


def _mixed():
    return _dense(keras.layers.Dense(16, "tanh"), keras.layers.BatchNormalization(),
                  keras.layers.Dense(16, "sigmoid"), keras.layers.Dense(16), keras.layers.ReLU())


def _detached():
    """A layer behind `stop_gradient`: its weights get no gradient at all (None, not zeros)."""
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(16, "relu")(inputs)
    hidden = hidden + keras.ops.stop_gradient(keras.layers.Dense(16, name="detached")(inputs))
    return keras.Model(inputs, keras.layers.Dense(3, "softmax")(hidden))


def _nan_weights():
    model = _dense(keras.layers.Dense(16, "tanh", name="broken"))  # relu would hide the NaN
    kernel = model.get_layer("broken").kernel
    kernel.assign(np.where(np.arange(kernel.numpy().size).reshape(kernel.shape) % 5 == 0, np.nan,
                           kernel.numpy()).astype("float32"))
    return model


def _frozen():
    model = _dense(keras.layers.Dense(16, "relu", name="frozen"), keras.layers.Dense(16, "relu"))
    model.get_layer("frozen").trainable = False
    return model


def _nan_logit():
    """One output column NaN for every sample: `argmax` must skip it, as TensorFlow's does."""
    model = _dense(keras.layers.Dense(16, "relu"), activation=None)
    kernel = model.layers[-1].kernel
    kernel.assign(np.where(np.arange(3) == 1, np.nan, kernel.numpy()).astype("float32"))
    return model


def _text():
    return keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(12, 4),
                             keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, "sigmoid")])


# name: (model, loss, labels of 32 samples)
CASES = {
    "cnn": (small_cnn, "sparse_categorical_crossentropy", "classes"),
    "tanh_sigmoid_batchnorm_relu_layer": (_mixed, "sparse_categorical_crossentropy", "classes"),
    "binary_sigmoid": (lambda: _dense(keras.layers.Dense(16, "relu"), classes=1, activation="sigmoid"),
                       "binary_crossentropy", "binary"),
    "binary_logits": (lambda: _dense(keras.layers.Dense(16, "relu"), classes=1, activation=None),
                      keras.losses.BinaryCrossentropy(from_logits=True), "binary"),
    "regression": (lambda: _dense(keras.layers.Dense(16, "tanh"), classes=2, activation=None), "mse", "values"),
    "one_hot": (lambda: _dense(keras.layers.Dense(16, "relu6")), "categorical_crossentropy", "one_hot"),
    "detached_branch": (_detached, "sparse_categorical_crossentropy", "classes"),
    "nan_weights": (_nan_weights, "sparse_categorical_crossentropy", "classes"),
    "frozen_layer": (_frozen, "sparse_categorical_crossentropy", "classes"),
    "embedding_repeated_tokens": (_text, "binary_crossentropy", "binary"),  # a sparse gradient
    "nan_prediction_column": (_nan_logit, keras.losses.SparseCategoricalCrossentropy(from_logits=True), "classes"),
}


def _data(case: str):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(32, 8, 8, 1)) if case == "cnn" else rng.normal(size=(32, 8)) * 2).astype("float32")
    if case.startswith("embedding"):
        x = rng.integers(0, 12, (32, 6)).astype("int32")  # 192 tokens of 12: every one repeated
    labels = CASES[case][2]
    y = {"classes": rng.integers(0, 3, 32), "binary": rng.integers(0, 2, (32, 1)).astype("float32"),
         "values": rng.normal(size=(32, 2)).astype("float32"),
         "one_hot": np.eye(3, dtype="float32")[rng.integers(0, 3, 32)]}[labels]
    return x, y


def _measure(case: str, host_values: int) -> tuple[ModelStats, bool]:
    build, loss, _ = CASES[case]
    keras.backend.clear_session()  # the same layer names in both models
    keras.utils.set_random_seed(0)
    model = build()
    model.compile("adam", loss)
    x, y = _data(case)
    probe = GraphInternalsProbe(model, [getattr(loss, "name", loss)], host_values=host_values)
    probe.install()
    probe.measure_on(x, y)
    return probe.read(), probe._on_host


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-5, abs=1e-7)
    return a == b


@pytest.mark.parametrize("case", sorted(CASES))
def test_host_summary_agrees_with_the_graph(case):
    on_host, host_used = _measure(case, host_values=1 << 30)
    in_graph, graph_host = _measure(case, host_values=0)
    assert host_used and not graph_host
    assert len(on_host.layers) == len(in_graph.layers) > 0
    for host_layer, graph_layer in zip(on_host.layers, in_graph.layers, strict=True):
        for field in dataclasses.fields(host_layer):
            mine, theirs = getattr(host_layer, field.name), getattr(graph_layer, field.name)
            assert _same(mine, theirs), f"{host_layer.name}.{field.name}: host {mine} != graph {theirs}"
    for field in dataclasses.fields(on_host.predictions):
        mine, theirs = getattr(on_host.predictions, field.name), getattr(in_graph.predictions, field.name)
        assert _same(mine, theirs), f"predictions.{field.name}: host {mine} != graph {theirs}"


def test_what_the_cases_cover():
    """The agreement above is not vacuous: the cases reach every column."""
    stats = {case: _measure(case, 1 << 30)[0] for case in ("tanh_sigmoid_batchnorm_relu_layer", "detached_branch",
                                                           "nan_weights", "cnn")}
    mixed = {layer.activation: layer for layer in stats["tanh_sigmoid_batchnorm_relu_layer"].layers}
    assert mixed["tanh"].saturated_fraction is not None and mixed["sigmoid"].saturated_fraction is not None
    assert mixed["relu"].dead_fraction is not None and mixed["relu"].weight_norm is None
    detached = next(layer for layer in stats["detached_branch"].layers if layer.name == "detached")
    assert detached.grad_norm == 0.0 and detached.weight_norm > 0
    broken = next(layer for layer in stats["nan_weights"].layers if layer.name == "broken")
    assert broken.nonfinite_weights and broken.nonfinite_output
    assert 0 < stats["cnn"].layers[0].dead_fraction < 1 or stats["cnn"].layers[0].dead_fraction == 0.0
    assert stats["cnn"].predictions.predicted_classes >= 1 and stats["cnn"].predictions.count == 32


def test_a_large_pass_stays_in_the_graph():
    """Above `host_values`, the layer outputs and gradients are not brought to the host."""
    _, small = _measure("cnn", host_values=1 << 30)
    _, large = _measure("cnn", host_values=1000)
    assert small and not large


@pytest.mark.parametrize("host_values", [1 << 30, 0], ids=["host", "graph"])
def test_update_norm_is_the_change_since_the_armed_step(host_values):
    """Weights moved by a known amount between the armed and the measured step."""
    from tensorboard_plugin_scram.keras_adapter.monitor import InternalsMonitor
    from tensorboard_plugin_scram.keras_adapter.sampling import InternalsSchedule

    keras.utils.set_random_seed(0)
    model = _mixed()
    model.compile("adam", "sparse_categorical_crossentropy")
    probe = GraphInternalsProbe(model, ["sparse_categorical_crossentropy"], host_values=host_values)
    probe.install()
    sample = _data("tanh_sigmoid_batchnorm_relu_layer")
    monitor = InternalsMonitor(probe, InternalsSchedule(every=10, first=1, confirm=0), sample)
    assert monitor.after_step(0, 1.0) is None  # arms step 1
    moved = {}
    for layer in probe.layers:
        deltas = [np.full(v.shape, 0.01 * (i + 1), "float32") for i, v in enumerate(layer.trainable_variables)]
        for variable, delta in zip(layer.trainable_variables, deltas, strict=True):
            variable.assign(variable.numpy() + delta)
        moved[layer.name] = math.sqrt(sum(float(np.sum(np.square(d.astype("float64")))) for d in deltas))
    stats = monitor.after_step(1, 1.0)
    for layer in stats.layers:
        if moved[layer.name]:
            assert layer.update_steps == 1 and layer.update_norm == pytest.approx(moved[layer.name], rel=1e-4)
        else:
            assert layer.update_norm in (None, 0.0)


def test_after_a_host_measurement_the_probe_still_reports_one_inside_the_train_step():
    """A later fit() on a dataset reuses the probe: its in-graph measurement must come through."""
    keras.utils.set_random_seed(0)
    model = _mixed()
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = _data("tanh_sigmoid_batchnorm_relu_layer")
    probe = GraphInternalsProbe(model, ["sparse_categorical_crossentropy"])
    probe.install()
    probe.measure_on(x, y)
    assert probe.read() is not None and probe.measured_weights() is not None
    probe.request()
    tf.function(lambda x, y: probe.record((x, y)))(tf.constant(x), tf.constant(y))
    stats = probe.read()
    assert stats is not None and stats.layers[0].grad_norm > 0
    assert probe.measured_weights() is None, "the host copies are stale now: update norms must read the weights"


def test_the_measurement_skips_graph_rewrites_for_itself_only():
    """SCRAM's function runs without Grappler; the user's functions keep it, before and after."""
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.eager import context

    from tensorboard_plugin_scram.keras_adapter.compat import tensorflow_api

    def rewrites_off() -> bool:
        config = config_pb2.ConfigProto.FromString(context.context().function_call_options.config_proto_serialized)
        return config.graph_options.rewrite_options.disable_meta_optimizer

    before = context.context().function_call_options.config_proto_serialized
    seen = []
    with tensorflow_api.without_graph_rewrites():
        seen.append(rewrites_off())
        tf.function(lambda: seen.append(rewrites_off()))()  # traced (and called) inside
    assert seen == [True, True]
    assert not rewrites_off() and context.context().function_call_options.config_proto_serialized == before
    on_host, _ = _measure("cnn", host_values=1 << 30)  # a real measurement, through the same path
    assert on_host.layers and not rewrites_off()
