"""`ScramLightningCallback`: SCRAM in a PyTorch Lightning `Trainer`, one line added."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import lightning
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from tensorboard_plugin_scram.checks import Check
from tensorboard_plugin_scram.diagnostic import Diagnostic
from tensorboard_plugin_scram.observations import EarlyStoppingInfo, canonical_metric_name, is_validation_metric
from tensorboard_plugin_scram.pytorch import model_facts, session


class ScramLightningCallback(lightning.Callback):
    """Watches a Lightning training run and reports what is likely wrong, and how to fix it.

    The same checks, diagnostics, event files, `scram report` and SCRAM tab as
    `ScramCallback`, in PyTorch's terms. SCRAM writes beside Lightning's own logs (the
    `scram` subdirectory of the TensorBoard logger's `log_dir`, e.g.
    `lightning_logs/version_0/scram`), so `tensorboard --logdir lightning_logs` shows the
    SCRAM tab next to Lightning's scalars. The batches and the training step's outputs that
    Lightning hands its callbacks give the input and label statistics and the loss; the loss
    module kept as the LightningModule's `loss_fn` or `criterion` attribute gives the output
    the static checks judge. The module, its weights and the optimizers are never changed.

    SCRAM never breaks training: anything that fails inside it is caught, reported once as a
    warning and as a `scram_internal_error` diagnostic, and that part of SCRAM switches off.

    Args:
        log_dir: Where to write when the trainer has no logger with a `log_dir` (default:
            the trainer's `default_root_dir`).
        loss_fn: The loss module, when the LightningModule does not keep it as `loss_fn` or
            `criterion`.
        disable, thresholds, extra_checks, sample_every, internals_every: As for
            `ScramCallback`.
        verbose: Print one line per new error or warning, and a summary when training ends.

    Example:

    ```python
    import lightning as L
    from tensorboard_plugin_scram import ScramLightningCallback

    trainer = L.Trainer(max_epochs=10, callbacks=[ScramLightningCallback()])
    trainer.fit(module, train_loader, val_loader)
    ```
    """

    def __init__(
        self,
        log_dir: str | os.PathLike | None = None,
        loss_fn: Any = None,
        disable: Iterable[str] = (),
        thresholds: Mapping[str, Mapping[str, float]] | None = None,
        extra_checks: Sequence[Check] = (),
        sample_every: int = 10,
        internals_every: int = 50,
        verbose: bool = True,
    ) -> None:
        super().__init__()
        self._checks = (tuple(disable), thresholds, list(extra_checks))
        session.build(*self._checks)  # a typo raises now, not mid-training
        self.log_dir = os.fspath(log_dir) if log_dir is not None else None
        self._loss_fn = loss_fn
        self._options = {"sample_every": sample_every, "internals_every": internals_every, "verbose": verbose}
        self._session: session.TorchSession | None = None
        self._diagnostics: list[Diagnostic] = []

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Every diagnostic found so far, in order (across `fit()` calls)."""
        return self._diagnostics + (self._session.diagnostics if self._session is not None else [])

    def on_train_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        try:
            self._start(trainer, pl_module)
        except Exception as error:  # SCRAM must never break training
            session.warn_setup_failed(error)
            self._session = None

    def _start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        log_dir = self._log_dir(trainer)
        optimizers = list(trainer.optimizers)
        loss_fn = self._loss_fn if self._loss_fn is not None else model_facts.find_loss_module(pl_module)
        self._session = session.TorchSession(
            pl_module, optimizers, loss_fn, log_dir if trainer.is_global_zero else None,
            session.build(*self._checks), watch_inputs=False, locations=_locations(pl_module, optimizers),
            run_facts=_stopping_facts(trainer.callbacks), **self._options)

    def _log_dir(self, trainer: lightning.Trainer) -> str:
        logger_dir = getattr(trainer.logger, "log_dir", None) if trainer.logger is not None else None
        return os.fspath(logger_dir or self.log_dir or trainer.default_root_dir)

    def on_train_batch_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._session is not None:
            inputs, _ = _split(batch)  # the labels come with the loss module's call, or at the batch's end
            self._session.see_batch(inputs)

    def on_train_batch_end(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        if self._session is None:
            return
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        inputs, labels = _split(batch)
        self._session.step(loss, inputs=inputs, labels=labels)

    def on_before_optimizer_step(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule,
                                 optimizer: Any) -> None:
        # Lightning steps with a closure: the optimizer's own pre-step hook ran before backward().
        if self._session is not None:
            self._session.gradients_ready()

    def on_train_epoch_end(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if self._session is not None:
            self._session.end_epoch(_epoch_logs(trainer.callback_metrics))

    def on_train_end(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if self._session is not None:
            done, self._session = self._session, None
            done.close()
            self._diagnostics += done.diagnostics


def _split(batch: Any) -> tuple[Any, Any]:
    """`(inputs, labels)` of a batch `(x, y)` or `{"x": ..., "y": ...}`; the whole batch as inputs otherwise."""
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], batch[1]
    if isinstance(batch, Mapping):
        labels = next((batch[k] for k in ("y", "label", "labels", "target", "targets") if k in batch), None)
        return {k: v for k, v in batch.items() if v is not labels}, labels
    return batch, None


def _epoch_logs(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """What the LightningModule logged (`self.log("val_loss", ...)`) under Keras' names, its training loss
    left to SCRAM's mean.

    A metric logged both per step and per epoch comes as `name`, `name_step` and `name_epoch`:
    the epoch's value counts.
    """
    logs: dict[str, Any] = {}
    for key, value in metrics.items():
        if key.endswith("_step") and key[:-len("_step")] in metrics:
            continue
        if key.endswith("_epoch") and key[:-len("_epoch")] in metrics:
            key = key[:-len("_epoch")]
        logs[canonical_metric_name(key)] = value
    logs.pop("loss", None)
    return logs


def _stopping_facts(callbacks: Sequence[Any]) -> dict[str, Any]:
    """`{"early_stopping": ..., "best_checkpoint": ...}` from the Trainer's callbacks, each if present.

    Lightning's `EarlyStopping` never restores the best epoch's weights; a `ModelCheckpoint`
    monitoring a validation quantity keeps the best epoch's file (in its `dirpath`).
    """
    facts: dict[str, Any] = {}
    for callback in callbacks:
        monitor = getattr(callback, "monitor", None)
        if not isinstance(monitor, str):  # the Trainer's own checkpoint monitors nothing: it keeps the last epoch
            continue
        if isinstance(callback, EarlyStopping) and "early_stopping" not in facts:
            facts["early_stopping"] = EarlyStoppingInfo(monitor, restores_best=False, patience=int(callback.patience),
                                                        higher_is_better=callback.mode == "max")
        if isinstance(callback, ModelCheckpoint) and callback.save_top_k != 0 and is_validation_metric(monitor) \
                and "best_checkpoint" not in facts:
            facts["best_checkpoint"] = os.fspath(callback.dirpath or ".")
    return facts


def _locations(pl_module: lightning.LightningModule,
               optimizers: Sequence[Any]) -> tuple[str | None, str | None]:
    """The line creating the optimizer inside `configure_optimizers`, if found."""
    found = model_facts.method_lines(type(pl_module).configure_optimizers)
    if found is None or not optimizers:
        return None, None
    path, lines = found
    return model_facts.optimizer_location(type(optimizers[0]).__name__, path, None, within=lines), None
