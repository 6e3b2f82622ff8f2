"""Every check's messages in a PyTorch run are in PyTorch's idiom; a Keras run keeps its Keras ones (#22).

Each case drives one check into one of its findings on hand-built observations, once with a
PyTorch `RunInfo` and once with a Keras one: the PyTorch finding must name no Keras API, and
the Keras finding must still hold its Keras call. The cases are keyed by check id and every
check of the catalogue must have one, so a new check without a PyTorch idiom fails here.
No training, no Keras, no torch: the fast tier.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest

from tensorboard_plugin_scram.checks import BatchObservation, History
from tensorboard_plugin_scram.checks.accuracy_at_chance import AccuracyAtChance
from tensorboard_plugin_scram.checks.base import Check, Finding
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
from tensorboard_plugin_scram.checks.internal_error import InternalError
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
from tensorboard_plugin_scram.checks.registry import CATALOGUE
from tensorboard_plugin_scram.checks.saturated_activations import SaturatedActivations
from tensorboard_plugin_scram.checks.train_val_mismatch import TrainValMismatch
from tensorboard_plugin_scram.checks.update_ratio_unusual import UpdateRatioUnusual
from tensorboard_plugin_scram.checks.vanishing_gradients import VanishingGradients
from tensorboard_plugin_scram.checks.weights_not_updating import WeightsNotUpdating
from tensorboard_plugin_scram.observations import (
    LayerStats,
    LoopStats,
    LossInfo,
    ModelStats,
    PredictionStats,
    PreflightResult,
    RunInfo,
)
from tests.builders import batches, epochs, run_info, stats, x_and_y

PYTORCH, KERAS = "pytorch", "keras"

# Keras' API and the Keras-only names a PyTorch user cannot act on.
KERAS_NAMES = re.compile(
    r"keras|model\.compile|model\.fit|validation_split|class_weight=|clipnorm|kernel_initializer|he_normal"
    r"|\bcompile\(|\bfit\(|\bDense\(|BatchNormalization|Rescaling|Normalization\(|model\.summary|trainable="
    r"|stop_gradient|\btf\.|learning_rate=",
    re.IGNORECASE)

# Checks no PyTorch run can trigger, with the reason.
NOT_IN_PYTORCH = {
    "internals_not_measured": "RunInfo.internals_unmeasured is set only by the Keras adapter, for a keras.Model "
                              "that overrides train_step() without call()",
}

# Cases whose PyTorch message still names a Keras API, in modules another change is rewriting (#22):
# strict, so that the fix shows as an XPASS failure and the entry is then deleted.
PENDING: dict[str, str] = {}  # case id -> what its PyTorch message still gets wrong

MSE = LossInfo("mean_squared_error")
CROSS_ENTROPY = LossInfo("sparse_categorical_crossentropy")
LOGITS_CROSS_ENTROPY = LossInfo("sparse_categorical_crossentropy", from_logits=True)
BINARY = LossInfo("binary_crossentropy")
NAN = float("nan")


@dataclasses.dataclass(frozen=True)
class Case:
    """One finding of one check: how to drive it, and a call each framework's message must hold.

    `keras` / `torch`: a piece of the Keras / PyTorch message (title, explanation, suggestion or
    snippet); None where the finding is framework-neutral (or, for `keras`, PyTorch-only).
    """

    check: str
    name: str
    drive: Callable[[str], list[Finding]]
    keras: str | None
    torch: str | None

    def __str__(self) -> str:
        return f"{self.check}-{self.name}"


def last(results: list) -> list[Finding]:
    """The findings of the last hook call that judged something."""
    judged = [r for r in results if r is not None]
    return list(judged[-1]) if judged else []


def text(finding: Finding) -> str:
    return "\n".join(part or "" for part in (finding.title, finding.explanation, finding.suggestion,
                                             finding.snippet))


def kind(framework: str, keras: str = "Dense", torch: str = "Linear") -> str:
    """The class name a layer of this kind has in the framework's model."""
    return torch if framework == PYTORCH else keras


def layer(framework: str, name: str, **fields) -> LayerStats:
    values = {"kind": kind(framework), "activation": "relu", "weight_norm": 8.0, "grad_norm": 0.8,
              "update_norm": 0.03, "update_steps": 1}
    return LayerStats(name=name, **{**values, **fields})


def internals(check: Check, framework: str, *layers: LayerStats, times: int = 2, **run_fields) -> list[Finding]:
    """`check` on `times` sampled steps measuring these layers."""
    obs = [BatchObservation(60 + i, 0, {"loss": 1.0}, None,
                            ModelStats(tuple(layers), PredictionStats(32, 0.2, 9, 0.2))) for i in range(times)]
    return last(batches(check, obs, run_info(framework=framework, **run_fields)))


def batch_of(*tensors, loss: float = 1.0, logs: dict | None = None) -> BatchObservation:
    return BatchObservation(0, 0, {"loss": loss, **(logs or {})}, tuple(tensors))


def labels(counts: tuple[int, ...], logs: dict | None = None) -> BatchObservation:
    y = stats(0, len(counts) - 1, 0.5, 0.3, name="y", role="target", count=sum(counts), integral=True,
              class_counts=counts)
    return batch_of(stats(0, 1, 0.5, 0.3, count=32 * 64), y, logs=logs)


def on_losses(check: Check, framework: str, losses: list[float], **run_fields) -> list[Finding]:
    obs = [BatchObservation(i, 0, {"loss": v}) for i, v in enumerate(losses)]
    return last(batches(check, obs, run_info(framework=framework, **run_fields)))


def on_epochs(check: Check, framework: str, rows: list[dict], history: History | None = None,
              **run_fields) -> list[Finding]:
    return last(epochs(check, rows, run_info(framework=framework, **run_fields), history))


def static(check: Check, framework: str, *args, **run_fields) -> list[Finding]:
    return list(check.on_train_begin(run_info(*args, framework=framework, **run_fields)) or [])


def single_label_batches(framework: str, batch_size: int | None) -> list[Finding]:
    rows = []
    for value in (0, 0, 0, 1, 1, 1, 2, 2, 2, 3):
        y = stats(0, 9, value, 0.0, name="y", role="target", count=32, integral=True, feature_std=0.0)
        rows.append(batch_of(stats(0, 1, 0.5, 0.3, count=32 * 64), y))
    return last(batches(DataNotShuffled(), rows, run_info(framework=framework, batch_size=batch_size)))


def batch_norm_lag(framework: str) -> list[Finding]:
    history = History(run_info(framework=framework, batch_norm_momentum=0.99))
    for step in range(30):
        history.add_batch(BatchObservation(step, 0, {"loss": 1.0}))
    rows = [{"loss": 0.5, "val_loss": 2.5, "accuracy": 0.9, "val_accuracy": 0.3}]
    return last(epochs(TrainValMismatch(), rows, history=history))


def nan_in_data(framework: str, role: str) -> list[Finding]:
    bad = stats(0, 1, 0.5, 0.3, name="x" if role == "input" else "y", role=role, nonfinite=3, nonfinite_total=3)
    return last(batches(InputContainsNan(), [batch_of(bad)], run_info(framework=framework)))


def nan_loss(framework: str, *tensors, **run_fields) -> list[Finding]:
    return last(batches(NanLoss(), [batch_of(*tensors, loss=NAN)], run_info(framework=framework, **run_fields)))


def eval_mode(framework: str) -> list[Finding]:
    loop = LoopStats(optimizer_steps=1, eval_mode_modules=("drop",), mode_dependent_modules=1)
    return last(batches(ModelInEvalMode(), [BatchObservation(0, 0, {"loss": 1.0}, loop=loop)],
                        run_info(framework=framework)))


def accumulating(framework: str) -> list[Finding]:
    loops = [LoopStats(optimizer_steps=1, grad_carried=True, grad_norm=float(n)) for n in range(1, 4)]
    obs = [BatchObservation(step, 0, {"loss": 1.0}, loop=loop) for step, loop in enumerate(loops)]
    return last(batches(GradientsAccumulating(), obs, run_info(framework=framework)))


def predicting(check: Check, framework: str, predictions: PredictionStats, *layers: LayerStats,
               target_std: float = 2.0, **run_fields) -> list[Finding]:
    history = History(run_info(framework=framework, **run_fields))
    history.add_batch(batch_of(stats(0, 1, 0.5, 0.3), stats(0, 9, 4.0, target_std, name="y", role="target",
                                                            integral=True, feature_std=target_std)))
    results = []
    for step in (60, 160):
        obs = BatchObservation(step, 0, {"loss": 1.0}, None, ModelStats(tuple(layers), predictions))
        history.add_batch(obs)
        results.append(check.on_batch(obs, history))
    return last(results)


def activation_layer(framework: str, name: str, activation: str, **fields) -> LayerStats:
    """A Keras layer with its activation, or PyTorch's activation module measured as a layer of its own."""
    torch_kind = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}[activation]
    return layer(framework, name, kind=kind(framework, "Dense", torch_kind), activation=activation, **fields)


def raw_input_batch() -> BatchObservation:
    return batch_of(stats(0, 255, 120, 80, feature_std=70))


CASES = [
    Case("output_activation_loss_mismatch", "softmax-into-logits-loss",
         lambda fw: static(OutputActivationLossMismatch(), fw, 10, "softmax", LOGITS_CROSS_ENTROPY),
         "keras.layers.Dense(10)", "nn.CrossEntropyLoss"),
    Case("label_output_mismatch", "class-ids-beyond-units",
         lambda fw: last(batches(LabelOutputMismatch(), [x_and_y(0, 10)], run_info(framework=fw))),
         "keras.layers.Dense(11", "nn.Linear(in_features, 11)"),
    Case("output_range_mismatch", "prices-behind-sigmoid",
         lambda fw: last(batches(OutputRangeMismatch(), [x_and_y(50, 500, integral=False)],
                                 run_info(1, "sigmoid", MSE, framework=fw))),
         "keras.layers.Dense(1)", "nn.Linear(in_features, 1)"),
    Case("output_range_mismatch", "standardised-behind-relu",
         lambda fw: last(batches(OutputRangeMismatch(), [x_and_y(-3, 3, integral=False)],
                                 run_info(1, "relu", MSE, framework=fw))),
         "keras.layers.Dense(1)", "nn.ReLU"),
    Case("output_range_mismatch", "multi-label-softmax",
         lambda fw: last(batches(OutputRangeMismatch(), [x_and_y(0, 1, y_count=160, multi_hot_rows=10)],
                                 run_info(5, "softmax", LossInfo("categorical_crossentropy"), framework=fw))),
         'keras.layers.Dense(5, activation="sigmoid")', "nn.BCEWithLogitsLoss()"),
    Case("learning_rate_unusual", "far-above",
         lambda fw: static(LearningRateUnusual(), fw, learning_rate=10.0, peak_learning_rate=10.0),
         "keras.optimizers.Adam(learning_rate=0.001)", "torch.optim.Adam(model.parameters(), lr=0.001)"),
    Case("learning_rate_unusual", "momentum",
         lambda fw: static(LearningRateUnusual(), fw, optimizer="SGD", learning_rate=0.1, momentum=0.99),
         "keras.optimizers.SGD(", "torch.optim.SGD(model.parameters()"),
    Case("no_trainable_weights", "all-frozen",
         lambda fw: static(NoTrainableWeights(), fw, trainable_params=0, total_params=500),
         "layer.trainable = True", "requires_grad = True"),
    Case("batch_memory_risk", "large-batch",
         lambda fw: static(BatchMemoryRisk(), fw, batch_size=4096, activations_per_sample=1_000_000),
         "model.fit(x_train, y_train, batch_size=", "DataLoader("),
    Case("input_not_normalized", "pixels",
         lambda fw: last(batches(InputNotNormalized(), [raw_input_batch()],
                                 run_info(framework=fw, image_inputs=("x",)))),
         "keras.layers.Rescaling(1 / 255)", "/ 255"),
    Case("input_not_normalized", "one-range",
         lambda fw: last(batches(InputNotNormalized(), [batch_of(stats(0, 16, 5, 6, feature_std=5))],
                                 run_info(framework=fw))),
         "astype('float32') / 16", "/ 16"),
    Case("input_not_normalized", "table-columns",
         lambda fw: last(batches(InputNotNormalized(),
                                 [batch_of(stats(20, 5000, 800, 1500, feature_mean_abs=800, feature_std=100))],
                                 run_info(framework=fw, input_sizes={"x": 8}))),
         "keras.layers.Normalization()", "x_train.mean(0)"),
    Case("input_contains_nan", "in-inputs", lambda fw: nan_in_data(fw, "input"), "np.isfinite(x_train)",
         "torch.isfinite(x_train)"),
    Case("input_contains_nan", "in-labels", lambda fw: nan_in_data(fw, "target"), "np.isfinite(x_train)",
         "torch.isfinite(y_train)"),
    Case("class_imbalance", "classes",
         lambda fw: last(batches(ClassImbalance(), [labels((31, 1))] * 20, run_info(framework=fw))),
         "class_weight=class_weight", "nn.CrossEntropyLoss(weight="),
    Case("class_imbalance", "binary",
         lambda fw: last(batches(ClassImbalance(), [labels((31, 1))] * 20,
                                 run_info(1, "sigmoid", BINARY, framework=fw))),
         "class_weight=class_weight", "pos_weight="),
    Case("class_imbalance", "handled-by-a-metric",
         lambda fw: last(batches(ClassImbalance(), [labels((31, 1), {"auc": 0.8})] * 20, run_info(framework=fw))),
         "keras.metrics.AUC()", "classification_report"),
    Case("nan_loss", "learning-rate", lambda fw: nan_loss(fw, learning_rate=10.0),
         "keras.optimizers.Adam(learning_rate=0.001)", "torch.optim.Adam(model.parameters(), lr=0.001)"),
    Case("nan_loss", "data",
         lambda fw: nan_loss(fw, stats(0, 1, 0.5, 0.3, nonfinite=2, nonfinite_total=2)),
         "np.isfinite(x_train)", "torch.isfinite(x_train)"),
    Case("loss_diverging", "overshooting",
         lambda fw: on_losses(LossDiverging(), fw, [1.0, 20.0, 30.0, 40.0], units=1, activation="linear", loss=MSE),
         "clipnorm=1.0", "clip_grad_norm_"),
    Case("loss_diverging", "at-the-ceiling",
         lambda fw: on_losses(LossDiverging(), fw, [2.3, 12.0, 13.0, 14.0]), "clipnorm=1.0", "clip_grad_norm_"),
    Case("loss_diverging", "ceiling-from-the-start",
         lambda fw: on_losses(LossDiverging(), fw, [15.5, 15.9, 16.0, 16.1]),
         'kernel_initializer="he_normal"', "kaiming_normal_"),
    Case("loss_diverging", "above-the-ceiling-from-the-start",
         lambda fw: on_losses(LossDiverging(), fw, [25.0, 26.0, 27.0, 28.0]),
         "Keras on TensorFlow", "kaiming_normal_"),
    Case("loss_not_decreasing", "flat",
         lambda fw: on_epochs(LossNotDecreasing(), fw, [{"loss": 2.3}] * 12),
         "keras.optimizers.Adam(learning_rate=1e-3)", "torch.optim.Adam(model.parameters(), lr=0.001)"),
    Case("loss_oscillating", "zig-zag",
         lambda fw: on_epochs(LossOscillating(), fw, [{"loss": v} for v in (1.0, 1.5, 0.9, 1.6, 1.0, 1.5)]),
         "keras.optimizers.schedules.ExponentialDecay", "lr_scheduler"),
    Case("overfitting", "validation-loss-rises",
         lambda fw: on_epochs(Overfitting(), fw, [{"loss": t, "val_loss": v} for t, v in
                                                  zip((1.0, 0.8, 0.6, 0.4, 0.3), (1.0, 0.9, 0.95, 1.0, 1.1),
                                                      strict=True)]),
         "keras.callbacks.EarlyStopping(", "weight_decay="),
    Case("train_val_mismatch", "worse-from-the-start",
         lambda fw: on_epochs(TrainValMismatch(), fw, [
             {"loss": t, "val_loss": v, "accuracy": a, "val_accuracy": 0.2}
             for t, v, a in zip((1.0, 0.7, 0.5), (2.0, 2.2, 2.4), (0.6, 0.8, 0.9), strict=True)]),
         "validation_split=0.2", "random_split("),
    Case("train_val_mismatch", "batch-norm-not-settled", batch_norm_lag,
         "keras.layers.BatchNormalization(momentum=0.9)", "nn.BatchNorm1d("),
    Case("train_val_mismatch", "suspiciously-better",
         lambda fw: on_epochs(TrainValMismatch(), fw, [{"loss": 1.0, "val_loss": 0.5, "accuracy": 0.6,
                                                        "val_accuracy": 0.8}] * 6),
         None, None),
    Case("accuracy_at_chance", "guessing",
         lambda fw: on_epochs(AccuracyAtChance(), fw, [{"loss": 2.3, "accuracy": 0.1}] * 10),
         None, "shuffle=True"),
    Case("accuracy_at_chance", "loss-near-zero",
         lambda fw: on_epochs(AccuracyAtChance(), fw, [{"loss": 0.01, "accuracy": 0.1}] * 3),
         "sparse_categorical_crossentropy", "torch.long"),
    Case("accuracy_at_chance", "regression",
         lambda fw: on_epochs(AccuracyAtChance(), fw, [{"loss": 3.0, "accuracy": 0.0}], loss=MSE),
         'metrics=["mae"]', "l1_loss("),
    Case("data_not_shuffled", "arrays", lambda fw: single_label_batches(fw, 32),
         "model.fit(x_train, y_train, shuffle=True", "shuffle=True"),
    Case("data_not_shuffled", "data-set", lambda fw: single_label_batches(fw, None), "tf.data.Dataset",
         "shuffle=True"),
    Case("constant_predictions", "one-class",
         lambda fw: predicting(ConstantPredictions(), fw, PredictionStats(32, 0.95, 2, 0.01), layer(fw, "a")),
         "np.unique", "torch.unique"),
    Case("constant_predictions", "regression",
         lambda fw: predicting(ConstantPredictions(), fw, PredictionStats(32, None, None, 0.1), layer(fw, "a"),
                               target_std=10.0, units=1, activation="linear", loss=MSE),
         None, None),
    Case("vanishing_gradients", "sigmoid-stack",
         lambda fw: internals(VanishingGradients(), fw, layer(fw, "first", activation="sigmoid", grad_norm=4e-4),
                              layer(fw, "mid", activation="sigmoid", grad_norm=0.25),
                              layer(fw, "last", activation="softmax", grad_norm=0.5)),
         'kernel_initializer="he_normal"', "kaiming_normal_"),
    Case("exploding_gradients", "non-finite",
         lambda fw: internals(ExplodingGradients(), fw, layer(fw, "a", grad_norm=NAN), layer(fw, "b"), times=1),
         "clipnorm=1.0", "clip_grad_norm_"),
    Case("exploding_gradients", "huge",
         lambda fw: internals(ExplodingGradients(), fw, layer(fw, "a", grad_norm=1e3), times=1, optimizer="SGD",
                              learning_rate=0.01),
         "keras.optimizers.SGD(learning_rate=0.001, clipnorm=1.0)", "torch.optim.SGD(model.parameters()"),
    Case("dead_relu", "dead-units",
         lambda fw: internals(DeadRelu(), fw, activation_layer(fw, "hidden", "relu", dead_fraction=1.0, units=64),
                              layer(fw, "out", activation="softmax"), times=3),
         'activation="leaky_relu"', "nn.LeakyReLU"),
    Case("saturated_activations", "saturated-sigmoid",
         lambda fw: internals(SaturatedActivations(), fw,
                              activation_layer(fw, "squash", "sigmoid", saturated_fraction=0.99, units=64),
                              layer(fw, "out", activation="softmax"), times=3),
         'activation="relu"', "nn.ReLU()"),
    Case("weights_not_updating", "learning-rate-zero",
         lambda fw: internals(WeightsNotUpdating(), fw, layer(fw, "a", update_norm=0.0),
                              layer(fw, "b", update_norm=0.0), learning_rate=0.0),
         "keras.optimizers.Adam(learning_rate=0.001)", "torch.optim.Adam(model.parameters(), lr=0.001)"),
    Case("weights_not_updating", "no-gradient-anywhere",
         lambda fw: internals(WeightsNotUpdating(), fw, layer(fw, "a", update_norm=0.0, grad_norm=0.0),
                              layer(fw, "b", update_norm=0.0, grad_norm=0.0)),
         'kernel_initializer="he_normal"', "kaiming_normal_"),
    Case("weights_not_updating", "behind-dead-relu",
         lambda fw: internals(WeightsNotUpdating(), fw, layer(fw, "a", update_norm=0.0, grad_norm=0.0),
                              layer(fw, "b", dead_fraction=1.0, update_norm=0.0, grad_norm=0.0), layer(fw, "c")),
         'activation="leaky_relu"', "nn.LeakyReLU"),
    Case("weights_not_updating", "cut-off-from-the-loss",
         lambda fw: internals(WeightsNotUpdating(), fw, layer(fw, "a", update_norm=0.0, grad_norm=0.0),
                              layer(fw, "b")),
         "model.summary()", ".grad"),
    Case("weights_not_updating", "gradient-not-applied",
         lambda fw: internals(WeightsNotUpdating(), fw, layer(fw, "a", update_norm=0.0), layer(fw, "b")),
         "model.compile(", "optimizer"),
    Case("update_ratio_unusual", "high",
         lambda fw: internals(UpdateRatioUnusual(), fw, layer(fw, "a", update_norm=0.8),
                              layer(fw, "b", update_norm=0.9), times=1, learning_rate=0.1),
         "keras.optimizers.Adam(learning_rate=0.001)", "torch.optim.Adam(model.parameters(), lr=0.001)"),
    Case("cannot_overfit_batch", "stuck",
         lambda fw: static(CannotOverfitBatch(), fw, preflight=PreflightResult(16, 50, 2.3, 2.2)),
         "model.fit(x_train[:16]", "optimizer.step()"),
    Case("model_in_eval_mode", "eval-mode", eval_mode, None, "model.train()"),
    Case("gradients_accumulating", "no-zero-grad", accumulating, None, "optimizer.zero_grad()"),
    Case("scram_internal_error", "a-check-raised",
         lambda fw: [InternalError.finding_for("check 'loss_diverging'", ValueError("boom"))], None, None),
]


@pytest.mark.parametrize("check_id", sorted(CATALOGUE))
def test_every_check_has_a_pytorch_case_or_a_reason(check_id):
    covered = {case.check for case in CASES}
    assert check_id in covered or check_id in NOT_IN_PYTORCH, (
        f"{check_id}: add a Case driving it into its finding(s) in a PyTorch run (or list why it cannot fire)")


def with_pending(cases: list[Case]) -> list:
    """The cases as parameters, those in `PENDING` expected to fail (strictly)."""
    return [pytest.param(case, id=str(case), marks=pytest.mark.xfail(strict=True, reason=PENDING[str(case)]))
            if str(case) in PENDING else pytest.param(case, id=str(case)) for case in cases]


@pytest.mark.parametrize("case", with_pending(CASES))
def test_pytorch_messages_name_no_keras_api(case):
    findings = case.drive(PYTORCH)
    assert findings, f"{case}: the case no longer drives the check into a finding"
    for finding in findings:
        leaked = KERAS_NAMES.findall(text(finding))
        assert not leaked, f"{case}: Keras names {leaked} in a PyTorch message:\n{text(finding)}"
    if case.torch is not None:
        assert any(case.torch in text(f) for f in findings), f"{case}: {case.torch!r} missing:\n" + "\n".join(
            text(f) for f in findings)


@pytest.mark.parametrize("case", [c for c in CASES if c.keras is not None], ids=str)
def test_keras_messages_keep_their_keras_calls(case):
    findings = case.drive(KERAS)
    assert findings, f"{case}: the case no longer drives the check into a finding"
    assert any(case.keras in text(f) for f in findings), f"{case}: {case.keras!r} missing:\n" + "\n".join(
        text(f) for f in findings)


@pytest.mark.parametrize("case", [c for c in CASES if c.keras is not None], ids=str)
def test_the_framework_changes_the_words_not_the_rule(case):
    """The same observations give the same findings, evidence and severity in both frameworks."""
    torch_findings, keras_findings = case.drive(PYTORCH), case.drive(KERAS)
    assert len(torch_findings) == len(keras_findings) > 0
    for torch_finding, keras_finding in zip(torch_findings, keras_findings, strict=True):
        assert repr(torch_finding.evidence) == repr(keras_finding.evidence)  # repr: NaN == NaN
        assert (torch_finding.severity, torch_finding.confidence, torch_finding.key) == (
            keras_finding.severity, keras_finding.confidence, keras_finding.key)
    assert [text(f) for f in torch_findings] != [text(f) for f in keras_findings]


@pytest.mark.parametrize("check_id", sorted(NOT_IN_PYTORCH))
def test_checks_listed_as_keras_only_stay_quiet_in_a_pytorch_run(check_id):
    check = CATALOGUE[check_id]()
    assert not check.on_train_begin(RunInfo(framework=PYTORCH))
