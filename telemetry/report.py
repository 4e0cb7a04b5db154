"""One call from a finished run to every telemetry file: ``write_all``.

The order matters: the baseline comparison uses the baseline saved by an
EARLIER run, and only then (if asked, and only for a successful run) is this
run saved as the new baseline.

Writing telemetry must never fail a build: a file that cannot be written is
reported in ``TelemetryReport.warnings`` and the others are still written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from telemetry import baseline as baseline_mod
from telemetry.baseline import Comparison, Thresholds
from telemetry.failures import FailureAnalysis, FailureRules, analyze_run, load_rules, run_status
from telemetry.model import RunData
from telemetry.reporters import failure_report, logs, metrics_json, prometheus
from telemetry.reporters.atomic import atomic_write_json, atomic_write_text
from telemetry.reporters.summary_block import build_summary_block

METRICS_FILE: Final = "metrics.json"
PROM_FILE: Final = "metrics.prom"
MEMORY_SAMPLES_FILE: Final = "memory-samples.log"
NETWORK_SAMPLES_FILE: Final = "network-samples.log"


@dataclass(frozen=True)
class TelemetryReport:
    status: str  # "success" | "failure" | "cancelled"
    # Files written, by role: metrics_json, metrics_prom, telemetry_log, stages_log,
    # failure_report, baseline, memory_samples, network_samples.
    paths: Mapping[str, Path]
    metrics: Mapping[str, Any]  # what metrics.json holds
    summary_block: Mapping[str, Any]  # the "telemetry" block of build-summary.json
    analysis: FailureAnalysis | None  # the primary failure, None on success/cancel
    analyses: tuple[FailureAnalysis, ...]
    regressions: tuple[str, ...]  # the guide's messages
    score: int
    comparison: Comparison
    baseline_saved: bool
    warnings: tuple[str, ...]  # files not written, baseline problems

    @property
    def regression_detected(self) -> bool:
        return bool(self.regressions)


def write_all(
    run: RunData,
    *,
    telemetry_dir: Path | str,
    packages_built: int,
    packages_failed: int,
    threshold: float = baseline_mod.DEFAULT_THRESHOLD_PERCENT,
    save_baseline: bool = False,
    rules: FailureRules | None = None,
    duration_floor_seconds: float = baseline_mod.DURATION_FLOOR_SECONDS,
    memory_floor_mb: float = baseline_mod.MEMORY_FLOOR_MB,
) -> TelemetryReport:
    directory = Path(telemetry_dir)
    warnings: list[str] = []
    paths: dict[str, Path] = {}
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        warnings.append(f"cannot create {directory}: {exc}")

    status = run_status(run)
    analyses = analyze_run(run, rules or load_rules())
    thresholds = Thresholds(threshold, duration_floor_seconds, memory_floor_mb)
    baseline_path = directory / baseline_mod.BASELINE_FILE
    loaded = baseline_mod.load_baseline(baseline_path)
    if loaded.problem:
        warnings.append(f"baseline ignored: {loaded.problem}")
    comparison = baseline_mod.compare(
        run.duration_seconds, run.memory.peak_mb, loaded.baseline, thresholds, loaded.problem
    )
    metrics = metrics_json.build_metrics(
        run,
        status=status,
        analysis=analyses,
        packages_built=packages_built,
        packages_failed=packages_failed,
        comparison=comparison,
    )
    summary = build_summary_block(metrics, telemetry_dir=str(directory))

    def attempt(role: str, path: Path, action: Any) -> None:
        try:
            action()
        except (OSError, ValueError) as exc:
            warnings.append(f"cannot write {path}: {exc}")
        else:
            paths[role] = path

    metrics_path = directory / METRICS_FILE
    attempt("metrics_json", metrics_path, lambda: atomic_write_json(metrics_path, metrics))
    prom_path = directory / PROM_FILE
    attempt("metrics_prom", prom_path, lambda: prometheus.write(prom_path, metrics))
    log_path = directory / "build-telemetry.log"
    stages_path = directory / "build-stages.log"
    attempt("telemetry_log", log_path, lambda: logs.write(directory, metrics))
    if "telemetry_log" in paths:
        paths["stages_log"] = stages_path
    report_path = directory / failure_report.FILE_NAME
    try:
        written = failure_report.write(directory, run, status, analyses)
    except OSError as exc:
        warnings.append(f"cannot write {report_path}: {exc}")
    else:
        if written is not None:
            paths["failure_report"] = written
    _write_missing_sample_logs(run, directory, paths, warnings)

    baseline_saved = False
    if save_baseline:
        if status != "success":
            warnings.append(
                f"baseline not saved: the build's status is {status}, only successful builds are saved"
            )
        else:
            try:
                baseline_mod.save_baseline(baseline_path, metrics, metrics["build_session"]["end_time"])
            except OSError as exc:
                warnings.append(f"cannot write {baseline_path}: {exc}")
            else:
                baseline_saved = True
                paths["baseline"] = baseline_path

    return TelemetryReport(
        status=status,
        paths=MappingProxyType(paths),
        metrics=metrics,
        summary_block=summary,
        analysis=analyses[0] if analyses else None,
        analyses=analyses,
        regressions=comparison.regressions,
        score=comparison.performance_score,
        comparison=comparison,
        baseline_saved=baseline_saved,
        warnings=tuple(warnings),
    )


def _write_missing_sample_logs(
    run: RunData, directory: Path, paths: dict[str, Path], warnings: list[str]
) -> None:
    """The guide lists memory-samples.log and network-samples.log.

    A monitored session's samplers append to them live (they own the files);
    when a run had no samplers (standalone CLI use) they do not exist, and we
    write what the run has, in the same JSON-lines shape, so the guide's file
    set is always complete.
    """
    memory_path = directory / MEMORY_SAMPLES_FILE
    if memory_path.exists():
        paths["memory_samples"] = memory_path
    else:
        lines = [
            json.dumps(
                {"timestamp": s.timestamp, "memory_mb": s.memory_mb, "system_used_mb": s.system_used_mb}
            )
            for s in run.memory.samples
        ]
        try:
            atomic_write_text(memory_path, "".join(line + "\n" for line in lines))
        except OSError as exc:
            warnings.append(f"cannot write {memory_path}: {exc}")
        else:
            paths["memory_samples"] = memory_path
    network_path = directory / NETWORK_SAMPLES_FILE
    if network_path.exists():
        paths["network_samples"] = network_path
    else:
        lines = [
            json.dumps(
                {
                    "timestamp": s.timestamp,
                    "interface": run.network.interface,
                    "bytes_received": s.bytes_received,
                    "bytes_sent": s.bytes_sent,
                }
            )
            for s in run.network.samples
        ]
        try:
            atomic_write_text(network_path, "".join(line + "\n" for line in lines))
        except OSError as exc:
            warnings.append(f"cannot write {network_path}: {exc}")
        else:
            paths["network_samples"] = network_path
