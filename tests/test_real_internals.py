"""Issue 17, internals and input checks on real users' and experts' programs.

Rule logic on synthetic observations; each class of fault on a real tiny training (the zoo's
own programs in `bench/zoo/real_internals.py`), with its healthy twin.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from bench.zoo import real_internals as zoo
from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.checks.input_not_normalized import InputNotNormalized
from tensorboard_plugin_scram.checks.internal_error import InternalsNotMeasured
from tensorboard_plugin_scram.checks.train_val_mismatch import TrainValMismatch
from tensorboard_plugin_scram.engine import Engine
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.keras_adapter.model_facts import model_facts
from tensorboard_plugin_scram.observations import BatchObservation, EpochObservation, RunInfo, TensorStats
from tests.builders import report_json

pytestmark = pytest.mark.training

L = keras.layers


def stats(lo: float, hi: float, mean: float, std: float, **kw) -> TensorStats:
    values = dict(name="x", role="input", count=320, nonfinite=0, nonfinite_total=0, min=lo, max=hi, mean=mean,
                  std=std, feature_mean_abs=abs(mean), feature_std=std, integral=True)
    return TensorStats(**{**values, **kw})


def inputs_findings(tensor: TensorStats, run: RunInfo | None = None) -> list:
    history = History(run)
    obs = BatchObservation(0, 0, {}, (tensor,))
    history.add_batch(obs)
    return list(InputNotNormalized().on_batch(obs, history))


# -- input_not_normalized: rules ---------------------------------------------------------

@pytest.mark.parametrize("scaled", [("x",), ("*",)])
def test_inputs_scaled_inside_the_model_are_not_reported(scaled):
    pixels = stats(0, 255, 120, 70)
    assert inputs_findings(pixels) != []  # the same batch, with no scaling in the model
    assert inputs_findings(pixels, RunInfo(scaled_inputs=scaled)) == []


def test_a_column_from_0_to_5_never_fires():
    engine = Engine([InputNotNormalized()])
    engine.begin(RunInfo(), 0)
    rng = np.random.default_rng(0)
    emitted = []
    for step in range(11):
        top = float(rng.choice([4.0, 5.0, 5.9]))  # batches whose largest value crosses raw_limit or not
        emitted += engine.batch(BatchObservation(step, 0, {}, (stats(0, top, 2.5, 1.5),)))
    assert emitted == []


def test_a_raw_input_near_the_limits_is_reported_once_per_episode():
    engine = Engine([InputNotNormalized()])
    engine.begin(RunInfo(), 0)
    emitted = []
    # Digits' raw pixels 0..16: some batches' largest value dips under raw_limit, which used to end the
    # episode and report it again at the next batch.
    for step, top in enumerate([16, 4, 16, 5, 16, 3, 16, 16, 4, 16, 16]):
        emitted += engine.batch(BatchObservation(step, 0, {}, (stats(0, top, 5.1, 6.1),)))
    assert [d.check for d in emitted] == ["input_not_normalized"]
    # The data's scale does not change within a run: a batch that happens to look scaled ends nothing.
    assert engine.batch(BatchObservation(20, 0, {}, (stats(0, 1, 0.3, 0.3),))) == []
    assert engine.batch(BatchObservation(21, 0, {}, (stats(0, 16, 5.1, 6.1),))) == []


def test_a_batch_of_mostly_one_class_is_judged_with_the_batches_before_it():
    engine = Engine([InputNotNormalized()])
    engine.begin(RunInfo(), 0)
    balanced, skewed = stats(-7.5, 7.9, 0.2, 4.1, feature_std=4.1), stats(-7.9, 6.1, -3.2, 2.9, feature_std=2.9)
    emitted = [d for step, t in enumerate([balanced, balanced, skewed, balanced, skewed])
               for d in engine.batch(BatchObservation(step, 0, {}, (t,)))]
    assert emitted == []
    # The same skewed batch alone, as the first one, is raw: nothing before it says otherwise.
    assert len(inputs_findings(skewed, RunInfo())) == 1


def test_centred_inputs_whose_batch_means_wander_with_the_class_mix_are_fine():
    # Two blobs at -4 and +4 (std 4.1 overall): a batch with 30% of one class has mean -1.6.
    assert inputs_findings(stats(-7.9, 7.6, -1.6, 4.0, feature_std=4.0), RunInfo()) == []
    # Ages around 50 are not centred, whatever their spread.
    assert len(inputs_findings(stats(18, 90, 50, 15, feature_std=15), RunInfo())) == 1


def test_table_columns_in_0_to_255_get_per_feature_standardisation():
    # Ages, heart rates, blood pressures: per-column spread far below the spread of the whole batch.
    columns = stats(0, 230, 95, 60, feature_std=12)
    [finding] = inputs_findings(columns, RunInfo(input_sizes={"x": 6}))
    assert "Normalization" in finding.snippet and "StandardScaler" in finding.snippet
    assert "255" not in finding.snippet and "pixels" not in finding.suggestion


@pytest.mark.parametrize("run", [RunInfo(image_inputs=("x",)), RunInfo(input_sizes={"x": 784})])
def test_images_and_flat_pixels_get_divided_by_255(run):
    [finding] = inputs_findings(stats(0, 255, 33, 78, feature_std=55), run)
    assert "/ 255.0" in finding.snippet and "pixels" in finding.suggestion


# -- model facts ---------------------------------------------------------------------------

def test_model_facts_find_scaling_first_in_nested_and_functional_models():
    preprocessing = keras.Sequential([L.RandomFlip(), L.Rescaling(1 / 255)])
    nested = keras.Sequential([keras.Input((8, 8, 3)), preprocessing, L.Flatten(), L.Dense(2)])
    normalizer = L.Normalization()
    normalizer.adapt(np.arange(20, dtype="float32").reshape(4, 5))
    table = keras.Input((5,), name="table")
    pixels = keras.Input((8, 8, 3), name="pixels")
    two = keras.Model([pixels, table], L.Dense(1)(L.Concatenate()([L.Flatten()(pixels), normalizer(table)])))
    plain = keras.Sequential([keras.Input((5,)), L.Dense(1)])
    assert model_facts(nested)["scaled_inputs"] == ("x",)
    assert "x" in model_facts(nested)["image_inputs"]
    assert set(model_facts(two)["scaled_inputs"]) == {"x[1]", "table"}
    assert set(model_facts(two)["image_inputs"]) == {"x[0]", "pixels"}
    assert model_facts(plain) == {"scaled_inputs": (), "image_inputs": (), "internals_unmeasured": None}


def test_a_model_with_train_step_and_no_call_is_said_once_as_info():
    facts = model_facts(zoo.vae_job(epochs=1).model)
    assert "train_step" in facts["internals_unmeasured"]
    [finding] = InternalsNotMeasured().on_train_begin(RunInfo(internals_unmeasured=facts["internals_unmeasured"]))
    assert "def call(self" in finding.snippet and "'encoder', 'decoder'" in finding.explanation
    assert InternalsNotMeasured().on_train_begin(RunInfo()) == []


# -- train_val_mismatch: BatchNormalization ------------------------------------------------

def epochs_findings(run: RunInfo, rows: list[dict], steps_per_epoch: int = 45) -> list:
    check, history = TrainValMismatch(), History(run)
    found = []
    for epoch, logs in enumerate(rows):
        step = (epoch + 1) * steps_per_epoch - 1
        history.add_batch(BatchObservation(step, epoch, {"loss": logs["loss"]}))
        obs = EpochObservation(step, epoch, logs)
        history.add_epoch(obs)
        found += check.on_epoch(obs, history) or []
    return found


BN_ROWS = [{"loss": 2.1, "accuracy": 0.42, "val_loss": 2.29, "val_accuracy": 0.10},
           {"loss": 1.7, "accuracy": 0.73, "val_loss": 2.28, "val_accuracy": 0.14}]


def test_validation_behind_unsettled_batch_norm_names_it_from_the_first_epochs():
    found = epochs_findings(RunInfo(batch_norm_momentum=0.99), BN_ROWS)
    assert len(found) == len(BN_ROWS) and {f.key for f in found} == {"worse"}  # one episode: reported once
    assert "BatchNormalization" in found[0].explanation and "momentum=0.9" in found[0].snippet
    assert epochs_findings(RunInfo(), BN_ROWS) == []  # no BatchNormalization: too early to judge
    assert epochs_findings(RunInfo(batch_norm_momentum=0.9), BN_ROWS) == []  # settled after 45 steps


# -- real tiny trainings -------------------------------------------------------------------

def train(job, log_dir) -> tuple[list[dict], list[str]]:
    """Fits the zoo's job with SCRAM; its diagnostics and SCRAM's own warnings."""
    fit = dict(job.fit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job.model.fit(job.x, job.y, callbacks=[ScramCallback(str(log_dir))], **fit)
    return report_json(log_dir), [str(w.message) for w in caught if "SCRAM" in str(w.message)]


def checks(found: list[dict], severity: str | None = None) -> list[str]:
    return [d["check"] for d in found if severity is None or d["severity"] == severity]


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def test_subclassed_sigmoid_stack_on_raw_pixels_is_named_saturated(tmp_path):
    found, _ = train(zoo.subclassed_sigmoid_stack_raw(), tmp_path)
    [saturated] = [d for d in found if d["check"] == "saturated_activations"]
    assert "0..255" not in saturated["explanation"] and "up to 255" in saturated["explanation"]
    assert "Normalization" in saturated["snippet"]


def test_subclassed_sigmoid_stack_on_scaled_pixels_stays_quiet(tmp_path):
    found, _ = train(zoo.subclassed_sigmoid_stack_scaled(), tmp_path)
    assert checks(found, "warning") == [] and checks(found, "error") == []


def test_rescaling_inside_the_model_is_not_scaled_twice(tmp_path):
    found, _ = train(zoo.pixels_rescaled_in_model(), tmp_path / "rescaled")
    assert "input_not_normalized" not in checks(found)
    found, _ = train(zoo.pixels_without_rescaling(), tmp_path / "raw")
    [report] = [d for d in found if d["check"] == "input_not_normalized"]
    assert "/ 255.0" in report["snippet"]


def test_raw_table_columns_are_reported_once_with_standardisation(tmp_path):
    found, _ = train(zoo.raw_vital_sign_columns(), tmp_path / "raw")
    [report] = [d for d in found if d["check"] == "input_not_normalized"]
    assert "Normalization" in report["snippet"] and "/ 255" not in report["snippet"]
    found, _ = train(zoo.vital_signs_normalized_in_model(), tmp_path / "normalized")
    assert "input_not_normalized" not in checks(found)


def test_small_range_columns_do_not_fire(tmp_path):
    found, _ = train(zoo.small_range_columns(), tmp_path)
    assert "input_not_normalized" not in checks(found)


def test_vae_without_call_gets_one_info_and_no_internal_error(tmp_path):
    found, scram_warnings = train(zoo.vae_without_call(), tmp_path)
    assert checks(found) == ["internals_not_measured"] and checks(found, "info") == ["internals_not_measured"]
    assert scram_warnings == []


def test_batch_norm_short_run_names_the_moving_averages(tmp_path):
    found, _ = train(zoo.batchnorm_short_run(), tmp_path / "slow")
    [mismatch] = [d for d in found if d["check"] == "train_val_mismatch"]
    assert "BatchNormalization" in mismatch["explanation"]
    found, _ = train(zoo.batchnorm_short_run_fast_momentum(), tmp_path / "fast")
    assert "train_val_mismatch" not in checks(found)
