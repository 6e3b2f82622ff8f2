"""The engine: episodes, de-duplication, and checks that fail."""

from __future__ import annotations

import pytest

from tensorboard_plugin_scram.checks import BatchObservation, Check, Finding, RunInfo, Severity, build_checks
from tensorboard_plugin_scram.engine import Engine


class LossAbove(Check):
    id = "loss_above"
    title = "Loss above limit"
    severity = Severity.WARNING
    thresholds = {"limit": 1.0}

    def on_batch(self, obs, history):
        loss = obs.logs.get("loss")
        if loss is None:
            return None
        return [Finding(self.title, f"loss {loss}", "lower it")] if loss > self.threshold("limit") else []


class Exploding(Check):
    id = "exploding"
    title = "boom"

    def on_batch(self, obs, history):
        raise ZeroDivisionError("boom")


def feed(engine: Engine, losses: list[float | None]) -> list[int]:
    """Steps at which a diagnostic was emitted."""
    steps = []
    for step, loss in enumerate(losses):
        logs = {} if loss is None else {"loss": loss}
        steps += [d.step for d in engine.batch(BatchObservation(step, 0, logs))]
    return steps


def test_a_persisting_condition_is_reported_once_per_episode():
    engine = Engine([LossAbove()])
    assert feed(engine, [2, 2, 2, 0.5, 0.5, 3, 3]) == [0, 5]


def test_no_opinion_keeps_the_episode_open():
    engine = Engine([LossAbove()])
    assert feed(engine, [2, None, None, 2, 2]) == [0]


class CountsModelBatches(Check):
    id = "counts_model_batches"
    title = "model seen"
    batch_needs = frozenset({"model"})

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def on_batch(self, obs, history):
        self.calls += 1
        return [Finding(self.title, "seen", "nothing")]


def test_a_check_is_skipped_on_batches_without_what_it_needs():
    from tensorboard_plugin_scram.observations import ModelStats

    check = CountsModelBatches()
    engine = Engine([check, LossAbove()])
    stats = ModelStats(layers=())
    measured = [engine.batch(BatchObservation(s, 0, {"loss": 0.1}, model=stats if s in (2, 5) else None))
                for s in range(8)]
    assert check.calls == 2
    # Skipped batches count as "no opinion": the episode opened at step 2 stays open.
    assert [step for step, found in enumerate(measured) if found] == [2]


class DeclaresTuple(CountsModelBatches):
    id = "declares_tuple"
    batch_needs = ("model",)


def test_batch_needs_may_be_any_collection_of_names_and_typos_are_refused():
    check = DeclaresTuple()
    engine = Engine([check, LossAbove()])
    assert feed(engine, [2.0, 0.5]) == [0], "the other checks keep running"
    assert check.calls == 0
    build_checks(extra_checks=[DeclaresTuple()])
    typo = DeclaresTuple()
    typo.batch_needs = {"tensor"}
    with pytest.raises(ValueError, match="batch_needs 'tensor'"):
        build_checks(extra_checks=[typo])


def test_a_failing_check_is_reported_once_and_switched_off():
    errors = []
    engine = Engine([Exploding(), LossAbove()], on_error=lambda where, e: errors.append(where))
    first = engine.batch(BatchObservation(0, 0, {"loss": 2.0}))
    assert [d.check for d in first] == ["scram_internal_error", "loss_above"]
    assert first[0].severity == Severity.INFO
    assert first[0].evidence["exception"] == "ZeroDivisionError"
    assert engine.batch(BatchObservation(1, 0, {"loss": 2.0})) == []
    assert errors == ["check 'exploding'"]


def test_static_findings_are_reported_once_across_fit_calls():
    class Static(Check):
        id = "static"
        title = "static"

        def on_train_begin(self, run):
            return [Finding("t", "e", "s")]

    engine = Engine([Static()])
    assert len(engine.begin(RunInfo(), 0)) == 1
    assert engine.begin(RunInfo(), 100) == []


def test_diagnostics_carry_step_epoch_doc_and_defaults():
    [d] = Engine([LossAbove()]).batch(BatchObservation(7, 2, {"loss": 5.0}))
    assert (d.step, d.epoch, d.check, d.severity, d.doc) == (7, 2, "loss_above", Severity.WARNING,
                                                            "docs/checks/loss_above.md")


def test_build_checks_disables_and_configures():
    thresholds = {"nan_loss": {}, "input_not_normalized": {"raw_limit": 9}}
    checks = build_checks(disable=["overfitting"], thresholds=thresholds)
    ids = [c.id for c in checks]
    assert "overfitting" not in ids and "nan_loss" in ids
    [inn] = [c for c in checks if c.id == "input_not_normalized"]
    assert inn.threshold("raw_limit") == 9


@pytest.mark.parametrize(
    "kwargs",
    [{"disable": ["nan_los"]}, {"thresholds": {"overfiting": {}}}, {"thresholds": {"overfitting": {"x": 1}}}],
)
def test_build_checks_refuses_typos(kwargs):
    with pytest.raises(ValueError):
        build_checks(**kwargs)


def test_build_checks_adds_user_checks_and_refuses_duplicate_ids():
    assert build_checks(extra_checks=[LossAbove()])[-1].id == "loss_above"
    with pytest.raises(ValueError, match="share an id"):
        build_checks(extra_checks=[LossAbove(), LossAbove()])


class Suspicious(Check):
    id = "suspicious"

    def __init__(self, answer):
        super().__init__()
        self.answer = answer

    def suspects(self):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def on_batch(self, obs, history):
        return None


def test_the_engine_suspects_what_any_batch_check_suspects():
    assert not Engine([Suspicious(False)]).suspects()
    assert Engine([Suspicious(False), Suspicious(True)]).suspects()
    assert not Engine([Suspicious(ValueError("a hint only"))]).suspects(), "a failing hint is no suspicion"
