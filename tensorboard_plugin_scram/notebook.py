"""SCRAM's diagnostics as rich output in Jupyter and Colab: a compact HTML table.

Each row shows the severity (icon, colour and word), where the problem was found, the
title and the check id; it expands to the explanation, the suggestion and the snippet.
Every piece of diagnostic text is escaped: diagnostics read back from event files are
untrusted, and even SCRAM's own carry the user's layer names. The HTML needs no script
and no style sheet (inline styles only), so it survives the sanitisers of JupyterLab,
Colab and GitHub's notebook viewer.

Framework-free: no Keras or TensorFlow here.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Iterable, Sequence

from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.report import ICONS, count_summary, found_at

_SEVERITY_COLORS = {Severity.ERROR: "#d93025", Severity.WARNING: "#e37400", Severity.INFO: "#1a73e8"}
_CELL = "padding:2px 8px;text-align:left;vertical-align:top;border-bottom:1px solid rgba(127,127,127,.25)"
_PRE = "margin:4px 0;padding:6px 8px;background:rgba(127,127,127,.12);border-radius:4px;white-space:pre-wrap"
_DIM = "opacity:.7"


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (JupyterLab, Notebook, Colab, VS Code)."""
    if "ipykernel" not in sys.modules:  # neither imports nor starts IPython in a plain script
        return False
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def show(rich: object) -> bool:
    """Displays an object with `_repr_html_` in the running kernel; False where there is none."""
    if not in_notebook():
        return False
    from IPython.display import display

    display(rich)
    return True


def table_html(diagnostics: Sequence[Diagnostic]) -> str:
    """The table of diagnostics, one expandable row each, with a run column when they carry runs."""
    runs = any(getattr(d, "run", None) for d in diagnostics)
    headers = ["severity", *(["run"] if runs else []), "where", "diagnostic (click to expand)", "check"]
    head = "".join(f'<th style="{_CELL}">{name}</th>' for name in headers)
    rows = "".join(_row_html(d, runs) for d in diagnostics)
    return (f'<table class="scram-diagnostics" style="border-collapse:collapse;margin:4px 0">'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")


def summary_html(headline: str, diagnostics: Sequence[Diagnostic], footer: str) -> str:
    """The end-of-fit summary: a headline, the table (when there are diagnostics) and where to see more."""
    table = table_html(diagnostics) if diagnostics else ""
    return (f'<div class="scram-summary"><div><b>SCRAM</b> {_text(headline)}</div>{table}'
            f'<div style="{_DIM}">{_text(footer)}</div></div>')


class RichText:
    """Text that a notebook shows as HTML and everything else as plain text."""

    def __init__(self, text: str, html_text: str) -> None:
        self.text = text
        self.html = html_text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


class DiagnosticList(list):
    """A plain list of diagnostics that a notebook shows as SCRAM's table."""

    def _repr_html_(self) -> str:
        if not self:
            return "<div><b>SCRAM</b>: no diagnostics</div>"
        return f"<div><b>SCRAM</b>: {_text(count_summary(self))}</div>{table_html(self)}"


def _row_html(d: Diagnostic, with_run: bool) -> str:
    color = _SEVERITY_COLORS.get(d.severity, "inherit")
    severity = (f'<td style="{_CELL};white-space:nowrap"><span style="color:{color}" aria-hidden="true">'
                f"{ICONS.get(d.severity, '?')}</span> {_text(d.severity.value)}</td>")
    run = f'<td style="{_CELL}">{_text(getattr(d, "run", ""))}</td>' if with_run else ""
    where = f'<td style="{_CELL};white-space:nowrap">{_text(found_at(d))}</td>'
    details = (f'<td style="{_CELL}"><details><summary style="cursor:pointer">{_text(d.title)}</summary>'
               f"{_details_html(d)}</details></td>")
    check = f'<td style="{_CELL}"><code>{_text(d.check)}</code></td>'
    return f'<tr class="scram-row" data-check="{_text(d.check)}">{severity}{run}{where}{details}{check}</tr>'


def _details_html(d: Diagnostic) -> str:
    parts = [f"<p>{_text(d.explanation)}</p>", f"<p><b>Fix:</b> {_text(d.suggestion)}</p>"]
    if d.snippet:
        parts.append(f'<pre style="{_PRE}"><code>{_text(d.snippet)}</code></pre>')
    refs = _references(d)
    if refs:
        parts.append(f'<div style="{_DIM}">{_text(" · ".join(refs))}</div>')
    return "".join(parts)


def _references(d: Diagnostic) -> Iterable[str]:
    refs = [f"at {d.location}"] if d.location else []
    refs.append(f"confidence {d.confidence.value}")
    if d.doc:
        refs.append(d.doc)
    return refs


def _text(value: object) -> str:
    """Event text as HTML text: never markup."""
    return html.escape(str(value), quote=True)
