"""scram_internal_error: SCRAM itself failed; training went on."""

from __future__ import annotations

from tensorboard_plugin_scram.checks.base import Check, Finding
from tensorboard_plugin_scram.diagnostic import Confidence, Severity


class InternalError(Check):
    """## What it does
    Records that a part of SCRAM (a check, the event writer, reading Keras' logs) raised
    an exception. SCRAM catches it, warns once, switches that part off and lets training
    go on.

    ## Why is this bad?
    It is not a problem with your model: it means SCRAM may have missed something from
    that point on. Please report it with the evidence shown.

    ## Fix
    Nothing to change in your training. A check that fails this way can be switched off
    with `ScramCallback(log_dir, disable=["<check id>"])`.

    ## Rule
    Emitted by SCRAM's engine, never by a rule over the metrics.
    """

    id = "scram_internal_error"
    title = "SCRAM internal error"
    severity = Severity.INFO
    confidence = Confidence.HIGH

    @classmethod
    def finding_for(cls, where: str, error: BaseException) -> Finding:
        """The finding that records an exception raised in `where`."""
        return Finding(
            title=f"{cls.title} in {where}",
            explanation=(
                f"SCRAM's {where} raised {type(error).__name__}: {error}. Your training was "
                f"not affected, but SCRAM switched off its {where} and may miss problems it "
                "would have found."
            ),
            suggestion="Nothing to change in your training. Please report this to SCRAM's developers.",
            evidence={"where": where, "exception": type(error).__name__, "message": str(error)[:500]},
            key=where,
        )
