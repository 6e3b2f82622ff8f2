"""cannot_overfit_batch: a copy of the model cannot overfit one small batch (opt-in active test)."""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks._advice import idiom
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.observations import RunInfo

# Karpathy's test in a PyTorch loop, on a copy so that the user's model and optimizer stay as they are.
_TORCH_OVERFIT_ONE_BATCH = """print(model)
# overfit one batch yourself, on a copy of the model:
probe = copy.deepcopy(model).train()
optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2)
xb, yb = next(iter(train_loader))
for step in range(100):
    optimizer.zero_grad()
    loss = loss_fn(probe(xb), yb)
    loss.backward()
    optimizer.step()
print(loss.item())  # should be near 0"""


class CannotOverfitBatch(Check):
    """## What it does
    With `ScramCallback(log_dir, preflight=True)`, before training SCRAM trains a copy of
    the model on one small batch (16 samples spread over the data given to `fit()`) for 50 steps
    with Adam at 1e-2, and reports when that copy cannot drive the batch's loss near zero.
    Your model, its weights and its optimizer are untouched.

    ## Why is this bad?
    Any working network can memorise 16 samples. One that cannot has a bug in its wiring
    (a layer that blocks the signal, a wrong reshape), its loss, or its labels (labels
    that do not match the inputs): training on the full data will not fix it. This is
    Karpathy's "overfit one batch" from "A Recipe for Training Neural Networks", and the
    SCRAM paper's proposed active test.

    ## Example
    ```python
    model.compile(loss="mse")  # on class ids, with a softmax output
    model.fit(x, y, callbacks=[ScramCallback("logs", preflight=True)])
    ```

    ## Fix
    Look at the other diagnostics of the run (loss, labels, output layer) and at the model's
    wiring (`model.summary()`); the copy used a sane optimizer, so the learning rate is
    not the cause.

    ## Rule
    Fires when the loss after the steps is still at least `max_share` of the loss before,
    and above `floor`, or is not finite. Generators and PyDatasets are not read (that
    would consume your data), so the test is skipped for them; a tf.data.Dataset is read
    once more, which advances a seeded shuffle.
    """

    id = "cannot_overfit_batch"
    title = "Model cannot overfit a single batch"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"max_share": 0.3, "floor": 0.05}

    def on_train_begin(self, run: RunInfo) -> Findings:
        result = run.preflight
        if result is None:
            return None
        first, last = result.initial_loss, result.final_loss
        stuck = not math.isfinite(last) or (last >= self.threshold("max_share") * first
                                            and last > self.threshold("floor"))
        if not stuck:
            return []
        return [Finding(
            title=self.title,
            explanation=(f"Before training, SCRAM trained a copy of your model on {result.samples} samples for "
                         f"{result.steps} steps (Adam, learning rate 1e-2): the loss went from {first:.4g} to "
                         f"{last:.4g} instead of near zero. A model that cannot memorise a handful of samples "
                         "likely has a bug in its wiring, its loss or its labels."),
            suggestion="Check that the labels match the inputs, that the loss fits the output layer, and that "
                       f"no layer blocks the signal ({idiom(run.framework, 'model.summary()', 'print(model)')}).",
            snippet=idiom(run.framework,
                          "model.summary()\n# overfit one batch yourself:\n"
                          "model.fit(x_train[:16], y_train[:16], epochs=100, verbose=0)\n"
                          "print(model.evaluate(x_train[:16], y_train[:16]))  # should be near 0",
                          _TORCH_OVERFIT_ONE_BATCH),
            evidence={"initial_loss": first, "final_loss": last, "samples": result.samples,
                      "steps": result.steps, "max_share": self.threshold("max_share")},
            location=run.compile_location,
        )]
