"""Performance history across workflow runs: ``history.json`` and the noise-aware regression rule.

A workspace lives for one job, so the history travels as a workflow artifact: each run reads
the previous ``history.json`` (found by the action), adds its own entry and writes the file into
the telemetry folder for the user's upload step. Entries are oldest first and capped.

The comparison uses the history's reference runs (saved with ``save-baseline`` and
successful), not one data point: for each figure, their median is the reference and their
median absolute deviation (MAD) measures the run-to-run noise. An increase is a regression when
it is ``threshold`` percent or more over the median AND larger than the noise allowance
(``NOISE_MADS`` × 1.4826 × MAD, the scaled MAD estimating one standard deviation, or the
highest reference run's distance from the median, whichever is larger: run times have a long upper
tail that the MAD does not see) AND at least the absolute floor (5 s, 16 MB). With one reference
run both are 0 and the rule is the single-baseline rule. The guide's messages and score are kept;
the percent is over the median.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from contracts.schema_files import schema_path
from contracts.vocabulary import ActionStatus
from telemetry.baseline import Baseline, Comparison, Noise, Thresholds, compare
from telemetry.json_documents import checked_document

SCHEMA_PATH: Final = schema_path("history.schema.json")
SCHEMA_VERSION: Final = 1
# How many noise widths (scaled MADs, about standard deviations) an increase must clear. Chosen
# with bench/regression_noise.py on measured run-to-run noise: 3 swallowed most real +30 % changes,
# 2 keeps false alarms under 2 % while detecting more than the single-baseline rule.
NOISE_MADS: Final = 2.0
# The MAD of normally distributed data times this estimates its standard deviation.
MAD_TO_SIGMA: Final = 1.4826
# A history file larger than this is not ours (20 entries of 1,000 stages are about 1 MB).
MAX_HISTORY_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True)
class StageTime:
    name: str
    duration_seconds: float


@dataclass(frozen=True)
class HistoryEntry:
    """One run: where it came from, how it ended, and the figures the rule and the chart use."""

    run_id: str
    time: str  # UTC, "2026-12-03T11:18:03Z"
    status: str  # an ActionStatus word
    duration_seconds: float
    peak_memory_mb: float
    baseline: bool  # a reference run: saved with save-baseline, and it succeeded
    run_attempt: int = 1
    commit: str = ""
    branch: str = ""
    event: str = ""
    version: str = ""
    stages: tuple[StageTime, ...] = ()


@dataclass(frozen=True)
class History:
    entries: tuple[HistoryEntry, ...] = ()
    artifact: str = ""


@dataclass(frozen=True)
class HistoryLoad:
    history: History | None
    problem: str | None  # why a file that exists could not be used


@dataclass(frozen=True)
class Reference:
    """What this run is compared with: the median of the reference runs and their noise."""

    runs: int
    duration_seconds: float
    peak_memory_mb: float
    duration_noise_seconds: float  # the allowance an increase must exceed
    memory_noise_mb: float
    branch: str

    def describe(self) -> str:
        where = f" on {self.branch}" if self.branch else ""
        if self.runs == 1:
            return f"1 baseline run{where}"
        return f"median of {self.runs} baseline runs{where}"


# --------------------------------------------------------------------------- the file


def _entry_from(doc: Mapping[str, Any]) -> HistoryEntry:
    # Only called on documents the schema has accepted, so the types are known.
    return HistoryEntry(
        run_id=doc["run_id"],
        time=doc["time"],
        status=doc["status"],
        duration_seconds=float(doc["duration_seconds"]),
        peak_memory_mb=float(doc["peak_memory_mb"]),
        baseline=doc["baseline"],
        run_attempt=doc.get("run_attempt", 1),
        commit=doc.get("commit", ""),
        branch=doc.get("branch", ""),
        event=doc.get("event", ""),
        version=doc.get("version", ""),
        stages=tuple(StageTime(s["name"], float(s["duration_seconds"])) for s in doc.get("stages", ())),
    )


def parse_history(data: bytes, origin: str) -> HistoryLoad:
    """Read a history file's bytes; never raises. ``origin`` names the file in problems."""
    if len(data) > MAX_HISTORY_BYTES:
        return HistoryLoad(None, f"{origin}: {len(data)} bytes, more than a history can be")
    doc, problem = checked_document(data, SCHEMA_PATH, origin)
    if problem is not None:
        return HistoryLoad(None, problem)
    entries = tuple(_entry_from(e) for e in doc["entries"])
    for entry in entries:
        if not (math.isfinite(entry.duration_seconds) and math.isfinite(entry.peak_memory_mb)):
            return HistoryLoad(None, f"{origin}: run {entry.run_id} has a figure that is not a finite number")
    return HistoryLoad(History(entries, str(doc.get("artifact", ""))), None)


def load_history(path: Path) -> HistoryLoad:
    """A history file in the workspace; a missing one is simply no history."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_HISTORY_BYTES + 1)
    except FileNotFoundError:
        return HistoryLoad(None, None)
    except OSError as exc:
        return HistoryLoad(None, f"{path}: unreadable ({exc})")
    return parse_history(data, str(path))


def _entry_document(entry: HistoryEntry) -> dict[str, object]:
    return {
        "run_id": entry.run_id,
        "run_attempt": entry.run_attempt,
        "commit": entry.commit,
        "branch": entry.branch,
        "event": entry.event,
        "time": entry.time,
        "status": entry.status,
        "version": entry.version,
        "duration_seconds": round(entry.duration_seconds, 3),
        "peak_memory_mb": round(entry.peak_memory_mb, 1),
        "stages": [{"name": s.name, "duration_seconds": round(s.duration_seconds, 3)} for s in entry.stages],
        "baseline": entry.baseline,
    }


def history_document(history: History) -> dict[str, object]:
    return {
        "schema_version": SCHEMA_VERSION,
        "artifact": history.artifact,
        "entries": [_entry_document(e) for e in history.entries],
    }


def with_entry(history: History | None, entry: HistoryEntry, size: int, artifact: str) -> History:
    """The history plus this run, oldest first, at most ``size`` entries.

    A re-run of the same workflow run replaces that run's entry instead of adding a second one.
    """
    earlier = () if history is None else history.entries
    kept = tuple(e for e in earlier if e.run_id != entry.run_id)
    entries = (*kept, entry)[-max(1, size) :]
    return History(entries, artifact)


# --------------------------------------------------------------------------- the rule


def reference_runs(history: History, branch: str = "") -> tuple[HistoryEntry, ...]:
    """The runs to compare with: saved as baseline, successful, and on ``branch`` when given."""
    return tuple(
        e
        for e in history.entries
        if e.baseline
        and e.status == ActionStatus.SUCCESS
        and (not branch or not e.branch or e.branch == branch)
    )


def _noise(values: Sequence[float]) -> tuple[float, float]:
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    # Run times on shared runners have a long upper tail (a busy neighbour), which the MAD does
    # not see: a figure the reference runs themselves have reached is not a regression either.
    return median, max(NOISE_MADS * MAD_TO_SIGMA * mad, max(values) - median)


def reference_of(runs: Sequence[HistoryEntry], branch: str = "") -> Reference | None:
    if not runs:
        return None
    duration, duration_noise = _noise([r.duration_seconds for r in runs])
    memory, memory_noise = _noise([r.peak_memory_mb for r in runs])
    return Reference(len(runs), duration, memory, duration_noise, memory_noise, branch)


def compare_with_history(
    duration_seconds: float,
    peak_memory_mb: float,
    reference: Reference | None,
    thresholds: Thresholds | None = None,
) -> Comparison:
    """The noise-aware rule (see the module's docstring) as the guide's comparison."""
    if reference is None:
        return compare(duration_seconds, peak_memory_mb, None, thresholds)
    return compare(
        duration_seconds,
        peak_memory_mb,
        Baseline(reference.duration_seconds, reference.peak_memory_mb, ""),
        thresholds,
        noise=Noise(reference.duration_noise_seconds, reference.memory_noise_mb),
        basis=reference.describe(),
        reference_runs=reference.runs,
    )
