"""The callback under the shapes of Keras training users have: it sees the data, and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.events.file_reader import read_logdir
from tests import scenarios as S
from tests.builders import report_json

pytestmark = pytest.mark.training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def raw_digits():
    return S.digits(scaled=False)


def fit_and_report(log_dir, model, x, y=None, compile_args=None, **fit_args) -> list[dict]:
    keras.utils.set_random_seed(0)
    model.compile(**{"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                     **(compile_args or {})})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no SCRAM failure may surface
        model.fit(x, y, verbose=0, callbacks=[ScramCallback(str(log_dir))], **{"epochs": 2, **fit_args})
    return report_json(log_dir)


def checks(diagnostics) -> set[str]:
    return {d["check"] for d in diagnostics}


def test_tf_data_dataset(tmp_path):
    x, y = raw_digits()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(2000, seed=0).batch(32)
    assert "input_not_normalized" in checks(fit_and_report(tmp_path, S.mlp(64, (16,), 10), ds))


def test_python_generator(tmp_path):
    x, y = raw_digits()

    def batches():
        while True:
            for i in range(0, 320, 32):
                yield x[i:i + 32], y[i:i + 32]

    found = fit_and_report(tmp_path, S.mlp(64, (16,), 10), batches(), steps_per_epoch=10)
    assert "input_not_normalized" in checks(found)


def test_py_dataset(tmp_path):
    x, y = raw_digits()

    class Digits(keras.utils.PyDataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return x[i * 32:(i + 1) * 32], y[i * 32:(i + 1) * 32]

    assert "input_not_normalized" in checks(fit_and_report(tmp_path, S.mlp(64, (16,), 10), Digits()))


def test_dict_inputs_name_the_raw_input(tmp_path):
    x, y = raw_digits()
    pixels = keras.Input((64,), name="pixels")
    extra = keras.Input((3,), name="extra")
    joined = keras.layers.Concatenate()([keras.layers.Dense(16, activation="relu")(pixels), extra])
    model = keras.Model({"pixels": pixels, "extra": extra}, keras.layers.Dense(10, activation="softmax")(joined))
    inputs = {"pixels": x, "extra": np.random.default_rng(0).normal(size=(len(x), 3)).astype("float32")}
    found = fit_and_report(tmp_path, model, inputs, y, batch_size=32)
    found = [d for d in found if d["check"] == "input_not_normalized"]
    assert [d["evidence"]["input"] for d in found] == ["pixels"]


def test_multi_output_model_with_two_losses(tmp_path):
    x, y = raw_digits()
    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    model = keras.Model(inputs, {"digit": keras.layers.Dense(10, activation="softmax", name="digit")(hidden),
                                 "big": keras.layers.Dense(1, activation="sigmoid", name="big")(hidden)})
    targets = {"digit": y, "big": (y >= 5).astype("float32")}
    found = fit_and_report(tmp_path, model, x, targets, batch_size=32,
                           compile_args={"loss": {"digit": "sparse_categorical_crossentropy",
                                                  "big": "binary_crossentropy"},
                                         "metrics": {"digit": ["accuracy"], "big": ["accuracy"]}})
    assert "input_not_normalized" in checks(found)
    assert not [d for d in found if d["severity"] == "error"]


@pytest.mark.parametrize("validation", [{"validation_split": 0.2}, "data", {}], ids=["split", "data", "none"])
def test_validation_given_split_or_none(tmp_path, validation):
    x, y = raw_digits()
    args = {"validation_data": (x[:200], y[:200])} if validation == "data" else validation
    found = fit_and_report(tmp_path, S.mlp(64, (16,), 10), x, y, batch_size=32, **args)
    assert checks(found) & {"input_not_normalized"}


def test_steps_per_execution(tmp_path):
    x, y = raw_digits()
    found = fit_and_report(tmp_path, S.mlp(64, (16,), 10), x, y, batch_size=32,
                           compile_args={"steps_per_execution": 4})
    assert "input_not_normalized" in checks(found)
    [records] = read_logdir(str(tmp_path))
    steps = [e.step for e in records.epochs]
    assert steps == sorted(set(steps)) and steps[-1] == 2 * 57 - 1


def test_mixed_precision(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        x, y = raw_digits()
        model = S.mlp(64, (16,), 10)
        found = fit_and_report(tmp_path, model, x, y, batch_size=32)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert "input_not_normalized" in checks(found)


def test_sample_and_class_weights(tmp_path):
    x, y = raw_digits()
    found = fit_and_report(tmp_path, S.mlp(64, (16,), 10), x, y, batch_size=32,
                           sample_weight=np.ones(len(y)), class_weight=None)
    assert "input_not_normalized" in checks(found)
    found = fit_and_report(tmp_path / "cw", S.mlp(64, (16,), 10), x, y, batch_size=32,
                           class_weight={c: 1.0 + c / 10 for c in range(10)})
    assert "input_not_normalized" in checks(found)


def test_two_fits_and_initial_epoch_resume_continue_the_steps(tmp_path):
    x, y = raw_digits()
    model = S.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    callback = ScramCallback(str(tmp_path))
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[callback])
    model.fit(x, y, epochs=4, initial_epoch=2, batch_size=32, verbose=0, callbacks=[callback])
    [records] = read_logdir(str(tmp_path))
    assert [e.epoch for e in records.epochs] == [0, 1, 2, 3]
    assert [e.step for e in records.epochs] == [56, 113, 170, 227]
    assert [d.check for d in records.diagnostics].count("input_not_normalized") == 1


def test_user_callback_stopping_early(tmp_path):
    x, y = raw_digits()

    class StopAtFive(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 5:
                self.model.stop_training = True

    model = S.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[StopAtFive(), ScramCallback(str(tmp_path))])
    [records] = read_logdir(str(tmp_path))
    assert [e.epoch for e in records.epochs] == [0]
    assert model.train_step.__func__ is type(model).train_step, "the original train_step is restored"


def test_mirrored_strategy_over_two_logical_cpus(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "scripts", "mirrored.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0 and "trained 2" in result.stdout, result.stderr[-3000:]
    found = report_json(tmp_path)
    not_normalized = [d for d in found if d["check"] == "input_not_normalized"]
    assert len(not_normalized) == 1, "one set of diagnostics, not one per replica"
    assert not_normalized[0]["evidence"]["max"] == 16.0
