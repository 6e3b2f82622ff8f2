"""The fault zoo: labelled tiny training jobs, healthy and faulty.

Importing this package registers every scenario in `REGISTRY` (name -> `Scenario`).
"""

from __future__ import annotations

from bench.zoo import (  # noqa: F401
    data_faults,
    healthy,
    internals,
    loss_faults,
    metric_faults,
    paper,
    real_internals,
    real_models,
    real_training,
    static,
)
from bench.zoo.registry import REGISTRY, Job, Scenario, Trace

# The stable check ids of the catalogue (24 from issue 4, more since); each needs a faulty scenario.
CATALOGUE = (
    "output_activation_loss_mismatch", "label_output_mismatch", "learning_rate_unusual", "no_trainable_weights",
    "batch_memory_risk", "input_not_normalized", "input_contains_nan", "class_imbalance", "nan_loss",
    "loss_diverging", "loss_not_decreasing", "loss_oscillating", "overfitting", "train_val_mismatch",
    "accuracy_at_chance", "constant_predictions", "data_not_shuffled", "vanishing_gradients",
    "exploding_gradients", "dead_relu", "saturated_activations", "weights_not_updating", "update_ratio_unusual",
    "cannot_overfit_batch",
    # Issue 17: output activations whose range cannot reach the targets.
    "output_range_mismatch",
)


GROUPS = ("healthy", "paper", "static", "data_faults", "loss_faults", "metric_faults", "internals",
          # Classes of faults seen in real users' programs (issue 17), each with a healthy twin.
          "real_models", "real_training", "real_internals")


def select(names: list[str] | None = None) -> list[Scenario]:
    """The scenarios with these names (all when None, healthy first, then by group)."""
    if not names:
        return sorted(REGISTRY.values(), key=lambda s: GROUPS.index(s.group))
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise KeyError(f"unknown scenario {unknown[0]!r}; known: {', '.join(REGISTRY)}")
    return [REGISTRY[n] for n in names]


__all__ = ["CATALOGUE", "GROUPS", "REGISTRY", "Job", "Scenario", "Trace", "select"]
