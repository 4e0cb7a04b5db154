"""The job summary's history section and the pull-request comment's text."""

from __future__ import annotations

from dataclasses import replace

from action.history import HistoryView
from action.job_summary import render
from action.review import comment_body
from telemetry.history import HistoryEntry, StageTime
from tests.action.test_job_summary import assert_fences_balanced, figures, mermaid_blocks, outcome


def _entries(count: int, this_run: str = "this") -> tuple[HistoryEntry, ...]:
    stages = tuple(StageTime(f"package_{i}_" + "x" * 400, 1.0) for i in range(1000))
    return tuple(
        HistoryEntry(
            run_id=this_run if i == count - 1 else str(1000 + i),
            time="2026-12-03T10:00:00Z",
            status="success",
            duration_seconds=60.0 + i,
            peak_memory_mb=300.0 + i,
            baseline=i % 2 == 0,
            branch="feature|`<b>x</b>`",
            stages=stages,
        )
        for i in range(count)
    )


def _view(count: int, notices: tuple[str, ...] = ()) -> HistoryView:
    return HistoryView(
        artifact="telemetry-history-tool-all-all",
        path=".telemetry/history.json",
        entries=_entries(count),
        run_id="this",
        branch="main",
        found_in="artifact telemetry-history-tool-all-all of run 1019 on main",
        notices=notices,
    )


def test_twenty_runs_chart_each_figure_with_this_run_marked_and_stay_small() -> None:
    t = figures(
        comparison_basis="median of 10 baseline runs on main",
        baseline_runs=10,
        reference_duration_seconds=65.0,
        reference_peak_memory_mb=305.0,
        has_baseline=True,
    )
    text = render(outcome(telemetry=t, history=_view(20)), "build-summary.json")
    assert len(text.encode()) < 200 * 1024  # the stage lists stay in history.json, not the page
    assert "### History" in text and "median of 10 baseline runs on main" in text
    charts = [b for b in mermaid_blocks(text) if "per run" in b]
    assert len(charts) == 2
    for chart in charts:
        assert chart.count('"now"') == 1 and '"19"' in chart
        assert "bar [" in chart and "line [" in chart
    assert "| this run | this |" in text
    assert "feature\\|" in text and "<b>" not in text  # untrusted branch names stay text
    assert_fences_balanced(text)


def test_one_run_has_no_chart_and_notices_are_shown() -> None:
    view = _view(1, notices=("no history yet: no artifact telemetry-history-tool-all-all on main",))
    text = render(outcome(telemetry=figures(), history=view), "build-summary.json")
    assert "### History" in text and "no history yet" in text
    assert not [b for b in mermaid_blocks(text) if "per run" in b]


def test_without_a_reference_the_chart_has_no_line() -> None:
    text = render(outcome(telemetry=figures(has_baseline=False), history=_view(3)), "build-summary.json")
    charts = [b for b in mermaid_blocks(text) if "per run" in b]
    assert charts and all("line [" not in c for c in charts)


def test_the_comment_says_the_verdict_and_the_comparison() -> None:
    t = figures(
        regressions=("Build duration increased by 31%",),
        baseline_comparison={"duration_diff_percent": 31.0, "memory_diff_percent": -2.0},
        comparison_basis="median of 7 baseline runs on main",
        has_baseline=True,
    )
    body = comment_body(replace(outcome(telemetry=t), history=_view(8)))
    assert "⚠️ Build duration increased by 31%" in body
    assert "(+31%)" in body and "(-2%)" in body
    assert "Compared with the median of 7 baseline runs on main." in body
    quiet = comment_body(replace(outcome(telemetry=figures(), history=_view(2)), package="", version=""))
    assert quiet.startswith("### build: ✅ no performance regression\n")
