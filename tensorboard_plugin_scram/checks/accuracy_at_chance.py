"""accuracy_at_chance: accuracy stays near what guessing would score."""

from __future__ import annotations

from tensorboard_plugin_scram.checks import _losses
from tensorboard_plugin_scram.checks._metrics import accuracy_key, all_finite
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import EpochObservation


class AccuracyAtChance(Check):
    """## What it does
    After a few epochs, compares training accuracy with chance: 1/k for k classes, or
    the share of the most common class when SCRAM saw the binary labels.

    ## Why is this bad?
    A model at chance has learned nothing: it guesses. Typical causes are labels shuffled
    separately from the inputs, a learning rate far off, unnormalised inputs, or an
    output layer that does not fit the loss.

    ## Example
    ```python
    np.random.shuffle(y_train)       # labels no longer match the inputs
    ```

    ## Fix
    Check that inputs and labels stay aligned (shuffle them together), then the other
    diagnostics (learning rate, normalisation, output activation).

    ## Rule
    From epoch `min_epochs`, fires while training accuracy is at most chance plus
    `margin` x (1 - chance). AUTOTRAINER's slow-convergence rule looks at similar numbers
    (accuracy below 0.6 with gains under 0.01); measuring against chance also works for
    many classes and for imbalanced binary data.
    """

    id = "accuracy_at_chance"
    title = "Accuracy at chance level"
    severity = Severity.WARNING
    confidence = Confidence.MEDIUM
    thresholds = {"min_epochs": 3, "margin": 0.1}

    def on_epoch(self, obs: EpochObservation, history: History) -> Findings:
        key = accuracy_key(obs.logs)
        chance = _chance(history)
        if key is None or chance is None or not all_finite(obs.logs.get("loss")):
            return None  # a NaN loss is nan_loss's to report, not a learning problem
        if len(history.epochs) < self.threshold("min_epochs"):
            return None
        accuracy = obs.logs[key]
        limit = chance + self.threshold("margin") * (1 - chance)
        if accuracy > limit:
            return []
        return [Finding(
            title=self.title,
            explanation=(f"After {len(history.epochs)} epochs the training accuracy is {accuracy:.3g}, about what "
                         f"guessing scores ({chance:.3g}). The model has likely learned nothing yet: the labels may "
                         "not match the inputs, or the learning rate, input scaling or output layer may be off."),
            suggestion="Check that inputs and labels are shuffled together and match; then look at the learning "
                       "rate, the input scaling and the output activation.",
            snippet=("order = np.random.default_rng(0).permutation(len(x_train))\n"
                     "x_train, y_train = x_train[order], y_train[order]  # shuffle together, never separately"),
            evidence={"accuracy": accuracy, "chance": chance, "limit": limit, "epochs": len(history.epochs)},
            location=history.run.fit_location,
        )]


def _chance(history: History) -> float | None:
    classes = _losses.class_count(history.run)
    if classes is None:
        return None
    if classes == 2:
        labels = [t for t in history.last_tensors if t.role == "target"]
        share = history.target_mean(labels[0].name) if labels and labels[0].max <= 1 else None
        return max(share, 1 - share) if share is not None else 0.5
    return 1 / classes
