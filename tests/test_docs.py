"""The per-check documentation pages are generated from the checks and kept in sync."""

from __future__ import annotations

import glob
import os
import re

from tensorboard_plugin_scram.checks import CATALOGUE
from tensorboard_plugin_scram.docs import check_page, with_index_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_check_has_an_up_to_date_page():
    for check_id, cls in CATALOGUE.items():
        path = os.path.join(ROOT, "docs", "checks", f"{check_id}.md")
        with open(path, encoding="utf-8") as handle:
            assert handle.read() == check_page(cls), f"run `scram docs docs/checks` ({check_id})"


def test_every_check_documents_what_why_and_fix():
    for cls in CATALOGUE.values():
        for heading in ("## What it does", "## Why is this bad?", "## Fix"):
            assert heading in cls.doc(), (cls.id, heading)


def test_readme_lists_every_check_in_its_generated_table():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    assert with_index_table(readme) == readme, "run `make docs`"
    for check_id in CATALOGUE:
        assert f"docs/checks/{check_id}.md" in readme


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(c for c in heading.strip().lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def _anchors(path: str) -> set[str]:
    with open(path, encoding="utf-8") as handle:
        text = re.sub(r"```.*?```", "", handle.read(), flags=re.S)  # a `#` in code is no heading
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_relative_links_in_the_readme_and_docs_lead_somewhere():
    pages = [os.path.join(ROOT, "README.md"), *glob.glob(os.path.join(ROOT, "docs", "*.md"))]
    checked = 0
    for page in pages:
        with open(page, encoding="utf-8") as handle:
            text = handle.read()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):  # https:, mailto: ...
                continue
            path, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            assert os.path.exists(resolved), f"{os.path.relpath(page, ROOT)} links to missing {target}"
            if anchor and resolved.endswith(".md"):
                assert anchor in _anchors(resolved), f"{os.path.relpath(page, ROOT)}: no heading for #{anchor}"
            checked += 1
    assert checked > 20, "the pages link to each other"
