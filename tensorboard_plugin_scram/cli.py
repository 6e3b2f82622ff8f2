"""The `scram` command: SCRAM's diagnostics in a terminal or CI."""

from __future__ import annotations

import argparse
import json
import os
import re
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

    report = commands.add_parser(
        "report",
        help="print the diagnostics found under a log directory",
        description="Print the diagnostics SCRAM wrote under LOGDIR: a local path or any URL TensorBoard\n"
                    "reads (gs://bucket/logs, s3://bucket/logs). Every run below LOGDIR is read.",
        epilog="examples:\n"
               "  scram report logs\n"
               "  scram report --summary s3://bucket/sweep        one line per run\n"
               "  scram report --summary --run 'lr0\\.1' logs     only the runs whose name matches\n"
               "  scram report --json --summary logs              one JSON object per run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("logdir", metavar="LOGDIR", help="the log_dir given to ScramCallback (searched recursively)")
    report.add_argument("--json", action="store_true",
                        help="print one JSON array: of diagnostics, or with --summary of one object per run")
    report.add_argument("--summary", action="store_true",
                        help="one line per run: its name, counts by severity, and its first error's step and "
                             "check (or 'no issues')")
    report.add_argument("--run", metavar="REGEX", type=_regex,
                        help="only runs whose name matches REGEX (Python's re.search: 'lr0.1' matches "
                             "'sweep/lr0.1_bs32/scram'; anchor with ^ and $)")
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
    from tensorboard_plugin_scram.report import format_report, format_summary, summary_json

    problem = storage.directory_problem(args.logdir)
    if problem:
        print(f"scram: error: LOGDIR '{args.logdir}' {problem}", file=sys.stderr)
        return EXIT_USAGE
    runs = read_logdir(args.logdir, run_filter=args.run.search if args.run else None)
    if args.run and not runs and not args.json:
        print(f"SCRAM: no run with SCRAM data under {args.logdir} matches {args.run.pattern!r}.")
        return EXIT_OK
    color = args.color == "always" or (
        args.color == "auto" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    )
    if args.json and args.summary:
        print(json.dumps([summary_json(run) for run in runs], indent=2))
    elif args.json:
        rows = [d.to_json() for d in run_diagnostics(runs)]  # the objects `tensorboard_plugin_scram.read` gives
        print(json.dumps(rows, indent=2))
    elif args.summary:
        sys.stdout.write(format_summary(runs, args.logdir, color))
    else:
        sys.stdout.write(format_report(runs, args.logdir, color))
    return _exit_status([d for r in runs for d in r.diagnostics], args.fail_on)


def _regex(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise argparse.ArgumentTypeError(f"not a regular expression: {pattern!r} ({error})") from None


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
