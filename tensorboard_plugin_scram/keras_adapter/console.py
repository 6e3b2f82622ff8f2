"""SCRAM's words where the user already looks: under Keras' progress bar, and after `fit()`.

Each new error or warning prints one line at the moment the engine emits it (a condition
that persists is one episode, so one line), e.g.

    SCRAM ✖ step 3: NaN (not a number) in loss [nan_loss] — scram report logs

and `fit()` ends with a summary: the counts by severity, one line per diagnostic of this
fit (info included), and the two ways to see the details. In a Jupyter kernel the summary
is an HTML table (`notebook.py`); elsewhere plain text. Lines go through Keras' own
`print_msg`, as `EarlyStopping`'s do: to stdout, or to absl logging when Keras'
interactive logging is off.

Nothing here runs per batch: only when a diagnostic is emitted, and once per `fit()`.
Printing never raises into training: a console that fails goes quiet.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from tensorboard_plugin_scram import notebook
from tensorboard_plugin_scram.diagnostic import Diagnostic, Severity
from tensorboard_plugin_scram.keras_adapter.compat import keras_api
from tensorboard_plugin_scram.report import ICONS, count_summary, found_at

# Keras' convention for a callback's `verbose`: "auto" follows `fit(verbose=...)`.
VERBOSE_CHOICES = ("auto", 0, 1)


def checked_verbose(verbose: str | int | bool) -> str | int:
    """`verbose` if it is one of `VERBOSE_CHOICES` (True and False as 1 and 0, as Keras' own callbacks and
    `ScramLightningCallback` take them); raises ValueError otherwise."""
    if isinstance(verbose, bool):
        return int(verbose)
    if verbose not in VERBOSE_CHOICES:
        raise ValueError(f"verbose must be 'auto', 0 or 1, not {verbose!r}")
    return verbose


class Console:
    """What SCRAM prints for one callback.

    Args:
        log_dir: The callback's `log_dir`, named in the lines as where to look.
        verbose: `"auto"` (print unless `fit(verbose=0)`), 1 (always) or 0 (never).
        checks: How many checks are enabled, for the all-clear line.
    """

    def __init__(self, log_dir: str, verbose: str | int, checks: int) -> None:
        self._log_dir = log_dir
        self._verbose = checked_verbose(verbose)
        self._checks = checks
        self._this_fit: list[Diagnostic] = []
        self._earlier = 0  # diagnostics found in earlier fit() calls of the same callback
        self._broken = False

    def found(self, diagnostics: Sequence[Diagnostic], params: Mapping | None, mid_line: bool) -> None:
        """New diagnostics: errors and warnings print now; all of them wait for the summary.

        Args:
            diagnostics: What the engine just emitted.
            params: The callback's `params` (Keras gives `verbose`, `epochs`, `steps`).
            mid_line: Whether Keras' progress bar has drawn part of the current epoch, so
                the cursor sits at the end of the bar rather than on a fresh line.
        """
        self._this_fit.extend(diagnostics)
        urgent = [d for d in diagnostics if d.severity is not Severity.INFO]
        if not urgent or not self._speaks(params):
            return
        # A diagnostic without an epoch was found before training, before any bar is drawn.
        after_bar = mid_line and _bar_drawn(params) and any(d.epoch is not None for d in urgent)
        lines = "\n".join(alert_line(d, self._log_dir) for d in urgent)
        self._print(("\n" if after_bar else "") + lines)

    def summary(self, params: Mapping | None, scram_share: float) -> None:
        """The end of one `fit()`: its diagnostics, then a fresh start for the next `fit()`."""
        this_fit, self._this_fit = self._this_fit, []
        earlier, self._earlier = self._earlier, self._earlier + len(this_fit)
        if not self._speaks(params):
            return
        headline = summary_headline(this_fit, earlier, self._checks, scram_share, self._log_dir)
        footer = details_footer(self._log_dir, notebook.in_notebook())
        text = summary_text(headline, this_fit, footer)
        try:
            if this_fit and notebook.show(notebook.RichText(text, notebook.summary_html(headline, this_fit, footer))):
                return
        except Exception:  # no display machinery after all: the text will do
            pass
        self._print(text)

    def _speaks(self, params: Mapping | None) -> bool:
        if self._broken or self._verbose == 0:
            return False
        return self._verbose == 1 or (params or {}).get("verbose", 1) != 0

    def _print(self, text: str) -> None:
        try:
            keras_api.print_line(text)
        except Exception:  # a closed or odd stdout must not reach the training
            self._broken = True


def alert_line(d: Diagnostic, log_dir: str) -> str:
    """`SCRAM ✖ step 3: NaN (not a number) in loss [nan_loss] — scram report logs`."""
    return f"SCRAM {ICONS[d.severity]} {_when(d)}: {d.title} [{d.check}] — scram report {_quoted(log_dir)}"


def summary_headline(this_fit: Sequence[Diagnostic], earlier: int, checks: int, scram_share: float,
                     log_dir: str) -> str:
    """The summary's first line, after "SCRAM"."""
    cost = f"{checks} checks, SCRAM used {_percent(scram_share)} of the training time"
    if this_fit:
        return f"found {count_summary(this_fit)} ({cost}):"
    if earlier:  # the callback's static checks report once, in its first fit()
        return f"no new issues in this fit ({cost}); {earlier} found before it: scram report {_quoted(log_dir)}"
    return f"no issues found ({cost})"


def details_footer(log_dir: str, in_notebook: bool) -> str:
    """Where the full explanations are."""
    logdir = _quoted(log_dir)
    if in_notebook:
        return (f"Details: !scram report {logdir}, or %load_ext tensorboard then "
                f"%tensorboard --logdir {logdir} and the SCRAM tab")
    return f"Details: scram report {logdir}   or   tensorboard --logdir {logdir}, then the SCRAM tab"


def summary_text(headline: str, this_fit: Sequence[Diagnostic], footer: str) -> str:
    """The plain-text summary: the headline, one aligned line per diagnostic, and the footer."""
    if not this_fit:
        return f"SCRAM: {headline}"
    width = max(len(found_at(d)) for d in this_fit)
    rows = [f"  {ICONS[d.severity]} {d.severity.value:<7}  {found_at(d):<{width}}  {d.title}  [{d.check}]"
            for d in this_fit]
    return "\n".join([f"SCRAM {headline}", *rows, footer])


def _bar_drawn(params: Mapping | None) -> bool:
    """Whether `fit()` shows Keras' progress bar, which leaves the cursor at its line's end."""
    return keras_api.interactive_logging() and (params or {}).get("verbose", 1) in (1, "auto")


def _when(d: Diagnostic) -> str:
    return "before training" if d.epoch is None else f"step {d.step}"


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%" if share >= 0.001 else "<0.1%"


def _quoted(path: str) -> str:
    return shlex.quote(path)
