"""Issue 17: models that train through their own `train_step` and have no `call()` (a GAN, a VAE).

SCRAM cannot run such a model, so it follows the weights of its trainable parts
(`keras_adapter/submodels.py`): the parts found, the monitor's measurements, the checks'
findings on synthetic part statistics, and real tiny GANs and VAEs, healthy and faulty.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from bench.zoo import real_internals as zoo
from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.checks.update_ratio_unusual import UpdateRatioUnusual
from tensorboard_plugin_scram.checks.weights_not_updating import WeightsNotUpdating
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.keras_adapter.model_facts import model_facts
from tensorboard_plugin_scram.keras_adapter.sampling import InternalsSchedule
from tensorboard_plugin_scram.keras_adapter.submodels import PartsMonitor, frozen_parts, trainable_parts
from tensorboard_plugin_scram.observations import BatchObservation, LayerStats, ModelStats, RunInfo
from tests.builders import ModelStatsRecorder, report_json

pytestmark = pytest.mark.training

L = keras.layers
PARTS_RUN = RunInfo(optimizer="RMSprop", learning_rate=1e-3, internals_unmeasured="GAN overrides train_step()")


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


# -- the parts and their measurement ---------------------------------------------------------

def test_the_parts_of_a_gan_are_its_sub_models_with_their_weighted_layers():
    gan = zoo.GAN()
    parts = trainable_parts(gan)
    assert [part.name for part in parts] == ["generator", "discriminator"]
    dense = [layer.name for layer in gan.generator.layers if isinstance(layer, L.Dense)]
    assert [parts[0].qualified(plan) for plan in parts[0].plans] == [f"generator.{name}" for name in dense]
    # The discriminator's LeakyReLU holds no weight: not followed.
    assert all(plan.variables for part in parts for plan in part.plans)


def test_a_frozen_part_is_named_and_not_followed():
    gan = zoo.GAN()
    gan.generator.trainable = False
    assert [part.name for part in trainable_parts(gan)] == ["discriminator"]
    assert frozen_parts(gan) == ["generator"]
    reason = model_facts(gan)["internals_unmeasured"]
    assert "'generator' is frozen" in reason and "'discriminator'" in reason


def test_the_monitor_measures_one_steps_update_of_each_layer():
    vae = zoo.VAE()
    parts = trainable_parts(vae)
    monitor = PartsMonitor(parts, InternalsSchedule(every=1, first=1, confirm=0, max_every=1))
    assert monitor.after_step(0, 1.0) is None  # step 1 is due: the weights are copied now
    kernel = vae.decoder.layers[-1].kernel
    kernel.assign(kernel + 0.5)  # "the step": only the decoder's last layer changes
    stats = monitor.after_step(1, 1.0)
    assert stats is not None
    changed = {layer.name: layer.update_norm for layer in stats.layers}
    last = f"decoder.{vae.decoder.layers[-1].name}"
    expected = 0.5 * np.sqrt(np.prod(kernel.shape))
    assert changed[last] == pytest.approx(expected, rel=1e-5)
    assert [name for name, norm in changed.items() if norm != 0] == [last]
    assert all(layer.grad_norm is None and layer.update_steps == 1 for layer in stats.layers)


def test_rerun_names_the_layer_whose_weights_hold_nan():
    gan = zoo.GAN()
    monitor = PartsMonitor(trainable_parts(gan), InternalsSchedule())
    bias = gan.discriminator.layers[0].bias
    bias.assign(np.full(bias.shape, np.nan, "float32"))
    bad = [layer.name for layer in monitor.rerun().layers if layer.nonfinite_weights]
    assert bad == [f"discriminator.{gan.discriminator.layers[0].name}"]


# -- the checks on part statistics -----------------------------------------------------------

def part_layer(name: str, update: float, weight: float = 5.0) -> LayerStats:
    return LayerStats(name=name, kind="Dense", weight_norm=weight, update_norm=update, update_steps=1)


def judge(check, layers_per_step: list[list[LayerStats]], run: RunInfo = PARTS_RUN) -> list:
    history, found = History(run), []
    for step, layers in enumerate(layers_per_step):
        obs = BatchObservation(step, 0, {}, model=ModelStats(layers=tuple(layers)))
        history.add_batch(obs)
        found += list(check.on_batch(obs, history) or [])
    return found


def test_a_part_that_never_changes_is_reported_once_by_name():
    stuck = [part_layer("generator.dense", 0.0), part_layer("generator.dense_1", 0.0),
             part_layer("discriminator.dense_2", 0.01)]
    findings = judge(WeightsNotUpdating(), [stuck, stuck])
    assert [f.key for f in findings] == ["generator"]
    assert "'generator'" in findings[0].title and "copy-paste" in findings[0].explanation
    assert "self.generator.trainable_weights" in findings[0].snippet


def test_a_part_that_stopped_changing_is_said_to_have_lost_its_gradient():
    moving = [part_layer("generator.dense", 0.01), part_layer("discriminator.dense_2", 0.01)]
    stuck = [part_layer("generator.dense", 0.01), part_layer("discriminator.dense_2", 0.0)]
    findings = judge(WeightsNotUpdating(), [moving, stuck, stuck])
    assert [f.key for f in findings] == ["discriminator"]
    assert "earlier sampled steps" in findings[0].explanation and "copy-paste" not in findings[0].explanation


def test_part_updates_that_are_healthy_are_quiet():
    healthy = [part_layer("generator.dense", 0.005), part_layer("discriminator.dense_2", 0.006)]
    assert judge(WeightsNotUpdating(), [healthy] * 3) == []
    assert judge(UpdateRatioUnusual(), [healthy] * 3) == []


def test_large_part_updates_name_the_part_and_a_factor_not_the_compiled_learning_rate():
    layers = [part_layer("generator.dense", 0.005), part_layer("discriminator.dense_2", 1.0),
              part_layer("discriminator.dense_3", 1.0)]
    [finding] = judge(UpdateRatioUnusual(), [layers])
    ratio = 1.0 / 5.0
    assert "'discriminator'" in finding.title and "generator" not in finding.title
    assert finding.evidence["factor"] == pytest.approx(ratio / 1e-3, rel=0.5)
    assert "learning rate 0.001" not in finding.explanation and "compile()" in finding.explanation


# -- real tiny trainings ---------------------------------------------------------------------

def train(job, log_dir, extra_checks=()) -> tuple[list[dict], list[str]]:
    fit = dict(job.fit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job.model.fit(job.x, job.y, callbacks=[ScramCallback(str(log_dir), extra_checks=list(extra_checks))],
                      **fit)
    return report_json(log_dir), [str(w.message) for w in caught if "SCRAM" in str(w.message)]


def alarms(found: list[dict]) -> list[str]:
    return [d["check"] for d in found if d["severity"] != "info"]


def test_a_healthy_gan_is_quiet_and_its_parts_are_measured(tmp_path):
    recorder = ModelStatsRecorder()
    found, scram_warnings = train(zoo.gan_job(epochs=2), tmp_path, [recorder])
    assert alarms(found) == [] and scram_warnings == []
    [info] = [d for d in found if d["check"] == "internals_not_measured"]
    assert "'generator', 'discriminator'" in info["explanation"]
    assert recorder.seen, "the parts' weights are measured at sampled steps"
    names = {layer.name.partition(".")[0] for obs in recorder.seen for layer in obs.model.layers}
    assert names == {"generator", "discriminator"}
    assert all(layer.update_norm > 0 for obs in recorder.seen for layer in obs.model.layers)


def test_a_healthy_vae_is_quiet(tmp_path):
    found, scram_warnings = train(zoo.vae_job(epochs=3), tmp_path)
    assert alarms(found) == [] and scram_warnings == []


def test_a_generator_that_never_updates_is_named(tmp_path):
    found, _ = train(zoo.gan_generator_never_updated(), tmp_path)
    stuck = [d for d in found if d["check"] == "weights_not_updating"]
    assert [d["evidence"]["part"] for d in stuck] == ["generator"]
    assert alarms(found) == ["weights_not_updating"]


def test_a_discriminator_learning_rate_of_10_is_reported_as_too_large_updates(tmp_path):
    found, _ = train(zoo.gan_discriminator_learning_rate_10(), tmp_path)
    ratios = [d for d in found if d["check"] == "update_ratio_unusual"]
    # Which sampled step first sees the huge updates depends on TensorFlow's thread timing at a
    # rate of 10 (the discriminator may saturate first: its updates then read "too small").
    assert ratios and all("'discriminator'" in d["title"] for d in ratios)
    assert all(name.startswith("discriminator.") for d in ratios for name in d["evidence"]["update_ratios"])
    for large in (d for d in ratios if "too large" in d["title"]):
        assert large["severity"] == "warning"
