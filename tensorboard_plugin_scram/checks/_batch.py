"""Shapes derived from a sampled batch's statistics."""

from __future__ import annotations

from tensorboard_plugin_scram.observations import RunInfo, TensorStats


def batch_size(run: RunInfo, tensors: tuple[TensorStats, ...]) -> int | None:
    """Samples in the batch, from an input's value count and its per-sample size."""
    for t in tensors:
        size = run.input_sizes.get(t.name)
        if t.role == "input" and size and t.count % size == 0:
            return t.count // size
    return None


def per_sample(t: TensorStats, batch: int | None) -> int | None:
    """Values per sample of a tensor (1 for class ids, k for one-hot over k classes)."""
    if not batch or t.count % batch:
        return None
    return t.count // batch
