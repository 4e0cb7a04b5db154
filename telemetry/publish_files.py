"""One call from a finished run to every telemetry file: ``write_all``.

The order matters: the baseline comparison uses the baseline saved by an
EARLIER run, and only then (if asked, and only for a successful run) is this
run saved as the new baseline.

Writing telemetry must never fail a build: a file that cannot be written is
reported in ``TelemetryReport.warnings`` and the others are still written.
Which files there are is ``telemetry.reporters.registry.REPORTERS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from contracts.vocabulary import BASELINE_FILE, DEFAULT_REGRESSION_THRESHOLD_PERCENT, RunStatus
from telemetry import baseline as baseline_mod
from telemetry.baseline import Comparison, Thresholds
from telemetry.failures import FailureAnalysis, FailureRules, analyze_run, load_rules, run_status
from telemetry.metrics_doc import MetricsDocument
from telemetry.model import RunData
from telemetry.reporters.interface import ReportInput
from telemetry.reporters.metrics_json import build_metrics
from telemetry.reporters.registry import REPORTERS
from telemetry.reporters.summary_block import SummaryBlock, build_summary_block


@dataclass(frozen=True)
class TelemetryReport:
    status: RunStatus
    # Files written, by role: metrics_json, metrics_prom, telemetry_log, stages_log,
    # failure_report, memory_samples, network_samples, baseline.
    paths: Mapping[str, Path]
    document: MetricsDocument  # what metrics.json holds
    summary_block: SummaryBlock  # the "telemetry" block of build-summary.json
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


def _compare(run: RunData, directory: Path, thresholds: Thresholds, warnings: list[str]) -> Comparison:
    """This run against the baseline an earlier run saved (none, or a broken one, is no regression)."""
    loaded = baseline_mod.load_baseline(directory / BASELINE_FILE)
    if loaded.problem:
        warnings.append(f"baseline ignored: {loaded.problem}")
    return baseline_mod.compare(
        run.duration_seconds, run.memory.peak_mb, loaded.baseline, thresholds, loaded.problem
    )


def _write_files(report: ReportInput, directory: Path, warnings: list[str]) -> dict[str, Path]:
    """Run every reporter on its own: one that fails is a warning, the others still write."""
    paths: dict[str, Path] = {}
    for reporter in REPORTERS:
        try:
            written = reporter.write(report, directory)
        except (OSError, ValueError) as exc:
            warnings.append(f"cannot write {directory / reporter.file_name}: {exc}")
        else:
            paths.update(written)
    return paths


def _save_baseline(document: MetricsDocument, directory: Path, warnings: list[str]) -> Path | None:
    """baseline.json from this run, which must have succeeded; None when it was not saved."""
    status = document.build_metrics.status
    if status != RunStatus.SUCCESS:
        warnings.append(
            f"baseline not saved: the build's status is {status}, only successful builds are saved"
        )
        return None
    path = directory / BASELINE_FILE
    try:
        baseline_mod.save_baseline(path, document, document.build_session.end_time)
    except OSError as exc:
        warnings.append(f"cannot write {path}: {exc}")
        return None
    return path


def write_all(
    run: RunData,
    *,
    telemetry_dir: Path | str,
    packages_built: int,
    packages_failed: int,
    threshold: float = DEFAULT_REGRESSION_THRESHOLD_PERCENT,
    save_baseline: bool = False,
    rules: FailureRules | None = None,
    duration_floor_seconds: float = baseline_mod.DURATION_FLOOR_SECONDS,
    memory_floor_mb: float = baseline_mod.MEMORY_FLOOR_MB,
) -> TelemetryReport:
    directory = Path(telemetry_dir)
    warnings: list[str] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        warnings.append(f"cannot create {directory}: {exc}")

    status = run_status(run)
    analyses = analyze_run(run, rules or load_rules())
    thresholds = Thresholds(threshold, duration_floor_seconds, memory_floor_mb)
    comparison = _compare(run, directory, thresholds, warnings)
    document = build_metrics(
        run,
        status=status,
        analysis=analyses,
        packages_built=packages_built,
        packages_failed=packages_failed,
        comparison=comparison,
    )
    paths = _write_files(ReportInput(document, run, analyses), directory, warnings)
    saved = _save_baseline(document, directory, warnings) if save_baseline else None
    if saved is not None:
        paths["baseline"] = saved

    return TelemetryReport(
        status=status,
        paths=MappingProxyType(paths),
        document=document,
        summary_block=build_summary_block(document, telemetry_dir=str(directory)),
        analysis=analyses[0] if analyses else None,
        analyses=analyses,
        regressions=comparison.regressions,
        score=comparison.performance_score,
        comparison=comparison,
        baseline_saved=saved is not None,
        warnings=tuple(warnings),
    )
