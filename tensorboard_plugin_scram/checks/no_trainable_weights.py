"""no_trainable_weights: nothing in the model will be trained."""

from __future__ import annotations

from tensorboard_plugin_scram.checks._advice import unfreeze_advice
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.observations import RunInfo


class NoTrainableWeights(Check):
    """## What it does
    Before training, reports a model without a single trainable weight.

    ## Why is this bad?
    `fit()` runs, prints losses and finishes, but no weight changes: the model stays as
    it was. This usually comes from `model.trainable = False` (or freezing every layer)
    when fine-tuning a pretrained model, and forgetting to add or unfreeze a head.

    ## Example
    ```python
    base.trainable = False
    model = keras.Sequential([base])
    ```

    ## Fix
    ```python
    base.trainable = False
    model = keras.Sequential([base, keras.layers.Dense(10, activation="softmax")])
    model.compile(...)  # compile again after changing `trainable`
    ```

    In PyTorch: every parameter has `requires_grad=False`, or the optimizer holds none
    of those that have it (`loss.backward()` then raises, after SCRAM has said why).

    ## Rule
    Fires when the model has no trainable parameters (in PyTorch: none that requires a
    gradient among those the optimizer updates). No thresholds.
    """

    id = "no_trainable_weights"
    title = "Nothing will be trained"
    severity = Severity.ERROR
    confidence = Confidence.HIGH

    def on_train_begin(self, run: RunInfo) -> Findings:
        if run.trainable_params is None:
            return None
        if run.trainable_params > 0:
            return []
        cause, suggestion, snippet = unfreeze_advice(run.framework)
        return [Finding(
            title=self.title,
            explanation=(f"The model has {run.total_params or 0} parameters and none of them is trainable, "
                         f"so training will not change it. {cause}"),
            suggestion=suggestion,
            snippet=snippet,
            evidence={"trainable_params": run.trainable_params, "total_params": run.total_params},
            location=run.compile_location,
        )]
