"""The scenario record, the `@scenario` decorator that registers one, and fault onsets."""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import keras

KINDS = ("static", "batch", "epoch", "healthy")


@dataclasses.dataclass
class Job:
    """One training job: a compiled model, its data and the arguments of `model.fit`."""

    model: keras.Model
    x: Any
    y: Any
    fit: dict[str, Any]


def job(model: keras.Model, x: Any, y: Any, epochs: int = 4, batch_size: int = 32, **fit: Any) -> Job:
    """A `Job` with the zoo's defaults (`verbose=0`)."""
    return Job(model, x, y, {"epochs": epochs, "batch_size": batch_size, "verbose": 0, **fit})


@dataclasses.dataclass(frozen=True)
class Trace:
    """What a training run did, for onsets that are only known afterwards.

    Attributes:
        losses: Keras' running training loss at the end of every batch, by global step (None where it logs none).
        epochs: Keras' epoch logs, by epoch.
    """

    losses: list[float | None]
    epochs: list[dict[str, float]]


# A fixed onset (step or epoch), or one computed from the run's trace (None: never started).
Onset = int | Callable[[Trace], int | None]


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A labelled training job.

    Attributes:
        name: Unique id (the function's name).
        description: One line: what is wrong, or what makes it healthy.
        build: Makes the `Job` (called after the random seed is set).
        expected: Check ids any of which is a correct diagnosis; empty for a healthy job.
        kind: "static" (wrong before the first batch), "batch", "epoch", or "healthy".
        onset: Where the fault starts: a global step for static/batch kinds, an epoch for
            the epoch kind (or a function of the run's `Trace`).
        tolerated: Check ids that describe true consequences of the fault (NaN loss after
            NaN inputs): neither a correct diagnosis nor an off-target alarm.
        scram_options: Extra `ScramCallback` arguments (opt-in checks); dropped, and
            noted, when this SCRAM does not accept them.
        abort_before_training: Stop `fit()` after `on_train_begin` (a job that would
            really run out of memory); only static checks can see it.
        group: The module that defines it (healthy, paper, static, data, loss, ...).
        backends: The Keras backends the program is written for (a `train_step` with
            `tf.GradientTape` is TensorFlow's); empty: any. Elsewhere it is not run, and
            the results say so: Keras cannot train it there, with SCRAM or without.
    """

    name: str
    description: str
    build: Callable[[], Job]
    expected: frozenset[str]
    kind: str
    onset: Onset = 0
    tolerated: frozenset[str] = frozenset()
    scram_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    abort_before_training: bool = False
    group: str = ""
    backends: frozenset[str] = frozenset()

    @property
    def runs_here(self) -> bool:
        """Whether the program is written for the Keras backend this process runs."""
        return not self.backends or keras.backend.backend() in self.backends

    @property
    def healthy(self) -> bool:
        """Whether no warning or error is wanted at all."""
        return not self.expected

    @property
    def unit(self) -> str:
        """"epoch" for epoch-kind faults, else "step"."""
        return "epoch" if self.kind == "epoch" else "step"

    def onset_in(self, trace: Trace) -> int | None:
        """The onset for this run (None for a healthy job or a fault that never showed)."""
        if self.healthy:
            return None
        return self.onset(trace) if callable(self.onset) else self.onset


@dataclasses.dataclass(frozen=True)
class Setup:
    """A healthy training setup of the sweep; `tolerated` checks report something real in it (see `description`)."""

    name: str
    description: str
    build: Callable[[], Job]
    tolerated: tuple[str, ...] = ()


REGISTRY: dict[str, Scenario] = {}


def scenario(expected: Iterable[str] = (), kind: str = "static", onset: Onset = 0,
             tolerated: Iterable[str] = (), faulty_on: Mapping[str, Iterable[str]] | None = None,
             **options: Any) -> Callable[[Callable[[], Job]], Callable[[], Job]]:
    """Registers the decorated job builder as a scenario named after the function.

    Its docstring's first line is the description. Without `expected` it is healthy.
    `faulty_on`: Keras backends on which the same program is faulty, with the check ids
    expected there (a softmax output under `from_logits=True` is harmless only where
    TensorFlow hands the loss the cached logits); `tolerated` then holds there only.
    """
    if faulty_on is not None:
        faulty_here = keras.backend.backend() in faulty_on
        expected = faulty_on[keras.backend.backend()] if faulty_here else expected
        tolerated = tolerated if faulty_here else ()

    def register(build: Callable[[], Job]) -> Callable[[], Job]:
        name = build.__name__
        if name in REGISTRY:
            raise ValueError(f"duplicate scenario {name!r}")
        final_kind = kind if expected else "healthy"
        if final_kind not in KINDS:
            raise ValueError(f"scenario {name!r}: unknown kind {kind!r}")
        REGISTRY[name] = Scenario(
            name=name,
            description=inspect.getdoc(build).splitlines()[0],
            build=build,
            expected=frozenset(expected),
            kind=final_kind,
            onset=onset,
            tolerated=frozenset(tolerated) - frozenset(expected),
            group=build.__module__.rsplit(".", 1)[-1],
            **{**options, "backends": frozenset(options.get("backends", ()))},
        )
        return build

    return register


def first_nonfinite_loss(trace: Trace) -> int | None:
    """The first step whose running loss is NaN or Inf."""
    return next((step for step, loss in enumerate(trace.losses) if loss is not None and not math.isfinite(loss)),
                None)


def after_best_val_loss(trace: Trace) -> int | None:
    """The epoch after the best validation loss: from there on, validation gets worse."""
    val = [e.get("val_loss", math.nan) for e in trace.epochs]
    finite = [(v, i) for i, v in enumerate(val) if math.isfinite(v)]
    if not finite:
        return None
    best = min(finite)[1]
    return best + 1 if best + 1 < len(val) else None
