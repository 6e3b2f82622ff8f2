"""What kind of problem a loss function implies."""

from __future__ import annotations

from tensorboard_plugin_scram.observations import LossInfo, OutputInfo, RunInfo

SPARSE = ("sparse_categorical_crossentropy",)
CATEGORICAL = ("categorical_crossentropy", "categorical_focal_crossentropy")
BINARY = ("binary_crossentropy", "binary_focal_crossentropy")
REGRESSION = ("mean_squared_error", "mean_absolute_error", "huber", "log_cosh",
              "mean_squared_logarithmic_error", "mean_absolute_percentage_error")
PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")
NO_ACTIVATION = (None, "linear")


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
    return list(zip(run.outputs, run.losses))


def class_count(run: RunInfo) -> int | None:
    """Classes of a single classification output (2 for one sigmoid unit), or None."""
    if len(run.outputs) != 1 or not run.losses or not is_classification(run.losses[0]):
        return None
    units = run.outputs[0].units
    if units is None or units < 1:  # unknown, or a degenerate zero-unit output
        return None
    return 2 if units == 1 else units
