"""SCRAM on Keras' TensorFlow backend: in-graph probes for `tf.data`, measurements under `GradientTape`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tensorboard_plugin_scram.keras_adapter.backends.tensorflow.batch_probe import BatchProbe, single_device
from tensorboard_plugin_scram.keras_adapter.backends.tensorflow.internals import GraphInternalsProbe
from tensorboard_plugin_scram.observations import LossInfo

__all__ = ["MEASURES_IN_STEP", "has_gpu", "internals_probe", "is_chief", "single_device", "step_probe",
           "weight_values"]

# A `tf.data` pipeline never reaches Python: the internals are measured inside the step.
MEASURES_IN_STEP = True


def internals_probe(model: keras.Model, losses: Sequence[LossInfo | str],
                    on_error: Callable[[BaseException], None]) -> GraphInternalsProbe:
    return GraphInternalsProbe(model, losses, on_error=on_error)


def step_probe(model: keras.Model, embedding_inputs: tuple[str, ...], on_error: Callable[[BaseException], None],
               recorders: Sequence[Callable[[Any], None]] = ()) -> BatchProbe:
    return BatchProbe(model, embedding_inputs, on_error=on_error, recorders=recorders)


def weight_values(model: keras.Model, variables: Sequence[Any]) -> list[np.ndarray]:
    # `numpy()` already returns a copy, in the weights' own dtype.
    return [np.asarray(v.numpy()) for v in variables]


def is_chief(model: keras.Model) -> bool:
    """Whether this process writes: not a worker other than the chief under MultiWorkerMirroredStrategy."""
    try:
        return bool(getattr(model.distribute_strategy.extended, "should_checkpoint", True))
    except Exception:  # no strategy: a single process
        return True


def has_gpu() -> bool:
    try:
        return bool(tf.config.list_logical_devices("GPU"))
    except Exception:
        return False
