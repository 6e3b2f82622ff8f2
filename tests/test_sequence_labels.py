"""Issue 17: sequence labels ((batch, time) class ids, one-hot rows per time step) are counted at every
position, and padding a mask hides is not an imbalance the user must fix.

Counting on arrays, the checks on synthetic statistics, and a real padded sequence tagger
with and without `Embedding(mask_zero=True)` (the zoo's `bench/zoo/real_training.py`).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from bench.zoo import real_training as zoo
from tensorboard_plugin_scram import ScramCallback
from tensorboard_plugin_scram.checks._batch import samples
from tensorboard_plugin_scram.checks.class_imbalance import ClassImbalance
from tensorboard_plugin_scram.history import History
from tensorboard_plugin_scram.keras_adapter.batch_stats import MAX_CLASSES, class_counts
from tensorboard_plugin_scram.keras_adapter.model_facts import model_facts
from tensorboard_plugin_scram.observations import BatchObservation, LossInfo, RunInfo
from tests.builders import report_json, stats

pytestmark = pytest.mark.training

L = keras.layers
RNG = np.random.default_rng(0)


def counted(array: np.ndarray) -> list[int]:
    counts = [int(c) for c in class_counts(array)]
    assert len(counts) == MAX_CLASSES
    while counts and not counts[-1]:
        counts.pop()
    return counts


# -- counting -------------------------------------------------------------------------------

def test_class_ids_per_time_step_are_counted_at_every_position():
    tags = RNG.integers(0, 5, (16, 12))
    assert counted(tags) == np.bincount(tags.ravel()).tolist()
    assert counted(tags[..., None]) == np.bincount(tags.ravel()).tolist()  # (batch, time, 1)


def test_one_hot_rows_per_time_step_are_counted_at_every_position():
    tags = RNG.integers(0, 4, (16, 12))
    assert counted(np.eye(4, dtype="float32")[tags]) == np.bincount(tags.ravel(), minlength=4).tolist()


@pytest.mark.parametrize("array", [
    (RNG.random((16, 12)) < 0.4).astype("float32"),  # multi-hot, or binary tags: the loss alone tells
    RNG.integers(0, 100, (16, 12)),  # ids beyond 0..63
    RNG.normal(size=(16, 12)),  # not whole numbers
    RNG.integers(0, 5, (4, 3, 12)).astype("float32"),  # whole numbers, but neither ids per step nor one-hot
], ids=["zeros_and_ones", "out_of_range", "fractions", "rank_3_not_one_hot"])
def test_other_arrays_are_not_counted(array):
    assert counted(array) == []


def test_a_sequence_batch_counts_as_its_rows_not_its_positions():
    """4 sequences of 40 tags are 4 samples: the tags of one sequence are no independent draws."""
    run = RunInfo(input_sizes={"x": 40})
    x = stats(1, 99, 50, 20, count=4 * 40)
    y = stats(0, 3, 1, 1, name="y", role="target", count=4 * 40, integral=True, class_counts=(100, 20, 20, 20))
    assert samples(y, run, (x, y)) == 4
    assert samples(y, RunInfo(), (x, y)) == 160  # no input size known: the labels' count is all there is


# -- class_imbalance ------------------------------------------------------------------------

def imbalance(run: RunInfo, counts: tuple[int, ...]) -> list:
    y = stats(0, len(counts) - 1, 0.5, 1, name="y", role="target", count=sum(counts), integral=True,
              class_counts=counts)
    history = History(run)
    obs = BatchObservation(0, 0, {"loss": 1.0}, (y,))
    history.add_batch(obs)
    return list(ClassImbalance().on_batch(obs, history) or [])


SPARSE_RUN = RunInfo(losses=(LossInfo("sparse_categorical_crossentropy"),))
PADDED = (920, 20, 20, 20, 20)  # 92% padding, tag 0


def test_padding_scored_by_the_loss_is_a_warning():
    [finding] = imbalance(SPARSE_RUN, PADDED)
    assert finding.severity is None and finding.evidence["majority_class"] == 0


def test_padding_under_a_mask_is_info_that_says_the_counts_include_it():
    run = RunInfo(losses=SPARSE_RUN.losses, masked_output=True)
    [finding] = imbalance(run, PADDED)
    assert finding.severity.value == "info" and "mask" in finding.explanation
    assert "a mask on the output" in finding.evidence["handled_by"]


def test_the_class_the_loss_ignores_is_not_counted():
    run = RunInfo(losses=(LossInfo("sparse_categorical_crossentropy", ignore_class=0),))
    assert imbalance(run, PADDED) == []
    assert imbalance(run, (920, 900, 20, 20)) != []  # the scored labels themselves skewed: still reported


def test_a_mask_reaching_the_output_is_a_model_fact():
    def tagger(mask: bool, sequences: bool) -> keras.Model:
        return keras.Sequential([keras.Input((10,), dtype="int32"), L.Embedding(50, 4, mask_zero=mask),
                                 L.LSTM(4, return_sequences=sequences), L.Dense(3)])

    assert model_facts(tagger(True, True)).get("masked_output") is True
    assert "masked_output" not in model_facts(tagger(True, False))  # the LSTM consumes the mask
    assert "masked_output" not in model_facts(tagger(False, True))


# -- a real padded sequence tagger ----------------------------------------------------------

def train(job, log_dir) -> list[dict]:
    keras.utils.set_random_seed(0)
    job.model.fit(job.x, job.y, callbacks=[ScramCallback(str(log_dir))], **job.fit)
    return report_json(log_dir)


def test_a_padded_tagger_without_mask_is_warned_of_the_padding(tmp_path):
    found = train(zoo.padded_tags_without_mask(), tmp_path)
    [warning] = [d for d in found if d["severity"] != "info"]
    assert warning["check"] == "class_imbalance" and warning["evidence"]["majority_class"] == 0
    x, y = zoo.padded_tags()
    share = float((y == 0).mean())
    assert warning["evidence"]["majority_share"] == pytest.approx(share, abs=0.02)
    assert warning["evidence"]["labels_seen"] > len(x)  # every position counted, not one per sequence


def test_a_padded_tagger_with_mask_is_quiet(tmp_path):
    found = train(zoo.padded_tags_with_mask(), tmp_path)
    assert [d["check"] for d in found if d["severity"] != "info"] == []
    assert [d["check"] for d in found if d["severity"] == "info"] == ["class_imbalance"]
