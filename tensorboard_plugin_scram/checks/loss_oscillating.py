"""loss_oscillating: the loss swings up and down with no downward trend."""

from __future__ import annotations

from tensorboard_plugin_scram.checks._advice import idiom, optimizer_snippet
from tensorboard_plugin_scram.checks._metrics import all_finite
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import EpochObservation


class LossOscillating(Check):
    """## What it does
    At each epoch's end, looks at the last epochs' training loss for a zig-zag: the
    direction changes at almost every epoch, the swings are large, and the loss is no
    lower at the end of the window than at its start.

    ## Why is this bad?
    The optimizer keeps jumping across the minimum instead of descending into it,
    usually because the learning rate is too high for this stage of training (or the
    batch is tiny).

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.9, momentum=0.99), ...)
    ```

    ## Fix
    Lower the learning rate, or let it decay:
    ```python
    lr = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=1000, decay_rate=0.9)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), ...)
    ```

    ## Rule
    Over the last `window` epochs: at least `min_flips` changes of direction, swings of
    at least `min_swing` of the mean loss, and the loss at the window's end not lower
    than `trend_share` of its value at the window's start. AUTOTRAINER flags accuracy
    swings of 0.03 in 20% of epochs. Swings of 20% of the mean are far beyond the
    epoch-to-epoch noise of healthy runs, and requiring no progress keeps
    noisy-but-improving training quiet.
    """

    id = "loss_oscillating"
    title = "Loss is oscillating"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"window": 6, "min_flips": 2, "min_swing": 0.2, "trend_share": 0.95}

    def on_epoch(self, obs: EpochObservation, history: History) -> Findings:
        if not all_finite(obs.logs.get("loss")):
            return None  # a NaN loss is nan_loss's to report
        losses = history.epoch_series("loss")[-int(self.threshold("window")):]
        if len(losses) < self.threshold("window"):
            return None
        diffs = [b - a for a, b in zip(losses, losses[1:], strict=False)]
        flips = sum(1 for a, b in zip(diffs, diffs[1:], strict=False) if a * b < 0)
        mean = sum(losses) / len(losses)
        swing = (max(losses) - min(losses)) / mean if mean > 0 else 0.0
        no_progress = min(losses[-2:]) >= self.threshold("trend_share") * min(losses[:2])
        if flips < self.threshold("min_flips") or swing < self.threshold("min_swing") or not no_progress:
            return []
        return [Finding(
            title=self.title,
            explanation=(f"Over the last {len(losses)} epochs the loss changed direction {flips} times, swinging "
                         f"by {swing:.0%} of its mean ({min(losses):.4g} to {max(losses):.4g}) without going "
                         "down. The learning rate is likely too high for this stage of training."),
            suggestion="Lower the learning rate, or use a schedule that decays it.",
            snippet=idiom(history.run.framework,
                          "lr = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=1000, decay_rate=0.9)\n"
                          "model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=..., metrics=[...])",
                          optimizer_snippet("Adam", 1e-3, history.run.framework) + "\n"
                          "scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)\n"
                          "# at the end of every epoch, after the optimizer's steps: scheduler.step()"),
            evidence={"losses": losses, "flips": flips, "swing": swing, "min_flips": self.threshold("min_flips"),
                      "min_swing": self.threshold("min_swing")},
            location=history.run.compile_location,
        )]
