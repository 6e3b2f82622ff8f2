"""SCRAM in the console: a line per new error or warning under Keras' progress bar, a summary after `fit()`.

The real part runs `python tests/scripts/console_fit.py LOGDIR` as a user runs a script (a
progress bar on stdout) and reads its captured stdout byte for byte: Keras' bar redraws
itself with carriage returns and backspaces, so a SCRAM line glued to the bar would show
here as text before "SCRAM" on the same line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tensorboard_plugin_scram.api import read
from tensorboard_plugin_scram.checks import build_checks
from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.keras_adapter.console import Console, alert_line, summary_headline, summary_text
from tests.builders import report_json

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts", "console_fit.py")
ALERT = re.compile(r"^SCRAM ([✖▲]) (before training|step \d+): (.+) \[(\w+)\] — scram report (\S+)$")
HEADLINE = re.compile(r"^SCRAM found (\d+) errors?, (\d+) warnings?, (\d+) info "
                      r"\((\d+) checks, SCRAM used ([\d.]+)% of the training time\):$")
ALL_CLEAR = re.compile(r"^SCRAM: no issues found \((\d+) checks, SCRAM used ([\d.]+)% of the training time\)$")
BAR = "━"


@pytest.fixture(scope="module")
def console_run(tmp_path_factory):
    """Each case's stdout lines (split on newlines only, as a terminal shows them) and its logdir."""
    root = tmp_path_factory.mktemp("console")
    result = subprocess.run([sys.executable, SCRIPT, str(root)], capture_output=True, timeout=600,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    stdout = result.stdout.decode("utf-8")  # bytes: text mode would turn the bar's \r into line breaks
    cases = {}
    for chunk in stdout.split("=== CASE ")[1:]:
        name, _, body = chunk.partition(" ===\n")
        cases[name] = body.split("\n")
    return root, cases


def case_output(console_run, name: str) -> tuple[list[str], list[dict], str]:
    """The case's printed lines, the callback's diagnostics and its logdir."""
    root, cases = console_run
    lines = cases[name]
    found = [line for line in lines if line.startswith("DIAGNOSTICS ")]
    assert len(found) == 1, name
    return [line for line in lines if not line.startswith("DIAGNOSTICS ")], json.loads(found[0][12:]), str(root / name)


def alerts(lines: list[str]) -> list[re.Match]:
    return [m for m in (ALERT.match(line) for line in lines) if m]


def scram_lines(lines: list[str]) -> list[str]:
    """The lines holding an alert or a summary's first line, wherever on the line they start."""
    return [line for line in lines if re.search(r"SCRAM( [✖▲ℹ] | found |: )", line)]


@pytest.mark.training
def test_each_new_error_or_warning_prints_once_on_its_own_line(console_run):
    lines, diagnostics, logdir = case_output(console_run, "fault")
    written = [d for d in report_json(logdir) if d["severity"] != "info"]
    assert written, "the learning rate of 1e10 should be reported"
    printed = alerts(lines)
    assert len(printed) == len(written)
    assert [m.group(4) for m in printed] == [d["check"] for d in written]
    for match, d in zip(printed, written, strict=True):
        assert match.group(1) == ("✖" if d["severity"] == "error" else "▲")
        assert match.group(3) == d["title"]
        assert match.group(5) == logdir
        assert match.group(2) == ("before training" if d["epoch"] is None else f"step {d['step']}")
    # Not glued: every line that mentions SCRAM starts with it, none holds a piece of the bar.
    assert all(line.startswith("SCRAM") and BAR not in line and "\r" not in line for line in scram_lines(lines))
    # One alert came mid-epoch, right under a partly drawn bar, and no blank line was added.
    mid_epoch = [i for i, line in enumerate(lines) if ALERT.match(line) and i and BAR in lines[i - 1]]
    assert mid_epoch
    assert "" not in [line.strip("\b") for line in lines[:-1]]


@pytest.mark.training
def test_the_summary_counts_and_lists_this_fits_diagnostics(console_run):
    lines, diagnostics, logdir = case_output(console_run, "fault")
    written = report_json(logdir)
    starts = [i for i, line in enumerate(lines) if HEADLINE.match(line)]
    assert len(starts) == 1
    head = HEADLINE.match(lines[starts[0]])
    counts = [sum(d["severity"] == s.value for d in written) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)]
    assert [int(head.group(n)) for n in (1, 2, 3)] == counts
    assert int(head.group(4)) == len(build_checks())
    assert 0.0 < float(head.group(5)) < 100.0
    rows = lines[starts[0] + 1: starts[0] + 1 + len(written)]
    assert len(rows) == len(written)
    for row, d in zip(rows, written, strict=True):
        assert row.startswith(f"  {'✖' if d['severity'] == 'error' else '▲' if d['severity'] == 'warning' else 'ℹ'} ")
        assert row.endswith(f"{d['title']}  [{d['check']}]")
    footer = lines[starts[0] + 1 + len(written)]
    assert f"scram report {logdir}" in footer and f"tensorboard --logdir {logdir}" in footer and "SCRAM tab" in footer


@pytest.mark.training
def test_a_healthy_fit_ends_with_one_line(console_run):
    lines, diagnostics, logdir = case_output(console_run, "healthy")
    assert report_json(logdir) == [] and diagnostics == []
    assert BAR in "".join(lines)
    said = scram_lines(lines)
    assert len(said) == 1
    match = ALL_CLEAR.match(said[0])
    assert match and int(match.group(1)) == len(build_checks())
    assert 0.0 < float(match.group(2)) < 100.0


@pytest.mark.training
def test_fit_verbose_0_silences_scram_and_scram_verbose_overrides(console_run):
    silent_fit, found, logdir = case_output(console_run, "fit_silent")
    assert found and report_json(logdir), "the fault is still found and written"
    assert scram_lines(silent_fit) == [] and BAR not in "".join(silent_fit)
    silent_scram, found, _ = case_output(console_run, "scram_silent")
    assert found and scram_lines(silent_scram) == [] and BAR in "".join(silent_scram)
    loud, found, _ = case_output(console_run, "scram_loud")
    assert BAR not in "".join(loud)
    assert len(alerts(loud)) == sum(d["severity"] != "info" for d in found) > 0
    assert sum(bool(HEADLINE.match(line)) for line in loud) == 1


@pytest.mark.training
def test_one_batch_epochs_print_at_an_epochs_first_batch_and_at_its_end(console_run):
    lines, found, logdir = case_output(console_run, "one_batch")
    printed = alerts(lines)
    assert len(printed) == sum(d["severity"] != "info" for d in report_json(logdir))
    index = {m.group(4): lines.index(m.group(0)) for m in printed}
    # At an epoch's end the bar's line is open: the alert starts below it.
    assert BAR in lines[index["first_epoch_end"] - 1]
    # At an epoch's first batch nothing is drawn yet: the alert follows "Epoch k/n" directly.
    assert re.match(r"^Epoch \d+/3$", lines[index["loss_diverging"] - 1])
    assert "" not in [line.strip("\b") for line in lines[:-1]]
    assert all(line.startswith("SCRAM") for line in scram_lines(lines))


@pytest.mark.training
def test_callback_diagnostics_are_what_read_and_report_json_give(console_run):
    root, _ = console_run
    _, found, logdir = case_output(console_run, "fault")
    from_disk = [d for d in read(root) if d.run == "fault/scram"]
    assert len(from_disk) == len(found) > 0
    for on_disk, kept in zip(from_disk, found, strict=True):
        assert {k: v for k, v in on_disk.to_json().items() if k != "run"} == kept
    assert [d.to_json() for d in read(logdir)] == report_json(logdir)


# -- the rules, on synthetic diagnostics ------------------------------------------------

def diagnostic(severity: Severity, step: int = 3, epoch: int | None = 0, check: str = "nan_loss") -> Diagnostic:
    return Diagnostic(check=check, severity=severity, title=f"Title of {check}", explanation="e", suggestion="s",
                      snippet=None, evidence={}, step=step, epoch=epoch)


def test_the_alert_line_reads_like_the_issue_asks():
    d = diagnostic(Severity.ERROR)
    assert alert_line(d, "logs") == "SCRAM ✖ step 3: Title of nan_loss [nan_loss] — scram report logs"
    assert alert_line(diagnostic(Severity.WARNING, epoch=None), "my logs").startswith("SCRAM ▲ before training: ")
    assert alert_line(d, "my logs").endswith("scram report 'my logs'")


@pytest.mark.training  # the console prints through Keras' io_utils, which imports Keras
def test_errors_and_warnings_print_at_once_info_only_in_the_summary(capsys):
    console = Console("logs", "auto", checks=5)
    console.found([diagnostic(Severity.INFO, check="update_ratio_unusual")], {"verbose": 1}, mid_line=True)
    assert capsys.readouterr().out == ""
    console.found([diagnostic(Severity.ERROR)], {"verbose": 1}, mid_line=True)
    assert capsys.readouterr().out == "\nSCRAM ✖ step 3: Title of nan_loss [nan_loss] — scram report logs\n"
    console.found([diagnostic(Severity.WARNING, check="overfitting")], {"verbose": 1}, mid_line=False)
    assert capsys.readouterr().out.startswith("SCRAM ▲ step 3")
    console.summary({"verbose": 1}, 0.042)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 + 3 + 1
    assert out[0] == "SCRAM found 1 error, 1 warning, 1 info (5 checks, SCRAM used 4.2% of the training time):"
    assert [line.split("[")[-1] for line in out[1:4]] == ["update_ratio_unusual]", "nan_loss]", "overfitting]"]


@pytest.mark.training  # the console prints through Keras' io_utils, which imports Keras
def test_no_leading_newline_before_training_or_without_a_bar(capsys):
    console = Console("logs", "auto", checks=5)
    console.found([diagnostic(Severity.WARNING, epoch=None)], {"verbose": 1}, mid_line=True)
    assert capsys.readouterr().out.startswith("SCRAM ▲ before training")
    console.found([diagnostic(Severity.ERROR)], {"verbose": 2}, mid_line=True)  # one line per epoch, no bar
    assert capsys.readouterr().out.startswith("SCRAM ✖ step 3")


@pytest.mark.parametrize(("scram_verbose", "fit_verbose", "speaks"), [
    ("auto", "auto", True), ("auto", 1, True), ("auto", 2, True), ("auto", 0, False),
    (1, 0, True), (0, 1, False), (0, "auto", False), (True, 0, True), (False, "auto", False),
])
@pytest.mark.training  # the console prints through Keras' io_utils, which imports Keras
def test_verbose_follows_keras_convention(capsys, scram_verbose, fit_verbose, speaks):
    console = Console("logs", scram_verbose, checks=5)
    console.found([diagnostic(Severity.ERROR)], {"verbose": fit_verbose}, mid_line=False)
    console.summary({"verbose": fit_verbose}, 0.01)
    assert bool(capsys.readouterr().out) is speaks


@pytest.mark.parametrize("verbose", [2, "yes", None, -1])
def test_a_verbose_outside_keras_convention_is_refused(verbose):
    with pytest.raises(ValueError, match="verbose"):
        Console("logs", verbose, checks=5)


def test_a_later_fit_without_news_says_so_and_points_to_the_earlier_ones():
    assert summary_headline([], 2, 7, 0.05, "logs") == (
        "no new issues in this fit (7 checks, SCRAM used 5.0% of the training time); 2 found before it: "
        "scram report logs")
    assert summary_headline([], 0, 7, 0.0001, "logs") == (
        "no issues found (7 checks, SCRAM used <0.1% of the training time)")
    assert summary_text("no issues found (7 checks)", [], "footer") == "SCRAM: no issues found (7 checks)"


@pytest.mark.training  # the console prints through Keras' io_utils, which imports Keras
def test_a_broken_stdout_never_reaches_the_training(monkeypatch):
    class Closed:
        def write(self, text):
            raise ValueError("I/O operation on closed file")

        def flush(self):
            raise ValueError("I/O operation on closed file")

    monkeypatch.setattr(sys, "stdout", Closed())
    console = Console("logs", 1, checks=5)
    console.found([diagnostic(Severity.ERROR)], {"verbose": 1}, mid_line=True)
    console.summary({"verbose": 1}, 0.01)  # no exception: the console went quiet
