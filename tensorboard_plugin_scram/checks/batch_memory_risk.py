"""batch_memory_risk: one training step at this batch size may not fit in memory."""

from __future__ import annotations

from tensorboard_plugin_scram.checks import _batch
from tensorboard_plugin_scram.checks._advice import idiom, shuffled_loader
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, RunInfo

_GB = 1024**3


class BatchMemoryRisk(Check):
    """## What it does
    Before the first batch (or at it, when the data batch themselves), estimates the
    memory one training step needs at this batch size (parameters, their gradients and
    the optimizer's slots, plus every layer's activations and their gradients) and
    compares it with the device's memory.

    ## Why is this bad?
    A batch that does not fit ends training with an out-of-memory crash, often hours in
    when a larger batch or input arrives, or makes the machine swap. The paper's
    instructors asked for exactly this warning.

    ## Example
    ```python
    model.fit(x_train, y_train, batch_size=4096)   # large images, large model
    ```

    ## Fix
    ```python
    model.fit(x_train, y_train, batch_size=64)
    ```
    or use mixed precision (`keras.mixed_precision.set_global_policy("mixed_float16")`).

    ## Rule
    Estimate = bytes per value x (parameters x (2 + optimizer slots) + batch size x
    activations per sample x 2). A rough upper bound that ignores the framework's own
    workspace. `info` at `info_share` of the device's memory, `warning` at `warn_share`.
    Quiet when the device's memory is unknown (TensorFlow does not expose a GPU's total).
    """

    id = "batch_memory_risk"
    title = "Batch may not fit in memory"
    severity = Severity.WARNING
    confidence = Confidence.LOW
    thresholds = {"info_share": 0.5, "warn_share": 0.8}
    batch_needs = frozenset({"tensors"})

    def on_train_begin(self, run: RunInfo) -> Findings:
        # With fit(batch_size=...) known, warn before the first step can crash.
        return self._judge(run, run.batch_size) if run.batch_size else None

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        if history.run.batch_size or obs.tensors is None:
            return None
        return self._judge(history.run, _batch.batch_size(history.run, obs.tensors))

    def _judge(self, run: RunInfo, batch: int | None) -> Findings:
        if batch is None or not run.device_memory or run.activations_per_sample is None or run.total_params is None:
            return None
        need = _estimate(run, batch)
        share = need / run.device_memory
        if share < self.threshold("info_share"):
            return []
        severity = Severity.WARNING if share >= self.threshold("warn_share") else Severity.INFO
        safe_batch = max(1, int(batch * self.threshold("info_share") / share))
        return [Finding(
            title=self.title,
            explanation=(f"One training step at batch size {batch} needs roughly {need / _GB:.1f} GB "
                         f"({share:.0%} of the device's {run.device_memory / _GB:.1f} GB). Training could "
                         "stop with an out-of-memory error, or slow down as the machine swaps."),
            suggestion=f"Use a smaller batch size (about {safe_batch} keeps the estimate near half the memory), "
                       "a smaller model or input size, or mixed precision"
                       + idiom(run.framework, ".", " (torch.autocast)."),
            snippet=idiom(run.framework, f"model.fit(x_train, y_train, batch_size={safe_batch}, ...)",
                          shuffled_loader(safe_batch) + "\n# or mixed precision: with torch.autocast(device_type="
                          '"cuda", dtype=torch.bfloat16): loss = loss_fn(model(x), y)'),
            evidence={"batch_size": batch, "estimated_bytes": need, "device_bytes": run.device_memory,
                      "share": share, "warn_share": self.threshold("warn_share")},
            severity=severity,
            location=run.fit_location,
        )]


def _estimate(run: RunInfo, batch: int) -> int:
    params = run.total_params or 0
    values = params * (2 + run.optimizer_slots) + batch * (run.activations_per_sample or 0) * 2
    return values * run.bytes_per_value
