"""scram_internal_error: SCRAM itself failed; training went on. internals_not_measured: it cannot look inside."""

from __future__ import annotations

from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.observations import RunInfo


class InternalError(Check):
    """## What it does
    Records that a part of SCRAM (a check, the event writer, reading Keras' logs) raised
    an exception. SCRAM catches it, warns once, switches that part off and lets training
    go on.

    ## Why is this bad?
    It is not a problem with your model: it means SCRAM may have missed something from
    that point on. Please report it with the evidence shown.

    ## Fix
    Nothing to change in your training. A check that fails this way can be switched off
    with `ScramCallback(log_dir, disable=["<check id>"])`.

    ## Rule
    Emitted by SCRAM's engine, never by a rule over the metrics.
    """

    id = "scram_internal_error"
    title = "SCRAM internal error"
    severity = Severity.INFO
    confidence = Confidence.HIGH

    @classmethod
    def finding_for(cls, where: str, error: BaseException) -> Finding:
        """The finding that records an exception raised in `where`."""
        return Finding(
            title=f"{cls.title} in {where}",
            explanation=(
                f"SCRAM's {where} raised {type(error).__name__}: {error}. Your training was "
                f"not affected, but SCRAM switched off its {where} and may miss problems it "
                "would have found."
            ),
            suggestion="Nothing to change in your training. Please report this to SCRAM's developers.",
            evidence={"where": where, "exception": type(error).__name__, "message": str(error)[:500]},
            key=where,
        )


class InternalsNotMeasured(Check):
    """## What it does
    Says, once before training, what SCRAM cannot measure inside this model, why, and what
    it follows instead: the model overrides `train_step()` and has no `call()` (common in
    generative examples: a VAE, a GAN), so there is no forward pass SCRAM could run on a
    sample of the data.

    ## Why is this bad?
    It is not a problem with your model. It means the checks of gradients, activations and
    predictions (`vanishing_gradients`, `exploding_gradients`, `dead_relu`,
    `saturated_activations`, `constant_predictions`) stay silent for this run: the losses
    are computed inside `train_step`, and a generator or a decoder needs the latent vectors
    only `train_step` draws. SCRAM still follows the weights of the model's trainable parts
    (the generator and the discriminator, the encoder and the decoder): around sampled
    steps it compares each part's layers' weights before and after the step, so
    `weights_not_updating` and `update_ratio_unusual` judge them, naming the part
    (`'generator.dense_2'`). The checks of the loss, the metrics and the input data still
    run. Parts frozen with `trainable=False` are named too: no step can change them.

    ## Example
    ```python
    class VAE(keras.Model):
        def train_step(self, data):       # its own loss and update, and no call()
            ...
    ```

    ## Fix
    Nothing is required. To have the gradients and activations checked too, give the
    model a `call()` that runs the forward pass its `train_step` uses:
    ```python
    def call(self, inputs):
        return self.decoder(self.encoder(inputs))
    ```

    ## Rule
    Reported as info when the model's class defines `train_step` and inherits Keras'
    `Model.call`, which only raises `NotImplementedError`. The parts followed are the
    model's direct sub-models and layers that hold trainable weights.
    """

    id = "internals_not_measured"
    title = "Model internals not measured"
    severity = Severity.INFO
    confidence = Confidence.HIGH

    def on_train_begin(self, run: RunInfo) -> Findings:
        if not run.internals_unmeasured:
            return []
        return [Finding(
            title=self.title,
            explanation=(f"{run.internals_unmeasured}. The checks of the loss, the metrics and the input data "
                         "still run; those of gradients, activations and predictions stay silent for this run."),
            suggestion="Nothing to change for training. To have the gradients and activations checked too, give the "
                       "model a call() that runs the forward pass its train_step uses.",
            snippet="def call(self, inputs):\n    return self.decoder(self.encoder(inputs))  # your forward pass",
            evidence={"reason": run.internals_unmeasured},
        )]
