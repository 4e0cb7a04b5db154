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

from action.legs import Leg, runner_facts
from action.outcome import ActionOutcome
from contracts.fileio import atomic_write_json
from contracts.vocabulary import BUILD_SUMMARY_FILE, ActionStatus, FailureCategory

FILE_NAME: Final = BUILD_SUMMARY_FILE
SCHEMA_VERSION: Final = 1


def _lintian(outcome_lintian: object) -> dict[str, object] | None:
    from contracts.builder_result import LintianCounts

    if not isinstance(outcome_lintian, LintianCounts):
        return None
    return {
        "errors": outcome_lintian.errors,
        "warnings": outcome_lintian.warnings,
        "info": outcome_lintian.info,
        "tags": list(outcome_lintian.tags),
    }


def _failed_and_skipped(outcome: ActionOutcome) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The failed jobs and skipped architectures: the builder's, or every leg's (named)."""
    if outcome.aggregate is not None:
        failed: list[dict[str, object]] = [
            {
                "arch": f.arch,
                "suite": f.suite,
                "reason": f.reason,
                "failure_category": f.failure_category or FailureCategory.UNKNOWN,
                "leg": f.leg,
            }
            for f in outcome.aggregate.failed
        ]
        skipped: list[dict[str, object]] = [
            {"arch": arch, "reason": reason, "leg": leg} for leg, arch, reason in outcome.aggregate.skipped
        ]
        return failed, skipped
    result = outcome.result
    return (
        [
            {
                "arch": j.arch,
                "suite": j.suite,
                "reason": j.reason,
                "failure_category": j.failure_category or FailureCategory.UNKNOWN,
            }
            for j in (result.failed if result else ())
        ],
        [{"arch": s.arch, "reason": s.reason} for s in (result.skipped if result else ())],
    )


def _leg(leg: Leg) -> dict[str, object]:
    """One leg as the combined build-summary.json lists it: state, figures and runner facts."""
    session = leg.metrics.build_session if leg.metrics else None
    return {
        "name": leg.name,
        "status": leg.status,
        "problem": leg.problem,
        "detail": leg.detail,
        "package": leg.package,
        "version": leg.version,
        "packages": len(leg.packages),
        "failed": len(leg.failed),
        "started_at": session.start_timestamp if session else None,
        "ended_at": session.end_timestamp if session else None,
        "duration_seconds": session.duration_seconds_exact if session else None,
        "peak_memory_mb": leg.metrics.memory_metrics.peak_usage_mb_exact if leg.metrics else None,
        "cpu_seconds": (
            round(leg.metrics.cpu_metrics.user_seconds + leg.metrics.cpu_metrics.system_seconds, 3)
            if leg.metrics
            else None
        ),
        "network_downloaded_bytes": leg.metrics.network_metrics.bytes_downloaded if leg.metrics else None,
        "performance_regressions": list(leg.regressions),
        "metrics_problem": leg.metrics_problem,
        "runner": leg.runner.to_json() if leg.runner else None,
    }


def summary_document(outcome: ActionOutcome) -> dict[str, object]:
    result = outcome.result
    failed, skipped = _failed_and_skipped(outcome)
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
                **({"leg": p.leg} if p.leg else {}),
            }
            for p in outcome.packages
        ],
        "failed": failed,
        "skipped": skipped,
        "error": error,
        "telemetry": telemetry,
        "runner": runner_facts().to_json(),
        **({"legs": [_leg(leg) for leg in outcome.aggregate.legs]} if outcome.aggregate else {}),
    }


def write_build_summary(outcome: ActionOutcome, folder: Path) -> Path:
    """Write ``folder/build-summary.json`` atomically; returns its path."""
    path = folder / FILE_NAME
    # Whatever interrupts the write (a second SIGTERM included) leaves no temporary behind.
    atomic_write_json(path, summary_document(outcome))
    return path
