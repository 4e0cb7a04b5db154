"""``python -m telemetry``: the guide's telemetry functions for shell build scripts.

    python -m telemetry init
    python -m telemetry stage-start NAME
    python -m telemetry stage-complete NAME success|failure|warning [MESSAGE]
    python -m telemetry failure STAGE REASON [CODE] [--category C] [--transient|--permanent]
                                [--remediation TEXT]...
    python -m telemetry counter NAME [VALUE]
    python -m telemetry finalize [--packages-built N] [--packages-failed N] [--exit-code N]
                                 [--threshold N] [--save-baseline]
    python -m telemetry summary
    python -m telemetry save-baseline [--force]
    python -m telemetry check-regressions [--threshold N]
    python -m telemetry shell-functions      # bash definitions of the guide's function names

``--dir DIR`` (before the command) overrides ``$TELEMETRY_DIR``.

Exit status: 0 done (also when telemetry is disabled, and for recording calls
even when the record could not be written: telemetry never fails a build);
1 ``check-regressions`` found regressions; 2 usage error; 3 the command needs
files a previous step should have written (``summary``/``save-baseline``/
``check-regressions`` before ``finalize``) or a baseline would come from a run
that did not succeed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Final

from contracts.cli import program_name
from contracts.vocabulary import DEFAULT_TELEMETRY_DIR, ENV_TELEMETRY_DIR, METRICS_FILE
from contracts.vocabulary import TelemetryCommand as Command
from telemetry import api
from telemetry.events import CATEGORIES, STAGE_STATUSES

EXIT_OK: Final = 0
EXIT_REGRESSIONS: Final = 1
EXIT_USAGE: Final = 2
EXIT_STATE: Final = 3

# Commands that only record: they never fail the build, even when the record cannot be written.
_RECORDING: Final = frozenset(
    {Command.INIT, Command.STAGE_START, Command.STAGE_COMPLETE, Command.FAILURE, Command.COUNTER}
)

SHELL_FUNCTIONS: Final = """\
# The guide's telemetry functions, backed by `python -m telemetry`.
# Load with: eval "$(python -m telemetry shell-functions)"
_telemetry() { "${TELEMETRY_PYTHON:-python3}" -m telemetry "$@"; }
init_telemetry() { _telemetry init; }
record_build_stage() { _telemetry stage-start "$1"; }
record_build_stage_complete() { _telemetry stage-complete "$1" "$2" "${3:-}"; }
record_build_failure() { _telemetry failure "$1" "$2" "${3:-}"; }
finalize_telemetry() { _telemetry finalize "$@"; }
get_telemetry_summary() { _telemetry summary; }
save_as_baseline() { _telemetry save-baseline "$@"; }
check_performance_regressions() { _telemetry check-regressions "$@"; }
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=program_name("build-telemetry", "telemetry"),
        description="Build telemetry for shell build scripts.",
    )
    p.add_argument(
        "--dir", help=f"telemetry directory (default: ${ENV_TELEMETRY_DIR} or {DEFAULT_TELEMETRY_DIR})"
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser(Command.INIT, help="start a run (clears the previous run's state, keeps baseline.json)")
    s = sub.add_parser(Command.STAGE_START, help="record_build_stage NAME")
    s.add_argument("name")
    s = sub.add_parser(Command.STAGE_COMPLETE, help="record_build_stage_complete NAME STATUS [MESSAGE]")
    s.add_argument("name")
    s.add_argument("status", choices=STAGE_STATUSES)
    s.add_argument("message", nargs="?", default="")
    s = sub.add_parser(Command.FAILURE, help="record_build_failure STAGE REASON [CODE]")
    s.add_argument("stage")
    s.add_argument("reason")
    s.add_argument("code", nargs="?", default="")
    s.add_argument("--category", choices=CATEGORIES)
    t = s.add_mutually_exclusive_group()
    t.add_argument("--transient", dest="transient", action="store_const", const=True)
    t.add_argument("--permanent", dest="transient", action="store_const", const=False)
    s.add_argument("--remediation", action="append", default=[])
    s = sub.add_parser(Command.COUNTER, help="add VALUE (default 1) to a named counter")
    s.add_argument("name")
    s.add_argument("value", nargs="?", type=float, default=1.0)
    s = sub.add_parser(Command.FINALIZE, help="finalize_telemetry: write metrics.json and the other files")
    s.add_argument("--packages-built", type=int, default=0)
    s.add_argument("--packages-failed", type=int, default=0)
    s.add_argument("--exit-code", type=int, help="the build's exit status, if the script knows it")
    s.add_argument("--threshold", type=float, help="regression threshold in percent (default 20)")
    s.add_argument("--save-baseline", action="store_true", default=None, help="also save as baseline")
    sub.add_parser(
        Command.SUMMARY, help="get_telemetry_summary: print the build-summary telemetry block as JSON"
    )
    s = sub.add_parser(
        Command.SAVE_BASELINE, help="save_as_baseline: the last finalized run becomes baseline.json"
    )
    s.add_argument("--force", action="store_true", help="save even if the run did not succeed")
    s = sub.add_parser(Command.CHECK_REGRESSIONS, help="check_performance_regressions; exit 1 when found")
    s.add_argument("--threshold", type=float)
    sub.add_parser(Command.SHELL_FUNCTIONS, help="print bash functions named as in the guide")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == Command.SHELL_FUNCTIONS:
        sys.stdout.write(SHELL_FUNCTIONS)
        return EXIT_OK
    config = api.TelemetryConfig.from_env(directory=args.dir)
    if not config.enabled:
        return EXIT_OK  # TELEMETRY_ENABLED=false: nothing written, nothing printed
    # The CLI is a child of the build script: measure the script's process tree, not ours.
    caller = os.getppid()
    try:
        return _run(args, config, caller)
    except api.TelemetryStateError as exc:
        print(f"telemetry: {exc}", file=sys.stderr)
        return EXIT_STATE
    except OSError as exc:
        print(f"telemetry: {exc}", file=sys.stderr)
        # Recording commands never fail the build; reading commands report it.
        return EXIT_OK if args.command in _RECORDING else EXIT_STATE


def _run(args: argparse.Namespace, config: api.TelemetryConfig, caller: int) -> int:
    command = args.command
    if command == Command.INIT:
        api.init_telemetry(config, caller_pid=caller)
    elif command == Command.STAGE_START:
        api.record_build_stage(args.name, config, caller_pid=caller)
    elif command == Command.STAGE_COMPLETE:
        api.record_build_stage_complete(args.name, args.status, args.message, config, caller_pid=caller)
    elif command == Command.FAILURE:
        api.record_build_failure(
            args.stage,
            args.reason,
            args.code,
            config,
            category=args.category,
            transient=args.transient,
            remediation=args.remediation,
            caller_pid=caller,
        )
    elif command == Command.COUNTER:
        api.record_counter(args.name, args.value, config, caller_pid=caller)
    elif command == Command.FINALIZE:
        report = api.finalize_telemetry(
            config,
            packages_built=args.packages_built,
            packages_failed=args.packages_failed,
            exit_code=args.exit_code,
            threshold=args.threshold,
            save_baseline=args.save_baseline,
            caller_pid=caller,
        )
        if report is None:
            print("telemetry: inside a monitored session; the session finalizes", file=sys.stderr)
        else:
            for warning in report.warnings:
                print(f"telemetry: warning: {warning}", file=sys.stderr)
            print(
                f"telemetry: wrote {config.directory / METRICS_FILE} (status {report.status})",
                file=sys.stderr,
            )
    elif command == Command.SUMMARY:
        summary = api.get_telemetry_summary(config)
        print(json.dumps(summary, indent=2))
    elif command == Command.SAVE_BASELINE:
        path = api.save_as_baseline(config, force=args.force)
        print(f"telemetry: saved baseline {path}", file=sys.stderr)
    elif command == Command.CHECK_REGRESSIONS:
        comparison = api.check_performance_regressions(config, threshold=args.threshold)
        if comparison is None:
            return EXIT_OK
        if comparison.baseline_problem:
            print(f"telemetry: warning: baseline ignored: {comparison.baseline_problem}", file=sys.stderr)
        if comparison.baseline is None:
            print("No baseline to compare with.")
            return EXIT_OK
        for message in comparison.regressions:
            print(message)
        if not comparison.regressions:
            print(f"No performance regressions (score {comparison.performance_score}).")
        return EXIT_REGRESSIONS if comparison.regressions else EXIT_OK
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
