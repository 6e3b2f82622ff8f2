"""Real tiny trainings with faults inside the model, and healthy ones of the same shape."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.checks import Check
from tests.builders import ModelStatsRecorder, report_json, small_cnn
from tests.scenarios import digits

pytestmark = pytest.mark.training

INTERNALS = {"constant_predictions", "vanishing_gradients", "exploding_gradients", "dead_relu",
             "saturated_activations", "weights_not_updating", "update_ratio_unusual"}


def _mlp(hidden=(64,), activation="relu", **dense_args) -> keras.Model:
    layers = [keras.layers.Dense(units, activation=activation, **dense_args) for units in hidden]
    return keras.Sequential([keras.Input((64,)), *layers, keras.layers.Dense(10, activation="softmax")])


def _functional() -> keras.Model:
    inputs = keras.Input((64,), name="pixels")
    hidden = keras.layers.Dense(32, activation="relu", name="hidden")(inputs)
    hidden = keras.layers.BatchNormalization(name="batch_normalization")(hidden)
    hidden = keras.layers.Dropout(0.2)(hidden)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="out")(hidden))


def _train(log_dir: str, model: keras.Model, x, y=None, optimizer="adam", steps_per_execution=1,
           recorder: Check | None = None, epochs: int = 3) -> None:
    keras.utils.set_random_seed(0)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    extra = [recorder] if recorder is not None else []
    batch_size = None if y is None else 32
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0,
              callbacks=[ScramCallback(log_dir, extra_checks=extra)])


def _runs(x, y) -> dict:
    # Gradients beyond 1e6 (an error whatever the loss does: a stuck model's running loss
    # wanders a few percent, which could read as "falling" at stddev 1).
    big_init = keras.initializers.RandomNormal(stddev=2.5)
    return {
        "healthy_mlp": lambda d: _train(d, _mlp(), x, y),
        "healthy_cnn": lambda d: _train(d, small_cnn(), x.reshape(-1, 8, 8, 1), y),
        "dead_relu": lambda d: _train(d, _mlp((64, 64), bias_initializer=keras.initializers.Constant(-10.0)), x, y),
        "saturated": lambda d: _train(
            d, _mlp((64, 64), "sigmoid", kernel_initializer=keras.initializers.RandomNormal(stddev=3.0)), x * 10, y),
        "vanishing": lambda d: _train(d, _mlp((32,) * 10, "sigmoid"), x, y, keras.optimizers.SGD(0.01)),
        # A learning rate small enough that the loss stays finite: huge gradients are then
        # reported deterministically, not raced against the NaN that XLA/oneDNN timing moves.
        "exploding": lambda d: _train(d, _mlp((64,) * 6, kernel_initializer=big_init), x, y,
                                      keras.optimizers.SGD(1e-9), epochs=1),
        "zero_lr": lambda d: _train(d, _mlp(), x, y, keras.optimizers.Adam(0.0), epochs=2),
        "tiny_lr": lambda d: _train(d, _mlp(), x, y, keras.optimizers.SGD(1e-5), epochs=2),
        "huge_lr": lambda d: _train(d, _mlp(), x, y, keras.optimizers.Adam(0.1), epochs=1),
        # Two measurements after the warm-up are needed; spaced by their cost (~0.5% of the
        # time), the second can fall past a 3-epoch run's end.
        "one_label": lambda d: _train(d, _mlp(), x, np.zeros_like(y), epochs=5),
    }


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict:
    """The functional model on tf.data with steps_per_execution=4: the probe's own view."""
    x, y = digits()
    recorder = ModelStatsRecorder()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    _train(str(tmp_path_factory.mktemp("functional")), _functional(), dataset, steps_per_execution=4,
           recorder=recorder, epochs=2)
    return {"seen": recorder.seen}


@pytest.fixture(scope="module")
def diagnostics(tmp_path_factory) -> dict[str, list[dict]]:
    root = tmp_path_factory.mktemp("internals")
    x, y = digits()
    for name, train in _runs(x, y).items():
        train(str(root / name))
    found: dict[str, list[dict]] = {}
    for d in report_json(str(root)):
        found.setdefault(d["run"].split("/")[0], []).append(d)
    return found


def _fired(diagnostics: dict, run: str) -> dict[str, list[dict]]:
    fired: dict[str, list[dict]] = {}
    for d in diagnostics.get(run, []):
        if d["check"] in INTERNALS:
            fired.setdefault(d["check"], []).append(d)
    return fired


@pytest.mark.parametrize("run", ["healthy_mlp", "healthy_cnn"])
def test_healthy_runs_are_quiet_inside(diagnostics, run):
    assert _fired(diagnostics, run) == {}


def test_dead_relu_names_the_dead_layers(diagnostics):
    fired = _fired(diagnostics, "dead_relu")
    dead = fired["dead_relu"]
    assert {d["evidence"]["layer"] for d in dead} == {"dense", "dense_1"} or len(dead) == 2
    assert all(d["evidence"]["dead_fraction"] == 1.0 and d["confidence"] == "high" for d in dead)
    assert "leaky_relu" in dead[0]["snippet"] and "100%" in dead[0]["explanation"]
    # The layers before a dead layer get no gradient; the predictions collapse.
    assert "constant_predictions" in fired
    assert any("dead" in d["explanation"] for d in fired.get("weights_not_updating", []))


def test_saturated_sigmoid_layers_reported(diagnostics):
    found = _fired(diagnostics, "saturated")["saturated_activations"]
    assert len(found) == 2
    assert all(d["evidence"]["saturated_fraction"] >= 0.5 for d in found)
    assert "BatchNormalization" in found[0]["snippet"]


def test_vanishing_gradients_in_deep_sigmoid_stack(diagnostics):
    fired = _fired(diagnostics, "vanishing")
    found = fired["vanishing_gradients"]
    assert len(found) == 1 and found[0]["confidence"] == "high"
    assert found[0]["evidence"]["ratio"] < 1e-3
    assert 'activation="relu"' in found[0]["snippet"] and "sigmoid" in found[0]["explanation"]
    assert "exploding_gradients" not in fired and "weights_not_updating" not in fired


def test_exploding_gradients_with_large_init_and_sgd(diagnostics):
    found = _fired(diagnostics, "exploding")["exploding_gradients"]
    nan_steps = [d["step"] for d in diagnostics["exploding"] if d["check"] == "nan_loss"]
    assert found[0]["step"] <= min(nan_steps, default=found[0]["step"]), "seen before the loss is NaN"
    assert "error" in {d["severity"] for d in found} or found[0]["evidence"]["grad_norm"] >= 1e3
    assert "clipnorm=1.0" in found[0]["snippet"]
    assert found[0]["location"] and "test_internals_training.py:" in found[0]["location"]


def test_zero_learning_rate_reported_once_for_all_layers(diagnostics):
    fired = _fired(diagnostics, "zero_lr")
    found = fired["weights_not_updating"]
    assert len(found) == 1 and found[0]["title"] == "No weights are updating"
    assert "learning rate is 0" in found[0]["explanation"]
    assert "learning_rate=0.001" in found[0]["snippet"]
    assert "update_ratio_unusual" not in fired


def test_tiny_learning_rate_gives_small_update_ratio(diagnostics):
    fired = _fired(diagnostics, "tiny_lr")
    found = fired["update_ratio_unusual"]
    assert [d["evidence"]["median"] < 1e-5 for d in found] == [True]
    assert found[0]["severity"] == "info" and "too small" in found[0]["title"]
    assert "weights_not_updating" not in fired


def test_huge_learning_rate_gives_large_update_ratio(diagnostics):
    found = _fired(diagnostics, "huge_lr")["update_ratio_unusual"]
    assert found[0]["severity"] == "warning" and found[0]["evidence"]["median"] >= 0.1
    assert "learning_rate=" in found[0]["snippet"]


def test_one_label_gives_constant_predictions(diagnostics):
    found = _fired(diagnostics, "one_label")["constant_predictions"]
    assert len(found) == 1 and found[0]["evidence"]["majority_share"] == 1.0
    assert "labels of the batch are all the same" in found[0]["explanation"]


def test_probe_measures_functional_model_on_tf_data_with_steps_per_execution(recorded):
    seen = recorded["seen"]
    assert len(seen) >= 2
    model = seen[-1].model
    assert [layer.name for layer in model.layers] == ["hidden", "batch_normalization", "out"]
    hidden = model.layers[0]
    assert hidden.activation == "relu" and 0 <= hidden.dead_fraction < 0.5
    # an execution runs 4 steps, but the epoch's last one may run fewer
    assert hidden.grad_norm > 0 and hidden.update_norm > 0 and 1 <= hidden.update_steps <= 4
    assert model.predictions.count > 1 and model.predictions.predicted_classes > 1


def test_later_fits_reuse_the_traced_measurement_until_the_model_changes(tmp_path, monkeypatch):
    """fit() called in a loop (one epoch each) traces the internals measurement once."""
    from tensorboard_plugin_scram.keras_adapter.backends.tensorflow import internals

    monkeypatch.setattr(internals, "EAGER_PASSES", 0)  # traced from the first measurement
    x, y = digits()
    keras.utils.set_random_seed(0)
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    recorder = ModelStatsRecorder()
    callback = ScramCallback(tmp_path, extra_checks=[recorder])
    probes = []
    for _ in range(3):
        model.fit(x[:640], y[:640], batch_size=32, epochs=1, verbose=0, callbacks=[callback])
        probes.append(callback._internals_probe)
    probe = probes[0]
    assert probes == [probe] * 3 and probe._measure_function.experimental_get_tracing_count() == 1
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # a new compiled loss
    model.fit(x[:640], y[:640], batch_size=32, epochs=1, verbose=0, callbacks=[callback])
    assert callback._internals_probe is not probe
    probe = callback._internals_probe
    assert len({obs.step for obs in recorder.seen}) >= 3, "every fit() measured"
    model.layers[0].trainable = False  # fine-tuning: other weights to measure
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[:640], y[:640], batch_size=32, epochs=1, verbose=0, callbacks=[callback])
    assert callback._internals_probe is not probe
    assert recorder.seen[-1].model.layers[0].weight_norm is None, "the frozen layer has no trainable weights now"


@pytest.mark.parametrize("step_seconds, spacing", [(1e-6, 100), (10.0, 10)])  # 1 us: any pass costs 10+ steps
def test_measurements_on_a_sample_are_spaced_by_what_they_cost(step_seconds, spacing):
    """Timed against the step clock: a measurement worth many steps is spaced out (up to 10 x `every`)."""
    from tensorboard_plugin_scram.keras_adapter.backends.tensorflow.internals import GraphInternalsProbe
    from tensorboard_plugin_scram.keras_adapter.monitor import InternalsMonitor
    from tensorboard_plugin_scram.keras_adapter.sampling import InternalsSchedule, StepClock

    x, y = digits()
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[:64], y[:64], batch_size=32, verbose=0)
    probe = GraphInternalsProbe(model, ["sparse_categorical_crossentropy"])
    probe.install()
    clock = StepClock()
    clock.seconds = step_seconds
    schedule = InternalsSchedule(every=10, first=1, confirm=0, budget=0.1)
    monitor = InternalsMonitor(probe, schedule, (x[:32], y[:32]), clock)
    measured = [step for step in range(260) if monitor.after_step(step, 1.0) is not None]
    # The first measurement's cost (tracing) is not counted; until the second, one step is assumed.
    assert measured[:2] == [1, 11]
    assert {b - a for a, b in zip(measured[1:], measured[2:], strict=False)} == {spacing}


def test_saturation_under_bfloat16_follows_the_documented_float32_rule():
    """|tanh output| > 0.98, compared in float32: in bfloat16 0.98 itself rounds to 0.9805."""
    from tensorboard_plugin_scram.keras_adapter.backends.tensorflow.internals import GraphInternalsProbe

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        x, y = (rng.normal(size=(32, 8)) * 3).astype("float32"), rng.integers(0, 3, 32)
        hidden = keras.layers.Dense(64, "tanh", name="hidden")
        model = keras.Sequential([keras.Input((8,)), hidden, keras.layers.Dense(3, "softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        out = keras.Model(model.inputs, hidden.output)(x, training=True).numpy().astype("float32")
        probe = GraphInternalsProbe(model, ["sparse_categorical_crossentropy"])
        probe.install()
        probe.measure_on(x, y)
        measured = probe.read().layers[0].saturated_fraction
    finally:
        keras.mixed_precision.set_global_policy("float32")
    # Two forward passes may differ in a bfloat16 rounding or two: within 2 of the 2048 outputs.
    assert measured == pytest.approx(float((np.abs(out) > 0.98).mean()), abs=2 / out.size)


def test_half_dead_dense_layer_of_a_healthy_cnn_is_no_alarm(tmp_path):
    """Keras' CNN tutorial model on images in [0, 1]: its Dense layer, fed by ReLU features with a
    large common part, has about half its units dead for a whole batch while the model learns."""
    from bench import data

    x, y = data.images(1024)
    keras.utils.set_random_seed(0)  # seed 0: 55% and 52% of the Dense units dead at steps 5 and 20
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu", name="hidden"), keras.layers.Dense(4, activation="softmax"),
    ])
    recorder = ModelStatsRecorder()
    _train(str(tmp_path), model, x, y, recorder=recorder)
    dense = [layer for obs in recorder.seen if obs.model is not None for layer in obs.model.layers
             if layer.name == "hidden"]
    assert len(dense) >= 2 and all(layer.units == 64 for layer in dense)
    assert min(layer.dead_fraction for layer in dense[:2]) >= 0.45, "the situation this test is about"
    assert model.evaluate(x, y, verbose=0)[1] > 0.9, "the model learns"
    assert "dead_relu" not in {d["check"] for d in report_json(str(tmp_path))}
