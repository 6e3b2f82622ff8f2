"""The benchmark runner works: two real scenarios, scored and rendered (never timed)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench import detection, report, zoo

pytestmark = pytest.mark.training


def test_zoo_covers_the_catalogue_with_healthy_runs_beside():
    scenarios = zoo.select()
    assert len(scenarios) >= 25
    assert len([s for s in scenarios if s.healthy]) >= 6
    expected = set().union(*(s.expected for s in scenarios))
    assert set(zoo.CATALOGUE) <= expected
    assert all(s.kind in ("static", "batch", "epoch") for s in scenarios if not s.healthy)


@pytest.fixture(scope="module")
def results() -> dict:
    return detection.run(["paper_lr_1e10_text", "paper_unnormalized_pixels"], progress=lambda line: None)


def scenario(results: dict, name: str) -> dict:
    return next(s for s in results["scenarios"] if s["name"] == name)


def test_nan_scenario_is_caught_by_scram_and_both_baselines_at_the_nan_batch(results):
    lr = scenario(results, "paper_lr_1e10_text")
    nan_only = lr["detectors"]["nan_only"]
    assert nan_only["detected"] and nan_only["first"]["check"] == "nan_loss"
    assert lr["detectors"]["scram"]["detected"]
    nan_step = nan_only["first"]["step"]
    scram_nan = [a["step"] for a in lr["detectors"]["scram"]["alarms"] if a["check"] == "nan_loss"]
    assert scram_nan == [nan_step]
    # The paper's literal range rule fires on the integer token ids of the embedding model.
    assert "input_not_normalized" in lr["detectors"]["paper_rules"]["off_target"]


def test_unnormalised_pixels_are_found_in_the_first_batch(results):
    pixels = scenario(results, "paper_unnormalized_pixels")
    scram = pixels["detectors"]["scram"]
    assert scram["detected"] and scram["first"]["check"] == "input_not_normalized"
    assert scram["delay"] == 0
    paper = pixels["detectors"]["paper_rules"]
    assert paper["detected"] and paper["first"]["step"] == 0
    assert not pixels["detectors"]["nan_only"]["alarms"]


def test_summary_and_report(results):
    scram = next(s for s in results["summary"] if s["detector"] == "scram")
    assert (scram["faulty"], scram["detected"], scram["recall"]) == (2, 2, 1.0)
    text = report.render({"machine": {"cores": 2, "cpu": "cpu", "memory_gib": 1, "os": "os", "date": "d",
                                      "python": "3", "versions": {}, "commit": "c"}, "zoo": results})
    assert "paper_lr_1e10_text" in text and "| SCRAM | 2/2 = 1.00 | " in text
    correct, raised = scram["correct_alarms"], scram["correct_alarms"] + scram["false_alarms"]
    assert raised >= 2 and f"| SCRAM | 2/2 = 1.00 | {correct}/{raised} = {correct / raised:.2f} |" in text


@pytest.mark.parametrize("config", ["plain", "scram"])
def test_a_timed_fit_splits_off_the_data_wait_between_epochs(config):
    """`net` is the total less the iterator work between epochs; SCRAM's own share is counted."""
    from bench import data, models, overhead

    x, y = data.tabular(256, 8, 3)
    workload = overhead.Workload("tiny", "tiny MLP", lambda: models.compiled(models.mlp(8, (16,), 3)), x, y, epochs=2)
    times = overhead.time_fit(workload, config, epochs=2)
    assert 0 <= times["data_wait"] < times["total"]
    assert times["net"] == pytest.approx(times["total"] - times["data_wait"])
    assert 0 < times["steady"] < times["total"]
    assert (times["scram_own"] > 0) == (config == "scram")
    summary = overhead.summarize({"plain": {k: [v] for k, v in times.items()},
                                  config: {k: [v] for k, v in times.items()}})
    assert summary[config]["ratio_net"] == pytest.approx(1.0)
    row = report.overhead_section({"seconds": 1.0, "workloads": [
        {"workload": "tiny", "description": "tiny MLP", "epochs": 2, "steps_per_fit": 16, "repeats": 1,
         "configs": summary}]})
    assert "ratio net" in row and "data wait (s)" in row


def test_the_median_interval_brackets_the_median_and_narrows_with_repeats():
    from bench import overhead

    rng = np.random.default_rng(1)
    few, many = (list(1.04 + 0.2 * rng.standard_normal(n)) for n in (11, 400))
    low, high = overhead.median_interval(few)
    assert min(few) <= low <= np.median(few) <= high <= max(few)
    narrow = overhead.median_interval(many)
    assert narrow[1] - narrow[0] < (high - low) / 2 and narrow[0] < 1.04 < narrow[1]


def test_the_one_off_cost_per_fit_comes_from_two_fit_lengths():
    """Own time 0.08 s + 0.2 ms a step at 150 and 768 steps gives back those two costs."""
    from bench import overhead

    results = [{"workload": name, "steps_per_fit": steps, "configs": {"scram": {"scram_own_s": 0.08 + 2e-4 * steps}}}
               for name, steps in (("cnn", 768), ("cnn_short", 150))]
    one_off = overhead.one_off_cost(results)
    assert one_off["one_off_s"] == pytest.approx(0.08) and one_off["per_step_s"] == pytest.approx(2e-4)
    assert overhead.one_off_cost(results[:1]) is None, "one length alone cannot split the two"
    text = report.one_off_paragraph(one_off)
    assert "80 ms" in text and "200 µs per step" in text and "150 steps" in text
    assert {w.name: w.epochs * len(w.x) // w.batch_size for w in overhead.workloads(False)}["cnn_short"] == 150


def test_the_pytorch_zoo_section_counts_recall_off_target_alarms_and_false_alarms():
    def run(scenario, faulty, alarms, found=False, off_target=(), seed=0):
        return {"scenario": scenario, "faulty": faulty, "alarms": list(alarms), "found": found,
                "off_target": list(off_target), "seed": seed, "seconds": 1.0}

    runs = [run("nan", True, ["nan_loss"], found=True),
            run("softmax_ce", True, ["nan_loss", "dead_relu"], found=True, off_target=["dead_relu"]),
            run("eval_mode", True, []),
            *(run("mlp", False, [], seed=s) for s in (0, 1)),
            run("cnn", False, [], seed=0), run("cnn", False, ["overfitting"], seed=1)]
    text = report.pytorch_section(runs)
    assert "| PyTorch (ScramMonitor / Lightning) | 2/3 = 0.67 | 1/2 | 1/4 | eval_mode | 7 |" in text
    assert "| softmax_ce | faulty | ✔ found; raised: nan_loss; off-target: dead_relu |" in text
    assert "| eval_mode | faulty | ✘ missed |" in text
    assert "| mlp | healthy | quiet (seeds 0, 1) |" in text and "| cnn | healthy | ⚠ seed 1: overfitting |" in text


def test_overhead_workloads_can_be_chosen_by_name():
    from bench import __main__ as cli
    from bench import overhead

    assert [w.name for w in overhead.selected(True, ["mlp", "cnn"])] == ["cnn", "mlp"]
    assert len(overhead.selected(True)) == len(overhead.workloads(True)) == 4
    with pytest.raises(ValueError, match="unknown workload"):
        overhead.selected(True, ["cnn", "resnet"])
    assert cli.parse(["overhead", "--workloads", "cnn"]).workloads == ["cnn"]


def test_the_healthy_sweep_trains_a_setup_and_reports_its_alarms():
    from bench import sweep

    names = [s.name for s in sweep.SETUPS]
    assert len(names) == len(set(names)) >= 25 and set(sweep.QUICK) <= set(names)
    setup = next(s for s in sweep.SETUPS if s.name == "cosine_warmup")
    run = sweep.run_setup(setup, seed=0)
    assert run["seed"] == 0 and run["final"]["accuracy"] > 0.5 and run["alarms"] == []
    # A setup that tolerates a check marks its alarms as tolerated; any other alarm is a false one.
    fake = {"seeds": [0], "setups": [
        {"name": "a", "description": "d", "tolerated": ["overfitting"], "runs": [
            {"seed": 0, "seconds": 1.0, "final": {}, "alarms": [
                {"check": "overfitting", "severity": "warning", "step": 9, "tolerated": True}]}]},
        {"name": "b", "description": "d", "tolerated": [], "runs": [
            {"seed": 0, "seconds": 1.0, "final": {}, "alarms": [
                {"check": "dead_relu", "severity": "warning", "step": 20, "tolerated": False}]}]}]}
    text = report.sweep_section(fake)
    assert "false alarm: 1 of 2" in text and "⚠ dead_relu @20" in text and "overfitting @9 (tolerated)" in text


def _run(name: str, expected: tuple[str, ...], raised: dict[str, str], tolerated: tuple[str, ...] = ()):
    from bench.detectors import Alarm
    from bench.runner import ScenarioRun
    from bench.zoo.registry import Scenario, Trace

    scenario_ = Scenario(name, name, build=lambda: None, expected=frozenset(expected),
                         kind="static" if expected else "healthy", tolerated=frozenset(tolerated))
    alarms = [Alarm(check, severity, 0, 0) for check, severity in raised.items()]
    return ScenarioRun(scenario_, {"scram": alarms}, Trace([], []), 0.0)


def test_precision_counts_false_alarms_on_healthy_twins_and_off_target_but_not_tolerated_or_info():
    from bench import scoring

    runs = [
        _run("fault", ("nan_loss",), {"nan_loss": "error", "loss_diverging": "warning"}),
        _run("fault_tolerated", ("nan_loss",), {"nan_loss": "error", "input_contains_nan": "error"},
             tolerated=("input_contains_nan",)),
        _run("fixed_twin", (), {"nan_loss": "warning", "overfitting": "info"}),
        _run("missed", ("nan_loss",), {}),
    ]
    summary = scoring.summarize(runs, "scram")
    assert (summary.correct_alarms, summary.false_alarms) == (2, 2)
    assert summary.precision == 0.5 and summary.recall == 2 / 3
    by_check = {c.check: c for c in scoring.coverage(runs)}
    nan = by_check["nan_loss"]
    assert nan.raised_in == ("fault", "fault_tolerated") and nan.false_in == ("fixed_twin",)
    assert nan.precision == 2 / 3 and nan.recall == 2 / 3
    assert by_check["loss_diverging"].precision == 0.0
    assert by_check["overfitting"].precision is None  # info only: never raised as an alarm
    assert by_check["input_contains_nan"].false_in == ()


def test_a_program_written_for_another_backend_is_listed_as_not_run_not_missed():
    from bench.zoo.registry import REGISTRY

    gan = REGISTRY["gan_generator_never_updated"]
    assert gan.backends == frozenset({"tensorflow"}) and gan.runs_here  # the tests run on TensorFlow
    elsewhere = dataclasses.replace(gan, backends=frozenset({"jax"}))
    REGISTRY[gan.name] = elsewhere
    try:
        results = detection.run([gan.name], progress=lambda line: None)
    finally:
        REGISTRY[gan.name] = gan
    assert results["scenarios"] == [] and results["not_run"][0]["name"] == gan.name
    scram = next(s for s in results["summary"] if s["detector"] == "scram")
    assert scram["faulty"] == 0  # neither detected nor missed
    text = report.backends_section({"zoo": results})
    assert f"| {gan.name} |" in text


def test_the_backends_table_gives_each_backends_cost_or_says_not_run():
    zoo = detection.run(["healthy_mlp_digits"], progress=lambda line: None)
    overhead = {"workloads": [{"workload": "cnn", "configs": {
        "scram": {"ratio_total": 1.0591, "scram_own_share": 0.0343}}}]}
    text = report.backends_section({"zoo": zoo, "zoo_jax": zoo, "overhead_jax": overhead})
    tensorflow, jax = (line for line in text.splitlines() if line.startswith(("| tensorflow", "| jax")))
    assert "1.059x (own 3.4%)" in jax and "1.059x" not in tensorflow
    assert "not run" in tensorflow
