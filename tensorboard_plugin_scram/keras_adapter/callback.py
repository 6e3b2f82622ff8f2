"""`ScramCallback`: the one line a user adds to `model.fit`."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import keras

from tensorboard_plugin_scram.checks import Check, build_checks
from tensorboard_plugin_scram.checks.base import batch_needs
from tensorboard_plugin_scram.diagnostic import Diagnostic
from tensorboard_plugin_scram.engine import Engine, WarnOnce, record_failure
from tensorboard_plugin_scram.events import metadata
from tensorboard_plugin_scram.events.writer import ScramSummaryWriter
from tensorboard_plugin_scram.keras_adapter import backends
from tensorboard_plugin_scram.keras_adapter.array_probe import ArrayProbe, training_label_counts
from tensorboard_plugin_scram.keras_adapter.compat import keras_api
from tensorboard_plugin_scram.keras_adapter.console import Console
from tensorboard_plugin_scram.keras_adapter.internals import InternalsProbe
from tensorboard_plugin_scram.keras_adapter.model_facts import model_facts
from tensorboard_plugin_scram.keras_adapter.model_info import describe, nonfinite_weights
from tensorboard_plugin_scram.keras_adapter.monitor import InternalsMonitor
from tensorboard_plugin_scram.keras_adapter.preflight import first_batch, overfit_one_batch
from tensorboard_plugin_scram.keras_adapter.sampling import InternalsSchedule, LossWatch, StatsSchedule, StepClock
from tensorboard_plugin_scram.keras_adapter.source import (
    fit_arguments,
    fit_batch_size,
    fit_early_stopping,
    fit_weighting,
    locations,
)
from tensorboard_plugin_scram.keras_adapter.submodels import parts_monitor
from tensorboard_plugin_scram.notebook import DiagnosticList
from tensorboard_plugin_scram.observations import (
    BatchObservation,
    EpochObservation,
    ModelStats,
    PreflightResult,
    RunInfo,
)

# Samples of the training data the model internals are measured on.
_INTERNALS_SAMPLE = 32
# The fine-grained loss curve holds every one of the first steps, then every `sample_every`.
_CURVE_ALWAYS = 20
# Batches that carry only metrics reach the checks in groups of up to this many: a step's
# hook runs on a cold CPU cache right after TensorFlow's work, where each call into the
# engine costs several times what it costs in a loop. A non-finite loss, a loss at twice
# its lowest (where divergence starts), a sampled batch and the epoch's end deliver the
# group at once, so diagnostics carry the same steps and come at most this many late.
_GROUPED_BATCHES = 16
_RISING_LOSS = 2.0
# SCRAM's parts that can fail on their own, and the attributes switched off when one does.
_INPUTS, _INTERNALS = "input statistics", "model internals"
_PARTS = {_INPUTS: ("_probe",), _INTERNALS: ("_internals", "_internals_probe")}


def _guarded(where: str) -> Callable:
    """Runs a hook so that no exception of SCRAM's can reach the user's training."""

    def decorate(hook: Callable) -> Callable:
        @functools.wraps(hook)
        def run(self: ScramCallback, *args: Any, **kwargs: Any) -> None:
            started = time.perf_counter()
            try:
                hook(self, *args, **kwargs)
            except Exception as error:  # SCRAM must never break training
                self._fail(where, error)
            finally:
                self._scram_seconds += time.perf_counter() - started

        return run

    return decorate


class ScramCallback(keras.callbacks.Callback):
    """Watches a Keras training run and reports what is likely wrong, and how to fix it.

    SCRAM runs a set of checks (NaN loss, unnormalised inputs, overfitting, ...) on
    each batch's and epoch's metrics and on cheap statistics of the input batches, and
    writes its diagnostics as TensorBoard events into `log_dir/scram`. See them in
    the SCRAM tab of `tensorboard --logdir log_dir`, or with `scram report log_dir`.

    SCRAM never stops or changes training: anything that fails inside it is caught,
    reported once as a warning and as a `scram_internal_error` diagnostic, and
    training goes on.

    Args:
        log_dir: The directory for TensorBoard logs, usually the same as for
            `keras.callbacks.TensorBoard`. SCRAM writes into its `scram` subdirectory.
        disable: Ids of checks to switch off, e.g. `["overfitting"]`.
        thresholds: Per check id, thresholds to change, e.g.
            `{"overfitting": {"patience": 3}}`. Each check's documentation lists its
            thresholds and their defaults.
        extra_checks: Your own `tensorboard_plugin_scram.checks.Check` instances.
        sample_every: Input statistics are read at every one of the first 20 batches,
            then at least `sample_every` batches apart (further apart when reading them
            costs more than 0.5% of the training time); the fine-grained loss curve keeps
            every `sample_every`-th batch. A batch holding NaN or Inf is always caught,
            sampled or not.
        internals_every: Gradients, activations, weight updates and predictions are
            measured (one extra forward and backward pass on a small sample) at steps 5
            and 20, then at least `internals_every` steps apart: further apart when a
            measurement costs more than 0.5% of the training time, more often while the
            loss looks wrong or a check suspects a fault it has seen once. 0 switches
            this off.
        preflight: Before training, train a copy of the model on 16 samples of the data
            given to `fit()` for 50 steps, and report (`cannot_overfit_batch`) when it
            cannot drive their loss near zero: a sign of a bug in the wiring, loss or
            labels. Costs a few seconds; your model and optimizer are untouched.
        verbose: `"auto"` (the default), 1 or 0 (True or False), as for Keras' callbacks. When it
            speaks, each new error or warning prints one line under the progress bar as
            it is found, and `fit()` ends with a summary of its diagnostics (an HTML table
            in Jupyter). `"auto"` follows `fit(verbose=...)`: silent with `verbose=0`. 1
            prints whatever `fit()` is told, 0 never.

    Attributes:
        diagnostics: Every diagnostic this callback found, in order, across `fit()`
            calls (like `History.history`); a notebook shows the list as a table.

    Raises:
        ValueError: for an unknown check id or threshold name, or a `verbose` other
            than "auto", 0 or 1.

    Example:

    ```python
    from tensorboard_plugin_scram import ScramCallback

    model.fit(x_train, y_train, validation_split=0.2, epochs=10,
              callbacks=[keras.callbacks.TensorBoard("logs"), ScramCallback("logs")])
    ```
    While it trains, SCRAM prints a line under the progress bar for each new problem:

    ```
    SCRAM ✖ step 3: NaN (not a number) in loss [nan_loss] — scram report logs
    ```
    For the full explanations run `scram report logs`, or `tensorboard --logdir logs` and
    open the SCRAM tab; in Python, `callback.diagnostics` or
    `tensorboard_plugin_scram.read("logs")`.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike,
        disable: Iterable[str] = (),
        thresholds: Mapping[str, Mapping[str, float]] | None = None,
        extra_checks: Sequence[Check] = (),
        sample_every: int = 10,
        internals_every: int = 50,
        preflight: bool = False,
        verbose: str | int = "auto",
    ) -> None:
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.disable = tuple(disable)
        self.thresholds = {k: dict(v) for k, v in (thresholds or {}).items()}
        self.extra_checks = list(extra_checks)
        self.sample_every = max(1, int(sample_every))
        self.internals_every = max(0, int(internals_every))
        self.preflight = bool(preflight)
        # Fail on a configuration typo now, not silently during training.
        checks = build_checks(self.disable, self.thresholds, self.extra_checks)
        self.verbose = verbose
        self.diagnostics: list[Diagnostic] = DiagnosticList()
        self._console = Console(self.log_dir, verbose, checks=len(checks))
        self._epoch_end_step = -1  # the step count when an epoch last ended
        self._pre_read: tuple[int, tuple] | None = None  # (step, statistics) read before training
        self._engine: Engine | None = None
        self._backend: Any = None  # the module of `backends` for Keras' backend
        self._reads_model = False
        self._writer: ScramSummaryWriter | None = None
        self._probe: Any = None  # ArrayProbe, or the backend's step probe
        self._installed: Any = None  # the probe last wrapped around the model, working or switched off
        self._internals: InternalsMonitor | None = None
        self._internals_probe: InternalsProbe | None = None
        self._warn_once = WarnOnce()
        self._next_step = 0
        self._stats_schedule = StatsSchedule(self.sample_every)
        self._clock = StepClock()
        self._curve_step = 0
        self._loss_was_finite = True
        self._loss_watch = LossWatch(_RISING_LOSS)
        self._grouped: list[tuple] = []  # BatchObservation fields, built when checked
        self._suspicious = False
        self._epoch_base = 0
        self._fit_base = 0
        self._epoch = 0
        self._scram_seconds = 0.0
        self._train_seconds = 0.0
        self._train_started = 0.0

    # -- Keras hooks -----------------------------------------------------------------

    @_guarded("set-up")
    def on_train_begin(self, logs: Mapping | None = None) -> None:
        self._train_started = time.perf_counter()
        self._fit_base = self._next_step
        self._pre_read = None
        self._suspicious = False
        if self._engine is None:
            checks = build_checks(self.disable, self.thresholds, self.extra_checks)
            self._engine = Engine(checks, on_error=self._warn_once)
            self._reads_model = any("model" in batch_needs(check) for check in checks)
            self._backend = backends.current()
            self._writer = self._open_writer()
        compile_at, fit_at = locations()
        arguments = fit_arguments()
        sample = self._sample_batch(arguments)
        _build_if_needed(self.model, sample)
        run = describe(self.model, compile_location=compile_at, fit_location=fit_at,
                       batch_size=fit_batch_size(arguments))
        run = dataclasses.replace(run, **model_facts(self.model))
        run = dataclasses.replace(run, **fit_weighting(arguments), **fit_early_stopping(arguments))
        if self.preflight and self._next_step == 0:
            run = dataclasses.replace(run, preflight=self._run_preflight(arguments))
        self._install_probe(run, arguments, sample)
        if isinstance(self._probe, ArrayProbe):  # the whole labels are at hand: their class frequencies
            run = dataclasses.replace(run, label_counts=training_label_counts(arguments))
        self._emit(self._engine.begin(run, self._next_step))
        if isinstance(self._probe, ArrayProbe):
            self._check_first_batch()

    @_guarded("epoch start")
    def on_epoch_begin(self, epoch: int, logs: Mapping | None = None) -> None:
        self._epoch = int(epoch)
        self._epoch_base = self._next_step
        self._clock.pause()  # validation and the time between fit() calls are no training step

    @_guarded("batch check")
    def on_train_batch_end(self, batch: int, logs: Mapping | None = None) -> None:
        started = time.perf_counter()
        self._clock.tick(started)
        steps = (self.params or {}).get("steps")
        # With steps_per_execution > 1, Keras reports an epoch's last execution as if it
        # were full; the epoch's real last batch is steps - 1.
        step = self._epoch_base + (min(int(batch), steps - 1) if steps else int(batch))
        self._next_step = step + 1
        values = _floats(logs)
        loss = values.get("loss")
        finite = loss is None or math.isfinite(loss)
        tensors = None
        first_nonfinite = not finite and self._loss_was_finite
        self._loss_was_finite = finite
        # The epoch's last batch is always looked at, so a NaN counted since the last sample
        # is reported within its epoch; so is the batch where the loss turned NaN (Keras'
        # running loss then stays NaN to the epoch's end: later batches tell nothing new).
        last_of_epoch = bool(steps) and step - self._epoch_base >= steps - 1
        if self._pre_read is not None and self._pre_read[0] == step:
            tensors, self._pre_read = self._pre_read[1], None
            self._stats_schedule.taken(step)
        elif self._stats_schedule.due(step) or first_nonfinite or last_of_epoch:
            self._stats_schedule.taken(step)
            tensors = self._read_probe(step - self._fit_base)
        if self._probe is not None and self._probe.needs_requests:
            self._probe.request(self._stats_schedule.next_is_due(step))
        model_stats = self._read_internals(step, loss)
        if model_stats is None and first_nonfinite:
            model_stats = self._where_nan_went()
        rising = self._loss_watch.looks_wrong(loss)  # fed every loss, so its lowest is the run's
        # A rising loss, or the batch it turned NaN, goes to the checks at once; Keras' running
        # loss then stays NaN to the epoch's end, and those batches can wait for their group.
        news = first_nonfinite or (rising and finite)
        self._grouped.append((step, self._epoch, values, tensors, model_stats))
        if news or tensors is not None or model_stats is not None or len(self._grouped) >= _GROUPED_BATCHES:
            self._check_grouped()
        if model_stats is not None:  # what the checks made of it sets when to measure next
            self._suspicious = self._engine.suspects()
        if self._writer is not None and (step < _CURVE_ALWAYS or step - self._curve_step >= self.sample_every
                                         or first_nonfinite):
            self._curve_step = step
            self._writer.write_batch(step, self._epoch, values)
            if first_nonfinite:  # on disk with the NaN diagnostic, should the script die now
                self._writer.flush()
        self._clock.exclude(time.perf_counter() - started)

    @_guarded("epoch check")
    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        self._epoch_end_step = self._next_step
        self._check_grouped()
        step = max(self._next_step - 1, 0)
        values = _floats(logs)
        if not (self.params or {}).get("steps") and self._probe is not None:
            # A data set of unknown length: its last batch could not be told in advance, so
            # statistics computed since the last sample (a NaN counted) are read now.
            tensors = self._read_probe(step - self._fit_base)
            if tensors is not None:
                self._emit(self._engine.batch(BatchObservation(step, int(epoch), {}, tensors)))
        self._emit(self._engine.epoch(EpochObservation(step, int(epoch), values)))
        if self._writer is not None:
            self._writer.write_epoch(step, int(epoch), values, self._cost())
            self._writer.flush()

    @_guarded("clean-up")
    def on_train_end(self, logs: Mapping | None = None) -> None:
        self._check_grouped()
        self._train_seconds += time.perf_counter() - self._train_started
        self._train_started = 0.0
        # A probe switched off mid-fit is unwrapped here too: the train function must stay
        # whole while Keras steps through it.
        self._probe = None
        if self._installed is not None:
            probe, self._installed = self._installed, None
            probe.uninstall()
        self._internals = None
        if self._writer is not None:
            self._writer.close()
        self._console.summary(self.params, self._cost()["fraction"])

    # -- helpers ---------------------------------------------------------------------

    def _check_grouped(self) -> None:
        """Runs the batch checks over the batches held back, in order."""
        grouped, self._grouped = self._grouped, []
        if self._engine is None:
            return
        diagnostics = []
        for fields in grouped:
            diagnostics += self._engine.batch(BatchObservation(*fields))
        self._emit(diagnostics)

    def _check_first_batch(self) -> None:
        """Judges the first batch's statistics before training starts on it (arrays only).

        Labels a loss cannot take (binary cross-entropy on class ids above 1) make some
        backends' first step raise (PyTorch checks its targets), before any batch hook:
        read from the arrays, the batch is judged now, and the root cause is said first.
        """
        step = self._next_step
        tensors = self._read_probe(step - self._fit_base)
        if tensors is not None:
            self._pre_read = (step, tensors)  # given again when the step ends, not read again
            self._emit(self._engine.batch_data(BatchObservation(step, self._epoch, {}, tensors)))

    def _attempt(self, part: str, action: Callable[[], Any]) -> Any:
        """Runs one part of SCRAM's machinery; if it fails, that part is switched off and reported once.

        `part` is one of `_PARTS`' names; the result is None after a failure.
        """
        try:
            return action()
        except Exception as error:  # SCRAM must never break training
            self._switch_off(part, error)
            return None

    def _switch_off(self, part: str, error: BaseException) -> None:
        for attribute in _PARTS.get(part, ()):
            setattr(self, attribute, None)
        self._fail(part, error)

    def _run_preflight(self, arguments: dict) -> PreflightResult | None:
        def run() -> PreflightResult | None:
            batch = first_batch(arguments)
            return overfit_one_batch(self.model, *batch) if batch is not None else None

        return self._attempt("preflight", run)

    def _open_writer(self) -> ScramSummaryWriter | None:
        """SCRAM's event writer; None on the workers other than the chief of a multi-worker run."""
        if not self._backend.is_chief(self.model):
            return None
        return ScramSummaryWriter(os.path.join(self.log_dir, metadata.RUN_SUBDIR), on_error=self._warn_once)

    def _sample_batch(self, arguments: dict) -> tuple | None:
        try:
            return first_batch(arguments, size=_INTERNALS_SAMPLE, datasets=False)
        except Exception:  # no sample: the internals are then measured inside the train step
            return None

    def _install_probe(self, run: RunInfo, arguments: dict, sample: tuple | None) -> None:
        internals = self._install_internals(run, sample)

        def install() -> Any:
            if sample is not None and ArrayProbe.suits(arguments):
                # Arrays: batches are read from them and the internals measured on a sample,
                # both outside the train step, which stays exactly as Keras built it.
                probe = ArrayProbe(arguments, run.batch_size or 32, run.embedding_inputs)
            else:
                in_step = internals is not None and self._backend.MEASURES_IN_STEP
                probe = self._backend.step_probe(self.model, run.embedding_inputs,
                                                 on_error=functools.partial(self._switch_off, _INPUTS),
                                                 recorders=(internals.record,) if in_step else ())
                if self._internals is not None and not in_step:  # measured on the batches the probe sees
                    self._internals.sample = probe.latest_sample
            probe.install()
            self._installed = probe
            return probe

        self._probe = self._attempt(_INPUTS, install)

    def _install_internals(self, run: RunInfo, sample: tuple | None) -> InternalsProbe | None:
        self._internals = None
        if not self.internals_every or not self._reads_model:
            return None
        if run.internals_unmeasured:  # no call() to run: the weights of its trainable parts are followed instead
            self._internals = self._attempt(_INTERNALS, lambda: parts_monitor(
                self.model, InternalsSchedule(self.internals_every), self._clock,
                functools.partial(self._backend.weight_values, self.model)))
            return None
        if sample is None and self._backend.MEASURES_IN_STEP and not self._backend.single_device(self.model):
            # Measured inside the train step, the branch would need a cross-replica merge
            # inside tf.cond, which TensorFlow does not support: under a distribution
            # strategy without a sample of arrays, only the batch statistics run.
            return None
        def install() -> InternalsProbe:
            probe = self._internals_probe
            if probe is None or not probe.measures(self.model, run.losses):  # else reused: no second trace
                probe = self._backend.internals_probe(self.model, run.losses,
                                                      functools.partial(self._switch_off, _INTERNALS))
                probe.install()
                self._internals_probe = probe
            self._internals = InternalsMonitor(probe, InternalsSchedule(self.internals_every), sample, self._clock,
                                               weights=functools.partial(self._backend.weight_values, self.model))
            self._internals.prepare()  # a sample of arrays: ready while Keras compiles its own step
            return probe

        return self._attempt(_INTERNALS, install)

    def _read_internals(self, step: int, loss: float | None) -> ModelStats | None:
        monitor = self._internals
        if monitor is None:
            return None
        return self._attempt(_INTERNALS, lambda: monitor.after_step(step, loss, self._suspicious))

    def _where_nan_went(self) -> ModelStats:
        """Layer by layer: the weights, then, if they are all finite, a training sample re-run through them.

        Weights already NaN name the first broken layer; the re-run (a forward and backward
        pass, the larger share of a short fit's cost) is kept for a NaN the weights cannot explain.
        """
        weights = nonfinite_weights(self.model, functools.partial(self._backend.weight_values, self.model))
        monitor = self._internals
        if monitor is None or any(layer.nonfinite_weights for layer in weights.layers):
            return weights
        return self._attempt(_INTERNALS, monitor.rerun) or weights

    def _read_probe(self, batch: int) -> tuple | None:
        probe = self._probe
        if probe is None:
            return None
        started = time.perf_counter()
        tensors = self._attempt(_INPUTS, lambda: probe.read(batch))
        if tensors is not None:
            self._stats_schedule.cost(self._clock.in_steps(time.perf_counter() - started))
        return tensors

    def _emit(self, diagnostics: list[Diagnostic]) -> None:
        if not diagnostics:
            return
        self.diagnostics.extend(diagnostics)
        if self._writer is not None:
            step = max(d.step for d in diagnostics)
            try:
                self._writer.write_diagnostics(step, diagnostics)
            except Exception as error:
                self._writer = None
                self._warn_once("event writer", error)
        self._console.found(diagnostics, self.params, mid_line=self._bar_mid_line())

    def _bar_mid_line(self) -> bool:
        """Whether Keras' progress bar has drawn part of the current epoch on the current line.

        It draws a batch after this callback's batch hook, and closes its line after this
        callback's `on_epoch_end`: inside a batch hook the bar shows the batches before
        this one, at the epoch's end all of them.
        """
        drawn = self._next_step - self._epoch_base - (self._epoch_end_step != self._next_step)
        return drawn > 0

    def _cost(self) -> dict[str, float]:
        running = time.perf_counter() - self._train_started if self._train_started else 0.0
        train = self._train_seconds + running
        return {
            "scram_seconds": self._scram_seconds,
            "train_seconds": train,
            "fraction": self._scram_seconds / train if train > 0 else 0.0,
        }

    def _fail(self, where: str, error: BaseException) -> None:
        """Records a failure of SCRAM's own machinery; never raises."""
        self._warn_once(where, error)
        record_failure(self._engine, self._emit, where, error, self._next_step, self._epoch)


def _build_if_needed(model: keras.Model, sample: tuple | None) -> None:
    """Builds a model whose weights do not exist yet (a Sequential without `Input`).

    Keras builds such a model when it traces the first train step, after `on_train_begin`;
    with a sample of the arrays SCRAM builds it now the way Keras itself does under a
    distribution strategy (symbolically: same layers, same initial weights), so that the
    static checks and the internals see its weights. Without a sample it stays unbuilt
    and `describe` leaves what it cannot know unknown.
    """
    if sample is None:
        return
    try:
        keras_api.symbolic_build(model, sample)
    except Exception:  # Keras will build it at the first step, as always
        pass


def _floats(logs: Mapping | None) -> dict[str, float]:
    """The numeric entries of Keras' logs as floats; anything else is ignored."""
    values = {}
    for key, value in (logs or {}).items():
        try:
            values[str(key)] = float(value)
        except Exception:  # None, text, tensors of several values, objects whose __float__ fails
            continue
    return values

