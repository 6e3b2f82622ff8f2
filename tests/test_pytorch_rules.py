"""The PyTorch rules on hand-built observations (no torch needed): the fast tier's view of them."""

from __future__ import annotations

from tensorboard_plugin_scram.checks._pytorch_idiom import label_problem, output_problem
from tensorboard_plugin_scram.checks.gradients_accumulating import GradientsAccumulating
from tensorboard_plugin_scram.checks.model_in_eval_mode import ModelInEvalMode
from tensorboard_plugin_scram.checks.output_activation_loss_mismatch import OutputActivationLossMismatch
from tensorboard_plugin_scram.observations import BatchObservation, LoopStats, LossInfo, OutputInfo
from tests.builders import batches, run_info, stats

CROSS_ENTROPY = LossInfo("sparse_categorical_crossentropy", from_logits=True, ignore_class=-100)


def loop_steps(*loops: LoopStats | None) -> list[BatchObservation]:
    return [BatchObservation(step, 0, {"loss": 1.0}, loop=loop) for step, loop in enumerate(loops)]


def test_gradients_accumulating_needs_patience_steps_in_a_row_and_a_reset_ends_the_streak():
    carried = [LoopStats(optimizer_steps=1, grad_carried=True, grad_norm=float(n)) for n in range(1, 4)]
    reset = LoopStats(optimizer_steps=1, grad_carried=False)
    results = batches(GradientsAccumulating(), loop_steps(carried[0], carried[1], reset, *carried))
    assert len(results) == 6
    assert [len(r) if r is not None else None for r in results] == [None, None, 0, None, None, 1]
    assert results[-1][0].evidence["grad_norm_first"] == 1.0 and results[-1][0].evidence["grad_norm_now"] == 3.0


def test_gradients_accumulating_has_nothing_to_judge_on_keras_runs_or_unknown_steps():
    results = batches(GradientsAccumulating(), loop_steps(None, LoopStats(optimizer_steps=1)))
    assert results == [None, None]


def test_model_in_eval_mode_judges_only_steps_where_the_optimizer_stepped():
    idle = LoopStats(optimizer_steps=0, eval_mode_modules=("drop",), mode_dependent_modules=1)
    stepped = LoopStats(optimizer_steps=1, eval_mode_modules=("drop",), mode_dependent_modules=1)
    training = LoopStats(optimizer_steps=1, mode_dependent_modules=1)
    results = batches(ModelInEvalMode(), loop_steps(idle, stepped, training))
    assert results[0] is None and len(results[1]) == 1 and results[2] == []
    assert "'drop'" in results[1][0].explanation


def test_softmax_before_cross_entropy_in_pytorch_terms_and_keras_words_unchanged():
    torch_run = run_info(activation="softmax", loss=CROSS_ENTROPY, framework="pytorch")
    keras_run = run_info(activation="softmax", loss=CROSS_ENTROPY)
    torch_findings = list(OutputActivationLossMismatch().on_train_begin(torch_run))
    keras_findings = list(OutputActivationLossMismatch().on_train_begin(keras_run))
    assert len(torch_findings) == len(keras_findings) == 1
    assert "nn.CrossEntropyLoss" in torch_findings[0].explanation and "keras" not in torch_findings[0].snippet
    assert "from_logits=True" in keras_findings[0].explanation and "keras" in keras_findings[0].snippet


def test_log_softmax_is_no_fault_under_cross_entropy_but_nll_wants_it():
    log_softmax = OutputInfo("head", 10, "log_softmax")
    assert output_problem(log_softmax, CROSS_ENTROPY) is None
    assert output_problem(log_softmax, LossInfo("negative_log_likelihood")) is None
    softmax = OutputInfo("head", 10, "softmax")
    assert output_problem(softmax, LossInfo("negative_log_likelihood")) is not None
    assert output_problem(OutputInfo("head", 10, None), LossInfo("negative_log_likelihood")) is None  # unknown


def test_class_ids_against_output_width_and_ignore_index():
    head = OutputInfo("head", 10, "linear")
    within = stats(0, 9, 4.5, 2.0, name="y", role="target", integral=True)
    beyond = stats(0, 12, 4.5, 2.0, name="y", role="target", integral=True)
    ignored = stats(-100, 9, 4.0, 2.0, name="y", role="target", integral=True)
    negative = stats(-1, 9, 4.0, 2.0, name="y", role="target", integral=True)
    assert label_problem(head, CROSS_ENTROPY, within, 1) is None
    assert label_problem(head, CROSS_ENTROPY, ignored, 1) is None
    assert "IndexError" in label_problem(head, CROSS_ENTROPY, beyond, 1)[1]
    assert "ignore_index=-1" in label_problem(head, CROSS_ENTROPY, negative, 1)[3]
