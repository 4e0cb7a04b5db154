"""The guide's human-readable files: build-telemetry.log and build-stages.log.

Both are rewritten whole (atomically) at the end of a run from the same
document as metrics.json, so the three never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from contracts.fileio import atomic_write_text
from contracts.vocabulary import STAGES_LOG_FILE, TELEMETRY_LOG_FILE
from telemetry.failures import FailureAnalysis
from telemetry.metrics_doc import MetricsDocument, PerformanceMetrics, StageEntry
from telemetry.reporters.interface import ReportInput

LOOPBACK_INTERFACE: Final = "lo"


def _human_bytes(count: float) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def render_stages(stages: Sequence[StageEntry]) -> str:
    """One line per stage: start time, name, status, duration, peak memory, CPU, message.

    Tab-separated after a header line so ``cut -f`` and ``awk -F'\\t'`` work.
    """
    lines = ["# start_time\tstage\tstatus\tduration_seconds\tpeak_memory_mb\tcpu_seconds\tmessage"]
    for s in stages:
        message = s.message.replace("\t", " ").replace("\n", " ")
        lines.append(
            f"{s.start_time}\t{s.name}\t{s.status}\t{s.duration_seconds}\t"
            f"{s.peak_memory_mb}\t{s.cpu_seconds}\t{message}"
        )
    return "\n".join(lines) + "\n"


def _overview(doc: MetricsDocument) -> list[str]:
    session = doc.build_session
    build = doc.build_metrics
    return [
        "Build telemetry",
        "===============",
        f"Status:           {build.status}",
        f"Started:          {session.start_time}",
        f"Finished:         {session.end_time}",
        f"Duration:         {session.duration_seconds_exact} s",
        f"Host:             {session.hostname} ({session.os_info})",
        f"System:           {session.cpu_cores} cores, {session.memory_total_mb} MB memory, "
        f"{session.disk_available_gb_exact} GB free",
        f"Packages:         {build.packages_built} built, {build.packages_failed} failed",
        "",
    ]


def _resources(doc: MetricsDocument) -> list[str]:
    memory = doc.memory_metrics
    cpu = doc.cpu_metrics
    disk = doc.disk_metrics
    return [
        "Memory",
        f"  Peak:           {memory.peak_usage_mb_exact} MB (source: {memory.peak_source})",
        *(f"    {figure.source:<24} {figure.value_mb} MB" for figure in memory.peak_figures),
        f"  System used peak: {memory.system_used_peak_mb} MB",
        f"  Samples:        {len(memory.samples)}",
        "CPU",
        f"  User/system:    {cpu.user_seconds} s / {cpu.system_seconds} s",
        f"  Average/peak:   {cpu.average_percent} % / {cpu.peak_percent} % (100 = one core)",
        *_network(doc),
        "Disk",
        f"  Read/written:   {_human_bytes(disk.read_bytes)} / "
        f"{_human_bytes(disk.write_bytes)} ({disk.source})",
        f"  Free at {disk.path}: {_human_bytes(disk.free_before_bytes)} before, "
        f"{_human_bytes(disk.free_after_bytes)} after",
        "",
    ]


def _network(doc: MetricsDocument) -> list[str]:
    network = doc.network_metrics
    builder = network.builder_downloaded_bytes
    return [
        "Network",
        f"  Downloaded:     {network.bytes_downloaded} bytes ({_human_bytes(network.bytes_downloaded)})"
        f" on {network.interface}",
        f"  Uploaded:       {network.bytes_uploaded} bytes ({_human_bytes(network.bytes_uploaded)})",
        f"  Connections:    {network.connection_count}",
        f"  Interface:      {_sharing(network.interface_shared, network.interface)}",
        f"  Builder downloaded: {builder} bytes ({_human_bytes(builder)})"
        if builder is not None
        else "  Builder downloaded: not reported by this build",
    ]


def _stages(stages: Sequence[StageEntry]) -> list[str]:
    lines = ["Stages"]
    if not stages:
        lines.append("  (none recorded)")
    for s in stages:
        extra = f" - {s.message}" if s.message else ""
        lines.append(f"  {s.name:<32} {s.status:<10} {s.duration_seconds:>9} s  {s.peak_memory_mb} MB{extra}")
    return lines


def _failure(analysis: FailureAnalysis | None) -> list[str]:
    if not analysis:
        return []
    lines = [
        "",
        "Failure",
        f"  Category:       {analysis.category} ({'transient' if analysis.transient else 'permanent'})",
        f"  Stage:          {analysis.stage}",
    ]
    if analysis.exit_code is not None:
        lines.append(f"  Exit code:      {analysis.exit_code}")
    if analysis.signal:
        lines.append(f"  Signal:         {analysis.signal}")
    lines.append(f"  Matched:        {analysis.matched_rule or '(no rule)'}")
    lines.append("  Reason:")
    lines.extend(f"    {line}" for line in analysis.reason.splitlines() or [""])
    lines.append("  Remediation:")
    lines.extend(f"    - {step}" for step in analysis.remediation)
    return lines


def _performance(perf: PerformanceMetrics) -> list[str]:
    lines = ["", "Performance"]
    if perf.baseline_problem:
        lines.append(f"  Baseline problem: {perf.baseline_problem}")
    if not perf.baseline_available:
        lines.append("  No baseline to compare with.")
    else:
        diff = perf.baseline_comparison
        lines.append(f"  Duration vs baseline: {_signed(diff.duration_diff_percent)}")
        lines.append(f"  Memory vs baseline:   {_signed(diff.memory_diff_percent)}")
    lines.extend(f"  REGRESSION: {message}" for message in perf.regressions_detected)
    lines.append(f"  Performance score: {perf.performance_score}")
    return lines


def _sampler_errors(errors: Sequence[str]) -> list[str]:
    if not errors:
        return []
    return ["", "Sampler errors (skipped)", *(f"  {e}" for e in errors)]


def render_telemetry_log(doc: MetricsDocument) -> str:
    out = [
        *_overview(doc),
        *_resources(doc),
        *_stages(doc.build_metrics.build_stages),
        *_failure(doc.failure_analysis),
        *_performance(doc.performance_metrics),
        *_sampler_errors(doc.sampler_errors),
    ]
    return "\n".join(out) + "\n"


def _sharing(shared: bool | None, interface: str) -> str:
    """What the interface counters include, in words."""
    where = "loopback only (traffic inside this machine); " if interface == LOOPBACK_INTERFACE else ""
    if shared is True:
        return where + "shared with other processes: the counters include other traffic on this machine"
    if shared is False:
        return where + "the build's own network namespace: no other traffic included"
    return where + "could not tell whether it is shared: the counters may include other traffic"


def _signed(value: int | None) -> str:
    return "n/a" if value is None else f"{value:+d}%"


class LogsReporter:
    file_name = TELEMETRY_LOG_FILE

    def write(self, report: ReportInput, directory: Path) -> Mapping[str, Path]:
        log_path = directory / TELEMETRY_LOG_FILE
        stages_path = directory / STAGES_LOG_FILE
        atomic_write_text(log_path, render_telemetry_log(report.document))
        atomic_write_text(stages_path, render_stages(report.document.build_metrics.build_stages))
        return {"telemetry_log": log_path, "stages_log": stages_path}
