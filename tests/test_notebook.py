"""docs/notebook.ipynb executed by a real Jupyter kernel, its outputs asserted; the HTML summary in Chromium.

The kernel is this test's own Python (the project's virtual environment), named by a
kernel spec written for the test, so neither the machine's Jupyter set-up nor another
`python3` kernel is used. The summary's HTML is rendered in Debian's headless Chromium:
its rows expand, event text stays text, and a screenshot of the cell's output goes to
test-artifacts/notebook-summary.png (docs/notebook-summary.png is a copy).
"""

from __future__ import annotations

import html
import json
import os
import re
import sys

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from tensorboard_plugin_scram.api import read
from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.keras_adapter.console import Console
from tensorboard_plugin_scram.notebook import DiagnosticList, RichText, summary_html, table_html

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "docs", "notebook.ipynb")
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
XSS = "<img src=x onerror=alert(1)>"


def kernel_for_this_python(directory) -> KernelManager:
    """A kernel manager whose only kernel spec runs `sys.executable`."""
    spec = directory / "kernels" / "scram-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "SCRAM tests", "language": "python",
        "env": {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT},
    }))
    specs = KernelSpecManager(kernel_dirs=[str(directory / "kernels")])
    return KernelManager(kernel_name="scram-test", kernel_spec_manager=specs)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook as the kernel left it, and the directory it ran in."""
    work = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, km=kernel_for_this_python(work), timeout=300,
                            resources={"metadata": {"path": str(work)}})
    client.execute()
    return notebook, work


def code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def stream_text(cell, name: str = "stdout") -> str:
    """What the cell printed on a stream, as Jupyter shows it: each line after its last carriage return."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == name)
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    while "\b" in text:
        text = re.sub(r"[^\n]\x08", "", text).replace("\n\x08", "\n")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def html_outputs(cell) -> list[str]:
    return [o["data"]["text/html"] for o in cell.outputs
            if o.output_type in ("display_data", "execute_result") and "text/html" in o.get("data", {})]


@pytest.mark.training
def test_the_notebook_runs_without_an_error(executed):
    notebook, _ = executed
    cells = code_cells(notebook)
    assert len(cells) == 5
    assert [o for cell in cells for o in cell.outputs if o.output_type == "error"] == []
    assert all(cell.execution_count for cell in cells)


@pytest.mark.training
def test_the_fault_prints_its_lines_under_the_bar_and_ends_with_the_html_summary(executed):
    notebook, work = executed
    fault = code_cells(notebook)[1]
    run = [d for d in read(work / "logs") if d.run == "lr_1e10/scram"]
    urgent = [d for d in run if d.severity is not Severity.INFO]
    assert urgent, "the learning rate of 1e10 should be reported"
    lines = stream_text(fault).split("\n")
    printed = [line for line in lines if line.startswith("SCRAM ") and " — scram report logs/lr_1e10" in line]
    assert len(printed) == len(urgent)
    for line, d in zip(printed, urgent, strict=True):
        assert line.endswith(f"{d.title} [{d.check}] — scram report logs/lr_1e10")
    assert any("━" in line for line in lines), "Keras' progress bar"
    summaries = html_outputs(fault)
    assert len(summaries) == 1
    summary = summaries[0]
    assert 'class="scram-summary"' in summary
    assert summary.count('<tr class="scram-row"') == len(run)
    for d in run:
        assert f'data-check="{d.check}"' in summary and html.escape(d.explanation) in summary
    assert "%tensorboard --logdir logs/lr_1e10" in summary
    plain = [o["data"]["text/plain"] for o in fault.outputs if o.output_type == "display_data"]
    assert len(plain) == 1 and plain[0].startswith("SCRAM found ")


@pytest.mark.training
def test_callback_diagnostics_show_as_a_table_and_equal_what_read_gives(executed):
    notebook, work = executed
    cell = code_cells(notebook)[2]
    run = [d for d in read(work / "logs") if d.run == "lr_1e10/scram"]
    result = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert len(result) == 1
    table = result[0]["data"]["text/html"]
    assert table.count('<tr class="scram-row"') == len(run) > 0
    assert re.findall(r'data-check="(\w+)"', table) == [d.check for d in run]
    assert result[0]["data"]["text/plain"].startswith("[Diagnostic(check=")


@pytest.mark.training
def test_the_fixed_run_says_one_line(executed):
    notebook, work = executed
    fixed = code_cells(notebook)[3]
    said = [line for line in stream_text(fixed).split("\n") if "SCRAM" in line]
    assert len(said) == 1
    assert re.fullmatch(r"SCRAM: no issues found \(\d+ checks, SCRAM used [\d.]+% of the training time\)", said[0])
    assert html_outputs(fixed) == []
    assert [d for d in read(work / "logs") if d.run == "lr_1e-3/scram"] == []


@pytest.mark.training
def test_read_in_the_notebook_lists_every_diagnostic(executed):
    notebook, work = executed
    found = read(work / "logs")
    lines = stream_text(code_cells(notebook)[4]).split("\n")
    listed = lines[:len(found)]
    assert len(listed) == len(found) > 0
    for line, d in zip(listed, found, strict=True):
        assert line.split() == [d.run, d.severity.value, "step", str(d.step), d.check]
    errors = [d for d in found if d.severity == "error"]
    assert errors and errors[0].explanation in lines


# -- the HTML on its own ---------------------------------------------------------------

def hostile(**changes) -> Diagnostic:
    fields = dict(check=f"nan_loss{XSS}", severity=Severity.ERROR, title=f"T{XSS}", explanation=f"E{XSS}",
                  suggestion=f"S{XSS}", snippet=f"x = 1  # {XSS}", evidence={}, step=3, epoch=0,
                  location=f"a.py:1{XSS}", doc=f"docs/{XSS}.md")
    return Diagnostic(**{**fields, **changes})


def test_event_text_is_escaped_everywhere():
    markup = summary_html(f"found {XSS}", [hostile()], f"Details: {XSS}") + table_html([hostile()])
    assert "<img" not in markup and markup.count(html.escape(XSS)) >= 2 * 7
    assert "<script" not in markup and "onerror=alert" in markup  # as text only, inside escaped markup


def test_read_and_callback_lists_render_as_the_table():
    assert "scram-diagnostics" in DiagnosticList([hostile()])._repr_html_()
    assert "no diagnostics" in DiagnosticList()._repr_html_()
    rich = RichText("plain", "<b>rich</b>")
    assert repr(rich) == "plain" and rich._repr_html_() == "<b>rich</b>"


@pytest.mark.training  # the console prints through Keras' io_utils, which imports Keras
def test_outside_a_kernel_the_summary_is_plain_text(capsys):
    console = Console("logs", 1, checks=3)
    console.found([hostile(check="nan_loss")], {"verbose": 1}, mid_line=False)
    console.summary({"verbose": 1}, 0.02)
    out = capsys.readouterr().out
    assert "<table" not in out and "SCRAM found 1 error" in out


@pytest.fixture(scope="module")
def notebook_page():
    """A page the size of a notebook's output area (its problems recorded, as the panel's)."""
    pytest.importorskip("playwright.sync_api")
    from tests.browser_helpers import chromium, recording_page

    with chromium() as browser, recording_page(browser, width=900, height=400) as page:
        yield page


def as_jupyter_shows_it(cell) -> str:
    """The cell's output area: its printed text, then its rich output, in Jupyter's fonts."""
    printed = html.escape(stream_text(cell).strip("\n"))
    return ('<!DOCTYPE html><body style="margin:0;padding:12px 16px;color:#212121;background:#fff;'
            'font:13px -apple-system,BlinkMacSystemFont,\'Segoe UI\',Helvetica,Arial,sans-serif">'
            f'<pre style="font:12px/1.4 monospace;margin:0 0 8px">{printed}</pre>'
            f'{"".join(html_outputs(cell))}</body>')


@pytest.mark.browser
@pytest.mark.training
def test_the_summary_rows_expand_in_a_browser(executed, notebook_page):
    notebook, work = executed
    fault = code_cells(notebook)[1]
    notebook_page.set_content(as_jupyter_shows_it(fault))
    rows = notebook_page.locator("tr.scram-row")
    run = [d for d in read(work / "logs") if d.run == "lr_1e10/scram"]
    assert rows.count() == len(run)
    error = next(i for i, d in enumerate(run) if d.severity is Severity.ERROR)
    explanation = notebook_page.get_by_text(run[error].explanation)
    assert not explanation.is_visible()
    rows.nth(error).locator("summary").click()
    assert explanation.is_visible()
    assert rows.nth(error).locator("pre code").inner_text() == run[error].snippet
    os.makedirs(ARTIFACTS, exist_ok=True)
    notebook_page.screenshot(path=os.path.join(ARTIFACTS, "notebook-summary.png"), full_page=True)
    assert notebook_page.problems == []


@pytest.mark.browser
def test_script_bearing_text_stays_text_in_a_browser(notebook_page):
    notebook_page.set_content(summary_html(f"found {XSS}", [hostile()], f"Details: {XSS}"))
    notebook_page.locator("summary").first.click()
    assert notebook_page.locator("img").count() == 0
    assert XSS in notebook_page.locator(".scram-summary").inner_text()
    assert notebook_page.problems == []
