"""Formats diagnostics for a terminal, like a linter's report."""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Iterable

from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.events.records import RunRecords
from tensorboard_plugin_scram.views import severity_counts

# The severity icons of the report, the console lines and the notebook summary.
ICONS = {Severity.ERROR: "✖", Severity.WARNING: "▲", Severity.INFO: "ℹ"}
_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def count_summary(diagnostics: Iterable[Diagnostic]) -> str:
    """`"1 error, 2 warnings, 0 info"`."""
    diagnostics = list(diagnostics)
    counts = {s: sum(d.severity == s for d in diagnostics) for s in Severity}
    parts = [plural(counts[Severity.ERROR], "error"), plural(counts[Severity.WARNING], "warning")]
    return ", ".join(parts) + f", {counts[Severity.INFO]} info"


def format_report(runs: list[RunRecords], logdir: str, color: bool) -> str:
    """The whole human-readable report."""
    style = _Style(color)
    width = min(shutil.get_terminal_size((100, 24)).columns, 100)
    if not any(r.diagnostics for r in runs):
        found = "SCRAM data but no problems" if runs else "no SCRAM data"
        lines = [f"{style.bold('SCRAM')}: {found} under {logdir}."]
        if not runs:
            lines.append("Add the callback to your training: "
                         "model.fit(..., callbacks=[ScramCallback(log_dir)])")
        return "\n".join(lines + _skipped_notes(runs)) + "\n"
    lines: list[str] = []
    for run in runs:
        if run.diagnostics:
            lines.append(style.bold(run.run) + style.dim(f"  ({count_summary(run.diagnostics)})"))
            for diagnostic in run.diagnostics:
                lines += _format_diagnostic(diagnostic, style, width)
            lines.append("")
    everything = [d for r in runs for d in r.diagnostics]
    with_problems = sum(1 for r in runs if r.diagnostics)
    lines.append(style.bold(f"Found {count_summary(everything)} in {plural(with_problems, 'run')}."))
    return "\n".join(lines + _skipped_notes(runs)) + "\n"


def format_summary(runs: list[RunRecords], logdir: str, color: bool) -> str:
    """One line per run: its counts by severity and its first error (else warning), or "no issues"."""
    if not runs:
        return format_report(runs, logdir, color)
    style = _Style(color)
    width = min(max(len(r.run) for r in runs), 60)
    lines = [f"{r.run:<{width}}  {_summary_cells(r, style)}" for r in runs]
    with_errors = sum(1 for r in runs if _first(r, Severity.ERROR))
    with_warnings = sum(1 for r in runs if _first(r, Severity.WARNING) and not _first(r, Severity.ERROR))
    lines.append(style.bold(f"{plural(len(runs), 'run')}: {with_errors} with errors, {with_warnings} with "
                            f"warnings but no error, {sum(1 for r in runs if not r.diagnostics)} without issues."))
    return "\n".join(lines + _skipped_notes(runs)) + "\n"


def summary_json(run: RunRecords) -> dict:
    """One run's summary as JSON: counts by severity, its first error and first warning (or null)."""
    return {"run": run.run, "counts": severity_counts(run.diagnostics),
            "first_error": _first_json(_first(run, Severity.ERROR)),
            "first_warning": _first_json(_first(run, Severity.WARNING)), "skipped": run.skipped}


def _summary_cells(run: RunRecords, style: _Style) -> str:
    if not run.diagnostics:
        return style.dim("no issues")
    cells = count_summary(run.diagnostics)
    first = _first(run, Severity.ERROR) or _first(run, Severity.WARNING)
    if first is not None:
        cells += f"  {style.severity(first.severity)} first at {found_at(first)}: {first.check}"
    return cells


def _first(run: RunRecords, severity: Severity) -> Diagnostic | None:
    """The run's earliest diagnostic of exactly this severity (diagnostics are ordered by step)."""
    return next((d for d in run.diagnostics if d.severity == severity), None)


def _first_json(d: Diagnostic | None) -> dict | None:
    return None if d is None else {"step": d.step, "epoch": d.epoch, "check": d.check}


def position(d: Diagnostic) -> str:
    """`"step 3 · epoch 0"`, or `"step 0"` for a check made before training."""
    return f"step {d.step}" + (f" · epoch {d.epoch}" if d.epoch is not None else "")


def found_at(d: Diagnostic) -> str:
    """`"step 3 · epoch 0"`, or `"before training"` for a check made before training."""
    return "before training" if d.epoch is None else position(d)


def plural(count: int, word: str) -> str:
    """`"1 error"`, `"2 errors"`."""
    return f"{count} {word}" + ("" if count == 1 else "s")


def _format_diagnostic(d: Diagnostic, style: _Style, width: int) -> list[str]:
    where = position(d)
    check = style.dim(f"[{d.check}]")
    head = f"  {style.severity(d.severity)}  {style.dim(where)}  {style.bold(d.title)}  {check}"
    indent = " " * 6
    lines = [head]
    lines += wrap(d.explanation, width, indent, indent)
    lines += wrap("Fix: " + d.suggestion, width, indent, indent + "     ")
    if d.snippet:
        lines += [indent + style.dim("│ ") + line for line in d.snippet.splitlines()]
    refs = [f"at {d.location}"] if d.location else []
    refs += [f"confidence {d.confidence.value}"]
    if d.doc:
        refs.append(d.doc)
    lines.append(indent + style.dim(" · ".join(refs)))
    return lines


# Hyphens `textwrap` may break at (`textwrap.TextWrapper.wordsep_re`): an em-dash, and a hyphen
# between letters. Its other whitespace (tabs, newlines) is not printable.
_BREAKING_HYPHEN = re.compile(r"--|[^\d\W]-[^\d\W]")


def wrap(text: str, width: int, initial_indent: str, subsequent_indent: str) -> list[str]:
    """`textwrap.wrap(text, width, initial_indent=..., subsequent_indent=...)`: the same lines, faster.

    A report of thousands of diagnostics spent most of its time in `textwrap`, which looks at
    every word. Text that `textwrap` can only break at spaces, with no word or run of spaces
    longer than a line, is broken a line at a time instead, after the last word that fits, as
    `textwrap` breaks it; any other text is left to `textwrap`.
    """
    if not _breaks_only_at_spaces(text, width - max(len(initial_indent), len(subsequent_indent))):
        return textwrap.wrap(text, width, initial_indent=initial_indent, subsequent_indent=subsequent_indent)
    lines, start, stop = [], 0, len(text.rstrip(" "))
    while True:
        indent = subsequent_indent if lines else initial_indent
        end = start + width - len(indent)  # the first column past the line
        if stop <= end:
            return [*lines, indent + text[start:stop]]
        space = text.rfind(" ", start, end + 1)  # a word ending right at `end` still fits
        lines.append(indent + text[start:space].rstrip(" "))
        start = space + 1
        while text[start] == " ":  # the spaces a line starts with are dropped
            start += 1


def _breaks_only_at_spaces(text: str, room: int) -> bool:
    """Whether `textwrap` breaks `text` at spaces only, none of its words and runs of spaces longer than `room`.

    Leading spaces (which `textwrap` keeps on the first line only) are left to it too.
    """
    if room <= 0 or text[:1] in ("", " ") or not text.isprintable() or " " * (room + 1) in text:
        return False
    return max(map(len, text.split(" "))) <= room and not ("-" in text and _BREAKING_HYPHEN.search(text))


def _skipped_notes(runs: list[RunRecords]) -> list[str]:
    return [
        f"note: {plural(r.skipped, 'record')} in run {r.run} could not be read "
        "(corrupt, or written by a newer SCRAM) and were skipped."
        for r in runs
        if r.skipped
    ]


class _Style:
    """ANSI styling that is a no-op when colour is off."""

    def __init__(self, color: bool) -> None:
        self._color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self._color else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def severity(self, severity: Severity) -> str:
        return self._wrap(_COLORS[severity], f"{ICONS[severity]} {severity.value:<7}")
