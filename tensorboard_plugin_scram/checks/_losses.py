"""What kind of problem a loss function implies."""

from __future__ import annotations

from tensorboard_plugin_scram.observations import LossInfo, OutputInfo, RunInfo, TensorStats

# PyTorch's NLLLoss takes class ids too, and log-probabilities (log_softmax) as its input.
NEGATIVE_LOG_LIKELIHOOD = "negative_log_likelihood"
SPARSE = ("sparse_categorical_crossentropy", NEGATIVE_LOG_LIKELIHOOD)
CATEGORICAL = ("categorical_crossentropy", "categorical_focal_crossentropy")
BINARY = ("binary_crossentropy", "binary_focal_crossentropy")
REGRESSION = ("mean_squared_error", "mean_absolute_error", "huber", "log_cosh",
              "mean_squared_logarithmic_error", "mean_absolute_percentage_error")
PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")
# The values each output activation can produce, `(lowest, highest)`.
ACTIVATION_RANGES: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0), "hard_silu": (-0.375, float("inf")),
    "tanh": (-1.0, 1.0), "softsign": (-1.0, 1.0), "hard_tanh": (-1.0, 1.0),
    "relu": (0.0, float("inf")), "relu6": (0.0, 6.0), "softplus": (0.0, float("inf")),
    "exponential": (0.0, float("inf")), "elu": (-1.0, float("inf")), "selu": (-1.7581, float("inf")),
    "gelu": (-0.17, float("inf")), "silu": (-0.2785, float("inf")), "swish": (-0.2785, float("inf")),
}


def is_classification(loss: LossInfo) -> bool:
    return loss.name in SPARSE + CATEGORICAL + BINARY


def pairs(run: RunInfo) -> list[tuple[OutputInfo, LossInfo]]:
    """Outputs with their losses: by output name when the losses were given by name,
    one loss for every output, or in order."""
    named = {loss.output: loss for loss in run.losses if loss.output}
    if named:
        return [(output, named[output.layer]) for output in run.outputs if output.layer in named]
    if len(run.losses) == 1:
        return [(output, run.losses[0]) for output in run.outputs]
    return list(zip(run.outputs, run.losses, strict=False))


def with_labels(pairs: list[tuple[OutputInfo, LossInfo]],
                targets: list[TensorStats]) -> list[tuple[tuple[OutputInfo, LossInfo], TensorStats]]:
    """Each (output, loss) with its labels: by name for several outputs, else the only one."""
    if len(pairs) == 1 and len(targets) == 1:
        return [(pairs[0], targets[0])]
    by_name = {t.name: t for t in targets}
    return [(pair, by_name[pair[0].layer]) for pair in pairs if pair[0].layer in by_name]


def inner_layer_note(output: OutputInfo) -> str:
    """`" (the layer 'dense' in 'time_distributed')"` when the activation sits in an inner layer, else `""`."""
    return f" (the layer '{output.activation_layer}' in '{output.layer}')" if output.activation_layer else ""


def class_count(run: RunInfo) -> int | None:
    """Classes of a single classification output (2 for one sigmoid unit), or None."""
    if len(run.outputs) != 1 or not run.losses or not is_classification(run.losses[0]):
        return None
    units = run.outputs[0].units
    if units is None or units < 1:  # unknown, or a degenerate zero-unit output
        return None
    return 2 if units == 1 else units
