"""`ScramMonitor`: SCRAM in a hand-written PyTorch training loop, two lines added."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from tensorboard_plugin_scram.checks import Check
from tensorboard_plugin_scram.diagnostic import Diagnostic
from tensorboard_plugin_scram.pytorch import model_facts, session
from tensorboard_plugin_scram.pytorch.distributed import writes_here


class ScramMonitor:
    """Watches a hand-written PyTorch training loop and reports what is likely wrong, and how to fix it.

    The same checks, diagnostics, event files, `scram report` and SCRAM tab as
    `ScramCallback`, in PyTorch's terms. Create it once before the loop, call `step(loss)`
    after each optimizer step and `end_epoch(...)` after each epoch; nothing else changes.
    The inputs reach SCRAM through a forward pre-hook on the model, the output and the labels
    through one on the loss module (given, or found as the model's `loss_fn`/`criterion`
    attribute), and each update through the optimizer's step hooks. The model, its weights,
    the optimizer and the data are never changed: the hooks only read.

    SCRAM never breaks the loop: anything that fails inside it is caught, reported once as a
    warning and as a `scram_internal_error` diagnostic, and that part of SCRAM switches off.

    Args:
        model: The `nn.Module` being trained.
        optimizer: Its optimizer (or a list of them).
        log_dir: The TensorBoard log directory (the one given to `SummaryWriter`, if any);
            SCRAM writes into its `scram` subdirectory.
        loss_fn: The loss module (`nn.CrossEntropyLoss()`), so that the output and the labels
            are checked; found on the model when it keeps one as `loss_fn` or `criterion`.
        disable, thresholds, extra_checks, sample_every, internals_every: As for
            `ScramCallback`.
        verbose: Print one line per new error or warning as it is found, and a summary at
            `close()`.

    Example:

    ```python
    from tensorboard_plugin_scram import ScramMonitor

    scram = ScramMonitor(model, optimizer, "logs/run1", loss_fn=loss_fn)
    for epoch in range(10):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            scram.step(loss)
        scram.end_epoch(val_loss=evaluate(model, val_loader))
    scram.close()
    ```
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | Sequence[torch.optim.Optimizer],
        log_dir: str | os.PathLike,
        loss_fn: Any = None,
        disable: Iterable[str] = (),
        thresholds: Mapping[str, Mapping[str, float]] | None = None,
        extra_checks: Sequence[Check] = (),
        sample_every: int = 10,
        internals_every: int = 50,
        verbose: bool = True,
    ) -> None:
        checks = session.build(disable, thresholds, extra_checks)  # a typo raises now, not mid-training
        optimizers = [optimizer] if isinstance(optimizer, torch.optim.Optimizer) else list(optimizer)
        self.log_dir = os.fspath(log_dir)
        self._session = session.TorchSession(
            model, optimizers, loss_fn if loss_fn is not None else model_facts.find_loss_module(model),
            self.log_dir if writes_here() else None, checks, sample_every=sample_every,
            internals_every=internals_every, verbose=verbose,
            locations=model_facts.caller_locations(type(optimizers[0]).__name__ if optimizers else None))

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Every diagnostic found so far, in order."""
        return self._session.diagnostics

    def step(self, loss: Any, inputs: Any = None, labels: Any = None, **metrics: Any) -> None:
        """One training step ended: its loss (a tensor or a float), optionally its metrics.

        `inputs` and `labels` are needed only when SCRAM cannot see them itself (a model whose
        forward SCRAM does not hook, a loss computed by a function); `accuracy=...` and other
        metrics are averaged over the epoch, as Keras does.
        """
        self._session.step(loss, metrics, inputs=inputs, labels=labels)

    def end_epoch(self, **logs: Any) -> None:
        """One epoch ended; pass what you measured, e.g. `val_loss=...`, `val_accuracy=...`."""
        self._session.end_epoch(logs)

    def close(self) -> None:
        """Removes SCRAM's hooks, writes what is left and prints the summary."""
        self._session.close()

    def __enter__(self) -> ScramMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
