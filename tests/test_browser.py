"""End to end: a real `tensorboard` over real training logs, driven in Debian's headless Chromium.

Screenshots of each view are saved under test-artifacts/ at the repository's root.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.events.writer import ScramSummaryWriter
from tests.browser_helpers import PANEL, no_problems, open_panel, shot
from tests.tensorboard_helpers import TensorBoardProcess

pytestmark = [pytest.mark.browser, pytest.mark.tensorboard]

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def tensorboard(demo_logdir):
    process = TensorBoardProcess(demo_logdir)
    process.wait_for(lambda tb: len(tb.get_json("/data/plugin/scram/runs")[1]["runs"]) == 6)
    yield process
    process.stop()


@pytest.mark.training
def test_run_timeline_card_and_chart(page, tensorboard):
    panel = open_panel(page, tensorboard.url)
    expect(panel.locator("[data-testid=run-item]")).to_have_count(6, timeout=30_000)
    run = panel.locator('[data-testid=run-item][data-run="learning_rate/scram"]')
    _, runs = tensorboard.get_json("/data/plugin/scram/runs")
    errors = {r["run"]: r["counts"]["error"] for r in runs["runs"]}["learning_rate/scram"]
    expect(run.locator("[data-testid=run-counts]")).to_contain_text(f"{errors} errors")
    expect(run.locator("[data-testid=run-overhead]")).to_contain_text("%")
    run.click()
    row = panel.locator('[data-testid=diagnostic][data-check="nan_loss"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("NaN")
    steps = [int(s) for s in panel.locator("[data-testid=diagnostic]").evaluate_all(
        "rows => rows.map(r => r.dataset.step)")]
    assert steps == sorted(steps)
    expect(panel.locator("[data-testid=chart]")).to_be_visible()
    shot(page, "run.png")
    row.click()
    card = panel.locator("[data-testid=diagnostic-card]").first
    expect(card).to_be_visible()
    expect(card.locator("[data-testid=snippet]")).to_contain_text("learning_rate=0.001")
    expect(card.locator("[data-testid=copy-snippet]")).to_be_visible()
    shot(page, "card.png")
    no_problems(page)


@pytest.mark.training
def test_chart_markers_open_their_card(page, tensorboard):
    panel = open_panel(page, tensorboard.url)
    panel.locator('[data-testid=run-item][data-run="normalization/scram"]').click()
    marker = panel.locator("[data-testid=chart-marker]").first
    expect(marker).to_be_visible(timeout=30_000)
    marker.click()
    card = panel.locator("[data-testid=diagnostic-card]").first
    expect(card).to_be_visible()
    expect(card.locator("[data-testid=snippet]")).to_contain_text("/ 255.0")
    shot(page, "chart-marker.png")
    no_problems(page)


@pytest.mark.training
def test_compare_two_runs_shows_what_was_fixed(page, tensorboard):
    panel = open_panel(page, tensorboard.url)
    for name in ("learning_rate/scram", "learning_rate_fixed/scram"):
        panel.locator(f'[data-testid=run-item][data-run="{name}"] [data-testid=run-compare]').check()
    panel.locator("[data-testid=compare-button]").click()
    expect(panel.locator("[data-testid=compare-matrix]")).to_be_visible()
    expect(panel.locator("[data-testid=diff-fixed]")).to_contain_text("nan_loss")
    expect(panel.locator("[data-testid=diff-new]")).not_to_contain_text("nan_loss")
    shot(page, "compare.png")
    no_problems(page)


@pytest.mark.training
def test_filters_and_mute_keep_muted_diagnostics_visible(page, tensorboard):
    panel = open_panel(page, tensorboard.url)
    panel.locator('[data-testid=run-item][data-run="learning_rate/scram"]').click()
    rows = panel.locator("[data-testid=diagnostic]")
    _, body = tensorboard.get_json("/data/plugin/scram/diagnostics?run=learning_rate/scram")
    expect(rows).to_have_count(len(body["diagnostics"]))
    panel.locator("[data-testid=filter-severity-error]").click()
    expect(rows.filter(has=panel.locator(":scope[data-severity=error]"))).to_have_count(0)
    panel.locator("[data-testid=filter-severity-error]").click()
    panel.locator("[data-testid=mute-learning_rate_unusual]").click()
    muted = panel.locator('[data-testid=diagnostic][data-check="learning_rate_unusual"]')
    expect(muted).to_have_count(1)
    expect(muted.locator("[data-testid=muted-badge]")).to_be_visible()
    page.reload()
    panel = page.frame_locator(PANEL)
    panel.locator('[data-testid=run-item][data-run="learning_rate/scram"]').click()
    expect(panel.locator('[data-testid=diagnostic][data-check="learning_rate_unusual"] '
                         "[data-testid=muted-badge]")).to_be_visible()
    no_problems(page)


def write(run_dir: str, *diagnostics: Diagnostic) -> None:
    writer = ScramSummaryWriter(run_dir)
    writer.write_diagnostics(max(d.step for d in diagnostics), diagnostics)
    writer.close()


def test_event_text_is_shown_as_text_never_run(page, tmp_path):
    hostile = Diagnostic(
        check="nan_loss", severity=Severity.ERROR, title=XSS, explanation=XSS, suggestion=XSS,
        snippet=XSS + "</code><script>alert(2)</script>", evidence={XSS: XSS}, step=3, epoch=0,
        location=XSS, doc="javascript:alert(3)",
    )
    write(str(tmp_path / "xss" / "scram"), hostile)
    tensorboard = TensorBoardProcess(str(tmp_path))
    try:
        tensorboard.wait_for(lambda tb: tb.get_json("/data/plugin/scram/runs")[1]["runs"])
        panel = open_panel(page, tensorboard.url)
        panel.locator('[data-testid=run-item][data-run="xss/scram"]').click()
        row = panel.locator("[data-testid=diagnostic]").first
        expect(row).to_contain_text(XSS)
        row.click()
        card = panel.locator("[data-testid=diagnostic-card]").first
        expect(card.locator("[data-testid=snippet]")).to_contain_text("<script>alert(2)</script>")
        frame = page.frame_locator(PANEL).locator("body")
        assert frame.evaluate("b => b.querySelectorAll('img').length") == 0
        assert frame.evaluate("b => [...document.scripts].filter(s => s.textContent.includes('alert')).length") == 0
        assert frame.evaluate("b => [...b.querySelectorAll('a')].filter(a => a.href.startsWith('javascript'))"
                              ".length") == 0
        time.sleep(0.5)  # give a would-be onerror handler the chance to fire
        shot(page, "xss.png")
        no_problems(page)
    finally:
        tensorboard.stop()


def test_live_update_keeps_selection_and_open_card(page, tmp_path):
    run_dir = str(tmp_path / "live" / "scram")
    first = Diagnostic("input_not_normalized", Severity.WARNING, "first", "e", "s", "x = x / 255.0", {}, 0, 0)
    write(run_dir, first)
    write(str(tmp_path / "other" / "scram"), first)
    tensorboard = TensorBoardProcess(str(tmp_path))
    try:
        tensorboard.wait_for(lambda tb: len(tb.get_json("/data/plugin/scram/runs")[1]["runs"]) == 2)
        panel = open_panel(page, tensorboard.url)
        panel.locator('[data-testid=run-item][data-run="live/scram"]').click()
        panel.locator("[data-testid=diagnostic]").first.click()
        expect(panel.locator("[data-testid=diagnostic-card]")).to_have_count(1)
        later = Diagnostic("nan_loss", Severity.ERROR, "second", "e", "s", None, {}, 50, 1)
        write(run_dir, later)
        tensorboard.wait_for(
            lambda tb: len(tb.get_json("/data/plugin/scram/diagnostics?run=live/scram")[1]["diagnostics"]) == 2)
        panel.locator("[data-testid=refresh]").click()
        expect(panel.locator("[data-testid=diagnostic]")).to_have_count(2, timeout=20_000)
        expect(panel.locator("[data-testid=diagnostic-card]")).to_have_count(1)
        expect(panel.locator('[data-testid=run-item][data-run="live/scram"]')).to_have_class(re.compile("selected"))
        no_problems(page)
    finally:
        tensorboard.stop()


def test_empty_state_shows_the_line_to_add(page, tmp_path):
    (tmp_path / "train").mkdir()
    tensorboard = TensorBoardProcess(str(tmp_path))
    try:
        tensorboard.wait_for(lambda tb: tb.get("/data/plugins_listing")[0] == 200)
        page.goto(tensorboard.url + "/data/plugin_entry.html?name=scram")
        empty = page.locator("[data-testid=empty-state]")
        expect(empty).to_contain_text("ScramCallback(log_dir)", timeout=20_000)
        shot(page, "empty.png")
    finally:
        tensorboard.stop()
