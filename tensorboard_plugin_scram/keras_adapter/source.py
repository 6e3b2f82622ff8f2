"""Points at the user's code: the frame that called `fit()`, and the `compile()` before it."""

from __future__ import annotations

import ast
import functools
import os
import sys
from types import FrameType
from typing import Any

from tensorboard_plugin_scram.observations import EarlyStoppingInfo, is_validation_metric

# Frames from these packages are never the user's code.
_LIBRARY_MARKERS = tuple(
    os.sep + name + os.sep for name in ("keras", "tensorflow", "tensorboard_plugin_scram", "tf_keras", "absl")
)


def user_frame() -> FrameType | None:
    """The innermost frame outside Keras, TensorFlow and SCRAM (the user's `fit()` call)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not any(marker in filename for marker in _LIBRARY_MARKERS) and not filename.startswith("<"):
            return frame
        frame = frame.f_back
    return None


def locations() -> tuple[str | None, str | None]:
    """`("train.py:40", "train.py:57")`: the user's `compile()` and `fit()` calls, if found.

    `compile()` ran before SCRAM was created, so it is found in the source of the file
    that calls `fit()`: the last `.compile(...)` call above the `fit()` line.
    """
    frame = user_frame()
    if frame is None:
        return None, None
    path, fit_line = frame.f_code.co_filename, frame.f_lineno
    compile_line = _last_call_before(path, "compile", fit_line)
    name = _display_name(path)
    return (f"{name}:{compile_line}" if compile_line else None), f"{name}:{fit_line}"


def fit_arguments() -> dict:
    """The arguments of the running Keras `fit()` call (`x`, `y`, `batch_size`, ...), or {}.

    Keras gives callbacks no data; its own frame still holds what the user passed.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "fit" and os.sep + "keras" + os.sep in frame.f_code.co_filename:
            return dict(frame.f_locals)
        frame = frame.f_back
    return {}


def fit_batch_size(arguments: dict) -> int | None:
    """The batch size of a `fit()` call, from `fit_arguments()`.

    Known before the first batch, so a batch too large for memory is flagged before it
    crashes. None for data sets and generators, which batch themselves.
    """
    batch_size = arguments.get("batch_size")
    if isinstance(batch_size, int) and batch_size > 0:
        return batch_size
    return 32 if is_arrays(arguments.get("x")) else None  # Keras' default for arrays


def fit_weighting(arguments: dict) -> dict[str, bool]:
    """`{"class_weighted": ..., "sample_weighted": ...}` of a `fit()` call, from `fit_arguments()`.

    A weighted training loss is not comparable with the unweighted validation loss, and
    a user who weights classes already handles their imbalance.
    """
    x = arguments.get("x")
    spec = getattr(x, "element_spec", None)  # a tf.data.Dataset yielding (x, y, weights)
    in_data = isinstance(spec, tuple) and len(spec) == 3
    return {"class_weighted": bool(arguments.get("class_weight")),
            "sample_weighted": arguments.get("sample_weight") is not None or in_data}


def fit_early_stopping(arguments: dict) -> dict[str, Any]:
    """`{"early_stopping": ..., "best_checkpoint": ...}` from `fit()`'s callbacks, each if present.

    A run that overfits towards its end is what these are for: whether the user keeps the
    best epoch (an `EarlyStopping` restoring its weights, a `ModelCheckpoint` saving only
    the best) decides what is left to tell them. Found by class name, so that subclasses
    and `tf_keras`' own count too.
    """
    facts: dict[str, Any] = {}
    for callback in _user_callbacks(arguments):
        monitor = getattr(callback, "monitor", None)
        if not isinstance(monitor, str):
            continue
        if _is_a(callback, "EarlyStopping") and "early_stopping" not in facts:
            facts["early_stopping"] = EarlyStoppingInfo(
                monitor=monitor, restores_best=bool(getattr(callback, "restore_best_weights", False)),
                patience=int(getattr(callback, "patience", 0) or 0),
                higher_is_better=_higher_is_better(monitor, getattr(callback, "mode", "auto")))
        path = getattr(callback, "filepath", None)
        if _is_a(callback, "ModelCheckpoint") and getattr(callback, "save_best_only", False) \
                and is_validation_metric(monitor) and path and "best_checkpoint" not in facts:
            facts["best_checkpoint"] = os.fspath(path)
    return facts


def _higher_is_better(monitor: str, mode: str) -> bool:
    """Keras' reading of an `EarlyStopping` mode; "auto" judged by the metric's name, as most metrics go."""
    if mode in ("min", "max"):
        return mode == "max"
    return any(word in monitor for word in ("acc", "auc", "precision", "recall", "f1", "iou"))


def _user_callbacks(arguments: dict) -> list:
    callbacks = arguments.get("callbacks") or ()
    callbacks = getattr(callbacks, "callbacks", callbacks)  # Keras wraps the list in a CallbackList
    return list(callbacks) if isinstance(callbacks, (list, tuple)) else []


def _is_a(callback: object, class_name: str) -> bool:
    return any(cls.__name__ == class_name for cls in type(callback).__mro__)


def is_arrays(x: object) -> bool:
    """Whether `x` is a NumPy array, or a dict/list/tuple of them."""
    if isinstance(x, dict):
        return bool(x) and all(is_arrays(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return bool(x) and all(is_arrays(v) for v in x)
    return hasattr(x, "shape") and hasattr(x, "dtype") and type(x).__module__.startswith("numpy")


def take_rows(value: Any, rows: Any) -> Any:
    """The same rows (an index array or a slice) of every array in `value` (dict/list/tuple/array)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: take_rows(v, rows) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(take_rows(v, rows) for v in value)
    return value[rows]


def _last_call_before(path: str, method: str, line: int) -> int | None:
    lines = [n for n in _method_call_lines(path, method) if n <= line]
    return max(lines) if lines else None


@functools.lru_cache(maxsize=32)
def _method_call_lines(path: str, method: str) -> tuple[int, ...]:
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return ()
    return tuple(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
    )


def _display_name(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return os.path.basename(path)
    return relative if not relative.startswith("..") else os.path.basename(path)
