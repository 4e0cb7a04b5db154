"""metrics.prom: Prometheus text exposition (node_exporter textfile collector format).

Generated with prometheus_client on a private ``CollectorRegistry`` (never the
process-wide default registry: no global state, and two reports in one process
never mix). The guide's two names, ``build_duration_seconds`` and
``peak_memory_mb``, are kept as it echoes them; everything else is prefixed
``build_``. Values are unrounded floats, not the integers of metrics.json.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from telemetry.events import CATEGORIES
from telemetry.failures import RUN_STATUSES
from telemetry.reporters.atomic import atomic_write_bytes


def _gauge(registry: CollectorRegistry, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
    return Gauge(name, doc, labelnames=tuple(labels), registry=registry)


def render(metrics: Mapping[str, Any]) -> bytes:
    reg = CollectorRegistry(auto_describe=True)
    session = metrics["build_session"]
    memory = metrics["memory_metrics"]
    network = metrics["network_metrics"]
    cpu = metrics["cpu_metrics"]
    disk = metrics["disk_metrics"]
    build = metrics["build_metrics"]
    perf = metrics["performance_metrics"]

    _gauge(reg, "build_duration_seconds", "Wall time of the build in seconds").set(
        session["duration_seconds_exact"]
    )
    _gauge(reg, "peak_memory_mb", "Peak memory of the build's process tree in MB (see peak_source)").set(
        memory["peak_usage_mb_exact"]
    )
    _gauge(reg, "build_start_time_seconds", "Unix time the build started").set(session["start_timestamp"])
    _gauge(reg, "build_cpu_cores", "Usable CPU cores").set(session["cpu_cores"])
    _gauge(reg, "build_memory_total_mb", "Total memory of the machine in MB").set(session["memory_total_mb"])
    peak_by_source = _gauge(reg, "build_peak_memory_by_source_mb", "Every peak memory estimate", ["source"])
    for figure in memory["peak_figures"]:
        peak_by_source.labels(source=figure["source"]).set(figure["value_mb"])
    _gauge(reg, "build_system_memory_used_peak_mb", "Peak of the whole system's used memory in MB").set(
        memory["system_used_peak_mb"]
    )

    iface = network["interface"]
    _gauge(reg, "build_network_downloaded_bytes", "Bytes received during the build", ["interface"]).labels(
        interface=iface
    ).set(network["bytes_downloaded"])
    _gauge(reg, "build_network_uploaded_bytes", "Bytes sent during the build", ["interface"]).labels(
        interface=iface
    ).set(network["bytes_uploaded"])
    _gauge(reg, "build_network_connections", "Distinct remote endpoints contacted").set(
        network["connection_count"]
    )
    # Absent when unknown, rather than a made-up value.
    shared = network.get("interface_shared")
    if shared is not None:
        _gauge(
            reg,
            "build_network_interface_shared",
            "1 when other processes share the measured interface (its counters include their traffic)",
        ).set(1 if shared else 0)
    builder = network.get("builder_downloaded_bytes")
    if builder is not None:
        _gauge(
            reg, "build_network_builder_downloaded_bytes", "Bytes the build reported downloading itself"
        ).set(builder)

    cpu_seconds = _gauge(reg, "build_cpu_seconds", "CPU time of the build's process tree", ["mode"])
    cpu_seconds.labels(mode="user").set(cpu["user_seconds"])
    cpu_seconds.labels(mode="system").set(cpu["system_seconds"])
    _gauge(reg, "build_cpu_average_percent", "Average CPU of the tree (100 = one core)").set(
        cpu["average_percent"]
    )
    _gauge(reg, "build_cpu_peak_percent", "Peak CPU of the tree (100 = one core)").set(cpu["peak_percent"])
    _gauge(reg, "build_disk_read_bytes", "Bytes read during the build").set(disk["read_bytes"])
    _gauge(reg, "build_disk_written_bytes", "Bytes written during the build").set(disk["write_bytes"])
    free = _gauge(reg, "build_disk_free_bytes", "Free bytes where the build writes", ["when"])
    free.labels(when="before").set(disk["free_before_bytes"])
    free.labels(when="after").set(disk["free_after_bytes"])

    _gauge(reg, "build_packages_built", "Packages built").set(build["packages_built"])
    _gauge(reg, "build_packages_failed", "Packages that failed").set(build["packages_failed"])
    status = _gauge(reg, "build_status", "1 for the outcome of the build, 0 for the others", ["status"])
    for name in RUN_STATUSES:
        status.labels(status=name).set(1 if build["status"] == name else 0)
    failure = _gauge(reg, "build_failure", "1 for the failure category of a failed build", ["category"])
    for name in CATEGORIES:
        failure.labels(category=name).set(1 if build["failure_category"] == name else 0)

    stage_duration = _gauge(
        reg, "build_stage_duration_seconds", "Duration of each build stage", ["stage", "status"]
    )
    stage_memory = _gauge(
        reg, "build_stage_peak_memory_mb", "Peak tree memory while the stage ran", ["stage"]
    )
    for stage in build["build_stages"]:
        stage_duration.labels(stage=stage["name"], status=stage["status"]).set(stage["duration_seconds"])
        stage_memory.labels(stage=stage["name"]).set(stage["peak_memory_mb"])

    _gauge(reg, "build_performance_score", "100 minus the largest regression percent, 0-100").set(
        perf["performance_score"]
    )
    _gauge(reg, "build_regressions_detected", "Number of performance regressions against the baseline").set(
        len(perf["regressions_detected"])
    )
    diff = _gauge(reg, "build_baseline_diff_percent", "Change against the baseline in percent", ["metric"])
    for metric_name, key in (("duration", "duration_diff_percent"), ("memory", "memory_diff_percent")):
        value = perf["baseline_comparison"][key]
        if value is not None:
            diff.labels(metric=metric_name).set(value)
    return bytes(generate_latest(reg))


def write(path: Path, metrics: Mapping[str, Any]) -> None:
    # prometheus_client's write_to_textfile renames but does not fsync; ours does both.
    atomic_write_bytes(path, render(metrics))
