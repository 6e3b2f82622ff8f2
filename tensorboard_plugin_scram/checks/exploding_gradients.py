"""exploding_gradients: gradient norms huge, non-finite, or growing fast."""

from __future__ import annotations

import math

from tensorboard_plugin_scram.checks._advice import clipped_optimizer_snippet, gradient_clipping, learning_rate_range
from tensorboard_plugin_scram.checks._layers import measured, names, nice_number, with_gradients
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, LayerStats, RunInfo


class ExplodingGradients(Check):
    """## What it does
    On sampled training steps, measures the gradient norm of each layer's trainable
    weights and of the whole model, and reports gradients that are non-finite, huge,
    growing fast since the first measurement, or growing from the last layer to the
    first.

    ## Why is this bad?
    Huge gradients make huge updates: the weights jump far away, the loss swings or
    grows, and soon becomes NaN. Usual causes: a learning rate too high, weights
    initialised too large, unnormalised inputs or targets, deep networks without
    normalisation, and recurrent networks without gradient clipping.

    ## Example
    ```python
    keras.layers.Dense(64, activation="relu",
                       kernel_initializer=keras.initializers.RandomNormal(stddev=0.5))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss=...)
    ```

    ## Fix
    ```python
    optimizer = keras.optimizers.SGD(learning_rate=0.001, clipnorm=1.0)
    ```
    and keep the default initialisation, normalise inputs and targets. In PyTorch, clip with
    `torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)` between `loss.backward()` and
    `optimizer.step()`.

    ## Rule
    Error (confidence high) when a layer's gradient norm is NaN or infinite or the whole
    model's reaches `error_norm` (1e6, the limit of TheDeepChecker). Warning when, on a
    sampled step,
    - the whole model's gradient norm is at least `norm_limit` (1e3), under an optimizer
      whose step grows with the gradient (SGD; not Adam, RMSprop, Adagrad and their kin,
      which divide it by the gradients' running scale). Healthy runs in SCRAM's tests
      stayed within 0.3-11 (cross-entropy and MSE on scaled data); regression onto
      unscaled targets (25-346) under Adam reaches 1.4e3 while its loss falls, which is
      why none of these rules counts while the loss is below its value at the first
      measurement, or 1% below the run's first loss;
    - or it grew to at least `growth` (100x) its value at the first measurement while
      the loss has not fallen below its value then. Healthy gradient norms mostly shrink
      or wander within a factor of about 10 as the loss falls; a model leaving its
      starting plateau is the exception, and its loss shows it: an Embedding + LSTM text
      model's gradient norm grew from 0.03 to 4 (125x) in SCRAM's sweep of healthy
      setups while its loss fell from 0.69 to 0.3;
    - or the first layer's gradient norm is at least `depth_ratio` (100x) the last
      layer's (AUTOTRAINER uses 70). Healthy runs: 0.5 to 3.5.
    A single sample suffices: one such step can already ruin the weights. Once the loss
    is NaN or infinite the check stays quiet: `nan_loss` reports that, and the point of
    this check is to warn before it.
    """

    id = "exploding_gradients"
    title = "Exploding gradients"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"norm_limit": 1e3, "error_norm": 1e6, "growth": 100.0, "depth_ratio": 100.0}
    batch_needs = frozenset({"model"})

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._baseline: float | None = None
        self._baseline_loss: float | None = None

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        model = measured(obs, history)
        if model is None:
            return None  # not measured, or the loss is already NaN: nan_loss reports that
        layers = with_gradients(model.layers)
        if not layers:
            return []
        total = math.hypot(*(layer.grad_norm for layer in layers))  # inf, not OverflowError, for huge norms
        loss = obs.logs.get("loss")
        if self._baseline is None and math.isfinite(total) and total > 0:
            self._baseline, self._baseline_loss = total, loss
        reason = self._reason(layers, total, loss, history.first_loss, _adaptive(history.run.optimizer))
        if reason is None:
            return []
        return [self._finding(layers, total, reason, obs, history.run)]

    def _reason(self, layers: list[LayerStats], total: float, loss: float | None,
                first_loss: float | None, adaptive: bool) -> str | None:
        if not math.isfinite(total) or total >= self.threshold("error_norm"):
            return "error"
        if self._loss_fell(loss, first_loss):
            return None  # large or growing gradients while the loss falls are learning (unscaled targets)
        if total >= self.threshold("norm_limit") and not adaptive:
            return "huge"
        if self._baseline and total >= self.threshold("growth") * self._baseline:
            return "growth"
        first, last = layers[0], layers[-1]
        if len(layers) > 1 and last.grad_norm > 0 and first.grad_norm >= self.threshold("depth_ratio") * last.grad_norm:
            return "depth"
        return None

    def _loss_fell(self, loss: float | None, first_loss: float | None) -> bool:
        """Whether the loss is below its value at the first measurement or at the first step.

        Large or growing gradients while the loss falls are learning (regression targets in the
        hundreds give a large gradient from the first step, and Adam's steps do not grow with it).
        """
        if loss is None or not math.isfinite(loss):
            return False
        below_first = first_loss is not None and math.isfinite(first_loss) and loss < (1 - _FELL) * first_loss
        return below_first or (self._baseline_loss is not None and loss < self._baseline_loss)

    def _observed(self, layers: list[LayerStats], total: float, reason: str) -> str:
        if reason == "error" and not math.isfinite(total):
            bad = [layer for layer in layers if not math.isfinite(layer.grad_norm)]
            listed = names(bad[:3]) + (" ..." if len(bad) > 3 else "")
            return f"the gradients of {len(bad)} layer(s) ({listed}) are NaN or infinite while the weights are not yet"
        if reason == "error":
            return f"the gradient norm is {total:.3g}, beyond {self.threshold('error_norm'):g}"
        if reason == "huge":
            return f"the gradient norm is {total:.3g}, above {self.threshold('norm_limit'):g}"
        if reason == "growth":
            return (f"the gradient norm grew to {total:.3g}, {total / self._baseline:.0f} times its "
                    f"first measured value {self._baseline:.3g}")
        first, last = layers[0], layers[-1]
        return (f"the first layer '{first.name}' gets a gradient {first.grad_norm / last.grad_norm:.0f} times "
                f"larger than the last layer '{last.name}' ({first.grad_norm:.3g} vs {last.grad_norm:.3g})")

    def _finding(self, layers: list[LayerStats], total: float, reason: str, obs: BatchObservation,
                 run: RunInfo) -> Finding:
        lr = run.learning_rate
        suggested = _suggested_learning_rate(run)
        lr_note = f" The learning rate is {lr:g}." if lr is not None else ""
        return Finding(
            title=self.title if reason != "error" else "Gradients exploded",
            explanation=(
                f"At step {obs.step}, {self._observed(layers, total, reason)}. Updates this large make the "
                "weights jump, so the loss likely swings or grows and may soon become NaN." + lr_note
            ),
            suggestion=(
                f"Clip the gradients ({gradient_clipping(run.framework)}) and lower the learning rate (try "
                f"{suggested:g}); keep the "
                "default weight initialisation, and normalise the inputs and regression targets."
            ),
            snippet=clipped_optimizer_snippet(run.optimizer, suggested, run.framework),
            evidence={"grad_norm": total, "first_grad_norm": self._baseline,
                      "layer_grad_norms": {layer.name: layer.grad_norm for layer in layers},
                      "norm_limit": self.threshold("norm_limit"), "growth": self.threshold("growth"),
                      "learning_rate": lr},
            severity=Severity.ERROR if reason == "error" else None,
            confidence=Confidence.HIGH if reason == "error" else Confidence.MEDIUM,
            # Its own episode, so that a warning that turns into an error is reported again.
            key="error" if reason == "error" else "warning",
            location=run.compile_location or run.fit_location,
        )


# How far below the run's first loss counts as falling: a model whose updates barely move it
# (huge weights, a tiny rate) is not learning, whatever its last digits do.
_FELL = 0.01


# Optimizers whose step size does not grow with the gradient (it is divided by a running
# scale of the gradients, or only its sign is used): a large gradient alone makes no large update.
_ADAPTIVE = frozenset({"adam", "adamw", "adamax", "nadam", "radam", "rmsprop", "adagrad", "adadelta", "adafactor",
                       "lion", "lamb", "sparseadam"})


def _adaptive(optimizer: str | None) -> bool:
    return optimizer is not None and optimizer.lower() in _ADAPTIVE


def _suggested_learning_rate(run: RunInfo) -> float:
    usual = learning_rate_range(run.optimizer)
    default = usual[2] if usual else 1e-3
    if run.learning_rate is None or run.learning_rate <= 0:
        return default
    return nice_number(min(run.learning_rate / 10, default))
