"""What differs between Keras' backends (TensorFlow, JAX, PyTorch), behind one small interface.

`current()` is the module for the backend Keras runs on. Each offers the same names:

- `internals_probe(model, losses, on_error)`: an `InternalsProbe` measuring with the
  backend's own gradients;
- `step_probe(model, embedding_inputs, on_error, recorders)`: statistics of the batches
  that pass the train step, for data SCRAM cannot read from arrays (a `tf.data`
  pipeline, a `PyDataset`, a generator, a `DataLoader`);
- `MEASURES_IN_STEP`: whether the internals can be measured inside the train step
  (`recorders`), else on a batch the step probe kept (`latest_sample`);
- `weight_values(model, variables)`: host copies of the variables' current values;
- `single_device(model)`, `is_chief(model)`, `has_gpu()`;
- JAX and PyTorch only: `wrap_train_function(model, see) -> undo`, which shows `see` each
  batch as Keras' train function takes it (the benchmark's paper rules use it too).

Private framework APIs live in `keras_adapter/compat/`, one module per framework.

Each module is imported only on its own backend, so TensorFlow is never imported on JAX
or PyTorch.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import keras

_MODULES = {"tensorflow": "tensorflow", "jax": "jax_backend", "torch": "torch_backend"}


def current() -> ModuleType:
    """The backend module for `keras.backend.backend()`.

    Raises:
        NotImplementedError: on a backend SCRAM does not measure (numpy, openvino).
    """
    name = keras.backend.backend()
    if name not in _MODULES:
        raise NotImplementedError(f"SCRAM supports Keras' TensorFlow, JAX and PyTorch backends, not {name!r}")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")
