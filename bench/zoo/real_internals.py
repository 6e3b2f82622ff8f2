"""Classes of faults and false alarms in the internals and input checks seen in real users' and
experts' programs (sigmoid stacks, in-model scaling, custom `train_step`), each with a healthy twin.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from bench import data, models
from bench.zoo import symptoms
from bench.zoo.registry import Job, job, scenario

L = keras.layers


# -- experts' programs, shared with the healthy sweep (bench/sweep_experts.py) --------------

def pixel_images(samples: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """The generated 32x32x3 images with pixels 0..255, as `image_dataset_from_directory` gives them."""
    return data.images(samples, raw=True)


def rescaling_cnn(rescale: bool = True) -> keras.Model:
    """Keras' image-classification example: `Rescaling(1/255)` inside the model, after augmentation."""
    first = [keras.Sequential([L.RandomFlip("horizontal"), L.Rescaling(1.0 / 255)], name="preprocessing")]
    return keras.Sequential([keras.Input((32, 32, 3)), *(first if rescale else []),
                             L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(),
                             L.Conv2D(16, 3, activation="relu"), L.GlobalAveragePooling2D(),
                             L.Dense(4, activation="softmax")])


def vital_signs(samples: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A table of whole-number columns in 0..255 (age, heart rate, blood pressure, ...); a binary label."""
    rng = np.random.default_rng(seed)
    columns = np.stack([rng.integers(18, 90, samples), rng.normal(75, 12, samples), rng.normal(125, 18, samples),
                        rng.normal(80, 10, samples), rng.integers(0, 40, samples), rng.normal(200, 30, samples)], 1)
    x = np.clip(np.round(columns), 0, 255).astype("float32")
    score = (x[:, 0] - 54) / 20 + (x[:, 2] - 125) / 18 + rng.normal(0, 0.5, samples)
    return x, (score > 0).astype("float32")


def normalized_mlp(x: np.ndarray, hidden: tuple[int, ...] = (32,)) -> keras.Model:
    """Keras' structured-data examples: a Normalization layer adapted to the training data, first."""
    normalizer = L.Normalization()
    normalizer.adapt(x)
    return keras.Sequential([keras.Input(x.shape[1:]), normalizer,
                             *[L.Dense(units, activation="relu") for units in hidden],
                             L.Dense(1, activation="sigmoid")])


class VAE(keras.Model):
    """Keras' VAE example in small: an encoder and a decoder, its own `train_step`, no `call()`."""

    def __init__(self, features: int = 64, latent: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.latent = latent
        self.encoder = keras.Sequential([keras.Input((features,)), L.Dense(32, activation="relu"),
                                         L.Dense(2 * latent)], name="encoder")
        self.decoder = keras.Sequential([keras.Input((latent,)), L.Dense(32, activation="relu"),
                                         L.Dense(features, activation="sigmoid")], name="decoder")
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self) -> list:
        return [self.loss_tracker]

    def train_step(self, batch: tf.Tensor) -> dict:
        with tf.GradientTape() as tape:
            moments = self.encoder(batch)
            mean, log_var = moments[:, :self.latent], moments[:, self.latent:]
            z = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))
            reconstruction = self.decoder(z)
            rebuilt = tf.reduce_sum(keras.losses.binary_crossentropy(batch[..., None], reconstruction[..., None]), 1)
            divergence = -0.5 * tf.reduce_sum(1 + log_var - mean ** 2 - tf.exp(log_var), 1)
            loss = tf.reduce_mean(rebuilt + divergence)
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def vae_job(epochs: int = 6) -> Job:
    model = VAE()
    model.compile(keras.optimizers.Adam(1e-3))
    return Job(model, data.digits()[0], None, {"epochs": epochs, "batch_size": 32, "verbose": 0})


class GAN(keras.Model):
    """Keras' GAN example in small: generator and discriminator MLPs, its own `train_step`, no `call()`."""

    def __init__(self, features: int = 64, latent: int = 16, **kwargs) -> None:
        super().__init__(**kwargs)
        self.latent = latent
        self.generator = keras.Sequential([keras.Input((latent,)), L.Dense(64, activation="relu"),
                                           L.Dense(features, activation="sigmoid")], name="generator")
        self.discriminator = keras.Sequential([keras.Input((features,)), L.Dense(64), L.LeakyReLU(0.2),
                                               L.Dense(1)], name="discriminator")
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss = keras.metrics.Mean(name="d_loss")
        self.g_loss = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer: keras.optimizers.Optimizer, g_optimizer: keras.optimizers.Optimizer) -> None:
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    @property
    def metrics(self) -> list:
        return [self.d_loss, self.g_loss]

    def generator_weights(self) -> list:
        """The weights the generator's step updates."""
        return self.generator.trainable_weights

    def train_step(self, real: tf.Tensor) -> dict:
        size = tf.shape(real)[0]
        fake = self.generator(tf.random.normal((size, self.latent)))
        with tf.GradientTape() as tape:
            logits = self.discriminator(tf.concat([fake, real], 0))
            labels = tf.concat([tf.ones((size, 1)), tf.zeros((size, 1))], 0)
            d_loss = self.bce(labels, logits)
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights, strict=True))
        with tf.GradientTape() as tape:
            fooled = self.discriminator(self.generator(tf.random.normal((size, self.latent))))
            g_loss = self.bce(tf.zeros((size, 1)), fooled)
        weights = self.generator_weights()
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights, strict=True))
        self.d_loss.update_state(d_loss)
        self.g_loss.update_state(g_loss)
        return {"d_loss": self.d_loss.result(), "g_loss": self.g_loss.result()}


def gan_job(epochs: int = 4, gan: type[GAN] | None = None, d_learning_rate: float = 2e-4) -> Job:
    model = (gan or GAN)()
    model.compile(keras.optimizers.Adam(d_learning_rate, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    return Job(model, data.digits()[0], None, {"epochs": epochs, "batch_size": 32, "verbose": 0})


class MisappliedGAN(GAN):
    """A copy-paste slip in the generator's step: its gradients are taken and applied for the discriminator."""

    def generator_weights(self) -> list:
        return self.discriminator.trainable_weights


class SigmoidStack(keras.Model):
    """A user's subclassed MLP: three narrow sigmoid layers and a softmax, layers run in `call()`."""

    def __init__(self, width: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.hidden = [L.Dense(width, activation="sigmoid") for _ in range(3)]
        self.out = L.Dense(classes, activation="softmax")

    def call(self, inputs):
        for layer in self.hidden:
            inputs = layer(inputs)
        return self.out(inputs)


def _digit_pixels(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Digits with pixels 0..16 stretched by `scale` (255 / 16: the 0..255 range of image files)."""
    x, y = data.digits(scaled=False)
    return (x * scale).astype("float32"), y


@scenario(expected=["saturated_activations", "vanishing_gradients"], kind="batch",
          tolerated=(*symptoms.STALLED, "input_not_normalized"))
def subclassed_sigmoid_stack_raw() -> Job:
    """A subclassed model of 3 x Dense(16, sigmoid) on pixels 0..255: the first layer saturates and it stalls."""
    return job(models.compiled(SigmoidStack()), *_digit_pixels(255 / 16), epochs=4, validation_split=0.2)


@scenario()
def subclassed_sigmoid_stack_scaled() -> Job:
    """The same subclassed sigmoid stack on pixels scaled to [0, 1], wider and longer: it learns."""
    model = models.compiled(SigmoidStack(width=64), keras.optimizers.Adam(3e-3))
    return job(model, *_digit_pixels(1 / 16), epochs=10, validation_split=0.2)


@scenario(expected=["saturated_activations", "vanishing_gradients"], kind="batch",
          tolerated=(*symptoms.STALLED, "input_not_normalized"))
def sigmoid_stack_raw_columns() -> Job:
    """3 x Dense(8, sigmoid) on a table of raw columns in 0..1000, binary cross-entropy."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1000, (1200, 8)).astype("float32")
    y = ((x / 1000 - 0.5) @ rng.normal(size=8) > 0).astype("float32")
    model = models.mlp(8, (8, 8, 8), 1, activation="sigmoid", hidden_activation="sigmoid")
    return job(models.compiled(model, loss="binary_crossentropy"), x, y, epochs=4, validation_split=0.2)


@scenario(expected=["input_not_normalized"],
          tolerated=(*symptoms.STALLED, *symptoms.EXTREME_START, *symptoms.SATURATED_OUTPUT))
def pixels_without_rescaling() -> Job:
    """Pixels 0..255 into the image-classification example's CNN with its Rescaling layer left out."""
    return job(models.compiled(rescaling_cnn(rescale=False)), *pixel_images(), epochs=3, validation_split=0.2)


@scenario()
def pixels_rescaled_in_model() -> Job:
    """Pixels 0..255 into a CNN whose nested preprocessing model flips and rescales by 1/255 first."""
    return job(models.compiled(rescaling_cnn()), *pixel_images(), epochs=3, validation_split=0.2)


@scenario(expected=["input_not_normalized"],
          tolerated=(*symptoms.STALLED, *symptoms.EXTREME_START, *symptoms.SATURATED_OUTPUT))
def raw_vital_sign_columns() -> Job:
    """A table of ages, heart rates, blood pressures (whole numbers in 0..255) into an MLP as they are."""
    x, y = vital_signs()
    model = models.compiled(models.mlp(6, (32,), 1, activation="sigmoid"), loss="binary_crossentropy")
    return job(model, x, y, epochs=6, validation_split=0.2)


@scenario()
def vital_signs_normalized_in_model() -> Job:
    """The same table, with a Normalization layer adapted to it first in the model."""
    x, y = vital_signs()
    return job(models.compiled(normalized_mlp(x), loss="binary_crossentropy"), x, y, epochs=6,
               validation_split=0.2)


@scenario()
def small_range_columns() -> Job:
    """Ratings and counts from 0 to 5 (standard deviation about 1.5) fed as they are: of about unit scale."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 6, (2000, 10)).astype("float32")
    y = (x[:, :3].sum(1) + rng.normal(0, 1, 2000) > 7.5).astype("float32")
    model = models.compiled(models.mlp(10, (32,), 1, activation="sigmoid"), loss="binary_crossentropy")
    return job(model, x, y, epochs=5, validation_split=0.2)


@scenario(backends=("tensorflow",))
def vae_without_call() -> Job:
    """A VAE with its own train_step and no call(): info that its internals cannot be measured, no warning."""
    return vae_job(epochs=4)


@scenario(backends=("tensorflow",))
def gan_without_call() -> Job:
    """A GAN with its own train_step and no call(): its parts' weights followed, no warning."""
    return gan_job(epochs=4)


@scenario(expected=["weights_not_updating"], kind="batch", onset=0, backends=("tensorflow",))
def gan_generator_never_updated() -> Job:
    """A GAN whose generator step updates the discriminator's weights (a copy-paste slip): the generator is stuck."""
    return gan_job(epochs=4, gan=MisappliedGAN)


@scenario(expected=["update_ratio_unusual"], kind="batch", onset=0, tolerated=["weights_not_updating"],
          backends=("tensorflow",))
def gan_discriminator_learning_rate_10() -> Job:
    """A GAN whose discriminator's Adam has learning rate 10: each step rewrites its weights.

    Tolerated: its logits soon saturate, its gradient becomes exactly 0 and its weights stop changing.
    """
    return gan_job(epochs=4, d_learning_rate=10.0)


def _bn_digit_cnn(momentum: float) -> keras.Model:
    return keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(32, 3, padding="same", use_bias=False),
                             L.BatchNormalization(momentum=momentum), L.ReLU(),
                             L.Conv2D(32, 3, padding="same", use_bias=False),
                             L.BatchNormalization(momentum=momentum), L.ReLU(), L.GlobalAveragePooling2D(),
                             L.Dense(10, activation="softmax")])


def _bn_job(momentum: float) -> Job:
    x, y = data.digits()
    return job(models.compiled(_bn_digit_cnn(momentum)), x.reshape(-1, 8, 8, 1), y, epochs=3,
               validation_split=0.2)


@scenario(expected=["train_val_mismatch"], kind="epoch", onset=0, tolerated=["overfitting"])
def batchnorm_short_run() -> Job:
    """A BatchNormalization CNN trained 3 short epochs at momentum 0.99: validation stays at chance."""
    return _bn_job(0.99)


@scenario()
def batchnorm_short_run_fast_momentum() -> Job:
    """The same CNN with BatchNormalization(momentum=0.9): its moving averages settle in time."""
    return _bn_job(0.9)
