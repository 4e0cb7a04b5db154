"""failure-report.json: every failure of a failed run, the primary one first.

Written only for failed or cancelled runs; a successful run removes a stale
report left by an earlier run in the same directory, so the file's presence
means "this run did not succeed".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from contracts.fileio import atomic_write_json
from contracts.vocabulary import FAILURE_REPORT_FILE, RunStatus
from telemetry.failures import FailureAnalysis, clean_lines, signal_name
from telemetry.metrics_doc import JsonObject, json_object
from telemetry.model import RunData
from telemetry.reporters.interface import ReportInput
from telemetry.reporters.metrics_json import iso_time

TAIL_LINES: Final = 50
SCHEMA_VERSION: Final = 1


def build_report(run: RunData, status: RunStatus, analyses: Sequence[FailureAnalysis]) -> JsonObject:
    return {
        "schema_version": SCHEMA_VERSION,
        "status": status,
        "generated_at": iso_time(run.end_time),
        "exit_code": run.outcome.exit_code,
        "signal": signal_name(run.outcome.signal),
        "oom_killed": run.outcome.oom_killed,
        "spawn_error": run.outcome.spawn_error,
        "primary": json_object(analyses[0]) if analyses else None,
        "failures": [json_object(a) for a in analyses],
        "output_tail": list(clean_lines(run.outcome.output_tail)[-TAIL_LINES:]),
    }


class FailureReportReporter:
    file_name = FAILURE_REPORT_FILE

    def write(self, report: ReportInput, directory: Path) -> Mapping[str, Path]:
        path = directory / self.file_name
        status = report.document.build_metrics.status
        if status == RunStatus.SUCCESS:
            path.unlink(missing_ok=True)
            return {}
        atomic_write_json(path, build_report(report.run, status, report.analyses))
        return {"failure_report": path}
