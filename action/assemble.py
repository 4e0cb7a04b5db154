"""Fold what the run left behind into one ``ActionOutcome``.

Sources, most specific first: the builder's result file (status, packages,
per-job failures, a structured configuration error with file and line), then
the telemetry report's failure analysis (stage, log lines, remediation), then
the bare exit status. Cancellation overrides everything: a cancelled run is
``cancelled``, never a build failure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from action.inputs import ActionInputs, InputError
from action.outcome import (
    EXIT_CONFIGURATION,
    ActionOutcome,
    BuildMode,
    DebSnapshot,
    FailureInfo,
    ProducedPackage,
    TelemetryFigures,
    cancel_exit_code,
    new_debs,
    produced_packages,
    snapshot_debs,
    success_exit_code,
)
from contracts.builder_result import BuilderResult, EarlyFailure
from contracts.vocabulary import ActionStatus, FailureCategory

if TYPE_CHECKING:
    from telemetry.model import RunData

CONFIGURATION: Final = FailureCategory.CONFIGURATION
UNKNOWN: Final = FailureCategory.UNKNOWN
# The stage a configuration error is reported in is named after its category.
CONFIGURATION_STAGE: Final = str(FailureCategory.CONFIGURATION)


@dataclass(frozen=True)
class BuildEnd:
    """How the build process ended, whichever way it was run."""

    exit_code: int | None
    signal: int | None
    cancelled: bool
    duration_seconds: float
    spawn_error: str | None = None
    cancel_signal: int | None = None  # the SIGINT/SIGTERM that cancelled it


def failure_from_error(error: EarlyFailure) -> FailureInfo:
    remediation = error.remediation
    if not remediation and error.category == CONFIGURATION:
        # The builder knows exactly where the problem is; say so instead of "read the log".
        where = error.file or "the configuration"
        if error.line:
            where += f" line {error.line}"
        what = f" (field '{error.field}')" if error.field else ""
        remediation = (
            f"Fix {where}{what} as the message says.",
            "Every key is described in docs/configuration.md of this action.",
        )
    return FailureInfo(
        category=error.category,
        reason=error.message,
        stage=CONFIGURATION_STAGE if error.category == CONFIGURATION else "",
        remediation=remediation,
        transient=error.transient,
        file=error.file,
        line=error.line,
        field=error.field,
    )


def _job_failure(result: BuilderResult, category: str | None) -> FailureInfo | None:
    """The failed job to show as the run's failure: the first of ``category`` (telemetry's pick)."""
    failed = result.failed
    if not failed:
        return None
    job = next((j for j in failed if j.failure_category == category), failed[0])
    reason = f"{job.arch}/{job.suite}: {job.reason}"
    if len(failed) > 1:
        # Every failed job is listed under Packages and annotated on its own; don't repeat them here.
        reason += f"\n… and {len(failed) - 1} more failed job(s), listed under Packages."
    return FailureInfo(
        category=job.failure_category or UNKNOWN, reason=reason, stage=f"{job.arch}_{job.suite}"
    )


def _exit_failure(end: BuildEnd) -> FailureInfo:
    if end.spawn_error:
        reason = f"the build could not be started: {end.spawn_error}"
        return FailureInfo(category=CONFIGURATION, reason=reason)
    if end.signal is not None:
        reason = f"the build was killed by signal {end.signal}"
        return FailureInfo(category=UNKNOWN, reason=reason, signal=end.signal)
    return FailureInfo(
        category=UNKNOWN, reason=f"the build exited with status {end.exit_code}", exit_code=end.exit_code
    )


def _merge(
    primary: FailureInfo, analysis: FailureInfo | None, *, analysis_decides: bool = False
) -> FailureInfo:
    """The builder's structured failure, completed with telemetry's stage and remediation.

    ``analysis_decides``: several jobs may have failed for different reasons; telemetry names
    the first one in time as the run's failure (metrics.json, the build-summary block), and the
    output must name the same one, so its category and stage win when it knows them.
    """
    if analysis is None:
        return primary
    use_analysis = analysis.category != UNKNOWN and (analysis_decides or primary.category == UNKNOWN)
    return FailureInfo(
        category=analysis.category if use_analysis else primary.category,
        reason=primary.reason or analysis.reason,
        stage=(analysis.stage or primary.stage) if use_analysis else (primary.stage or analysis.stage),
        remediation=primary.remediation or analysis.remediation,
        exit_code=primary.exit_code if primary.exit_code is not None else analysis.exit_code,
        signal=primary.signal if primary.signal is not None else analysis.signal,
        transient=primary.transient if primary.transient is not None else analysis.transient,
        file=primary.file,
        line=primary.line,
        field=primary.field,
    )


def _mode(inputs: ActionInputs) -> BuildMode:
    return BuildMode.COMMAND if inputs.command else BuildMode.BUILDER


def _packages(
    inputs: ActionInputs, result: BuilderResult | None, before: DebSnapshot | None
) -> tuple[ProducedPackage, ...]:
    if result is not None:
        return produced_packages(result, inputs.workspace)
    if before is not None:
        return new_debs(before, snapshot_debs(inputs.output_dir.absolute), inputs.workspace)
    return ()


def _verdict(
    mode: BuildMode, end: BuildEnd, result: BuilderResult | None, analysis: FailureInfo | None
) -> tuple[ActionStatus, FailureInfo | None]:
    """The run's status and the failure to show for it (None when there is none)."""
    if end.cancelled:
        return ActionStatus.CANCELLED, None
    if result is not None and mode == BuildMode.BUILDER:
        status = ActionStatus(result.status)
        if result.error is not None:
            return status, _merge(failure_from_error(result.error), analysis)
        if status == ActionStatus.SUCCESS:
            return status, None
        job = _job_failure(result, analysis.category if analysis else None)
        return status, (
            _merge(job, analysis, analysis_decides=True) if job else (analysis or _exit_failure(end))
        )
    if end.exit_code == 0 and end.spawn_error is None:
        # Command mode (no result file): the command's exit status is the verdict.
        # Builder mode without a result file and exit 0 can't happen unless the builder broke its contract.
        if mode == BuildMode.COMMAND:
            return ActionStatus.SUCCESS, None
        return ActionStatus.FAILURE, FailureInfo(
            category=UNKNOWN, reason="the builder exited 0 but wrote no result file"
        )
    if end.spawn_error:
        return ActionStatus.FAILURE, _exit_failure(end)
    return ActionStatus.FAILURE, analysis or _exit_failure(end)


def _exit_code(
    status: ActionStatus,
    failure: FailureInfo | None,
    end: BuildEnd,
    telemetry: TelemetryFigures | None,
    fail_on_regression: bool,
) -> int:
    if status == ActionStatus.CANCELLED:
        return cancel_exit_code(end.cancel_signal or end.signal)
    if status == ActionStatus.SUCCESS:
        return success_exit_code(telemetry, fail_on_regression)
    if failure is not None and failure.category == CONFIGURATION and end.exit_code in (None, 2):
        return EXIT_CONFIGURATION
    return end.exit_code if end.exit_code not in (None, 0) else 1


def assemble(
    inputs: ActionInputs,
    end: BuildEnd,
    *,
    result: BuilderResult | None,
    before: DebSnapshot | None,
    telemetry: TelemetryFigures | None,
    analysis: FailureInfo | None,
    run: RunData | None,
) -> ActionOutcome:
    mode = _mode(inputs)
    status, failure = _verdict(mode, end, result, analysis)
    return ActionOutcome(
        status=status,
        mode=mode,
        package=result.package if result else "",
        version=(result.upstream_version or result.tag) if result else inputs.version,
        packages=_packages(inputs, result, before),
        result=result,
        failure=failure,
        telemetry=telemetry,
        duration_seconds=end.duration_seconds,
        exit_code=_exit_code(status, failure, end, telemetry, inputs.fail_on_regression),
        run=run,
        fail_on_regression=inputs.fail_on_regression,
        regression_threshold=inputs.regression_threshold,
        config_file=inputs.config_file.relative,
    )


def _nothing_built(
    inputs: ActionInputs, failure: FailureInfo, *, exit_code: int, duration_seconds: float = 0.0
) -> ActionOutcome:
    """A failed run that produced nothing and has no builder result or telemetry to show."""
    return ActionOutcome(
        status=ActionStatus.FAILURE,
        mode=_mode(inputs),
        package="",
        version=inputs.version,
        packages=(),
        result=None,
        failure=failure,
        telemetry=None,
        duration_seconds=duration_seconds,
        exit_code=exit_code,
    )


def crashed(inputs: ActionInputs, exc: BaseException, duration_seconds: float) -> ActionOutcome:
    """The action itself failed unexpectedly: still a reportable outcome (category ``unknown``)."""
    failure = FailureInfo(
        category=UNKNOWN,
        reason=f"the action failed internally: {type(exc).__name__}: {exc}",
        stage="action",
        remediation=("Re-run the job; if it fails again, report it with the log of this step.",),
    )
    return _nothing_built(inputs, failure, exit_code=1, duration_seconds=duration_seconds)


def invalid_inputs(error: InputError, inputs: ActionInputs) -> ActionOutcome:
    """Nothing was built: the outcome of a run whose inputs did not validate."""
    failure = FailureInfo(
        category=CONFIGURATION,
        reason=str(error),
        stage="inputs",
        remediation=("Fix the step's `with:` inputs; see the action's README for each input.",),
        transient=False,
        field=error.problems[0].name,
    )
    outcome = _nothing_built(inputs, failure, exit_code=EXIT_CONFIGURATION)
    return replace(outcome, input_problems=tuple((p.name, p.message) for p in error.problems))
