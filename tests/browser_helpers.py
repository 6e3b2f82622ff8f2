"""What the browser tests share: Debian's headless Chromium, a page that records its problems, the panel.

The `browser` and `page` fixtures (tests/conftest.py) are built from `chromium` (the bench's own
launcher) and `recording_page`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from playwright.sync_api import Browser, FrameLocator, Page

from bench.panel_timing import PANEL, chromium  # noqa: F401 (the bench's launcher, shared with the tests)

ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts")


@contextlib.contextmanager
def recording_page(browser: Browser, width: int = 1280, height: int = 800) -> Iterator[Page]:
    """A fresh page; `page.problems` collects its script errors, console errors and dialogs."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"pageerror: {error}"))
    page.on("console", lambda msg: msg.type == "error" and page.problems.append(f"console: {msg.text}"))
    page.on("dialog", lambda dialog: (page.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    try:
        yield page
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    """A full-page screenshot under test-artifacts/."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, name), full_page=True)


def open_panel(page: Page, url: str) -> FrameLocator:
    """TensorBoard at `url` with the SCRAM tab open; the panel's frame."""
    page.goto(url + "/#scram")
    return page.frame_locator(PANEL)


def no_problems(page: Page) -> None:
    # favicon 404s are the host page's, not the panel's
    assert [p for p in page.problems if "favicon" not in p] == []
