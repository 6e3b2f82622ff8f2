"""loss_not_decreasing: the loss stays flat after warm-up."""

from __future__ import annotations

from tensorboard_plugin_scram.checks._advice import idiom, optimizer_snippet
from tensorboard_plugin_scram.checks._metrics import all_finite, loss_floor
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import EpochObservation


class LossNotDecreasing(Check):
    """## What it does
    At each epoch's end, checks whether the training loss is still going down while it
    is far from where a trained model would be.

    ## Why is this bad?
    A loss that stays flat means the model is not learning: the learning rate is too low
    or too high, the labels do not match the inputs, the data are not normalised, or the
    gradients do not flow. Training longer will not help.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-7), ...)
    ```

    ## Fix
    Check the other diagnostics first (learning rate, normalisation, labels); then try a
    learning rate of 1e-3 with Adam.

    ## Rule
    Progress is judged over optimizer steps, not epochs: an epoch of a tiny data set
    (or a full batch) is one step, and a handful of steps is no evidence either way.
    Once at least `warmup` epochs and `warmup_steps` steps lie before the judged window,
    the window is the last `window` epochs, extended back until it spans at least
    `window_steps` steps. Fires when the window's best epoch loss is not at least
    `min_improvement` (relative) below the best loss before it, while the loss is still
    above `converged_share` of the first epoch's loss (a model that already learned and
    then levels off is converging, not stuck). Both losses are counted above the lowest
    loss the labels allow: 0, or for soft targets under binary cross-entropy (ratings
    scaled to [0, 1]) their entropy, estimated from the targets' mean and spread. A
    full-batch run at Adam's default rate (loss falling 0.4% a step, from 1.35 to 0.67
    in 200 steps) improves by far more than 1% over 50 steps; a learning rate of 1e-7
    does not. SageMaker Debugger's
    LossNotDecreasing compares over a window too; its false alarms came from judging
    sparse samples, which epochs avoid.
    """

    id = "loss_not_decreasing"
    title = "Loss is not decreasing"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"warmup": 2, "window": 3, "warmup_steps": 50, "window_steps": 50, "min_improvement": 0.01,
                  "converged_share": 0.7}

    def on_epoch(self, obs: EpochObservation, history: History) -> Findings:
        if not all_finite(obs.logs.get("loss")):
            return None  # a NaN loss is nan_loss's to report
        split = self._split(history)
        if split is None:
            return None
        losses = [e.logs.get("loss") for e in history.epochs]
        if not all_finite(*losses):
            return None
        window, steps = split
        before, recent = min(losses[:-window]), min(losses[-window:])
        stalled = recent > before * (1 - self.threshold("min_improvement"))
        floor = loss_floor(history)  # soft targets under binary cross-entropy never reach 0
        high = losses[-1] - floor >= (losses[0] - floor) * self.threshold("converged_share")
        if not (stalled and high):
            return []
        return [Finding(
            title=self.title,
            explanation=(f"The training loss has not improved over the last {window} epochs ({steps} optimizer "
                         f"steps; best {recent:.4g} vs {before:.4g} before) and is still "
                         f"{losses[-1] / losses[0]:.0%} of its first-epoch value {losses[0]:.4g}. The model is "
                         "likely not learning."),
            suggestion="Look at the learning rate (too low or too high), the input scaling and the labels; "
                       "if they are fine, try a larger model or another optimizer.",
            snippet=idiom(history.run.framework,
                          "model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=..., metrics=[...])",
                          optimizer_snippet("Adam", 1e-3, history.run.framework)),
            evidence={"best_recent": recent, "best_before": before, "first_epoch_loss": losses[0],
                      "window_epochs": window, "window_steps": steps,
                      "min_improvement": self.threshold("min_improvement")},
            location=history.run.compile_location,
        )]

    def _split(self, history: History) -> tuple[int, int] | None:
        """`(epochs, steps)` of the window to judge, or None while too few steps lie before or in it."""
        steps = history.epoch_steps()
        window, in_window = 0, 0
        while window < len(steps) and (window < self.threshold("window") or in_window < self.threshold("window_steps")):
            window += 1
            in_window += steps[-window]
        before = steps[:-window] if window < len(steps) else []
        if len(before) < self.threshold("warmup") or sum(before) < self.threshold("warmup_steps") \
                or in_window < self.threshold("window_steps"):
            return None
        return window, in_window
