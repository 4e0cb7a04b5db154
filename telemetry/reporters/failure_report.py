"""failure-report.json: every failure of a failed run, the primary one first.

Written only for failed or cancelled runs; a successful run removes a stale
report left by an earlier run in the same directory, so the file's presence
means "this run did not succeed".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from telemetry.failures import FailureAnalysis, clean_lines, signal_name
from telemetry.model import RunData
from telemetry.reporters.atomic import atomic_write_json
from telemetry.reporters.metrics_json import iso_time

FILE_NAME: Final = "failure-report.json"
TAIL_LINES: Final = 50


def build_report(run: RunData, status: str, analyses: Sequence[FailureAnalysis]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "status": status,
        "generated_at": iso_time(run.end_time),
        "exit_code": run.outcome.exit_code,
        "signal": signal_name(run.outcome.signal),
        "oom_killed": run.outcome.oom_killed,
        "spawn_error": run.outcome.spawn_error,
        "primary": analyses[0].to_dict() if analyses else None,
        "failures": [a.to_dict() for a in analyses],
        "output_tail": clean_lines(run.outcome.output_tail)[-TAIL_LINES:],
    }


def write(telemetry_dir: Path, run: RunData, status: str, analyses: Sequence[FailureAnalysis]) -> Path | None:
    path = telemetry_dir / FILE_NAME
    if status == "success":
        path.unlink(missing_ok=True)
        return None
    atomic_write_json(path, build_report(run, status, analyses))
    return path
