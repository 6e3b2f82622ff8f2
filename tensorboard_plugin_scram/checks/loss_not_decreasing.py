"""loss_not_decreasing: the loss stays flat after warm-up."""

from __future__ import annotations

from tensorboard_plugin_scram.checks._metrics import all_finite
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
    After `warmup` epochs, fires when the best loss of the last `window` epochs is not
    at least `min_improvement` (relative) below the best loss before them, while the
    loss is still above `converged_share` of the first epoch's loss (a model that
    already learned and then levels off is converging, not stuck). SageMaker Debugger's
    LossNotDecreasing compares over a window too; its false alarms came from judging
    sparse samples, which epochs avoid.
    """

    id = "loss_not_decreasing"
    title = "Loss is not decreasing"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"warmup": 2, "window": 3, "min_improvement": 0.01, "converged_share": 0.7}

    def on_epoch(self, obs: EpochObservation, history: History) -> Findings:
        if not all_finite(obs.logs.get("loss")):
            return None  # a NaN loss is nan_loss's to report
        losses = history.epoch_series("loss")
        window = int(self.threshold("window"))
        if not losses or len(losses) < int(self.threshold("warmup")) + window:
            return None
        before, recent = min(losses[:-window]), min(losses[-window:])
        stalled = recent > before * (1 - self.threshold("min_improvement"))
        high = losses[-1] >= losses[0] * self.threshold("converged_share")
        if not (stalled and high):
            return []
        return [Finding(
            title=self.title,
            explanation=(f"The training loss has not improved for {window} epochs (best {recent:.4g} vs "
                         f"{before:.4g} before) and is still {losses[-1] / losses[0]:.0%} of its first-epoch "
                         f"value {losses[0]:.4g}. The model is likely not learning."),
            suggestion="Look at the learning rate (too low or too high), the input scaling and the labels; "
                       "if they are fine, try a larger model or another optimizer.",
            snippet="model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=..., metrics=[...])",
            evidence={"best_recent": recent, "best_before": before, "first_epoch_loss": losses[0],
                      "window": window, "min_improvement": self.threshold("min_improvement")},
            location=history.run.compile_location,
        )]
