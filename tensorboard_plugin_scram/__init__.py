"""SCRAM: Simple Checks for Realtime Analysis of Model training.

`from tensorboard_plugin_scram import ScramCallback` is the public entry point, and
`tensorboard_plugin_scram.read(logdir)` gives the diagnostics written under a log
directory as objects; `ScramMonitor` (a hand-written PyTorch loop) and
`ScramLightningCallback` (PyTorch Lightning) bring the same checks to PyTorch. All are
imported lazily so that TensorBoard, which imports this package to load the plugin, never
has to import Keras, TensorFlow or torch.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["ScramCallback", "ScramLightningCallback", "ScramMonitor", "read", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "ScramCallback":
        from tensorboard_plugin_scram.keras_adapter.callback import ScramCallback

        return ScramCallback
    if name in ("ScramMonitor", "ScramLightningCallback"):  # PyTorch: torch is imported only then
        from tensorboard_plugin_scram import pytorch

        return getattr(pytorch, name)
    if name == "read":
        from tensorboard_plugin_scram.api import read

        return read
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
