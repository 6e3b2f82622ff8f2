"""update_ratio_unusual: each step changes the weights far more or far less than ~1e-3."""

from __future__ import annotations

import math
import statistics

from tensorboard_plugin_scram.checks._advice import learning_rate_range, optimizer_snippet
from tensorboard_plugin_scram.checks._layers import (
    StreakCheck,
    followed_by_parts,
    lookup_table,
    measured,
    names,
    nice_number,
    part_names,
    quoted_list,
    update_ratio,
)
from tensorboard_plugin_scram.checks.base import Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, LayerStats, RunInfo

_HEALTHY = 1e-3


class UpdateRatioUnusual(StreakCheck):
    """## What it does
    Around sampled training steps, measures per layer the ratio of the size of one
    step's update to the size of the weights, `|dW| / |W|`, and reports layers where it
    is far from the ~1e-3 that Karpathy's "A Recipe for Training Neural Networks" and
    CS231n give as healthy.

    ## Why is this bad?
    Far above (>= 0.1) each step rewrites a tenth of the weights: training is unstable
    and units die or saturate; the learning rate is likely too high. Far below, the
    weights barely move and training crawls; the learning rate is likely too low (or
    the gradients vanish).

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-5), loss=...)
    ```

    ## Fix
    Change the learning rate by about the factor the ratio is off from 1e-3.

    ## Rule
    A warning when some layer's ratio is at least `high` (0.1, the upper end of
    TheDeepChecker's healthy range [1e-4, 1e-1]) on a sampled step; one step of that size
    is already harmful. Layers whose weights sit near zero, with a weight norm below
    `near_zero` (0.05) times the median layer's, are left out on this side: any step is a
    large share of their tiny size (a zero-initialised branch, a bias at its optimum 0, a
    1-unit Dense on a dot product whose weight was drawn near 0: 0.008 against 1.1 for
    the embeddings, ratio 0.24 at learning rate 3e-3 in a recommender that learnt well),
    while a learning rate too high, shared by all layers, shows on those of ordinary size.
    Embedding tables are left out on this side too: Adam moves each row of the batch's
    ids by about the learning rate whatever its gradient, a large share of rows that
    start at +-0.05 (ratios of 0.1-0.12 at learning rates 3e-3 to 1e-2 in recommenders
    that learnt well).
    Info when some layer's ratio is at most `low` (1e-5) on
    `patience` sampled steps in a row: slow, not broken. A layer that did not change at
    all is left to `weights_not_updating`. In SCRAM's runs, Adam at its default learning
    rate gave ratios of 2e-4 to 6e-3 (healthy MLP, CNN, batch normalisation), Adam at 0.1
    gave 0.13 on the first sampled step, SGD at 1e-5 gave 1e-6. Layers on the same side
    are reported together (the learning rate is shared), with their median ratio. The
    parts of a model that trains through its own `train_step` (a GAN's generator and
    discriminator) each have their own optimizer, whose learning rate SCRAM does not know:
    the finding names the parts (`'discriminator.dense_2'`) and the factor to change that
    optimizer's rate by.
    """

    id = "update_ratio_unusual"
    title = "Unusual update-to-weight ratio"
    severity = Severity.INFO
    confidence = Confidence.MEDIUM
    thresholds = {"high": 0.1, "low": 1e-5, "patience": 2, "near_zero": 0.05}
    batch_needs = frozenset({"model"})

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        model = measured(obs, history)
        if model is None:
            return None
        ratios = {layer.name: (layer, update_ratio(layer)) for layer in model.layers}
        ratios = {name: (layer, r) for name, (layer, r) in ratios.items() if r is not None and r > 0}
        if not ratios:
            return None
        sizable = _ordinary_layers([layer for layer, _ in ratios.values()], self.threshold("near_zero"))
        high = [(layer, r) for layer, r in ratios.values() if r >= self.threshold("high") and layer.name in sizable]
        low = [(layer, r) for layer, r in ratios.values() if r <= self.threshold("low")]
        # Only the low side waits for `patience` (a high one is reported at once): its streak
        # alone is what `suspects` may look closer at.
        streaks = self._streaks.update(["low"] if low else [])
        findings = []
        if high:
            findings.append(self._finding("high", high, obs.step, history.run))
        if low and streaks["low"] >= self.threshold("patience"):
            findings.append(self._finding("low", low, obs.step, history.run))
        return findings

    def _finding(self, side: str, found: list[tuple[LayerStats, float]], step: int, run: RunInfo) -> Finding:
        median = statistics.median(r for _, r in found)
        layers = [layer for layer, _ in found]
        if side == "high":
            meaning = ("each step rewrites a large part of the weights, so training is likely unstable "
                       "(units die or saturate, the loss jumps); the learning rate is likely too high")
        else:
            meaning = ("the weights barely move, so training is likely very slow; the learning rate may be too "
                       "low, or the gradients reaching these layers vanish")
        listed = names(layers[:4]) + (f" and {len(layers) - 4} more" if len(layers) > 4 else "")
        # A model with its own train_step applies its own optimizers: the compiled one says nothing.
        if followed_by_parts(run):
            advice = _part_advice(side, found, median)
        else:
            advice = _rate_advice(run, _suggested(run, median))
        return Finding(
            title=f"Weight updates{advice['whose']} too {'large' if side == 'high' else 'small'}",
            explanation=(f"At step {step}, one training step changed the weights of {listed} by "
                         f"{median:.2g} of their size (median), against about {_HEALTHY:g} in healthy training"
                         f"{advice['rate']}: {meaning}.{advice['note']}"),
            suggestion=advice["suggestion"],
            snippet=advice["snippet"],
            evidence={"update_ratios": {layer.name: r for layer, r in found}, "median": median,
                      side: self.threshold(side), **advice["evidence"]},
            severity=Severity.WARNING if side == "high" else Severity.INFO,
            confidence=Confidence.MEDIUM if side == "high" else Confidence.LOW,
            key=side,
            location=run.compile_location or run.fit_location,
        )


def _rate_advice(run: RunInfo, suggested: float | None) -> dict:
    """The fix through the compiled optimizer's learning rate."""
    lr = run.learning_rate
    return {
        "whose": "", "note": "", "rate": f" (learning rate {lr:g})" if lr is not None else "",
        "suggestion": (f"Change the learning rate by about the factor the ratio is off (try {suggested:g})."
                       if suggested else "Change the learning rate by about the factor the ratio is off."),
        "snippet": optimizer_snippet(run.optimizer, suggested, run.framework) if suggested else None,
        "evidence": {"learning_rate": lr},
    }


def _part_advice(side: str, found: list[tuple[LayerStats, float]], median: float) -> dict:
    """The fix for parts of a model with its own train_step: each part has its own optimizer, whose learning
    rate SCRAM does not know, so the fix is a factor."""
    parts = quoted_list(part_names(layer for layer, _ in found))
    factor = nice_number(median / _HEALTHY) if side == "high" else nice_number(_HEALTHY / median)
    change = "Divide" if side == "high" else "Multiply"
    return {
        "whose": f" of {parts}", "rate": "",
        "note": (f" The learning rate meant is that of the optimizer train_step applies to {parts}, not the one "
                 "given to compile()."),
        "suggestion": f"{change} the learning rate of the optimizer that updates {parts} by about {factor:g}, "
                      "where you create it.",
        "snippet": (f"# where you create the optimizer train_step applies to {parts} (keep its class):\n"
                    f"optimizer = keras.optimizers.Adam(learning_rate=current_rate {'/' if side == 'high' else '*'} "
                    f"{factor:g})"),
        "evidence": {"factor": factor},
    }


def _ordinary_layers(layers: list[LayerStats], near_zero: float) -> set[str]:
    """The names of the layers whose high ratio means a learning rate too high: weights not near zero
    (at least `near_zero` times the median layer's weight norm), and not a lookup table.

    A layer whose weights sit near zero (a zero-initialised branch, a bias-only scale at
    its optimum 0, a 1-unit Dense whose weight was drawn near 0) changes by a large share
    of its tiny size at any learning rate; a learning rate too high shows on the layers
    of ordinary size, which share it. Lookup tables (Embedding) are left out too: Adam
    moves each row of the batch's ids by about the learning rate whatever its gradient,
    a large share of rows initialised at +-0.05, while they learn as they should.
    """
    typical = statistics.median(layer.weight_norm for layer in layers)
    return {layer.name for layer in layers if layer.weight_norm >= near_zero * typical and not lookup_table(layer)}


def _suggested(run: RunInfo, ratio: float) -> float | None:
    """The learning rate that would bring the ratio near 1e-3, kept within the optimizer's usual range."""
    lr = run.learning_rate
    if lr is None or lr <= 0 or not math.isfinite(ratio) or ratio <= 0:
        return None
    target = lr * _HEALTHY / ratio
    usual = learning_rate_range(run.optimizer)
    if usual is not None:
        target = min(max(target, usual[0]), usual[1])
    return nice_number(target)
