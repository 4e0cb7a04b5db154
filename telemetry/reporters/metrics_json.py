"""metrics.json in the guide's structure, with our extras beside the guide's fields.

Types follow the guide's shell snippets: every figure a snippet may compare
with ``[ "$X" -gt N ]`` (durations, peak memory, totals, byte counts) is an
integer, rounded half away from zero. The unrounded value sits beside it with an
``_exact`` suffix (unrounded, not more accurate than the measurement) where the
rounding loses something that matters (durations, the peak). Sample series keep
their decimals: no snippet compares them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from telemetry.baseline import Comparison, round_half_away
from telemetry.failures import FailureAnalysis, signal_name
from telemetry.model import RunData, StageRecord
from telemetry.samplers.memory import SOURCE_TEXT

SCHEMA_VERSION: Final = 1


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


def stage_dict(stage: StageRecord) -> dict[str, Any]:
    return {
        "name": stage.name,
        "status": stage.status,
        "duration": _i(stage.duration_seconds),
        "duration_seconds": _r(stage.duration_seconds, 3),
        "start_time": iso_time(stage.start_time),
        "end_time": iso_time(stage.end_time),
        "message": stage.message,
        "peak_memory_mb": _r(stage.peak_memory_mb),
        "cpu_seconds": _r(stage.cpu_seconds, 3),
        "average_cpu_percent": _r(stage.average_cpu_percent),
    }


def build_metrics(
    run: RunData,
    *,
    status: str,
    analysis: Sequence[FailureAnalysis],
    packages_built: int,
    packages_failed: int,
    comparison: Comparison,
) -> dict[str, Any]:
    primary = analysis[0] if analysis else None
    system = run.system
    memory = run.memory
    outcome = run.outcome
    return {
        "schema_version": SCHEMA_VERSION,
        "build_session": {
            "start_time": iso_time(run.start_time),
            "end_time": iso_time(run.end_time),
            "duration_seconds": _i(run.duration_seconds),
            "duration_seconds_exact": _r(run.duration_seconds, 3),
            "start_timestamp": _r(run.start_time, 3),
            "end_timestamp": _r(run.end_time, 3),
            "hostname": system.hostname,
            "os_info": system.os_info,
            "cpu_cores": system.cpu_cores,
            "memory_total_mb": _i(system.memory_total_mb),
            "disk_available_gb": _i(system.disk_available_gb),
            "disk_available_gb_exact": _r(system.disk_available_gb, 2),
        },
        "memory_metrics": {
            "peak_usage_mb": _i(memory.peak_mb),
            "peak_usage_mb_exact": _r(memory.peak_mb, 2),
            "peak_source": memory.peak_source,
            "peak_source_description": SOURCE_TEXT.get(memory.peak_source, ""),
            "layout": memory.layout,
            "peak_figures": [{"source": f.source, "value_mb": _r(f.value_mb, 2)} for f in memory.figures],
            "system_used_peak_mb": _r(memory.system_used_peak_mb),
            "samples": [
                {
                    "timestamp": _r(s.timestamp, 3),
                    "memory_mb": _r(s.memory_mb),
                    "system_used_mb": _r(s.system_used_mb),
                    "tree_rss_mb": None if s.tree_rss_mb is None else _r(s.tree_rss_mb),
                }
                for s in memory.samples
            ],
        },
        "network_metrics": {
            "bytes_downloaded": int(run.network.bytes_downloaded),
            "bytes_uploaded": int(run.network.bytes_uploaded),
            "interface": run.network.interface,
            "connection_count": int(run.network.connection_count),
            # Whether the counters above include other processes' traffic (null: unknown).
            "interface_shared": run.network.interface_shared,
            "builder_downloaded_bytes": (
                None
                if run.network.builder_downloaded_bytes is None
                else int(run.network.builder_downloaded_bytes)
            ),
            "per_interface": {
                name: {"bytes_received": int(rx), "bytes_sent": int(tx)}
                for name, (rx, tx) in sorted(run.network.per_interface.items())
            },
            "samples": [
                {
                    "timestamp": _r(s.timestamp, 3),
                    "bytes_received": s.bytes_received,
                    "bytes_sent": s.bytes_sent,
                }
                for s in run.network.samples
            ],
        },
        "cpu_metrics": {
            "user_seconds": _r(run.cpu.user_seconds, 3),
            "system_seconds": _r(run.cpu.system_seconds, 3),
            "average_percent": _r(run.cpu.average_percent),
            "peak_percent": _r(run.cpu.peak_percent),
            "system_average_percent": _r(run.cpu.system_average_percent),
            "samples": [
                {
                    "timestamp": _r(s.timestamp, 3),
                    "tree_percent": _r(s.tree_percent),
                    "system_percent": _r(s.system_percent),
                }
                for s in run.cpu.samples
            ],
        },
        "disk_metrics": {
            "read_bytes": int(run.disk.read_bytes),
            "write_bytes": int(run.disk.write_bytes),
            "path": run.disk.path,
            "free_before_bytes": int(run.disk.free_before_bytes),
            "free_after_bytes": int(run.disk.free_after_bytes),
            "source": run.disk.source,
            "samples": [
                {"timestamp": _r(s.timestamp, 3), "read_bytes": s.read_bytes, "write_bytes": s.write_bytes}
                for s in run.disk.samples
            ],
        },
        "build_metrics": {
            "status": status,
            "exit_code": outcome.exit_code,
            "signal": signal_name(outcome.signal),
            "failure_category": primary.category if primary else "",
            "failure_stage": primary.stage if primary else "",
            "failure_reason": primary.reason if primary else "",
            "packages_built": int(packages_built),
            "packages_failed": int(packages_failed),
            "build_stages": [stage_dict(s) for s in run.stages],
            "counters": {k: run.counters[k] for k in sorted(run.counters)},
        },
        "performance_metrics": {
            "regressions_detected": list(comparison.regressions),
            "baseline_comparison": comparison.baseline_comparison(),
            "performance_score": comparison.performance_score,
            "baseline_available": comparison.baseline is not None,
            "baseline_saved_at": comparison.baseline.saved_at if comparison.baseline else None,
            "baseline_problem": comparison.baseline_problem,
            "threshold_percent": comparison.thresholds.regression_percent,
            "noise_floors": {
                "duration_seconds": comparison.thresholds.duration_floor_seconds,
                "memory_mb": comparison.thresholds.memory_floor_mb,
            },
        },
        "failure_analysis": primary.to_dict() if primary else None,
        "sampler_errors": list(run.sampler_errors),
    }
