"""metrics.prom: Prometheus text exposition (node_exporter textfile collector format).

Generated with prometheus_client on a private ``CollectorRegistry`` (never the
process-wide default registry: no global state, and two reports in one process
never mix). The guide's two names, ``build_duration_seconds`` and
``peak_memory_mb``, are kept as it echoes them; everything else is prefixed
``build_``. Values are unrounded floats, not the integers of metrics.json.
Families appear in the order they are registered here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from contracts.fileio import atomic_write_bytes
from contracts.vocabulary import PROMETHEUS_FILE, FailureCategory, RunStatus
from telemetry.metrics_doc import MetricsDocument
from telemetry.reporters.interface import ReportInput


def _gauge(registry: CollectorRegistry, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
    return Gauge(name, doc, labelnames=tuple(labels), registry=registry)


def _plain(registry: CollectorRegistry, gauges: Iterable[tuple[str, str, float | None]]) -> None:
    """Unlabelled gauges as (name, help, value); a None value leaves the family out (unknown)."""
    for name, doc, value in gauges:
        if value is not None:
            _gauge(registry, name, doc).set(value)


def _one_hot(
    registry: CollectorRegistry, name: str, doc: str, label: str, names: Iterable[str], on: str
) -> None:
    gauge = _gauge(registry, name, doc, [label])
    for value in names:
        gauge.labels(**{label: value}).set(1 if on == value else 0)


def _session_and_memory(reg: CollectorRegistry, doc: MetricsDocument) -> None:
    session = doc.build_session
    memory = doc.memory_metrics
    _plain(
        reg,
        (
            ("build_duration_seconds", "Wall time of the build in seconds", session.duration_seconds_exact),
            (
                "peak_memory_mb",
                "Peak memory of the build's process tree in MB (see peak_source)",
                memory.peak_usage_mb_exact,
            ),
            ("build_start_time_seconds", "Unix time the build started", session.start_timestamp),
            ("build_cpu_cores", "Usable CPU cores", session.cpu_cores),
            ("build_memory_total_mb", "Total memory of the machine in MB", session.memory_total_mb),
        ),
    )
    peak_by_source = _gauge(reg, "build_peak_memory_by_source_mb", "Every peak memory estimate", ["source"])
    for figure in memory.peak_figures:
        peak_by_source.labels(source=figure.source).set(figure.value_mb)
    _plain(
        reg,
        (
            (
                "build_system_memory_used_peak_mb",
                "Peak of the whole system's used memory in MB",
                memory.system_used_peak_mb,
            ),
        ),
    )


def _network(reg: CollectorRegistry, doc: MetricsDocument) -> None:
    network = doc.network_metrics
    for name, help_text, value in (
        ("build_network_downloaded_bytes", "Bytes received during the build", network.bytes_downloaded),
        ("build_network_uploaded_bytes", "Bytes sent during the build", network.bytes_uploaded),
    ):
        _gauge(reg, name, help_text, ["interface"]).labels(interface=network.interface).set(value)
    shared = network.interface_shared
    # Absent when unknown, rather than a made-up value.
    _plain(
        reg,
        (
            ("build_network_connections", "Distinct remote endpoints contacted", network.connection_count),
            (
                "build_network_interface_shared",
                "1 when other processes share the measured interface (its counters include their traffic)",
                None if shared is None else (1 if shared else 0),
            ),
            (
                "build_network_builder_downloaded_bytes",
                "Bytes the build reported downloading itself",
                network.builder_downloaded_bytes,
            ),
        ),
    )


def _cpu_and_disk(reg: CollectorRegistry, doc: MetricsDocument) -> None:
    cpu = doc.cpu_metrics
    disk = doc.disk_metrics
    cpu_seconds = _gauge(reg, "build_cpu_seconds", "CPU time of the build's process tree", ["mode"])
    cpu_seconds.labels(mode="user").set(cpu.user_seconds)
    cpu_seconds.labels(mode="system").set(cpu.system_seconds)
    _plain(
        reg,
        (
            ("build_cpu_average_percent", "Average CPU of the tree (100 = one core)", cpu.average_percent),
            ("build_cpu_peak_percent", "Peak CPU of the tree (100 = one core)", cpu.peak_percent),
            ("build_disk_read_bytes", "Bytes read during the build", disk.read_bytes),
            ("build_disk_written_bytes", "Bytes written during the build", disk.write_bytes),
        ),
    )
    free = _gauge(reg, "build_disk_free_bytes", "Free bytes where the build writes", ["when"])
    free.labels(when="before").set(disk.free_before_bytes)
    free.labels(when="after").set(disk.free_after_bytes)


def _build(reg: CollectorRegistry, doc: MetricsDocument) -> None:
    build = doc.build_metrics
    _plain(
        reg,
        (
            ("build_packages_built", "Packages built", build.packages_built),
            ("build_packages_failed", "Packages that failed", build.packages_failed),
        ),
    )
    _one_hot(
        reg,
        "build_status",
        "1 for the outcome of the build, 0 for the others",
        "status",
        RunStatus,
        build.status,
    )
    _one_hot(
        reg,
        "build_failure",
        "1 for the failure category of a failed build",
        "category",
        FailureCategory,
        build.failure_category,
    )
    stage_duration = _gauge(
        reg, "build_stage_duration_seconds", "Duration of each build stage", ["stage", "status"]
    )
    stage_memory = _gauge(
        reg, "build_stage_peak_memory_mb", "Peak tree memory while the stage ran", ["stage"]
    )
    for stage in build.build_stages:
        stage_duration.labels(stage=stage.name, status=stage.status).set(stage.duration_seconds)
        stage_memory.labels(stage=stage.name).set(stage.peak_memory_mb)


def _performance(reg: CollectorRegistry, doc: MetricsDocument) -> None:
    perf = doc.performance_metrics
    _plain(
        reg,
        (
            (
                "build_performance_score",
                "100 minus the largest regression percent, 0-100",
                perf.performance_score,
            ),
            (
                "build_regressions_detected",
                "Number of performance regressions against the baseline",
                len(perf.regressions_detected),
            ),
        ),
    )
    diff = _gauge(reg, "build_baseline_diff_percent", "Change against the baseline in percent", ["metric"])
    comparison = perf.baseline_comparison
    for metric_name, value in (
        ("duration", comparison.duration_diff_percent),
        ("memory", comparison.memory_diff_percent),
    ):
        if value is not None:
            diff.labels(metric=metric_name).set(value)


def render(document: MetricsDocument) -> bytes:
    registry = CollectorRegistry(auto_describe=True)
    for section in (_session_and_memory, _network, _cpu_and_disk, _build, _performance):
        section(registry, document)
    return bytes(generate_latest(registry))


class PrometheusReporter:
    file_name = PROMETHEUS_FILE

    def write(self, report: ReportInput, directory: Path) -> Mapping[str, Path]:
        # prometheus_client's write_to_textfile renames but does not fsync; ours does both.
        path = directory / self.file_name
        atomic_write_bytes(path, render(report.document))
        return {"metrics_prom": path}
