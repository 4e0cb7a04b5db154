"""Baselines and regressions.

The guide's rules: build duration and peak memory are compared with the saved
baseline; an increase of ``threshold`` percent (default
``DEFAULT_REGRESSION_THRESHOLD_PERCENT``, 20) or more is a
regression, reported in the guide's words ("Build duration increased by 25%").

Noise floors keep tiny builds honest: a 2 s build taking 3 s is +50 % but
means nothing, so an increase smaller than ``duration_floor_seconds`` (5 s) or
``memory_floor_mb`` (16 MB) in absolute terms is never a regression and does
not lower the score.

``performance_score = clamp(100 - largest increase percent, 0, 100)``, where
the largest increase is taken over the figures whose change clears its noise
floor (whether or not it crossed the threshold: the threshold decides the
alert, the score shows the trend). 100 without a usable baseline.

``baseline.json`` is ``metrics.json`` without the sample series plus
``schema_version`` and ``saved_at``, so the same jq paths work on both files
and a ``metrics.json`` copied by hand is a valid baseline too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import jsonschema

from contracts.fileio import atomic_write_json
from contracts.schema_files import schema_path
from contracts.vocabulary import DEFAULT_REGRESSION_THRESHOLD_PERCENT
from telemetry.json_documents import checked_document

if TYPE_CHECKING:
    from telemetry.metrics_doc import BaselineDiff, JsonObject, MetricsDocument

SCHEMA_PATH: Final = schema_path("baseline.schema.json")
DURATION_FLOOR_SECONDS: Final = 5.0
MEMORY_FLOOR_MB: Final = 16.0


@dataclass(frozen=True)
class Thresholds:
    regression_percent: float = DEFAULT_REGRESSION_THRESHOLD_PERCENT
    duration_floor_seconds: float = DURATION_FLOOR_SECONDS
    memory_floor_mb: float = MEMORY_FLOOR_MB


@dataclass(frozen=True)
class Baseline:
    duration_seconds: float
    peak_memory_mb: float
    saved_at: str  # "" when the file does not say (a hand-copied metrics.json)


@dataclass(frozen=True)
class BaselineLoad:
    baseline: Baseline | None
    # Why an existing baseline could not be used (corrupt, unreadable, wrong
    # shape). None when it loaded or when there is simply no baseline yet.
    problem: str | None


@dataclass(frozen=True)
class Noise:
    """How far above the reference a figure may be and still be noise.

    Either the fixed floors (``Thresholds``; metrics.json's ``noise_floors``) or the spread of a
    history's reference runs (0 for one saved baseline). Its fields are metrics.json's keys.
    """

    duration_seconds: float = 0.0
    memory_mb: float = 0.0


@dataclass(frozen=True)
class Comparison:
    baseline: Baseline | None  # the reference figures (a history's medians, or baseline.json's)
    duration_diff_percent: float | None  # exact; None without a baseline or with a zero baseline
    memory_diff_percent: float | None
    regressions: tuple[str, ...]  # the guide's messages
    performance_score: int
    thresholds: Thresholds
    baseline_problem: str | None = None
    # What the reference is, in words ("median of 7 baseline runs on main"), and how many runs.
    basis: str = ""
    reference_runs: int = 0

    @property
    def regression_detected(self) -> bool:
        return bool(self.regressions)

    def baseline_diff(self) -> BaselineDiff:
        """The guide's ``baseline_comparison`` object: whole percents, rounded half away from zero."""
        from telemetry.metrics_doc import BaselineDiff

        return BaselineDiff(
            round_percent(self.duration_diff_percent), round_percent(self.memory_diff_percent)
        )


def round_half_away(value: float) -> int:
    # Python's round() rounds half to even (12.5 -> 12); people expect 13.
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def round_percent(value: float | None) -> int | None:
    return None if value is None or not math.isfinite(value) else round_half_away(value)


def percent_change(current: float, base: float) -> float | None:
    if not (base > 0 and math.isfinite(base) and math.isfinite(current)):
        return None
    return (current - base) / base * 100.0


def _increase(current: float, base: float, floor: float, noise: float) -> float | None:
    """The percent increase when it clears the absolute floor and the noise, else None."""
    percent = percent_change(current, base)
    change = current - base
    if percent is None or percent <= 0 or change < floor or change <= noise:
        return None
    return percent


def compare(
    duration_seconds: float,
    peak_memory_mb: float,
    baseline: Baseline | None,
    thresholds: Thresholds | None = None,
    baseline_problem: str | None = None,
    *,
    noise: Noise | None = None,
    basis: str = "",
    reference_runs: int = 1,
) -> Comparison:
    """The guide's rule, with the floors and (for a history of runs) the reference runs' noise."""
    t = thresholds or Thresholds()
    if baseline is None:
        return Comparison(None, None, None, (), 100, t, baseline_problem)
    n = noise or Noise()
    figures = (
        (
            "Build duration",
            duration_seconds,
            baseline.duration_seconds,
            t.duration_floor_seconds,
            n.duration_seconds,
        ),
        ("Memory usage", peak_memory_mb, baseline.peak_memory_mb, t.memory_floor_mb, n.memory_mb),
    )
    regressions: list[str] = []
    increases: list[float] = []
    for label, current, base, floor, allowance in figures:
        percent = _increase(current, base, floor, allowance)
        if percent is None:
            continue
        increases.append(percent)
        if percent >= t.regression_percent:
            regressions.append(f"{label} increased by {round_half_away(percent)}%")
    score = max(0, min(100, 100 - round_half_away(max(increases, default=0.0))))
    d_pct = percent_change(duration_seconds, baseline.duration_seconds)
    m_pct = percent_change(peak_memory_mb, baseline.peak_memory_mb)
    return Comparison(
        baseline, d_pct, m_pct, tuple(regressions), score, t, baseline_problem, basis, reference_runs
    )


def _load_schema() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def baseline_from_document(document: MetricsDocument, saved_at: str = "") -> Baseline:
    """The two compared figures of a metrics.json (or baseline.json) document, exact ones first."""
    return Baseline(
        float(document.build_session.duration_seconds_exact),
        float(document.memory_metrics.peak_usage_mb_exact),
        saved_at,
    )


def load_baseline(path: Path) -> BaselineLoad:
    """Never raises: a missing file is "no baseline", a bad one is reported."""
    from telemetry.metrics_doc import MetricsDocument

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return BaselineLoad(None, None)
    except (OSError, UnicodeDecodeError) as exc:
        return BaselineLoad(None, f"{path}: unreadable ({exc})")
    doc, problem = checked_document(text, SCHEMA_PATH, str(path))
    if problem is not None:
        return BaselineLoad(None, problem)
    # The schema made it an object with the two figures; saved_at, when there, a string.
    saved_at = doc.get("saved_at", "")
    found = baseline_from_document(MetricsDocument.from_json(doc), str(saved_at))
    # JSON allows NaN and 1e999 (inf) through Python's parser; neither is a figure.
    if not (math.isfinite(found.duration_seconds) and math.isfinite(found.peak_memory_mb)):
        return BaselineLoad(None, f"{path}: duration or peak memory is not a finite number")
    return BaselineLoad(found, None)


_SAMPLE_KEY: Final = "samples"


def baseline_document(document: MetricsDocument, saved_at: str) -> JsonObject:
    """metrics.json minus sample series, plus schema_version and saved_at."""
    doc: JsonObject = {"schema_version": 1, "saved_at": saved_at}
    for key, value in document.to_json().items():
        if key == "schema_version":
            continue
        if isinstance(value, dict):
            doc[key] = {k: v for k, v in value.items() if k != _SAMPLE_KEY}
        else:
            doc[key] = value
    return doc


def save_baseline(path: Path, document: MetricsDocument, saved_at: str) -> JsonObject:
    """Write baseline.json atomically from a metrics document; returns what was written."""
    doc = baseline_document(document, saved_at)
    jsonschema.validate(doc, _load_schema())
    atomic_write_json(path, doc)
    return doc
