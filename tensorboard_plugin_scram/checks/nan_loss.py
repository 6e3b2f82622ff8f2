"""nan_loss: the loss became NaN or infinite."""

from __future__ import annotations

import dataclasses
import math

from tensorboard_plugin_scram.checks._advice import idiom, learning_rate_range, optimizer_snippet, torch_drop_nonfinite
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, EpochObservation, RunInfo


class NanLoss(Check):
    """## What it does
    Reports the batch at which the training loss (or, at an epoch's end, the validation
    loss) becomes NaN ("not a number") or infinite.

    ## Why is this bad?
    Once the loss is NaN the gradients and then the weights become NaN: the model stops
    learning for good, although `fit()` goes on without an error. The usual cause is a
    learning rate far too high for the optimizer; NaN or Inf values in the data, a log of
    zero or a division by zero in a custom loss are the other common causes.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=10.0), loss="mse")
    ```

    ## Fix
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    ```
    If SCRAM also reports NaN values in the inputs, clean the data instead
    (`numpy.nan_to_num`, or drop the rows).

    ## Rule
    Fires when `logs["loss"]` at a batch's end is not finite, at that batch, and says
    where the NaN went: at that batch only, SCRAM re-runs a sample of the training data
    through the current weights layer by layer and names the first layer (in forward
    order) whose weights, or else whose output, turned NaN or Inf (with a `tf.data`
    dataset, from a host copy of the weights alone). It has no thresholds: a non-finite
    loss is always a failure. The diagnostic is written to disk
    at once, so it survives if the script dies right after.
    """

    id = "nan_loss"
    title = "NaN (not a number) in loss"
    severity = Severity.ERROR
    confidence = Confidence.HIGH

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        loss = obs.logs.get("loss")
        if loss is None:
            return None
        if math.isfinite(loss):
            return []
        finding = self._finding("loss", loss, obs.step, obs.epoch, history)
        return [_with_layers(finding, obs)]

    def on_epoch(self, obs: EpochObservation, history: History) -> Findings:
        loss, val_loss = obs.logs.get("loss"), obs.logs.get("val_loss")
        # A NaN training loss was already reported at its batch; only a NaN
        # validation loss beside a finite training loss is news here.
        if val_loss is None or loss is None or not math.isfinite(loss):
            return None
        if math.isfinite(val_loss):
            return []
        return [self._finding("val_loss", val_loss, obs.step, obs.epoch, history)]

    def _finding(self, metric: str, value: float, step: int, epoch: int, history: History) -> Finding:
        what = "NaN" if math.isnan(value) else "infinite"
        which = "training loss" if metric == "loss" else "validation loss"
        evidence = {metric: value, "optimizer": history.run.optimizer, "learning_rate": history.run.learning_rate}
        bad_inputs = {t.name: t.nonfinite_total for t in history.last_tensors if t.nonfinite_total}
        cause = _data_cause(bad_inputs, history.run) if bad_inputs else _learning_rate_cause(history.run)
        evidence.update(cause.evidence)
        return Finding(
            title=self.title if what == "NaN" else "Loss became infinite",
            explanation=(
                f"The {which} became {what} at step {step} (epoch {epoch}). From here on the "
                f"weights are likely NaN too and the model cannot learn any more. {cause.sentence}"
            ),
            suggestion=cause.suggestion,
            snippet=cause.snippet,
            evidence=evidence,
            key=metric,
            location=cause.location,
        )


def _with_layers(finding: Finding, obs: BatchObservation) -> Finding:
    """Adds where the NaN went, layer by layer, when the adapter looked."""
    model = obs.model
    layers = model.layers if model is not None else ()
    if not layers:
        return finding
    # With predictions, a sample of the training data was re-run through every layer;
    # without, only the weights were looked at.
    rerun = model.predictions is not None
    bad_weights = [layer for layer in layers if layer.nonfinite_weights]
    bad_outputs = [layer for layer in layers if layer.nonfinite_output]
    first = bad_weights[0] if bad_weights else None
    if first is not None and len(bad_weights) == len(layers):
        where = f" The weights of every layer, from '{first.name}' ({first.kind}) on, are now NaN or Inf."
    elif first is not None:
        names = ", ".join(f"'{layer.name}'" for layer in bad_weights[:5])
        where = f" The first layer whose weights turned NaN or Inf is '{first.name}' ({first.kind}); affected: {names}."
    elif bad_outputs:
        where = (f" All weights are still finite. Re-running a sample of the training data layer by layer, the "
                 f"first layer whose output is NaN or Inf is '{bad_outputs[0].name}' ({bad_outputs[0].kind}).")
    elif rerun:
        where = (" All weights are still finite, and a sample of the training data passes through every layer "
                 "without NaN: the NaN arose in this batch's data or in the loss computation.")
    else:
        where = " All weights are still finite: the NaN arose in this batch's forward pass or loss."
    evidence = {**finding.evidence, "nonfinite_layers": [layer.name for layer in bad_weights],
                "nonfinite_outputs": [layer.name for layer in bad_outputs]}
    return dataclasses.replace(finding, explanation=finding.explanation + where, evidence=evidence)


@dataclasses.dataclass(frozen=True)
class _Cause:
    sentence: str
    suggestion: str
    snippet: str
    location: str | None
    evidence: dict


def _data_cause(bad_inputs: dict[str, int], run: RunInfo) -> _Cause:
    listed = ", ".join(f"{count} in '{name}'" for name, count in bad_inputs.items())
    return _Cause(
        sentence=(f"SCRAM also saw NaN or Inf values in the data ({listed}); one such value is "
                  "enough to make the loss NaN, so the data is the likely cause."),
        suggestion="Remove or replace the missing values in your data before training.",
        snippet=idiom(run.framework,
                      "import numpy as np\n"
                      "# keep only the samples without NaN/Inf\n"
                      "ok = np.isfinite(x_train).reshape(len(x_train), -1).all(axis=1)\n"
                      "x_train, y_train = x_train[ok], y_train[ok]",
                      torch_drop_nonfinite(_torch_name(bad_inputs))),
        location=run.fit_location,
        evidence={"nonfinite_values": bad_inputs},
    )


def _torch_name(bad_inputs: dict[str, int]) -> str:
    """`y_train` when only the labels hold NaN or Inf, else `x_train`."""
    return "y_train" if set(bad_inputs) == {"y"} else "x_train"


def _learning_rate_cause(run: RunInfo) -> _Cause:
    usual = learning_rate_range(run.optimizer)
    lr = run.learning_rate
    if usual is None or lr is None:
        sentence, suggested, evidence = "This could be caused by a learning rate that is too high.", 1e-3, {}
    elif lr > usual[1]:
        low, high, suggested = usual
        evidence = {"usual_range": [low, high]}
        sentence = (f"The learning rate {lr:g} is far above {run.optimizer}'s usual range "
                    f"[{low:g}, {high:g}], which very likely made the updates blow up.")
    else:
        low, high, default = usual
        suggested, evidence = min(lr / 10, default), {"usual_range": [low, high]}
        sentence = (f"The learning rate {lr:g} is within {run.optimizer}'s usual range [{low:g}, "
                    f"{high:g}] but could still be too high for this model; NaN values in the "
                    "data or a custom loss are other possible causes.")
    return _Cause(
        sentence=sentence,
        suggestion=(f"Lower the learning rate where you create the optimizer (try {suggested:g}). "
                    "If the loss still becomes NaN, look for NaN or Inf values in your data and "
                    "for log(0) or division by zero in a custom loss."),
        snippet=optimizer_snippet(run.optimizer, suggested, run.framework),
        location=run.compile_location or run.fit_location,
        evidence=evidence,
    )
