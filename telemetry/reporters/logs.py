"""The guide's human-readable files: build-telemetry.log and build-stages.log.

Both are rewritten whole (atomically) at the end of a run from the same
metrics dict as metrics.json, so the three never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from telemetry.reporters.atomic import atomic_write_text


def _human_bytes(count: float) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def render_stages(stages: Sequence[Mapping[str, Any]]) -> str:
    """One line per stage: start time, name, status, duration, peak memory, CPU, message.

    Tab-separated after a header line so ``cut -f`` and ``awk -F'\\t'`` work.
    """
    lines = ["# start_time\tstage\tstatus\tduration_seconds\tpeak_memory_mb\tcpu_seconds\tmessage"]
    for s in stages:
        message = str(s["message"]).replace("\t", " ").replace("\n", " ")
        lines.append(
            f"{s['start_time']}\t{s['name']}\t{s['status']}\t{s['duration_seconds']}\t"
            f"{s['peak_memory_mb']}\t{s['cpu_seconds']}\t{message}"
        )
    return "\n".join(lines) + "\n"


def render_telemetry_log(metrics: Mapping[str, Any]) -> str:
    session = metrics["build_session"]
    memory = metrics["memory_metrics"]
    network = metrics["network_metrics"]
    cpu = metrics["cpu_metrics"]
    disk = metrics["disk_metrics"]
    build = metrics["build_metrics"]
    perf = metrics["performance_metrics"]
    out: list[str] = []
    add = out.append
    add("Build telemetry")
    add("===============")
    add(f"Status:           {build['status']}")
    add(f"Started:          {session['start_time']}")
    add(f"Finished:         {session['end_time']}")
    add(f"Duration:         {session['duration_seconds_exact']} s")
    add(f"Host:             {session['hostname']} ({session['os_info']})")
    add(
        f"System:           {session['cpu_cores']} cores, {session['memory_total_mb']} MB memory, "
        f"{session['disk_available_gb_exact']} GB free"
    )
    add(f"Packages:         {build['packages_built']} built, {build['packages_failed']} failed")
    add("")
    add("Memory")
    add(f"  Peak:           {memory['peak_usage_mb_exact']} MB (source: {memory['peak_source']})")
    for figure in memory["peak_figures"]:
        add(f"    {figure['source']:<24} {figure['value_mb']} MB")
    add(f"  System used peak: {memory['system_used_peak_mb']} MB")
    add(f"  Samples:        {len(memory['samples'])}")
    add("CPU")
    add(f"  User/system:    {cpu['user_seconds']} s / {cpu['system_seconds']} s")
    add(f"  Average/peak:   {cpu['average_percent']} % / {cpu['peak_percent']} % (100 = one core)")
    add("Network")
    add(
        f"  Downloaded:     {network['bytes_downloaded']} bytes ({_human_bytes(network['bytes_downloaded'])})"
        f" on {network['interface']}"
    )
    add(f"  Uploaded:       {network['bytes_uploaded']} bytes ({_human_bytes(network['bytes_uploaded'])})")
    add(f"  Connections:    {network['connection_count']}")
    add(f"  Interface:      {_sharing(network.get('interface_shared'), network['interface'])}")
    builder = network.get("builder_downloaded_bytes")
    if builder is not None:
        add(f"  Builder downloaded: {builder} bytes ({_human_bytes(builder)})")
    else:
        add("  Builder downloaded: not reported by this build")
    add("Disk")
    add(
        f"  Read/written:   {_human_bytes(disk['read_bytes'])} / "
        f"{_human_bytes(disk['write_bytes'])} ({disk['source']})"
    )
    add(
        f"  Free at {disk['path']}: {_human_bytes(disk['free_before_bytes'])} before, "
        f"{_human_bytes(disk['free_after_bytes'])} after"
    )
    add("")
    add("Stages")
    if not build["build_stages"]:
        add("  (none recorded)")
    for s in build["build_stages"]:
        extra = f" - {s['message']}" if s["message"] else ""
        add(
            f"  {s['name']:<32} {s['status']:<10} {s['duration_seconds']:>9} s  "
            f"{s['peak_memory_mb']} MB{extra}"
        )
    analysis = metrics.get("failure_analysis")
    if analysis:
        add("")
        add("Failure")
        add(
            f"  Category:       {analysis['category']} "
            f"({'transient' if analysis['transient'] else 'permanent'})"
        )
        add(f"  Stage:          {analysis['stage']}")
        if analysis["exit_code"] is not None:
            add(f"  Exit code:      {analysis['exit_code']}")
        if analysis["signal"]:
            add(f"  Signal:         {analysis['signal']}")
        add(f"  Matched:        {analysis['matched_rule'] or '(no rule)'}")
        add("  Reason:")
        out.extend(f"    {line}" for line in str(analysis["reason"]).splitlines() or [""])
        add("  Remediation:")
        out.extend(f"    - {step}" for step in analysis["remediation"])
    add("")
    add("Performance")
    if perf["baseline_problem"]:
        add(f"  Baseline problem: {perf['baseline_problem']}")
    if not perf["baseline_available"]:
        add("  No baseline to compare with.")
    else:
        cmp = perf["baseline_comparison"]
        add(f"  Duration vs baseline: {_signed(cmp['duration_diff_percent'])}")
        add(f"  Memory vs baseline:   {_signed(cmp['memory_diff_percent'])}")
    for message in perf["regressions_detected"]:
        add(f"  REGRESSION: {message}")
    add(f"  Performance score: {perf['performance_score']}")
    if metrics.get("sampler_errors"):
        add("")
        add("Sampler errors (skipped)")
        out.extend(f"  {e}" for e in metrics["sampler_errors"])
    return "\n".join(out) + "\n"


def _sharing(shared: object, interface: str) -> str:
    """What the interface counters include, in words."""
    where = "loopback only (traffic inside this machine); " if interface == "lo" else ""
    if shared is True:
        return where + "shared with other processes: the counters include other traffic on this machine"
    if shared is False:
        return where + "the build's own network namespace: no other traffic included"
    return where + "could not tell whether it is shared: the counters may include other traffic"


def _signed(value: int | None) -> str:
    return "n/a" if value is None else f"{value:+d}%"


def write(telemetry_dir: Path, metrics: Mapping[str, Any]) -> tuple[Path, Path]:
    log_path = telemetry_dir / "build-telemetry.log"
    stages_path = telemetry_dir / "build-stages.log"
    atomic_write_text(log_path, render_telemetry_log(metrics))
    atomic_write_text(stages_path, render_stages(metrics["build_metrics"]["build_stages"]))
    return log_path, stages_path
