"""The opt-in active test: can a copy of the model overfit one small batch?

Karpathy's "overfit one batch": a model wired correctly drives the loss on a handful of
samples near zero within a few dozen steps. One that cannot has a bug in its wiring, its
loss or its labels. SCRAM trains a clone, so the user's model and optimizer are untouched.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import keras
import numpy as np

from tensorboard_plugin_scram.keras_adapter.source import is_arrays, take_rows
from tensorboard_plugin_scram.observations import PreflightResult

BATCH = 16
LEARNING_RATE = 1e-2
STEPS = 50


def first_batch(arguments: dict, size: int = BATCH, datasets: bool = True) -> tuple[Any, Any] | None:
    """`size` samples of what the user passed to `fit()`: arrays or a tf.data.Dataset.

    From arrays they are spread evenly over the data, so data sorted by class still give a
    sample of every class; from a data set they are its first ones.

    Generators and PyDatasets are never read: taking a batch would consume the user's data.
    A tf.data.Dataset is read only with `datasets=True`: iterating it once more advances a
    seeded shuffle, which would change the order training sees afterwards.
    """
    x, y = arguments.get("x"), arguments.get("y")
    if is_arrays(x) and (y is None or is_arrays(y)):
        count = len(keras.tree.flatten(x)[0])
        rows = np.unique(np.linspace(0, count - 1, num=min(size, count)).astype(int))
        return take_rows(x, rows), take_rows(y, rows)
    if datasets and _is_tf_dataset(x):
        batch = next(iter(x.unbatch().take(size).batch(size)), None)
        if isinstance(batch, tuple) and len(batch) >= 2:
            return batch[0], batch[1]
    return None


def overfit_one_batch(model: keras.Model, x: Any, y: Any, steps: int = STEPS) -> PreflightResult:
    """Trains a clone of `model` on (x, y) with Adam and reports the loss before and after.

    Adam at a brisk rate, rather than the user's optimizer, isolates wiring, loss and
    label bugs from learning-rate problems (which other checks report).
    """
    clone = _clone(model)
    clone.set_weights(model.get_weights())
    clone.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss=model.loss)
    first = _scalar(clone.evaluate(x, y, verbose=0))
    for _ in range(steps):
        last = _scalar(clone.train_on_batch(x, y))
    return PreflightResult(samples=_count(x), steps=steps, initial_loss=first, final_loss=last)


def _clone(model: keras.Model) -> keras.Model:
    """A copy of the model's architecture (new weights), also when it holds a Python lambda.

    Keras rebuilds each layer from its config; for a `Lambda` that would serialise the
    function, which safe mode refuses and which loses the function's globals. A `Lambda`
    is rebuilt around the very same function object instead.
    """
    return keras.models.clone_model(model, clone_function=_clone_layer)


def _clone_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    if isinstance(layer, keras.layers.Lambda):
        return keras.layers.Lambda(layer.function, output_shape=getattr(layer, "_output_shape", None),
                                   mask=getattr(layer, "mask", None), arguments=getattr(layer, "arguments", None),
                                   name=layer.name)
    return layer.__class__.from_config(layer.get_config())


def _scalar(value: Any) -> float:
    if isinstance(value, (list, tuple)):
        value = value[0]  # total loss first
    number = float(np.asarray(value))
    return number if math.isfinite(number) else float("nan")


def _count(x: Any) -> int:
    leaf = keras.tree.flatten(x)[0]
    return int(leaf.shape[0])


def _is_tf_dataset(x: Any) -> bool:
    # Only a user who imported TensorFlow can have passed a tf.data.Dataset: never import it here.
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(x, tf.data.Dataset)
