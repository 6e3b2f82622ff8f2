"""A Sequential model without `Input` has no weights until Keras traces its first train step."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tensorboard_plugin_scram import ScramCallback
from tests.builders import ModelStatsRecorder, report_json
from tests.scenarios import digits

pytestmark = pytest.mark.training


def _unbuilt() -> keras.Model:
    return keras.Sequential([keras.layers.Dense(16, activation="relu"), keras.layers.Dropout(0.2),
                             keras.layers.Dense(10, activation="softmax")])


def _trained(data, callbacks: list) -> list[np.ndarray]:
    keras.utils.set_random_seed(1)
    model = _unbuilt()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*data, epochs=2, batch_size=32, verbose=0, callbacks=callbacks)
    return model.get_weights()


def test_arrays_build_it_early_with_the_same_weights_and_no_false_alarm(tmp_path):
    x, y = digits()
    data = (x[:384], y[:384])
    recorder = ModelStatsRecorder()
    plain = _trained(data, [])
    watched = _trained(data, [ScramCallback(str(tmp_path), internals_every=2, extra_checks=[recorder])])
    assert len(plain) == len(watched) == 4
    for a, b in zip(plain, watched, strict=True):
        np.testing.assert_array_equal(a, b)
    assert "no_trainable_weights" not in {d["check"] for d in report_json(str(tmp_path))}
    layers = recorder.seen[-1].model.layers
    assert [layer.kind for layer in layers] == ["Dense", "Dense"] and all(layer.grad_norm > 0 for layer in layers)


def test_a_dataset_leaves_it_unbuilt_and_the_weight_count_unknown(tmp_path):
    x, y = digits()
    dataset = tf.data.Dataset.from_tensor_slices((x[:256], y[:256])).batch(32)
    _trained((dataset,), [ScramCallback(str(tmp_path))])
    assert "no_trainable_weights" not in {d["check"] for d in report_json(str(tmp_path))}
