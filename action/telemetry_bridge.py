"""The one place where the action meets the telemetry package.

- ``run_session``: run the build through ``telemetry.session.Session``
  (samplers, stage channel, signal forwarding) and get its ``RunData``;
- ``write_report``: ``telemetry.publish_files.write_all`` (metrics.json, logs,
  metrics.prom, baseline) and the figures the outputs and summaries show,
  read from the report's own ``MetricsDocument`` so every reporter shows the same numbers.

Imported only when telemetry is enabled, after inputs are validated; the
report (which pulls in jsonschema) only once the build has finished, so that
nothing but the session stands between the entrypoint and the build's start.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from action.builder_args import BuildInvocation
from action.inputs import ActionInputs
from action.outcome import FailureInfo, TelemetryFigures, relative_to_workspace
from contracts.vocabulary import MemorySource

if TYPE_CHECKING:
    from action.history import HistoryPlan
    from telemetry.failures import FailureAnalysis
    from telemetry.metrics_doc import BaselineDiff, MetricsDocument
    from telemetry.model import RunData
    from telemetry.publish_files import TelemetryReport


def run_session(invocation: BuildInvocation, inputs: ActionInputs) -> RunData:
    from telemetry.session import Session, SessionOptions

    options = SessionOptions(
        telemetry_dir=inputs.telemetry_dir.absolute,
        sample_interval=inputs.sample_interval,
        # The session lays these over its own environment; the token input is already
        # gone from it (inputs.mask_token), so the token reaches the build only as GITHUB_TOKEN.
        env=dict(invocation.env),
        cwd=str(invocation.cwd),
        output_path=str(inputs.output_dir.absolute),
    )
    session = Session(options)
    if invocation.argv is not None:
        return session.run(argv=list(invocation.argv))
    return session.run(shell_command=invocation.shell_command or "")


def _comparison(diff: BaselineDiff) -> dict[str, float]:
    """The percents there are (none without a baseline), by their metrics.json names."""
    values = {
        "duration_diff_percent": diff.duration_diff_percent,
        "memory_diff_percent": diff.memory_diff_percent,
    }
    return {name: float(value) for name, value in values.items() if value is not None}


def document_figures(document: MetricsDocument, here: str) -> TelemetryFigures:
    """The figures a metrics document holds, for a report written to ``here`` (workspace-relative)."""
    from telemetry.reporters.summary_block import build_summary_block

    memory, network, cpu, disk = (
        document.memory_metrics,
        document.network_metrics,
        document.cpu_metrics,
        document.disk_metrics,
    )
    performance = document.performance_metrics
    return TelemetryFigures(
        directory=here,
        duration_seconds=float(document.build_session.duration_seconds_exact),
        peak_memory_mb=float(memory.peak_usage_mb_exact),
        peak_memory_source=memory.peak_source,
        network_downloaded_bytes=network.bytes_downloaded,
        network_uploaded_bytes=network.bytes_uploaded,
        network_interface=network.interface,
        cpu_user_seconds=cpu.user_seconds,
        cpu_system_seconds=cpu.system_seconds,
        cpu_average_percent=cpu.average_percent,
        disk_read_bytes=disk.read_bytes,
        disk_write_bytes=disk.write_bytes,
        regressions=tuple(performance.regressions_detected),
        baseline_comparison=_comparison(performance.baseline_comparison),
        performance_score=float(performance.performance_score),
        has_baseline=performance.baseline_available,
        baseline_saved=False,
        summary_block=build_summary_block(document, telemetry_dir=here),
        network_interface_shared=network.interface_shared,
        builder_downloaded_bytes=network.builder_downloaded_bytes,
        memory_layout=memory.layout,
    )


def figures(report: TelemetryReport, run: RunData, workspace: Path, directory: Path) -> TelemetryFigures:
    """Headline figures from the report; the run's own unrounded values where the file rounds."""
    doc = report.document
    here = relative_to_workspace(directory, workspace)
    reference = report.comparison.baseline
    return replace(
        document_figures(doc, here),
        duration_seconds=float(doc.build_session.duration_seconds_exact or run.duration_seconds),
        peak_memory_mb=float(doc.memory_metrics.peak_usage_mb_exact or run.memory.peak_mb),
        peak_memory_source=doc.memory_metrics.peak_source or run.memory.peak_source,
        cpu_user_seconds=run.cpu.user_seconds,
        cpu_system_seconds=run.cpu.system_seconds,
        cpu_average_percent=run.cpu.average_percent,
        disk_read_bytes=run.disk.read_bytes,
        disk_write_bytes=run.disk.write_bytes,
        regressions=tuple(report.regressions),
        performance_score=float(report.score),
        baseline_saved=report.baseline_saved,
        # The block names the folder as the report saw it (absolute in the container); later steps
        # run outside the container and need it relative to the workspace.
        summary_block=replace(report.summary_block, telemetry_dir=here),
        files=tuple(relative_to_workspace(p, workspace) for p in report.paths.values()),
        cgroup_peak_mb=next(
            (f.value_mb for f in run.memory.figures if f.source == MemorySource.CGROUP_PEAK_WITH_PAGE_CACHE),
            None,
        ),
        memory_layout=run.memory.layout,
        comparison_basis=report.comparison.basis,
        baseline_runs=report.comparison.reference_runs if report.comparison.baseline else 0,
        reference_duration_seconds=reference.duration_seconds if reference else None,
        reference_peak_memory_mb=reference.peak_memory_mb if reference else None,
    )


def failure_info(analysis: FailureAnalysis) -> FailureInfo:
    """The report's primary failure in the action's terms (the signal by number, not name)."""
    from telemetry.failures import signal_number

    return FailureInfo(
        category=analysis.category,
        reason=analysis.reason,
        stage=analysis.stage,
        remediation=analysis.remediation,
        exit_code=analysis.exit_code,
        signal=signal_number(analysis.signal),
        transient=analysis.transient,
    )


def with_builder_error(run: RunData, error: FailureInfo | None) -> RunData:
    """``run`` plus the builder's structured pre-job error as a failure event, if it lacks one.

    A builder that stops before any job (a configuration error, say) reports it in its result
    file; if no categorised failure event reached the session, telemetry would classify only
    the exit status and log ("unknown"). Handing it the structured error keeps metrics.json,
    the build-summary block and the outputs naming the same category.
    """
    if error is None or any(event.category for event in run.failures):
        return run
    from dataclasses import replace

    from telemetry.model import FailureEvent

    event = FailureEvent(
        stage=error.stage or "build",
        reason=error.reason,
        code=f"{error.category}_error",
        time=run.end_time,
        category=error.category,
        transient=error.transient,
        remediation=error.remediation,
    )
    return replace(run, failures=(*run.failures, event))


def write_report(
    run: RunData,
    inputs: ActionInputs,
    *,
    packages_built: int,
    packages_failed: int,
    builder_error: FailureInfo | None = None,
    history: HistoryPlan | None = None,
) -> tuple[TelemetryFigures, FailureInfo | None, tuple[str, ...]]:
    """Write every telemetry file; returns the figures, the primary failure and any warnings."""
    # Imported here, after the build: the report's failure rules and schemas load jsonschema,
    # which would otherwise delay the build's start by about 0.1 s.
    from telemetry.publish_files import write_all

    if not run.outcome.cancelled:
        run = with_builder_error(run, builder_error)
    report = write_all(
        run,
        telemetry_dir=inputs.telemetry_dir.absolute,
        packages_built=packages_built,
        packages_failed=packages_failed,
        threshold=inputs.regression_threshold,
        save_baseline=inputs.save_baseline,
        reference=history.reference if history else None,
        workspace_baseline=history.workspace_baseline if history else True,
    )
    return (
        figures(report, run, inputs.workspace, inputs.telemetry_dir.absolute),
        failure_info(report.analysis) if report.analysis is not None else None,
        report.warnings,
    )
