"""Baselines and regressions: the guide's wording, thresholds, noise floors, score, files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry.baseline import (
    Baseline,
    Thresholds,
    baseline_document,
    compare,
    load_baseline,
    round_half_away,
    save_baseline,
)
from telemetry.metrics_doc import BaselineDiff
from telemetry.publish_files import write_all
from tests.telemetry.factories import make_run

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _base(duration: float = 400.0, memory: float = 2000.0) -> Baseline:
    return Baseline(duration, memory, "2025-01-18T10:30:00+0000")


def test_guide_example_wording_and_score() -> None:
    got = compare(500.0, 2300.0, _base(), Thresholds(regression_percent=15))
    assert got.regressions == ("Build duration increased by 25%", "Memory usage increased by 15%")
    assert got.baseline_diff() == BaselineDiff(25, 15)
    assert got.performance_score == 75


def test_default_threshold_is_20_percent_inclusive() -> None:
    assert compare(480.0, 2000.0, _base()).regressions == ("Build duration increased by 20%",)
    below = compare(479.0, 2000.0, _base())
    assert below.regressions == ()
    # Below the threshold is not an alert, but the score still shows the trend.
    assert below.performance_score == 80


def test_threshold_is_configurable() -> None:
    assert compare(440.0, 2000.0, _base(), Thresholds(regression_percent=10)).regressions == (
        "Build duration increased by 10%",
    )
    assert compare(440.0, 2000.0, _base(), Thresholds(regression_percent=50)).regressions == ()


def test_noise_floors() -> None:
    # +100% of a 4 s build is 4 s: below the 5 s floor, not a regression and no score penalty.
    tiny = compare(8.0, 20.0, _base(4.0, 10.0))
    assert tiny.regressions == ()
    assert tiny.performance_score == 100
    assert tiny.baseline_diff() == BaselineDiff(100, 100)
    # Exactly at the floors counts.
    at = compare(9.0, 26.0, _base(4.0, 10.0))
    assert at.regressions == ("Build duration increased by 125%", "Memory usage increased by 160%")
    assert at.performance_score == 0


def test_improvements_are_negative_and_harmless() -> None:
    got = compare(200.0, 1000.0, _base())
    assert got.baseline_diff() == BaselineDiff(-50, -50)
    assert got.regressions == () and got.performance_score == 100


def test_no_baseline() -> None:
    got = compare(500.0, 2300.0, None)
    assert got.performance_score == 100 and got.regressions == ()
    assert got.baseline_diff() == BaselineDiff(None, None)


def test_zero_baseline_is_not_a_division_error() -> None:
    got = compare(500.0, 300.0, _base(0.0, 0.0))
    assert got.baseline_diff() == BaselineDiff(None, None)
    assert got.performance_score == 100


def test_rounding_is_half_away_from_zero() -> None:
    assert [round_half_away(x) for x in (12.5, 13.5, -12.5, 0.49, 2.5)] == [13, 14, -13, 0, 3]


@given(
    st.floats(0, 1e5),
    st.floats(0, 1e6),
    st.floats(0.001, 1e5),
    st.floats(0.001, 1e6),
    st.floats(1, 500),
)
def test_score_always_in_range_and_matches_regressions(
    d: float, m: float, bd: float, bm: float, t: float
) -> None:
    got = compare(d, m, _base(bd, bm), Thresholds(regression_percent=t))
    assert 0 <= got.performance_score <= 100
    if got.regressions:
        assert got.performance_score <= 100 - round_half_away(t) or got.performance_score == 0
    for message in got.regressions:
        assert message.startswith(("Build duration increased by ", "Memory usage increased by "))
        assert message.endswith("%")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    report = write_all(
        make_run(), telemetry_dir=tmp_path, packages_built=12, packages_failed=0, save_baseline=True
    )
    assert report.baseline_saved
    doc = json.loads((tmp_path / "baseline.json").read_text())
    jsonschema.validate(doc, json.loads((SCHEMAS / "baseline.schema.json").read_text()))
    assert doc["schema_version"] == 1 and "samples" not in doc["memory_metrics"]
    # The same jq paths as metrics.json work on the baseline.
    assert doc["build_session"]["duration_seconds"] == 420
    loaded = load_baseline(tmp_path / "baseline.json")
    assert loaded.problem is None and loaded.baseline is not None
    assert loaded.baseline.duration_seconds == pytest.approx(420.4)
    assert loaded.baseline.peak_memory_mb == pytest.approx(2047.6)


def test_next_run_is_compared_with_the_previous_baseline(tmp_path: Path) -> None:
    write_all(make_run(), telemetry_dir=tmp_path, packages_built=1, packages_failed=0, save_baseline=True)
    slower = write_all(
        make_run(duration=525.5, peak_mb=2047.6),
        telemetry_dir=tmp_path,
        packages_built=1,
        packages_failed=0,
        save_baseline=True,
    )
    assert slower.regressions == ("Build duration increased by 25%",)
    assert slower.score == 75
    # ...and only then became the new baseline.
    assert load_baseline(tmp_path / "baseline.json").baseline == Baseline(
        525.5, 2047.6, slower.document.build_session.end_time
    )


def test_failed_run_is_not_saved_as_baseline(tmp_path: Path) -> None:
    from telemetry.model import ProcessOutcome

    report = write_all(
        make_run(outcome=ProcessOutcome(1, None, False, False, ("Killed",))),
        telemetry_dir=tmp_path,
        packages_built=0,
        packages_failed=1,
        save_baseline=True,
    )
    assert not report.baseline_saved
    assert not (tmp_path / "baseline.json").exists()
    assert any("baseline not saved" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"build_session": {}}', "does not match baseline.schema.json"),
        (
            '{"build_session": {"duration_seconds": "fast"}, "memory_metrics": {"peak_usage_mb": 1}}',
            "duration_seconds",
        ),
        ("[]", "does not match"),
    ],
)
def test_corrupt_baseline_is_reported_not_fatal(tmp_path: Path, content: str, problem: str) -> None:
    (tmp_path / "baseline.json").write_text(content)
    loaded = load_baseline(tmp_path / "baseline.json")
    assert loaded.baseline is None and loaded.problem is not None and problem in loaded.problem
    report = write_all(make_run(), telemetry_dir=tmp_path, packages_built=1, packages_failed=0)
    assert report.score == 100
    assert report.document.performance_metrics.baseline_problem == loaded.problem
    assert any("baseline ignored" in w for w in report.warnings)


def test_unreadable_baseline(tmp_path: Path) -> None:
    (tmp_path / "baseline.json").mkdir()  # reading a directory fails with an OSError
    loaded = load_baseline(tmp_path / "baseline.json")
    assert loaded.baseline is None and loaded.problem and "unreadable" in loaded.problem


def test_missing_baseline_is_not_a_problem(tmp_path: Path) -> None:
    assert load_baseline(tmp_path / "baseline.json") == type(load_baseline(tmp_path / "x"))(None, None)


def test_hand_copied_metrics_json_is_a_valid_baseline(tmp_path: Path) -> None:
    report = write_all(make_run(), telemetry_dir=tmp_path, packages_built=1, packages_failed=0)
    (tmp_path / "baseline.json").write_text((tmp_path / "metrics.json").read_text())
    loaded = load_baseline(tmp_path / "baseline.json")
    assert loaded.problem is None and loaded.baseline is not None
    assert loaded.baseline.duration_seconds == report.document.build_session.duration_seconds_exact


def test_save_is_atomic_and_leaves_no_temporaries(tmp_path: Path) -> None:
    metrics = write_all(make_run(), telemetry_dir=tmp_path, packages_built=1, packages_failed=0).document
    save_baseline(tmp_path / "baseline.json", metrics, "2025-01-18T10:30:00+0000")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert baseline_document(metrics, "x")["saved_at"] == "x"


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_load_baseline_never_raises(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    path = tmp_path_factory.mktemp("b") / "baseline.json"
    path.write_bytes(content)
    loaded = load_baseline(path)
    assert (loaded.baseline is None) != (loaded.problem is None)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "1e999"])
def test_non_finite_baseline_is_a_problem(tmp_path: Path, bad: str) -> None:
    (tmp_path / "baseline.json").write_text(
        f'{{"build_session": {{"duration_seconds": {bad}}}, "memory_metrics": {{"peak_usage_mb": 1}}}}'
    )
    loaded = load_baseline(tmp_path / "baseline.json")
    assert loaded.baseline is None and loaded.problem is not None
    report = write_all(make_run(), telemetry_dir=tmp_path, packages_built=1, packages_failed=0)
    assert report.score == 100


def test_non_finite_current_figures_against_a_baseline() -> None:
    got = compare(float("nan"), float("inf"), _base())
    assert got.baseline_diff() == BaselineDiff(None, None)
    assert got.regressions == () and got.performance_score == 100
