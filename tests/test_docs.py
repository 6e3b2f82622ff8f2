"""The per-check documentation pages are generated from the checks and kept in sync."""

from __future__ import annotations

import os

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
