"""The ``telemetry`` block of build-summary.json, as the guide shows it plus extras.

The guide's six fields come first with the guide's types (integers for the
figures its shell snippets compare); extras follow and never rename them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def build_summary_block(metrics: Mapping[str, Any], *, telemetry_dir: str) -> dict[str, Any]:
    """Derived from metrics.json's dict so the two files can never disagree."""
    session = metrics["build_session"]
    memory = metrics["memory_metrics"]
    network = metrics["network_metrics"]
    build = metrics["build_metrics"]
    perf = metrics["performance_metrics"]
    analysis = metrics.get("failure_analysis")
    return {
        "build_duration_seconds": session["duration_seconds"],
        "peak_memory_mb": memory["peak_usage_mb"],
        "network_downloaded_bytes": network["bytes_downloaded"],
        "network_uploaded_bytes": network["bytes_uploaded"],
        "failure_category": build["failure_category"],
        "performance_regressions": list(perf["regressions_detected"]),
        # extras
        "status": build["status"],
        "failure_stage": build["failure_stage"],
        "failure_reason": build["failure_reason"],
        "failure_transient": analysis["transient"] if analysis else None,
        "remediation": list(analysis["remediation"]) if analysis else [],
        "regression_detected": bool(perf["regressions_detected"]),
        "performance_score": perf["performance_score"],
        "baseline_comparison": dict(perf["baseline_comparison"]),
        "peak_memory_source": memory["peak_source"],
        "network_interface": network["interface"],
        "cpu_seconds": round(
            metrics["cpu_metrics"]["user_seconds"] + metrics["cpu_metrics"]["system_seconds"], 3
        ),
        "telemetry_dir": telemetry_dir,
    }
