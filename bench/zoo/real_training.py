"""Classes of false alarms and misses in the loss, metric and data checks seen on real users'
programs of unusual shapes (batch size 1, tiny data, heavy imbalance, long runs), each with a
healthy twin.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from bench import data, models
from bench.zoo import paper, symptoms
from bench.zoo.registry import Job, after_best_val_loss, job, scenario

L = keras.layers

# -- data_not_shuffled: judged against what a random order gives -----------------------------


def _wine_dataset(shuffle: bool, batch: int) -> Job:
    """Wine (3 classes) through tf.data, sorted by label unless shuffled."""
    x, y = data.wine()
    order = np.argsort(y, kind="stable")
    dataset = tf.data.Dataset.from_tensor_slices((x[order], y[order]))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=0)
    model = models.compiled(models.mlp(13, (16,), 3))
    return Job(model, dataset.batch(batch), None, {"epochs": 6, "verbose": 0})


@scenario(expected=["data_not_shuffled"], kind="batch", tolerated=("loss_oscillating",))
def sorted_dataset_small_batches() -> Job:
    """Wine sorted by label through tf.data without shuffle(), batches of 8: runs of one class."""
    return _wine_dataset(shuffle=False, batch=8)


@scenario()
def shuffled_dataset_small_batches() -> Job:
    """Healthy twin: the same wine pipeline with shuffle() before batch(8)."""
    return _wine_dataset(shuffle=True, batch=8)


def _imbalanced(samples: int, positives: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, y = data.tabular(samples, 20, 2, seed=seed, weights=[1 - positives], flip_y=0.0)
    return x, y.astype("float32")


@scenario()
def shuffled_99_to_1_dataset() -> Job:
    """Healthy twin: 99:1 labels, shuffled tf.data, batch 64 (half the batches hold one class by chance alone),
    class weights and AUC."""
    x, y = _imbalanced(6400, 0.01)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).batch(64)
    model = models.compiled(models.mlp(20, (16,), 1, activation="sigmoid"), loss="binary_crossentropy",
                            metrics=("accuracy", keras.metrics.AUC(name="auc")))
    weights = {0: 0.5 / (1 - y.mean()), 1: 0.5 / y.mean()}
    return Job(model, dataset, None, {"epochs": 3, "verbose": 0, "class_weight": weights})


@scenario()
def one_hot_batch_size_1() -> Job:
    """Healthy twin: one-hot digit labels at batch size 1 (every batch holds one label, necessarily)."""
    x, y = data.digits()
    labels = keras.utils.to_categorical(y[:300], 10)
    model = models.compiled(models.mlp(64, (32,), 10), loss="categorical_crossentropy")
    return job(model, x[:300], labels, epochs=2, batch_size=1)


# -- loss_not_decreasing and accuracy_at_chance: judged over optimizer steps -----------------


def _full_batch_wine(optimizer: keras.optimizers.Optimizer, epochs: int) -> Job:
    """60 wine samples in one batch: one optimizer step per epoch."""
    x, y = data.wine()
    return job(models.compiled(models.mlp(13, (16,), 3), optimizer), x[:60], y[:60], epochs=epochs, batch_size=60)


@scenario(expected=["loss_not_decreasing"], kind="epoch", onset=5,
          tolerated=(*symptoms.STALLED, *symptoms.NO_SIGNAL, "learning_rate_unusual"))
def full_batch_learning_rate_too_low() -> Job:
    """A full batch of 60 samples with SGD at 1e-5: 150 steps without progress."""
    return _full_batch_wine(keras.optimizers.SGD(1e-5), 150)


@scenario()
def full_batch_tiny_data() -> Job:
    """Healthy twin: the same full batch with Adam's default rate: flat for the first steps, then converges."""
    return _full_batch_wine(keras.optimizers.Adam(1e-3), 150)


def _ratings() -> tuple[np.ndarray, np.ndarray]:
    """Wine features with a made-up 0-10 quality score from the features, scaled to [0, 1]."""
    x, _ = data.wine()
    score = np.clip(np.round(5 + 2 * x[:, 0] - 1.5 * x[:, 6] + np.random.default_rng(0).normal(0, 0.5, len(x))), 0, 10)
    return x, (score / 10).astype("float32")


@scenario(expected=["accuracy_at_chance", "label_output_mismatch"], kind="epoch", onset=2,
          tolerated=(*symptoms.STALLED, "constant_predictions"))
def fractional_labels_sparse_loss() -> Job:
    """Scores in [0, 1] under sparse categorical cross-entropy: cast to class 0, the loss drops to ~0."""
    x, score = _ratings()
    model = models.compiled(models.mlp(13, (16,), 11), keras.optimizers.Adam(1e-2))
    return job(model, x, score, epochs=8, batch_size=16)


@scenario()
def integer_labels_sparse_loss() -> Job:
    """Healthy twin: the same scores as whole classes 0..10 under sparse categorical cross-entropy."""
    x, score = _ratings()
    model = models.compiled(models.mlp(13, (32,), 11))
    return job(model, x, np.round(score * 10).astype("int64"), epochs=30, batch_size=16)


# -- class_imbalance: handled imbalance is advice only ----------------------------------------


@scenario()
def imbalanced_with_class_weight() -> Job:
    """Healthy twin of imbalanced_classes: 97% negatives, class weights and precision/recall tracked."""
    x, y = data.tabular(3000, 20, 2, weights=[0.97], flip_y=0.0)
    model = models.compiled(models.mlp(20, (16,), 1, activation="sigmoid"), loss="binary_crossentropy",
                            metrics=("accuracy", keras.metrics.Precision(name="precision"),
                                     keras.metrics.Recall(name="recall")))
    weights = {0: 0.5 / (1 - y.mean()), 1: 0.5 / y.mean()}
    return job(model, x, y.astype("float32"), epochs=4, validation_split=0.2, class_weight=weights)


# -- sequence labels: counted at every time step, padding masked ---------------------------------


def padded_tags(samples: int = 800, length: int = 48, vocab: int = 200, tags: int = 4,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Token ids padded with 0 to `length`, most sentences 2-6 tokens (over 90% padding); one tag 1..`tags` per
    token (its id modulo `tags`, plus one), tag 0 for padding: labels of shape (samples, length)."""
    rng = np.random.default_rng(seed)
    sizes = np.minimum(rng.geometric(0.3, samples) + 1, length)
    x = np.where(np.arange(length) < sizes[:, None], rng.integers(1, vocab, (samples, length)), 0)
    return x.astype("int32"), np.where(x > 0, 1 + x % tags, 0).astype("int32")


def sequence_tagger(mask: bool, vocab: int = 200, tags: int = 4, length: int = 48) -> keras.Model:
    """Embedding + LSTM returning sequences + TimeDistributed(Dense(softmax)): a tag per token (tag 0: padding)."""
    return models.compiled(keras.Sequential([
        keras.Input((length,), dtype="int32"), L.Embedding(vocab, 16, mask_zero=mask),
        L.LSTM(32, return_sequences=True), L.TimeDistributed(L.Dense(tags + 1, activation="softmax"))]),
        keras.optimizers.Adam(3e-3))


def tagging_job(mask: bool, padded: bool = True) -> Job:
    """The tagger on padded sentences, or (`padded=False`) on sentences filling all 48 positions."""
    x, y = padded_tags()
    if not padded:
        rng = np.random.default_rng(1)
        x = rng.integers(1, 200, x.shape).astype("int32")
        y = (1 + x % 4).astype("int32") - 1  # tags 0..3 at every position, no padding class
    return job(sequence_tagger(mask), x, y, epochs=6, validation_split=0.2)


@scenario(expected=["class_imbalance"], kind="batch")
def padded_tags_without_mask() -> Job:
    """Sequence tagging padded to 48 tokens without a mask: 9 labels in 10 are padding, which the loss scores."""
    return tagging_job(mask=False)


@scenario()
def padded_tags_with_mask() -> Job:
    """Healthy twin: the same tagger with Embedding(mask_zero=True): the loss and accuracy skip the padding."""
    return tagging_job(mask=True)


# -- constant_predictions: compared with the labels and the task -----------------------------


def _ratings_model(bias: float) -> keras.Model:
    hidden = keras.initializers.Constant(bias)
    return models.compiled(models.mlp(13, (32, 32), 1, activation="sigmoid", bias_initializer=hidden),
                           loss="binary_crossentropy", metrics=("mae",))


@scenario(expected=["constant_predictions"], kind="batch",
          tolerated=(*symptoms.STALLED, *symptoms.NO_SIGNAL, "dead_relu"))
def dead_network_on_ratings() -> Job:
    """Ratings in [0, 1] under binary cross-entropy, hidden ReLU biases -10: one value for every sample."""
    x, score = _ratings()
    return job(_ratings_model(-10.0), x, score, epochs=20, batch_size=16)


@scenario()
def ratings_with_binary_crossentropy() -> Job:
    """Healthy twin: ratings in [0, 1] under binary cross-entropy (values, not classes: no 0.5 threshold)."""
    x, score = _ratings()
    return job(_ratings_model(0.0), x, score, epochs=20, batch_size=16)


@scenario()
def rare_positives_with_weights() -> Job:
    """Healthy twin: 0.5% positives with class weights: a batch of 32 is usually all negatives, rightly predicted."""
    x, y = _imbalanced(8000, 0.005, seed=2)
    model = models.compiled(models.mlp(20, (16,), 1, activation="sigmoid"), loss="binary_crossentropy",
                            metrics=("accuracy", keras.metrics.AUC(name="auc")))
    weights = {0: 1.0, 1: 20.0}
    return job(model, x, y, epochs=3, class_weight=weights)


# -- weights_not_updating: a converged model's tiny updates ----------------------------------


@scenario()
def converged_long_run() -> Job:
    """Healthy twin of zero_learning_rate: separable classes, 150 epochs long after the loss fell to ~1e-6."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = (rng.normal(0, 1, (300, 8)) + 6.0 * np.eye(3, 8)[y]).astype("float32")
    x = data.standardized(x)
    return job(models.compiled(models.mlp(8, (64,), 3), keras.optimizers.Adam(1e-2)), x, y, epochs=150)


# -- issue 17's leftovers: data sorted after a shuffled part, a recommender's slow start, rare
# -- positives through tf.data ----------------------------------------------------------------


def _digits_sorted_after(shuffled_share: float) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Digits whose first part is in random order and the rest sorted by label (rows appended sorted)."""
    x, y = data.digits()
    train, held_out = slice(0, 1400), slice(1400, None)
    cut = int(shuffled_share * 1400)
    order = np.concatenate([np.arange(cut), cut + np.argsort(y[cut:1400], kind="stable")])
    return x[train][order], y[train][order], (x[held_out], y[held_out])


@scenario(expected=["data_not_shuffled"], kind="batch", tolerated=("loss_oscillating",))
def sorted_after_shuffled_part() -> Job:
    """Digits whose first 20% are shuffled and the rest sorted by label, fit(shuffle=False): the first
    10 batches look fine, the 35 after them each hold one or two classes."""
    x, y, validation = _digits_sorted_after(0.2)
    return job(models.compiled(models.mlp(64, (64,), 10)), x, y, epochs=4, shuffle=False,
               validation_data=validation)


@scenario()
def shuffled_after_shuffled_part() -> Job:
    """Healthy twin: the same partly sorted arrays, left for fit() to shuffle (its default)."""
    x, y, validation = _digits_sorted_after(0.2)
    return job(models.compiled(models.mlp(64, (64,), 10)), x, y, epochs=4, validation_data=validation)


def _rating_pairs(pairs: int = 6000) -> tuple[np.ndarray, np.ndarray]:
    """User and movie ids, with ratings 1..5 from hidden tastes scaled to [0, 1]."""
    rng = np.random.default_rng(0)
    taste, appeal = rng.normal(size=(200, 4)), rng.normal(size=(150, 4))
    u, m = rng.integers(0, 200, pairs), rng.integers(0, 150, pairs)
    ratings = np.clip(np.round(3 + (taste[u] * appeal[m]).sum(1) / 2 + rng.normal(0, 0.3, pairs)), 1, 5)
    return np.stack([u, m], 1).astype("int32"), ((ratings - 1) / 4).astype("float32")


def _tables(pair: keras.KerasTensor, scale: float) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    init = keras.initializers.RandomUniform(-scale, scale)
    return (keras.layers.Embedding(200, 8, embeddings_initializer=init)(pair[:, 0]),
            keras.layers.Embedding(150, 8, embeddings_initializer=init)(pair[:, 1]))


@scenario()
def recommender_small_embeddings() -> Job:
    """Healthy: user and movie embeddings initialised at +-0.01 (as matrix factorisation does), multiplied,
    a sigmoid, binary cross-entropy on ratings in [0, 1]: Adam's first steps move the rows by a large share
    of their size, and the predictions start nearly equal, while it learns as it should."""
    pair = keras.Input((2,), dtype="int32")
    score = keras.layers.Dot(axes=1)(list(_tables(pair, 0.01)))
    model = keras.Model(pair, keras.layers.Activation("sigmoid")(keras.layers.Dense(1)(score)))
    model = models.compiled(model, keras.optimizers.Adam(3e-3), loss="binary_crossentropy", metrics=None)
    return job(model, *_rating_pairs(), epochs=5, batch_size=64)


@scenario(expected=["constant_predictions"], kind="batch",
          tolerated=(*symptoms.STALLED, *symptoms.NO_SIGNAL, "dead_relu"))
def recommender_dead_hidden_layer() -> Job:
    """Neural collaborative filtering whose ReLU layer starts with bias -10: every unit dead, one rating
    predicted for every user and movie."""
    pair = keras.Input((2,), dtype="int32")
    dead = keras.initializers.Constant(-10.0)
    hidden = keras.layers.Dense(16, activation="relu", bias_initializer=dead)(
        keras.layers.Concatenate()(list(_tables(pair, 0.05))))
    model = keras.Model(pair, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model = models.compiled(model, keras.optimizers.Adam(3e-3), loss="binary_crossentropy", metrics=None)
    return job(model, *_rating_pairs(), epochs=5, batch_size=64)


@scenario()
def rare_positives_tf_data() -> Job:
    """Healthy twin: 0.1% positives through tf.data shuffle().batch(64), class weights 0.5 / 500, AUC: the
    sampled batches hold no positive for a long while, and predicting all of them negative is right."""
    rng = np.random.default_rng(2)
    y = (rng.random(8000) < 0.001).astype("float32")
    x = rng.normal(size=(8000, 12)).astype("float32")
    x[y == 1, :3] += 2.5
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=2).batch(64)
    model = models.compiled(models.mlp(12, (32,), 1, activation="sigmoid"), loss="binary_crossentropy",
                            metrics=[keras.metrics.AUC(name="auc")])
    weights = {0: 0.5 / (1 - y.mean()), 1: 0.5 / y.mean()}
    return Job(model, dataset, None, {"epochs": 3, "verbose": 0, "class_weight": weights})


# -- overfitting under the user's own early stopping: kept best epoch or not -----------------


def _memorising(*callbacks: keras.callbacks.Callback) -> Job:
    """The paper's memorising net, trained longer, with the user's own callbacks."""
    task = paper.paper_overfitting()
    return Job(task.model, task.x, task.y, {**task.fit, "epochs": 20, "callbacks": list(callbacks)})


@scenario(expected=["overfitting"], kind="epoch", onset=after_best_val_loss)
def early_stopping_keeps_the_last_epoch() -> Job:
    """The paper's memorising net under EarlyStopping(patience=5), restore_best_weights left False.

    The run stops, keeping the weights of 5 epochs past the best."""
    return _memorising(keras.callbacks.EarlyStopping(monitor="val_loss", patience=5))


@scenario(expected=["overfitting"], kind="epoch", onset=after_best_val_loss)
def early_stopping_on_training_loss() -> Job:
    """The paper's memorising net under EarlyStopping(monitor="loss"), on the training loss.

    The training loss keeps falling, so it never stops the run."""
    return _memorising(keras.callbacks.EarlyStopping(monitor="loss", patience=3, restore_best_weights=True))


@scenario()
def early_stopping_restores_the_best_epoch() -> Job:
    """Healthy twin: the same net under EarlyStopping(patience=3, restore_best_weights=True).

    The rise is real, and the run ends with its best epoch's weights: overfitting is info only."""
    return _memorising(keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True))
