"""Several processes training at once into one log dir, for tests/test_many_writers.py.

`python tests/scripts/many_writers_fit.py LOGDIR COUNT` imports Keras once, then forks COUNT
processes that train at the same time, process `i` with `ScramCallback(LOGDIR/wi)`; each
prints one JSON line: the records SCRAM's writer handed to its event files, by tag, and its
diagnostics. Forking after the imports (TensorFlow starts no thread before its first op)
spares each process the import, which on two busy cores takes longer than the training.
Even indices train on raw pixel values (a warning), odd ones at a learning rate of 1e10 (errors).
The exit status is 0 when every process exited with 0.
"""

from __future__ import annotations

import json
import os
import sys

import keras
from sklearn.datasets import load_digits

from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.keras_adapter import callback as callback_module

WRITERS: list = []


class KeptWriter(callback_module.ScramSummaryWriter):
    """SCRAM's own writer, kept here so that its count of records written can be printed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        WRITERS.append(self)


def train(logdir: str, index: int, x, y) -> None:
    keras.utils.set_random_seed(index)
    x = x[:320].astype("float32") / (1.0 if index % 2 == 0 else 16.0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    learning_rate = 1e-3 if index % 2 == 0 else 1e10
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="sparse_categorical_crossentropy")
    callback = ScramCallback(os.path.join(logdir, f"w{index}"), internals_every=0, sample_every=1)
    model.fit(x, y[:320], epochs=4, batch_size=16, verbose=0, callbacks=[callback])
    written = {}
    for writer in WRITERS:
        for tag, n in writer.records_written.items():
            written[tag] = written.get(tag, 0) + n
    line = json.dumps({"run": f"w{index}/scram", "written": written, "diagnostics": len(callback.diagnostics)})
    os.write(sys.stdout.fileno(), (line + "\n").encode())  # one write: the processes' lines never mix


def main(logdir: str, count: int) -> int:
    callback_module.ScramSummaryWriter = KeptWriter
    x, y = load_digits(return_X_y=True)
    children = []
    for index in range(count):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                train(logdir, index, x, y)
                status = 0
            finally:
                os._exit(status)
        children.append(pid)
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    return 0 if all(os.waitstatus_to_exitcode(s) == 0 for s in statuses) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
