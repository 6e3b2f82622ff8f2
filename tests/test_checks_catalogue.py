"""The catalogue's static, data, loss and metric checks on hand-built observations: fire, and near misses."""

from __future__ import annotations

import dataclasses
import math

import pytest

from tensorboard_plugin_scram.checks import BatchObservation, History
from tensorboard_plugin_scram.checks.accuracy_at_chance import AccuracyAtChance
from tensorboard_plugin_scram.checks.batch_memory_risk import BatchMemoryRisk
from tensorboard_plugin_scram.checks.class_imbalance import ClassImbalance
from tensorboard_plugin_scram.checks.data_not_shuffled import DataNotShuffled
from tensorboard_plugin_scram.checks.input_contains_nan import InputContainsNan
from tensorboard_plugin_scram.checks.label_output_mismatch import LabelOutputMismatch
from tensorboard_plugin_scram.checks.learning_rate_unusual import LearningRateUnusual
from tensorboard_plugin_scram.checks.loss_diverging import LossDiverging
from tensorboard_plugin_scram.checks.loss_not_decreasing import LossNotDecreasing
from tensorboard_plugin_scram.checks.loss_oscillating import LossOscillating
from tensorboard_plugin_scram.checks.no_trainable_weights import NoTrainableWeights
from tensorboard_plugin_scram.checks.output_activation_loss_mismatch import OutputActivationLossMismatch
from tensorboard_plugin_scram.checks.train_val_mismatch import TrainValMismatch
from tensorboard_plugin_scram.diagnostic import Severity
from tensorboard_plugin_scram.observations import LossInfo
from tests.builders import SPARSE, batches, epochs, run_info, stats, x_and_y

# -- output_activation_loss_mismatch --------------------------------------------------------

@pytest.mark.parametrize(
    "units, activation, loss, severity",
    [
        (10, "softmax", LossInfo("sparse_categorical_crossentropy", from_logits=True), Severity.WARNING),
        (10, "linear", SPARSE, Severity.ERROR),
        (10, "linear", LossInfo("categorical_crossentropy"), Severity.ERROR),
        (10, "sigmoid", LossInfo("categorical_crossentropy"), Severity.WARNING),
        (1, "softmax", LossInfo("binary_crossentropy"), Severity.ERROR),
        (10, "relu", SPARSE, Severity.WARNING),
    ],
)
def test_output_activation_loss_mismatch_fires(units, activation, loss, severity):
    [finding] = OutputActivationLossMismatch().on_train_begin(run_info(units, activation, loss))
    assert finding.severity == severity and "'head'" in finding.explanation and loss.name in finding.explanation
    assert finding.location == "train.py:10"


@pytest.mark.parametrize(
    "units, activation, loss",
    [
        (10, "softmax", SPARSE),
        (10, "linear", LossInfo("sparse_categorical_crossentropy", from_logits=True)),
        (1, "sigmoid", LossInfo("binary_crossentropy")),
        (5, "sigmoid", LossInfo("binary_crossentropy")),  # multi-label
        (1, "linear", LossInfo("mean_squared_error")),
        (1, "relu", LossInfo("mean_squared_error")),
        (10, None, LossInfo("categorical_crossentropy")),  # unknown (a custom layer) is not linear
    ],
)
def test_output_activation_loss_mismatch_quiet_on_good_pairs(units, activation, loss):
    assert OutputActivationLossMismatch().on_train_begin(run_info(units, activation, loss)) == []


# -- label_output_mismatch ----------------------------------------------------------------

def test_label_output_mismatch_fires_on_class_ids_beyond_the_units():
    [[finding]] = batches(LabelOutputMismatch(), [x_and_y(0, 10)])
    assert "up to 10" in finding.explanation and "Dense(11" in finding.snippet


def test_label_output_mismatch_quiet_on_class_ids_within_the_units():
    assert batches(LabelOutputMismatch(), [x_and_y(0, 9)]) == [[]]


def test_label_output_mismatch_fires_on_class_ids_with_categorical_loss():
    run = run_info(loss=LossInfo("categorical_crossentropy"))
    [[finding]] = batches(LabelOutputMismatch(), [x_and_y(0, 9)], run)
    assert "sparse_categorical_crossentropy" in finding.snippet


def test_label_output_mismatch_quiet_on_one_hot_with_categorical_loss():
    run = run_info(loss=LossInfo("categorical_crossentropy"))
    assert batches(LabelOutputMismatch(), [x_and_y(0, 1, y_count=320)], run) == [[]]


def test_label_output_mismatch_fires_on_one_hot_with_sparse_loss():
    [[finding]] = batches(LabelOutputMismatch(), [x_and_y(0, 1, y_count=320)])
    assert "one-hot" in finding.explanation


def test_label_output_mismatch_binary_labels_outside_zero_one():
    run = run_info(1, "sigmoid", LossInfo("binary_crossentropy"))
    [[finding]] = batches(LabelOutputMismatch(), [x_and_y(0, 9)], run)
    assert "between 0 and 1" in finding.explanation
    assert batches(LabelOutputMismatch(), [x_and_y(0, 1)], run) == [[]]


def test_label_output_mismatch_regression_loss_on_class_ids():
    def tracking_accuracy(obs):
        return dataclasses.replace(obs, logs={**obs.logs, "accuracy": 0.1})

    for run in (run_info(10, "softmax", LossInfo("mean_squared_error")),
                run_info(1, "linear", LossInfo("mean_squared_error"))):
        [[finding]] = batches(LabelOutputMismatch(), [tracking_accuracy(x_and_y(0, 9))], run)
        assert finding.severity == Severity.WARNING and finding.confidence.value == "low"
    regression = run_info(1, "linear", LossInfo("mean_squared_error"))
    assert batches(LabelOutputMismatch(), [x_and_y(0, 250)], regression) == [[]]  # counts, not classes
    assert batches(LabelOutputMismatch(), [x_and_y(0.1, 9.7, integral=False)], regression) == [[]]


def test_whole_number_targets_of_a_regression_without_accuracy_are_advice_only():
    """Counts or 1-5 ratings regressed with MSE (metrics=["mae"]) are legitimate: info, not a warning."""
    regression = run_info(1, "linear", LossInfo("mean_squared_error"))
    ratings = dataclasses.replace(x_and_y(1, 5), logs={"loss": 1.0, "mae": 0.8})
    [[finding]] = batches(LabelOutputMismatch(), [ratings], regression)
    assert finding.severity == Severity.INFO and "counts, ratings" in finding.explanation


# -- learning_rate_unusual ------------------------------------------------------------------

@pytest.mark.parametrize("optimizer, lr", [("Adam", 10.0), ("Adam", 1e10), ("SGD", 5.0), ("RMSprop", 1e-8)])
def test_learning_rate_unusual_fires_outside_the_range(optimizer, lr):
    [finding] = LearningRateUnusual().on_train_begin(run_info(optimizer=optimizer, learning_rate=lr))
    assert f"{lr:g}" in finding.explanation and "learning_rate=" in finding.snippet


@pytest.mark.parametrize("lr, momentum, fires", [(0.1, 0.99, True), (0.05, 0.99, True), (0.1, 0.9, False),
                                                 (0.01, 0.99, False), (0.2, 0.0, False)])
def test_learning_rate_unusual_counts_sgd_momentum(lr, momentum, fires):
    findings = LearningRateUnusual().on_train_begin(run_info(optimizer="SGD", learning_rate=lr, momentum=momentum))
    assert bool(findings) == fires
    if fires:
        [finding] = findings
        assert f"{lr / (1 - momentum):.3g}" in finding.explanation and "momentum=0.9" in finding.snippet


@pytest.mark.parametrize("optimizer, lr", [("Adam", 1e-3), ("Adam", 1e-2), ("SGD", 0.1), ("SGD", 1.0), ("Foo", 99.0)])
def test_learning_rate_unusual_quiet_inside_the_range(optimizer, lr):
    assert not LearningRateUnusual().on_train_begin(run_info(optimizer=optimizer, learning_rate=lr))


def test_learning_rate_unusual_judges_a_schedule_by_its_peak():
    """A warm-up starts at 0 and a decay ends near 0, on purpose: the peak is what matters."""
    warm_up = run_info(learning_rate=0.0, peak_learning_rate=2e-3)
    assert LearningRateUnusual().on_train_begin(warm_up) == []
    [finding] = LearningRateUnusual().on_train_begin(run_info(learning_rate=0.0, peak_learning_rate=0.5))
    assert "schedule peaks at 0.5, above Adam's usual range" in finding.explanation
    [finding] = LearningRateUnusual().on_train_begin(run_info(learning_rate=10.0, peak_learning_rate=10.0))
    assert "The learning rate is 10, above" in finding.explanation


def test_a_rate_lowered_during_training_is_no_alarm():
    """ReduceLROnPlateau and decays take the rate below the usual range late in training."""
    results = epochs(LearningRateUnusual(), [{"loss": 1.0, "learning_rate": lr} for lr in (1e-3, 1e-6, 1e-8)])
    assert not any(results)


def test_learning_rate_unusual_reads_a_schedule_once():
    check = LearningRateUnusual()
    results = epochs(check, [{"loss": 1.0, "learning_rate": lr} for lr in (1e-3, 5.0, 1e-3, 5.0)])
    assert [bool(r) for r in results] == [False, True, False, False]


# -- no_trainable_weights, batch_memory_risk ------------------------------------------------

def test_no_trainable_weights():
    [finding] = NoTrainableWeights().on_train_begin(run_info(trainable_params=0, total_params=500))
    assert NoTrainableWeights.severity == Severity.ERROR and "500 parameters" in finding.explanation
    assert NoTrainableWeights().on_train_begin(run_info(trainable_params=1)) == []


def test_batch_memory_risk_by_share_of_device_memory():
    big = run_info(activations_per_sample=10_000_000, device_memory=8 * 1024**3)  # 32 x 1e7 x 8 B = 2.6 GB
    assert batches(BatchMemoryRisk(), [x_and_y(0, 9)], big) == [[]]
    huge = run_info(activations_per_sample=20_000_000, device_memory=8 * 1024**3)  # 5.1 GB: 64%
    [[finding]] = batches(BatchMemoryRisk(), [x_and_y(0, 9)], huge)
    assert finding.severity == Severity.INFO and "batch size 32" in finding.explanation
    worse = run_info(activations_per_sample=30_000_000, device_memory=8 * 1024**3)  # 7.7 GB: 96%
    [[finding]] = batches(BatchMemoryRisk(), [x_and_y(0, 9)], worse)
    assert finding.severity == Severity.WARNING and "batch_size=" in finding.snippet


def test_batch_memory_risk_quiet_when_memory_unknown():
    assert batches(BatchMemoryRisk(), [x_and_y(0, 9)], run_info(device_memory=None)) == [None]


# -- input_contains_nan, class_imbalance, data_not_shuffled ----------------------------------

def test_input_contains_nan_names_the_tensor_and_counts():
    obs = BatchObservation(4, 0, {}, (stats(0, 1, 0.5, 0.3, nonfinite=3, nonfinite_total=9),))
    [[finding]] = batches(InputContainsNan(), [obs])
    assert "'x' held 9" in finding.explanation and finding.key == "x"
    assert batches(InputContainsNan(), [BatchObservation(4, 0, {}, (stats(0, 1, 0.5, 0.3),))]) == [[]]


def label_counts_batch(counts: tuple[int, ...]) -> BatchObservation:
    x = stats(0, 1, 0.5, 0.3, count=32 * 64)
    y = stats(0, len(counts) - 1, 0.5, 0.3, name="y", role="target", count=sum(counts), integral=True,
              class_counts=counts)
    return BatchObservation(0, 0, {}, (x, y))


def test_class_imbalance_fires_after_enough_labels():
    results = batches(ClassImbalance(), [label_counts_batch((31, 1))] * 20)
    assert results[14] is None and results[15] and "97%" in results[15][0].explanation
    assert results[15][0].evidence["majority_class"] == 0


def test_class_imbalance_counts_many_classes():
    skewed = label_counts_batch((1, 0, 0, 29, 1, 1))  # 91% class 3 of 6
    [finding] = batches(ClassImbalance(), [skewed] * 20)[-1]
    assert finding.evidence["majority_class"] == 3 and finding.evidence["classes_seen"] == 4
    assert "class 3" in finding.explanation


def test_class_imbalance_quiet_on_mild_imbalance_and_without_class_counts():
    assert not any(batches(ClassImbalance(), [label_counts_batch((26, 6))] * 20))  # 81%
    assert not any(batches(ClassImbalance(), [label_counts_batch((4,) * 8)] * 20))
    regression = x_and_y(0, 1, y_count=320)  # no class counts: not class labels
    assert batches(ClassImbalance(), [regression] * 20) == [None] * 20
    counts = run_info(1, None, LossInfo("mean_squared_error"))  # mostly-zero integer counts, regressed
    assert batches(ClassImbalance(), [label_counts_batch((29, 3))] * 20, counts) == [None] * 20


def label_batch(value: float | None) -> BatchObservation:
    x = stats(0, 1, 0.5, 0.3, count=32 * 64)
    single = value is not None
    y = stats(0, 9, value if single else 4.5, 0.0 if single else 2.9, name="y", role="target", count=32,
              integral=True, feature_std=0.0 if single else 2.9)
    return BatchObservation(0, 0, {}, (x, y))


def test_data_not_shuffled_fires_on_single_label_batches():
    results = batches(DataNotShuffled(), [label_batch(v) for v in (0, 0, 0, 1, 1, 1, 2, 2, 2, 3)])
    assert results[-1] and "100%" in results[-1][0].explanation


def test_data_not_shuffled_quiet_on_mixed_batches_and_on_one_class():
    assert not any(batches(DataNotShuffled(), [label_batch(None)] * 10))
    assert batches(DataNotShuffled(), [label_batch(0)] * 10)[-1] == []


# -- loss_diverging ----------------------------------------------------------------------------

def loss_batches(losses):
    return [BatchObservation(i, 0, {"loss": v}) for i, v in enumerate(losses)]


def test_loss_diverging_fires_after_a_streak_and_errors_far_above():
    results = batches(LossDiverging(), loss_batches([2.3, 2.0, 30, 40, 50, 60]))
    assert [bool(r) for r in results] == [False, False, False, False, True, True]
    [[finding]] = batches(LossDiverging(), loss_batches([2.3, 1e5]))[1:]
    assert finding.severity == Severity.ERROR


def test_loss_diverging_quiet_on_a_noisy_spike_and_nan():
    assert not any(batches(LossDiverging(), loss_batches([2.3, 2.0, 30, 1.5, 25, 1.2])))
    assert batches(LossDiverging(), loss_batches([2.3, math.nan]))[1] is None


def test_loss_diverging_names_an_initialisation_that_starts_at_the_ceiling():
    # JAX and PyTorch clip the probabilities: an exploding initialisation sits at the
    # cross-entropy's ceiling from the first step (gradients vanish), never NaN.
    results = batches(LossDiverging(), loss_batches([14.66] * 4))
    assert [bool(r) for r in results] == [False, False, True, True]
    finding = results[2][0]
    assert finding.severity == Severity.WARNING and "started there" in finding.explanation
    assert finding.title == "Loss at its ceiling from the start"
    assert "2.3" in finding.explanation and "he_normal" in finding.snippet
    # a loss that starts merely high (a hard problem, 3x chance) is not that
    assert not any(batches(LossDiverging(), loss_batches([6.5] * 6)))


def test_loss_diverging_uses_ln_k_for_a_low_first_loss():
    # a first batch that happens to be easy does not make ordinary losses look diverging
    results = batches(LossDiverging(), loss_batches([0.05, 0.6, 0.7, 0.8, 0.9]))
    assert not any(results)


# -- loss_not_decreasing, loss_oscillating ---------------------------------------------------

def test_loss_not_decreasing_fires_on_a_flat_loss():
    # Epochs of 10 steps: judged once 50 steps lie before a window of 50 steps (issue 17:
    # progress is counted in optimizer steps, not epochs).
    results = epochs(LossNotDecreasing(), [{"loss": v} for v in (2.30, 2.29) * 5])
    assert [bool(r) for r in results] == [False] * 9 + [True]
    assert results[-1][0].evidence["window_steps"] == 50


def test_loss_not_decreasing_quiet_when_learning_or_converged():
    assert not any(epochs(LossNotDecreasing(), [{"loss": v} for v in (2.3, 1.9, 1.6, 1.4, 1.25, 1.1)]))
    # learned, then levelled off: converging, not stuck
    assert not any(epochs(LossNotDecreasing(), [{"loss": v} for v in (2.3, 0.5, 0.2, 0.2, 0.2, 0.2)]))


def test_loss_oscillating_fires_on_a_zig_zag_without_progress():
    results = epochs(LossOscillating(), [{"loss": v} for v in (1.0, 1.4, 0.9, 1.5, 0.95, 1.45)])
    assert results[-1] and "changed direction 4 times" in results[-1][0].explanation
    # the benchmark's SGD with momentum 0.99: swings on a rising trend
    rising = (1.30, 0.73, 0.69, 0.51, 0.64, 0.88, 0.73, 0.94, 1.01, 1.26)
    assert epochs(LossOscillating(), [{"loss": v} for v in rising])[-1]


def test_loss_oscillating_quiet_when_the_zig_zag_goes_down():
    assert not any(epochs(LossOscillating(), [{"loss": v} for v in (1.0, 1.1, 0.8, 0.85, 0.6, 0.65)]))
    assert not any(epochs(LossOscillating(), [{"loss": v} for v in (1.0, 1.01, 0.99, 1.0, 0.995, 1.0)]))
    converged = (0.20, 0.19, 0.195, 0.185, 0.19, 0.18, 0.186)
    assert not any(epochs(LossOscillating(), [{"loss": v} for v in converged]))


# -- train_val_mismatch, accuracy_at_chance ----------------------------------------------------

def acc_rows(acc, val_acc, loss, val_loss):
    return [{"accuracy": a, "val_accuracy": va, "loss": lo, "val_loss": vl}
            for a, va, lo, vl in zip(acc, val_acc, loss, val_loss, strict=True)]


def test_train_val_mismatch_fires_when_validation_never_improves():
    rows = acc_rows([0.34, 0.71, 0.89], [0.0, 0.01, 0.01], [2.1, 1.6, 1.2], [3.0, 3.8, 4.5])
    assert epochs(TrainValMismatch(), rows)[-1][0].key == "worse"


@pytest.mark.parametrize(("last_step", "note"), [(159, "still hold 20% of their starting values"), (999, None)])
def test_train_val_mismatch_names_unsettled_batch_normalization(last_step, note):
    """BatchNormalization validates on moving averages that, after few steps, still lean on their start."""
    history = History(run_info(batch_norm_momentum=0.99))
    history.add_batch(BatchObservation(last_step, 2, {"loss": 1.2}))
    rows = acc_rows([0.34, 0.71, 0.89], [0.2, 0.21, 0.21], [2.1, 1.6, 1.2], [3.0, 3.8, 4.5])
    finding = epochs(TrainValMismatch(), rows, history=history)[-1][0]
    explanation = finding.explanation
    if note:  # named as the likely cause first (issue 17), the fix in the snippet
        assert note in explanation and f"({last_step + 1} training steps)" in explanation
        assert "momentum=0.9" in finding.snippet
    else:
        assert "BatchNormalization" not in explanation


@pytest.mark.parametrize("momentum", [1e308, 1.0, float("nan"), -0.5])
def test_train_val_mismatch_ignores_a_momentum_out_of_range(momentum):
    history = History(run_info(batch_norm_momentum=momentum))
    history.add_batch(BatchObservation(159, 2, {"loss": 1.2}))
    rows = acc_rows([0.34, 0.71, 0.89], [0.2, 0.21, 0.21], [2.1, 1.6, 1.2], [3.0, 3.8, 4.5])
    assert "BatchNormalization" not in epochs(TrainValMismatch(), rows, history=history)[-1][0].explanation


def test_train_val_mismatch_quiet_on_ordinary_and_overfitting_runs():
    healthy = acc_rows([0.5, 0.8, 0.9], [0.7, 0.85, 0.9], [1.5, 0.7, 0.4], [1.0, 0.6, 0.4])
    assert not any(epochs(TrainValMismatch(), healthy))
    early_overfit = acc_rows([0.6, 0.9, 0.99], [0.6, 0.62, 0.6], [1.2, 0.4, 0.1], [1.3, 1.2, 1.4])
    assert not any(epochs(TrainValMismatch(), early_overfit))


def test_train_val_mismatch_suspiciously_better_only_once_training_settles():
    leak = acc_rows([0.3, 0.5, 0.6, 0.62, 0.63, 0.64], [0.8, 0.9, 0.95, 0.96, 0.97, 0.97], [1.0] * 6, [0.5] * 6)
    results = epochs(TrainValMismatch(), leak)
    assert results[-1] and results[-1][0].key == "better"
    dropout = acc_rows([0.3, 0.6, 0.8, 0.86, 0.88, 0.89], [0.8, 0.9, 0.93, 0.94, 0.95, 0.95], [1.0] * 6, [0.5] * 6)
    assert not any(epochs(TrainValMismatch(), dropout))


def test_accuracy_at_chance_for_ten_classes():
    # Epochs of 10 steps: judged from 100 optimizer steps on (issue 17), while not climbing.
    rows = [{"loss": 2.3, "accuracy": a} for a in (0.1, 0.11, 0.12, 0.11) * 3]
    results = epochs(AccuracyAtChance(), rows)
    assert [bool(r) for r in results] == [False] * 9 + [True] * 3
    learning = [{"loss": 2.0, "accuracy": a} for a in (0.1, 0.3, 0.5)]
    assert not any(epochs(AccuracyAtChance(), learning))


def test_accuracy_at_chance_spares_a_slow_learner_whose_loss_falls_every_epoch():
    """The PyTorch backend's healthy sweep: a small CNN on 4 classes, 26 steps an epoch.

    Its accuracy fell back near chance in the 4th epoch while its loss kept creeping down
    (1.3% in the last epoch, 4.3% over 4), its validation loss too: it was learning,
    slowly. A loss that barely moves is still reported, and so is a training loss creeping
    down alone, as random labels being memorised give.
    """
    from tensorboard_plugin_scram.engine import Engine
    from tensorboard_plugin_scram.observations import EpochObservation, LossInfo, OutputInfo, RunInfo

    def run(losses: list[float], val_losses: list[float]) -> list:
        engine = Engine([AccuracyAtChance()])
        engine.begin(RunInfo(losses=(LossInfo("sparse_categorical_crossentropy"),),
                             outputs=(OutputInfo("out", 4, "softmax"),)), 0)
        found = []
        accuracies = [0.3101, 0.3602, 0.3858, 0.3175]
        for epoch, row in enumerate(zip(losses, val_losses, accuracies, strict=True)):
            logs = dict(zip(("loss", "val_loss", "accuracy"), row, strict=True))
            found += engine.epoch(EpochObservation(epoch * 26 + 25, epoch, logs))
        return [d for d in found if d.check == "accuracy_at_chance"]

    slow = [1.3767, 1.3598, 1.3354, 1.3178]
    assert run(slow, [1.366, 1.3482, 1.3243, 1.2884]) == []
    assert len(run([1.3863, 1.3850, 1.3840, 1.3832], [1.3862, 1.3860, 1.3859, 1.3858])) == 1
    assert len(run(slow, [1.3866, 1.3871, 1.3880, 1.3902])) == 1  # memorising


def test_accuracy_at_chance_names_accuracy_under_a_regression_loss_the_wrong_metric():
    run = run_info(1, "linear", LossInfo("mean_squared_error"))
    [finding] = epochs(AccuracyAtChance(), [{"loss": 3.0, "accuracy": 0.0}], run=run)[0]
    assert finding.title == "Accuracy tracked on a regression task"
    assert not epochs(AccuracyAtChance(), [{"loss": 3.0, "accuracy": 0.4}], run=run)[0]  # it means something
    class_ids = run_info(1, "linear", LossInfo("mean_squared_error"), label_counts={"y": (50, 50, 50)})
    assert not epochs(AccuracyAtChance(), [{"loss": 3.0, "accuracy": 0.0}], run=class_ids)[0]  # label_output_mismatch's


def test_accuracy_at_chance_uses_the_majority_share_for_binary_labels():
    run = run_info(1, "sigmoid", LossInfo("binary_crossentropy"))
    history = History(run)
    x = stats(0, 1, 0.5, 0.3, count=32 * 64)
    y = stats(0, 1, 0.9, 0.3, name="y", role="target", count=32, integral=True, class_counts=(3, 29))
    history.add_batch(BatchObservation(0, 0, {}, (x, y)))
    rows = [{"loss": 0.3, "accuracy": 0.9}] * 10  # 100 steps: judged (issue 17)
    assert epochs(AccuracyAtChance(), rows, history=history)[-1]
    assert not epochs(AccuracyAtChance(), [{"loss": 0.3, "accuracy": 0.97}] * 10, history=History(run))[-1]


def test_learning_checks_stay_quiet_on_nan_loss():
    nan_rows = [{"loss": math.nan, "accuracy": 0.1, "val_loss": math.nan, "val_accuracy": 0.1}] * 6
    for check in (AccuracyAtChance(), LossNotDecreasing(), LossOscillating(), TrainValMismatch()):
        assert not any(epochs(check, nan_rows)), check.id


def test_validation_better_than_a_training_accuracy_its_own_loss_rules_out_is_not_blamed_on_the_data():
    """Training accuracy 0.09 with a cross-entropy of 0.09 cannot be: the metric counts other positions."""
    from tensorboard_plugin_scram.checks.train_val_mismatch import TrainValMismatch
    from tensorboard_plugin_scram.engine import Engine
    from tensorboard_plugin_scram.observations import EpochObservation, LossInfo, OutputInfo, RunInfo

    def better_run(train_accuracy: float, losses: list[float]) -> list:
        engine = Engine([TrainValMismatch()])
        engine.begin(RunInfo(losses=(LossInfo("sparse_categorical_crossentropy"),),
                             outputs=(OutputInfo("tags", 5, "softmax"),)), 0)
        found = []
        for epoch, loss in enumerate(losses):
            logs = {"loss": loss, "accuracy": train_accuracy, "val_loss": loss * 0.7, "val_accuracy": 1.0}
            found += engine.epoch(EpochObservation(epoch * 20 + 19, epoch, logs))
        return [d for d in found if d.check == "train_val_mismatch"]

    contradicted = better_run(0.094, [1.56, 1.39, 1.13, 0.69, 0.27, 0.089])
    plausible = better_run(0.5, [1.0, 0.9, 0.85, 0.8, 0.78, 0.77])  # 2 exp(-0.77) - 1 = -0.07: no contradiction
    assert contradicted == [] and len(plausible) == 1


def test_a_tiny_loss_with_accuracy_at_chance_under_a_mask_does_not_blame_the_labels():
    """Masked sequence labels: the loss skips the padding, Keras' training accuracy on JAX does not."""
    from tensorboard_plugin_scram.checks.accuracy_at_chance import AccuracyAtChance
    from tensorboard_plugin_scram.engine import Engine
    from tensorboard_plugin_scram.observations import EpochObservation, LossInfo, OutputInfo, RunInfo

    def run(masked: bool) -> list:
        engine = Engine([AccuracyAtChance()])
        engine.begin(RunInfo(losses=(LossInfo("sparse_categorical_crossentropy"),),
                             outputs=(OutputInfo("tags", 5, "softmax"),), masked_output=masked), 0)
        found = []
        for epoch, loss in enumerate([1.5, 0.6, 0.05, 0.02]):
            found += engine.epoch(EpochObservation(epoch * 50 + 49, epoch, {"loss": loss, "accuracy": 0.09}))
        return [d for d in found if d.check == "accuracy_at_chance"]

    assert run(masked=True) == []
    assert [d.title for d in run(masked=False)] == ["Loss near zero but accuracy at chance"]
