"""Publish an ``ActionOutcome``: build-summary.json, outputs, job summary, annotations, exit status.

Each reporter runs even if another one failed (a full disk must not also
swallow the annotations); a reporter that failed is itself reported and turns
a successful run's exit status into a failure, because a later step would
otherwise read missing outputs as if all were well.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from action.annotations import annotate, annotate_outcome
from action.build_summary import write_build_summary
from action.inputs import ActionInputs
from action.job_summary import write_job_summary
from action.outcome import ActionOutcome, relative_to_workspace
from action.outputs import output_values, write_outputs
from contracts.vocabulary import BUILD_SUMMARY_FILE, AnnotationLevel


def _guarded(name: str, step: Callable[[], object], failures: list[str]) -> None:
    try:
        step()
    except Exception as exc:
        failures.append(name)
        # A full or read-only disk is the environment, not a bug: the message says it all, and a
        # traceback would only bury it. Anything else is a bug worth its traceback.
        if not isinstance(exc, OSError):
            traceback.print_exc(file=sys.stderr)
        message = f"could not write the {name}: {type(exc).__name__}: {exc}"
        annotate(AnnotationLevel.ERROR, message, title="Action reporting")


def _write_summary(outcome: ActionOutcome, inputs: ActionInputs, failures: list[str]) -> Path:
    """build-summary.json in the output folder or, when that disk is full or read-only (a
    build that filled it is exactly when the summary matters), in the telemetry folder; the
    ``build-summary`` output names wherever it landed."""
    try:
        return write_build_summary(outcome, inputs.output_dir.absolute)
    except OSError as exc:
        first = exc
    fallback = inputs.telemetry_dir.absolute
    written: list[Path] = []
    _guarded("build summary", lambda: written.append(write_build_summary(outcome, fallback)), failures)
    if written:
        annotate(
            AnnotationLevel.WARNING,
            f"could not write build-summary.json to the output folder ({first}); wrote {written[0]} instead",
            title="Action reporting",
        )
        return written[0]
    return inputs.output_dir.absolute / BUILD_SUMMARY_FILE


def publish(outcome: ActionOutcome, inputs: ActionInputs) -> int:
    """Write every report of ``outcome``; returns the process exit status."""
    failures: list[str] = []
    summary_path = _write_summary(outcome, inputs, failures)
    summary_rel = relative_to_workspace(summary_path, inputs.workspace)

    _guarded("outputs", lambda: write_outputs(output_values(outcome, summary_rel)), failures)
    if inputs.job_summary:
        _guarded("job summary", lambda: write_job_summary(outcome, summary_rel), failures)
    _guarded("annotations", lambda: annotate_outcome(outcome, inputs.workspace), failures)

    built = len(outcome.packages)
    line = f"[action] build-status={outcome.status} packages={built}"
    if outcome.failure_category:
        line += f" failure-category={outcome.failure_category}"
    sys.stdout.write(line + f" exit={outcome.exit_code}\n")
    sys.stdout.flush()
    if failures and outcome.exit_code == 0:
        return 1
    return outcome.exit_code
