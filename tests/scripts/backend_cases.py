"""Tiny real trainings on one Keras backend, for tests/test_backends.py.

`KERAS_BACKEND=jax python tests/scripts/backend_cases.py CASE ...` prints one JSON object:
per case the (check, severity) pairs SCRAM found and what the case measured, plus whether
TensorFlow was imported. Keras fixes its backend at import, so each backend needs a
process of its own. With `SCRAM_TEST_WITHOUT_TENSORFLOW=1`, `import tensorflow` fails in
the process, as where it is not installed; with `SCRAM_TEST_DATA_PARALLEL=1` (JAX), Keras
trains data-parallel over the host's devices.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import sys
import tempfile


class _NoTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes `import tensorflow` fail, as in an environment where it is not installed.

    `find_spec` still answers (PyTorch asks it which libraries exist, and takes None for
    "absent"); loading the module is what fails.
    """

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r} (blocked by the test)", name=spec.name)

    def exec_module(self, module):
        raise ModuleNotFoundError(f"No module named {module.__name__!r}")


if os.environ.get("SCRAM_TEST_WITHOUT_TENSORFLOW"):
    sys.meta_path.insert(0, _NoTensorFlow())

import keras  # noqa: E402

if os.environ.get("SCRAM_TEST_DATA_PARALLEL"):  # JAX over the host devices XLA_FLAGS makes
    import jax  # noqa: E402

    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from tensorboard_plugin_scram import ScramCallback  # noqa: E402
from tensorboard_plugin_scram.checks import Check  # noqa: E402


class ModelSpy(Check):
    """Counts the batches that carry the model's internals, and keeps their gradient norms."""

    id = "model_spy"
    title = "Model internals seen"
    batch_needs = frozenset({"model"})

    def __init__(self) -> None:
        super().__init__()
        self.grad_norms: list[list[float | None]] = []

    def on_batch(self, obs, history):
        self.grad_norms.append([layer.grad_norm for layer in obs.model.layers])
        return []


class CompiledPasses(keras.callbacks.Callback):
    """On JAX: how many measurement passes were compiled for the model, when training starts and ends."""

    def __init__(self) -> None:
        super().__init__()
        self.at_first_step: int | None = None
        self.at_end: int | None = None

    def _count(self) -> int | None:
        if keras.backend.backend() != "jax":
            return None
        from tensorboard_plugin_scram.keras_adapter.backends import jax_backend

        entry = jax_backend._compiled_passes.get(self.model)
        return len(entry[2]) if entry else 0

    def on_train_batch_begin(self, batch, logs=None):
        if self.at_first_step is None:
            self.at_first_step = self._count()

    def on_train_end(self, logs=None):
        self.at_end = self._count()


def digits(scale: float = 1 / 16) -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    # 1,600 of the 1,797 samples: every batch of 32, also with a fifth held out, splits evenly over 2 devices.
    order = np.random.default_rng(0).permutation(len(x))[:1600]
    return (x[order] * scale).astype("float32"), y[order].astype("int64")


def mlp(hidden: int = 32, activation: str = "relu", layers: int = 1, **dense) -> keras.Model:
    stack = [keras.Input((64,))]
    stack += [keras.layers.Dense(hidden, activation=activation, **dense) for _ in range(layers)]
    return keras.Sequential([*stack, keras.layers.Dense(10, activation="softmax")])


class Batches(keras.utils.PyDataset):
    """The arrays as a PyDataset: data SCRAM cannot read from `fit()`'s arguments."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int = 32) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[rows], self.y[rows]


def train(model: keras.Model, x, y=None, optimizer="adam", loss="sparse_categorical_crossentropy", epochs: int = 3,
          **fit_args) -> dict:
    keras.utils.set_random_seed(0)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    spy = ModelSpy()
    callback = ScramCallback(tempfile.mkdtemp(), verbose=0, internals_every=10, extra_checks=[spy])
    passes = CompiledPasses()
    crashed = None
    try:
        if y is None:
            model.fit(x, epochs=epochs, verbose=0, callbacks=[callback, passes], **fit_args)
        else:
            model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=[callback, passes], **fit_args)
    except Exception as error:  # the user's training failing is a result here
        crashed = type(error).__name__
    return {"found": sorted({(d.check, d.severity.name.lower()) for d in callback.diagnostics}), "crashed": crashed,
            "measured": len(spy.grad_norms), "passes": [passes.at_first_step, passes.at_end],
            "grad_norms_finite": bool(spy.grad_norms) and all(
                g is not None and np.isfinite(g) for row in spy.grad_norms for g in row)}


def healthy() -> dict:
    x, y = digits()
    return train(mlp(), x, y, validation_split=0.2)


def healthy_pydataset() -> dict:
    x, y = digits()
    return train(mlp(), Batches(x, y))


def nan_inputs() -> dict:
    x, y = digits()
    x[100, 3] = np.nan
    return train(mlp(), x, y, epochs=1)


def nan_inputs_pydataset() -> dict:
    x, y = digits()
    x[100, 3] = np.nan
    return train(mlp(), Batches(x, y), epochs=1)


def nan_inputs_dataloader() -> dict:
    """PyTorch only: a `torch.utils.data.DataLoader` straight into `fit()`."""
    import torch

    x, y = digits()
    x[100, 3] = np.nan
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=32, shuffle=True)
    return train(mlp(), loader, epochs=1)


def huge_learning_rate() -> dict:
    x, y = digits()
    return train(mlp(), x, y, optimizer=keras.optimizers.SGD(learning_rate=1e10), epochs=2)


def unnormalized() -> dict:
    x, y = digits(scale=255 / 16)  # raw 0..255 pixel values
    return train(mlp(), x, y, validation_split=0.2)


def softmax_one_unit() -> dict:
    x, y = digits()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="softmax")])
    return train(model, x, (y % 2).astype("float32"), loss="binary_crossentropy", epochs=1)


def binary_loss_on_class_ids() -> dict:
    """Binary cross-entropy on the digits' ids 0-9 (PyTorch's loss raises at the first step)."""
    x, y = digits()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    return train(model, x, y.astype("float32"), loss="binary_crossentropy", epochs=1)


def dead_relu() -> dict:
    x, y = digits()
    return train(mlp(bias_initializer=keras.initializers.Constant(-20.0)), x, y, epochs=2)


def frozen_learning_rate() -> dict:
    x, y = digits()
    return train(mlp(), x, y, optimizer=keras.optimizers.SGD(learning_rate=0.0), epochs=3)


def sigmoid_stack() -> dict:
    x, y = digits(scale=255 / 16)
    return train(mlp(hidden=16, activation="sigmoid", layers=5), x, y, optimizer=keras.optimizers.SGD(0.01), epochs=3)


class OwnLoss(keras.Model):
    """A subclassed model with its own `compute_loss`, as users write on any backend."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = keras.layers.Dense(32, activation="relu")
        self.out = keras.layers.Dense(10, activation="softmax")

    def call(self, x, training=False):
        return self.out(self.hidden(x))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, y_pred))


def own_compute_loss() -> dict:
    x, y = digits()
    return train(OwnLoss(), x, y, epochs=2)


def refit_with_a_frozen_layer() -> dict:
    """A second fit() after freezing the first layer and recompiling: the measurement follows the model."""
    x, y = digits()
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    spy = ModelSpy()
    callback = ScramCallback(tempfile.mkdtemp(), verbose=0, internals_every=10, extra_checks=[spy])
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[callback])
    first_fit = len(spy.grad_norms)
    model.layers[0].trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[callback])
    return {"found": sorted({(d.check, d.severity.name.lower()) for d in callback.diagnostics}),
            "measured": len(spy.grad_norms) - first_fit, "last_grad_norms": spy.grad_norms[-1]}


def identical_weights() -> dict:
    """Weights after a fit with dropout and batch normalisation, with and without SCRAM."""
    x, y = digits()

    def weights(callbacks: list) -> list[np.ndarray]:
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                                  keras.layers.BatchNormalization(), keras.layers.Dropout(0.3),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x[:512], y[:512], epochs=2, batch_size=32, verbose=0, callbacks=callbacks)
        return [np.asarray(w) for w in model.get_weights()]

    plain = weights([])
    spy = ModelSpy()
    watched = weights([ScramCallback(tempfile.mkdtemp(), verbose=0, internals_every=5, extra_checks=[spy])])
    same = len(plain) == len(watched) and all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(plain, watched, strict=True))
    return {"found": [], "measured": len(spy.grad_norms), "weights": len(plain), "identical": same}


CASES = {f.__name__: f for f in (
    healthy, healthy_pydataset, nan_inputs, nan_inputs_pydataset, huge_learning_rate, unnormalized, softmax_one_unit,
    binary_loss_on_class_ids, dead_relu, frozen_learning_rate, sigmoid_stack, own_compute_loss, identical_weights,
    refit_with_a_frozen_layer)}


# Cases that only one backend can run.
BACKEND_CASES = {"torch": {"nan_inputs_dataloader": nan_inputs_dataloader}}


def main(names: list[str]) -> None:
    cases = {**CASES, **BACKEND_CASES.get(keras.backend.backend(), {})}
    results = {name: cases[name]() for name in (names or cases)}
    print(json.dumps({"backend": keras.backend.backend(), "cases": results,
                      "tensorflow_imported": "tensorflow" in sys.modules}))


if __name__ == "__main__":
    main(sys.argv[1:])
