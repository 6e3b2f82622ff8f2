"""How long TensorBoard's SCRAM tab takes to open, in Debian's headless Chromium (Playwright).

`panel_open_ms(base_url, run)` opens `base_url/?darkMode=false#scram` in a fresh browser context
per repeat and reads the times from inside the page: a script installed before any of the panel's
own records, with `performance.now()`, when the first run row is in the DOM and when each run's
timeline first holds rows. Times are read in the page, so Playwright's own polling adds nothing.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"
PANEL = 'iframe[src*="plugin_entry.html?name=scram"]'
TIMEOUT_MS = 120_000

# Runs in every frame before its scripts; only the panel's frame records. A MutationObserver's
# callback runs once the panel's synchronous rendering is done, so a render that blocks is counted.
_RECORDER = """
(() => {
  if (!location.pathname.endsWith("plugin_entry.html")) return;
  const marks = (window.__scramMarks = { runsList: null, timelines: {} });
  const note = () => {
    if (marks.runsList === null && document.querySelector("[data-testid=run-item]")) marks.runsList = performance.now();
    for (const list of document.querySelectorAll("[data-testid=timeline]")) {
      const run = list.dataset.run;
      if (!run || run in marks.timelines) continue;
      const rows = list.querySelector("[data-testid=diagnostic]");
      if (rows || document.querySelector("[data-testid=no-diagnostics]")) marks.timelines[run] = performance.now();
    }
  };
  new MutationObserver(note).observe(document, { childList: true, subtree: true });
})();
"""


def panel_open_ms(base_url: str, run: str | None = None, repeats: int = 3) -> dict[str, float]:
    """Median milliseconds over `repeats` fresh opens of the SCRAM tab.

    - `runs_list_ms`: from navigating to the tab until the panel lists its first run (TensorBoard's
      own page load included);
    - `panel_runs_list_ms`: the same end, counted from the start of the panel's frame (the panel's
      part alone: its bundle, the `runs` route and the first render);
    - `timeline_ms` (when `run` is given): from choosing `run` until its timeline holds rows, fetching
      its diagnostics included. The run is clicked in the list; when the panel opened on that run
      (the first with an error), it was chosen when the list was rendered, and that is the start.
    """
    samples: dict[str, list[float]] = {}
    with chromium() as browser:
        for _ in range(repeats):
            for key, value in _open_once(browser, base_url, run).items():
                samples.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in samples.items()}


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's headless Chromium through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is needed: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            yield browser
        finally:
            browser.close()


def _open_once(browser, base_url: str, run: str | None) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.add_init_script(_RECORDER)
        page.goto(base_url.rstrip("/") + "/?darkMode=false#scram")
        frame = page.wait_for_selector(PANEL, timeout=TIMEOUT_MS).content_frame()
        frame.wait_for_function("() => window.__scramMarks && window.__scramMarks.runsList !== null",
                                timeout=TIMEOUT_MS)
        top_origin = page.evaluate("performance.timeOrigin")
        frame_origin, runs_list = frame.evaluate("[performance.timeOrigin, window.__scramMarks.runsList]")
        times = {"runs_list_ms": frame_origin + runs_list - top_origin, "panel_runs_list_ms": runs_list}
        if run is not None:
            times["timeline_ms"] = _timeline_ms(frame, run, runs_list)
        return times
    finally:
        context.close()


def _timeline_ms(frame, run: str, runs_list_at: float) -> float:
    """Milliseconds from choosing `run` to its timeline holding rows (see panel_open_ms)."""
    frame.wait_for_selector(".run-view .run-title", timeout=TIMEOUT_MS)
    if frame.evaluate("document.querySelector('.run-view .run-title').title") == run:
        chosen_at = runs_list_at  # the panel opened on this run
    else:
        _bring_into_list(frame, run)
        chosen_at = frame.evaluate(
            """run => {
                 const items = [...document.querySelectorAll("[data-testid=run-item]")];
                 const item = items.find(li => li.dataset.run === run);
                 const at = performance.now();
                 item.querySelector(".run-select").click();
                 return at;
               }""", run)
    shown = f"() => window.__scramMarks.timelines[{json.dumps(run)}] !== undefined"
    frame.wait_for_function(shown, timeout=TIMEOUT_MS)
    return frame.evaluate(f"window.__scramMarks.timelines[{json.dumps(run)}]") - chosen_at


def _bring_into_list(frame, run: str) -> None:
    """Filters the run list down to `run` (a long list only holds the rows in view)."""
    search = frame.locator("[data-testid=run-search]")
    if search.is_visible():
        search.fill("^" + re.escape(run) + "$")
    frame.wait_for_selector(f"[data-testid=run-item][data-run={json.dumps(run)}]", timeout=TIMEOUT_MS)
