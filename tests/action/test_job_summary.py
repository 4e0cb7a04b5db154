"""The job summary: every part, safe Markdown and Mermaid, and the 1 MiB cap."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from action.job_summary import (
    GITHUB_SUMMARY_LIMIT,
    SUMMARY_LIMIT,
    Section,
    code_block,
    downsample_max,
    fit,
    mermaid_text,
    render,
    resample_max,
    short_duration,
    write_job_summary,
)
from action.outcome import ActionOutcome, FailureInfo, ProducedPackage, TelemetryFigures
from contracts.builder_result import BuilderResult, JobResult, LintianCounts, SkippedArch
from telemetry.model import CpuSample, MemorySample, RunData, StageRecord
from tests.telemetry.factories import T0, make_run


def figures(**overrides: object) -> TelemetryFigures:
    values: dict[str, object] = {
        "directory": ".telemetry",
        "duration_seconds": 420.4,
        "peak_memory_mb": 2047.6,
        "peak_memory_source": "cgroup_resident",
        "network_downloaded_bytes": 52_428_800,
        "network_uploaded_bytes": 1_048_576,
        "network_interface": "eth0",
        "cpu_user_seconds": 371.0,
        "cpu_system_seconds": 12.5,
        "cpu_average_percent": 91.3,
        "disk_read_bytes": 1_000_000,
        "disk_write_bytes": 250_000_000,
        "regressions": (),
        "baseline_comparison": {},
        "performance_score": 100.0,
        "has_baseline": False,
        "baseline_saved": False,
    }
    values.update(overrides)
    return TelemetryFigures(**values)  # type: ignore[arg-type]


def job(arch: str, suite: str, ok: bool = True, **overrides: object) -> JobResult:
    values: dict[str, object] = {
        "arch": arch,
        "suite": suite,
        "status": "success" if ok else "failure",
        "version": "1.0.0-1+deb13",
        "package_path": f"/ws/dist/hello_{arch}_{suite}.deb" if ok else "",
        "size": 2048 if ok else 0,
        "sha256": "cd" * 32 if ok else "",
        "reason": "" if ok else "checksum mismatch for hello.tar.gz",
        "failure_category": None if ok else "security",
        "lintian": LintianCounts(0, 0, 0, ()) if ok else None,
        "duration_seconds": 1.5,
    }
    values.update(overrides)
    return JobResult(**values)  # type: ignore[arg-type]


def result(jobs: tuple[JobResult, ...], skipped: tuple[SkippedArch, ...] = ()) -> BuilderResult:
    failed = [j for j in jobs if j.status != "success"]
    status = "success" if not failed else "partial" if len(failed) < len(jobs) else "failure"
    return BuilderResult("hello", "v1.0.0", "1.0.0", "1", status, jobs, skipped, None)


def outcome(**overrides: object) -> ActionOutcome:
    jobs = tuple(job(a, s) for a in ("amd64", "arm64", "armhf") for s in ("bookworm", "trixie"))
    values: dict[str, object] = {
        "status": "success",
        "mode": "builder",
        "package": "hello",
        "version": "1.0.0",
        "packages": tuple(
            ProducedPackage(
                f"dist/hello_{j.arch}_{j.suite}.deb", j.arch, j.suite, j.version, 2048, j.sha256, None
            )
            for j in jobs
        ),
        "result": result(jobs),
        "failure": None,
        "telemetry": figures(),
        "duration_seconds": 420.4,
        "exit_code": 0,
        "run": make_run(),
    }
    values.update(overrides)
    return ActionOutcome(**values)  # type: ignore[arg-type]


def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)\n```", markdown, flags=re.S)


def assert_fences_balanced(markdown: str) -> None:
    open_fence: str | None = None
    for line in markdown.splitlines():
        m = re.match(r"^(`{3,})", line)
        if not m:
            continue
        if open_fence is None:
            open_fence = m.group(1)
        elif line.strip() == open_fence:
            open_fence = None
    assert open_fence is None, "a code fence is left open"


def test_success_summary_has_every_part() -> None:
    md = render(outcome(), "dist/build-summary.json")
    assert md.startswith("## ✅ hello 1.0.0: success")
    assert "**6** packages built" in md
    # the grid: arch rows × suite columns with size and lintian
    assert "| arch \\ suite | bookworm | trixie |" in md
    assert "| **arm64** | ✅ 2.0 KiB · lintian ✓ | ✅ 2.0 KiB · lintian ✓ |" in md
    # headline telemetry
    assert (
        "| Peak memory | 2047.6 MB (the build's cgroup: anonymous + mapped file pages at each sample) |" in md
    )
    assert "↓ 50.0 MiB, ↑ 1.0 MiB on `eth0`" in md
    assert "Performance score" not in md  # nothing to score against yet
    assert "Memory with page cache" not in md  # no cgroup was readable
    assert "| Counters | download retries 1 |" in md
    # the stage chart on the build's own clock, and a table of every stage
    blocks = mermaid_blocks(md)
    assert blocks[0].startswith("gantt\n")
    assert "dateFormat x" in blocks[0] and "axisFormat %s" in blocks[0]
    assert "    architecture_arm64 (3 min 40 s) :done, 182200, 402600" in blocks[0]
    assert "| ✅ | architecture\\_arm64 | 182.2 s | 3 min 40 s | 2047.6 MB | 200.0 s | built |" in md
    # four samples over seven minutes are not a chart
    assert not any(b.startswith("xychart-beta") for b in blocks)
    assert "4 memory samples over 7 min 0 s are too few to chart" in md
    assert "No baseline yet" in md
    assert "`dist/build-summary.json`" in md
    assert_fences_balanced(md)
    assert "Failure" not in md


@pytest.mark.parametrize(
    ("layout", "scope"),
    [
        ("dedicated", "the build's own cgroup"),
        ("container", "the container's cgroup (the action's entrypoint included)"),
        ("shared", "this job's cgroup (shared with other processes of the runner)"),
    ],
)
def test_the_cgroups_peak_with_page_cache_is_labelled_beside_the_headline(layout: str, scope: str) -> None:
    md = render(outcome(telemetry=figures(cgroup_peak_mb=6144.0, memory_layout=layout)), "x.json")
    assert f"| Memory with page cache | 6144.0 MB at most, charged to {scope} |" in md
    assert "| Peak memory | 2047.6 MB" in md  # the headline stays the build's own memory


def test_gantt_tasks_have_valid_start_and_end() -> None:
    md = render(outcome(), "s.json")
    gantt = mermaid_blocks(md)[0]
    tasks = re.findall(r"^    (.+?) :(?:done, |crit, |active, )?(\d+), (\d+)$", gantt, flags=re.M)
    assert len(tasks) == 4  # the whole build and three stages
    assert tasks[0] == ("Whole build (7 min 0 s)", "0", "420400")
    for _, start, end in tasks:
        assert 420400 >= int(end) > int(start) >= 0  # milliseconds since the build started


def test_failure_summary_shows_category_reason_and_remediation() -> None:
    failure = FailureInfo(
        category="network",
        reason="curl: (22) The requested URL returned error: 503\n```\nnested fence",
        stage="download_amd64",
        remediation=("Retry the job: 503 is usually transient.", "Check https://www.githubstatus.com/"),
        exit_code=1,
        transient=True,
    )
    md = render(outcome(status="failure", failure=failure, packages=(), exit_code=1), "s.json")
    assert md.startswith("## ❌ hello 1.0.0: failure")
    assert "### Failure: network" in md
    assert "- **Stage:** `download_amd64`" in md
    assert "transient (a retry may succeed)" in md
    assert "````text\ncurl: (22)" in md  # the fence is longer than the reason's own backticks
    assert "1. Retry the job: 503 is usually transient." in md
    assert_fences_balanced(md)


def test_partial_build_grid_marks_failed_and_skipped() -> None:
    jobs = (job("amd64", "trixie"), job("arm64", "trixie", ok=False))
    res = result(jobs, skipped=(SkippedArch("riscv64", "no release asset matches riscv64"),))
    failure = FailureInfo(category="security", reason="arm64/trixie: checksum mismatch")
    md = render(outcome(status="partial", result=res, failure=failure, exit_code=1), "s.json")
    assert "## ⚠️ hello 1.0.0: partial" in md
    assert "| **arm64** | ❌ security |" in md
    assert "| **riscv64** | ⏭️ |" in md
    assert "- **riscv64**: no release asset matches riscv64" in md
    assert "- **arm64/trixie** (security): checksum mismatch for hello.tar.gz" in md


def test_configuration_error_names_file_line_and_field() -> None:
    failure = FailureInfo(
        category="configuration",
        reason="unknown key 'architecure'; did you mean 'architectures'?",
        stage="configuration",
        file="package.yaml",
        line=7,
        field="architecure",
    )
    res = BuilderResult("", "v1", "", "1", "failure", (), (), None)
    md = render(outcome(status="failure", result=res, failure=failure, packages=(), exit_code=2), "s.json")
    assert "- **Where:** `package.yaml, line 7` (field `architecure`)" in md


def test_invalid_inputs_are_listed() -> None:
    md = render(
        outcome(
            status="failure",
            result=None,
            run=None,
            telemetry=None,
            packages=(),
            input_problems=(("max-parallel", "'abc' is not `auto` or a whole number"),),
        ),
        "s.json",
    )
    assert "### Failure: configuration" in md
    assert "- `max-parallel`: 'abc' is not \\`auto\\` or a whole number" in md


def test_cancelled_run_says_so_without_a_failure_section() -> None:
    failure = FailureInfo(category="unknown", reason="killed")
    md = render(outcome(status="cancelled", failure=failure, exit_code=143), "s.json")
    assert md.startswith("## ⏹️ hello 1.0.0: cancelled")
    assert "was cancelled" in md
    assert "### Failure" not in md


def test_regressions_are_listed_with_the_comparison() -> None:
    t = figures(
        regressions=("Build duration increased by 25%",),
        baseline_comparison={"duration_diff_percent": 25.0, "memory_diff_percent": 3.0},
        performance_score=75.0,
        has_baseline=True,
    )
    md = render(outcome(telemetry=t, fail_on_regression=True), "s.json")
    assert "**Regression detected** (fails this step; threshold 20 %)" in md
    assert "- Build duration increased by 25%" in md
    assert "| duration | +25.0 % |" in md
    assert "| Performance score | 75/100 against the baseline |" in md


def test_without_telemetry_there_are_no_charts() -> None:
    md = render(outcome(telemetry=None, run=None), "s.json")
    assert "Telemetry was disabled" in md
    assert "```mermaid" not in md


def test_untrusted_text_cannot_inject_markup() -> None:
    jobs = (job("amd64", "trixie", ok=False, reason="<script>alert(1)</script> | pipe\nnewline"),)
    failure = FailureInfo(category="packaging", reason="x")
    md = render(outcome(status="failure", result=result(jobs), failure=failure, packages=()), "s.json")
    assert "<script>" not in md
    assert "&lt;script&gt;" in md
    # stage names with Mermaid syntax characters are written as entities Mermaid decodes
    stages = (StageRecord('click: "name"; # x', "failure", T0, T0 + 1, 1.0),)
    md = render(outcome(run=make_run(stages=stages)), "s.json")
    gantt = mermaid_blocks(md)[0]
    assert "    ❌ #99;lick#58; #34;name#34;#59; #35; x (1.0 s) :crit, 0, 1000" in gantt
    assert '| ❌ | click: "name"; # x |' in md  # the table keeps the name as written


def test_long_series_are_downsampled_keeping_the_peak() -> None:
    values = [10.0] * 10_000
    values[7777] = 999.0
    points = downsample_max(values, 60)
    assert len(points) == 60 and max(points) == 999.0
    memory = tuple(MemorySample(T0 + i, 100.0 + (900.0 if i == 4321 else 0.0), 0.0) for i in range(20_000))
    cpu = tuple(CpuSample(T0 + i, 50.0, 10.0) for i in range(20_000))
    run = make_run(duration=20_000.0)
    run = replace(run, memory=replace(run.memory, samples=memory), cpu=replace(run.cpu, samples=cpu))
    md = render(outcome(run=run), "s.json")
    line = re.search(r"line \[(.*?)\]", md)
    assert line is not None
    assert len(line.group(1).split(", ")) <= 60 and "1000.0" in line.group(1)


def test_many_stages_are_capped() -> None:
    stages = tuple(
        StageRecord(f"job_{i}", "success", T0 + i, T0 + i + 1 + i % 7, 1 + i % 7) for i in range(500)
    )
    md = render(outcome(run=make_run(stages=stages)), "s.json")
    gantt = mermaid_blocks(md)[0]
    assert len(re.findall(r":done, ", gantt)) == 40
    assert "title Stages (the 40 longest of 500)" in gantt
    assert "460 shorter stages are not drawn" in md
    assert "<details><summary>All 500 stages</summary>" in md and "| ✅ | job\\_499 |" in md


# ---------------------------------------------------------------- the size cap


def test_a_huge_failure_stays_under_the_cap_and_valid() -> None:
    many = tuple(job(f"arch{i}", f"suite{i % 50}", ok=False, reason="E: " + "x" * 3000) for i in range(2000))
    failure = FailureInfo(category="packaging", reason="```\n" + "y" * 2_000_000)
    md = render(outcome(status="failure", result=result(many), failure=failure, packages=()), "s.json")
    assert len(md.encode()) <= SUMMARY_LIMIT
    assert md.startswith("## ❌ hello 1.0.0: failure")
    assert "### Failure: packaging" in md  # the most important parts survive
    assert "left out to stay under GitHub's 1 MiB" in md or "truncated" in md
    assert_fences_balanced(md)


def test_fit_drops_least_important_sections_first() -> None:
    parts = [Section(0, "# title"), Section(5, "a" * 500), Section(1, "b" * 100), Section(9, "c" * 600)]
    text = fit(parts, limit=800)
    assert "# title" in text and "b" * 100 in text and "a" * 500 in text and "c" * 600 not in text
    assert "1 section(s) left out" in text


def test_hard_cut_closes_an_open_fence_and_keeps_utf8() -> None:
    parts = [Section(0, "# t\n\n" + code_block("é" * 5000 + "\n" + "ü" * 5000))]
    text = fit(parts, limit=3000)
    assert len(text.encode()) <= 3000
    text.encode("utf-8").decode("utf-8")
    assert_fences_balanced(text)
    assert "truncated" in text


def test_write_appends_and_respects_what_is_already_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "step_summary_1"
    summary.write_text("x" * (GITHUB_SUMMARY_LIMIT - 50_000))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    big = FailureInfo(category="packaging", reason="z" * 900_000)
    assert write_job_summary(outcome(status="failure", failure=big), "s.json") == summary
    assert summary.stat().st_size < GITHUB_SUMMARY_LIMIT
    assert summary.read_text().startswith("x" * 100)


def test_no_summary_file_means_nothing_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert write_job_summary(outcome(), "s.json") is None


def _network_row(md: str) -> str:
    return next(line for line in md.splitlines() if line.startswith("| Network |"))


@pytest.mark.parametrize(
    ("shared", "says"),
    [
        (True, "counters of a shared interface: include other traffic on this machine"),
        (False, "the build's own network: no other traffic included"),
        (None, "not known whether the interface is shared: may include other traffic on this machine"),
    ],
)
def test_network_line_says_what_the_counters_include(shared: bool | None, says: str) -> None:
    t = figures(network_interface_shared=shared, builder_downloaded_bytes=48_234_496)
    row = _network_row(render(outcome(telemetry=t), "s.json"))
    assert row == f"| Network | ↓ 50.0 MiB, ↑ 1.0 MiB on `eth0` ({says}). Builder downloaded 46.0 MiB |"


def test_network_line_for_loopback_and_a_build_that_reports_no_downloads() -> None:
    t = figures(network_interface="lo", network_interface_shared=True, builder_downloaded_bytes=None)
    row = _network_row(render(outcome(telemetry=t), "s.json"))
    assert "on `lo` (loopback only: traffic inside this machine" in row
    assert "include other traffic on this machine" in row
    assert "Builder downloaded" not in row


def test_builder_bytes_are_on_the_network_line_not_among_the_counters() -> None:
    base = make_run()
    run = replace(base, counters={**base.counters, "builder_downloaded_bytes": 1234.0})
    md = render(outcome(run=run, telemetry=figures(builder_downloaded_bytes=1234)), "s.json")
    assert "Builder downloaded 1.2 KiB" in _network_row(md)
    assert "| Counters | download retries 1 |" in md
    assert "builder downloaded" not in md


# ---------------------------------------------------------------- stages, time axis, wording


def _with_samples(run: RunData, count: int, tail_zeros: int = 0) -> RunData:
    step = run.duration_seconds / count
    levels = [100.0 + 10 * (i % 5) for i in range(count)] + [0.0] * tail_zeros
    memory = tuple(MemorySample(T0 + i * step, v, 3000.0) for i, v in enumerate(levels))
    cpu = tuple(CpuSample(T0 + i * step, 80.0, 40.0) for i in range(count))
    return replace(run, memory=replace(run.memory, samples=memory), cpu=replace(run.cpu, samples=cpu))


def test_a_job_wrapping_its_steps_is_their_section_not_a_repeated_bar() -> None:
    stages = (
        StageRecord("download_amd64", "success", T0, T0 + 0.35, 0.35),
        StageRecord("architecture_amd64_trixie", "success", T0 + 1, T0 + 9, 8.0),
        StageRecord("package_amd64_trixie", "success", T0 + 1, T0 + 8, 7.0),
        StageRecord("lintian_amd64_trixie", "warning", T0 + 8, T0 + 9, 1.0, "2 tags: spelling"),
    )
    md = render(outcome(run=make_run(stages=stages, duration=10.0)), "s.json")
    gantt = mermaid_blocks(md)[0]
    assert "    download_amd64 (350 ms) :done, 0, 350" in gantt
    assert "    section architecture_amd64_trixie (8.0 s)" in gantt
    assert "architecture_amd64_trixie (8.0 s) :" not in gantt
    assert "    ⚠️ lintian_amd64_trixie (1.0 s) :active, 8000, 9000" in gantt
    assert "| ⚠️ | lintian\\_amd64\\_trixie | 8.0 s | 1.0 s | — | — | 2 tags: spelling |" in md
    assert "**1** stage with a warning" in md
    assert "amber ⚠️ finished with a warning" in md


def test_a_cancelled_run_names_the_stage_that_was_running() -> None:
    stages = (
        StageRecord("download_amd64", "success", T0, T0 + 1, 1.0),
        StageRecord("package_amd64_trixie", "incomplete", T0 + 1, T0 + 4, 3.0),
    )
    run = make_run(stages=stages, duration=4.0)
    md = render(outcome(status="cancelled", run=run), "s.json")
    assert "cancelled (SIGINT/SIGTERM) while stage `package_amd64_trixie` was running" in md
    assert "| ⏹️ | package\\_amd64\\_trixie |" in md
    assert "⏹️ package_amd64_trixie (3.0 s) :crit, active, 1000, 4000" in mermaid_blocks(md)[0]


def test_a_command_build_is_not_a_count_of_packages() -> None:
    none = render(outcome(mode="command", package="", result=None, packages=()), "s.json")
    assert "The build command left no new .deb file in the output folder" in none
    assert "packages built" not in none
    one = outcome(mode="command", package="", result=None)
    assert "The build command produced **6** new .deb files" in render(one, "s.json")


def test_a_failed_build_has_no_score_and_a_first_baseline_says_so() -> None:
    scored = figures(has_baseline=True, performance_score=100.0)
    failure = FailureInfo(category="network", reason="503")
    md = render(outcome(status="failure", failure=failure, telemetry=scored, packages=()), "s.json")
    assert "Performance score" not in md and "No package was built" in md
    first = render(outcome(telemetry=figures(baseline_saved=True)), "s.json")
    assert "this run was saved as the baseline later runs compare with" in first
    assert "new baseline" not in first


def test_memory_chart_peaks_at_the_tables_peak_on_the_shared_axis() -> None:
    run = _with_samples(make_run(duration=30.0), 30, tail_zeros=3)
    md = render(outcome(run=run, telemetry=figures(peak_memory_mb=180.0)), "s.json")
    memory, cpu = (b for b in mermaid_blocks(md) if b.startswith("xychart-beta"))
    assert '"plotColorPalette": "#1f6feb, #d4600f"' in memory
    assert 'x-axis "seconds since the build started" 0 --> 30.0' in memory
    assert 'x-axis "seconds since the build started" 0 --> 30.0' in cpu
    series, peak = (re.findall(r"line \[(.*?)\]", memory)[i].split(", ") for i in (0, 1))
    assert "0.0" not in series  # the samples after the tree exited are not its memory
    assert max(map(float, series)) == 140.0 and set(peak) == {"180.0"}
    assert "| Peak memory | 180.0 MB" in md and "the peak in the table above (180.0 MB)" in md


def test_stage_durations_under_a_second_are_in_milliseconds() -> None:
    assert short_duration(0.0004) == "0 ms" and short_duration(0.35) == "350 ms"
    assert short_duration(1.25) == "1.2 s" and short_duration(61) == "1 min 1 s"


def test_mermaid_text_neutralises_keywords_in_any_case_and_cuts_with_an_ellipsis() -> None:
    assert mermaid_text("Click tests (UI)") == "#67;lick tests (UI)"
    assert mermaid_text("DATEFORMAT YYYY") == "#68;ATEFORMAT YYYY"
    assert mermaid_text("%% hidden") == "#37;#37; hidden"
    assert mermaid_text("plain name") == "plain name"
    long = mermaid_text("x" * 100)
    assert long == "x" * 59 + "…"
    assert mermaid_text("\n\t") == "(unnamed)"


def test_resampling_keeps_the_peak_and_spans_the_whole_run() -> None:
    times = [i * 0.1 for i in range(1000)]
    values = [1.0] * 1000
    values[555] = 9.0
    points = resample_max(times, values, 100.0, 60)
    assert len(points) == 60 and max(points) == 9.0
    assert resample_max([50.0], [3.0], 100.0, 5) == [3.0, 3.0, 3.0, 3.0, 3.0]
