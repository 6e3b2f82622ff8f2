"""What `ScramMonitor` and `ScramLightningCallback` share: hooks on the user's objects, the engine, the writer.

A `TorchSession` watches one model, its optimizers and (when known) its loss module
through PyTorch's own hooks, and turns each training step into SCRAM's observations:

- the loss module's forward pre-hook sees the model's output and the labels, where the
  static checks (`RunInfo`) are judged at the first step and label statistics sampled;
- the model's forward pre-hook sees the inputs (sampled statistics);
- the optimizer's step hooks see each update: the module's `train()`/`eval()` mode and, on
  sampled steps, the per-layer weight, gradient and update norms;
- a gradient hook on one small parameter tells whether `.grad` was reset between steps;
- on the same sampled steps, forward hooks installed for that one training forward pass read
  the activation modules' outputs and the predictions (`activations.py`).

Every hook runs guarded: a failure inside SCRAM warns once, switches that part off and is
recorded as a `scram_internal_error` diagnostic; the user's loop never sees it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from tensorboard_plugin_scram.checks import Check, build_checks
from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.engine import Engine, WarnOnce, record_failure
from tensorboard_plugin_scram.events import metadata
from tensorboard_plugin_scram.events.writer import ScramSummaryWriter
from tensorboard_plugin_scram.keras_adapter.batch_stats import is_numeric_array, named_leaves, summarize_batch
from tensorboard_plugin_scram.keras_adapter.sampling import InternalsSchedule, StatsSchedule, StepClock
from tensorboard_plugin_scram.observations import (
    BatchObservation,
    EpochObservation,
    LoopStats,
    ModelStats,
    RunInfo,
    canonical_metric_name,
)
from tensorboard_plugin_scram.pytorch import model_facts
from tensorboard_plugin_scram.pytorch.activations import ActivationProbe
from tensorboard_plugin_scram.pytorch.layer_norms import LayerNorms
from tensorboard_plugin_scram.report import ICONS, count_summary, found_at

# The fine-grained loss curve holds every one of the first steps, then every `sample_every`.
_CURVE_ALWAYS = 20
# Names of eval-mode modules listed in an observation, at most.
_LISTED_MODULES = 8
# Steps carrying only metrics reach the checks in groups of up to this many (see `_group`).
_GROUPED_STEPS = 16
_RISING = 2.0


def guarded(part: str) -> Callable:
    """Runs a hook so that no exception of SCRAM's reaches the user's loop; a failure switches `part` off."""

    def decorate(hook: Callable) -> Callable:
        @functools.wraps(hook)
        def run(self: TorchSession, *args: Any, **kwargs: Any) -> Any:
            if part in self.switched_off:
                return None
            started = time.perf_counter()
            try:
                return hook(self, *args, **kwargs)
            except Exception as error:  # SCRAM must never break training
                self.fail(part, error)
                return None
            finally:
                self.scram_seconds += time.perf_counter() - started

        return run

    return decorate


class TorchSession:
    """One PyTorch training run seen by SCRAM.

    Args:
        model: The root module being trained.
        optimizers: The optimizers that update it.
        loss_fn: The loss module, if known (its calls carry the output and the labels).
        log_dir: SCRAM writes into `log_dir/scram`; None writes nothing (other ranks).
        checks: The enabled checks.
        sample_every, internals_every: As for `ScramCallback`.
        verbose: Print one line per new error or warning, and a summary at `close()`.
        watch_inputs: Read the inputs from the model's forward pre-hook (a plain loop);
            Lightning hands them to `step()` instead.
        locations: `(optimizer line, SCRAM's line)` in the user's code, if known.
    """

    def __init__(self, model: nn.Module, optimizers: Sequence[torch.optim.Optimizer], loss_fn: Any,
                 log_dir: str | None, checks: list[Check], sample_every: int = 10, internals_every: int = 50,
                 verbose: bool = True, watch_inputs: bool = True,
                 locations: tuple[str | None, str | None] = (None, None),
                 run_facts: Mapping[str, Any] | None = None) -> None:
        self.model, self.optimizers, self.loss_fn = model, list(optimizers), loss_fn
        self.log_dir, self.verbose, self.locations = log_dir, verbose, locations
        self.run_facts = dict(run_facts or {})  # what the loop knows of the run (a Trainer's callbacks)
        self.diagnostics: list[Diagnostic] = []
        self.switched_off: set[str] = set()
        self.scram_seconds = 0.0
        self._started = time.perf_counter()
        self._warn_once = WarnOnce()
        self._engine = Engine(checks, on_error=self._warn_once)
        self._writer = (ScramSummaryWriter(os.path.join(log_dir, metadata.RUN_SUBDIR), on_error=self._warn_once)
                        if log_dir is not None else None)
        self._stats = StatsSchedule(max(1, sample_every))
        self._internals = InternalsSchedule(internals_every) if internals_every else None
        self.sample_every = max(1, sample_every)
        self.step_index = 0
        self.epoch = 0
        self._began = False
        self._curve_step = 0
        self._epoch_loss = (0.0, 0)  # sum and count of the epoch's losses so far
        self._clock = StepClock()
        self._grouped: list[BatchObservation] = []
        self._suspicious = False
        self._lowest_loss = math.inf
        self._metric_sums: dict[str, tuple[float, int]] = {}
        self._handles: list[Any] = []
        self._leaf_handles: list[Any] = []
        self._order: list[str] = []  # modules in the order the first forward pass ran them
        self._last_leaf_output: torch.Tensor | None = None  # what the last of them returned, until begin()
        self._inputs: Any = None
        self._targets: Any = None
        self._first_inputs: Any = None
        self._pre_read: tuple | None = None  # statistics judged at the loss's call, for the step's end
        self._nonfinite: dict[str, int] = {}
        self._layers: LayerNorms | None = None
        self._probe: ActivationProbe | None = None  # activations and predictions of the measured steps
        self._nan_located = False
        self._measure = False
        self._model_stats: ModelStats | None = None
        self._optimizer_steps = 0
        self._eval_modules: tuple[str, ...] = ()
        self._mode_modules = _mode_dependent_modules(model)
        self._followed = _followed_parameter(model, self.optimizers)
        self._followed_owners = {id(o) for o in self.optimizers if self._followed and _holds(o, self._followed[1])}
        self._stepped_since_backward = False
        self._carried: bool | None = None
        self._carried_norm: float | None = None
        self._install(watch_inputs)

    # -- hooks -----------------------------------------------------------------------------

    def _install(self, watch_inputs: bool) -> None:
        if watch_inputs:
            self._handles.append(self.model.register_forward_pre_hook(self._on_forward, with_kwargs=True))
        if isinstance(self.loss_fn, nn.Module):
            self._handles.append(self.loss_fn.register_forward_pre_hook(self._on_loss))
        for optimizer in self.optimizers:
            self._handles.append(optimizer.register_step_pre_hook(self._before_update))
            self._handles.append(optimizer.register_step_post_hook(self._after_update))
        if self._followed is not None:
            self._handles.append(self._followed[1].register_hook(self._on_gradient))
        names = {id(m): name for name, m in self.model.named_modules()}
        for module in self.model.modules():
            if not list(module.children()):  # a leaf: the order the forward pass runs them in
                self._leaf_handles.append(module.register_forward_hook(
                    functools.partial(self._on_leaf, names.get(id(module), ""))))

    @guarded("module order")
    def _on_leaf(self, name: str, module: nn.Module, args: Any, output: Any) -> None:
        if torch.is_grad_enabled():
            self._order.append(name)
            self._last_leaf_output = output if isinstance(output, torch.Tensor) else None

    @guarded("input statistics")
    def _on_forward(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if not torch.is_grad_enabled():  # validation or inference: not a training batch
            return
        if self._first_inputs is None:
            self._first_inputs = args[0] if args else None
        if self._stats.due(self.step_index) and self._inputs is None:
            self._inputs = _host(args[0] if len(args) == 1 else (args or kwargs))

    @guarded("input statistics")
    def see_batch(self, inputs: Any, labels: Any = None) -> None:
        """The step's inputs (and labels), when no forward hook sees them (Lightning's batch)."""
        if not self._stats.due(self.step_index):
            return
        if inputs is not None and self._inputs is None:
            self._inputs = _host(inputs)
        if labels is not None and self._targets is None:
            self._targets = _host(labels)

    def _on_loss(self, module: nn.Module, args: tuple) -> None:
        if not torch.is_grad_enabled() or len(args) < 2:
            return
        output, target = args[0], args[1]
        if not self._began:
            self.begin(output, target)
        self._judge_data(target)
        if self._probe is not None:
            self._probe.see_loss_input(output, target)

    @guarded("label statistics")
    def _judge_data(self, target: Any) -> None:
        """The sampled batch's data are judged before the loss module runs on them.

        Labels a loss cannot take (class ids beyond the output, negative ids) make PyTorch
        raise right here, in the loss's forward: judged now, the root cause is said first,
        and on disk before the loop dies.
        """
        step = self.step_index
        if not self._stats.due(step) or self._targets is not None or self._pre_read is not None:
            return
        self._targets = _host(target)
        tensors = self._read_statistics(step)
        if tensors is not None:
            self._pre_read = tensors  # handed to the batch checks when the step ends, not read again
            self._emit(self._engine.batch_data(BatchObservation(step, self.epoch, {}, tensors)))

    @guarded("optimizer hooks")
    def _before_update(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._optimizer_steps += 1
        if not self.model.training and self._mode_modules:
            idle = [name for name, module in self._mode_modules if not module.training]
            self._eval_modules = tuple(idle[:_LISTED_MODULES])
        if self._measure and self._layers is not None:
            self._layers.before_update()

    @guarded("optimizer hooks")
    def gradients_ready(self) -> None:
        """This step's gradients are complete (Lightning's `on_before_optimizer_step`, after its closure's backward)."""
        if self._measure and self._layers is not None:
            self._layers.refresh_gradients()

    @guarded("optimizer hooks")
    def _after_update(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if id(optimizer) in self._followed_owners:  # another optimizer's step tells nothing of its .grad
            self._stepped_since_backward = True
        if self._measure and self._layers is not None:
            started = time.perf_counter()
            self._measure = False
            self._model_stats = self._layers.after_update()
            if self._probe is not None:
                self._model_stats = self._probe.combine(self._model_stats)
                hooks, self._probe.seconds = self._probe.seconds, 0.0
                self.scram_seconds += hooks  # spent in the user's forward pass, where no guard timed it
                started -= hooks
            if self._internals is not None:
                self._internals.cost(self._clock.in_steps(time.perf_counter() - started + self._layers.seconds))

    def _on_gradient(self, gradient: torch.Tensor) -> None:
        self._gradient_arrives()
        return None

    @guarded("gradient reset")
    def _gradient_arrives(self) -> None:
        """A backward pass reaches the followed parameter: is the gradient it adds to one already applied?"""
        if self._followed is None or not self._stepped_since_backward:
            return
        self._stepped_since_backward = False
        grad = self._followed[1].grad
        carried = grad is not None and bool(grad.detach().any())
        self._carried = carried
        self._carried_norm = float(torch.linalg.vector_norm(grad.detach().float())) if carried else None

    # -- the run ---------------------------------------------------------------------------

    @guarded("set-up")
    def begin(self, output: Any = None, target: Any = None, run: RunInfo | None = None) -> None:
        """The static checks, once, at the first step: the model, loss module and optimizer."""
        if self._began:
            return
        self._began = True
        last = self._last_module()
        if run is None:
            run = model_facts.run_info(self.model, self.optimizers, self.loss_fn, output=output, target=target,
                                       inputs=self._first_inputs if isinstance(self._first_inputs, torch.Tensor)
                                       else None, last_module=last, locations=self.locations,
                                       last_output=self._last_leaf_output)
        run = dataclasses.replace(run, **self.run_facts)
        self._last_leaf_output = None  # the first step's tensor is not kept
        self._emit(self._engine.begin(run, self.step_index))

    def _last_module(self) -> tuple[str, nn.Module] | None:
        modules = dict(self.model.named_modules())
        if not self._order:
            return None
        name = self._order[-1]
        return (name, modules[name]) if name in modules else None

    def step(self, loss: Any, metrics: Mapping[str, Any] | None = None, inputs: Any = None,
             labels: Any = None) -> None:
        """One training step ended with this loss (and optional running metrics, inputs, labels)."""
        started = time.perf_counter()
        try:
            self._step(loss, metrics or {}, inputs, labels)
        except Exception as error:  # SCRAM must never break training
            self.fail("step", error)
        finally:
            self.scram_seconds += time.perf_counter() - started

    def _step(self, loss: Any, metrics: Mapping[str, Any], inputs: Any, labels: Any) -> None:
        started = time.perf_counter()
        self._clock.tick(started)
        if not self._began:
            self.begin()
        self._stop_following_order()
        step = self.step_index
        value = _float(loss)
        logs = self._running_logs(value, metrics)
        if self._stats.due(step) and self._pre_read is None:
            self.see_batch(inputs, labels)
        tensors, self._pre_read = self._pre_read or self._read_statistics(step), None
        self._inputs = self._targets = None  # never carried into the next step
        loop = self._loop_stats()
        obs = BatchObservation(step, self.epoch, logs, tensors, self._model_stats or self._weights_at_nan(value), loop)
        self._model_stats = None
        self._group(obs)
        self._schedule_next(step, logs.get("loss"))
        if self._writer is not None and (step < _CURVE_ALWAYS or step - self._curve_step >= self.sample_every
                                         or not math.isfinite(logs.get("loss", 0.0))):
            self._curve_step = step
            self._writer.write_batch(step, self.epoch, logs)
        self.step_index += 1
        self._clock.exclude(time.perf_counter() - started)

    @guarded("model internals")
    def _weights_at_nan(self, loss: float | None) -> ModelStats | None:
        """At the first non-finite loss of a step not measured: which layers' weights are NaN or Inf (nan_loss)."""
        if self._nan_located or loss is None or math.isfinite(loss) or self._layers is None:
            return None
        self._nan_located = True
        return self._layers.weights_now()

    def _group(self, obs: BatchObservation) -> None:
        """Hands the step to the batch checks, with the few before it that carried only metrics.

        As on the Keras side, such steps wait for up to `_GROUPED_STEPS` others (one call into
        the engine per step costs more than the checks themselves); a step with news goes at once,
        with those before it: statistics, internals, a loss not finite or at twice its lowest,
        a model in eval() mode, a gradient added to one already applied.
        """
        self._grouped.append(obs)
        loss = obs.logs.get("loss")
        if loss is not None and math.isfinite(loss):
            self._lowest_loss = min(self._lowest_loss, loss)
        loop = obs.loop
        news = (obs.tensors is not None or obs.model is not None or (loss is not None and not math.isfinite(loss))
                or (loss is not None and loss > _RISING * self._lowest_loss > 0)
                or (loop is not None and (bool(loop.eval_mode_modules) or bool(loop.grad_carried))))
        if news or len(self._grouped) >= _GROUPED_STEPS:
            self._deliver()
        if obs.model is not None:
            self._suspicious = self._engine.suspects()

    def _deliver(self) -> None:
        grouped, self._grouped = self._grouped, []
        diagnostics: list[Diagnostic] = []
        for obs in grouped:
            diagnostics += self._engine.batch(obs)
        self._emit(diagnostics)

    def _stop_following_order(self) -> None:
        """After the first step the forward order is known: the leaf hooks go, the layers are listed."""
        if not self._leaf_handles:
            return
        for handle in self._leaf_handles:
            handle.remove()
        self._leaf_handles = []
        if self._internals is not None:
            self._layers = LayerNorms(self.model, list(dict.fromkeys(self._order)), _activations_after(
                self.model, self._order))
            self._probe = ActivationProbe(self.model, self._layers.modules, self.loss_fn,
                                          on_error=functools.partial(self.fail, "activations"))

    def _running_logs(self, loss: float | None, metrics: Mapping[str, Any]) -> dict[str, float]:
        """Keras' batch logs: the mean over the epoch so far of the loss and of each metric."""
        logs: dict[str, float] = {}
        if loss is not None:
            total, count = self._epoch_loss[0] + loss, self._epoch_loss[1] + 1
            self._epoch_loss = (total, count)
            logs["loss"] = total / count  # Keras' running mean: NaN from a NaN on, as in Keras
        for key, raw in metrics.items():
            number = _float(raw)
            if number is None:
                continue
            total, count = self._metric_sums.get(key, (0.0, 0))
            self._metric_sums[key] = (total + number, count + 1)
            logs[key] = (total + number) / (count + 1)
        return logs

    def _read_statistics(self, step: int) -> tuple | None:
        inputs, targets = self._inputs, self._targets
        self._inputs = self._targets = None
        if inputs is None and targets is None:
            return None
        self._stats.taken(step)
        if "input statistics" in self.switched_off:
            return None
        return self._summarize(inputs, targets)

    @guarded("input statistics")
    def _summarize(self, inputs: Any, targets: Any) -> tuple:
        started = time.perf_counter()
        named = named_leaves(inputs, targets, is_numeric_array)
        for name, _, array in named:
            if np.issubdtype(array.dtype, np.floating):
                self._nonfinite[name] = self._nonfinite.get(name, 0) + int(np.count_nonzero(~np.isfinite(array)))
        embedding = ("*",) if any(isinstance(m, nn.Embedding) for m in self.model.modules()) else ()
        tensors = summarize_batch(named, self._nonfinite, embedding)
        self._stats.cost(self._clock.in_steps(time.perf_counter() - started))  # spaced further when costly
        return tensors

    def _loop_stats(self) -> LoopStats:
        carried, norm = self._carried, self._carried_norm
        loop = LoopStats(optimizer_steps=self._optimizer_steps, eval_mode_modules=self._eval_modules,
                         mode_dependent_modules=len(self._mode_modules), grad_carried=carried, grad_norm=norm,
                         followed_parameter=self._followed[0] if self._followed else None)
        self._optimizer_steps, self._eval_modules = 0, ()
        self._carried = self._carried_norm = None
        return loop

    def _schedule_next(self, step: int, loss: float | None) -> None:
        schedule = self._internals
        if schedule is None or self._layers is None or "model internals" in self.switched_off:
            return
        if schedule.next_is_due(step, loss, self._suspicious):
            schedule.sampled(step + 1)
            self._measure = True
        if self._measure and self._probe is not None:
            self._probe.arm()  # the next forward pass, or again after a step without an optimizer step

    def end_epoch(self, logs: Mapping[str, Any] | None = None) -> None:
        """The epoch ended: its mean loss and the given metrics (`val_loss`, ...) go to the epoch checks."""
        started = time.perf_counter()
        try:
            values = {canonical_metric_name(str(k)): v for k, v in ((k, _float(v)) for k, v in (logs or {}).items())
                      if v is not None}
            self._deliver()
            if self._epoch_loss[1]:
                values.setdefault("loss", self._epoch_loss[0] / self._epoch_loss[1])
            for key, (total, count) in self._metric_sums.items():
                values.setdefault(key, total / count)
            step = max(self.step_index - 1, 0)
            self._emit(self._engine.epoch(EpochObservation(step, self.epoch, values)))
            if self._writer is not None:
                self._writer.write_epoch(step, self.epoch, values, self.cost())
                self._writer.flush()
        except Exception as error:  # SCRAM must never break training
            self.fail("epoch check", error)
        finally:
            self.scram_seconds += time.perf_counter() - started
            self.epoch += 1
            self._epoch_loss, self._metric_sums = (0.0, 0), {}
            self._clock.pause()  # validation is no training step

    def close(self) -> None:
        """Removes every hook, closes the event file and prints the summary."""
        try:
            self._deliver()
        except Exception as error:  # SCRAM must never break training
            self.fail("batch check", error)
        for handle in self._handles + self._leaf_handles:
            try:
                handle.remove()
            except Exception:
                pass
        self._handles, self._leaf_handles = [], []
        if self._probe is not None:
            self._probe.close()
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception as error:
                self._warn_once("event writer", error)
        self._summary()

    def cost(self) -> dict[str, float]:
        train = time.perf_counter() - self._started
        return {"scram_seconds": self.scram_seconds, "train_seconds": train,
                "fraction": self.scram_seconds / train if train > 0 else 0.0}

    # -- output ----------------------------------------------------------------------------

    def _emit(self, diagnostics: list[Diagnostic]) -> None:
        if not diagnostics:
            return
        self.diagnostics.extend(diagnostics)
        if self._writer is not None:
            try:
                self._writer.write_diagnostics(max(d.step for d in diagnostics), diagnostics)
            except Exception as error:
                self._writer = None
                self._warn_once("event writer", error)
        if self.verbose:
            for d in diagnostics:
                if d.severity != Severity.INFO:
                    _say(f"SCRAM {ICONS[d.severity]} {found_at(d)}: {d.title} [{d.check}] — scram report "
                         f"{self.log_dir}")

    def _summary(self) -> None:
        if not self.verbose:
            return
        share = f"SCRAM used {self.cost()['fraction']:.1%} of the training time"
        if not self.diagnostics:
            _say(f"SCRAM: no issues found ({share})")
            return
        _say(f"SCRAM found {count_summary(self.diagnostics)} ({share}):")
        for d in self.diagnostics:
            _say(f"  {ICONS[d.severity]} {d.severity.value:<8} {found_at(d):<16} {d.title}  [{d.check}]")
        _say(f"Details: scram report {self.log_dir}   or   tensorboard --logdir {self.log_dir}, then the SCRAM tab")

    def fail(self, part: str, error: BaseException) -> None:
        """Switches a part of SCRAM off after its failure, warns once and records it; never raises."""
        self.switched_off.add(part)
        if part == "input statistics":
            self._inputs = self._targets = None
        self._warn_once(part, error)
        record_failure(self._engine, self._emit, part, error, self.step_index, self.epoch)


def build(disable: Iterable[str], thresholds: Mapping[str, Mapping[str, float]] | None,
          extra_checks: Sequence[Check]) -> list[Check]:
    """The run's checks; raises ValueError for a typo in an id or threshold name."""
    return build_checks(tuple(disable), {k: dict(v) for k, v in (thresholds or {}).items()}, list(extra_checks))


def warn_setup_failed(error: BaseException) -> None:
    """SCRAM could not start: said once, and training goes on without it."""
    warnings.warn(f"SCRAM: set-up failed ({type(error).__name__}: {error}); training continues without SCRAM.",
                  RuntimeWarning, stacklevel=3)


def _say(line: str) -> None:
    try:
        print(line, file=sys.stdout, flush=True)
    except Exception:  # a closed or broken stdout: SCRAM goes quiet
        pass


def _float(value: Any) -> float | None:
    """A loss or metric as a float (`.item()` of a one-value tensor), or None."""
    try:
        if isinstance(value, torch.Tensor):
            value = value.detach()
            if value.numel() != 1:
                return None
            return float(value.item())
        return float(value)
    except Exception:  # text, None, objects whose __float__ fails
        return None


def _host(value: Any) -> Any:
    """Tensors (in dicts, lists, tuples) as NumPy arrays on the host; anything else is dropped."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
        if tensor.dtype in (torch.bfloat16, torch.float16):
            tensor = tensor.float()
        return tensor.cpu().numpy()
    if isinstance(value, dict):
        return {k: _host(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_host(v) for v in value]
    return None


def _mode_dependent_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Dropout and BatchNorm-like modules beside trainable weights: the ones `eval()` mode changes in training.

    A BatchNorm counts when its own parameters train; a Dropout when its parent module holds
    trainable parameters (in a frozen backbone, both are the backbone's business).
    """
    found = []
    for parent_name, parent in model.named_modules():
        trainable_parent = any(p.requires_grad for p in parent.parameters())
        for name, child in parent.named_children():
            if not isinstance(child, model_facts.MODE_DEPENDENT):
                continue
            own = [p for p in child.parameters() if p.requires_grad]
            is_dropout = isinstance(child, nn.modules.dropout._DropoutNd)
            if own or (is_dropout and trainable_parent):
                found.append((f"{parent_name}.{name}" if parent_name else name, child))
    return found


def _holds(optimizer: torch.optim.Optimizer, param: nn.Parameter) -> bool:
    return any(p is param for group in optimizer.param_groups for p in group["params"])


def _followed_parameter(model: nn.Module,
                        optimizers: Sequence[torch.optim.Optimizer]) -> tuple[str, nn.Parameter] | None:
    """The smallest trainable parameter an optimizer updates: where `.grad` resets are watched, cheaply."""
    stepped = {id(p) for p in model_facts.optimized_parameters(optimizers)}
    candidates = [(p.numel(), name, p) for name, p in model.named_parameters()
                  if p.requires_grad and id(p) in stepped and p.numel()]
    if not candidates:
        return None
    _, name, param = min(candidates, key=lambda c: c[0])
    return name, param


def _activations_after(model: nn.Module, order: Sequence[str]) -> dict[str, str]:
    """The activation module the forward pass ran right after each module, by module name."""
    modules = dict(model.named_modules())
    after = {}
    for before, following in zip(order, order[1:], strict=False):
        module = modules.get(following)
        activation = model_facts.activation_of(module) if module is not None else None
        if activation not in (None, "linear"):
            after.setdefault(before, activation)
    return after
