"""Helpers shared by the checks of the model's internals (`BatchObservation.model`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from tensorboard_plugin_scram.checks.base import Check
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, LayerStats, ModelStats, RunInfo


class Streaks:
    """How many measured samples in a row a condition held, per key (e.g. per layer), and since when."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._since: dict[str, int | None] = {}

    def update(self, hits: Iterable[str], step: int | None = None) -> dict[str, int]:
        """Counts one more sample (taken at `step`) for each key in `hits`; every other key starts over."""
        hits = set(hits)
        self._counts = {key: self._counts.get(key, 0) + 1 for key in hits}
        self._since = {key: self._since.get(key, step) for key in hits}
        return dict(self._counts)

    def since(self, key: str) -> int | None:
        """The step of the first sample of `key`'s current streak (None: no streak, or no step given)."""
        return self._since.get(key)

    def pending(self, patience: float) -> bool:
        """Whether some key held on fewer than `patience` samples in a row so far."""
        return any(count < patience for count in self._counts.values())


class StreakCheck(Check):
    """A check of the measured internals that reports a condition held on `patience` samples in a row.

    It suspects the condition from its first sighting on, which brings the next
    measurement closer: a real fault is confirmed a few steps later, not a hundred.
    """

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._streaks = Streaks()

    def suspects(self) -> bool:
        return self._streaks.pending(self.threshold("patience"))


# A loss this many times its first value has blown up already (`loss_diverging` says so).
BLOWN_UP = 1e6


def measured(obs: BatchObservation, history: History) -> ModelStats | None:
    """The model's statistics worth judging, or None: not measured, or the run already broke.

    Once the loss or the weights are NaN or infinite, or the loss is `BLOWN_UP` times its
    first value, dead units, constant predictions, huge gradients and odd updates are
    consequences of that failure, which `nan_loss` and `loss_diverging` report; judging
    them would bury the cause under its symptoms.
    """
    model = obs.model
    if model is None or any(layer.nonfinite_weights for layer in model.layers):
        return None
    first = history.first_loss
    for _, loss in history.losses:
        if not math.isfinite(loss) or (first is not None and first > 0 and loss >= BLOWN_UP * first):
            return None
    return model


def with_gradients(layers: Sequence[LayerStats]) -> list[LayerStats]:
    """The layers with trainable weights whose gradient was measured, in forward order."""
    return [layer for layer in layers if layer.weight_norm is not None and layer.grad_norm is not None]


def update_ratio(layer: LayerStats) -> float | None:
    """`|update| / |weights|` per training step, or None when not measured or undefined."""
    if layer.update_norm is None or not layer.update_steps or not layer.weight_norm:
        return None
    return layer.update_norm / layer.update_steps / layer.weight_norm


def names(layers: Iterable[LayerStats]) -> str:
    """`'dense'`, `'dense' and 'dense_1'`, `'a', 'b' and 'c'`."""
    return quoted_list(layer.name for layer in layers)


def quoted_list(items: Iterable[str]) -> str:
    """`'a'`, `'a' and 'b'`, `'a', 'b' and 'c'`."""
    quoted = [f"'{item}'" for item in items]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def layer_line(layer: LayerStats, **arguments: str) -> str:
    """A line re-creating the layer with changed arguments, e.g. `keras.layers.Dense(..., activation="elu")`."""
    changed = ", ".join(f'{key}="{value}"' for key, value in arguments.items())
    return f"keras.layers.{layer.kind}(..., {changed})  # was layer '{layer.name}'"


def nice_number(value: float) -> float:
    """`value` rounded to 1, 2 or 5 times a power of ten (for suggested learning rates)."""
    if value <= 0 or not math.isfinite(value):
        return value
    power = 10.0 ** math.floor(math.log10(value))
    step = min((1, 2, 5, 10), key=lambda s: abs(math.log(value / power / s)))
    return float(f"{step * power:.3g}")


def lookup_table(layer: LayerStats) -> bool:
    """An Embedding (or a layer named like one): a table whose rows are looked up, not multiplied.

    Its gradient reaches only the rows of the batch's ids, each scaled by the vectors it
    meets downstream (another embedding, a small output weight): its norm says nothing
    about a gradient shrinking layer after layer.
    """
    return "Embedding" in layer.kind


def followed_by_parts(run: RunInfo) -> bool:
    """Whether the model trains through its own `train_step` without `call()`: SCRAM then follows the
    weights of its parts (`"generator.dense_2"`), without gradients, and `run`'s optimizer may not be
    the one `train_step` applies."""
    return bool(run.internals_unmeasured)


def part_names(layers: Iterable[LayerStats]) -> list[str]:
    """The parts (`"generator"` of `"generator.dense_2"`) the layers belong to, in order, each once."""
    return list(dict.fromkeys(layer.name.partition(".")[0] for layer in layers))
