"""``python -m multiarch build|plan`` (docs/architecture.md, "CLI").

``build`` packages the matrix and writes the result file; ``plan`` resolves the matrix (assets,
suites, versions, why anything was skipped) and prints it as JSON without packaging.

Exit status: 0 every job built; 1 partial or total failure; 2 configuration or usage error;
130/143 when interrupted by SIGINT/SIGTERM. The result file is written in every case where the
arguments say where it goes. The GitHub token comes from ``GITHUB_TOKEN`` only, never argv.

``MULTIARCH_XZ_PRESET`` (a developer knob, default 6 like dpkg-deb) lets tests trade ratio for
speed; it never changes anything else about the packages.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from contracts.builder_result import BuilderResult, JobResult
from contracts.cli import program_name
from contracts.vocabulary import BuildStatus
from multiarch.build import (
    BuildOptions,
    build_packages,
    error_result,
    make_plan,
    write_result,
)
from multiarch.errors import ConfigError, MultiarchError
from telemetry import events

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class _Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error still leaves a result file when we know where it goes."""

    def error(self, message: str) -> NoReturn:
        argv = sys.argv[1:]
        probe = argparse.ArgumentParser(add_help=False)
        probe.add_argument("--result-file", type=Path)
        probe.add_argument("--output-dir", type=Path, default=Path("."))
        probe.add_argument("--version", default="")
        probe.add_argument("--build-version", default="1")
        known, _ = probe.parse_known_args(argv)
        if argv and argv[0] == "build":
            opts = BuildOptions(
                config=Path(""),
                tag=known.version or "",
                build_version=known.build_version,
                output_dir=known.output_dir,
                result_file=known.result_file,
            )
            with contextlib.suppress(OSError):
                write_result(error_result(opts, ConfigError(message, field="arguments")), opts.result_path())
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_USAGE)


def _csv(value: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.replace(" ", ",").split(",") if v.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _parallel(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', not {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=program_name("multiarch-builder", "multiarch"),
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_text in (
        ("build", "build the .deb packages"),
        ("plan", "print the resolved arch x suite matrix as JSON; no packaging"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--config", required=True, type=Path, help="package.yaml")
        p.add_argument("--version", required=True, dest="tag", help="release tag exactly as published")
        p.add_argument("--build-version", default="1", help="Debian revision (default 1)")
        p.add_argument("--arch", type=_csv, help="only these Debian architectures (comma list)")
        p.add_argument("--distributions", type=_csv, help="suites, overriding the config (comma list)")
        p.add_argument("--assets-dir", type=Path, help="take release assets from this folder")
        p.add_argument("--output-dir", type=Path, default=Path("."), help="where the .deb files go")
        p.add_argument(
            "--max-parallel", type=_parallel, default=None, help="concurrent jobs (default: cores)"
        )
        p.add_argument(
            "--lintian",
            nargs="?",
            const="report",
            choices=("report", "strict"),
            help="run lintian on every package; 'strict' also fails a package lintian finds errors in",
        )
        p.add_argument("--pinned-metadata", type=Path, help="provenance pin file")
        p.add_argument("--compression", choices=("xz", "gzip", "zstd"), help="member compression")
        p.add_argument("--cache-dir", type=Path, help="download cache")
        p.add_argument("--result-file", type=Path, help="default: <output-dir>/.multiarch-result.json")
    return parser


def options_from(args: argparse.Namespace) -> BuildOptions:
    preset = os.environ.get("MULTIARCH_XZ_PRESET", "").strip()
    return BuildOptions(
        config=args.config,
        tag=args.tag,
        build_version=args.build_version,
        arches=args.arch,
        distributions=args.distributions,
        assets_dir=args.assets_dir,
        output_dir=args.output_dir,
        max_parallel=args.max_parallel,
        lintian=args.lintian is not None,
        lintian_strict=args.lintian == "strict",
        pinned_metadata=args.pinned_metadata,
        compression=args.compression,
        cache_dir=args.cache_dir,
        result_file=args.result_file,
        xz_preset=int(preset) if preset.isdigit() and int(preset) <= 9 else 6,
    )


def format_config_error(error: ConfigError) -> str:
    """``file:line: field: message`` with the parts that are known."""
    where = ""
    if error.file:
        where = f"{error.file}:{error.line}" if error.line else error.file
    parts = [p for p in (where, error.field or "") if p]
    return ": ".join([*parts, error.detail])


def _report_error(error: BaseException) -> None:
    if isinstance(error, ConfigError):
        sys.stderr.write(f"{format_config_error(error)}\n")
    elif isinstance(error, MultiarchError):
        sys.stderr.write(f"error [{error.category}]: {error.message}\n")
    else:
        sys.stderr.write(f"error: {type(error).__name__}: {error}\n")
    for step in getattr(error, "remediation", ()) or ():
        sys.stderr.write(f"  hint: {step}\n")


def _print_job(job: JobResult) -> None:
    if job.succeeded:
        lint = ""
        if job.lintian is not None:
            lint = f", lintian {job.lintian.errors} E / {job.lintian.warnings} W"
        size = f"{job.size / 1e6:.1f} MB"
        print(f"built {Path(job.package_path).name} ({size}, {job.duration_seconds:.1f} s{lint})", flush=True)
    else:
        category = f" [{job.failure_category}]" if job.failure_category else ""
        print(f"FAILED {job.arch}/{job.suite}{category}: {job.reason}", flush=True)


def _print_notes(notes: Sequence[str]) -> None:
    # stderr: plan's stdout is the JSON document; the plan also lists them under "notes".
    for note in notes:
        sys.stderr.write(f"note: {note}\n")


def _cleanup_partial_debs(output_dir: Path) -> None:
    # write_deb names its temporary files .<name>.<pid>.<thread>.tmp; only ours are removed.
    for tmp in Path(output_dir).glob(f".*.{os.getpid()}.*.tmp"):
        tmp.unlink(missing_ok=True)


def cmd_plan(options: BuildOptions) -> int:
    try:
        plan = make_plan(options)
    except MultiarchError as exc:
        _report_error(exc)
        if options.result_file is not None:
            write_result(error_result(options, exc), options.result_file)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED
    _print_notes(plan.config.notes)
    json.dump(plan.to_json(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


def cmd_build(options: BuildOptions) -> int:
    cancel = threading.Event()
    received: list[int] = []
    planning = [True]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        cancel.set()
        if planning[0]:
            raise _Interrupted(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # Say that this build reports its downloads, so none (a local assets folder, a warm cache)
    # reads as 0 bytes rather than as "not reported"; the GitHub source adds what it fetches.
    events.counter(events.BUILDER_DOWNLOADED_BYTES, 0)
    result_path = options.result_path()
    try:
        plan = make_plan(options)
        _print_notes(plan.config.notes)
        planning[0] = False
        if cancel.is_set():
            raise _Interrupted(received[0])
        result: BuilderResult = build_packages(options, cancel=cancel, plan=plan, on_job=_print_job)
    except _Interrupted as exc:
        # Nothing went wrong but the signal: no error, only the mark that it was cancelled.
        write_result(dataclasses.replace(error_result(options, exc), error=None, cancelled=True), result_path)
        sys.stderr.write(f"{exc}; nothing was built\n")
        return 128 + exc.signum
    except MultiarchError as exc:
        _report_error(exc)
        write_result(error_result(options, exc), result_path)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED
    except Exception as exc:  # a bug: still leave a result the entrypoint can report
        _report_error(exc)
        write_result(error_result(options, exc), result_path)
        raise
    for skip in result.skipped:
        suite = f"/{skip.suite}" if skip.suite else ""
        print(f"skipped {skip.arch}{suite}: {skip.reason}", flush=True)
    write_result(result, result_path)
    if received:
        _cleanup_partial_debs(options.output_dir)
        sys.stderr.write(f"interrupted by {signal.Signals(received[0]).name}; result in {result_path}\n")
        sys.stdout.flush()
        sys.stderr.flush()
        # Compression threads may be in the middle of a block; there is nothing left to wait for.
        os._exit(128 + received[0])
    ok = sum(1 for j in result.jobs if j.succeeded)
    print(f"{result.status}: {ok} of {len(result.jobs)} packages built; result in {result_path}", flush=True)
    return EXIT_OK if result.status == BuildStatus.SUCCESS else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = options_from(args)
    if args.command == "plan":
        return cmd_plan(options)
    return cmd_build(options)


if __name__ == "__main__":
    sys.exit(main())
