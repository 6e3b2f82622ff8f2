"""input_contains_nan: NaN or Inf values in an input or label batch."""

from __future__ import annotations

from tensorboard_plugin_scram.checks._advice import idiom, torch_drop_nonfinite
from tensorboard_plugin_scram.checks.base import Check, Finding, Findings
from tensorboard_plugin_scram.diagnostic import Confidence, Severity
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.observations import BatchObservation, TensorStats


class InputContainsNan(Check):
    """## What it does
    Counts NaN and Inf values in every input and label tensor of every training batch
    (counted inside the training step, so no batch is missed) and reports the first
    tensor that holds any.

    ## Why is this bad?
    One NaN in a batch makes that batch's loss and gradients NaN, and from there every
    weight: the model is ruined, usually a few steps later, far from the real cause.
    Missing values in a CSV file read with pandas arrive as NaN.

    ## Example
    ```python
    df = pandas.read_csv("data.csv")        # empty cells become NaN
    model.fit(df[features].values, df["label"].values)
    ```

    ## Fix
    ```python
    df = df.dropna()                         # or df.fillna(df.mean())
    ```

    ## Rule
    Fires when the running count of non-finite values in a tensor is above zero. No
    thresholds: a single NaN matters.
    """

    id = "input_contains_nan"
    title = "NaN or Inf in the training data"
    severity = Severity.ERROR
    confidence = Confidence.HIGH
    batch_needs = frozenset({"tensors"})

    def on_batch(self, obs: BatchObservation, history: History) -> Findings:
        if obs.tensors is None:
            return None
        location = history.run.fit_location
        return [self._finding(t, location, history.run.framework) for t in obs.tensors if t.nonfinite_total > 0]

    def _finding(self, t: TensorStats, location: str | None, framework: str) -> Finding:
        kind = "labels" if t.role == "target" else "input"
        return Finding(
            title=self.title,
            explanation=(f"The {kind} '{t.name}' held {t.nonfinite_total} NaN or Inf value(s) so far "
                         f"({t.nonfinite} of {t.count} values in the latest sampled batch). Each one makes "
                         "its batch's loss NaN and can ruin the weights for good."),
            suggestion="Remove or fill the missing values before training (and check the data loading).",
            snippet=idiom(framework,
                          "import numpy as np\n"
                          "ok = np.isfinite(x_train).reshape(len(x_train), -1).all(axis=1)\n"
                          "x_train, y_train = x_train[ok], y_train[ok]\n"
                          "# or with pandas: df = df.dropna()",
                          torch_drop_nonfinite("y_train" if t.role == "target" else "x_train")),
            evidence={"tensor": t.name, "role": t.role, "nonfinite_total": t.nonfinite_total,
                      "nonfinite_in_batch": t.nonfinite, "values_in_batch": t.count},
            key=t.name,
            location=location,
        )
