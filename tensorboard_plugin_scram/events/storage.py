"""The file layer SCRAM writes and reads log directories through: the one TensorBoard uses.

Which layer, for a path:

- TensorFlow's `tf.io.gfile` when TensorFlow is already imported (Keras' TensorFlow
  backend, or the user's own `import tensorflow`) and registers the path's scheme: local
  paths, `gs://`, `ram://`, and whatever a TensorFlow plugin adds (`s3://` with
  `tensorflow-io` imported). Keras' own `TensorBoard` callback writes the same paths
  through it, so SCRAM writes where it does.
- Else TensorBoard's own layer (`tensorboard.compat.tensorflow_stub.io.gfile`), which
  TensorBoard itself reads through when TensorFlow is not installed: local paths, `s3://`
  through boto3 (endpoint from `S3_ENDPOINT`, credentials as boto3 finds them: `AWS_*`),
  and every fsspec protocol whose package is installed (`gs://` with gcsfs, `memory://`,
  ...). So `s3://` works in a TensorFlow process too, where `tf.io.gfile` alone would fail
  ("File system scheme 's3' not implemented").

SCRAM never imports TensorFlow itself, so SCRAM on JAX or PyTorch leaves it out of the
process. Nothing in SCRAM opens a log path any other way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from types import ModuleType


def gfile(modules: Mapping[str, ModuleType] = sys.modules, path: str | os.PathLike = "") -> ModuleType:
    """The `gfile` module for `path` in this process (`exists`, `makedirs`, `GFile`, `walk`, ...).

    Args:
        modules: The imported modules to look for TensorFlow in (default: this process's).
        path: The path the module will be used on; its scheme decides (default: a local path).
    """
    tensorflow_gfile = _tensorflow_gfile(modules)
    if tensorflow_gfile is not None and scheme(path) in _registered_schemes(tensorflow_gfile):
        return tensorflow_gfile
    from tensorboard.compat.tensorflow_stub.io import gfile as tensorboard_gfile

    return tensorboard_gfile


def scheme(path: str | os.PathLike) -> str:
    """A path's URL scheme (`"s3"` for `"s3://bucket/logs"`), `""` for a local path."""
    text = os.fspath(path)
    return text.split("://", 1)[0] if "://" in text else ""


def is_local(path: str | os.PathLike) -> bool:
    """Whether `path` is on this machine's disks (a plain path or a `file://` URL)."""
    return scheme(path) in ("", "file")


def join(directory: str, name: str) -> str:
    """`directory/name`, with the separator of URLs for a remote directory."""
    return os.path.join(directory, name) if is_local(directory) else f"{directory.rstrip('/')}/{name}"


def directory(path: str | os.PathLike) -> str:
    """A directory path as the file layers walk it: a remote one without trailing slashes.

    TensorBoard's S3 layer joins with `/`, so `s3://bucket/logs/` would be walked as keys
    under `logs//`, which hold nothing.
    """
    text = os.fspath(path)
    return text if is_local(text) else text.rstrip("/")


def directory_problem(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be read as a log directory (`"is not a directory"`, the store's error), or None."""
    try:
        found = gfile(path=path).isdir(os.fspath(path))
    except Exception as error:  # the store's own: no such bucket, no credentials, unreachable, unknown scheme
        return f"cannot be read ({type(error).__name__}: {error})"
    return None if found else "is not a directory"


def _tensorflow_gfile(modules: Mapping[str, ModuleType]) -> ModuleType | None:
    io = getattr(modules.get("tensorflow"), "io", None)
    return getattr(io, "gfile", None)


def _registered_schemes(tensorflow_gfile: ModuleType) -> frozenset[str]:
    """The schemes TensorFlow's layer handles now (a plugin imported later may add some)."""
    registered = getattr(tensorflow_gfile, "get_registered_schemes", None)
    if registered is None:  # an older TensorFlow, or a stand-in: local paths and `gs://` built in
        return frozenset({"", "file", "gs"})
    try:
        return frozenset(registered())
    except Exception:  # never let the question break a write: local paths are always there
        return frozenset({"", "file"})
