"""Issue 17's leftovers: a recommender leaving its starting plateau, rare positives through tf.data, data
sorted after a shuffled first part.

Each class is trained for real (a tiny Keras model with the ScramCallback, its diagnostics read
from `callback.diagnostics`) with a twin on the other side of the rule; the rule details are pinned
on synthetic observations beside them.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.checks._metrics import fitted_growth
from tensorboard_plugin_scram.checks.constant_predictions import ConstantPredictions
from tensorboard_plugin_scram.checks.data_not_shuffled import DataNotShuffled
from tensorboard_plugin_scram.checks.update_ratio_unusual import UpdateRatioUnusual
from tensorboard_plugin_scram.checks.vanishing_gradients import VanishingGradients
from tensorboard_plugin_scram.observations import (
    BatchObservation,
    LayerStats,
    ModelStats,
    OutputInfo,
    PredictionStats,
    RunInfo,
)
from tests.builders import batches, stats

pytestmark = pytest.mark.training

L = keras.layers
INTERNALS = ("constant_predictions", "vanishing_gradients", "update_ratio_unusual")


def fit_with_scram(log_dir, model: keras.Model, x, y=None, **fit) -> tuple[list, dict]:
    """Trains a compiled model with SCRAM (seeded by the caller before building it); what SCRAM found
    and Keras' history."""
    callback = ScramCallback(str(log_dir), verbose=0)
    history = model.fit(x, y, verbose=0, callbacks=[callback], **fit)
    return list(callback.diagnostics), history.history


def checks_of(diagnostics) -> list[str]:
    return sorted(d.check for d in diagnostics)


# -- constant_predictions: a model leaving its plateau is not a collapsed one -------------------


def test_fitted_growth_reads_a_trend_through_noise():
    doubling = [(step, 1e-6 * 2 ** (step / 10)) for step in range(20, 61, 5)]
    assert fitted_growth(doubling, 1e-9) == pytest.approx(16, rel=1e-6)
    # One low sample in the middle neither hides the trend nor makes one in a flat series.
    dipped = [(s, v / 3 if s == 40 else v) for s, v in doubling]
    assert fitted_growth(dipped, 1e-9) > 8
    flat = [(step, 1e-4 * (1.5 if step % 10 else 0.7)) for step in range(20, 121, 5)]
    assert 0.5 < fitted_growth(flat, 1e-9) < 2
    assert fitted_growth([(s, 0.0) for s in range(20, 121, 5)], 1e-7) == 1.0, "exactly 0: not growing"
    assert fitted_growth([(20, 1e-6)], 1e-9) == 1.0


def value_batch(step: int, spread: float, target_std: float = 0.25) -> BatchObservation:
    """A sampled step of a model regressing ratings in [0, 1]: its predictions' spread."""
    x = stats(0, 199, 90.0, 50.0, count=64, integral=True)
    y = stats(0, 1, 0.5, target_std, name="y", role="target", count=32)
    predictions = PredictionStats(count=32, majority_share=1.0, predicted_classes=1, std=spread)
    return BatchObservation(step, 0, {"loss": 0.693}, (x, y), ModelStats((), predictions))


BOUNDED = RunInfo(input_sizes={"x": 2}, outputs=(OutputInfo("out", 1, "sigmoid"),))


def test_a_spread_growing_step_after_step_is_a_model_leaving_its_plateau():
    steps = range(20, 201, 5)
    # Seed 1 of the sweep's recommender: 7.6e-7 at step 20, 1.4e-4 at step 120, then it learnt.
    growing = [value_batch(s, 7.6e-7 * 1.055 ** (s - 20)) for s in steps]
    assert growing[20].model.predictions.std < 0.01 * 0.25, "constant by the spread rule alone"
    assert not any(batches(ConstantPredictions(), growing, BOUNDED))
    # The same seed on Keras' PyTorch backend: 2.7e-3 of the targets' spread at step 120,
    # grown only 3.3 times since step 20, and it learnt as well.
    slower = [value_batch(s, 7e-4 * 3.3 ** ((s - 20) / 100)) for s in steps]
    assert not any(batches(ConstantPredictions(), slower, BOUNDED))

    flat = [value_batch(s, 0.0) for s in steps]
    results = batches(ConstantPredictions(), flat, BOUNDED)
    first = next(i for i, r in enumerate(results) if r)
    assert steps[first] == 120, "the first step 100 steps into the streak"
    [finding] = results[first]
    assert finding.evidence["spread_growth"] == 1.0 and finding.evidence["prediction_std"] == 0.0
    assert "x1" in finding.explanation and "0.25" in finding.explanation
    # Targets in [0, 1] behind a sigmoid: no advice to standardise them out of its reach.
    assert "Keep the targets in [0, 1]" in finding.suggestion and "y_std" not in finding.snippet


def test_a_spread_that_grew_and_stopped_is_reported():
    # Grew 8 times up to step 80, then stayed: over the last 16 samples the fit sees no growth.
    stalled = [value_batch(s, 1e-5 * 2 ** min(3.0, (s - 20) / 20)) for s in range(20, 301, 5)]
    results = batches(ConstantPredictions(), stalled, BOUNDED)
    fired = [i for i, r in enumerate(results) if r]
    assert fired, "a plateau that stopped growing is a collapse after all"
    assert results[fired[0]][0].evidence["spread_growth"] < 4


def class_batch(step: int, counts: tuple[int, ...], share: float = 1.0, spread: float = 0.01) -> BatchObservation:
    x = stats(-3, 3, 0.0, 1.0, count=sum(counts) * 12)
    y = stats(0, len(counts) - 1, 0.0, 0.0, name="y", role="target", count=sum(counts), integral=True,
              class_counts=counts)
    predictions = PredictionStats(count=sum(counts), majority_share=share, predicted_classes=1, std=spread)
    return BatchObservation(step, 0, {"loss": 0.3}, (x, y), ModelStats((), predictions))


def test_one_class_seen_in_a_data_sets_batches_is_no_labelling_bug():
    negatives = [class_batch(s, (32,)) for s in range(20, 201, 5)]
    dataset = RunInfo(input_sizes={"x": 12})  # no label counts: only the sampled batches
    assert not any(batches(ConstantPredictions(), negatives, dataset))
    arrays = RunInfo(input_sizes={"x": 12}, label_counts={"y": (6400,)})  # counted over all of them
    assert any(batches(ConstantPredictions(), negatives, arrays)), "labels of one class, counted: reported"
    # Once a second class is seen, the binomial null model judges: 25% of a class never predicted.
    mixed = [class_batch(s, (16, 16) if s % 10 else (32,)) for s in range(20, 201, 5)]
    assert any(batches(ConstantPredictions(), mixed, dataset))


# -- vanishing_gradients and update_ratio_unusual: lookup tables and weights near zero ------------


def layer(name: str, kind: str = "Dense", **fields) -> LayerStats:
    values = {"weight_norm": 1.0, "grad_norm": 0.04, "update_norm": 0.002, "update_steps": 1}
    return LayerStats(name=name, kind=kind, **{**values, **fields})


def internals_batch(step: int, *layers: LayerStats) -> BatchObservation:
    spread = PredictionStats(count=32, majority_share=0.6, predicted_classes=2, std=0.1)
    return BatchObservation(step, 0, {"loss": 0.69}, None, ModelStats(layers, spread))


RECOMMENDER = RunInfo(optimizer="Adam", learning_rate=3e-3)


def recommender_layers(dense_weight: float, embedding_grad: float) -> tuple[LayerStats, ...]:
    """The sweep's recommender at seed 1: two tables, a 1-unit Dense on their dot product drawn near 0."""
    return (layer("user", "Embedding", weight_norm=1.14, grad_norm=embedding_grad, update_norm=0.003),
            layer("movie", "Embedding", weight_norm=1.02, grad_norm=embedding_grad, update_norm=0.003),
            layer("head", weight_norm=dense_weight, grad_norm=0.041, update_norm=0.002))


def test_embedding_tables_are_not_the_first_layer_of_a_vanishing_gradient():
    seed_1 = [internals_batch(s, *recommender_layers(0.008, 6.3e-6)) for s in (5, 10)]
    assert batches(VanishingGradients(), seed_1)[-1] == [], "one layer left besides the tables: nothing to compare"
    # A sigmoid stack behind an embedding is still judged, from its first layer on.
    stack = (layer("tokens", "Embedding", grad_norm=1e-9), layer("s1", activation="sigmoid", grad_norm=1e-7),
             layer("s2", activation="sigmoid", grad_norm=1e-3), layer("out", grad_norm=0.5))
    [finding] = batches(VanishingGradients(), [internals_batch(s, *stack) for s in (5, 10)])[-1]
    assert finding.evidence["first_layer"] == "s1"


def test_high_update_ratio_left_to_layers_of_ordinary_size():
    seed_1 = internals_batch(5, *recommender_layers(0.008, 6.3e-6))
    assert batches(UpdateRatioUnusual(), [seed_1], RECOMMENDER) == [[]], "0.25 of a weight of 0.008: near zero"
    # The same 1-unit head drawn at an ordinary size, with a step far too large for it, fires.
    too_high = internals_batch(5, *recommender_layers(0.5, 6.3e-6)[:2], layer("head", weight_norm=0.5,
                                                                              update_norm=0.2))
    [[finding]] = batches(UpdateRatioUnusual(), [too_high], RECOMMENDER)
    assert finding.evidence["update_ratios"] == {"head": pytest.approx(0.4)}
    # Tables moved by Adam's first steps are left out; the Dense layers sharing the rate are not.
    tables = internals_batch(5, layer("user", "Embedding", weight_norm=0.2, update_norm=0.03),
                             layer("dense", weight_norm=2.0, update_norm=0.002))
    assert batches(UpdateRatioUnusual(), [tables], RECOMMENDER) == [[]]
    adam_too_high = internals_batch(5, layer("user", "Embedding", weight_norm=0.2, update_norm=0.5),
                                    layer("dense", weight_norm=2.0, update_norm=0.6))
    [[finding]] = batches(UpdateRatioUnusual(), [adam_too_high], RECOMMENDER)
    assert list(finding.evidence["update_ratios"]) == ["dense"]


def ratings_pairs(users: int = 200, movies: int = 150, pairs: int = 6000) -> tuple[np.ndarray, np.ndarray]:
    """User and movie ids, and ratings 1..5 from hidden tastes, scaled to [0, 1]."""
    rng = np.random.default_rng(0)
    taste, appeal = rng.normal(size=(users, 4)), rng.normal(size=(movies, 4))
    u, m = rng.integers(0, users, pairs), rng.integers(0, movies, pairs)
    ratings = np.clip(np.round(3 + (taste[u] * appeal[m]).sum(1) / 2 + rng.normal(0, 0.3, pairs)), 1, 5)
    return np.stack([u, m], 1).astype("int32"), ((ratings - 1) / 4).astype("float32")


def dot_recommender(users: int = 200, movies: int = 150) -> keras.Model:
    pair = keras.Input((2,), dtype="int32")
    score = L.Dot(axes=1)([L.Embedding(users, 8)(pair[:, 0]), L.Embedding(movies, 8)(pair[:, 1])])
    model = keras.Model(pair, L.Activation("sigmoid")(L.Dense(1)(score)))
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy")
    return model


def mlp_recommender(hidden_bias: float, users: int = 200, movies: int = 150) -> keras.Model:
    """Neural collaborative filtering: the two vectors concatenated into a ReLU layer."""
    pair = keras.Input((2,), dtype="int32")
    vectors = L.Concatenate()([L.Embedding(users, 8)(pair[:, 0]), L.Embedding(movies, 8)(pair[:, 1])])
    hidden = L.Dense(16, activation="relu", bias_initializer=keras.initializers.Constant(hidden_bias))(vectors)
    model = keras.Model(pair, L.Dense(1, activation="sigmoid")(hidden))
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy")
    return model


def test_recommender_leaving_its_plateau_is_quiet_and_a_dead_one_is_reported(tmp_path):
    x, y = ratings_pairs()
    # Seed 1 starts on the plateau of two small embeddings multiplied: about 150 steps of
    # predictions within 1e-4 of each other, then it learns.
    keras.utils.set_random_seed(1)
    diagnostics, history = fit_with_scram(tmp_path / "dot", dot_recommender(), x, y, epochs=5, batch_size=64)
    assert history["loss"][1] > 0.685 and history["loss"][-1] < 0.62, "a plateau, then learning"
    assert not set(INTERNALS) & set(checks_of(diagnostics))

    keras.utils.set_random_seed(0)
    diagnostics, history = fit_with_scram(tmp_path / "dead", mlp_recommender(-10.0), x, y, epochs=5,
                                          batch_size=64)
    assert history["loss"][-1] > 0.68, "the dead ReLU layer passes nothing: the loss stays at ln 2"
    [finding] = [d for d in diagnostics if d.check == "constant_predictions"]
    assert finding.evidence["prediction_std"] < 0.01 * finding.evidence["target_std"]
    assert finding.evidence["spread_growth"] < 4

    keras.utils.set_random_seed(0)
    diagnostics, history = fit_with_scram(tmp_path / "alive", mlp_recommender(0.0), x, y, epochs=5,
                                          batch_size=64)
    assert history["loss"][-1] < 0.65
    assert not set(INTERNALS) & set(checks_of(diagnostics))


# -- constant_predictions: rare positives through tf.data ---------------------------------------


def transactions(samples: int, positives: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(samples) < positives).astype("float32")
    x = rng.normal(size=(samples, 12)).astype("float32")
    x[y == 1, :3] += 2.5
    return x, y


def fraud_classifier() -> keras.Model:
    model = keras.Sequential([keras.Input((12,)), L.Dense(32, activation="relu"), L.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(), "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    return model


def test_rare_positives_through_a_shuffled_data_set_are_no_constant_predictions(tmp_path):
    # 5 positives in 8,000, class weights 0.5 / 800: the sampled batches show no positive for
    # a long while, and an all-negative batch predicted all negative is right.
    x, y = transactions(8000, 0.0005, seed=1)
    assert 0 < y.sum() < 10
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=1).batch(64)
    weights = {0: 0.5 / (1 - y.mean()), 1: 0.5 / y.mean()}
    keras.utils.set_random_seed(1)
    diagnostics, history = fit_with_scram(tmp_path / "rare", fraud_classifier(), dataset, epochs=3,
                                          class_weight=weights)
    assert history["auc"][-1] > 0.9, "it learns to rank the positives"
    assert "constant_predictions" not in checks_of(diagnostics)

    # Its broken twin: the inputs zeroed by a wiring bug, the answer the same for every sample.
    keras.utils.set_random_seed(1)
    broken = keras.Sequential([keras.Input((12,)), L.Rescaling(0.0), L.Dense(32, activation="relu"),
                               L.Dense(1, activation="sigmoid")])
    broken.compile(keras.optimizers.Adam(), "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    x, y = transactions(8000, 0.3, seed=1)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=1).batch(64)
    diagnostics, _ = fit_with_scram(tmp_path / "broken", broken, dataset, epochs=2)
    assert "constant_predictions" in checks_of(diagnostics)


# -- data_not_shuffled: judged over the whole epoch ---------------------------------------------


def label_batch(step: int, epoch: int, counts: tuple[int, ...]) -> BatchObservation:
    x = stats(0, 16, 5.0, 6.0, count=sum(counts) * 64)
    y = stats(0, 9, 4.5, 2.9, name="y", role="target", count=sum(counts), integral=True, class_counts=counts)
    return BatchObservation(step, epoch, {}, (x, y))


def one_class(label: int, size: int = 32) -> tuple[int, ...]:
    return (0,) * label + (size,)


MIXED = (4, 3, 3, 3, 3, 3, 3, 4, 3, 3)


def test_sorted_after_a_shuffled_first_part_is_judged_where_it_comes():
    # 12 mixed batches, then 20 batches sorted by label, two of each class.
    epoch = [label_batch(i, 0, MIXED) for i in range(12)] + [label_batch(12 + i, 0, one_class(i // 2))
                                                             for i in range(20)]
    results = batches(DataNotShuffled(), epoch)
    assert results[9] == [], "the first 10 batches are mixed: the old window judged only these"
    fired = [i for i, r in enumerate(results) if r]
    assert fired and fired[0] >= 12
    finding = results[-1][0]
    assert finding.evidence["batches"] == 10 and finding.evidence["single_label_batches"] == 10
    assert "sampled at steps 22-31" in finding.explanation


def test_sampling_that_begins_late_is_judged_and_one_report_covers_the_run():
    # A second fit() on sorted data, sampled every 10 steps from step 100 on.
    late = [label_batch(100 + 10 * i, 5 + i // 3, one_class(i % 10)) for i in range(12)]
    results = batches(DataNotShuffled(), late)
    assert results[:9] == [None] * 9
    [finding] = results[9]
    assert "sampled at steps 100-190" in finding.explanation
    # Once reported, windows that look mixed (class boundaries) neither end nor repeat it.
    sorted_then_mixed = [label_batch(i, 0, one_class(i % 10)) for i in range(10)] + \
                        [label_batch(10 + i, 1, MIXED) for i in range(10)]
    results = batches(DataNotShuffled(), sorted_then_mixed)
    assert results[9] and results[-1] is None
    assert batches(DataNotShuffled(), [label_batch(i, 0, MIXED) for i in range(20)])[-1] == []


def small_batch(step: int, counts: tuple[int, int]) -> BatchObservation:
    return label_batch(step, 0, counts)


def test_each_window_judged_is_one_more_chance_of_a_false_alarm():
    # Batches of 4 with balanced labels: one in 8 holds one class by chance; 7 of 10 do with
    # chance 4e-5, below 1e-4 for the first window judged, not for the 13th.
    window = [small_batch(i, (4, 0) if i % 2 else (0, 4)) if i < 7 else small_batch(i, (2, 2)) for i in range(10)]
    [finding] = batches(DataNotShuffled(), window)[-1]
    assert 1e-5 < finding.evidence["chance"] < 1e-4 and finding.evidence["windows_judged"] == 1
    mixed_first = [small_batch(i, (2, 2)) for i in range(12)] + window
    assert not any(batches(DataNotShuffled(), mixed_first))


def test_memory_stays_one_window():
    check = DataNotShuffled()
    results = batches(check, [label_batch(i, i // 100, MIXED) for i in range(2000)])
    assert not any(results) and len(check._batches) == check.threshold("window")


def digits_partly_sorted(shuffled_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1]: a shuffled first part, then the rest sorted by label."""
    x, y = load_digits(return_X_y=True)
    x, y = (x / 16).astype("float32")[:1400], y[:1400]
    cut = int(shuffled_share * len(x))
    rest = cut + np.argsort(y[cut:], kind="stable")
    order = np.concatenate([np.arange(cut), rest])
    return x[order], y[order]


def digits_mlp() -> keras.Model:
    model = keras.Sequential([keras.Input((64,)), L.Dense(32, activation="relu"), L.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_data_sorted_after_a_shuffled_part_fires_and_the_shuffled_fit_stays_quiet(tmp_path):
    # The first 9 batches are shuffled (the old rule judged the first 10 sampled ones), the other
    # 35 sorted; all of the first 20 steps are sampled, then each epoch's last batch.
    x, y = digits_partly_sorted(0.2)
    assert len(set(y[:280].tolist())) == 10 and np.all(np.diff(y[280:]) >= 0)
    keras.utils.set_random_seed(0)
    diagnostics, _ = fit_with_scram(tmp_path / "sorted", digits_mlp(), x, y, epochs=2, shuffle=False)
    [finding] = [d for d in diagnostics if d.check == "data_not_shuffled"]
    assert finding.evidence["first_step"] > 0 and finding.evidence["single_label_share"] >= 0.5
    assert "shuffle=True" in finding.snippet

    keras.utils.set_random_seed(0)
    diagnostics, _ = fit_with_scram(tmp_path / "shuffled", digits_mlp(), x, y, epochs=2)
    assert "data_not_shuffled" not in checks_of(diagnostics)


def test_every_threshold_named_in_the_rules_exists():
    for check in (ConstantPredictions(), DataNotShuffled(), UpdateRatioUnusual(), VanishingGradients()):
        for name in check.configured_thresholds():
            assert f"`{name}`" in check.doc(), (check.id, name)
    assert math.isclose(ConstantPredictions().threshold("rise"), 2.0)
