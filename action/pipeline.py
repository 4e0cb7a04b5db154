"""Run the build for validated inputs and collect everything the reporters need.

The build's own output goes to the log inside a ``::group::`` (it can be
thousands of lines); the verdict, annotations and summary come after it,
outside the group, where a reader sees them first.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from action.annotations import annotate, group
from action.assemble import BuildEnd, assemble
from action.builder_args import invocation
from action.inputs import ActionInputs
from action.outcome import (
    ActionOutcome,
    DebSnapshot,
    FailureInfo,
    TelemetryFigures,
    new_debs,
    snapshot_debs,
)
from action.runner import CancelState, PlainRun, run_plain
from contracts.builder_result import read_builder_result
from contracts.vocabulary import ActionStatus, AnnotationLevel

if TYPE_CHECKING:
    from action.history import HistoryPlan
    from contracts.builder_result import BuilderResult
    from telemetry.model import ProcessOutcome, RunData


def _log(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


@contextmanager
def _commands_paused(paused: bool) -> Iterator[None]:
    """Stop the runner from obeying workflow commands in the built-in builder's log.

    That log repeats text from release assets and servers (archive entry names, HTTP error
    messages); a line of it shaped like ``::add-mask::`` or ``::error::`` would otherwise be
    acted on. ``::stop-commands::`` with an unguessable token pauses them until the token is
    echoed back. A ``command`` build's output is the user's own and may mean its commands.
    """
    if not paused:
        yield
        return
    token = secrets.token_hex(16)
    _log(f"::stop-commands::{token}")
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        _log(f"::{token}::")


def _cancel_signal(killed_by: int | None, exit_code: int | None) -> int | None:
    """The signal that cancelled the run (the session handled it, so we only see its effect)."""
    if killed_by is not None and killed_by != signal.SIGKILL:
        return killed_by
    # SIGKILL is the session's escalation after the grace period, not what GitHub sent: then
    # the cancel signal is unknown here and the caller's default (SIGTERM) stands.
    # A build that handles the signal itself exits 128 + signal, as the builder does (130/143).
    if exit_code is not None and exit_code - 128 in (signal.SIGINT, signal.SIGTERM):
        return exit_code - 128
    return None


def _build_end(process: ProcessOutcome | PlainRun, duration_seconds: float, cancel: CancelState) -> BuildEnd:
    """How the build ended, watched by the session or run plainly; cancelled if either says so."""
    cancelled = process.cancelled or cancel.requested
    # A signal the session handled may be known only by its effect; a plain run is cancelled
    # only through ``cancel``, which knows its signal.
    known = _cancel_signal(process.signal, process.exit_code) if cancelled else None
    return BuildEnd(
        exit_code=process.exit_code,
        signal=process.signal,
        cancelled=cancelled,
        duration_seconds=duration_seconds,
        spawn_error=process.spawn_error,
        cancel_signal=cancel.signum or known,
    )


def _report(
    run: RunData,
    inputs: ActionInputs,
    result: BuilderResult | None,
    before: DebSnapshot | None,
    plan: HistoryPlan | None,
) -> tuple[TelemetryFigures | None, FailureInfo | None]:
    """Every telemetry file of the run; a reporting bug is a warning, never the build's result."""
    from action.assemble import failure_from_error
    from action.telemetry_bridge import write_report

    if result is not None:
        built, failed = len(result.succeeded), len(result.failed)
    elif before is not None:
        # Command mode: the packages are the .deb files the command wrote.
        built = len(new_debs(before, snapshot_debs(inputs.output_dir.absolute), inputs.workspace))
        failed = 0
    else:
        built, failed = 0, 0
    try:
        builder_error = failure_from_error(result.error) if result and result.error else None
        telemetry, analysis, warnings = write_report(
            run,
            inputs,
            packages_built=built,
            packages_failed=failed,
            builder_error=builder_error,
            history=plan,
        )
    except Exception as exc:  # a reporting bug must not hide the build's own result
        annotate(
            AnnotationLevel.WARNING,
            f"telemetry report failed: {type(exc).__name__}: {exc}",
            title="Telemetry",
        )
        return None, None
    for warning in warnings:
        annotate(AnnotationLevel.WARNING, warning, title="Telemetry")
    return telemetry, analysis


def _plan_history(inputs: ActionInputs, result: BuilderResult | None) -> HistoryPlan | None:
    """The previous history and the reference runs; a failure here is a notice, never the build's."""
    from action.history import plan_history

    try:
        plan = plan_history(inputs, result, os.environ)
    except Exception as exc:  # the comparison is an extra: it must not cost the build its report
        annotate(AnnotationLevel.NOTICE, f"history not read: {type(exc).__name__}: {exc}", title="History")
        return None
    for notice in plan.notices:
        annotate(AnnotationLevel.NOTICE, notice, title="History")
    return plan


def _with_history(
    plan: HistoryPlan, outcome: ActionOutcome, run: RunData, inputs: ActionInputs
) -> ActionOutcome:
    """This run added to history.json, and the pull request comment when one is asked for."""
    from action.history import record_history
    from action.review import comment_on_pull_request

    try:
        view = record_history(plan, outcome, run, inputs, os.environ)
    except Exception as exc:  # as above: never the build's result
        annotate(AnnotationLevel.NOTICE, f"history not written: {type(exc).__name__}: {exc}", title="History")
        return outcome
    outcome = replace(outcome, history=view)
    notice = comment_on_pull_request(outcome, inputs, os.environ)
    if notice:
        annotate(AnnotationLevel.NOTICE, notice, title="Pull request comment")
        outcome = replace(outcome, history=replace(view, notices=(*view.notices, notice)))
    return outcome


def run_build(inputs: ActionInputs, cancel: CancelState, *, started: float) -> ActionOutcome:
    # Private scratch space outside the workspace: the result file and the command-mode
    # python shim must not end up in the user's repository or artifacts.
    scratch = Path(tempfile.mkdtemp(prefix="multiarch-action-"))
    try:
        return _run(inputs, cancel, scratch, started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(inputs: ActionInputs, cancel: CancelState, scratch: Path, started: float) -> ActionOutcome:
    build = invocation(inputs, scratch, os.environ)
    before = snapshot_debs(inputs.output_dir.absolute) if inputs.command else None
    what = "the build command" if inputs.command else "the multi-arch builder"
    monitor = "with telemetry" if inputs.telemetry_enabled else "without telemetry"
    run: RunData | None = None
    plan: HistoryPlan | None = None

    with group(f"Build log ({what}, {monitor})"), _commands_paused(not inputs.command):
        _log(f"$ {build.display()}")
        if cancel.requested:
            end = BuildEnd(None, None, True, 0.0, cancel_signal=cancel.signum)
        elif inputs.telemetry_enabled:
            from action.telemetry_bridge import run_session

            _log(f"[action] build starts {time.monotonic() - started:.3f} s after the entrypoint started")
            run = run_session(build, inputs)
            end = _build_end(run.outcome, run.duration_seconds, cancel)
        else:
            _log(f"[action] build starts {time.monotonic() - started:.3f} s after the entrypoint started")
            plain = run_plain(build, cancel)
            end = _build_end(plain, plain.duration_seconds, cancel)

    result = read_builder_result(build.result_file) if build.result_file is not None else None
    telemetry: TelemetryFigures | None = None
    analysis: FailureInfo | None = None
    if run is not None:
        plan = _plan_history(inputs, result)
        telemetry, analysis = _report(run, inputs, result, before, plan)
    outcome = assemble(
        inputs, end, result=result, before=before, telemetry=telemetry, analysis=analysis, run=run
    )
    if run is not None and plan is not None:
        outcome = _with_history(plan, outcome, run, inputs)
    if outcome.status == ActionStatus.CANCELLED:
        name = signal.Signals(end.cancel_signal).name if end.cancel_signal else "a signal"
        _log(f"[action] cancelled by {name}")
    return outcome
