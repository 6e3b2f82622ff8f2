"""The in-graph batch probe: statistics only when asked, NaN/Inf counted on every batch."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.keras_adapter.probes import BatchProbe
from tests import scenarios as S
from tests.conftest import report_json


def _probed_model(request_stats: bool) -> tuple[keras.Model, BatchProbe]:
    keras.utils.set_random_seed(0)
    model = S.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    probe = BatchProbe(model)
    probe.install()
    probe.request(request_stats)
    return model, probe


def test_unrequested_clean_batches_compute_nothing():
    x, y = S.digits()
    model, probe = _probed_model(request_stats=False)
    model.fit(x[:320], y[:320], batch_size=32, epochs=1, verbose=0)
    assert probe.read() is None


def test_requested_batches_give_statistics_and_class_counts():
    x, y = S.digits()
    model, probe = _probed_model(request_stats=True)
    model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0, shuffle=False)
    stats = {t.name: t for t in probe.read()}
    assert stats["x"].count == 32 * 64 and stats["x"].min >= 0 and stats["x"].max <= 1
    assert stats["y"].class_counts == tuple(np.bincount(y[32:64], minlength=10)[: max(y[32:64]) + 1])
    assert probe.read() is None, "a read consumes the statistics"


def test_a_batch_with_nan_is_counted_even_when_not_requested():
    x, y = S.digits()
    x = x[:320].copy()
    x[200, :3] = np.nan  # batch 6 of 10
    x[201, 5] = np.inf
    model, probe = _probed_model(request_stats=False)
    model.fit(x, y[:320], batch_size=32, epochs=1, verbose=0, shuffle=False)
    [inputs, _] = probe.read()
    assert inputs.nonfinite_total == 4 and inputs.nonfinite == 4


@pytest.mark.parametrize("one_hot", [False, True])
def test_nan_in_an_unsampled_late_batch_is_reported_with_its_count(tmp_path, one_hot):
    # Keras' cross-entropy clips the NaN probabilities away, so the loss stays finite: only
    # the probe's count can tell. It is reported at the next sampled step (every 10th).
    x, y = S.digits()
    x = x[:1600].copy()
    x[37 * 32 + 5, :7] = np.nan  # step 37: after the first 20 steps, not on the every-10 grid
    labels = keras.utils.to_categorical(y[:1600], 10) if one_hot else y[:1600]
    model = S.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy")
    model.fit(x, labels, batch_size=32, epochs=1, verbose=0, shuffle=False, callbacks=[ScramCallback(str(tmp_path))])
    [found] = [d for d in report_json(tmp_path) if d["check"] == "input_contains_nan"]
    assert found["evidence"]["nonfinite_total"] == 7 and 37 <= found["step"] < 37 + 10
