"""TensorFlow's start-up noise kept off the demo's screen.

`TF_CPP_MIN_LOG_LEVEL=3` silences TensorFlow's C++ log (such as "failed call to cuInit"
on a machine without a GPU) once it is configured. A few lines come before that: the CUDA
stubs log through absl while TensorFlow's libraries load ("All log messages before
absl::InitializeLog() is called are written to STDERR", "Could not find cuda drivers"),
whatever the environment says. They go to the process's stderr at the file-descriptor
level, so only pointing descriptor 2 elsewhere while TensorFlow loads keeps them away.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

# Set before TensorFlow is imported; a value the user set wins.
QUIET_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # C++ log: fatal only
    "GRPC_VERBOSITY": "ERROR",  # gRPC, which TensorFlow loads
}


def quiet_environment() -> None:
    """Sets `QUIET_ENVIRONMENT` where the user has not."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Sends what native code writes to stderr to the null device, for the block's duration.

    An exception raised in the block propagates after stderr is back, so its traceback
    is shown.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no descriptor 2 to redirect: nothing to silence
        yield
        return
    os.dup2(null, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow (when installed) with its start-up lines silenced; later imports reuse it."""
    quiet_environment()
    with native_stderr_silenced():
        try:
            import tensorflow  # noqa: F401
        except ImportError:  # TensorBoard runs without it
            pass
