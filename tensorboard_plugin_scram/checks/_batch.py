"""Shapes derived from a sampled batch's statistics, and the chances a random batch gives."""

from __future__ import annotations

import math

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


def samples(t: TensorStats, run: RunInfo, tensors: tuple[TensorStats, ...]) -> int | None:
    """Samples in the batch of a label tensor: from an input's size, else its class counts' sum.

    The input first: sequence labels are counted at every time step, and the positions of
    one sequence are not independent draws (a batch of 4 sequences is 4 samples, not 4 x 40).
    """
    return batch_size(run, tensors) or (sum(t.class_counts) if t.class_counts else None)


def scored_counts(counts: tuple[int, ...], run: RunInfo) -> tuple[int, ...]:
    """Labels per class without those of the class a sparse loss ignores (`ignore_class`): never scored."""
    ignored = {loss.ignore_class for loss in run.losses if loss.ignore_class is not None}
    return tuple(0 if label in ignored else count for label, count in enumerate(counts))


def single_label_chance(frequencies: list[float], size: int) -> float:
    """The chance that a random batch of `size` samples holds one class only, at these class frequencies."""
    return min(1.0, sum(p ** size for p in frequencies if p > 0))


def at_least_chance(chances: list[float], hits: int) -> float:
    """The chance of at least `hits` successes among independent trials with these chances (Poisson-binomial)."""
    # ways[k]: the chance of exactly k successes among the trials so far.
    ways = [1.0]
    for p in chances:
        ways = [a * (1 - p) + b * p for a, b in zip([*ways, 0.0], [0.0, *ways], strict=True)]
    return min(1.0, sum(ways[hits:]))




def binomial_tail(trials: int, p: float, hits: int) -> float:
    """The chance of at least `hits` successes in `trials` independent trials of chance `p`.

    In O(trials - hits) terms, computed in logs: prediction batches may count many values.
    """
    if hits <= 0 or p >= 1:
        return 1.0 if hits <= trials else 0.0
    if hits > trials or p <= 0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    top = math.lgamma(trials + 1)
    return min(1.0, sum(math.exp(top - math.lgamma(k + 1) - math.lgamma(trials - k + 1) + k * log_p
                                 + (trials - k) * log_q) for k in range(hits, trials + 1)))
