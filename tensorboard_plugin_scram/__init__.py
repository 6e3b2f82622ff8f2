"""SCRAM: Simple Checks for Realtime Analysis of Model training.

`from tensorboard_plugin_scram import ScramCallback` is the public entry point. It is
imported lazily so that TensorBoard, which imports this package to load the plugin,
never has to import Keras or TensorFlow.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["ScramCallback", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "ScramCallback":
        from tensorboard_plugin_scram.keras_adapter.callback import ScramCallback

        return ScramCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
