"""The model-internals checks on hand-built observations: each rule fires, and its near miss stays quiet."""

from __future__ import annotations

import dataclasses

import pytest

from tensorboard_plugin_scram.checks._layers import Streaks, nice_number
from tensorboard_plugin_scram.checks.constant_predictions import ConstantPredictions
from tensorboard_plugin_scram.checks.dead_relu import DeadRelu
from tensorboard_plugin_scram.checks.exploding_gradients import ExplodingGradients
from tensorboard_plugin_scram.checks.nan_loss import NanLoss
from tensorboard_plugin_scram.checks.saturated_activations import SaturatedActivations
from tensorboard_plugin_scram.checks.update_ratio_unusual import UpdateRatioUnusual
from tensorboard_plugin_scram.checks.vanishing_gradients import VanishingGradients
from tensorboard_plugin_scram.checks.weights_not_updating import WeightsNotUpdating
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import (
    BatchObservation,
    LayerStats,
    ModelStats,
    PredictionStats,
    RunInfo,
    TensorStats,
)

PREDICTIONS = PredictionStats(count=32, majority_share=0.2, predicted_classes=9, std=0.2)


def _layer(name="dense", **fields) -> LayerStats:
    values = {"kind": "Dense", "activation": "relu", "weight_norm": 8.0, "grad_norm": 0.8,
              "update_norm": 0.03, "update_steps": 1}
    values.update(fields)
    return LayerStats(name=name, **values)


def _obs(*layers: LayerStats, step=60, loss=1.0, predictions=PREDICTIONS) -> BatchObservation:
    return BatchObservation(step, 0, {"loss": loss}, None, ModelStats(tuple(layers), predictions))


def _history(learning_rate=1e-3, optimizer="Adam", target_std=None) -> History:
    history = History(RunInfo(optimizer=optimizer, learning_rate=learning_rate, compile_location="train.py:9"))
    if target_std is not None:
        history.last_tensors = (TensorStats("y", "target", 32, 0, 0, 0.0, 9.0, 4.0, target_std, 4.0,
                                            target_std, True),)
    return history


def _run(check, observations, history=None) -> list:
    """The findings of the last observation, after feeding the earlier ones."""
    history = history or _history()
    result = None
    for obs in observations:
        result = check.on_batch(obs, history)
    return list(result) if result is not None else None


def test_no_model_stats_keeps_episodes_open():
    plain = BatchObservation(3, 0, {"loss": 1.0})
    for check in (ConstantPredictions(), DeadRelu(), ExplodingGradients(), SaturatedActivations(),
                  UpdateRatioUnusual(), VanishingGradients(), WeightsNotUpdating()):
        assert check.on_batch(plain, _history()) is None, check.id


# -- dead_relu -----------------------------------------------------------------------


def test_dead_relu_fires_after_patience_per_layer():
    obs = _obs(_layer("a", dead_fraction=0.75, units=64), _layer("b", dead_fraction=0.2, units=64))
    assert _run(DeadRelu(), [obs]) == []
    findings = _run(DeadRelu(), [obs, obs])
    assert [f.key for f in findings] == ["a"]
    assert findings[0].evidence["dead_fraction"] == 0.75 and "75%" in findings[0].explanation
    assert findings[0].evidence["dead_share"] == 0.7 and findings[0].evidence["units"] == 64
    assert 'activation="leaky_relu"' in findings[0].snippet and "'a'" in findings[0].snippet


def test_dead_relu_near_miss_and_interrupted_streak_stay_quiet():
    dead, alive = _obs(_layer(dead_fraction=0.9)), _obs(_layer(dead_fraction=0.69))
    assert _run(DeadRelu(), [alive, alive]) == []
    assert _run(DeadRelu(), [dead, alive, dead]) == []


def test_dead_relu_leaves_the_half_that_healthy_layers_start_with():
    """About half the units of a layer fed by non-negative inputs are dead for a whole batch from the start."""
    healthy = _obs(_layer(dead_fraction=0.62, units=64))
    assert _run(DeadRelu(), [healthy, healthy]) == []


@pytest.mark.parametrize(("units", "quiet", "fires"), [(16, 13 / 16, 14 / 16), (8, 7 / 8, 1.0), (None, 0.69, 0.7)])
def test_dead_relu_asks_more_of_narrow_layers(units, quiet, fires):
    """With n units, chance alone moves the dead half by sqrt(n)/2 units: the bar is 3 of those above it."""
    for share, expected in ((quiet, 0), (fires, 1)):
        obs = _obs(_layer(dead_fraction=share, units=units))
        assert len(_run(DeadRelu(), [obs, obs])) == expected, (units, share)


def test_dead_relu_needs_a_batch_large_enough():
    small = dataclasses.replace(PREDICTIONS, count=8)
    obs = _obs(_layer(dead_fraction=1.0), predictions=small)
    assert _run(DeadRelu(), [obs, obs]) is None


def test_dead_relu_confidence_and_relu_layer_snippet():
    obs = _obs(_layer("act", kind="ReLU", dead_fraction=0.95, weight_norm=None, grad_norm=None))
    finding = _run(DeadRelu(), [obs, obs])[0]
    assert finding.confidence.value == "high" and "LeakyReLU" in finding.snippet


# -- saturated_activations -----------------------------------------------------------


def test_saturated_fires_on_hidden_sigmoid_and_names_raw_inputs():
    history = _history()
    history.last_tensors = (TensorStats("x", "input", 64, 0, 0, 0.0, 160.0, 30.0, 40.0, 30.0, 40.0, True),)
    obs = _obs(_layer("s", activation="sigmoid", saturated_fraction=0.6))
    finding = _run(SaturatedActivations(), [obs, obs], history)[0]
    assert finding.key == "s" and "below 0.01 or above 0.99" in finding.explanation
    assert "'x'" in finding.explanation and "BatchNormalization" in finding.snippet


def test_saturated_near_miss_and_unmeasured_layers_stay_quiet():
    near = _obs(_layer(activation="tanh", saturated_fraction=0.49), _layer("out", activation="sigmoid"))
    assert _run(SaturatedActivations(), [near, near]) == []


# -- vanishing_gradients -------------------------------------------------------------


def _stack(first_grad: float, last_grad: float = 0.5, activation="sigmoid") -> list[LayerStats]:
    return [_layer("first", activation=activation, grad_norm=first_grad),
            _layer("mid", activation=activation, grad_norm=(first_grad + last_grad) / 2),
            _layer("last", activation="softmax", grad_norm=last_grad)]


def test_vanishing_fires_on_ratio_with_confidence_by_depth():
    obs = _obs(*_stack(4e-4))
    finding = _run(VanishingGradients(), [obs, obs])[0]
    assert finding.evidence["ratio"] == pytest.approx(8e-4) and finding.confidence.value == "medium"
    assert "sigmoid" in finding.explanation and 'activation="relu"' in finding.snippet
    deep = _obs(*_stack(1e-6))
    assert _run(VanishingGradients(), [deep, deep])[0].confidence.value == "high"


def test_vanishing_near_miss_exact_zero_and_single_sample_stay_quiet():
    near = _obs(*_stack(6e-4))
    assert _run(VanishingGradients(), [near, near]) == []
    zero = _obs(*_stack(0.0))
    assert _run(VanishingGradients(), [zero, zero]) == []
    once = _obs(*_stack(1e-6))
    assert _run(VanishingGradients(), [once]) == []


def test_vanishing_tiny_everywhere_only_while_loss_is_not_done():
    tiny = [_layer("a", grad_norm=5e-8), _layer("b", grad_norm=9e-8)]
    assert _run(VanishingGradients(), [_obs(*tiny), _obs(*tiny)])[0].evidence["ratio"] > 1e-3
    done = _obs(*tiny, loss=1e-4)
    assert _run(VanishingGradients(), [done, done]) == []


# -- exploding_gradients -------------------------------------------------------------


def test_exploding_error_on_non_finite_gradient_points_at_compile():
    obs = _obs(_layer("a", grad_norm=float("nan")), _layer("b"))
    finding = _run(ExplodingGradients(), [obs])[0]
    assert finding.severity.value == "error" and finding.key == "error"
    assert "'a'" in finding.explanation and "not yet" in finding.explanation
    assert "clipnorm=1.0" in finding.snippet and "learning_rate=0.0001" in finding.snippet
    assert finding.location == "train.py:9"


def test_exploding_huge_norm_warns_and_its_near_miss_is_quiet():
    sgd = _history(optimizer="SGD")
    assert _run(ExplodingGradients(), [_obs(_layer(grad_norm=1e3))], sgd)[0].severity is None
    assert _run(ExplodingGradients(), [_obs(_layer(grad_norm=999.0))], _history(optimizer="SGD")) == []


@pytest.mark.parametrize("optimizer", ["Adam", "RMSprop", "AdamW", "Adagrad"])
def test_a_huge_norm_alone_is_no_alarm_under_an_optimizer_whose_step_does_not_grow_with_it(optimizer):
    """Adam divides each step by the gradients' running scale: 1e3 makes no larger update than 1."""
    assert _run(ExplodingGradients(), [_obs(_layer(grad_norm=1e3))], _history(optimizer=optimizer)) == []
    exploded = _run(ExplodingGradients(), [_obs(_layer(grad_norm=1e6))], _history(optimizer=optimizer))
    assert [f.key for f in exploded] == ["error"], "beyond 1e6 the gradients are broken whatever the optimizer"


def test_exploding_growth_since_first_measurement():
    first, grown, near = _obs(_layer(grad_norm=0.5)), _obs(_layer(grad_norm=50.0)), _obs(_layer(grad_norm=49.0))
    finding = _run(ExplodingGradients(), [first, grown])[0]
    assert finding.evidence["first_grad_norm"] == 0.5 and "100 times" in finding.explanation
    assert _run(ExplodingGradients(), [first, near]) == []


def test_gradients_growing_while_the_loss_falls_are_a_model_leaving_its_plateau():
    plateau = _obs(_layer(grad_norm=0.03), loss=0.69)
    learning, stuck = _obs(_layer(grad_norm=4.0), loss=0.3), _obs(_layer(grad_norm=4.0), loss=0.69)
    assert _run(ExplodingGradients(), [plateau, learning]) == []
    assert "133 times" in _run(ExplodingGradients(), [plateau, stuck])[0].explanation


def test_exploding_through_depth():
    obs = _obs(_layer("a", grad_norm=50.0), _layer("b", grad_norm=0.5))
    assert "'a'" in _run(ExplodingGradients(), [obs])[0].explanation
    near = _obs(_layer("a", grad_norm=49.0), _layer("b", grad_norm=0.5))
    assert _run(ExplodingGradients(), [near]) == []


# -- weights_not_updating ------------------------------------------------------------


def test_all_layers_stuck_is_one_finding_about_the_learning_rate():
    obs = _obs(_layer("a", update_norm=0.0), _layer("b", update_norm=0.0))
    findings = _run(WeightsNotUpdating(), [obs, obs], _history(learning_rate=0.0))
    assert [f.key for f in findings] == ["all layers"]
    assert "learning rate is 0" in findings[0].explanation and "learning_rate=0.001" in findings[0].snippet
    assert findings[0].location == "train.py:9"


def test_all_layers_stuck_without_any_gradient_does_not_blame_the_learning_rate():
    # a saturated softmax (clipped probabilities) passes no gradient: a learning rate of 1e-3 is fine
    obs = _obs(_layer("a", update_norm=0.0, grad_norm=0.0), _layer("b", update_norm=0.0, grad_norm=0.0))
    [finding] = _run(WeightsNotUpdating(), [obs, obs])
    assert "gradient is exactly zero" in finding.explanation and "saturated" in finding.explanation
    assert "learning rate" not in finding.suggestion and "he_normal" in finding.snippet
    # with gradients there but no update, the learning rate is the suspect
    moving = _obs(_layer("a", update_norm=0.0), _layer("b", update_norm=0.0))
    assert "learning rate" in _run(WeightsNotUpdating(), [moving, moving])[0].suggestion


def test_one_stuck_layer_behind_dead_relu():
    obs = _obs(_layer("a", update_norm=0.0, grad_norm=0.0), _layer("b", dead_fraction=1.0, update_norm=0.0,
                                                                    grad_norm=0.0), _layer("c"))
    findings = _run(WeightsNotUpdating(), [obs, obs])
    assert [f.key for f in findings] == ["a", "b"]
    assert "'b'" in findings[0].explanation and "dead" in findings[0].explanation


def test_stuck_layer_with_gradient_suggests_compiling_again():
    obs = _obs(_layer("a", update_norm=0.0), _layer("b"))
    assert "compile" in _run(WeightsNotUpdating(), [obs, obs])[0].explanation


def test_slow_but_moving_weights_are_not_stuck():
    obs = _obs(_layer("a", update_norm=1e-9), _layer("b", update_norm=1e-9))
    assert _run(WeightsNotUpdating(), [obs, obs]) == []
    once = _obs(_layer("a", update_norm=0.0), _layer("b"))
    assert _run(WeightsNotUpdating(), [once]) == []


# -- update_ratio_unusual ------------------------------------------------------------


def test_high_update_ratio_warns_at_once_with_a_scaled_learning_rate():
    obs = _obs(_layer("a", update_norm=0.8), _layer("b", update_norm=0.9))  # ratios 0.1, 0.1125
    finding = _run(UpdateRatioUnusual(), [obs], _history(learning_rate=0.1))[0]
    assert finding.key == "high" and finding.severity.value == "warning"
    assert "learning_rate=0.001" in finding.snippet
    near = _obs(_layer("a", update_norm=0.79))
    assert _run(UpdateRatioUnusual(), [near]) == []


def test_low_update_ratio_is_info_after_patience_and_ignores_unchanged_layers():
    obs = _obs(_layer("a", update_norm=8e-5), _layer("b", update_norm=0.0))  # 1e-5 and 0
    assert _run(UpdateRatioUnusual(), [obs]) == []
    finding = _run(UpdateRatioUnusual(), [obs, obs], _history(learning_rate=1e-5, optimizer="SGD"))[0]
    assert finding.severity.value == "info" and list(finding.evidence["update_ratios"]) == ["a"]
    assert "learning_rate=0.001" in finding.snippet
    near = _obs(_layer("a", update_norm=8.1e-5))
    assert _run(UpdateRatioUnusual(), [near, near]) == []


def test_update_ratio_divides_by_the_steps_between_copies():
    obs = _obs(_layer("a", update_norm=3.2, update_steps=4))  # 0.1 per step
    assert _run(UpdateRatioUnusual(), [obs])[0].evidence["median"] == pytest.approx(0.1)


# -- constant_predictions ------------------------------------------------------------


def _predicting(share: float, classes: int = 1, step: int = 60) -> BatchObservation:
    return _obs(_layer(), step=step, predictions=PredictionStats(32, share, classes, 0.01))


def test_constant_class_fires_after_warmup_and_patience():
    first, later = _predicting(0.95, 2), _predicting(0.95, 2, step=160)
    assert _run(ConstantPredictions(), [first]) == []
    finding = _run(ConstantPredictions(), [first, later], _history(target_std=2.0))[0]
    assert finding.evidence["majority_share"] == 0.95 and finding.confidence.value == "medium"
    assert "95%" in finding.explanation and "from step 60 to step 160" in finding.explanation
    assert "np.unique" in finding.snippet


def test_constant_class_near_miss_and_warmup_stay_quiet():
    near = _predicting(0.94, 3)
    assert _run(ConstantPredictions(), [near, _predicting(0.94, 3, step=200)]) == []
    early = _predicting(1.0, step=19)
    assert _run(ConstantPredictions(), [early, early]) is None


def test_a_slow_start_is_no_collapse():
    """One answer for 40 steps, as healthy models show before they leave their starting plateau."""
    check = ConstantPredictions()
    plateau = [_predicting(1.0, step=step) for step in range(20, 65, 5)]
    assert _run(check, plateau) == [] and check.suspects(), "each next sample is wanted soon"
    assert _run(check, [_predicting(0.6, 10, step=65), _predicting(1.0, step=200)]) == []
    assert check.suspects(), "a new streak begins"
    assert len(_run(check, [_predicting(1.0, step=300)])) == 1 and not check.suspects(), "reported"


def test_constant_class_with_one_label_blames_the_labels():
    obs = _predicting(1.0)
    finding = _run(ConstantPredictions(), [obs, _predicting(1.0, step=160)], _history(target_std=0.0))[0]
    assert "labels of the batch are all the same" in finding.explanation and finding.confidence.value == "high"


def test_constant_regression_against_target_spread():
    def reg(std, step=60):
        return _obs(_layer(), step=step, predictions=PredictionStats(32, None, None, std))

    history = _history(target_std=10.0)
    assert "0.1" in _run(ConstantPredictions(), [reg(0.1), reg(0.1, 160)], history)[0].explanation
    assert _run(ConstantPredictions(), [reg(0.11), reg(0.11, 160)], history) == []
    assert _run(ConstantPredictions(), [reg(0.0), reg(0.0, 160)], _history(target_std=0.0)) is None


# -- shared helpers ------------------------------------------------------------------


def test_streaks_restart_when_a_key_misses():
    streaks = Streaks()
    assert streaks.update(["a", "b"], step=5) == {"a": 1, "b": 1}
    assert streaks.update(["a"], step=10) == {"a": 2}
    assert streaks.update(["a", "b"], step=15) == {"a": 3, "b": 1}
    assert streaks.since("a") == 5 and streaks.since("b") == 15 and streaks.since("c") is None


@pytest.mark.parametrize("value, nice", [(0.00123, 0.001), (0.0031, 0.002), (0.004, 0.005), (8.0, 10.0)])
def test_nice_number(value, nice):
    assert nice_number(value) == pytest.approx(nice)


def test_a_run_that_already_broke_is_left_to_nan_loss():
    nan_weights = _obs(_layer("a", grad_norm=float("nan"), nonfinite_weights=True, dead_fraction=1.0))
    assert _run(ExplodingGradients(), [nan_weights]) is None
    assert _run(DeadRelu(), [nan_weights, nan_weights]) is None
    history = _history()
    history.add_batch(BatchObservation(1, 0, {"loss": float("nan")}))
    dead = _obs(_layer("a", dead_fraction=1.0))
    assert _run(DeadRelu(), [dead, dead], history) is None
    blown = _history()
    blown.add_batch(BatchObservation(0, 0, {"loss": 2.0}))
    blown.add_batch(BatchObservation(1, 0, {"loss": 2e6}))
    huge = _obs(_layer("a", grad_norm=float("inf")))
    assert _run(ExplodingGradients(), [huge], blown) is None


def test_nan_loss_names_the_first_layer_whose_weights_or_else_output_went_nan():
    nan_loss = float("nan")
    broken = _obs(_layer("conv"), _layer("head", nonfinite_weights=True, nonfinite_output=True), loss=nan_loss)
    [finding] = NanLoss().on_batch(broken, _history())
    assert "first layer whose weights turned NaN or Inf is 'head'" in finding.explanation
    forward = _obs(_layer("conv"), _layer("log", nonfinite_output=True), _layer("head", nonfinite_output=True),
                   loss=nan_loss)
    [finding] = NanLoss().on_batch(forward, _history())
    assert "first layer whose output is NaN or Inf is 'log'" in finding.explanation
    assert finding.evidence["nonfinite_outputs"] == ["log", "head"] and finding.evidence["nonfinite_layers"] == []
    clean = _obs(_layer("conv"), _layer("head"), loss=nan_loss)
    [finding] = NanLoss().on_batch(clean, _history())
    assert "passes through every layer without NaN" in finding.explanation
    weights_only = _obs(_layer("conv"), _layer("head"), loss=nan_loss, predictions=None)
    [finding] = NanLoss().on_batch(weights_only, _history())
    assert "arose in this batch's forward pass or loss" in finding.explanation


def test_a_condition_seen_once_is_suspected_until_reported_or_gone():
    check = DeadRelu()
    dead, alive = _obs(_layer("a", dead_fraction=0.9)), _obs(_layer("a", dead_fraction=0.1))
    assert not check.suspects()
    assert check.on_batch(dead, _history()) == [] and check.suspects()
    assert check.on_batch(alive, _history()) == [] and not check.suspects(), "gone: no suspicion left"
    check.on_batch(dead, _history())
    assert len(check.on_batch(dead, _history())) == 1 and not check.suspects(), "reported: nothing pending"


def test_a_high_update_ratio_is_reported_at_once_so_nothing_is_left_to_suspect():
    check = UpdateRatioUnusual()
    high = _obs(_layer("a", update_norm=4.0))  # 0.5 of the weights per step
    assert len(check.on_batch(high, _history())) == 1 and not check.suspects()
    low = _obs(_layer("a", update_norm=1e-6))
    assert check.on_batch(low, _history()) == [] and check.suspects(), "a low ratio waits for a second sighting"
