"""input_not_normalized: input features on a raw scale (pixels 0-255, values in thousands)."""

from __future__ import annotations

import dataclasses

from tensorboard_plugin_scram.checks._advice import TORCH_STANDARDISE, idiom
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, RunInfo, TensorStats


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
    In PyTorch, scale the tensors the same way before the DataLoader (or in the Dataset's
    transform).

    ## Rule
    The paper's literal rule ("values outside [-1, 1]") fires on every standardised
    (z-scored) input, a known false alarm of it and its successor. This check accepts an
    input that is *scaled* (all values within +-`scaled_limit`), *standardised*
    (mean within +-`mean_tolerance`, or within half a standard deviation of 0, and
    standard deviation within [`std_low`, `std_high`], over the whole batch or on average
    per feature, so z-scored outliers are fine, and so are the batch means of centred
    data that wander with the mix of classes in each batch) or
    *of about unit scale* (all values within +-`small_limit` and a standard deviation of
    at most `small_std`: ratings from 1 to 5, small counts). It fires only when none holds
    and some value's magnitude exceeds `raw_limit`. Skipped: integer token ids that feed
    an Embedding layer, and inputs the model scales itself (a `Rescaling` or
    `Normalization` layer first, possibly inside a nested preprocessing model), which
    scaling again would scale twice. A batch is judged raw only when the average over
    every sampled batch so far is raw too (the first batch alone decides at step 0). An
    input is reported once (one episode for as long as
    the callback lives): its scale is a property of the data set, and a batch that happens
    to pass does not fix it.
    The advice tells pixels from table columns: values from 0 to at most 255 in an
    input shaped like images (height, width, channels), or in a long flat vector whose
    features share one range (per-feature spread at least `pixel_spread` of the whole
    spread), are divided by 255; the columns of a table (ages, heart rates) are
    standardised each on its own.
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
        "small_limit": 10.0,
        "small_std": 2.0,
        "pixel_spread": 0.5,
    }
    batch_needs = frozenset({"tensors"})

    def __init__(self, **thresholds: float) -> None:
        super().__init__(**thresholds)
        self._reported: dict[str, Finding] = {}
        self._pooled: dict[str, _Pool] = {}

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        inputs = obs.inputs()
        if not inputs:
            return None
        run = history.run
        judged = [t for t in inputs if not t.feeds_embedding and not _scaled_in_model(t.name, run.scaled_inputs)]
        findings = []
        for t in judged:
            pooled = self._pooled.setdefault(t.name, _Pool()).add(t)
            if t.name in self._reported:
                findings.append(self._reported[t.name])  # the same episode from here on
            elif self._is_raw(t) and self._is_raw(pooled):
                self._reported[t.name] = self._finding(t, run)
                findings.append(self._reported[t.name])
        return findings

    def _is_raw(self, t: TensorStats) -> bool:
        if t.count == t.nonfinite:
            return False
        magnitude = max(abs(t.min), abs(t.max))
        small = magnitude <= self.threshold("small_limit") and max(t.std, t.feature_std) <= self.threshold("small_std")
        return not small and not self._is_fine(t) and magnitude > self.threshold("raw_limit")

    def _is_fine(self, t: TensorStats) -> bool:
        """Scaled or standardised: what ends an episode of this input."""
        return max(abs(t.min), abs(t.max)) <= self.threshold("scaled_limit") or self._is_standardized(t)

    def _is_standardized(self, t: TensorStats) -> bool:
        tolerance, low, high = (self.threshold(n) for n in ("mean_tolerance", "std_low", "std_high"))
        whole = abs(t.mean) <= max(tolerance, t.std / 2) and low <= t.std <= high
        per_feature = t.feature_mean_abs <= max(tolerance, t.feature_std / 2) and low <= t.feature_std <= high
        return whole or per_feature

    def _finding(self, t: TensorStats, run: RunInfo) -> Finding:
        which = "The input" if t.name == "x" else f"The input '{t.name}'"
        observed = f"values from {t.min:g} to {t.max:g} (mean {t.mean:.3g}, standard deviation {t.std:.3g})"
        suggestion, snippet = _fix(t, self._looks_like_pixels(t, run), self._one_range(t, run), run.framework)
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
                "feature_std": t.feature_std,
                "raw_limit": self.threshold("raw_limit"),
                "scaled_limit": self.threshold("scaled_limit"),
            },
            confidence=Confidence.HIGH if max(abs(t.min), abs(t.max)) > 50 else Confidence.MEDIUM,
            key=t.name,
            location=run.fit_location,
        )

    def _looks_like_pixels(self, t: TensorStats, run: RunInfo) -> bool:
        """0..255 in an image-shaped input, or in a flat vector of 64 values or more that share one range."""
        return t.min >= 0 and 50 < t.max <= 255 and self._one_range(t, run)

    def _one_range(self, t: TensorStats, run: RunInfo) -> bool:
        """An image-shaped input, or a flat vector of 64 values or more whose features share one range
        (flattened images such as scikit-learn's 8x8 digits): one division scales them all."""
        if t.name in run.image_inputs:
            return True
        shares_range = t.feature_std >= self.threshold("pixel_spread") * t.std
        size = run.input_sizes.get(t.name)  # unknown for a subclassed model: the spread alone decides
        return shares_range and (size is None or size >= 64)


class _Pool:
    """One input's statistics over the sampled batches so far, to judge the data set rather than one
    batch's mix: a batch holding mostly one class of centred data (blobs at -4 and +4) has a mean far
    from 0, while the data set's is near it."""

    def __init__(self) -> None:
        self._batches = 0
        self._sums = {"mean": 0.0, "std": 0.0, "feature_mean_abs": 0.0, "feature_std": 0.0}
        self._range: tuple[float, float] | None = None

    def add(self, t: TensorStats) -> TensorStats:
        """Adds `t`'s batch; returns `t` with the averages (and the range) of every batch so far."""
        self._batches += 1
        for name in self._sums:
            self._sums[name] += getattr(t, name)
        low, high = self._range or (t.min, t.max)
        self._range = (min(low, t.min), max(high, t.max))
        averages = {name: total / self._batches for name, total in self._sums.items()}
        return dataclasses.replace(t, min=self._range[0], max=self._range[1], **averages)


def _scaled_in_model(name: str, scaled_inputs: tuple[str, ...]) -> bool:
    return name in scaled_inputs or "*" in scaled_inputs


_STANDARDISE_SNIPPET = (
    "normalizer = keras.layers.Normalization()   # one mean and deviation per column\n"
    "normalizer.adapt(x_train)\n"
    "model = keras.Sequential([keras.Input(shape=x_train.shape[1:]), normalizer, ...])\n"
    "# or: from sklearn.preprocessing import StandardScaler\n"
    "#     scaler = StandardScaler().fit(x_train)\n"
    "#     x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)"
)


def _fix(t: TensorStats, pixels: bool, one_range: bool, framework: str) -> tuple[str, str]:
    """The suggestion and snippet that fit the observed range and the input's shape, in the framework's idiom."""
    if pixels:
        return (
            "These look like image pixels from 0 to 255: divide by 255 so they lie in [0, 1], "
            "and do the same to the validation and test data " + idiom(
                framework, "(or put keras.layers.Rescaling(1 / 255) first in the model).",
                "(torchvision's transforms.ToTensor() does it for uint8 images)."),
            _divided_by("255.0", framework),
        )
    if one_range and t.min >= 0:
        return (
            f"The features share one range: scale them to [0, 1] by dividing by its maximum ({t.max:g}), "
            "and apply the same "
            "scaling to validation and test data.",
            _divided_by(f"{t.max:g}", framework),
        )
    return (
        "Standardise each feature on its own (subtract its mean, divide by its standard deviation): "
        "columns on different scales (ages, prices, counts) need one scaling each. " + idiom(
            framework, "A Normalization layer adapted to the training data does it inside the model, so "
            "validation and test data get the same scaling.", "Compute both on the training data and apply "
            "them to validation and test data too (in the Dataset, or with transforms.Normalize)."),
        idiom(framework, _STANDARDISE_SNIPPET,
              TORCH_STANDARDISE + "\n# or: from sklearn.preprocessing import StandardScaler (fit on x_train only)"),
    )


def _divided_by(scale: str, framework: str) -> str:
    """The training and test inputs divided by `scale`, as floats (NumPy arrays in Keras, tensors in PyTorch)."""
    as_float = idiom(framework, ".astype('float32')", ".float()")
    return f"x_train = x_train{as_float} / {scale}\nx_test = x_test{as_float} / {scale}"
