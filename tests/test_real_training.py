"""The loss, metric and data checks on real programs of unusual shapes (issue 17): batch size 1,
a full batch of a tiny data set, heavy imbalance, continuous targets, long runs after convergence.

Each class of fault is trained for real (a tiny Keras model with the ScramCallback); the rule
details are pinned on synthetic observations beside them.
"""

from __future__ import annotations

import collections
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_wine

from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.checks._batch import at_least_chance, binomial_tail, single_label_chance
from tensorboard_plugin_scram.checks.accuracy_at_chance import AccuracyAtChance
from tensorboard_plugin_scram.checks.data_not_shuffled import DataNotShuffled
from tensorboard_plugin_scram.checks.loss_not_decreasing import LossNotDecreasing
from tensorboard_plugin_scram.checks.overfitting import Overfitting
from tensorboard_plugin_scram.events.file_reader import read_logdir
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import (
    BatchObservation,
    EarlyStoppingInfo,
    EpochObservation,
    LossInfo,
    OutputInfo,
    RunInfo,
)
from tests.builders import stats

pytestmark = pytest.mark.training

L = keras.layers


def wine() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_wine(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    x = (x - x.mean(0)) / x.std(0)
    return x[order].astype("float32"), y[order]


def mlp(inputs: int, outputs: int, activation: str = "softmax", units: int = 16, **dense) -> keras.Model:
    return keras.Sequential([keras.Input((inputs,)), L.Dense(units, activation="relu", **dense),
                             L.Dense(outputs, activation=activation)])


def train(log_dir, model, x, y=None, optimizer="adam", loss="sparse_categorical_crossentropy",
          metrics=("accuracy",), seed=0, thresholds=None, **fit) -> tuple[list, dict]:
    """Trains with SCRAM; its diagnostics and Keras' history."""
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    history = model.fit(x, y, verbose=0, callbacks=[ScramCallback(str(log_dir), thresholds=thresholds)],
                        **{"epochs": 3, **fit})
    return [d for run in read_logdir(str(log_dir)) for d in run.diagnostics], history.history


def by_check(diagnostics) -> dict[str, list]:
    found = collections.defaultdict(list)
    for d in diagnostics:
        found[d.check].append(d)
    return found


def alarms(diagnostics) -> list[str]:
    return sorted(d.check for d in diagnostics if d.severity.value != "info")


def imbalanced(samples: int, positives: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(samples) < positives).astype("float32")
    x = rng.normal(0, 1, (samples, 10)) + 1.5 * y[:, None]
    return x.astype("float32"), y


# -- data_not_shuffled: against a random order at the observed class frequencies --------------


def test_the_null_model_of_single_label_batches():
    assert single_label_chance([0.99, 0.01], 64) == pytest.approx(0.99**64 + 0.01**64)
    assert single_label_chance([0.5, 0.5], 1) == 1.0, "a batch of one holds one label, necessarily"
    assert at_least_chance([0.5] * 4, 4) == pytest.approx(0.5**4)
    assert at_least_chance([0.2, 0.7], 1) == pytest.approx(1 - 0.8 * 0.3)
    assert binomial_tail(32, 0.998, 32) == pytest.approx(0.998**32)
    assert binomial_tail(10, 0.5, 0) == 1.0 and binomial_tail(10, 0.5, 11) == 0.0


def class_batch(counts: tuple[int, ...], step: int = 0) -> BatchObservation:
    x = stats(0, 1, 0.5, 0.3, count=sum(counts) * 64)
    y = stats(0, 1, 0.5, 0.3, name="y", role="target", count=sum(counts), integral=True, class_counts=counts)
    return BatchObservation(step, 0, {}, (x, y))


def feed(check, observations, run: RunInfo | None = None) -> list:
    history = History(run or RunInfo(input_sizes={"x": 64}))
    results = []
    for obs in observations:
        history.add_batch(obs)
        results.append(check.on_batch(obs, history))
    return results


def test_single_class_batches_of_heavily_imbalanced_shuffled_data_are_chance():
    # 99:1 at batch 64: about half the batches hold one class by chance alone.
    batches = [class_batch((64,)) if i % 3 else class_batch((63, 1)) for i in range(10)]
    assert sum(len(b.tensors[1].class_counts) == 1 for b in batches) / len(batches) >= 0.5, \
        "the old rule (share >= 0.5) would fire"
    assert feed(DataNotShuffled(), batches)[-1] == []


def test_runs_of_classes_still_fire_and_batches_of_one_are_skipped():
    sorted_runs = [class_batch((32, 0)) if i < 5 else class_batch((0, 32)) for i in range(10)]
    [finding] = feed(DataNotShuffled(), sorted_runs)[-1]
    assert finding.evidence["single_label_batches"] == 10 and finding.evidence["chance"] < 1e-4
    assert "In a random order about 0%" in finding.explanation
    ones = [class_batch((1, 0)) if i % 2 else class_batch((0, 1)) for i in range(12)]
    assert feed(DataNotShuffled(), ones) == [None] * 12


def test_sorted_dataset_fires_and_its_shuffled_twin_and_batch_size_1_stay_quiet(tmp_path):
    x, y = wine()
    order = np.argsort(y, kind="stable")
    sorted_ds = tf.data.Dataset.from_tensor_slices((x[order], y[order])).batch(8)
    found = by_check(train(tmp_path / "sorted", mlp(13, 3), sorted_ds)[0])
    [finding] = found["data_not_shuffled"]
    assert "shuffle" in finding.snippet and finding.evidence["batch_sizes"] == [8]

    shuffled = tf.data.Dataset.from_tensor_slices((x[order], y[order])).shuffle(len(x), seed=0).batch(8)
    assert "data_not_shuffled" not in by_check(train(tmp_path / "shuffled", mlp(13, 3), shuffled)[0])

    one_hot = keras.utils.to_categorical(y, 3)
    diagnostics, _ = train(tmp_path / "one", mlp(13, 3), x, one_hot, loss="categorical_crossentropy",
                           batch_size=1, epochs=1)
    assert "data_not_shuffled" not in by_check(diagnostics)


def test_shuffled_99_to_1_dataset_stays_quiet(tmp_path):
    x, y = imbalanced(3200, 0.01)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).batch(64)
    diagnostics, _ = train(tmp_path, mlp(10, 1, "sigmoid"), dataset, loss="binary_crossentropy",
                           metrics=("accuracy", keras.metrics.AUC(name="auc")), epochs=2,
                           class_weight={0: 0.5, 1: 30.0})
    found = by_check(diagnostics)
    assert "data_not_shuffled" not in found
    [imbalance] = found["class_imbalance"]  # said, but as advice: the program handles it
    assert imbalance.severity.value == "info" and "class_weight" in imbalance.explanation
    assert "metric 'auc'" in imbalance.explanation


# -- loss_not_decreasing and accuracy_at_chance: counted in optimizer steps -------------------


def epochs_of(check, rows: list[dict], steps_per_epoch: int, run: RunInfo | None = None) -> list:
    history = History(run or RunInfo(losses=(LossInfo("sparse_categorical_crossentropy"),),
                                     outputs=(OutputInfo("out", 3, "softmax"),)))
    results = []
    for i, logs in enumerate(rows):
        obs = EpochObservation((i + 1) * steps_per_epoch - 1, i, logs)
        history.add_epoch(obs)
        results.append(check.on_epoch(obs, history))
    return results


def test_one_step_epochs_are_judged_over_enough_steps():
    flat = [{"loss": 1.0}] * 120
    results = epochs_of(LossNotDecreasing(), flat, 1)
    first = next(i for i, r in enumerate(results) if r)
    assert first == 99, "50 steps before a window of 50 steps"
    assert all(r is None for r in results[:first])
    # Adam's default rate on a full batch: 0.4% a step is progress over 50 steps.
    slow = [{"loss": 1.35 * 0.996**i} for i in range(150)]
    assert not any(epochs_of(LossNotDecreasing(), slow, 1))


def test_accuracy_at_chance_waits_while_climbing_and_names_a_loss_label_mismatch():
    climbing = [{"loss": 1.1 - 0.002 * i, "accuracy": 0.3 + 0.0005 * i} for i in range(150)]
    assert not any(epochs_of(AccuracyAtChance(), climbing, 1))
    stuck = [{"loss": 1.1, "accuracy": 0.33}] * 150
    results = epochs_of(AccuracyAtChance(), stuck, 1)
    assert next(i for i, r in enumerate(results) if r) == 99
    mismatch = [{"loss": 0.001, "accuracy": 0.0}] * 3
    [finding] = epochs_of(AccuracyAtChance(), mismatch, 1)[-1]
    assert finding.confidence.value == "high" and "cast" in finding.explanation


@pytest.mark.parametrize("metric", ["accuracy", "mae"])
def test_accuracy_on_a_regression_is_named_the_wrong_metric(tmp_path, metric):
    # Asked as "my regression's accuracy is 0": real-valued targets never equal a prediction exactly.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 5)).astype("float32")
    y = (x @ rng.normal(size=5) + rng.normal(0, 0.1, 256)).astype("float32")
    diagnostics, history = train(tmp_path, mlp(5, 1, None), x, y, loss="mse", metrics=(metric,), epochs=2)
    if metric == "mae":
        assert alarms(diagnostics) == []
        return
    assert max(history["accuracy"]) <= 0.05 and history["loss"][-1] < history["loss"][0]
    [finding] = by_check(diagnostics)["accuracy_at_chance"]
    assert finding.title == "Accuracy tracked on a regression task" and finding.epoch == 0
    assert 'metrics=["mae"]' in finding.snippet


def test_accuracy_on_whole_number_targets_under_mse_is_left_to_label_output_mismatch(tmp_path):
    x, y = wine()  # class ids 0-2 regressed with MSE: likely a classification in disguise
    diagnostics, _ = train(tmp_path, mlp(13, 1, None), x, y.astype("float32"), loss="mse", epochs=2)
    assert "label_output_mismatch" in alarms(diagnostics)
    assert "accuracy_at_chance" not in alarms(diagnostics)


def test_full_batch_run_is_judged_by_steps_not_epochs(tmp_path):
    x, y = wine()
    # Seed 1 scored 0.41 after its 3rd one-step epoch (chance 0.4): the old rule fired there.
    diagnostics, history = train(tmp_path / "adam", mlp(13, 3), x[:60], y[:60], seed=1, epochs=120,
                                 batch_size=60)
    assert history["accuracy"][-1] > 0.9 and history["loss"][-1] < 0.5 * history["loss"][0]
    assert alarms(diagnostics) == []

    diagnostics, history = train(tmp_path / "sgd", mlp(13, 3), x[:60], y[:60], optimizer=keras.optimizers.SGD(1e-5),
                                 epochs=120, batch_size=60)
    [finding] = by_check(diagnostics)["loss_not_decreasing"]
    assert finding.step >= 99 and finding.evidence["window_steps"] >= 50
    assert history["loss"][-1] > 0.99 * history["loss"][0]


def test_fractional_labels_under_a_sparse_loss(tmp_path):
    x, y = wine()
    scores = ((y + 1) / 4 + np.random.default_rng(0).uniform(-0.1, 0.1, len(y))).astype("float32")
    diagnostics, history = train(tmp_path, mlp(13, 5), x, scores, optimizer=keras.optimizers.Adam(1e-2), epochs=6,
                                 batch_size=16)
    assert history["loss"][-1] < 0.05 and history["accuracy"][-1] < 0.3
    [finding] = by_check(diagnostics)["accuracy_at_chance"]
    assert finding.title == "Loss near zero but accuracy at chance" and "class 0" in finding.explanation


# -- constant_predictions: compared with the labels and the task ------------------------------


def ratings() -> tuple[np.ndarray, np.ndarray]:
    x, _ = wine()
    # Mostly good wines: a model that predicts every rating above 0.5 is right about all of them.
    score = np.clip(np.round(7.5 + 1.2 * x[:, 0] - 0.8 * x[:, 6]), 0, 10)
    return x, (score / 10).astype("float32")


def test_continuous_targets_under_binary_crossentropy(tmp_path):
    x, score = ratings()
    model = keras.Sequential([keras.Input((13,)), L.Dense(32, activation="relu"), L.Dense(1, activation="sigmoid")])
    diagnostics, _ = train(tmp_path / "ok", model, x, score, loss="binary_crossentropy", metrics=("mae",),
                           epochs=15, batch_size=16)
    assert "constant_predictions" not in by_check(diagnostics)

    dead_bias = keras.initializers.Constant(-10.0)
    dead = keras.Sequential([keras.Input((13,)), L.Dense(32, activation="relu", bias_initializer=dead_bias),
                             L.Dense(1, activation="sigmoid")])
    diagnostics, _ = train(tmp_path / "dead", dead, x, score, loss="binary_crossentropy", metrics=("mae",),
                           epochs=15, batch_size=16)
    [finding] = by_check(diagnostics)["constant_predictions"]
    assert "standard deviation" in finding.explanation and finding.evidence["prediction_std"] < 0.01


def test_rare_positives_predicted_negative_in_an_all_negative_batch(tmp_path):
    x, y = imbalanced(6000, 0.003, seed=1)
    diagnostics, _ = train(tmp_path, mlp(10, 1, "sigmoid"), x, y, loss="binary_crossentropy",
                           metrics=("accuracy", keras.metrics.Recall(name="recall")), epochs=2)
    found = by_check(diagnostics)
    assert "constant_predictions" not in found
    assert found["class_imbalance"] and found["class_imbalance"][0].severity.value == "info"


# -- overfitting: the documented rule, like with like ------------------------------------------


def overfitting_rows(val_losses, losses):
    assert len(val_losses) == len(losses)
    return [{"loss": t, "val_loss": v} for t, v in zip(losses, val_losses, strict=True)]


def test_overfitting_ignores_validation_below_training_and_spikes_with_training():
    below = overfitting_rows([0.5, 0.3, 0.32, 0.35], [0.9, 0.7, 0.6, 0.5])  # dropout: validation better
    assert not any(epochs_of(Overfitting(), below, 10))
    spike = overfitting_rows([0.9, 0.5, 0.6, 0.8], [0.8, 0.4, 0.45, 0.3])  # training rose in the streak
    assert not any(epochs_of(Overfitting(), spike, 10))
    real = overfitting_rows([0.9, 0.5, 0.6, 0.8], [0.8, 0.4, 0.35, 0.3])
    assert epochs_of(Overfitting(), real, 10)[-1]


def test_overfitting_compares_a_weighted_training_loss_only_with_itself():
    # Validation flat above a weighted training loss: the old gap rule saw a widening gap.
    rows = overfitting_rows([0.9, 0.5, 0.5, 0.502, 0.504], [0.8, 0.3, 0.2, 0.15, 0.1])
    plain = RunInfo()
    weighted = RunInfo(class_weighted=True)
    assert epochs_of(Overfitting(), rows, 10, plain)[-1], "unweighted, the gap counts"
    assert not any(epochs_of(Overfitting(), rows, 10, weighted))


def test_fit_arguments_reach_the_checks(tmp_path):
    seen = []

    class Spy(LossNotDecreasing):
        id = "spy"

        def on_train_begin(self, run):
            seen.append(run)

    x, y = imbalanced(640, 0.05)
    keras.utils.set_random_seed(0)
    model = mlp(10, 1, "sigmoid")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=1, verbose=0, sample_weight=np.ones(len(y)), class_weight=None,
              callbacks=[ScramCallback(str(tmp_path), extra_checks=[Spy()])])
    [run] = seen
    assert run.sample_weighted and not run.class_weighted
    assert run.label_counts["y"] == tuple(np.bincount(y.astype(int)))


@pytest.mark.parametrize("callbacks, expected", [
    ([], (None, None)),
    ([keras.callbacks.EarlyStopping(patience=4, restore_best_weights=True)],
     (EarlyStoppingInfo("val_loss", True, 4), None)),
    ([keras.callbacks.EarlyStopping(monitor="loss", patience=2)], (EarlyStoppingInfo("loss", False, 2), None)),
    ([keras.callbacks.EarlyStopping(monitor="val_auc", patience=2)],
     (EarlyStoppingInfo("val_auc", False, 2, higher_is_better=True), None)),
    (["best.keras"], (None, "best.keras")),
    (["all.keras"], (None, None)),  # saving every epoch keeps no best one
], ids=["none", "restoring", "watching_training", "on_auc", "best_checkpoint", "every_epoch_checkpoint"])
def test_the_users_early_stopping_reaches_the_checks(tmp_path, callbacks, expected):
    seen = []

    class Spy(LossNotDecreasing):
        id = "spy"

        def on_train_begin(self, run):
            seen.append((run.early_stopping, run.best_checkpoint and os.path.basename(run.best_checkpoint)))

    callbacks = [keras.callbacks.ModelCheckpoint(str(tmp_path / c), save_best_only=c == "best.keras")
                 if isinstance(c, str) else c for c in callbacks]

    x, y = imbalanced(320, 0.3)
    model = mlp(10, 1, "sigmoid")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    callbacks = [ScramCallback(str(tmp_path), extra_checks=[Spy()]), *callbacks]
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=callbacks)
    assert seen == [expected]


# -- weights_not_updating: a converged model is no fault, and reports come once ---------------


def converged_job() -> tuple[keras.Model, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 256).astype("float32")
    x = (rng.normal(0, 1, (256, 8)) + 5.0 * (2 * y[:, None] - 1)).astype("float32")
    return mlp(8, 1, "sigmoid", units=32), x, y


@pytest.mark.parametrize("converged_share, reported", [(None, False), (0.0, True)])
def test_a_converged_model_is_not_reported_as_stuck(tmp_path, converged_share, reported):
    model, x, y = converged_job()
    thresholds = {} if converged_share is None else {"weights_not_updating": {"converged_share": converged_share}}
    diagnostics, history = train(tmp_path, model, x, y, optimizer=keras.optimizers.Adam(0.05),
                                 loss="binary_crossentropy", epochs=120, thresholds=thresholds)
    assert history["loss"][-1] < 1e-3 * history["loss"][0], "converged"
    stuck = by_check(diagnostics)["weights_not_updating"]
    assert bool(stuck) == reported
    counts = collections.Counter((d.check, d.title) for d in diagnostics if d.check != "input_not_normalized")
    assert all(n == 1 for n in counts.values()), counts
    assert not math.isnan(history["loss"][-1])
