"""When SCRAM looks: the schedules of input statistics and model internals, the loss watch, the step clock."""

from __future__ import annotations

import pytest

from tensorboard_plugin_scram.keras_adapter.sampling import InternalsSchedule, LossWatch, StatsSchedule, StepClock


def test_schedule_first_then_every_then_sooner_when_loss_rises():
    schedule = InternalsSchedule(every=50, first=5, confirm=0, budget=0.05)
    due = []
    for step in range(0, 120):
        loss = 1.0 if step < 100 else 5.0
        if schedule.next_is_due(step, loss):
            due.append(step + 1)
            schedule.sampled(step + 1)
    assert due[:4] == [5, 55, 101, 106]


def test_schedule_confirms_early_then_spaces_by_cost():
    schedule = InternalsSchedule(every=50, first=5, confirm=20, budget=0.01)
    due = []
    for step in range(0, 400):
        if schedule.next_is_due(step, 1.0):
            due.append(step + 1)
            schedule.sampled(step + 1)
            schedule.cost(1.5)  # each measurement takes 1.5 steps' time: 150 steps apart for a 1% budget
    assert due[:4] == [5, 20, 170, 320]
    cheap = InternalsSchedule(every=50, budget=0.01)
    cheap.cost(0.2)
    assert cheap.interval == 50
    costly = InternalsSchedule(every=50, budget=0.01)
    costly.cost(100.0)
    assert costly.interval == 500, "never more than max_every apart"


def test_schedule_follows_steps_per_execution_and_alarms_early():
    schedule = InternalsSchedule(every=50, first=5, confirm=0, budget=0.05)
    due = [s + 4 for s in range(3, 200, 4) if schedule.next_is_due(s, 1.0) and schedule.sampled(s + 4) is None]
    assert due[:2] == [11, 63]
    early = InternalsSchedule(every=50, first=5)
    assert not early.next_is_due(0, 2.0) and early.next_is_due(1, 5.0), "a loss at 2.5x its lowest: look now"


def test_a_nan_loss_brings_no_extra_measurements():
    """Where a NaN came from is measured once, by the monitor's rerun; NaN weights are not worth any more looks."""
    schedule = InternalsSchedule(every=50, first=5)
    assert not schedule.next_is_due(0, 2.0) and not schedule.next_is_due(1, float("nan"))
    assert not any(schedule.next_is_due(step, float("nan")) for step in range(2, 120))
    assert schedule.next_is_due(120, 0.5), "a finite loss again (a new epoch): the overdue measurement comes"


def test_loss_watch_flags_non_finite_and_rising_losses_only():
    watch = LossWatch(factor=2.0)
    seen = [watch.looks_wrong(loss) for loss in (None, 2.0, 1.0, 1.9, 2.1, 0.5, 1.2, float("nan"), float("inf"))]
    assert seen == [False, False, False, False, True, False, True, True, True]
    negative = LossWatch(factor=2.0)  # a loss below zero has no "twice its lowest"
    assert [negative.looks_wrong(loss) for loss in (-1.0, -3.0, 5.0)] == [False, False, False]


def test_stats_schedule_reads_the_first_steps_then_spaces_by_cost():
    schedule = StatsSchedule(every=10, always=20, budget=0.01)
    taken = []
    for step in range(200):
        if schedule.due(step):
            taken.append(step)
            schedule.taken(step)
            schedule.cost(0.35)  # a read costs a third of a step: 35 steps apart for a 1% budget
    assert taken[:20] == list(range(20)) and taken[20:23] == [54, 89, 124]
    assert StatsSchedule(every=10).interval == 10, "cheap reads keep the floor"


def test_step_clock_leaves_out_scram_time():
    clock = StepClock()
    clock.tick(0.0)
    clock.exclude(0.002)
    clock.tick(0.012)  # a 10 ms step, plus 2 ms of SCRAM's own work
    assert clock.seconds == pytest.approx(0.010)
    assert clock.in_steps(0.005) == pytest.approx(0.5)
    assert StepClock().in_steps(1.0) == float("inf")


def test_schedule_looks_closer_while_a_check_suspects_something():
    schedule = InternalsSchedule(every=50, first=5, confirm=20)
    schedule.cost(0.2)  # cheap: spaced by `every`
    due = []
    for step in range(0, 120):
        suspicious = bool(due) and due[-1] == 5  # the first measurement raised a suspicion, the next cleared it
        if schedule.next_is_due(step, 1.0, suspicious):
            due.append(step + 1)
            schedule.sampled(step + 1)
    # Alarm spacing (every // 10) after the suspicion; the measurement at `confirm` still comes,
    # since checks with a warm-up (constant_predictions: 20 steps) ignored the early ones;
    # then the usual spacing.
    assert due[:4] == [5, 10, 20, 70]
