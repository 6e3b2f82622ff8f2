"""One worker of a MultiWorkerMirroredStrategy run on 127.0.0.1 (TF_CONFIG comes from the test)."""

import os
import sys

import tensorflow as tf

strategy = tf.distribute.MultiWorkerMirroredStrategy()

from tensorboard_plugin_scram import ScramCallback  # noqa: E402
from tensorboard_plugin_scram.keras_adapter.backends.tensorflow import is_chief  # noqa: E402
from tests import scenarios  # noqa: E402

log_dir = sys.argv[1]
x, y = scenarios.digits(scaled=False)
with strategy.scope():
    model = scenarios.mlp(64, (16,), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
print("writes", is_chief(model), os.getpid(), flush=True)
data = tf.data.Dataset.from_tensor_slices((x[:640], y[:640])).batch(64)
history = model.fit(data, epochs=2, verbose=0, callbacks=[ScramCallback(log_dir)])
print("trained", strategy.num_replicas_in_sync, len(history.epoch), flush=True)
