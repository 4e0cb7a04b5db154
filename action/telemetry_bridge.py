"""The one place where the action meets the telemetry package.

- ``run_session``: run the build through ``telemetry.session.Session``
  (samplers, stage channel, signal forwarding) and get its ``RunData``;
- ``write_report``: ``telemetry.report.write_all`` (metrics.json, logs,
  metrics.prom, baseline) and the figures the outputs and summaries show,
  read from the report's own ``metrics`` so every reporter shows the same numbers.

Imported only when telemetry is enabled, after inputs are validated; the
report (which pulls in jsonschema) only once the build has finished, so that
nothing but the session stands between the entrypoint and the build's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from action.builder_args import BuildInvocation
from action.inputs import ActionInputs
from action.outcome import FailureInfo, TelemetryFigures, relative_to_workspace

if TYPE_CHECKING:
    from telemetry.failures import FailureAnalysis
    from telemetry.model import RunData
    from telemetry.report import TelemetryReport


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


def _get(mapping: Mapping[str, Any], *keys: str) -> Any:
    value: Any = mapping
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _optional_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _optional_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def figures(report: TelemetryReport, run: RunData, workspace: Path, directory: Path) -> TelemetryFigures:
    """Headline figures from the report; exact values where metrics.json keeps them beside rounded ones."""
    m = report.metrics
    comparison = _get(m, "performance_metrics", "baseline_comparison")
    block = dict(report.summary_block)
    # The block names the folder as the report saw it (absolute in the container); later steps
    # run outside the container and need it relative to the workspace.
    block["telemetry_dir"] = relative_to_workspace(directory, workspace)
    return TelemetryFigures(
        directory=relative_to_workspace(directory, workspace),
        duration_seconds=_float(_get(m, "build_session", "duration_seconds_exact") or run.duration_seconds),
        peak_memory_mb=_float(_get(m, "memory_metrics", "peak_usage_mb_exact") or run.memory.peak_mb),
        peak_memory_source=str(_get(m, "memory_metrics", "peak_source") or run.memory.peak_source),
        network_downloaded_bytes=_int(_get(m, "network_metrics", "bytes_downloaded")),
        network_uploaded_bytes=_int(_get(m, "network_metrics", "bytes_uploaded")),
        network_interface=str(_get(m, "network_metrics", "interface") or ""),
        cpu_user_seconds=run.cpu.user_seconds,
        cpu_system_seconds=run.cpu.system_seconds,
        cpu_average_percent=run.cpu.average_percent,
        disk_read_bytes=run.disk.read_bytes,
        disk_write_bytes=run.disk.write_bytes,
        regressions=tuple(report.regressions),
        baseline_comparison={
            str(k): float(v)
            for k, v in (comparison.items() if isinstance(comparison, Mapping) else ())
            if isinstance(v, int | float)
        },
        performance_score=float(report.score),
        has_baseline=bool(_get(m, "performance_metrics", "baseline_available")),
        baseline_saved=report.baseline_saved,
        summary_block=block,
        files=tuple(relative_to_workspace(p, workspace) for p in report.paths.values()),
        network_interface_shared=_optional_bool(_get(m, "network_metrics", "interface_shared")),
        builder_downloaded_bytes=_optional_int(_get(m, "network_metrics", "builder_downloaded_bytes")),
        cgroup_peak_mb=next(
            (f.value_mb for f in run.memory.figures if f.source == "cgroup_peak_with_page_cache"), None
        ),
        memory_layout=run.memory.layout,
    )


def failure_info(analysis: FailureAnalysis | None) -> FailureInfo | None:
    if analysis is None:
        return None
    import signal as signal_module

    number: int | None = None
    if analysis.signal:
        try:
            number = int(signal_module.Signals[analysis.signal])
        except KeyError:
            number = None
    return FailureInfo(
        category=analysis.category,
        reason=analysis.reason,
        stage=analysis.stage,
        remediation=analysis.remediation,
        exit_code=analysis.exit_code,
        signal=number,
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
) -> tuple[TelemetryFigures, FailureInfo | None, tuple[str, ...]]:
    """Write every telemetry file; returns the figures, the primary failure and any warnings."""
    # Imported here, after the build: the report's failure rules and schemas load jsonschema,
    # which would otherwise delay the build's start by about 0.1 s.
    from telemetry.report import write_all

    if not run.outcome.cancelled:
        run = with_builder_error(run, builder_error)
    report = write_all(
        run,
        telemetry_dir=inputs.telemetry_dir.absolute,
        packages_built=packages_built,
        packages_failed=packages_failed,
        threshold=inputs.regression_threshold,
        save_baseline=inputs.save_baseline,
    )
    return (
        figures(report, run, inputs.workspace, inputs.telemetry_dir.absolute),
        failure_info(report.analysis),
        report.warnings,
    )
