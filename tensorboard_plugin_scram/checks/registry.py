"""The catalogue of built-in checks, and building the set a run uses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tensorboard_plugin_scram.checks.accuracy_at_chance import AccuracyAtChance
from tensorboard_plugin_scram.checks.base import Check, batch_needs
from tensorboard_plugin_scram.checks.batch_memory_risk import BatchMemoryRisk
from tensorboard_plugin_scram.checks.cannot_overfit_batch import CannotOverfitBatch
from tensorboard_plugin_scram.checks.class_imbalance import ClassImbalance
from tensorboard_plugin_scram.checks.constant_predictions import ConstantPredictions
from tensorboard_plugin_scram.checks.data_not_shuffled import DataNotShuffled
from tensorboard_plugin_scram.checks.dead_relu import DeadRelu
from tensorboard_plugin_scram.checks.exploding_gradients import ExplodingGradients
from tensorboard_plugin_scram.checks.gradients_accumulating import GradientsAccumulating
from tensorboard_plugin_scram.checks.input_contains_nan import InputContainsNan
from tensorboard_plugin_scram.checks.input_not_normalized import InputNotNormalized
from tensorboard_plugin_scram.checks.internal_error import InternalError, InternalsNotMeasured
from tensorboard_plugin_scram.checks.label_output_mismatch import LabelOutputMismatch
from tensorboard_plugin_scram.checks.learning_rate_unusual import LearningRateUnusual
from tensorboard_plugin_scram.checks.loss_diverging import LossDiverging
from tensorboard_plugin_scram.checks.loss_not_decreasing import LossNotDecreasing
from tensorboard_plugin_scram.checks.loss_oscillating import LossOscillating
from tensorboard_plugin_scram.checks.model_in_eval_mode import ModelInEvalMode
from tensorboard_plugin_scram.checks.nan_loss import NanLoss
from tensorboard_plugin_scram.checks.no_trainable_weights import NoTrainableWeights
from tensorboard_plugin_scram.checks.output_activation_loss_mismatch import OutputActivationLossMismatch
from tensorboard_plugin_scram.checks.output_range_mismatch import OutputRangeMismatch
from tensorboard_plugin_scram.checks.overfitting import Overfitting
from tensorboard_plugin_scram.checks.saturated_activations import SaturatedActivations
from tensorboard_plugin_scram.checks.train_val_mismatch import TrainValMismatch
from tensorboard_plugin_scram.checks.update_ratio_unusual import UpdateRatioUnusual
from tensorboard_plugin_scram.checks.vanishing_gradients import VanishingGradients
from tensorboard_plugin_scram.checks.weights_not_updating import WeightsNotUpdating

# Built-in checks in documentation order (static, data, loss, metrics, model internals).
# Ids are stable public API.
BUILTIN_CHECKS: tuple[type[Check], ...] = (
    OutputActivationLossMismatch,
    LabelOutputMismatch,
    OutputRangeMismatch,
    LearningRateUnusual,
    NoTrainableWeights,
    BatchMemoryRisk,
    InputNotNormalized,
    InputContainsNan,
    ClassImbalance,
    NanLoss,
    LossDiverging,
    LossNotDecreasing,
    LossOscillating,
    Overfitting,
    TrainValMismatch,
    AccuracyAtChance,
    DataNotShuffled,
    ConstantPredictions,
    VanishingGradients,
    ExplodingGradients,
    DeadRelu,
    SaturatedActivations,
    WeightsNotUpdating,
    UpdateRatioUnusual,
    CannotOverfitBatch,
    ModelInEvalMode,
    GradientsAccumulating,
    InternalsNotMeasured,
)

# Every id a diagnostic can carry, with the class that documents it.
CATALOGUE: dict[str, type[Check]] = {c.id: c for c in (*BUILTIN_CHECKS, InternalError)}


def build_checks(
    disable: Iterable[str] = (),
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    extra_checks: Sequence[Check] = (),
) -> list[Check]:
    """Instantiates the checks of one run.

    Args:
        disable: Ids of built-in (or extra) checks to switch off.
        thresholds: Per check id, thresholds to override, e.g.
            `{"overfitting": {"patience": 3}}`.
        extra_checks: User-written `Check` instances to add.

    Returns:
        The enabled checks.

    Raises:
        ValueError: for an unknown check id or threshold name, or a duplicate id, so a
            typo in the configuration is loud rather than silently ignored.
    """
    thresholds = dict(thresholds or {})
    extra = list(extra_checks)
    for check in extra:
        if not isinstance(check, Check) or not check.id:
            raise ValueError(f"extra check {check!r} must be a Check instance with an id")
        batch_needs(check)
    known = {c.id for c in BUILTIN_CHECKS} | {c.id for c in extra}
    if len(known) != len(BUILTIN_CHECKS) + len(extra):
        raise ValueError("two checks share an id; ids must be unique")
    disabled = set(disable)
    for check_id in (*disabled, *thresholds):
        if check_id not in known:
            raise ValueError(f"unknown check id {check_id!r} (known: {', '.join(sorted(known))})")
    checks = [cls() for cls in BUILTIN_CHECKS if cls.id not in disabled]
    checks += [check for check in extra if check.id not in disabled]
    for check in checks:
        check.configure(**thresholds.get(check.id, {}))
    return checks
