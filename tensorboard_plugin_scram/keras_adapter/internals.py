"""Statistics from inside the model, measured on a sample batch at sampled training steps.

At a sampled step, `InternalsProbe.measure_on` runs one extra forward and backward pass on
a small batch of the training data, with the backend's own gradients (TensorFlow's
`GradientTape`, `jax.value_and_grad`, `torch.autograd`; see `backends/`), and summarises
it here in NumPy, per inspected layer: weight and gradient norms, the share of dead ReLU
units, the share of saturated sigmoid/tanh outputs and NaN/Inf flags, plus statistics of
the predictions. The pass leaves training untouched: nothing it computes reaches the
optimizer, and the model's state (batch normalisation statistics, dropout seeds, metrics)
is as before it.

A model whose layers' outputs cannot be caught still gets weight and gradient norms per
layer; one that cannot be introspected at all gets `layers=()`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np

from tensorboard_plugin_scram.checks._losses import is_classification
from tensorboard_plugin_scram.keras_adapter.model_facts import functional
from tensorboard_plugin_scram.keras_adapter.model_info import activation_name, loss_infos
from tensorboard_plugin_scram.observations import LayerStats, LossInfo, ModelStats, PredictionStats

# Columns of a layer's row of statistics; -1 marks "not measured".
LAYER_COLUMNS = ("weight_norm", "grad_norm", "dead_fraction", "saturated_fraction",
                 "nonfinite_output", "nonfinite_weights")
PREDICTION_COLUMNS = ("count", "majority_share", "predicted_classes", "std")
NOT_MEASURED = -1.0
# An output "pinned near a limit": within 1% of the activation's range from it, where
# its derivative is below about 4% of its peak (sigmoid 0.01/0.99, tanh +-0.98).
SATURATION_MARGIN = {"sigmoid": 0.01, "hard_sigmoid": 0.01, "tanh": 0.02}
RELU_LIKE = ("relu", "relu6")


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """What to measure for one layer, decided once when the probe is installed."""

    layer: Any
    activation: str | None
    is_output: bool
    variables: tuple[Any, ...]
    units: int | None = None


# One pass of a sample on the host: the predictions, each plan's output, and each plan
# variable's value and gradient (NumPy arrays, None where there is none).
Pass = tuple[np.ndarray, list, list, list]
GradientPass = Callable[[keras.Model, Sequence[LayerPlan], Any, Any], Pass]
# Readies the pass for batches shaped like (x, y) ahead of its first use (JAX: compiles it
# while Keras compiles its own step); same arguments as `GradientPass`, returns nothing.
PassPreparer = Callable[[keras.Model, Sequence[LayerPlan], Any, Any], None]


class InternalsProbe:
    """Per-layer and prediction statistics of a sample batch, measured when asked.

    Args:
        model: The Keras model being trained.
        losses: The model's losses (`RunInfo.losses`, or loss names), to tell
            classification from regression when summarising predictions.
        on_error: Called with the exception if the statistics cannot be built.
        gradient_pass: The backend's forward and backward pass of a sample
            (`backends.current().gradient_pass`). It must hand copies of the weights:
            they are kept to measure the next update.
        prepare: The backend's `PassPreparer`, where readying the pass is worth doing early.
    """

    def __init__(self, model: keras.Model, losses: Sequence[LossInfo | str] = (),
                 on_error: Callable[[BaseException], None] | None = None,
                 gradient_pass: GradientPass | None = None, prepare: PassPreparer | None = None) -> None:
        self._model = model
        self._signature = _signature(model, losses)
        self._classification = any(is_classification(loss) for loss in loss_infos(losses))
        self._on_error = on_error
        self._gradient_pass = gradient_pass
        self._prepare = prepare
        self._plans: list[LayerPlan] = []
        self._active = False
        self._host_stats: ModelStats | None = None
        self._host_weights: list[list[np.ndarray]] | None = None

    @property
    def layers(self) -> list[Any]:
        """The inspected Keras layers, in forward order."""
        return [plan.layer for plan in self._plans]

    def install(self) -> None:
        """Plans the layers to inspect."""
        self._plans = plan_layers(self._model)
        self._active = True

    def measures(self, model: keras.Model, losses: Sequence[LossInfo | str] = ()) -> bool:
        """Whether this working probe fits `model` as it is now: a later `fit()` can reuse it.

        It does while the model has the same layers, trainable weights and compiled loss;
        reusing it spares preparing (tracing) its measurement again.
        """
        return self._active and model is self._model and _signature(model, losses) == self._signature

    def request(self) -> None:
        """Asks for the statistics of the next training step (only a probe inside the step needs it)."""

    def read(self) -> ModelStats | None:
        """The statistics measured since the last read, or None if none was."""
        stats, self._host_stats = self._host_stats, None
        return stats if self._active else None

    def measured_weights(self) -> list[list[np.ndarray]] | None:
        """Per inspected layer, its weights as the last measurement on the host saw them (else None)."""
        return self._host_weights

    def prepare(self, x: Any, y: Any) -> None:
        """Readies the measurement of batches shaped like `(x, y)` before the first one is due."""
        if self._active and self._prepare is not None:
            self._prepare(self._model, self._plans, x, y)

    def measure_on(self, x: Any, y: Any) -> None:
        """Measures now, on a sample batch, outside the train step (results go to `read`)."""
        if self._active:
            self._host_stats = self.summarize(*self._gradient_pass(self._model, self._plans, x, y))

    def summarize(self, y_pred: np.ndarray, outputs: list, weights: list, grads: list) -> ModelStats:
        """The statistics of one pass brought to the host (`Pass`)."""
        weights = by_layer(self._plans, weights)
        grads = by_layer(self._plans, grads)
        table = layer_table(self._plans, outputs, weights, grads)
        self._host_weights = weights
        rows = table.astype(np.float32)  # as TensorFlow's in-graph probe stores them
        layers = tuple(layer_stats(plan, rows[i]) for i, plan in enumerate(self._plans))
        return ModelStats(layers=layers, predictions=prediction_stats(self.prediction_row(y_pred)))

    def prediction_row(self, pred: np.ndarray) -> np.ndarray:
        """The `PREDICTION_COLUMNS` of a batch of predictions (samples and positions in rows)."""
        pred = np.asarray(pred).astype(np.float32)
        width = pred.shape[-1] if pred.ndim > 1 else 1
        pred = pred.reshape(-1, width)
        count = float(len(pred))
        with np.errstate(all="ignore"):  # Inf predictions give a NaN spread
            std = float(np.sqrt(pred.var(axis=0)).mean()) if len(pred) else math.nan
        if not self._classification:
            return np.array([count, NOT_MEASURED, NOT_MEASURED, std], np.float32)
        if width == 1:
            in_unit = len(pred) and pred.min() >= 0.0 and pred.max() <= 1.0
            threshold = 0.5 if self.probabilities() or in_unit else 0.0
            labels, classes = (pred[:, 0] > threshold).astype(np.int64), 2
        else:  # NaN never wins
            labels, classes = np.where(np.isnan(pred), -np.inf, pred).argmax(axis=-1), width
        counts = np.bincount(labels, minlength=classes)
        share = counts.max() / max(count, 1.0)
        return np.array([count, share, np.count_nonzero(counts), std], np.float32)

    def probabilities(self) -> bool:
        """Whether the single output is a probability (threshold 0.5), as its activation says.

        An output layer whose activation is not known (a custom Layer wrapping a Dense and a
        sigmoid) is told by its values instead: all within [0, 1] are taken as probabilities.
        """
        outputs = [plan for plan in self._plans if plan.is_output]
        return bool(outputs) and outputs[0].activation in ("sigmoid", "softmax")


# -- planning (once) -------------------------------------------------------------------


def plan_layers(model: keras.Model) -> list[LayerPlan]:
    """The model's layers worth measuring, in forward order: those with weights or a ReLU/sigmoid/tanh."""
    layers = [layer for layer in getattr(model, "layers", []) if not isinstance(layer, keras.layers.InputLayer)]
    output_ids = _output_ids(model)
    plans = []
    for index, layer in enumerate(layers):
        activation = activation_name(layer)
        activation = None if activation == "linear" else activation
        variables = tuple(layer.trainable_variables)
        if not variables and activation not in (*RELU_LIKE, *SATURATION_MARGIN):
            continue
        is_output = _is_output(layer, output_ids) if output_ids else index == len(layers) - 1
        plans.append(LayerPlan(layer, activation, is_output, variables, _units(layer)))
    return plans


def _units(layer: Any) -> int | None:
    """The width of a layer's output (its last axis), where Keras knows it."""
    try:
        width = keras.tree.flatten(layer.output)[0].shape[-1]
    except Exception:  # a subclassed model's layers have no symbolic output
        return None
    return int(width) if width is not None else None


@contextlib.contextmanager
def capturing(layers: Sequence[Any]) -> Iterator[list[Any]]:
    """Catches each layer's output while the block runs (None for one called never or twice).

    Each layer's `call` is wrapped on the instance for the block only; a layer called twice
    (shared) has no single output and stays unmeasured.
    """
    outputs: list[Any] = [None] * len(layers)
    calls = [0] * len(layers)
    wrapped = []

    def recorder(index: int, call: Callable) -> Callable:
        def record(*args: Any, **kwargs: Any) -> Any:
            result = call(*args, **kwargs)
            calls[index] += 1
            first = keras.tree.flatten(result)[0] if calls[index] == 1 else None
            outputs[index] = first if hasattr(first, "shape") and hasattr(first, "dtype") else None
            return result
        return record

    try:
        for index, layer in enumerate(layers):
            if "call" not in vars(layer):  # never wrap twice
                object.__setattr__(layer, "call", recorder(index, layer.call))
                wrapped.append(layer)
        yield outputs
    finally:
        for layer in wrapped:
            object.__delattr__(layer, "call")


def _signature(model: keras.Model, losses: Sequence[Any]) -> tuple:
    """What the traced measurement depends on: layers, trainable weights, compiled loss.

    The objects themselves, not their ids: held here, they cannot be freed and their
    addresses taken by new ones (a recompiled loss could otherwise pass for the old).
    Keras variables compare element-wise, so everything is wrapped to compare by identity.
    """
    layers = tuple((_Same(layer), tuple(map(_Same, layer.trainable_variables)))
                   for layer in getattr(model, "layers", []))
    return layers, _Same(getattr(model, "_compile_loss", None)), tuple(map(str, losses))


class _Same:
    """Compares equal only to a wrapper of the very same object."""

    __slots__ = ("item",)

    def __init__(self, item: Any) -> None:
        self.item = item

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.item is self.item

    def __hash__(self) -> int:
        return id(self.item)


def _output_ids(model: keras.Model) -> set[int]:
    try:
        return {id(t) for t in keras.tree.flatten(functional(model).output)}
    except Exception:
        return set()


def _is_output(layer: Any, output_ids: set[int]) -> bool:
    try:
        return any(id(t) in output_ids for t in keras.tree.flatten(layer.output))
    except Exception:
        return False


def by_layer(plans: Sequence[LayerPlan], values: list) -> list[list]:
    """Values listed variable by variable, grouped per layer plan."""
    groups, start = [], 0
    for plan in plans:
        groups.append(values[start:start + len(plan.variables)])
        start += len(plan.variables)
    return groups


def layer_table(plans: Sequence[LayerPlan], outputs: Sequence[np.ndarray | None],
                weights: Sequence[Sequence[np.ndarray]], grads: Sequence[Sequence[np.ndarray | None]]) -> np.ndarray:
    """The `LAYER_COLUMNS` of every inspected layer, one row per layer (-1: not measured)."""
    column = {name: i for i, name in enumerate(LAYER_COLUMNS)}
    table = np.full((max(len(plans), 1), len(LAYER_COLUMNS)), NOT_MEASURED)
    table[:, [column["nonfinite_output"], column["nonfinite_weights"]]] = 0.0  # none seen until found
    for row, plan in enumerate(plans):
        if plan.variables:
            table[row, column["weight_norm"]] = _norm(weights[row])
            table[row, column["grad_norm"]] = _norm(grads[row])
            table[row, column["nonfinite_weights"]] = float(not math.isfinite(table[row, column["weight_norm"]]))
        out = outputs[row] if row < len(outputs) else None
        if out is None:
            continue
        out = out.astype(np.float32, copy=False)
        table[row, column["nonfinite_output"]] = float(not np.isfinite(out).all())
        if plan.activation in RELU_LIKE and out.ndim >= 2:
            alive = (out.reshape(-1, out.shape[-1]) > 0).any(axis=0)
            table[row, column["dead_fraction"]] = 1.0 - alive.mean()
        elif plan.activation in SATURATION_MARGIN and not plan.is_output:
            table[row, column["saturated_fraction"]] = _saturated_share(plan.activation, out)
    return table


def _norm(arrays: Sequence[np.ndarray | None]) -> float:
    """The Euclidean norm of the arrays together, in float64 (0 for none)."""
    with np.errstate(all="ignore"):  # huge or non-finite values give Inf/NaN: a NaN inside
        squares = [np.square(a.astype(np.float64)).sum() for a in arrays if a is not None]
    return float(np.sqrt(sum(squares)))


def _saturated_share(activation: str, out: np.ndarray) -> float:
    """Share of a hidden sigmoid/tanh layer's outputs pinned near their limits.

    Output layers are not measured: a confident classifier's sigmoid output is near 0 or 1
    by design.
    """
    limit = np.float32(1.0 - SATURATION_MARGIN[activation])
    if activation == "tanh":
        pinned = np.abs(out) > limit
    else:
        pinned = (out < np.float32(SATURATION_MARGIN[activation])) | (out > limit)
    return float(pinned.mean())


# -- results --------------------------------------------------------------------------


def _measured(value: float) -> float | None:
    return None if value == NOT_MEASURED else float(value)


def layer_stats(plan: LayerPlan, row: np.ndarray) -> LayerStats:
    values = dict(zip(LAYER_COLUMNS, row.tolist(), strict=True))
    return LayerStats(
        name=plan.layer.name,
        kind=type(plan.layer).__name__,
        activation=plan.activation,
        weight_norm=_measured(values["weight_norm"]),
        grad_norm=_measured(values["grad_norm"]),
        dead_fraction=_measured(values["dead_fraction"]),
        saturated_fraction=_measured(values["saturated_fraction"]),
        nonfinite_output=bool(values["nonfinite_output"]),
        nonfinite_weights=bool(values["nonfinite_weights"]),
        units=plan.units,
    )



def prediction_stats(row: np.ndarray) -> PredictionStats:
    values = dict(zip(PREDICTION_COLUMNS, row.tolist(), strict=True))
    classes = _measured(values["predicted_classes"])
    return PredictionStats(
        count=int(values["count"]),
        majority_share=_measured(values["majority_share"]),
        predicted_classes=int(classes) if classes is not None else None,
        std=float(values["std"]),
    )
