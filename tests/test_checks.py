"""Each built-in check on hand-built observations: fires, and stays quiet on its near miss."""

from __future__ import annotations

import dataclasses

import pytest

from tensorboard_plugin_scram.checks import (
    BatchObservation,
    EpochObservation,
    History,
    RunInfo,
)
from tensorboard_plugin_scram.checks.input_not_normalized import InputNotNormalized
from tensorboard_plugin_scram.checks.nan_loss import NanLoss
from tensorboard_plugin_scram.checks.overfitting import Overfitting, jitter
from tensorboard_plugin_scram.diagnostic import Severity
from tensorboard_plugin_scram.observations import EarlyStoppingInfo
from tests.builders import epochs as epoch_results
from tests.builders import stats

NAN, INF = float("nan"), float("inf")


def batch_findings(check, obs: BatchObservation, run: RunInfo | None = None):
    history = History(run)
    history.add_batch(obs)
    return check.on_batch(obs, history)


# -- nan_loss ---------------------------------------------------------------------------

@pytest.mark.parametrize("loss", [NAN, INF, -INF])
def test_nan_loss_fires_on_non_finite_loss(loss):
    run = RunInfo(optimizer="Adam", learning_rate=10.0)
    [finding] = batch_findings(NanLoss(), BatchObservation(312, 1, {"loss": loss}), run)
    assert "step 312" in finding.explanation
    assert "10 is far above Adam's usual range [1e-05, 0.01]" in finding.explanation
    assert "learning_rate=0.001" in finding.snippet


def test_nan_loss_quiet_on_huge_but_finite_loss():
    assert list(batch_findings(NanLoss(), BatchObservation(0, 0, {"loss": 1e30}))) == []


def test_nan_loss_has_no_opinion_without_a_loss():
    assert batch_findings(NanLoss(), BatchObservation(0, 0, {"accuracy": 0.5})) is None


def test_nan_loss_blames_the_data_when_inputs_held_nan():
    obs = BatchObservation(3, 0, {"loss": NAN}, (stats(0, 1, 0.5, 0.3, nonfinite=2, nonfinite_total=7),))
    [finding] = batch_findings(NanLoss(), obs, RunInfo(optimizer="Adam", learning_rate=1e-3))
    assert "7 in 'x'" in finding.explanation
    assert finding.evidence["nonfinite_values"] == {"x": 7}


def test_nan_val_loss_reported_only_beside_finite_training_loss():
    check = NanLoss()
    history = History()
    assert check.on_epoch(EpochObservation(9, 0, {"loss": NAN, "val_loss": NAN}), history) is None
    [finding] = check.on_epoch(EpochObservation(9, 0, {"loss": 0.3, "val_loss": NAN}), history)
    assert finding.key == "val_loss" and "validation loss" in finding.explanation


# -- input_not_normalized ----------------------------------------------------------------

@pytest.mark.parametrize(
    "tensor",
    [
        stats(0, 255, 120, 70),                            # image pixels
        stats(0, 16, 5.1, 6.1, integral=True),             # sklearn digits
        stats(-3000, 9000, 2500, 2000),                    # features in the thousands
        stats(0, 16, 5.1, 6.1, integral=True, name="tokens"),  # integers that do not feed an Embedding
    ],
)
def test_input_not_normalized_fires_on_raw_scales(tensor):
    [finding] = batch_findings(InputNotNormalized(), BatchObservation(0, 0, {}, (tensor,)))
    assert f"from {tensor.min:g} to {tensor.max:g}" in finding.explanation
    assert finding.key == tensor.name


@pytest.mark.parametrize(
    "tensor",
    [
        stats(0, 1, 0.4, 0.3),                             # scaled to [0, 1]
        stats(-1, 1, 0.0, 0.5),                            # scaled to [-1, 1]
        stats(-4.2, 11.7, 0.05, 1.0),                      # z-scored with outliers (the paper's false alarm)
        stats(-2.1, 2.6, 0.3, 1.2, feature_mean_abs=0.1),  # per-channel standardised images
        stats(0, 4.9, 2.5, 1.4),                           # small raw range: below raw_limit
        stats(0, 9999, 40, 300, integral=True, feeds_embedding=True),  # token ids
    ],
)
def test_input_not_normalized_quiet_on_normalized_data(tensor):
    assert list(batch_findings(InputNotNormalized(), BatchObservation(0, 0, {}, (tensor,)))) == []


def test_input_not_normalized_snippet_fits_pixels():
    [finding] = batch_findings(InputNotNormalized(), BatchObservation(0, 0, {}, (stats(0, 255, 120, 70),)))
    assert "/ 255.0" in finding.snippet


def test_input_not_normalized_snippet_standardises_signed_data():
    [finding] = batch_findings(InputNotNormalized(), BatchObservation(0, 0, {}, (stats(-3000, 9000, 2500, 2000),)))
    assert "Normalization" in finding.snippet


def test_input_not_normalized_has_no_opinion_on_unsampled_batches():
    assert batch_findings(InputNotNormalized(), BatchObservation(5, 0, {"loss": 1.0}, None)) is None


def test_input_not_normalized_threshold_is_configurable():
    check = InputNotNormalized(raw_limit=20.0)
    assert list(batch_findings(check, BatchObservation(0, 0, {}, (stats(0, 16, 5.1, 6.1),)))) == []


# -- overfitting -------------------------------------------------------------------------

def run_epochs(check, rows: list[dict]):
    return epoch_results(check, rows, history=History())  # a history without RunInfo


def epochs(loss, val_loss, acc=None, val_acc=None) -> list[dict]:
    rows = [{"loss": lo, "val_loss": v} for lo, v in zip(loss, val_loss, strict=True)]
    if acc is not None:
        for row, a, va in zip(rows, acc, val_acc, strict=True):
            row.update(accuracy=a, val_accuracy=va)
    return rows


def test_overfitting_fires_when_val_loss_rises_as_train_loss_falls():
    results = run_epochs(Overfitting(), epochs([1.0, 0.8, 0.6, 0.4, 0.3], [1.0, 0.9, 0.95, 1.0, 1.1]))
    assert [bool(r) for r in results] == [False, False, False, True, True]
    assert "validation loss rose" in results[3][0].explanation


def test_overfitting_fires_on_the_papers_accuracy_rule():
    rows = epochs([1.0, 0.9, 0.85, 0.84], [1.0, 0.95, 0.951, 0.952], [0.6, 0.7, 0.75, 0.8], [0.6, 0.65, 0.64, 0.63])
    results = run_epochs(Overfitting(), rows)
    assert results[-1] and "validation accuracy fell" in results[-1][0].explanation


def test_overfitting_accuracy_rule_ignores_tiny_drops_while_val_loss_improves():
    # the benchmark's random-labels false alarm: accuracy -0.005 while both losses improve
    rows = epochs([1.451, 1.426, 1.411], [1.440, 1.421, 1.409], [0.254, 0.260, 0.257], [0.273, 0.271, 0.268])
    assert not any(run_epochs(Overfitting(), rows))


def test_overfitting_accuracy_rule_quiet_while_validation_loss_stays_below_where_the_drop_began():
    # Keras' PyTorch backend, conv1d_text seed 2 (800 validation samples): accuracy 0.9075 ->
    # 0.905 -> 0.8925 (12 samples) while the validation loss went 0.291 -> 0.241 -> 0.254
    # (training accuracy 0.838 -> 0.954; its middle value here is made up).
    rows = epochs([0.6862, 0.4933, 0.2245, 0.1512], [0.665, 0.2914, 0.241, 0.2535],
                  [0.58, 0.8381, 0.9281, 0.9544], [0.7337, 0.9075, 0.905, 0.8925])
    assert not any(run_epochs(Overfitting(), rows))
    rows[-1]["val_loss"] = 0.30  # the same fall with the validation loss above where it began
    assert run_epochs(Overfitting(), rows)[-1]


def test_overfitting_accuracy_rule_quiet_on_a_swinging_run():
    # The zoo's momentum_too_high (SGD 0.1, momentum 0.99) on Keras' JAX backend, epochs 2-4:
    # training accuracy rose and validation accuracy fell, but the training loss swung up
    # by 15% meanwhile: an unstable run, not a memorising one.
    rows = epochs([1.1464, 0.9413, 0.9087, 1.049, 0.7823], [0.9337, 0.7465, 0.8611, 0.9475, 1.6395],
                  [0.6347, 0.7801, 0.8316, 0.8566, 0.8768], [0.7861, 0.8028, 0.8639, 0.8167, 0.7917])
    assert not any(run_epochs(Overfitting(), rows))
    rows[3]["loss"] = 0.85  # the same accuracies with the training loss falling throughout
    assert "validation accuracy fell" in run_epochs(Overfitting(), rows)[-1][0].explanation


def test_overfitting_quiet_on_noisy_but_improving_validation():
    rows = epochs([1.0, 0.8, 0.7, 0.6, 0.5, 0.45], [1.0, 0.85, 0.87, 0.8, 0.82, 0.78])
    assert not any(run_epochs(Overfitting(), rows)[2:])


# Real runs of the healthy sweep's adamw_big_batch, seed 1 (360 validation samples). On JAX the
# validation loss zigzags by about 0.02 while it keeps improving to its best at the end; on
# Keras' PyTorch backend it levels off for three epochs (0.0555, 0.0567, 0.0603, within its
# zigzag) and then reaches new bests (0.0438), the falling training loss widening the gap.
_ZIGZAG_TRAIN = [1.9974, 1.1026, 0.5169, 0.2999, 0.2139, 0.1674, 0.1333, 0.1184, 0.1138, 0.0981, 0.0842,
                 0.0655, 0.0591, 0.0512, 0.0467, 0.0451, 0.0416, 0.0384, 0.0339, 0.0293]
_ZIGZAG_VAL = [1.4188, 0.6518, 0.3386, 0.2442, 0.1828, 0.1273, 0.1071, 0.1296, 0.0838, 0.0965, 0.0974,
               0.0733, 0.0824, 0.064, 0.0591, 0.0679, 0.0511, 0.0525, 0.0537, 0.0435]
_LEVELLING_TRAIN = [2.0102, 1.1094, 0.4941, 0.2674, 0.1808, 0.1496, 0.1306, 0.0971, 0.0815, 0.0707, 0.0612,
                    0.0556, 0.0487, 0.0436, 0.0407, 0.0355, 0.0312, 0.0286, 0.0268, 0.026]
_LEVELLING_VAL = [1.4914, 0.6699, 0.3215, 0.1909, 0.1512, 0.165, 0.0968, 0.0991, 0.0891, 0.0788, 0.0704,
                  0.0716, 0.0687, 0.0555, 0.0567, 0.0603, 0.0533, 0.0438, 0.062, 0.0453]


@pytest.mark.parametrize(("train", "val", "loud_at"), [
    (_ZIGZAG_TRAIN, _ZIGZAG_VAL, [10, 18]),  # two rises in a row within the zigzag
    (_LEVELLING_TRAIN, _LEVELLING_VAL, [15]),  # a gap widened by the training loss alone
], ids=["zigzag", "levelling_off"])
def test_overfitting_quiet_while_validation_moves_within_its_own_jitter(train, val, loud_at):
    assert not any(run_epochs(Overfitting(), epochs(train, val)))
    # The same run without the noise margin fires.
    loud = run_epochs(Overfitting(noise_multiple=0), epochs(train, val))
    assert [i for i, r in enumerate(loud) if r] == loud_at


def test_overfitting_still_fires_when_a_zigzag_turns_into_a_steady_rise():
    train = _ZIGZAG_TRAIN + [0.025, 0.021, 0.018, 0.015, 0.012]
    val = _ZIGZAG_VAL + [0.047, 0.056, 0.067, 0.079, 0.092]
    fired = [i for i, r in enumerate(run_epochs(Overfitting(), epochs(train, val))) if r]
    assert fired and fired[0] <= 22  # two epochs after the rise began


def test_overfitting_gap_rule_fires_once_validation_rises_beyond_its_jitter():
    train = _LEVELLING_TRAIN[:16] + [0.030, 0.026, 0.022]
    val = _LEVELLING_VAL[:16] + [0.068, 0.080, 0.095]  # validation climbs, well out of its zigzag
    fired = [i for i, r in enumerate(run_epochs(Overfitting(), epochs(train, val))) if r]
    assert fired and fired[0] <= 18


def test_overfitting_jitter_is_not_fooled_by_a_short_runs_slowing_fall():
    # A fall that slows steadily bends the curve without any noise; read as noise, it hid
    # this rise (0.50 -> 0.52 -> 0.56 while training kept falling) for another epoch.
    rows = epochs([0.9, 0.6, 0.4, 0.3, 0.2, 0.12], [1.0, 0.7, 0.55, 0.50, 0.52, 0.56])
    assert [bool(r) for r in run_epochs(Overfitting(), rows)] == [False] * 5 + [True]
    assert jitter([1.0, 0.725, 0.5, 0.325, 0.2, 0.125]) == pytest.approx(0.0, abs=1e-9)  # a parabola: no noise


def test_overfitting_jitter_of_a_zigzag_does_not_collapse():
    # Noise makes second differences alternate in sign (0.3, -0.3, 0.3 here): their median
    # distance from the median one is 0; from 0 it is not.
    assert jitter([1.0, 0.8, 0.9, 0.7, 0.8]) > 0.1


# Real runs: the integration test's overfitting MLP on TensorFlow (best validation loss at
# epoch 2, then a steady climb) and the PyTorch demo's quick large MLP (best at epoch 5,
# then a plateau about 0.03 above it with training loss near 0). A jitter that averaged the
# second differences counted the turn at the best epoch, and the first epochs' plunge, as
# noise: it reported the first two epochs late and the second not at all.
_TURN_TRAIN = [2.0608, 1.4711, 1.2261, 1.1032, 1.0248, 0.9675, 0.9074, 0.8596, 0.815, 0.7699]
_TURN_VAL = [1.7481, 1.3745, 1.2782, 1.292, 1.3086, 1.3144, 1.3348, 1.3513, 1.3694, 1.3875]
_PLATEAU_TRAIN = [1.9969, 0.9411, 0.3874, 0.2016, 0.1272, 0.0684, 0.0656, 0.0405, 0.0306, 0.021, 0.0143]
_PLATEAU_VAL = [1.5049, 0.7019, 0.475, 0.4074, 0.404, 0.3229, 0.3569, 0.3518, 0.3433, 0.3445, 0.3641]


@pytest.mark.parametrize(("train", "val", "first"), [(_TURN_TRAIN, _TURN_VAL, 6), (_PLATEAU_TRAIN, _PLATEAU_VAL, 10)],
                         ids=["turn", "plateau"])
def test_overfitting_jitter_does_not_count_one_sharp_turn_as_noise(train, val, first):
    fired = [i for i, r in enumerate(run_epochs(Overfitting(), epochs(train, val))) if r]
    assert fired and fired[0] == first


_RISING = ([1.0, 0.8, 0.6, 0.4, 0.3], [1.0, 0.9, 0.95, 1.0, 1.1])  # fires at epochs 3 and 4


@pytest.mark.parametrize(("stopper", "severity", "advice", "snippet"), [
    (None, Severity.WARNING, "stop at the best epoch with EarlyStopping", "keras.layers.Dropout(0.3)"),
    (EarlyStoppingInfo("val_loss", restores_best=True, patience=3), Severity.INFO, "Nothing to fix",
     "keras.layers.Dropout(0.3)"),
    (EarlyStoppingInfo("val_loss", restores_best=False, patience=5), Severity.WARNING, "restore_best_weights=True",
     "EarlyStopping(monitor='val_loss', patience=5, restore_best_weights=True)"),
    (EarlyStoppingInfo("loss", restores_best=True, patience=3), Severity.WARNING, "watch the validation loss",
     'EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)'),
    (None, Severity.INFO, "Use the saved best epoch", "keras.models.load_model('best.keras')"),
    (EarlyStoppingInfo("val_loss", restores_best=False, patience=5), Severity.INFO, "Use the saved best epoch",
     "keras.models.load_model('best.keras')"),
], ids=["none", "restoring", "keeping_the_last", "watching_training", "checkpoint", "checkpoint_and_last"])
def test_overfitting_told_in_the_light_of_the_users_early_stopping(request, stopper, severity, advice, snippet):
    checkpoint = "best.keras" if "checkpoint" in request.node.callspec.id else None
    run = RunInfo(early_stopping=stopper, best_checkpoint=checkpoint)
    results = epoch_results(Overfitting(), epochs(*_RISING), run=run)
    [finding] = results[3]
    assert (finding.severity or Overfitting.severity) == severity
    assert advice in finding.suggestion
    assert snippet in finding.snippet


@pytest.mark.parametrize(("stopper", "checkpoint", "severity", "advice", "snippet"), [
    (None, None, Severity.WARNING, "Lightning's EarlyStopping callback", "weight_decay=1e-2"),
    (EarlyStoppingInfo("val_loss", restores_best=False, patience=3), None, Severity.WARNING,
     "ModelCheckpoint on the same quantity", "load_from_checkpoint(checkpoint.best_model_path)"),
    (EarlyStoppingInfo("val/acc", restores_best=False, patience=4), None, Severity.WARNING,
     "ModelCheckpoint on the same quantity", 'EarlyStopping(monitor="val/acc", mode="max", patience=4)'),
    (EarlyStoppingInfo("train_loss", restores_best=False, patience=3), None, Severity.WARNING,
     "watch the validation loss", 'ModelCheckpoint(monitor="val_loss", save_top_k=1)'),
    (EarlyStoppingInfo("val_loss", restores_best=False, patience=3), "ckpts", Severity.INFO,
     "Use the saved best epoch", "trainer.checkpoint_callback.best_model_path"),
], ids=["none", "keeping_the_last", "on_accuracy", "watching_training", "checkpoint"])
def test_overfitting_told_in_the_light_of_a_lightning_trainers_callbacks(stopper, checkpoint, severity, advice,
                                                                         snippet):
    # Lightning's EarlyStopping never restores the best weights: only a checkpoint keeps the best epoch.
    run = RunInfo(framework="pytorch", early_stopping=stopper, best_checkpoint=checkpoint)
    [finding] = epoch_results(Overfitting(), epochs(*_RISING), run=run)[3]
    assert (finding.severity or Overfitting.severity) == severity
    assert advice in finding.suggestion
    assert snippet in finding.snippet
    assert "restore_best_weights" not in finding.explanation + finding.suggestion + finding.snippet


# Validation best at epoch 2, then a zigzag above it that never rises twice in a row; training falls, with one
# step back that keeps the gap from widening steadily: no other rule fires.
_STOPPED = ([1.0, 0.8, 0.6, 0.5, 0.52, 0.45, 0.44], [1.0, 0.8, 0.70, 0.78, 0.72, 0.76, 0.74])


@pytest.mark.parametrize(("stopper", "fired"), [
    (None, []),
    (EarlyStoppingInfo("val_loss", restores_best=False, patience=3), [5]),  # the epoch it stops the run at
    (EarlyStoppingInfo("val_loss", restores_best=False, patience=4), [6]),
    (EarlyStoppingInfo("val_loss", restores_best=True, patience=3), []),  # it ends with the best weights
    (EarlyStoppingInfo("loss", restores_best=False, patience=3), []),  # watches training: never stops this
], ids=["none", "patience_3", "patience_4", "restoring", "on_training_loss"])
def test_overfitting_reported_when_the_users_early_stopping_ends_on_worse_weights(stopper, fired):
    results = epoch_results(Overfitting(), epochs(*_STOPPED), run=RunInfo(early_stopping=stopper))
    assert [i for i, r in enumerate(results) if r] == fired
    for index in fired:
        [finding] = results[index]
        assert finding.explanation.startswith("Since epoch 2, val_loss has not improved on its best (0.7)")
        assert "restore_best_weights=True" in finding.snippet


def test_overfitting_under_early_stopping_wants_a_worse_end_and_a_training_loss_that_fell():
    stopper = RunInfo(early_stopping=EarlyStoppingInfo("val_loss", restores_best=False, patience=3))
    train, val = _STOPPED
    level = val[:5] + [0.705]  # within 2% of its best: the weights kept are as good
    assert not any(epoch_results(Overfitting(), epochs(train[:6], level), run=stopper))
    unstable = train[:5] + [0.65]  # training got worse too: no memorising
    assert not any(epoch_results(Overfitting(), epochs(unstable, val[:6]), run=stopper))


def test_overfitting_under_early_stopping_on_an_accuracy():
    stopper = EarlyStoppingInfo("val_accuracy", restores_best=False, patience=3, higher_is_better=True)
    train, val = _STOPPED
    rows = epochs(train, val, [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9], [0.5, 0.6, 0.72, 0.70, 0.71, 0.69, 0.7])
    results = epoch_results(Overfitting(), rows, run=RunInfo(early_stopping=stopper))
    assert [i for i, r in enumerate(results) if r] == [5]
    assert "val_accuracy has not improved on its best (0.72)" in results[5][0].explanation


def test_overfitting_quiet_on_tiny_rise_below_min_rise():
    rows = epochs([1.0, 0.8, 0.6, 0.5], [0.500, 0.501, 0.502, 0.503])
    assert not any(run_epochs(Overfitting(), rows))


def test_overfitting_quiet_when_validation_beats_training_with_dropout():
    rows = epochs([1.0, 0.9, 0.8, 0.7, 0.6], [0.5, 0.45, 0.4, 0.38, 0.36])
    assert not any(run_epochs(Overfitting(), rows))


def test_overfitting_has_no_opinion_without_validation_data():
    rows = [{"loss": v} for v in (1.0, 0.8, 0.6, 0.4)]
    assert run_epochs(Overfitting(), rows) == [None] * 4


def test_overfitting_patience_is_configurable():
    rows = epochs([1.0, 0.8, 0.6, 0.4, 0.3], [1.0, 0.9, 0.95, 1.0, 1.1])
    results = run_epochs(Overfitting(patience=3), rows)
    assert not results[3] and results[4]


def test_unknown_threshold_is_refused():
    with pytest.raises(ValueError, match="no threshold 'patiense'"):
        Overfitting(patiense=3)


def test_findings_are_immutable():
    finding = run_epochs(Overfitting(), epochs([1.0, 0.8, 0.6, 0.4], [1.0, 0.9, 0.95, 1.0]))[-1][0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.title = "x"
