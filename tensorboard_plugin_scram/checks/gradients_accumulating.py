"""gradients_accumulating: PyTorch gradients never reset between optimizer steps."""

from __future__ import annotations

from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation

_SNIPPET = """for x, y in train_loader:
    optimizer.zero_grad()  # forget the previous step's gradients
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    scram.step(loss)"""


class GradientsAccumulating(Check):
    """## What it does
    PyTorch only (`ScramMonitor`, `ScramLightningCallback` with manual optimisation):
    reports gradients that keep accumulating across optimizer steps because
    `optimizer.zero_grad()` (or `model.zero_grad()`) is never called.

    ## Why is this bad?
    `loss.backward()` adds to each parameter's `.grad`; it does not replace it. Without
    `zero_grad()` every step applies the sum of all the gradients so far: the steps grow
    larger and keep pointing where the first batches pointed, so the loss swings, stalls
    or blows up. Nothing raises, and it is among the most common PyTorch bugs.

    ## Example
    ```python
    for x, y in train_loader:
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## Fix
    ```python
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## Rule
    SCRAM follows one trainable parameter (the smallest the optimizer updates): when a
    backward pass reaches it, SCRAM looks at whether its `.grad` still holds a non-zero
    gradient that the optimizer has already applied at an earlier step. Fires when that
    is so at `patience` optimizer steps in a row. Gradient accumulation on purpose
    (several backward passes, then one `step()` and one `zero_grad()`) adds only to
    gradients not yet applied and stays quiet; so does `zero_grad(set_to_none=False)`,
    which leaves zeros. The evidence gives the followed gradient's norm when the streak
    began and now: it usually grows step after step.
    """

    id = "gradients_accumulating"
    title = "Gradients accumulate across steps"
    severity = Severity.ERROR
    confidence = Confidence.HIGH
    thresholds = {"patience": 3}

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._streak = 0
        self._first_norm: float | None = None

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        loop = obs.loop
        if loop is None or loop.grad_carried is None:
            return None
        if not loop.grad_carried:
            self._streak, self._first_norm = 0, None
            return []
        self._streak += 1
        if self._first_norm is None:
            self._first_norm = loop.grad_norm
        if self._streak < self.threshold("patience"):
            return None  # keep an open episode open; nothing new to say yet
        return [self._finding(obs, loop.grad_norm, loop.followed_parameter)]

    def suspects(self) -> bool:
        return 0 < self._streak < self.threshold("patience")

    def _finding(self, obs: BatchObservation, norm: float | None, parameter: str | None) -> Finding:
        growth = ""
        if norm is not None and self._first_norm:
            growth = (f" The gradient of '{parameter}' it was added to had a norm of {self._first_norm:.3g} when "
                      f"this began and {norm:.3g} now ({norm / self._first_norm:.3g} times).")
        return Finding(
            title=self.title,
            explanation=(f"At step {obs.step}, the backward pass added to gradients the optimizer had already "
                         f"applied, at {self._streak} optimizer steps in a row: .grad is never reset, so each "
                         f"step applies the sum of all the gradients so far.{growth} Most likely "
                         "optimizer.zero_grad() is missing from the training loop."),
            suggestion="Call optimizer.zero_grad() once per step, before loss.backward().",
            snippet=_SNIPPET,
            evidence={"steps_in_a_row": self._streak, "followed_parameter": parameter,
                      "grad_norm_first": self._first_norm, "grad_norm_now": norm,
                      "patience": self.threshold("patience")},
        )
