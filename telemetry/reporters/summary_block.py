"""The ``telemetry`` block of build-summary.json, as the guide shows it plus extras.

The guide's six fields come first with the guide's types (integers for the
figures its shell snippets compare); extras follow and never rename them.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.vocabulary import RunStatus
from telemetry.metrics_doc import BaselineDiff, JsonObject, MetricsDocument, json_object


@dataclass(frozen=True)
class SummaryBlock:
    build_duration_seconds: int
    peak_memory_mb: int
    network_downloaded_bytes: int
    network_uploaded_bytes: int
    failure_category: str
    performance_regressions: tuple[str, ...]
    # extras
    status: RunStatus
    failure_stage: str
    failure_reason: str
    failure_transient: bool | None
    remediation: tuple[str, ...]
    regression_detected: bool
    performance_score: int
    baseline_comparison: BaselineDiff
    peak_memory_source: str
    network_interface: str
    cpu_seconds: float
    telemetry_dir: str

    def to_json(self) -> JsonObject:
        return json_object(self)


def build_summary_block(document: MetricsDocument, *, telemetry_dir: str) -> SummaryBlock:
    """Derived from metrics.json's document so the two files can never disagree."""
    build = document.build_metrics
    perf = document.performance_metrics
    analysis = document.failure_analysis
    cpu = document.cpu_metrics
    return SummaryBlock(
        build_duration_seconds=document.build_session.duration_seconds,
        peak_memory_mb=document.memory_metrics.peak_usage_mb,
        network_downloaded_bytes=document.network_metrics.bytes_downloaded,
        network_uploaded_bytes=document.network_metrics.bytes_uploaded,
        failure_category=build.failure_category,
        performance_regressions=perf.regressions_detected,
        status=build.status,
        failure_stage=build.failure_stage,
        failure_reason=build.failure_reason,
        failure_transient=analysis.transient if analysis else None,
        remediation=analysis.remediation if analysis else (),
        regression_detected=bool(perf.regressions_detected),
        performance_score=perf.performance_score,
        baseline_comparison=perf.baseline_comparison,
        peak_memory_source=document.memory_metrics.peak_source,
        network_interface=document.network_metrics.interface,
        cpu_seconds=round(cpu.user_seconds + cpu.system_seconds, 3),
        telemetry_dir=telemetry_dir,
    )
