"""What the engine remembers of a run, for checks that look back in time."""

from __future__ import annotations

import collections
import math

from tensorboard_plugin_scram.observations import (
    BatchObservation,
    EpochObservation,
    RunInfo,
    TensorStats,
)

# Enough batches for windowed checks, bounded so week-long runs keep a flat memory.
BATCH_WINDOW = 2000


class History:
    """A bounded memory of a run's observations, updated by the engine.

    Attributes:
        run: What was known before training (`RunInfo`).
        losses: `(step, loss)` of recent batches, at most `BATCH_WINDOW`.
        first_loss: The first finite batch loss seen, or None.
        epochs: Every `EpochObservation`, oldest first.
        last_tensors: The most recent sampled input/target statistics.
    """

    def __init__(self, run: RunInfo | None = None) -> None:
        self.run = run or RunInfo()
        self.losses: collections.deque[tuple[int, float]] = collections.deque(maxlen=BATCH_WINDOW)
        self.first_loss: float | None = None
        self.epochs: list[EpochObservation] = []
        self.last_tensors: tuple[TensorStats, ...] = ()
        self._target_sums: dict[str, tuple[float, int]] = {}
        self._label_counts: dict[str, list[int]] = {}

    def add_batch(self, obs: BatchObservation) -> None:
        loss = obs.logs.get("loss")
        if loss is not None:
            self.losses.append((obs.step, loss))
            if self.first_loss is None and math.isfinite(loss):
                self.first_loss = loss
        if obs.tensors is not None:
            self.last_tensors = obs.tensors
            for t in obs.tensors:
                if t.role == "target" and t.count > t.nonfinite:
                    total, count = self._target_sums.get(t.name, (0.0, 0))
                    self._target_sums[t.name] = (total + t.mean * t.count, count + t.count)
                if t.role == "target" and t.class_counts:
                    self._add_label_counts(t.name, t.class_counts)

    def _add_label_counts(self, name: str, counts: tuple[int, ...]) -> None:
        totals = self._label_counts.setdefault(name, [])
        totals.extend([0] * (len(counts) - len(totals)))
        for label, count in enumerate(counts):
            totals[label] += count

    def add_epoch(self, obs: EpochObservation) -> None:
        self.epochs.append(obs)

    def label_counts(self, name: str) -> tuple[int, ...]:
        """Samples per class of a label tensor over every sampled batch so far (empty: not class labels)."""
        return tuple(self._label_counts.get(name, ()))

    def class_frequencies(self, name: str) -> tuple[list[float], bool]:
        """Each class's share of a label tensor's values, and whether they are exact.

        Exact when counted over all the labels given to `fit()` (`RunInfo.label_counts`),
        else estimated from the sampled batches (empty when neither counted any).
        """
        exact = self.run.label_counts.get(name)
        counts = exact or self.label_counts(name)
        seen = sum(counts)
        return ([count / seen for count in counts] if seen else []), bool(exact)

    def epoch_steps(self) -> list[int]:
        """Training steps (optimizer updates) of each epoch in `epochs`, from their last steps' indices."""
        steps, previous = [], -1
        for epoch in self.epochs:
            steps.append(max(epoch.step - previous, 1))
            previous = epoch.step
        return steps

    def target_mean(self, name: str) -> float | None:
        """Mean of a target tensor's values over every sampled batch so far."""
        total, count = self._target_sums.get(name, (0.0, 0))
        return total / count if count else None

    def epoch_series(self, key: str) -> list[float]:
        """The values of one epoch metric, oldest first (epochs without it skipped)."""
        return [e.logs[key] for e in self.epochs if key in e.logs]
