"""One process of a two-process JAX job (`jax.distributed` over 127.0.0.1) that trains with SCRAM.

Usage: jax_process.py PROCESS_ID PORT LOGDIR. Prints one JSON line: this process's index,
its pid (TensorBoard's event file names carry the writer's pid) and the checks it found.
"""

from __future__ import annotations

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402

process_id, port, logdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id,
                           initialization_timeout=120)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tensorboard_plugin_scram import ScramCallback  # noqa: E402

rng = np.random.default_rng(0)
x = rng.normal(size=(128, 8)).astype("float32")
y = rng.integers(0, 3, 128)
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(10.0), loss="sparse_categorical_crossentropy")
callback = ScramCallback(logdir, verbose=0)
model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[callback])
print(json.dumps({"index": jax.process_index(), "count": jax.process_count(), "pid": os.getpid(),
                  "found": sorted({d.check for d in callback.diagnostics})}))
