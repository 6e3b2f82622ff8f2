"""input_not_normalized: input features on a raw scale (pixels 0-255, values in thousands)."""

from __future__ import annotations

from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, TensorStats


class InputNotNormalized(Check):
    """## What it does
    Looks at the values of each input tensor of the training batches and reports inputs
    that are on a raw scale: image pixels from 0 to 255, counts from 0 to 16, features in
    the thousands.

    ## Why is this bad?
    Networks are initialised and their optimizers tuned for inputs of about unit scale.
    Large raw values saturate activations and make the first layers' gradients huge, so
    training is slow, unstable, or stalls at a poor accuracy, with no error message.

    ## Example
    ```python
    (x_train, y_train), _ = keras.datasets.cifar10.load_data()
    model.fit(x_train, y_train)          # pixels from 0 to 255
    ```

    ## Fix
    ```python
    x_train = x_train / 255.0            # and the same for validation and test data
    ```
    or put a `keras.layers.Normalization()` layer, adapted to the training data, first.

    ## Rule
    The paper's literal rule ("values outside [-1, 1]") fires on every standardised
    (z-scored) input, a known false alarm of it and its successor. This check accepts an
    input that is *scaled* (all values within +-`scaled_limit`) or *standardised*
    (mean within +-`mean_tolerance` and standard deviation within [`std_low`, `std_high`],
    over the whole batch or on average per feature, so z-scored outliers are fine). It
    fires only when neither holds and some value's magnitude exceeds `raw_limit`.
    Integer token ids that feed an Embedding layer are not features and are skipped.
    """

    id = "input_not_normalized"
    title = "Input data not normalized"
    severity = Severity.WARNING
    confidence = Confidence.HIGH
    thresholds = {
        "scaled_limit": 1.5,
        "mean_tolerance": 1.0,
        "std_low": 0.2,
        "std_high": 5.0,
        "raw_limit": 5.0,
    }
    batch_needs = frozenset({"tensors"})

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        inputs = obs.inputs()
        if not inputs:
            return None
        location = history.run.fit_location
        return [self._finding(t, location) for t in inputs if not t.feeds_embedding and self._is_raw(t)]

    def _is_raw(self, t: TensorStats) -> bool:
        if t.count == t.nonfinite:
            return False
        magnitude = max(abs(t.min), abs(t.max))
        scaled = magnitude <= self.threshold("scaled_limit")
        return not scaled and not self._is_standardized(t) and magnitude > self.threshold("raw_limit")

    def _is_standardized(self, t: TensorStats) -> bool:
        tolerance, low, high = (self.threshold(n) for n in ("mean_tolerance", "std_low", "std_high"))
        whole = abs(t.mean) <= tolerance and low <= t.std <= high
        per_feature = t.feature_mean_abs <= tolerance and low <= t.feature_std <= high
        return whole or per_feature

    def _finding(self, t: TensorStats, location: str | None) -> Finding:
        which = "The input" if t.name == "x" else f"The input '{t.name}'"
        observed = f"values from {t.min:g} to {t.max:g} (mean {t.mean:.3g}, standard deviation {t.std:.3g})"
        suggestion, snippet = _fix(t)
        return Finding(
            title=self.title,
            explanation=(
                f"{which} has {observed}. It seems the data isn't normalized: networks learn "
                "best from inputs of about unit scale, and raw values like these could make "
                "training slow or unstable, or stall at a poor accuracy."
            ),
            suggestion=suggestion,
            snippet=snippet,
            evidence={
                "input": t.name,
                "min": t.min,
                "max": t.max,
                "mean": t.mean,
                "std": t.std,
                "raw_limit": self.threshold("raw_limit"),
                "scaled_limit": self.threshold("scaled_limit"),
            },
            confidence=Confidence.HIGH if max(abs(t.min), abs(t.max)) > 50 else Confidence.MEDIUM,
            key=t.name,
            location=location,
        )


def _fix(t: TensorStats) -> tuple[str, str]:
    """The suggestion and snippet that fit the observed range."""
    if t.min >= 0 and 50 < t.max <= 255:
        return (
            "These look like image pixels from 0 to 255: divide by 255 so they lie in [0, 1], "
            "and do the same to the validation and test data.",
            "x_train = x_train.astype('float32') / 255.0\nx_test = x_test.astype('float32') / 255.0",
        )
    if t.min >= 0:
        return (
            f"Scale the inputs to [0, 1] by dividing by their maximum ({t.max:g}), or "
            "standardise them with a Normalization layer adapted to the training data; "
            "apply the same scaling to validation and test data.",
            f"x_train = x_train.astype('float32') / {t.max:g}\nx_test = x_test.astype('float32') / {t.max:g}",
        )
    return (
        "Standardise each feature (subtract its mean, divide by its standard deviation), "
        "for example with a Normalization layer adapted to the training data, which then "
        "applies the same scaling to validation and test data.",
        "normalizer = keras.layers.Normalization()\n"
        "normalizer.adapt(x_train)\n"
        "model = keras.Sequential([keras.Input(shape=x_train.shape[1:]), normalizer, ...])",
    )
