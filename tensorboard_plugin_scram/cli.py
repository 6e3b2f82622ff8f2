"""The `scram` command: SCRAM's diagnostics in a terminal or CI."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from tensorboard_plugin_scram.diagnostic import Severity

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scram", description="SCRAM: plain-words diagnostics of Keras training runs.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    report = commands.add_parser("report", help="print the diagnostics found under a log directory")
    report.add_argument("logdir", metavar="LOGDIR", help="the log_dir given to ScramCallback (searched recursively)")
    report.add_argument("--json", action="store_true", help="print one JSON array of diagnostics")
    report.add_argument(
        "--fail-on",
        choices=("error", "warning", "never"),
        default="error",
        help="exit with status 1 when a diagnostic of this severity or worse is found (default: error)",
    )
    report.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the output")

    commands.add_parser("checks", help="list the built-in checks")

    docs = commands.add_parser("docs", help="write one Markdown page per check")
    docs.add_argument("outdir", metavar="OUTDIR")
    docs.add_argument("--readme", metavar="README", help="also regenerate the table of checks in this README")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `scram` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:  # `scram report logs | head`
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


def _report(args: argparse.Namespace) -> int:
    from tensorboard_plugin_scram.api import run_diagnostics
    from tensorboard_plugin_scram.events import storage
    from tensorboard_plugin_scram.events.file_reader import read_logdir
    from tensorboard_plugin_scram.report import format_report

    if not storage.gfile().isdir(args.logdir):
        print(f"scram: error: LOGDIR '{args.logdir}' is not a directory", file=sys.stderr)
        return EXIT_USAGE
    runs = read_logdir(args.logdir)
    if args.json:
        rows = [d.to_json() for d in run_diagnostics(runs)]  # the objects `tensorboard_plugin_scram.read` gives
        print(json.dumps(rows, indent=2))
    else:
        color = args.color == "always" or (
            args.color == "auto" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
        )
        sys.stdout.write(format_report(runs, args.logdir, color))
    return _exit_status([d for r in runs for d in r.diagnostics], args.fail_on)


def _exit_status(diagnostics: list, fail_on: str) -> int:
    if fail_on == "never":
        return EXIT_OK
    worst = Severity(fail_on).rank
    return EXIT_FOUND if any(d.severity.rank >= worst for d in diagnostics) else EXIT_OK


def _checks(args: argparse.Namespace) -> int:
    from tensorboard_plugin_scram.checks import CATALOGUE

    for check_id, cls in CATALOGUE.items():
        print(f"{check_id:<24} {cls.severity.value:<8} {cls.title}")
    return EXIT_OK


def _docs(args: argparse.Namespace) -> int:
    from tensorboard_plugin_scram.docs import update_readme, write_check_pages

    for path in write_check_pages(args.outdir):
        print(path)
    if args.readme:
        update_readme(args.readme)
        print(args.readme)
    return EXIT_OK


_COMMANDS = {"report": _report, "checks": _checks, "docs": _docs}

if __name__ == "__main__":
    sys.exit(main())
