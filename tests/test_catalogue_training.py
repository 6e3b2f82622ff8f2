"""Each static, data, loss and metric check fires on a real tiny training run that has its fault."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_breast_cancer

from tensorboard_plugin_scram import ScramCallback
from tests import scenarios as S
from tests.builders import report_json

pytestmark = pytest.mark.training


def compile_fit(model, x, y, log_dir, optimizer="adam", loss="sparse_categorical_crossentropy", callback=None,
                **fit_args):
    keras.utils.set_random_seed(0)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    fit_args = {"epochs": 3, "batch_size": 32, "verbose": 0, **fit_args}
    model.fit(x, y, callbacks=[callback or ScramCallback(log_dir)], **fit_args)


def activation_mismatch(log_dir):
    x, y = S.digits()
    compile_fit(S.mlp(64, (32,), 10), x, y, log_dir,
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), epochs=1)


def binary_loss_on_class_ids(log_dir):
    x, y = S.digits()
    compile_fit(S.mlp(64, (32,), 1, activation="sigmoid"), x, y.astype("float32"), log_dir,
                loss="binary_crossentropy", epochs=1)


def tiny_learning_rate(log_dir):
    x, y = S.digits()
    compile_fit(S.mlp(64, (32,), 10), x, y, log_dir, optimizer=keras.optimizers.SGD(learning_rate=1e-7), epochs=1)


def frozen_model(log_dir):
    x, y = S.digits()
    model = S.mlp(64, (32,), 10)
    model.trainable = False
    compile_fit(model, x, y, log_dir, epochs=1)


def memory_threshold_lowered(log_dir):
    x, y = S.digits()
    callback = ScramCallback(log_dir, thresholds={"batch_memory_risk": {"info_share": 1e-9}})
    compile_fit(S.mlp(64, (32,), 10), x, y, log_dir, callback=callback, epochs=1)


def nan_in_data(log_dir):
    x, y = S.digits()
    x = x.copy()
    x[3, 5] = np.nan
    compile_fit(S.mlp(64, (32,), 10), x, y, log_dir, epochs=1, shuffle=False)


def imbalanced_binary(log_dir):
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    keep = np.concatenate([np.flatnonzero(y == 1), np.flatnonzero(y == 0)[:18]])  # 95% class 1
    compile_fit(S.mlp(30, (16,), 1, activation="sigmoid"), x[keep], y[keep], log_dir, loss="binary_crossentropy")


def imbalanced_multiclass(log_dir):
    x, y = S.digits()
    keep = np.concatenate([np.flatnonzero(y == 3), np.flatnonzero(y != 3)[:12]])  # 94% class 3 of 10
    y_one_hot = keras.utils.to_categorical(y[keep], 10)
    compile_fit(S.mlp(64, (16,), 10), x[keep], y_one_hot, log_dir, loss="categorical_crossentropy")


def diverging(log_dir):
    x, y = S.digits()
    compile_fit(S.mlp(64, (32,), 10), x, y, log_dir, optimizer=keras.optimizers.Adam(learning_rate=1e10), epochs=1)


def random_labels(log_dir):
    x, y = S.digits()
    compile_fit(S.mlp(64, (32,), 10), x, np.random.default_rng(0).permutation(y), log_dir, epochs=6)


def sorted_validation_split(log_dir):
    x, y = S.digits()
    order = np.argsort(y, kind="stable")
    compile_fit(S.mlp(64, (32,), 10), x[order], y[order], log_dir, validation_split=0.2)


def sorted_dataset(log_dir):
    x, y = S.digits()
    order = np.argsort(y, kind="stable")
    dataset = tf.data.Dataset.from_tensor_slices((x[order], y[order])).batch(32)
    compile_fit(S.mlp(64, (32,), 10), dataset, None, log_dir, batch_size=None, epochs=1)


def blocked_wiring(log_dir):
    x, y = S.digits()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu", kernel_initializer="zeros"),
                              keras.layers.Dense(10, activation="softmax")])
    compile_fit(model, x, y, log_dir, callback=ScramCallback(log_dir, preflight=True), epochs=1)


def input_zeroed_by_lambda(log_dir):
    # Python lambdas (one using a module global) in the model: Keras' safe mode refuses to
    # rebuild them from their config, and rebuilding them unsafely would lose `keras`.
    x, y = S.digits()
    inputs = keras.Input((64,))
    hidden = keras.layers.Lambda(lambda t: keras.ops.tanh(t) * 0.0)(inputs)
    hidden = keras.layers.Dense(32, activation="relu")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
    compile_fit(model, x, y, log_dir, callback=ScramCallback(log_dir, preflight=True), epochs=1)


def sequential_lambda_with_preflight(log_dir):
    x, y = S.digits()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Lambda(lambda t: keras.ops.tanh(t) * 0.0),
                              keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    compile_fit(model, x, y, log_dir, callback=ScramCallback(log_dir, preflight=True), epochs=1)


def healthy_with_preflight(log_dir):
    x, y = S.digits()
    compile_fit(S.mlp(64, (32,), 10), x, y, log_dir, callback=ScramCallback(log_dir, preflight=True), epochs=1)


# scenario -> (checks that must fire, the latest step at which the first must have fired)
CASES = {
    activation_mismatch: ({"output_activation_loss_mismatch"}, 0),
    binary_loss_on_class_ids: ({"label_output_mismatch"}, 0),
    tiny_learning_rate: ({"learning_rate_unusual"}, 0),
    frozen_model: ({"no_trainable_weights"}, 0),
    memory_threshold_lowered: ({"batch_memory_risk"}, 0),
    nan_in_data: ({"input_contains_nan"}, 1),
    imbalanced_binary: ({"class_imbalance"}, 40),
    imbalanced_multiclass: ({"class_imbalance"}, 40),
    diverging: ({"loss_diverging"}, 10),
    random_labels: ({"accuracy_at_chance", "loss_not_decreasing"}, 400),
    sorted_validation_split: ({"train_val_mismatch"}, 200),
    sorted_dataset: ({"data_not_shuffled"}, 20),
    blocked_wiring: ({"cannot_overfit_batch"}, 0),
    input_zeroed_by_lambda: ({"cannot_overfit_batch"}, 0),
    sequential_lambda_with_preflight: ({"cannot_overfit_batch"}, 0),
}


@pytest.fixture(scope="module")
def diagnostics(tmp_path_factory) -> dict[str, list[dict]]:
    root = tmp_path_factory.mktemp("catalogue")
    for train in CASES:
        train(str(root / train.__name__))
    found: dict[str, list[dict]] = {}
    for d in report_json(root):
        found.setdefault(d["run"].split("/")[0], []).append(d)
    return found


@pytest.mark.parametrize("train", list(CASES), ids=[t.__name__ for t in CASES])
def test_the_fault_is_found_early(diagnostics, train):
    expected, latest_step = CASES[train]
    found = diagnostics.get(train.__name__, [])
    fired = {d["check"] for d in found}
    assert expected <= fired, fired
    assert "scram_internal_error" not in fired, "SCRAM's own machinery failed"
    first = min(d["step"] for d in found if d["check"] in expected)
    assert first <= latest_step


def test_static_findings_point_at_the_compile_call(diagnostics):
    [d] = [d for d in diagnostics["activation_mismatch"] if d["check"] == "output_activation_loss_mismatch"]
    with open(__file__, encoding="utf-8") as handle:
        line = next(i for i, text in enumerate(handle, 1) if "model.compile(" in text)
    assert d["location"].endswith(f"test_catalogue_training.py:{line}"), d["location"]
    assert d["epoch"] is None and d["evidence"]["from_logits"] is True


def test_preflight_stays_quiet_on_a_healthy_model_and_leaves_it_untouched(tmp_path):
    def final_weights(callback):
        x, y = S.digits()
        keras.utils.set_random_seed(3)
        model = S.mlp(64, (16,), 10)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x[:256], y[:256], epochs=1, batch_size=32, verbose=0, shuffle=False, callbacks=[callback])
        return model.get_weights()

    plain = final_weights(keras.callbacks.Callback())
    checked = final_weights(ScramCallback(str(tmp_path), preflight=True))
    assert all((a == b).all() for a, b in zip(plain, checked, strict=True))
    healthy_with_preflight(str(tmp_path / "healthy"))
    assert "cannot_overfit_batch" not in {d["check"] for d in report_json(tmp_path / "healthy")}


@pytest.mark.parametrize(("peak", "fires"), [(2e-3, False), (0.5, True)])
def test_a_warm_up_schedule_is_judged_by_its_peak(tmp_path, peak, fires):
    """CosineDecay with a warm-up starts at a rate of 0: its peak, not its start, decides."""
    x, y = S.digits()
    schedule = keras.optimizers.schedules.CosineDecay(0.0, 300, warmup_target=peak, warmup_steps=50)
    compile_fit(S.mlp(64, (32,), 10), x, y, str(tmp_path), optimizer=keras.optimizers.Adam(schedule), epochs=1)
    found = [d for d in report_json(tmp_path) if d["check"] == "learning_rate_unusual"]
    assert bool(found) == fires
    if fires:
        assert "schedule peaks at 0.5" in found[0]["explanation"] and found[0]["step"] == 0
