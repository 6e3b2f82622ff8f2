"""The file layer SCRAM writes and reads log directories through: the one TensorBoard uses.

TensorFlow's `tf.io.gfile` when TensorFlow is already imported (Keras' TensorFlow
backend, or the user's own `import tensorflow`), else TensorBoard's own layer (local
paths, `s3://` through boto3, fsspec URLs). It never imports TensorFlow itself, so SCRAM
on JAX or PyTorch leaves it out of the process.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import ModuleType


def gfile(modules: Mapping[str, ModuleType] = sys.modules) -> ModuleType:
    """The `gfile` module for this process (`exists`, `makedirs`, `GFile`, `glob`, `walk`, ...).

    Args:
        modules: The imported modules to look for TensorFlow in (default: this process's).
    """
    tensorflow = modules.get("tensorflow")
    io = getattr(tensorflow, "io", None)
    if io is not None and hasattr(io, "gfile"):
        return io.gfile
    from tensorboard.compat.tensorflow_stub.io import gfile as tensorboard_gfile

    return tensorboard_gfile
