"""Plain-number observations of a training run: what the checks see.

The Keras adapter turns training into these; the checks never see a framework object.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

__all__ = [
    "BatchObservation",
    "EarlyStoppingInfo",
    "EpochObservation",
    "LayerStats",
    "LoopStats",
    "LossInfo",
    "ModelStats",
    "OutputInfo",
    "PredictionStats",
    "PreflightResult",
    "RunInfo",
    "TensorStats",
    "canonical_metric_name",
    "is_validation_metric",
]


@dataclasses.dataclass(frozen=True)
class TensorStats:
    """Cheap statistics of one input or target tensor of a training batch.

    Statistics other than the counts are over finite values only.

    Attributes:
        name: `"x"`, `"y"`, an input's dict key, or `"x[1]"` for list inputs.
        role: `"input"` or `"target"`.
        count: Number of values in the batch.
        nonfinite: Number of NaN or Inf values in the batch.
        nonfinite_total: NaN or Inf values seen in every batch so far, sampled or not.
        min, max, mean, std: Over the whole batch.
        feature_mean_abs: Mean over features of |per-feature batch mean|.
        feature_std: Mean over features of the per-feature batch standard deviation.
        integral: Whether every value is a whole number.
        feeds_embedding: Whether the tensor is integer token ids feeding an Embedding.
        class_counts: For labels (class ids, or one-hot rows): samples of the batch per
            class, for classes 0..63 (trailing zeros dropped); empty otherwise.
        multi_hot_rows: For targets of 0s and 1s with several values on the last axis:
            rows (last-axis vectors) holding two or more 1s (multi-label rows); 0 otherwise.
    """

    name: str
    role: str
    count: int
    nonfinite: int
    nonfinite_total: int
    min: float
    max: float
    mean: float
    std: float
    feature_mean_abs: float
    feature_std: float
    integral: bool
    feeds_embedding: bool = False
    class_counts: tuple[int, ...] = ()
    multi_hot_rows: int = 0


@dataclasses.dataclass(frozen=True)
class OutputInfo:
    """One output of the model: its last layer.

    Attributes:
        layer: The layer's name.
        units: Size of the output's last axis, or None if unknown.
        activation: The layer's activation (`"softmax"`, `"sigmoid"`, `"linear"`, ...), or
            None when it cannot be read (unknown is not linear).
        activation_layer: The inner layer the activation was read from, when it is not the
            output layer itself (a `TimeDistributed` or nested model's layer), else None.
        activation_guessed: The activation was read from a custom layer's last sub-layer,
            which that layer's `call()` may not return as it is.
        cached_logits: Keras' TensorFlow backend hands a cross-entropy loss the logits it
            cached on this softmax or sigmoid output, not its probabilities.
    """

    layer: str
    units: int | None
    activation: str | None
    activation_layer: str | None = None
    activation_guessed: bool = False
    cached_logits: bool = False


@dataclasses.dataclass(frozen=True)
class LossInfo:
    """One loss function: its canonical name and whether it expects logits.

    Attributes:
        name: Canonical Keras name, e.g. `"sparse_categorical_crossentropy"`,
            `"mean_squared_error"`.
        from_logits: The loss's `from_logits` setting (False when it has none).
        output: The output it applies to, when losses were given by output name.
        ignore_class: The class id a sparse loss skips (`ignore_class=-1` or `255` for
            "no label" pixels), or None.
    """

    name: str
    from_logits: bool = False
    output: str | None = None
    ignore_class: int | None = None


@dataclasses.dataclass(frozen=True)
class PreflightResult:
    """The opt-in "overfit one batch" test: a clone trained on a few samples.

    Attributes:
        samples: Samples in the batch.
        steps: Training steps taken.
        initial_loss: Loss on the batch before training (NaN if not finite).
        final_loss: Loss on the batch after the steps (NaN if not finite).
    """

    samples: int
    steps: int
    initial_loss: float
    final_loss: float


@dataclasses.dataclass(frozen=True)
class EarlyStoppingInfo:
    """The user's own early stopping (Keras' or Lightning's `EarlyStopping` callback).

    Attributes:
        monitor: The quantity it watches (`"val_loss"`).
        restores_best: Whether the run ends with the weights of its best epoch
            (Keras' `restore_best_weights=True`; Lightning's never does), not those of its last.
        patience: Epochs without improvement it waits before stopping.
        higher_is_better: Whether the monitored quantity improves by rising (an
            accuracy), not by falling (a loss).
    """

    monitor: str
    restores_best: bool
    patience: int
    higher_is_better: bool = False

    @property
    def watches_validation(self) -> bool:
        """Whether it watches a validation quantity, the one memorising makes worse."""
        return is_validation_metric(self.monitor)


_VALIDATION_PREFIX = re.compile(r"^val(id(ation)?)?[_/-]")
_TRAINING_PREFIX = re.compile(r"^train(ing)?[_/-]")


def is_validation_metric(name: str) -> bool:
    """Whether a metric's name marks it as measured on validation data.

    Keras writes `val_loss`; PyTorch users name their own (`val_loss`, `val/loss`,
    `valid_acc`, `validation_loss`).
    """
    return _VALIDATION_PREFIX.match(name) is not None


def canonical_metric_name(name: str) -> str:
    """A metric's name as Keras writes it: `val/acc`, `valid_acc` -> `val_acc`; `train_acc` -> `acc`.

    The checks pair a training metric with its validation twin by Keras' names.
    """
    return _TRAINING_PREFIX.sub("", _VALIDATION_PREFIX.sub("val_", name))


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What is known before the first batch: the model, loss and optimizer.

    Attributes:
        optimizer: Optimizer class name, e.g. `"Adam"`, or None.
        learning_rate: Current learning rate, or None if unknown.
        peak_learning_rate: The highest rate the learning-rate schedule reaches in its
            first 100,000 steps (without a schedule, the rate itself), or None if unknown.
        momentum: SGD's `momentum` (0 without), or None for other optimizers.
        losses: The loss functions, in the order of the outputs.
        outputs: The model's outputs, in order.
        embedding_inputs: Names of inputs that feed an Embedding layer.
        input_sizes: Values per sample of each input, by input name (`"x"` for one input).
        batch_size: The batch size given to `fit()` (32 when left out with arrays), or None
            when the data batch themselves (data sets, generators).
        trainable_params: Number of trainable parameters, or None.
        total_params: Number of parameters, or None.
        optimizer_slots: Per-parameter variables the optimizer keeps (Adam: 2).
        activations_per_sample: Values all layers output for one sample, or None.
        bytes_per_value: Size of one parameter or activation (4 for float32).
        device_memory: Bytes of memory on the training device, or None if unknown.
        compile_location: `"train.py:42"` of the user's `model.compile` call, if known.
        fit_location: `"train.py:57"` of the user's `model.fit` call, if known.
        preflight: The result of the opt-in "overfit one batch" test, if it ran.
        batch_norm_momentum: The highest `momentum` of the model's BatchNormalization
            layers (how slowly their moving averages follow the batches), or None
            without any.
        class_weighted: Whether `fit()` got `class_weight`: the training loss is then
            weighted, the validation loss is not.
        sample_weighted: Whether `fit()` got `sample_weight` (or a data set yielding
            `(x, y, weights)`): the training loss is weighted too.
        label_counts: Samples per class of each class-label array `fit()` trains on, by
            target name (`"y"`), counted once over all of it; empty for data sets,
            generators and labels that are not class ids or one-hot rows.
        scaled_inputs: Names of inputs the model scales itself (a `Rescaling` or
            `Normalization` layer first, possibly inside a nested preprocessing model);
            `("*",)` when the model holds such a layer but its wiring cannot be traced.
        image_inputs: Names of inputs shaped like images (height, width and channels per
            sample), as opposed to rows of a table.
        internals_unmeasured: Why the model's internals cannot be measured (a model that
            overrides `train_step` without a `call()`), or None.
        metrics: The names of the metrics given to `compile()` (`"accuracy"`,
            `"binary_accuracy"`): known before the first batch's logs.
        masked_output: The model's output carries a Keras mask (an `Embedding(mask_zero=True)`
            or a `Masking` layer whose mask reaches the output): the loss and the metrics skip
            the masked positions (padding), which the label counts still include.
        framework: The framework the run trains with: `"keras"`, or `"pytorch"` for a plain
            PyTorch loop or Lightning (messages and snippets are then written in its idiom).
        early_stopping: The early stopping `fit()` runs with, or None.
        best_checkpoint: Where a `ModelCheckpoint` saving only the best epoch (by a
            validation quantity) writes it, or None.
    """

    optimizer: str | None = None
    learning_rate: float | None = None
    peak_learning_rate: float | None = None
    momentum: float | None = None
    losses: tuple[LossInfo, ...] = ()
    outputs: tuple[OutputInfo, ...] = ()
    embedding_inputs: tuple[str, ...] = ()
    input_sizes: Mapping[str, int] = dataclasses.field(default_factory=dict)
    batch_size: int | None = None
    trainable_params: int | None = None
    total_params: int | None = None
    optimizer_slots: int = 0
    activations_per_sample: int | None = None
    bytes_per_value: int = 4
    device_memory: int | None = None
    compile_location: str | None = None
    fit_location: str | None = None
    preflight: PreflightResult | None = None
    batch_norm_momentum: float | None = None
    class_weighted: bool = False
    sample_weighted: bool = False
    label_counts: Mapping[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    scaled_inputs: tuple[str, ...] = ()
    image_inputs: tuple[str, ...] = ()
    internals_unmeasured: str | None = None
    metrics: tuple[str, ...] = ()
    masked_output: bool = False
    framework: str = "keras"
    early_stopping: EarlyStoppingInfo | None = None
    best_checkpoint: str | None = None


@dataclasses.dataclass(frozen=True)
class LayerStats:
    """What one layer looked like on a sampled batch (None where not measured).

    Attributes:
        name: The Keras layer's name.
        kind: Its class name, e.g. `"Dense"`.
        activation: Its activation function's name (`"relu"`, `"sigmoid"`), if any.
        weight_norm: L2 norm of the layer's trainable weights.
        grad_norm: L2 norm of the loss gradient with respect to those weights.
        update_norm: L2 norm of the weights' change since the previous sample.
        update_steps: Training steps between that previous sample and this one.
        dead_fraction: Share of units whose output is <= 0 for every sample of the batch.
        saturated_fraction: Share of sigmoid/tanh outputs pinned near their limits.
        nonfinite_output: Whether the layer's output held NaN or Inf.
        nonfinite_weights: Whether the layer's weights held NaN or Inf.
        units: Width of the layer's output (Dense units, convolution filters: the
            last axis), if known.
    """

    name: str
    kind: str
    activation: str | None = None
    weight_norm: float | None = None
    grad_norm: float | None = None
    update_norm: float | None = None
    update_steps: int | None = None
    dead_fraction: float | None = None
    saturated_fraction: float | None = None
    nonfinite_output: bool = False
    nonfinite_weights: bool = False
    units: int | None = None


@dataclasses.dataclass(frozen=True)
class PredictionStats:
    """The model's predictions on a sampled batch.

    Attributes:
        count: Samples in the batch.
        majority_share: Share of samples whose predicted class is the most common one
            (classification), or None.
        predicted_classes: Number of distinct predicted classes, or None.
        std: Mean over outputs of the predictions' standard deviation across samples.
    """

    count: int
    majority_share: float | None
    predicted_classes: int | None
    std: float


@dataclasses.dataclass(frozen=True)
class ModelStats:
    """Inside the model on a sampled batch: layers in forward order, and predictions."""

    layers: tuple[LayerStats, ...] = ()
    predictions: PredictionStats | None = None


@dataclasses.dataclass(frozen=True)
class LoopStats:
    """What a hand-written training loop did at one step, where Keras' `fit()` leaves no choice.

    Filled by the PyTorch monitor; None on Keras runs.

    Attributes:
        optimizer_steps: Optimizer steps taken since the previous observed step.
        eval_mode_modules: While the root module was in `eval()` mode at an optimizer
            step: the modules whose forward depends on the mode (Dropout, BatchNorm) beside
            trainable weights, by name, at most 8; empty in `train()` mode.
        mode_dependent_modules: How many such modules the model holds.
        grad_carried: Whether a backward pass added to a gradient the optimizer had already
            applied at an earlier step (no `zero_grad()` in between); None when not known.
        grad_norm: L2 norm of the followed parameter's gradient before that backward pass
            added to it, when `grad_carried`; else None.
        followed_parameter: The parameter `grad_carried` is read on, by name.
    """

    optimizer_steps: int = 0
    eval_mode_modules: tuple[str, ...] = ()
    mode_dependent_modules: int = 0
    grad_carried: bool | None = None
    grad_norm: float | None = None
    followed_parameter: str | None = None


@dataclasses.dataclass(frozen=True)
class BatchObservation:
    """The end of one training batch.

    Attributes:
        step: 0-based global batch index, growing across epochs and `fit()` calls.
        epoch: 0-based epoch.
        logs: Keras' running metrics for the epoch so far, as floats.
        tensors: Statistics of the batch's inputs and targets, or None when this batch
            was not sampled.
        model: Statistics from inside the model, or None when not sampled (they cost an
            extra forward and backward pass, so they are sampled more sparsely).
        loop: What a hand-written loop did at this step (PyTorch), or None.
    """

    step: int
    epoch: int
    logs: Mapping[str, float]
    tensors: tuple[TensorStats, ...] | None = None
    model: ModelStats | None = None
    loop: LoopStats | None = None

    def inputs(self) -> tuple[TensorStats, ...]:
        """The statistics of the input tensors (empty when not sampled)."""
        return tuple(t for t in self.tensors or () if t.role == "input")


@dataclasses.dataclass(frozen=True)
class EpochObservation:
    """The end of one epoch.

    Attributes:
        step: Global index of the epoch's last batch.
        epoch: 0-based epoch.
        logs: Keras' epoch metrics, including `val_*` ones when validating, as floats.
    """

    step: int
    epoch: int
    logs: Mapping[str, float]
