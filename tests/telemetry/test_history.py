from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from telemetry.baseline import Baseline, Thresholds, compare
from telemetry.history import (
    SCHEMA_PATH,
    History,
    HistoryEntry,
    StageTime,
    compare_with_history,
    history_document,
    load_history,
    parse_history,
    reference_of,
    reference_runs,
    with_entry,
)

SCHEMA = json.loads(SCHEMA_PATH.read_text())


def entry(run: int, duration: float = 60.0, memory: float = 200.0, **kw: object) -> HistoryEntry:
    fields: dict[str, object] = {
        "run_id": str(run),
        "time": f"2026-12-03T10:{run % 60:02d}:00Z",
        "status": "success",
        "duration_seconds": duration,
        "peak_memory_mb": memory,
        "baseline": True,
        "branch": "main",
        "stages": (StageTime("download_amd64", 1.5), StageTime("package_amd64_bookworm", 3.25)),
    }
    fields.update(kw)
    return HistoryEntry(**fields)  # type: ignore[arg-type]


def test_a_written_history_validates_and_reads_back_the_same(tmp_path: Path) -> None:
    history = History(tuple(entry(i) for i in range(3)), "telemetry-history-uv")
    doc = history_document(history)
    jsonschema.validate(doc, SCHEMA)
    path = tmp_path / "history.json"
    path.write_text(json.dumps(doc))
    loaded = load_history(path)
    assert loaded.problem is None
    assert loaded.history == history


def test_the_history_is_capped_oldest_out_and_a_rerun_replaces_its_entry() -> None:
    history: History | None = None
    for i in range(25):
        history = with_entry(history, entry(i), 20, "a")
    assert history is not None
    assert [e.run_id for e in history.entries] == [str(i) for i in range(5, 25)]
    rerun = with_entry(history, entry(24, duration=99.0, run_attempt=2), 20, "a")
    assert len(rerun.entries) == 20
    assert rerun.entries[-1].duration_seconds == 99.0 and rerun.entries[-1].run_attempt == 2


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"schema_version": 1}', "does not match history.schema.json"),
        (b'{"schema_version": 2, "entries": []}', "schema_version"),
        (b'{"schema_version": 1, "entries": [{"run_id": "1"}]}', "entries/0"),
        (b" " * (9 * 1024 * 1024), "more than a history can be"),
    ],
)
def test_a_bad_history_is_a_problem_never_an_exception(data: bytes, problem: str) -> None:
    loaded = parse_history(data, "artifact telemetry-history-uv: history.json")
    assert loaded.history is None
    assert loaded.problem is not None and problem in loaded.problem
    assert loaded.problem.startswith("artifact telemetry-history-uv: history.json")


def test_nan_figures_are_refused() -> None:
    doc = history_document(History((entry(1),), "a"))
    text = json.dumps(doc).replace("60.0", "NaN")
    assert "not a finite number" in (parse_history(text.encode(), "h").problem or "")


def test_a_missing_file_is_no_history_and_no_problem(tmp_path: Path) -> None:
    assert load_history(tmp_path / "none.json").history is None
    assert load_history(tmp_path / "none.json").problem is None


def test_reference_runs_are_successful_baselines_of_the_branch() -> None:
    history = History(
        (
            entry(1),
            entry(2, baseline=False),
            entry(3, status="failure"),
            entry(4, branch="feature"),
            entry(5, branch=""),
        ),
        "a",
    )
    assert [e.run_id for e in reference_runs(history, "main")] == ["1", "5"]
    assert [e.run_id for e in reference_runs(history)] == ["1", "4", "5"]


def test_one_reference_run_is_the_single_baseline_rule() -> None:
    # The same figures through the guide's rule (baseline.compare) and the history's rule.
    thresholds = Thresholds()
    for duration, memory in [(60.0, 200.0), (80.0, 200.0), (66.0, 260.0), (72.0, 230.0), (61.0, 215.0)]:
        reference = reference_of([entry(1, 60.0, 200.0)], "main")
        new = compare_with_history(duration, memory, reference, thresholds)
        old = compare(duration, memory, Baseline(60.0, 200.0, ""), thresholds)
        assert new.regressions == old.regressions
        assert new.performance_score == old.performance_score


def test_the_median_is_the_reference_and_its_percent_is_reported() -> None:
    runs = [entry(i, d) for i, d in enumerate([50.0, 52.0, 51.0, 49.0, 50.0])]
    reference = reference_of(runs, "main")
    assert reference is not None and reference.duration_seconds == 50.0
    result = compare_with_history(65.0, 200.0, reference)
    assert result.regressions == ("Build duration increased by 30%",)
    assert result.performance_score == 70
    assert reference.describe() == "median of 5 baseline runs on main"


def test_an_increase_inside_the_noise_of_the_reference_runs_is_no_regression() -> None:
    # Reference runs that vary by about +-15 s around 60 s: 75 s is +25 % but within the noise.
    runs = [entry(i, d) for i, d in enumerate([45.0, 60.0, 75.0, 50.0, 70.0, 60.0, 58.0])]
    reference = reference_of(runs)
    assert reference is not None
    assert reference.duration_noise_seconds > 15.0
    quiet = compare_with_history(75.0, 200.0, reference)
    assert quiet.regressions == ()
    assert quiet.performance_score == 100
    loud = compare_with_history(120.0, 200.0, reference)
    assert loud.regressions == ("Build duration increased by 100%",)


def test_floors_still_apply() -> None:
    reference = reference_of([entry(1, 2.0, 10.0)])
    result = compare_with_history(4.0, 20.0, reference)  # +100 % each, but 2 s and 10 MB
    assert result.regressions == ()
    assert result.performance_score == 100


def test_no_reference_is_no_comparison() -> None:
    result = compare_with_history(10.0, 10.0, reference_of([]))
    assert result.baseline is None and result.regressions == () and result.performance_score == 100
