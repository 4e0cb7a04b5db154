"""``mode: aggregate``: join the legs of a matrix into one result, building nothing.

Reads every leg under ``aggregate-dir`` (``action.legs``), joins them (``action.join``), writes the
combined ``metrics.json`` and ``metrics.prom`` into ``telemetry-dir`` (``telemetry.combine``) and
returns one ``ActionOutcome`` that the same reporters as a build publish: outputs with every leg's
packages (workspace-relative), build-summary.json with each package's leg and a ``legs`` list,
the job summary and annotations. Nothing a leg wrote is modified.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Final

from action.inputs import ActionInputs
from action.join import Aggregate, join
from action.legs import read_legs
from action.outcome import (
    ActionOutcome,
    BuildMode,
    FailureInfo,
    TelemetryFigures,
    relative_to_workspace,
    success_exit_code,
)
from contracts.fileio import atomic_write_bytes
from contracts.vocabulary import PROMETHEUS_FILE, ActionStatus, FailureCategory, LegProblem

# What each kind of leg problem says about the run, as a failure category.
_PROBLEM_CATEGORY: Final = {
    LegProblem.MISSING: FailureCategory.UNKNOWN,  # the leg failed before uploading, or never ran
    LegProblem.UNREADABLE: FailureCategory.UNKNOWN,
    LegProblem.INVALID: FailureCategory.UNKNOWN,
    LegProblem.FOREIGN: FailureCategory.CONFIGURATION,  # the download pattern picked up other artifacts
    LegProblem.DUPLICATE: FailureCategory.CONFIGURATION,  # two legs built the same package
}
_NO_LEGS_REMEDIATION: Final = (
    "Each leg must upload its output folder (which holds build-summary.json) and its telemetry "
    "folder with actions/upload-artifact (include-hidden-files: true for .telemetry).",
    "Download them with actions/download-artifact into the folder given as aggregate-dir.",
)


def _combined_figures(aggregate: Aggregate, inputs: ActionInputs) -> TelemetryFigures | None:
    """Write the combined metrics.json and metrics.prom; None when no leg had telemetry."""
    from action.telemetry_bridge import document_figures
    from telemetry.combine import LegMetrics, combine
    from telemetry.reporters import metrics_json, prometheus

    document = combine(
        [LegMetrics(leg.name, leg.metrics) for leg in aggregate.usable_legs if leg.metrics is not None]
    )
    if document is None:
        return None
    directory = inputs.telemetry_dir.absolute
    directory.mkdir(parents=True, exist_ok=True)
    written = (metrics_json.write(document, directory), directory / PROMETHEUS_FILE)
    atomic_write_bytes(written[1], prometheus.render(document))
    figures = document_figures(document, relative_to_workspace(directory, inputs.workspace))
    return replace(figures, files=tuple(relative_to_workspace(path, inputs.workspace) for path in written))


def _failure(aggregate: Aggregate, folder: str) -> FailureInfo | None:
    """The run's failure as the outputs name it: the first failed job, else the first problem."""
    if aggregate.status == ActionStatus.SUCCESS:
        return None
    if not aggregate.legs:
        reason = f"no build-summary.json under {folder}/: there are no legs to join"
        return FailureInfo(
            FailureCategory.CONFIGURATION, reason, stage="aggregate", remediation=_NO_LEGS_REMEDIATION
        )
    if aggregate.failed:
        job = aggregate.failed[0]
        reason = f"{job.leg}: {job.arch}/{job.suite or '-'}: {job.reason}"
        return FailureInfo(job.failure_category or FailureCategory.UNKNOWN, reason, stage=job.leg)
    if aggregate.problems:
        problem = aggregate.problems[0]
        return FailureInfo(_PROBLEM_CATEGORY[problem.kind], problem.message, stage=problem.leg or "aggregate")
    leg = next((leg for leg in aggregate.legs if leg.status != ActionStatus.SUCCESS), None)
    reason = f"{leg.name}: the leg ended {leg.status}" if leg else "not every leg succeeded"
    return FailureInfo(FailureCategory.UNKNOWN, reason, stage=leg.name if leg else "aggregate")


def run_aggregate(inputs: ActionInputs, *, started: float) -> ActionOutcome:
    """Join the legs under ``inputs.aggregate_dir``; the outcome every reporter publishes."""
    assert inputs.aggregate_dir is not None, "read_inputs requires aggregate-dir in aggregate mode"
    folder = inputs.aggregate_dir
    aggregate = join(
        read_legs(folder.absolute, inputs.expected_legs),
        workspace=inputs.workspace,
        version=inputs.version,
        arches=inputs.architectures,
        suites=inputs.distributions,
    )
    telemetry = _combined_figures(aggregate, inputs) if inputs.telemetry_enabled else None
    status = aggregate.status
    exit_code = (
        success_exit_code(telemetry, inputs.fail_on_regression) if status == ActionStatus.SUCCESS else 1
    )
    wall = (
        aggregate.end_timestamp - aggregate.start_timestamp
        if aggregate.start_timestamp is not None and aggregate.end_timestamp is not None
        else time.monotonic() - started
    )
    return ActionOutcome(
        status=status,
        mode=BuildMode.AGGREGATE,
        package=aggregate.package,
        version=aggregate.version,
        packages=aggregate.packages,
        result=None,
        failure=_failure(aggregate, folder.relative),
        telemetry=telemetry,
        duration_seconds=wall,
        exit_code=exit_code,
        fail_on_regression=inputs.fail_on_regression,
        regression_threshold=inputs.regression_threshold,
        aggregate=aggregate,
    )
