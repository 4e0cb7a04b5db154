"""metrics.json in the guide's structure, with our extras beside the guide's fields.

Types follow the guide's shell snippets: every figure a snippet may compare
with ``[ "$X" -gt N ]`` (durations, peak memory, totals, byte counts) is an
integer, rounded half away from zero. The unrounded value sits beside it with an
``_exact`` suffix (unrounded, not more accurate than the measurement) where the
rounding loses something that matters (durations, the peak). Sample series keep
their decimals: no snippet compares them.

``build_metrics`` turns a ``RunData`` into a ``MetricsDocument`` (one builder per
section); ``write`` serialises it, the one way metrics.json is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from contracts.fileio import atomic_write_text
from contracts.vocabulary import METRICS_FILE, RunStatus
from telemetry.baseline import Comparison, Noise, round_half_away
from telemetry.failures import FailureAnalysis, signal_name
from telemetry.metrics_doc import (
    SCHEMA_VERSION,
    BuildMetrics,
    BuildSession,
    InterfaceBytes,
    MemoryMetrics,
    MetricsDocument,
    NetworkMetrics,
    PerformanceMetrics,
    StageEntry,
)
from telemetry.model import (
    CpuResult,
    CpuSample,
    DiskResult,
    DiskSample,
    MemoryResult,
    MemorySample,
    NetworkResult,
    NetworkSample,
    PeakFigure,
    RunData,
    StageRecord,
)
from telemetry.reporters.interface import ReportInput
from telemetry.samplers.memory import SOURCE_TEXT


def iso_time(timestamp: float) -> str:
    """The guide's timestamp format: local time with a numeric offset, "2025-01-18T10:30:00+0530"."""
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")


def _r(value: float, digits: int = 1) -> float:
    # JSON has no NaN/inf (metrics.json is written with allow_nan=False): a
    # non-finite figure from a broken sampler is reported as 0, never a crash.
    number = float(value)
    return round(number, digits) if math.isfinite(number) else 0.0


def _i(value: float) -> int:
    number = float(value)
    return round_half_away(number) if math.isfinite(number) else 0


def stage_entry(stage: StageRecord) -> StageEntry:
    return StageEntry(
        name=stage.name,
        status=stage.status,
        duration=_i(stage.duration_seconds),
        duration_seconds=_r(stage.duration_seconds, 3),
        start_time=iso_time(stage.start_time),
        end_time=iso_time(stage.end_time),
        message=stage.message,
        peak_memory_mb=_r(stage.peak_memory_mb),
        cpu_seconds=_r(stage.cpu_seconds, 3),
        average_cpu_percent=_r(stage.average_cpu_percent),
    )


def _session(run: RunData) -> BuildSession:
    system = run.system
    return BuildSession(
        start_time=iso_time(run.start_time),
        end_time=iso_time(run.end_time),
        duration_seconds=_i(run.duration_seconds),
        duration_seconds_exact=_r(run.duration_seconds, 3),
        start_timestamp=_r(run.start_time, 3),
        end_timestamp=_r(run.end_time, 3),
        hostname=system.hostname,
        os_info=system.os_info,
        cpu_cores=system.cpu_cores,
        memory_total_mb=_i(system.memory_total_mb),
        disk_available_gb=_i(system.disk_available_gb),
        disk_available_gb_exact=_r(system.disk_available_gb, 2),
    )


def _memory(memory: MemoryResult) -> MemoryMetrics:
    return MemoryMetrics(
        peak_usage_mb=_i(memory.peak_mb),
        peak_usage_mb_exact=_r(memory.peak_mb, 2),
        peak_source=memory.peak_source,
        peak_source_description=SOURCE_TEXT.get(memory.peak_source, ""),
        layout=memory.layout,
        peak_figures=tuple(PeakFigure(f.source, _r(f.value_mb, 2)) for f in memory.figures),
        system_used_peak_mb=_r(memory.system_used_peak_mb),
        samples=tuple(
            MemorySample(
                timestamp=_r(s.timestamp, 3),
                memory_mb=_r(s.memory_mb),
                system_used_mb=_r(s.system_used_mb),
                tree_rss_mb=None if s.tree_rss_mb is None else _r(s.tree_rss_mb),
            )
            for s in memory.samples
        ),
    )


def _network(network: NetworkResult) -> NetworkMetrics:
    builder = network.builder_downloaded_bytes
    return NetworkMetrics(
        bytes_downloaded=int(network.bytes_downloaded),
        bytes_uploaded=int(network.bytes_uploaded),
        interface=network.interface,
        connection_count=int(network.connection_count),
        interface_shared=network.interface_shared,
        builder_downloaded_bytes=None if builder is None else int(builder),
        per_interface={
            name: InterfaceBytes(int(rx), int(tx)) for name, (rx, tx) in sorted(network.per_interface.items())
        },
        samples=tuple(
            NetworkSample(_r(s.timestamp, 3), s.bytes_received, s.bytes_sent) for s in network.samples
        ),
    )


def _cpu(cpu: CpuResult) -> CpuResult:
    return CpuResult(
        user_seconds=_r(cpu.user_seconds, 3),
        system_seconds=_r(cpu.system_seconds, 3),
        average_percent=_r(cpu.average_percent),
        peak_percent=_r(cpu.peak_percent),
        system_average_percent=_r(cpu.system_average_percent),
        samples=tuple(
            CpuSample(_r(s.timestamp, 3), _r(s.tree_percent), _r(s.system_percent)) for s in cpu.samples
        ),
    )


def _disk(disk: DiskResult) -> DiskResult:
    return DiskResult(
        read_bytes=int(disk.read_bytes),
        write_bytes=int(disk.write_bytes),
        path=disk.path,
        free_before_bytes=int(disk.free_before_bytes),
        free_after_bytes=int(disk.free_after_bytes),
        source=disk.source,
        samples=tuple(DiskSample(_r(s.timestamp, 3), s.read_bytes, s.write_bytes) for s in disk.samples),
    )


def _build(
    run: RunData,
    status: RunStatus,
    primary: FailureAnalysis | None,
    packages_built: int,
    packages_failed: int,
) -> BuildMetrics:
    return BuildMetrics(
        status=status,
        exit_code=run.outcome.exit_code,
        signal=signal_name(run.outcome.signal),
        failure_category=primary.category if primary else "",
        failure_stage=primary.stage if primary else "",
        failure_reason=primary.reason if primary else "",
        packages_built=int(packages_built),
        packages_failed=int(packages_failed),
        build_stages=tuple(stage_entry(s) for s in run.stages),
        counters={k: run.counters[k] for k in sorted(run.counters)},
    )


def _performance(comparison: Comparison) -> PerformanceMetrics:
    thresholds = comparison.thresholds
    return PerformanceMetrics(
        regressions_detected=tuple(comparison.regressions),
        baseline_comparison=comparison.baseline_diff(),
        performance_score=comparison.performance_score,
        baseline_available=comparison.baseline is not None,
        baseline_saved_at=comparison.baseline.saved_at if comparison.baseline else None,
        baseline_problem=comparison.baseline_problem,
        threshold_percent=thresholds.regression_percent,
        noise_floors=Noise(thresholds.duration_floor_seconds, thresholds.memory_floor_mb),
    )


def build_metrics(
    run: RunData,
    *,
    status: RunStatus,
    analysis: Sequence[FailureAnalysis],
    packages_built: int,
    packages_failed: int,
    comparison: Comparison,
) -> MetricsDocument:
    primary = analysis[0] if analysis else None
    return MetricsDocument(
        schema_version=SCHEMA_VERSION,
        build_session=_session(run),
        memory_metrics=_memory(run.memory),
        network_metrics=_network(run.network),
        cpu_metrics=_cpu(run.cpu),
        disk_metrics=_disk(run.disk),
        build_metrics=_build(run, status, primary, packages_built, packages_failed),
        performance_metrics=_performance(comparison),
        failure_analysis=primary,
        sampler_errors=tuple(run.sampler_errors),
    )


def render(document: MetricsDocument) -> str:
    # ensure_ascii=False keeps non-ASCII log lines readable; the file is UTF-8. No NaN: jq refuses it.
    return json.dumps(document.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write(document: MetricsDocument, directory: Path) -> Path:
    path = directory / METRICS_FILE
    atomic_write_text(path, render(document))
    return path


class MetricsJsonReporter:
    file_name = METRICS_FILE

    def write(self, report: ReportInput, directory: Path) -> Mapping[str, Path]:
        return {"metrics_json": write(report.document, directory)}
