"""Trains under MirroredStrategy over 2 logical CPUs (needs a fresh process to split the CPU)."""

import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from tensorboard_plugin_scram import ScramCallback  # noqa: E402
from tests import scenarios  # noqa: E402

log_dir = sys.argv[1]
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
x, y = scenarios.digits(scaled=False)
with strategy.scope():
    model = scenarios.mlp(64, (32,), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=2, batch_size=64, verbose=0, validation_split=0.2, callbacks=[ScramCallback(log_dir)])
print("trained", strategy.num_replicas_in_sync)
