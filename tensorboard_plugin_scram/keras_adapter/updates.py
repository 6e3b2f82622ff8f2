"""How much each layer's weights changed over one training step, from host-side copies.

The weights are copied just before a measured step and compared right after it, so the
update norm is that of one step (of one execution with `steps_per_execution > 1`). Copies
are taken only around measured steps, and not at all for models above `max_params`
weights, where the transfer would cost more than the measurement is worth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# About 20 MB of float32 weights copied twice per measured step.
MAX_PARAMS = 5_000_000


class WeightSnapshots:
    """Per-layer weight copies and the L2 norm of their change.

    Args:
        layers: The Keras layers to follow, in the order of the results.
        max_params: Above this many trainable weights in all, nothing is copied.
        read: The backend's reader of variables' current values as host copies (default:
            each variable's `numpy()`).
    """

    def __init__(self, layers: Sequence[Any], max_params: int = MAX_PARAMS,
                 read: Callable[[Sequence[Any]], list[np.ndarray]] | None = None) -> None:
        self._layers = list(layers)
        self._read = read or numpy_copies
        size = sum(int(np.prod(v.shape)) for layer in self._layers for v in layer.trainable_variables)
        self.enabled = size <= max_params
        self._copies: list[list[np.ndarray]] | None = None
        self._step: int | None = None

    def take(self, step: int) -> None:
        """Copies every followed layer's weights as they are after `step`."""
        if self.enabled:
            self._copies = [self._read(layer.trainable_variables) for layer in self._layers]
            self._step = step

    def changes(self, step: int, current: Sequence[Sequence[np.ndarray]] | None = None,
                ) -> tuple[list[float | None], int | None]:
        """The update norm per layer since the copy, and the steps it spans; forgets the copy.

        Args:
            step: The step that just ended.
            current: Each layer's weights as they are now, if already on the host (else
                they are read).
        """
        copies, since = self._copies, self._step
        self._copies = self._step = None
        if copies is None or since is None or step <= since:
            return [None] * len(self._layers), None
        now = current if current is not None else [self._read(layer.trainable_variables) for layer in self._layers]
        return [_change(before, after) for before, after in zip(copies, now, strict=True)], step - since


def numpy_copies(variables: Sequence[Any]) -> list[np.ndarray]:
    # `numpy()` already returns a copy; kept in the weights' own dtype, half the bytes of float64.
    return [np.asarray(v.numpy()) for v in variables]


def _change(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> float | None:
    if not before or len(before) != len(after):
        return None
    squares = (np.square(np.subtract(a, b, dtype=np.float64)).sum() for a, b in zip(after, before, strict=True))
    return float(np.sqrt(sum(squares)))
