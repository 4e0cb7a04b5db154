"""``build-summary.json``: the run's result for jq, dashboards and later steps.

Keeps the guide's fields where the guide puts them (``package``, ``version``,
``telemetry.build_duration_seconds`` …, so its jq snippets work unchanged) and
adds what a packager needs: ``status``, the ``packages`` this run produced,
the ``failed`` jobs, ``skipped`` architectures and an ``error`` for failures
before any job. The ``telemetry`` block is the telemetry report's own, copied
as is, so the file and ``.telemetry/metrics.json`` can't disagree.

The shape is ``schemas/build-summary.schema.json``; ``telemetry`` is null when
telemetry is disabled. Written atomically (temporary file + rename) and in every case: on invalid
inputs, configuration errors, crashes of the builder and cancellation, so a
later ``if: always()`` step can always read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from action.outcome import ActionOutcome
from contracts.fileio import atomic_write_json
from contracts.vocabulary import BUILD_SUMMARY_FILE, ActionStatus, FailureCategory

FILE_NAME: Final = BUILD_SUMMARY_FILE
SCHEMA_VERSION: Final = 1


def _lintian(outcome_lintian: object) -> dict[str, object] | None:
    from action.builder_result import LintianCounts

    if not isinstance(outcome_lintian, LintianCounts):
        return None
    return {
        "errors": outcome_lintian.errors,
        "warnings": outcome_lintian.warnings,
        "info": outcome_lintian.info,
        "tags": list(outcome_lintian.tags),
    }


def summary_document(outcome: ActionOutcome) -> dict[str, object]:
    result = outcome.result
    failed = [
        {
            "arch": j.arch,
            "suite": j.suite,
            "reason": j.reason,
            "failure_category": j.failure_category or FailureCategory.UNKNOWN,
        }
        for j in (result.failed if result else ())
    ]
    skipped = [{"arch": s.arch, "reason": s.reason} for s in (result.skipped if result else ())]
    error: dict[str, object] | None = None
    failure = outcome.failure
    if outcome.input_problems:
        error = {
            "category": FailureCategory.CONFIGURATION,
            "message": "; ".join(f"{name}: {message}" for name, message in outcome.input_problems),
            "file": None,
            "line": None,
            "field": outcome.input_problems[0][0],
            "transient": False,
            "remediation": ["Fix the step's `with:` inputs."],
        }
    elif result is not None and result.error is not None:
        e = result.error
        error = {
            "category": e.category,
            "message": e.message,
            "file": e.file,
            "line": e.line,
            "field": e.field,
            "transient": e.transient,
            "remediation": list(e.remediation),
        }
    elif failure is not None and outcome.status == ActionStatus.FAILURE and not failed:
        # The build failed without a structured error (a crash, the user's command): say what we know.
        error = {
            "category": failure.category,
            "message": failure.reason,
            "file": failure.file,
            "line": failure.line,
            "field": failure.field,
            "transient": bool(failure.transient),
            "remediation": list(failure.remediation),
        }
    # null without telemetry (disabled, or inputs invalid): zeros would read as measurements.
    telemetry: Mapping[str, object] | None = None
    if outcome.telemetry is not None and outcome.telemetry.summary_block is not None:
        telemetry = outcome.telemetry.summary_block.to_json()
    return {
        "schema": SCHEMA_VERSION,
        "package": outcome.package,
        "version": outcome.version,
        "tag": result.tag if result else outcome.version,
        "build_version": result.build_version if result else "",
        "status": outcome.status,
        "packages": [
            {
                "path": p.path,
                "arch": p.arch,
                "suite": p.suite,
                "version": p.version,
                "size": p.size,
                "sha256": p.sha256,
                "lintian": _lintian(p.lintian),
            }
            for p in outcome.packages
        ],
        "failed": failed,
        "skipped": skipped,
        "error": error,
        "telemetry": telemetry,
    }


def write_build_summary(outcome: ActionOutcome, folder: Path) -> Path:
    """Write ``folder/build-summary.json`` atomically; returns its path."""
    path = folder / FILE_NAME
    # Whatever interrupts the write (a second SIGTERM included) leaves no temporary behind.
    atomic_write_json(path, summary_document(outcome))
    return path
