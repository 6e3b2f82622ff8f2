"""Plain-number observations of a training run: what the checks see.

The Keras adapter turns training into these; the checks never see a framework object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

__all__ = [
    "BatchObservation",
    "EpochObservation",
    "LayerStats",
    "ModelStats",
    "PredictionStats",
    "RunInfo",
    "TensorStats",
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


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What is known before the first batch: the model, loss and optimizer.

    Attributes:
        optimizer: Optimizer class name, e.g. `"Adam"`, or None.
        learning_rate: Current learning rate, or None if unknown.
        losses: Names of the loss functions, e.g. `("sparse_categorical_crossentropy",)`.
        embedding_inputs: Names of inputs that feed an Embedding layer.
        compile_location: `"train.py:42"` of the user's `model.compile` call, if known.
        fit_location: `"train.py:57"` of the user's `model.fit` call, if known.
    """

    optimizer: str | None = None
    learning_rate: float | None = None
    losses: tuple[str, ...] = ()
    embedding_inputs: tuple[str, ...] = ()
    compile_location: str | None = None
    fit_location: str | None = None


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
    """

    step: int
    epoch: int
    logs: Mapping[str, float]
    tensors: tuple[TensorStats, ...] | None = None
    model: ModelStats | None = None

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
