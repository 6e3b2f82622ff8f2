"""The panel at scale (issue #21), in Debian's headless Chromium over a real `tensorboard`.

One generated logdir: a sweep of 1,000 runs (most with a diagnostic or two, 50 with all of 25
checks), three small runs whose first errors come at known steps, and one run of 2,000
diagnostics. The run list and the long timeline are virtual: the tests check that the DOM holds
far fewer rows than there are, and that filtering, sorting, ticking, the keyboard, scrolling,
chart markers and deep links still reach every row. Timings are printed, not asserted
(`python -m bench scale` measures them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
from playwright.sync_api import Page, expect

from bench import scale
from tensorboard_plugin_scram.checks.registry import CATALOGUE
from tensorboard_plugin_scram.diagnostic import Severity
from tests.browser_helpers import PANEL, no_problems, open_panel, shot
from tests.tensorboard_helpers import TensorBoardProcess

pytestmark = [pytest.mark.browser, pytest.mark.tensorboard]

SWEEP = 1000
WIDE_FROM = 950  # sweep runs from here hold all of CHECKS: the compare view's 50 x 25
WORST_SWEEP_RUN = "sweep_0617/scram"  # the sweep run with the most errors
BIG = "big/scram"
BIG_COUNT = 2000
CHECKS = sorted(CATALOGUE)[:25]
SEVERITY_CYCLE = (Severity.ERROR, Severity.WARNING, Severity.INFO)
# Small runs for the first-error order: first error at step 30 (two errors), at step 3, none.
LATE = {"late_a/scram": {30: Severity.ERROR, 31: Severity.ERROR, 2: Severity.WARNING},
        "late_b/scram": {3: Severity.ERROR},
        "late_c/scram": {1: Severity.WARNING}}
RUN_COUNT = SWEEP + 1 + len(LATE)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def found(severities: dict[int, Severity], check_at=lambda step: CHECKS[step % len(CHECKS)]) -> dict:
    """`bench.scale.write_run`'s findings: one diagnostic per step with the given severity."""
    return {step: [scale.diagnostic(check_at(step), sev, step, step // 20)] for step, sev in severities.items()}


def sweep_findings(index: int) -> dict:
    """A third healthy, a third with a warning, a third with an error and a warning; see WIDE_FROM, WORST_SWEEP_RUN."""
    if index >= WIDE_FROM:
        return found({k: SEVERITY_CYCLE[k % 3] for k in range(len(CHECKS))})
    if f"sweep_{index:04d}/scram" == WORST_SWEEP_RUN:
        return found({k: Severity.ERROR for k in range(1, 13)})
    kind = index % 3
    if kind == 0:
        return {}
    if kind == 1:
        return found({index % 37: Severity.WARNING})
    return found({2: Severity.WARNING, 5 + index % 30: Severity.ERROR})


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("scale")
    started = time.perf_counter()
    for index in range(SWEEP):
        scale.write_run(str(root / f"sweep_{index:04d}" / "scram"), 40, 20, sweep_findings(index), seed=index)
    for name, severities in LATE.items():
        scale.write_run(str(root / name), 40, 20, found(severities))
    scale.write_run(str(root / BIG), BIG_COUNT, 100, found({i: SEVERITY_CYCLE[i % 3] for i in range(BIG_COUNT)}))
    print(f"\nwrote {RUN_COUNT} runs in {time.perf_counter() - started:.1f} s")
    return str(root)


@pytest.fixture(scope="module")
def tensorboard(logdir):
    process = TensorBoardProcess(logdir)
    started = time.perf_counter()
    process.wait_for(lambda tb: len(tb.get_json("/data/plugin/scram/runs")[1]["runs"]) == RUN_COUNT, timeout=300)
    print(f"\nTensorBoard loaded {RUN_COUNT} runs in {time.perf_counter() - started:.1f} s")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def summaries(tensorboard) -> dict[str, dict]:
    """The `runs` route's entries by run."""
    _, body = tensorboard.get_json("/data/plugin/scram/runs")
    return {r["run"]: r for r in body["runs"]}


def run_items(panel):
    return panel.locator("[data-testid=run-item]")


def listed_runs(panel) -> list[str]:
    return run_items(panel).evaluate_all("items => items.map(li => li.dataset.run)")


def open_big_panel(page: Page, url: str):
    panel = open_panel(page, url)
    expect(panel.locator(".sidebar-title")).to_have_text(f"Runs ({RUN_COUNT:,})", timeout=60_000)
    return panel


def filter_runs(panel, text: str) -> None:
    panel.locator("[data-testid=run-search]").fill(text)


def scroll_run_list(panel, to: str) -> None:
    """Scrolls the run list to "top", "bottom", or by one screen ("page down", "page up")."""
    panel.locator("[data-testid=run-scroll]").evaluate("""async (el, to) => {
        const page = el.clientHeight * 0.9;
        const targets = { top: 0, bottom: el.scrollHeight, "page down": el.scrollTop + page,
                          "page up": el.scrollTop - page };
        el.scrollTop = targets[to];
        // The list re-renders on the next frame.
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    }""", to)


def test_run_list_of_a_thousand_runs_is_virtual_and_filters_by_regex(page, tensorboard):
    panel = open_big_panel(page, tensorboard.url)
    rendered = run_items(panel).count()
    assert 5 <= rendered <= 100, f"{rendered} run rows in the DOM for {RUN_COUNT} runs"
    shot(page, "scale-runs.png")

    scroll_run_list(panel, "bottom")
    last = panel.locator('[data-testid=run-item][data-run="sweep_0999/scram"]')
    expect(last).to_be_visible()
    assert run_items(panel).count() <= 100
    assert "big/scram" not in listed_runs(panel), "rows scrolled out of view leave the DOM"
    last.locator(".run-select").click()
    expect(last).to_have_class(re.compile("selected"))
    expect(panel.locator(".run-view .run-title")).to_have_text("sweep_0999")

    filter_runs(panel, r"^sweep_06(1|2)7$")
    expect(run_items(panel)).to_have_count(2)
    assert listed_runs(panel) == ["sweep_0617/scram", "sweep_0627/scram"]
    expect(panel.locator(".sidebar-title")).to_have_text(f"Runs (2 of {RUN_COUNT:,})")
    expect(panel.locator("[data-testid=run-filter-error]")).to_be_hidden()

    filter_runs(panel, "0999")
    expect(run_items(panel)).to_have_count(1)
    assert listed_runs(panel) == ["sweep_0999/scram"]

    filter_runs(panel, "sweep_(06")
    expect(panel.locator("[data-testid=run-filter-error]")).to_contain_text("Not a valid regular expression")
    expect(panel.locator("[data-testid=run-no-match]")).to_be_visible()
    expect(run_items(panel)).to_have_count(0)
    filter_runs(panel, "LATE_")
    expect(run_items(panel)).to_have_count(len(LATE))
    expect(panel.locator("[data-testid=run-filter-error]")).to_be_hidden()
    no_problems(page)


def test_sorting_by_severity_puts_the_worst_run_first(page, tensorboard, summaries):
    panel = open_big_panel(page, tensorboard.url)
    panel.locator("[data-testid=run-sort]").select_option("severity")

    def severity(name):
        return tuple(summaries[name]["counts"][s] for s in ("error", "warning", "info"))

    def worst(names):
        return max(names, key=severity)

    expect(run_items(panel).first).to_have_attribute("data-run", worst(summaries))
    assert worst(summaries) == BIG
    filter_runs(panel, "^sweep_")
    expect(run_items(panel).first).to_have_attribute("data-run", WORST_SWEEP_RUN)
    assert worst([n for n in summaries if n.startswith("sweep_")]) == WORST_SWEEP_RUN
    shown = [severity(n) for n in listed_runs(panel)]
    assert len(shown) > 10
    assert shown == sorted(shown, reverse=True), "the rows in view are in severity order"
    panel.locator("[data-testid=run-sort]").select_option("name")
    expect(run_items(panel).first).to_have_attribute("data-run", "sweep_0000/scram")
    no_problems(page)


def test_sorting_by_first_error_step(page, tensorboard, summaries):
    if "first_error_step" not in summaries[BIG]:
        pytest.skip("the runs route has no first_error_step yet (the backend's part of issue #21)")
    panel = open_big_panel(page, tensorboard.url)
    filter_runs(panel, "^late_")
    expect(run_items(panel)).to_have_count(len(LATE))
    assert listed_runs(panel) == sorted(LATE)
    panel.locator("[data-testid=run-sort]").select_option("first-error")
    expect(run_items(panel).first).to_have_attribute("data-run", "late_b/scram")
    assert listed_runs(panel) == ["late_b/scram", "late_a/scram", "late_c/scram"]
    expect(panel.locator('[data-testid=run-item][data-run="late_a/scram"] [data-testid=run-first]')).to_contain_text(
        "first error at step 30")
    no_problems(page)


def focused_run(panel) -> str | None:
    return panel.locator("body").evaluate("() => document.activeElement?.closest('.run-item')?.dataset.run ?? null")


def test_keyboard_moves_through_the_whole_virtual_list(page, tensorboard):
    panel = open_big_panel(page, tensorboard.url)
    run_items(panel).first.locator(".run-select").focus()
    first = focused_run(panel)
    assert first == "big/scram"
    page.keyboard.press("End")
    assert focused_run(panel) == "sweep_0999/scram"
    page.keyboard.press("ArrowUp")
    assert focused_run(panel) == "sweep_0998/scram"
    page.keyboard.press("Enter")
    expect(panel.locator('[data-testid=run-item][data-run="sweep_0998/scram"]')).to_have_class(
        re.compile("selected"))
    page.keyboard.press("Home")
    assert focused_run(panel) == first
    page.keyboard.press("ArrowDown")
    assert focused_run(panel) == "late_a/scram"
    assert run_items(panel).count() <= 100
    no_problems(page)


def tick_runs(panel, wanted: set[str]) -> set[str]:
    """Ticks the `wanted` runs in the whole (virtual) list, screen by screen up from its bottom."""
    ticked: set[str] = set()
    scroll_run_list(panel, "bottom")
    for _ in range(RUN_COUNT):
        for run in sorted(wanted & set(listed_runs(panel)) - ticked):
            panel.locator(f'[data-testid=run-item][data-run="{run}"] [data-testid=run-compare]').check()
            ticked.add(run)
        if ticked == wanted or panel.locator("[data-testid=run-scroll]").evaluate("el => el.scrollTop") == 0:
            break
        scroll_run_list(panel, "page up")
    return ticked


def test_compare_view_with_fifty_runs_by_twenty_five_checks(page, tensorboard, summaries):
    panel = open_big_panel(page, tensorboard.url)
    wide = {run for run in summaries if re.fullmatch(r"sweep_09[5-9]\d/scram", run)}
    assert len(wide) == 50
    assert tick_runs(panel, wide) == wide
    assert run_items(panel).count() <= 100, "ticking 50 runs did not put the whole list in the DOM"
    filter_runs(panel, r"^sweep_09[5-9]\d$")
    expect(panel.locator(".sidebar-title")).to_have_text(f"Runs (50 of {RUN_COUNT:,})")
    expect(panel.locator("[data-testid=run-item] [data-testid=run-compare]:checked")).to_have_count(50)
    expect(panel.locator("[data-testid=compare-button]")).to_have_text("Compare 50 runs")
    panel.locator("[data-testid=refresh]").click()  # a live refresh keeps the ticks
    expect(panel.locator("[data-testid=status]")).to_contain_text("Updated")
    expect(panel.locator("[data-testid=compare-button]")).to_have_text("Compare 50 runs")
    scroll_run_list(panel, "top")
    assert run_items(panel).first.locator("[data-testid=run-compare]").is_checked()

    elapsed = panel.locator("body").evaluate("""async () => {
        const started = performance.now();
        document.querySelector("[data-testid=compare-button]").click();
        while (document.querySelectorAll("[data-testid=compare-matrix] tbody tr").length < 50) {
          await new Promise((r) => requestAnimationFrame(r));
        }
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
        return performance.now() - started;
    }""")
    fetched = panel.locator("body").evaluate(
        "() => performance.getEntriesByType('resource').filter((e) => e.name.includes('/compare?')).pop().duration")
    print(f"\ncompare view, 50 runs x 25 checks: {elapsed:.0f} ms from the click to the matrix painted "
          f"({fetched:.0f} ms of it fetching the compare route)")
    matrix = panel.locator("[data-testid=compare-matrix]")
    expect(matrix.locator("tbody tr")).to_have_count(50)
    expect(matrix.locator("thead th")).to_have_count(1 + len(CHECKS))
    expect(matrix.locator("[data-testid=compare-cell] button")).to_have_count(50 * len(CHECKS))
    rows = matrix.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.run)")
    assert set(rows) == wide
    shot(page, "scale-compare.png")

    last_run, last_check = rows[-1], CHECKS[-1]
    matrix.locator(f'[data-testid=compare-cell][data-run="{last_run}"][data-check="{last_check}"] button').click()
    row = panel.locator(f'[data-testid=diagnostic][data-check="{last_check}"]')
    expect(row).to_be_in_viewport()
    expect(row.locator(".diag-head")).to_have_attribute("aria-expanded", "true")
    expect(panel.locator(".run-view .run-title")).to_have_attribute("title", last_run)
    no_problems(page)


def rendered_steps(panel) -> list[int]:
    return [int(s) for s in panel.locator("[data-testid=diagnostic]").evaluate_all(
        "rows => rows.map(r => r.dataset.step)")]


def assert_contiguous(steps: list[int]) -> None:
    assert steps, "no row rendered"
    assert steps == list(range(steps[0], steps[0] + len(steps))), "the rendered rows are a run of consecutive steps"


def open_big_run(page: Page, tensorboard) -> tuple[object, float]:
    panel = open_big_panel(page, tensorboard.url)
    filter_runs(panel, "^big")
    expect(run_items(panel)).to_have_count(1)
    if panel.locator(".run-view .run-title").get_attribute("title") == BIG:
        filter_runs(panel, "^late_a")  # the panel opened on it: open another run first
        run_items(panel).first.locator(".run-select").click()
        expect(panel.locator(".run-view .run-title")).to_have_attribute("title", "late_a/scram")
        filter_runs(panel, "^big")
    expect(run_items(panel)).to_have_count(1)
    elapsed = panel.locator("body").evaluate("""async (body, run) => {
        const item = [...document.querySelectorAll("[data-testid=run-item]")].find((li) => li.dataset.run === run);
        const started = performance.now();
        item.querySelector(".run-select").click();
        const rows = `[data-testid=timeline][data-run="${run}"] [data-testid=diagnostic]`;
        while (!document.querySelector(rows)) await new Promise((r) => requestAnimationFrame(r));
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
        return performance.now() - started;
    }""", BIG)
    return panel, elapsed


def test_long_timeline_is_virtual_and_deep_cards_are_reachable(page, tensorboard):
    panel, elapsed = open_big_run(page, tensorboard)
    print(f"\ntimeline of {BIG_COUNT:,} diagnostics: {elapsed:.0f} ms from the click to its rows painted")
    expect(panel.locator("[data-testid=rows-summary]")).to_contain_text(f"Showing {BIG_COUNT:,} of {BIG_COUNT:,}")
    steps = rendered_steps(panel)
    assert len(steps) <= 200, f"{len(steps)} rows in the DOM for {BIG_COUNT}"
    assert_contiguous(steps)
    assert steps[0] == 0
    shot(page, "scale-timeline.png")

    frame = page.frame_locator(PANEL).locator("body")
    frame.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    middle = panel.locator("[data-testid=diagnostic]").first
    expect(middle).not_to_have_attribute("data-step", "0")
    steps = rendered_steps(panel)
    assert_contiguous(steps)
    assert 500 < steps[len(steps) // 2] < 1500, steps[len(steps) // 2]

    frame.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    deepest = panel.locator(f'[data-testid=diagnostic][data-step="{BIG_COUNT - 1}"]')
    expect(deepest).to_be_in_viewport()
    deepest.locator(".diag-head").click()
    card = deepest.locator("[data-testid=diagnostic-card]")
    expect(card).to_be_visible()
    expect(card.locator("[data-testid=snippet]")).to_contain_text("Dropout")
    assert_contiguous(rendered_steps(panel))

    frame.evaluate("() => window.scrollTo(0, 0)")  # away and back: the card stays open
    expect(panel.locator('[data-testid=diagnostic][data-step="0"]')).to_be_attached()
    frame.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    expect(deepest.locator(".diag-head")).to_have_attribute("aria-expanded", "true")
    expect(deepest.locator("[data-testid=diagnostic-card]")).to_be_visible()
    no_problems(page)


def test_chart_marker_scrolls_to_a_card_deep_in_a_long_timeline(page, tensorboard):
    panel, _ = open_big_run(page, tensorboard)
    markers = panel.locator("[data-testid=chart-marker]")
    expect(markers.first).to_be_visible(timeout=30_000)
    last = markers.last
    step = int(last.get_attribute("data-step"))
    assert step > 1000, f"the last marker is at step {step}"
    assert panel.locator(f'[data-testid=diagnostic][data-step="{step}"]').count() == 0, "not rendered before"
    last.click()
    row = panel.locator(f'[data-testid=diagnostic][data-step="{step}"]')
    expect(row).to_be_in_viewport()
    expect(row.locator(".diag-head")).to_have_attribute("aria-expanded", "true")
    expect(row.locator(".diag-head")).to_be_focused()
    assert_contiguous(rendered_steps(panel))
    no_problems(page)


def panel_open_ms_in_a_child(url: str, run: str | None) -> dict[str, float]:
    """bench.panel_timing.panel_open_ms, in a process of its own (this one already drives a browser)."""
    code = ("import json, sys; from bench.panel_timing import panel_open_ms; "
            "print(json.dumps(panel_open_ms(sys.argv[1], run=sys.argv[2] or None, repeats=1)))")
    result = subprocess.run([sys.executable, "-c", code, url, run or ""], capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_bench_panel_timing_reads_the_open_times(tensorboard):
    times = panel_open_ms_in_a_child(tensorboard.url, BIG)
    print(f"\npanel_open_ms: {times}")
    assert set(times) == {"runs_list_ms", "panel_runs_list_ms", "timeline_ms"}
    assert all(value > 0 for value in times.values()), times
    assert times["runs_list_ms"] >= times["panel_runs_list_ms"], "the tab's own load comes before the panel's"
    other = panel_open_ms_in_a_child(tensorboard.url, "late_c/scram")  # not the run the panel opens on
    assert set(other) == {"runs_list_ms", "panel_runs_list_ms", "timeline_ms"}
    assert other["timeline_ms"] > 0, other
