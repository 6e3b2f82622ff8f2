"""Trains into a NaN loss and dies (os._exit) at that very batch, right after SCRAM saw it."""

import math
import os
import sys

import keras

from tensorboard_plugin_scram import ScramCallback
from tests import scenarios


class DieAtNan(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if not math.isfinite(logs["loss"]):
            print("dying at batch", batch, flush=True)
            os._exit(1)  # no clean-up, no flush, no on_train_end: like a kill


keras.utils.set_random_seed(0)
x, y = scenarios.digits()
# A regression (no clipping in the loss) with a huge learning rate: the loss overflows within a few steps.
model = scenarios.mlp(64, (32,), 1, activation="linear")
model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e10), loss="mean_squared_error")
model.fit(x, y.astype("float32"), epochs=2, batch_size=32, verbose=0,
          callbacks=[ScramCallback(sys.argv[1]), DieAtNan()])
print("never reached: the loss stayed finite")
