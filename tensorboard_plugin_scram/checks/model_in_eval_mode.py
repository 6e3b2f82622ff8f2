"""model_in_eval_mode: a PyTorch model trained while in `eval()` mode."""

from __future__ import annotations

from tensorboard_plugin_scram.checks._layers import quoted_list
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation

_SNIPPET = """for epoch in range(epochs):
    model.train()  # at the start of every epoch: eval() for validation switched it off
    for x, y in train_loader:
        ...
    model.eval()
    with torch.no_grad():
        val_loss = ...
    scram.end_epoch(val_loss=val_loss)"""


class ModelInEvalMode(Check):
    """## What it does
    PyTorch only (`ScramMonitor`, `ScramLightningCallback`): at each optimizer step, reports
    a model left in `eval()` mode while it trains, when that changes what it computes.

    ## Why is this bad?
    `model.eval()` switches Dropout off and makes BatchNorm normalise with its running
    averages, which it then stops updating. Trained that way, the model loses its
    regularisation and its BatchNorm statistics stay those of the initialisation: it
    overfits, or trains on a normalisation that does not match the data. Nothing raises.
    The usual cause is `model.eval()` before the validation pass without `model.train()`
    at the start of the next epoch: the first epoch trains right, all later ones do not.

    ## Example
    ```python
    for epoch in range(10):
        for x, y in train_loader:
            ...
        model.eval()              # validation
        val_loss = evaluate(model, val_loader)
    ```

    ## Fix
    ```python
    for epoch in range(10):
        model.train()             # every epoch
        for x, y in train_loader:
            ...
        model.eval()
        val_loss = evaluate(model, val_loader)
    ```

    ## Rule
    Fires at an optimizer step when the root module is in `eval()` mode (`model.training`
    is False) and holds Dropout or BatchNorm-like modules in `eval()` mode beside
    trainable weights (a BatchNorm whose own parameters train, a Dropout whose parent
    module holds trainable parameters). Without such modules `eval()` changes nothing
    and the check stays quiet, and so does a root in `train()` mode whose BatchNorm
    layers were put in `eval()` on purpose (frozen BatchNorm when fine-tuning). Once the
    model is back in `train()` mode the episode ends; a later relapse is reported again.
    No thresholds.
    """

    id = "model_in_eval_mode"
    title = "Model trained in eval() mode"
    severity = Severity.WARNING
    confidence = Confidence.HIGH

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        loop = obs.loop
        if loop is None or not loop.optimizer_steps:
            return None
        if not loop.eval_mode_modules:
            return []
        modules = loop.eval_mode_modules
        more = loop.mode_dependent_modules - len(modules)
        listed = quoted_list(modules) + (f" and {more} more" if more > 0 else "")
        return [Finding(
            title=self.title,
            explanation=(f"At step {obs.step} the optimizer updates the model while it is in eval() mode "
                         f"(model.training is False), and {loop.mode_dependent_modules} of its modules behave "
                         f"differently in that mode: {listed}. Dropout is then off (no regularisation) and "
                         "BatchNorm normalises with its running averages, which it no longer updates. Most "
                         "likely model.eval() was called for validation and model.train() not called again."),
            suggestion="Call model.train() at the start of every training epoch (after any validation).",
            snippet=_SNIPPET,
            evidence={"eval_mode_modules": list(modules), "mode_dependent_modules": loop.mode_dependent_modules},
        )]
