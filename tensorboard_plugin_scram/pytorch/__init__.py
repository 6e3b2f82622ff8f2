"""SCRAM for PyTorch: `ScramMonitor` for a hand-written loop, `ScramLightningCallback` for Lightning.

Imported only when one of them is asked for (`tensorboard_plugin_scram` stays free of torch).
"""

from typing import Any

__all__ = ["ScramLightningCallback", "ScramMonitor"]


def __getattr__(name: str) -> Any:
    if name == "ScramMonitor":
        from tensorboard_plugin_scram.pytorch.monitor import ScramMonitor

        return ScramMonitor
    if name == "ScramLightningCallback":
        from tensorboard_plugin_scram.pytorch.lightning import ScramLightningCallback

        return ScramLightningCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
