"""Healthy sweep: common, working Keras setups, each trained with several seeds, counting SCRAM's alarms.

The zoo's healthy jobs run once each with seed 0; false alarms that depend on the seed
(a model that happens to start on a plateau, a layer that happens to start half dead) need
more draws. Every warning or error here is a false alarm unless the setup names its check
as `tolerated`, with the reason in its description (training long enough to overfit is
real). Run it with `python -m bench sweep` (about 10 minutes; `--quick`: 4 setups, 1 seed).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from bench import data, models, sweep_experts, sweep_shapes
from bench.runner import scram_alarms
from bench.zoo.registry import Job, Setup, job
from tensorboard_plugin_scram import ScramCallback

L = keras.layers
SEEDS = (0, 1, 2)
QUICK = ("tutorial_cnn_logits", "lstm_text", "sigmoid_mlp", "cosine_warmup")


def _bn_cnn() -> keras.Model:
    inputs = keras.Input((32, 32, 3))
    hidden = inputs
    for filters in (16, 32):
        hidden = L.Conv2D(filters, 3, padding="same", use_bias=False)(hidden)
        hidden = L.MaxPooling2D()(L.ReLU()(L.BatchNormalization()(hidden)))
    return keras.Model(inputs, L.Dense(4, activation="softmax")(L.GlobalAveragePooling2D()(hidden)))


def _gap_cnn() -> keras.Model:
    return keras.Sequential([keras.Input((32, 32, 3)), L.Conv2D(16, 3, padding="same", activation="relu"),
                             L.Conv2D(16, 3, padding="same", activation="relu"), L.MaxPooling2D(),
                             L.Conv2D(32, 3, padding="same", activation="relu"), L.GlobalAveragePooling2D(),
                             L.Dense(4, activation="softmax")])


def _text(middle: list) -> keras.Model:
    return keras.Sequential([keras.Input((40,), dtype="int32"), *middle, L.Dense(1, activation="sigmoid")])


def _two_inputs() -> keras.Model:
    a, b = keras.Input((32,), name="a"), keras.Input((32,), name="b")
    hidden = L.Concatenate()([L.Dense(32, activation="relu")(a), L.Dense(32, activation="relu")(b)])
    return keras.Model([a, b], L.Dense(10, activation="softmax")(hidden))


def _autoencoder() -> keras.Model:
    return keras.Sequential([keras.Input((64,)), L.Dense(32, activation="relu"), L.Dense(8, activation="relu"),
                             L.Dense(32, activation="relu"), L.Dense(64, activation="sigmoid")])


def _frozen_first_layer() -> keras.Model:
    model = models.mlp(64, (64, 64), 10)
    model.layers[0].trainable = False
    return model


def _images() -> tuple:
    return data.images(1536)


def _digits_job(model: keras.Model, epochs: int, y: np.ndarray | None = None, **fit) -> Job:
    x, labels = data.digits()
    return job(model, x, labels if y is None else y, epochs=epochs, validation_split=0.2, **fit)


def _text_job(model: keras.Model, epochs: int) -> Job:
    x, y = data.tokens(4000, cue=0.12)
    return job(models.compiled(model, loss="binary_crossentropy"), x, y, epochs=epochs, validation_split=0.2)


def _multilabel() -> Job:
    _, y = data.digits()
    labels = np.stack([y % 2 == 0, y > 4, y % 3 == 0], 1).astype("float32")
    model = models.compiled(models.mlp(64, (64,), 3, activation="sigmoid"), loss="binary_crossentropy")
    return _digits_job(model, 8, labels)


def _tf_data() -> Job:
    x, y = data.digits()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(2000, seed=0).batch(32)
    fit = {"epochs": 8, "verbose": 0}
    return Job(models.compiled(models.mlp(64, (64,), 10)), dataset, None, fit)


def _imbalanced() -> Job:
    x, _ = data.digits()
    y = (np.random.default_rng(0).random(len(x)) >= 0.8).astype("float32")
    model = models.compiled(models.mlp(64, (32,), 1, activation="sigmoid"), loss="binary_crossentropy")
    return job(model, x + 0.3 * y[:, None], y, epochs=8, validation_split=0.2)


def _regression(loss: object, optimizer: object, epochs: int) -> Job:
    x, y = data.diabetes()
    model = models.compiled(models.mlp(10, (64, 64), 1, activation=None), optimizer, loss, ["mae"])
    return job(model, x, y, epochs=epochs, batch_size=16, validation_split=0.2)


def _whole_number_targets(kind: str) -> Job:
    """Regression onto counts or 1-5 ratings: whole-number targets that are quantities, not classes."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 8)).astype("float32")
    if kind == "counts":
        y = rng.poisson(np.exp(0.5 * x[:, 0] + 0.3 * x[:, 1] + 1.0)).astype("float32")
    else:
        y = np.clip(np.round(3 + x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.5, len(x))), 1, 5).astype("float32")
    model = models.compiled(models.mlp(8, (32,), 1, activation=None), loss="mse", metrics=["mae"])
    return job(model, x, y, epochs=10, validation_split=0.2)


def _coded_features(kind: str) -> Job:
    """Binary or one-hot input features: 0/1 values, nothing to normalise."""
    rng = np.random.default_rng(0)
    if kind == "binary":
        x = (rng.random((3000, 30)) < 0.3).astype("float32")
        y = (x[:, :5].sum(1) > 1.5).astype("float32")
        model = models.compiled(models.mlp(30, (32,), 1, activation="sigmoid"), loss="binary_crossentropy")
    else:
        x = np.eye(12, dtype="float32")[rng.integers(0, 12, 3000)]
        y = np.argmax(x, 1) % 3
        model = models.compiled(models.mlp(12, (16,), 3))
    return job(model, x, y, epochs=8, validation_split=0.2)


def _schedule(warm_up: bool) -> keras.optimizers.Optimizer:
    if warm_up:
        return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.0, 300, warmup_target=2e-3,
                                                                            warmup_steps=50))
    return keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.9))


SPARSE_LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
OVERFITS = "trained long enough for its validation loss to rise: overfitting is real"
SETUPS: tuple[Setup, ...] = (
    Setup("tutorial_cnn_logits", "Keras' CNN tutorial model, logits out", lambda: job(
        models.compiled(models.tutorial_cnn(), loss=SPARSE_LOGITS), *_images(), epochs=4, validation_split=0.2)),
    Setup("bench_cnn_long", "the benchmark CNN, 10 epochs", lambda: job(
        models.compiled(models.cnn()), *_images(), epochs=10, validation_split=0.2)),
    Setup("batchnorm_cnn", "Conv-BatchNorm-ReLU blocks, 4 epochs; BatchNorm's moving averages lag in validation",
          lambda: job(models.compiled(_bn_cnn()), *_images(), epochs=4, validation_split=0.2),
          ("train_val_mismatch",)),
    Setup("same_padding_gap_cnn", "3 conv layers, same padding, global average pooling", lambda: job(
        models.compiled(_gap_cnn()), *_images(), epochs=4, validation_split=0.2)),
    Setup("lstm_text", "Embedding + LSTM, binary", lambda: _text_job(_text([L.Embedding(500, 16), L.LSTM(16)]), 3)),
    Setup("bigru_masked_text", "Embedding(mask_zero) + bidirectional GRU", lambda: _text_job(
        _text([L.Embedding(500, 16, mask_zero=True), L.Bidirectional(L.GRU(16))]), 3)),
    Setup("conv1d_text", "Embedding + Conv1D + dropout", lambda: _text_job(_text([
        L.Embedding(500, 16), L.Conv1D(32, 5, activation="relu"), L.GlobalMaxPooling1D(),
        L.Dense(16, activation="relu"), L.Dropout(0.3)]), 4)),
    Setup("mlp_dropout_sgd_momentum", "digits, dropout 0.3, SGD 0.01 momentum 0.9", lambda: _digits_job(
        models.compiled(models.mlp(64, (128, 64), 10, dropout=0.3), keras.optimizers.SGD(0.01, momentum=0.9)), 10)),
    Setup("plain_sgd_slow", "digits, SGD 0.01 without momentum (slow)", lambda: _digits_job(
        models.compiled(models.mlp(64, (64,), 10), keras.optimizers.SGD(0.01)), 10)),
    Setup("tanh_mlp", "digits, tanh hidden layers", lambda: _digits_job(
        models.compiled(models.mlp(64, (64, 64), 10, hidden_activation="tanh")), 8)),
    Setup("sigmoid_mlp", "digits, sigmoid hidden layers (a slow start)", lambda: _digits_job(
        models.compiled(models.mlp(64, (64, 64), 10, hidden_activation="sigmoid")), 8)),
    Setup("he_normal_relu_deep", f"digits, 4 x 256 ReLU, he_normal; {OVERFITS}", lambda: _digits_job(
        models.compiled(models.mlp(64, (256,) * 4, 10, kernel_initializer="he_normal")), 6), ("overfitting",)),
    Setup("deep_tabular_adam", f"generated 20-feature data, 5 x 128 ReLU; {OVERFITS}", lambda: job(
        models.compiled(models.mlp(20, (128,) * 5, 4)), *data.tabular(3000, 20, 4), epochs=5, validation_split=0.2),
        ("overfitting",)),
    Setup("heavy_dropout", "digits, 2 x 256 with dropout 0.5", lambda: _digits_job(
        models.compiled(models.mlp(64, (256, 256), 10, dropout=0.5)), 10)),
    Setup("adamw_big_batch", "digits, AdamW 3e-3, batch 256", lambda: _digits_job(
        models.compiled(models.mlp(64, (256, 128), 10), keras.optimizers.AdamW(3e-3, weight_decay=1e-4)), 20,
        batch_size=256)),
    Setup("cosine_warmup", "digits, cosine schedule with a warm-up from 0", lambda: _digits_job(
        models.compiled(models.mlp(64, (128,), 10), _schedule(warm_up=True)), 6)),
    Setup("exponential_decay", "digits, Adam with exponential decay", lambda: _digits_job(
        models.compiled(models.mlp(64, (64,), 10), _schedule(warm_up=False)), 8)),
    Setup("label_smoothing_onehot", "digits, one-hot labels, label smoothing 0.1", lambda: _digits_job(
        models.compiled(models.mlp(64, (64,), 10), loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1)),
        8, keras.utils.to_categorical(data.digits()[1], 10))),
    Setup("class_weight", "digits, class weights", lambda: _digits_job(
        models.compiled(models.mlp(64, (64,), 10)), 6, class_weight={i: 1.0 + 0.1 * i for i in range(10)})),
    Setup("two_inputs", "digits split into two named inputs", lambda: job(
        models.compiled(_two_inputs()), {"a": data.digits()[0][:, :32], "b": data.digits()[0][:, 32:]},
        data.digits()[1], epochs=8, validation_split=0.2)),
    Setup("autoencoder_mse", "digits autoencoder, sigmoid output, MSE", lambda: job(
        models.compiled(_autoencoder(), loss="mse", metrics=None), data.digits()[0], data.digits()[0], epochs=10,
        validation_split=0.2)),
    Setup("multilabel_sigmoid", "digits, 3 binary labels, sigmoid + binary cross-entropy", _multilabel),
    Setup("frozen_first_layer", "digits, first Dense layer frozen", lambda: _digits_job(
        models.compiled(_frozen_first_layer()), 6)),
    Setup("tf_data_input", "digits through a shuffled, batched tf.data.Dataset", _tf_data),
    Setup("batch_size_8", "generated 20-feature data, batch 8", lambda: job(
        models.compiled(models.mlp(20, (64, 32), 4)), *data.tabular(3000, 20, 4), epochs=3, batch_size=8,
        validation_split=0.2)),
    Setup("imbalanced_80_20", "binary, 80% negatives", _imbalanced),
    Setup("regression_rmsprop", f"diabetes, RMSprop, 30 epochs; {OVERFITS}",
          lambda: _regression("mse", keras.optimizers.RMSprop(1e-3), 30), ("overfitting",)),
    Setup("huber_regression", f"diabetes, Huber loss, 20 epochs; {OVERFITS}",
          lambda: _regression(keras.losses.Huber(), "adam", 20), ("overfitting",)),
    Setup("count_regression_mse", "Poisson counts regressed with MSE (whole-number targets)",
          lambda: _whole_number_targets("counts")),
    Setup("rating_regression_mse", "1-5 ratings regressed with MSE", lambda: _whole_number_targets("ratings")),
    Setup("binary_features", "30 binary (0/1) input features", lambda: _coded_features("binary")),
    Setup("one_hot_features", "one-hot input, 3 classes", lambda: _coded_features("one_hot")),
    Setup("converged_long", f"digits, 60 epochs: converges, then its loss stays flat; {OVERFITS}", lambda: _digits_job(
        models.compiled(models.mlp(64, (128,), 10)), 60), ("overfitting",)),
    Setup("converged_no_validation", "digits, 40 epochs without validation data", lambda: job(
        models.compiled(models.mlp(64, (128,), 10)), *data.digits(), epochs=40)),
    Setup("regression_converged", "diabetes, 80 epochs without validation data", lambda: job(
        models.compiled(models.mlp(10, (16,), 1, activation=None), loss="mse", metrics=["mae"]), *data.diabetes(),
        epochs=80)),
    Setup("reduce_lr_on_plateau", f"digits, ReduceLROnPlateau lowers the rate; {OVERFITS}", lambda: _digits_job(
        models.compiled(models.mlp(64, (64,), 10)), 25,
        callbacks=[keras.callbacks.ReduceLROnPlateau(patience=2, factor=0.2)]), ("overfitting",)),
    # The rise that stops it is real, but the run ends with its best weights: overfitting is only info.
    Setup("early_stopping", "digits, EarlyStopping with the best weights restored", lambda: _digits_job(
        models.compiled(models.mlp(64, (128,), 10)), 40,
        callbacks=[keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)])),
    Setup("checkpoint_best_only", "digits, 40 epochs, ModelCheckpoint(save_best_only=True) keeps the best epoch",
          lambda: _digits_job(models.compiled(models.mlp(64, (128,), 10)), 40, callbacks=[
              keras.callbacks.ModelCheckpoint(os.path.join(tempfile.gettempdir(), "scram-sweep-best.keras"),
                                              save_best_only=True)])),
    # The shapes of real users' fixed programs, and experts' example programs (issue 17).
    *sweep_shapes.SETUPS,
    *sweep_experts.SETUPS,
)


def run_setup(setup: Setup, seed: int) -> dict:
    """Trains `setup` once with `seed`; its alarms (warnings and errors) and whether each is tolerated."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"scram-sweep-{setup.name}-") as log_dir:
        task = setup.build()
        fit = dict(task.fit)
        callbacks = [*fit.pop("callbacks", []), ScramCallback(log_dir)]
        history = task.model.fit(task.x, task.y, callbacks=callbacks, **fit)
        alarms = [a for a in scram_alarms(log_dir) if a.is_alarm]
    final = {k: float(v[-1]) for k, v in history.history.items() if k in ("accuracy", "val_accuracy")}
    return {"seed": seed, "seconds": time.perf_counter() - started, "final": final,
            "alarms": [{"check": a.check, "severity": a.severity, "step": a.step,
                        "tolerated": a.check in setup.tolerated} for a in alarms]}


def run_or_say_why_not(setup: Setup, seed: int) -> dict:
    """`run_setup`, or, for a program this Keras backend cannot train (a TensorFlow-only GAN on
    JAX, say), the first line of Keras' error instead of its alarms."""
    try:
        return run_setup(setup, seed)
    except Exception as error:  # the user's program fails here without SCRAM too
        return {"seed": seed, "seconds": 0.0, "final": {}, "alarms": [],
                "error": f"{type(error).__name__}: {str(error).strip().splitlines()[0][:160]}"}


def run(quick: bool = False, progress: Callable[[str], None] = print) -> dict:
    """Every setup with every seed (`quick`: 4 setups, seed 0)."""
    setups = [s for s in SETUPS if s.name in QUICK] if quick else list(SETUPS)
    seeds = SEEDS[:1] if quick else SEEDS
    results = []
    for setup in setups:
        runs = []
        for seed in seeds:
            runs.append(run_or_say_why_not(setup, seed))
            false = [a["check"] for a in runs[-1]["alarms"] if not a["tolerated"]]
            said = (f"cannot train here: {runs[-1]['error']}" if "error" in runs[-1]
                    else f"FALSE ALARM {', '.join(false)}" if false else "quiet")
            progress(f"sweep {setup.name} seed {seed}: {said}")
        results.append({"name": setup.name, "description": setup.description, "tolerated": list(setup.tolerated),
                        "runs": runs})
    return {"setups": results, "seeds": list(seeds)}
