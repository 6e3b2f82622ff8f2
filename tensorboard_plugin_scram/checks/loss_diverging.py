"""loss_diverging: the loss grows by orders of magnitude without being NaN yet."""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks import _losses
from tensorboard_plugin_scram.checks._advice import (
    PYTORCH,
    TORCH_DEFAULT_INIT,
    gradient_clipping,
    he_init_snippet,
    idiom,
    learning_rate_range,
    optimizer_snippet,
)
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation


class LossDiverging(Check):
    """## What it does
    Compares each batch's loss with where it started: the first batch's loss, or, for a
    cross-entropy over k classes, ln k (the loss of a model that guesses uniformly).

    ## Why is this bad?
    A loss that grows far above its starting value means the updates overshoot: training
    is moving away from any solution, and NaN usually follows. Catching it before NaN
    saves the run.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=10.0), ...)
    ```

    ## Fix
    ```python
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3), ...)
    ```
    or clip gradients with `clipnorm=1.0` (in PyTorch, `torch.nn.utils.clip_grad_norm_(model.parameters(),
    1.0)` between `loss.backward()` and `optimizer.step()`).

    ## Rule
    Reference = max(first finite batch loss, ln k for a k-class cross-entropy). Fires
    (warning) when Keras' running loss stays at least `factor` times the reference for
    `patience` sampled batches in a row, and as an error when it reaches `error_factor`
    times. Healthy training hardly ever goes above its starting loss for long; a factor
    of 10 leaves room for noisy first steps.

    A cross-entropy computed from probabilities cannot grow without bound: Keras clips
    them to [1e-7, 1 - 1e-7], so its loss stops near -ln(1e-7) = 16.1 (on JAX and
    PyTorch always; on TensorFlow when no logits reach the loss). For such a loss the
    rule also fires when it stays above `ceiling_share` of that ceiling (and twice ln k,
    or twice the reference when k is unknown), and as an error above `ceiling_error_share`
    of it: the model then puts nearly all its probability on wrong classes, a diverged
    softmax. When the very first loss already sat there, the finding is a warning titled
    "Loss at its ceiling from the start": the model was initialised (or fed) so that its
    outputs are extreme, and where its gradients vanish through the clipped probabilities
    it cannot recover (on JAX and PyTorch, where this does not end in NaN, the only sign of
    an exploding initialisation).
    """

    id = "loss_diverging"
    title = "Loss is diverging"
    severity = Severity.WARNING
    confidence = Confidence.HIGH
    thresholds = {"factor": 10.0, "error_factor": 1000.0, "patience": 3, "ceiling_share": 0.5,
                  "ceiling_error_share": 0.75}

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._streak = 0
        self._reference: tuple[object, float, float] | None = None  # (run, first loss, reference)

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        loss = obs.logs.get("loss")
        if loss is None or not math.isfinite(loss) or history.first_loss is None:
            return None
        reference = self._reference_loss(history)
        ratio = loss / reference
        ceiling = _clipped_ceiling(history)
        rising = ratio >= self.threshold("factor") or (
            ceiling is not None and loss >= max(self.threshold("ceiling_share") * ceiling,
                                                2 * (_chance_loss(history) or reference)))
        self._streak = self._streak + 1 if rising else 0
        if self._streak < self.threshold("patience") and ratio < self.threshold("error_factor"):
            return []
        error = ratio >= self.threshold("error_factor") or (
            ceiling is not None and loss >= self.threshold("ceiling_error_share") * ceiling)
        return [self._finding(loss, reference, ratio, obs.step, history, error)]

    def _reference_loss(self, history: History) -> float:
        """The loss to compare with: the first one, or chance level if higher (kept: asked every step)."""
        cached = self._reference
        if cached is None or cached[0] is not history.run or cached[1] != history.first_loss:
            reference = max(abs(history.first_loss), _chance_loss(history) or 0.0, 1e-12)
            cached = self._reference = (history.run, history.first_loss, reference)
        return cached[2]

    def _finding(self, loss: float, reference: float, ratio: float, step: int, history: History,
                 error: bool) -> Finding:
        run = history.run
        share = self.threshold("ceiling_share")
        at_ceiling = _clipped_ceiling(history) is not None and share * _CEILING <= loss
        if at_ceiling and history.first_loss >= share * _CEILING:
            return _ceiling_from_the_start(step, loss, history)
        usual = learning_rate_range(run.optimizer)
        suggested = usual[2] if usual else 1e-3
        explanation = (f"At step {step} the loss is {loss:.3g}, {ratio:.3g} times its starting value "
                       f"{reference:.3g}. The updates are likely overshooting; the loss could soon become NaN.")
        if at_ceiling:
            explanation += _ceiling_note(loss, run.framework)
        if run.learning_rate is not None:
            explanation += f" The learning rate is {run.learning_rate:g} ({run.optimizer})."
        return Finding(
            title=self.title,
            explanation=explanation,
            suggestion=(f"Lower the learning rate (try {suggested:g}) or clip the gradients "
                        f"({gradient_clipping(run.framework)})."),
            snippet=optimizer_snippet(run.optimizer, suggested, run.framework),
            evidence={"loss": loss, "reference": reference, "ratio": ratio, "factor": self.threshold("factor"),
                      "learning_rate": run.learning_rate},
            severity=Severity.ERROR if error else Severity.WARNING,
            location=run.compile_location,
        )


def _ceiling_from_the_start(step: int, loss: float, history: History) -> Finding:
    """The loss never came down from the ceiling: the untrained model's outputs were already extreme."""
    chance = _chance_loss(history)
    framework = history.run.framework
    versus = f", against {chance:.3g} for uniform guessing" if chance else ""
    if framework == PYTORCH:
        outlook = _TORCH_OUTLOOK
    elif loss <= _CEILING * 1.001:
        outlook = (f" A cross-entropy over probabilities clipped at 1e-7 stops near {_CEILING:.3g}, where no "
                   "gradient passes through them (always so on JAX and PyTorch): the model cannot recover.")
    else:
        outlook = (" The loss is computed from the logits here (Keras on TensorFlow), so it is not clipped and "
                   "the model may still recover, slowly; its first steps are wasted.")
    return Finding(
        title="Loss at its ceiling from the start",
        explanation=(
            f"At step {step} the loss is {loss:.3g}, and it started there{versus}: the untrained model already put "
            "nearly all its probability on wrong classes, so its outputs were extreme from the first step, from "
            "inputs far from unit scale or weights initialised too large (activations growing layer after "
            f"layer).{outlook}"),
        suggestion=("Scale the inputs (for example to [0, 1] or to zero mean and unit variance) and keep the "
                    "weights at the scale their activations need ("
                    + idiom(framework, "Keras' defaults: Glorot, or He for ReLU layers", TORCH_DEFAULT_INIT)
                    + "); the first loss should then be near chance level."),
        snippet=he_init_snippet(framework),
        evidence={"loss": loss, "first_loss": history.first_loss, "chance_loss": chance, "ceiling": _CEILING},
        severity=Severity.WARNING,
        confidence=Confidence.MEDIUM,
        location=history.run.compile_location,
    )


# -ln(1e-7): where Keras' cross-entropies over clipped probabilities stop.
_CEILING = -math.log(1e-7)

# PyTorch's losses over probabilities are not clipped at 1e-7: nn.BCELoss clamps its logarithms at -100,
# nn.NLLLoss takes log-probabilities as they come.
_TORCH_OUTLOOK = (" Where a sigmoid or softmax saturates this far, its gradient all but vanishes: the model may "
                  "recover only slowly, or not at all, and its first steps are wasted.")


def _ceiling_note(loss: float, framework: str) -> str:
    """What a cross-entropy this high means: nearly all the probability on wrong classes."""
    if framework == PYTORCH:
        return (f" A cross-entropy of {loss:.3g} means the true classes get a probability of about e^-{loss:.3g} "
                "(a geometric mean): the model puts nearly all its probability on wrong classes.")
    return (f" A cross-entropy stops near {_CEILING:.3g} (probabilities are clipped at 1e-7): at "
            f"{loss:.3g} the model puts nearly all its probability on wrong classes.")


def _clipped_ceiling(history: History) -> float | None:
    """The ceiling of the run's loss if it is one cross-entropy over probabilities, else None."""
    losses = history.run.losses
    if len(losses) != 1 or not _losses.is_classification(losses[0]) or losses[0].from_logits:
        return None
    return _CEILING


def _chance_loss(history: History) -> float | None:
    classes = _losses.class_count(history.run)
    if classes is None or history.run.losses[0].name in _losses.BINARY:
        return math.log(2) if classes == 2 else None
    return math.log(classes)
