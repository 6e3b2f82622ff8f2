"""The batch probes: in the train step only when asked (NaN/Inf counted on every batch), or from arrays."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.checks import Check
from tensorboard_plugin_scram.keras_adapter.array_probe import ArrayProbe
from tensorboard_plugin_scram.keras_adapter.backends.tensorflow.batch_probe import BatchProbe
from tests import scenarios as S
from tests.builders import report_json

pytestmark = pytest.mark.training


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


def _nan_at_step_37(one_hot: bool):
    x, y = S.digits()
    x = x[:1600].copy()
    x[37 * 32 + 5, :7] = np.nan  # step 37: after the first 20 steps, not on the every-10 grid
    labels = keras.utils.to_categorical(y[:1600], 10) if one_hot else y[:1600]
    model = S.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy")
    return model, x, labels


@pytest.mark.parametrize("one_hot", [False, True])
def test_nan_in_a_late_batch_of_a_dataset_is_counted_though_not_sampled(tmp_path, one_hot):
    # Keras' cross-entropy clips the NaN probabilities away, so the loss stays finite: only
    # the probe's count can tell. It is reported at the next sampled step, within the epoch.
    model, x, labels = _nan_at_step_37(one_hot)
    data = tf.data.Dataset.from_tensor_slices((x, labels)).batch(32)
    model.fit(data, epochs=1, verbose=0, callbacks=[ScramCallback(str(tmp_path))])
    [found] = [d for d in report_json(tmp_path) if d["check"] == "input_contains_nan"]
    assert found["evidence"]["nonfinite_total"] == 7 and 37 <= found["step"] <= 49


def test_nan_anywhere_in_arrays_is_reported_before_the_first_batch_ends(tmp_path):
    model, x, labels = _nan_at_step_37(one_hot=False)
    model.fit(x, labels, batch_size=32, epochs=1, verbose=0, callbacks=[ScramCallback(str(tmp_path))])
    [found] = [d for d in report_json(tmp_path) if d["check"] == "input_contains_nan"]
    assert found["evidence"]["nonfinite_total"] == 7 and found["step"] == 0


def test_array_probe_reads_the_very_batch_without_shuffle_and_leaves_validation_out():
    x, y = S.digits()
    arguments = {"x": x[:100], "y": y[:100], "shuffle": False, "validation_split": 0.2}
    probe = ArrayProbe(arguments, batch_size=32)
    probe.install()
    inputs, labels = probe.read(batch=1)
    assert inputs.count == 32 * 64 and inputs.mean == pytest.approx(float(x[32:64].mean()), rel=1e-5)
    assert labels.class_counts == tuple(np.bincount(y[32:64]))
    [_, last] = probe.read(batch=2)  # rows 64..79: the last 20 of 100 rows are validation data
    assert last.count == 16


def test_shuffle_batch_reads_the_very_batch_like_no_shuffle():
    x, y = S.digits()
    probe = ArrayProbe({"x": x[:96], "y": y[:96], "shuffle": "batch"}, batch_size=32)
    probe.install()
    [inputs, _] = probe.read(batch=2)
    assert inputs.mean == pytest.approx(float(x[64:96].mean()), rel=1e-5)


class _TargetMeans(Check):
    """Keeps, per step, the mean of the labels SCRAM read."""

    id = "test_target_means"

    def __init__(self) -> None:
        super().__init__()
        self.means = {}

    def on_batch(self, obs, history):
        for t in obs.tensors or ():
            if t.role == "target":
                self.means[obs.step] = t.mean


class _BatchLosses(keras.callbacks.Callback):
    """Each batch's own loss, recovered from Keras' running mean over the epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.losses = []

    def on_epoch_begin(self, epoch, logs=None):
        self._seen, self._mean = 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        mean = logs["loss"]
        self.losses.append((self._seen + 1) * mean - self._seen * self._mean)
        self._seen, self._mean = self._seen + 1, mean


def test_without_shuffle_the_batch_read_is_the_one_keras_took_across_short_epochs(tmp_path):
    """steps_per_epoch below the data's batches: Keras goes on through the data across epochs."""
    batch, batches = 4, 10
    x = np.zeros((batch * batches, 2), "float32")
    y = np.repeat(np.arange(batches), batch).astype("float32")[:, None]  # labels = the batch's index
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", loss=lambda t, p: keras.ops.mean(t) + 0.0 * keras.ops.mean(p))  # loss = batch index
    means, losses = _TargetMeans(), _BatchLosses()
    model.fit(x, y, batch_size=batch, epochs=5, steps_per_epoch=3, shuffle=False, verbose=0,
              callbacks=[losses, ScramCallback(tmp_path, extra_checks=[means], internals_every=0)])
    taken = [round(loss) for loss in losses.losses]
    assert taken[3:6] == [3, 4, 5], "the second epoch goes on where the first stopped"
    assert len(means.means) == len(taken)
    assert [round(means.means[step]) for step in range(len(taken))] == taken


def test_one_replica_mirrored_strategy_on_a_dataset_still_counts_nan(tmp_path):
    x, y = S.digits()
    x = x[:640].copy()
    x[100, 0] = np.nan
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        model = S.mlp(64, (16,), 10)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    data = tf.data.Dataset.from_tensor_slices((x, y[:640])).batch(32)
    model.fit(data, epochs=1, verbose=0, callbacks=[ScramCallback(str(tmp_path))])
    fired = {d["check"] for d in report_json(tmp_path)}
    assert "input_contains_nan" in fired and "scram_internal_error" not in fired, fired


def test_arrays_too_large_to_scan_are_screened_in_the_train_step(tmp_path, monkeypatch):
    from tensorboard_plugin_scram.keras_adapter import array_probe

    monkeypatch.setattr(array_probe, "MAX_SCANNED_VALUES", 1000)
    model, x, labels = _nan_at_step_37(one_hot=False)
    model.fit(x, labels, batch_size=32, epochs=1, verbose=0, callbacks=[ScramCallback(str(tmp_path))])
    [found] = [d for d in report_json(tmp_path) if d["check"] == "input_contains_nan"]
    assert found["evidence"]["nonfinite_total"] == 7 and found["step"] >= 1


def test_loss_curve_keeps_its_spacing_with_steps_per_execution(tmp_path):
    from tensorboard_plugin_scram.events.file_reader import read_logdir

    x, y = S.digits()
    model = S.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", steps_per_execution=2)
    model.fit(x[:1600], y[:1600], batch_size=32, epochs=2, verbose=0, callbacks=[ScramCallback(str(tmp_path))])
    [records] = read_logdir(str(tmp_path))
    late = [b.step for b in records.batches if b.step >= 20]
    assert len(late) >= 6 and all(b - a >= 10 for a, b in zip(late, late[1:], strict=False)), late


def test_nan_late_in_a_dataset_of_unknown_length_is_reported_by_the_epoch_end(tmp_path):
    model, x, labels = _nan_at_step_37(one_hot=False)
    x, labels = x[:38 * 32], labels[:38 * 32]  # the NaN batch is the last one
    data = tf.data.Dataset.from_tensor_slices((x, labels)).filter(lambda *_: True).batch(32)
    assert data.cardinality() == tf.data.UNKNOWN_CARDINALITY
    model.fit(data, epochs=1, verbose=0, callbacks=[ScramCallback(str(tmp_path), sample_every=50)])
    [found] = [d for d in report_json(tmp_path) if d["check"] == "input_contains_nan"]
    assert found["evidence"]["nonfinite_total"] == 7 and found["step"] == 37


def _agreement_cases() -> dict[str, tuple[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    images = rng.normal(0.4, 2.0, (16, 6, 6, 3)).astype("float32")
    holes = images.copy()
    holes[2, 1, 1, 0], holes[5, :, :, 1], holes[9, 0, 0, 2] = np.nan, np.inf, -np.inf
    one_hot = np.eye(5, dtype="float32")[rng.integers(0, 5, 16)]
    return {
        "images": ("input", images),
        "images_with_nan_and_inf": ("input", holes),
        "all_nan_column": ("input", np.where(np.arange(4) == 1, np.nan, rng.random((16, 4)))),
        "pixels_0_255": ("input", rng.integers(0, 256, (16, 8, 8)).astype("uint8")),
        "booleans": ("input", rng.random((16, 3)) > 0.5),
        "class_ids": ("target", rng.integers(0, 10, 16)),
        "class_ids_out_of_range": ("target", rng.integers(0, 100, 16)),
        "one_hot": ("target", one_hot),
        "soft_labels": ("target", one_hot * 0.9 + 0.02),
        "multi_hot": ("target", (rng.random((16, 5)) < 0.4).astype("float32")),
        "multi_hot_sequences": ("target", (rng.random((16, 3, 4)) < 0.5).astype("float32")),
        "sequence_ids": ("target", rng.integers(0, 7, (16, 12))),
        "sequence_ids_out_of_range": ("target", rng.integers(0, 90, (16, 12))),
        "sequence_one_hot": ("target", np.eye(4, dtype="float32")[rng.integers(0, 4, (16, 5))]),
        "wide_one_hot": ("target", np.eye(80, dtype="float32")[rng.integers(0, 80, 16)]),
        "regression": ("target", rng.normal(size=16).astype("float32")),
        "labels_with_nan": ("target", np.where(np.arange(16) == 4, np.nan, rng.integers(0, 3, 16))),
        "no_label_columns": ("target", np.zeros((16, 0), "float32")),
        "beyond_float32": ("input", np.array([[1e39, 1.0], [-1e39, 2.0]] * 8)),
    }


@pytest.mark.parametrize("case", sorted(_agreement_cases()))
def test_host_statistics_agree_with_the_in_graph_ones(case):
    """Arrays are summarised in NumPy, datasets in the train step: both must give the same numbers."""
    from tensorboard_plugin_scram.keras_adapter.backends.tensorflow.batch_probe import statistics_function
    from tensorboard_plugin_scram.keras_adapter.batch_stats import batch_statistics, class_counts

    role, array = _agreement_cases()[case]
    graph_stats, graph_classes = statistics_function((role,))([tf.constant(array)])
    host_classes = class_counts(array) if role == "target" else np.zeros_like(graph_classes.numpy()[0])
    np.testing.assert_allclose(batch_statistics(array, role == "target"), graph_stats.numpy()[0], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(host_classes, graph_classes.numpy()[0])


def test_odd_arrays_give_statistics_without_warnings():
    """Overflowing values, targets without columns and complex inputs: no NumPy warning reaches the user."""
    import warnings

    rng = np.random.default_rng(0)
    arguments = {"x": {"big": np.full((64, 3), 1e39), "complex": rng.normal(size=(64, 2)) * (1 + 1j)},
                 "y": np.zeros((64, 0), "float32"), "shuffle": False}
    probe = ArrayProbe(arguments, batch_size=32)
    probe.install()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = {t.name: t for t in probe.read(batch=0)}
    assert set(stats) == {"big", "y"}, "complex inputs are left out, as in the train step"
    # As in the train step, values are summarised in float32, where 1e39 is infinite.
    assert stats["big"].nonfinite == 96 and stats["y"].class_counts == ()


class _OnAccelerator:
    """A batch's tensor as a GPU holds it (none here): NumPy reads it only through a copy."""

    device = type("Device", (), {"type": "cuda"})()

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.shape, self.dtype = array, array.shape, array.dtype


def _tap_on_accelerator() -> tuple:
    """A `StepTap` as on JAX or PyTorch with a GPU, fed by hand as Keras' train function would."""
    from tensorboard_plugin_scram.keras_adapter.step_tap import StepTap

    copies, fed = [], []

    def wrap(model, see):
        fed.append(see)
        return lambda: None

    def to_numpy(tensor):
        copies.append(tensor)
        return tensor.array

    tap = StepTap(keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)]), wrap=wrap, to_numpy=to_numpy)
    tap.install()
    return tap, fed[0], copies


def test_a_batch_on_an_accelerator_is_copied_only_when_read_and_its_nan_named_then():
    x, y = S.digits()
    tap, see, copies = _tap_on_accelerator()
    tap.request(False)
    clean = (_OnAccelerator(x[:32]), _OnAccelerator(y[:32]))
    see(clean)
    assert copies == [], "an unrequested batch on the GPU stays there"
    poisoned = x[32:64].copy()
    poisoned[3, :2] = np.nan
    see((_OnAccelerator(poisoned), _OnAccelerator(y[32:64])))
    assert copies == []
    # The loss turned NaN at this step: the callback reads, and the batch is copied then.
    inputs, labels = tap.read()
    assert inputs.nonfinite == 2 and labels.nonfinite == 0 and len(copies) == 2
    assert tap.read() is None, "a batch is summarised once"
    tap.request(True)
    see(clean)
    assert len(copies) == 4 and tap.read()[0].nonfinite == 0


def test_a_probe_that_fails_mid_fit_is_still_unwrapped_when_the_fit_ends(tmp_path, monkeypatch):
    def broken(self, batch=0):
        raise ValueError("unreadable batch")

    monkeypatch.setattr(BatchProbe, "read", broken)
    x, y = S.digits()
    dataset = tf.data.Dataset.from_tensor_slices((x[:320], y[:320])).batch(32)
    model = S.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.warns(RuntimeWarning, match="unreadable batch"):
        model.fit(dataset, epochs=2, verbose=0, callbacks=[ScramCallback(str(tmp_path), verbose=0)])
    assert "train_step" not in vars(model), "the probe's wrapper outlived the fit"
    model.fit(dataset, epochs=1, verbose=0)  # the model's own train step, rebuilt by Keras
