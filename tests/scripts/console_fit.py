"""`python console_fit.py LOGDIR`: tiny fits whose console output tests/test_console.py reads.

Each case prints `=== CASE name ===` on its own line, then what Keras and SCRAM print
during its `fit()`, then `DIAGNOSTICS <json>` (the callback's `diagnostics`).
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from tensorboard_plugin_scram import ScramCallback  # noqa: E402
from tensorboard_plugin_scram.checks import Check, Finding, Severity  # noqa: E402


class FirstEpochEnd(Check):
    """Fires once, at the end of the first epoch: a diagnostic emitted in `on_epoch_end`."""

    id = "first_epoch_end"
    title = "First epoch ended"
    severity = Severity.WARNING

    def on_epoch(self, obs, history):
        if obs.epoch != 0:
            return None
        return [Finding(title=self.title, explanation="The first epoch ended.", suggestion="None needed.")]


def model_with(learning_rate: float) -> keras.Model:
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def case(name: str, logdir: str, learning_rate: float, samples: int = 400, fit_verbose: object = "auto",
         scram_verbose: object = "auto", epochs: int = 2, extra: tuple = ()) -> None:
    print(f"=== CASE {name} ===", flush=True)
    keras.utils.set_random_seed(0)
    callback = ScramCallback(os.path.join(logdir, name), verbose=scram_verbose, extra_checks=list(extra))
    model_with(learning_rate).fit(X[:samples], Y[:samples], validation_split=0.2, epochs=epochs, batch_size=32,
                                  verbose=fit_verbose, callbacks=[callback])
    print("DIAGNOSTICS " + json.dumps([d.to_json() for d in callback.diagnostics]), flush=True)


X, Y = load_digits(return_X_y=True)
X = X.astype("float32") / 16.0

if __name__ == "__main__":
    root = sys.argv[1]
    case("fault", root, 1e10)  # the paper's learning rate: a warning before training, then an error
    case("healthy", root, 1e-3)
    case("fit_silent", root, 1e10, fit_verbose=0)
    case("scram_silent", root, 1e10, scram_verbose=0)
    case("scram_loud", root, 1e10, fit_verbose=0, scram_verbose=1)
    # Data smaller than a batch: one batch per epoch, a diagnostic at an epoch's first
    # batch (the bar not drawn yet) and one at its end (the bar drawn, its line open).
    case("one_batch", root, 1e10, samples=30, epochs=3, extra=(FirstEpochEnd(),))
