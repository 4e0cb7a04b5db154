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
from telemetry.history import Reference, compare_with_history
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


def _baseline_basis(found: baseline_mod.Baseline | None) -> str:
    if found is None:
        return ""
    return f"{BASELINE_FILE} saved {found.saved_at}" if found.saved_at else BASELINE_FILE


def _compare(
    run: RunData,
    directory: Path,
    thresholds: Thresholds,
    warnings: list[str],
    reference: Reference | None,
    workspace_baseline: bool,
) -> Comparison:
    """This run against the history's reference runs when there are any, else against the
    baseline.json an earlier run saved (none, or a broken one, is no regression)."""
    if reference is not None:
        return compare_with_history(run.duration_seconds, run.memory.peak_mb, reference, thresholds)
    if not workspace_baseline:
        return baseline_mod.compare(run.duration_seconds, run.memory.peak_mb, None, thresholds)
    loaded = baseline_mod.load_baseline(directory / BASELINE_FILE)
    if loaded.problem:
        warnings.append(f"baseline ignored: {loaded.problem}")
    return baseline_mod.compare(
        run.duration_seconds,
        run.memory.peak_mb,
        loaded.baseline,
        thresholds,
        loaded.problem,
        basis=_baseline_basis(loaded.baseline),
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
    reference: Reference | None = None,
    workspace_baseline: bool = True,
) -> TelemetryReport:
    """Every telemetry file of a finished run.

    ``reference``: the reference runs of a history (their medians and noise) to compare with;
    without one, ``baseline.json`` in the folder is the reference unless ``workspace_baseline``
    is off (``baseline-source: none``, or a history that has no reference runs yet).
    """
    directory = Path(telemetry_dir)
    warnings: list[str] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        warnings.append(f"cannot create {directory}: {exc}")

    status = run_status(run)
    analyses = analyze_run(run, rules or load_rules())
    thresholds = Thresholds(threshold, duration_floor_seconds, memory_floor_mb)
    comparison = _compare(run, directory, thresholds, warnings, reference, workspace_baseline)
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
