"""The job summary of aggregate mode: every leg, problem and cell named, names escaped, the cap kept."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from action.aggregate_summary import MAX_LEG_TASKS, MAX_LISTED, aggregate_sections, legs_gantt
from action.job_summary import GITHUB_SUMMARY_LIMIT, fit, render
from action.join import Aggregate, GridCell, JoinProblem
from action.legs import Leg, LegFailure, RunnerFacts
from action.outcome import ActionOutcome, BuildMode, ProducedPackage
from contracts.vocabulary import ActionStatus, JobStatus, LegProblem
from telemetry.metrics_doc import MetricsDocument
from tests.action.test_job_summary import assert_fences_balanced, figures, mermaid_blocks
from tests.action.test_summary_render import VERSIONS, generated_names, render_markdown
from tests.telemetry.factories import T0

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "telemetry" / "golden" / "success" / "metrics.json"
BASE = MetricsDocument.from_json(json.loads(GOLDEN.read_text(encoding="utf-8")))
ARM = RunnerFacts("Linux", "ARM64", "GitHub Actions 7", "aarch64", "arm-host", "Ubuntu 24.04", 4, 16384)
X64 = RunnerFacts("Linux", "X64", "GitHub Actions 3", "x86_64", "x64-host", "Ubuntu 24.04", 2, 8192)
HOSTILE = ("a|b", "<script>alert(1)</script>", "#", "`tick` name", "with: colon", "Section: x")


def metrics(offset: float, duration: float, regressions: tuple[str, ...] = ()) -> MetricsDocument:
    session = replace(
        BASE.build_session,
        start_timestamp=T0 + offset,
        end_timestamp=T0 + offset + duration,
        duration_seconds_exact=duration,
    )
    performance = replace(BASE.performance_metrics, regressions_detected=regressions)
    return replace(BASE, build_session=session, performance_metrics=performance)


def leg(
    name: str,
    cells: Sequence[tuple[str, str]] = (),
    *,
    status: ActionStatus | None = ActionStatus.SUCCESS,
    failed: Sequence[tuple[str, str, str]] = (),
    offset: float = 0.0,
    duration: float = 300.0,
    timed: bool = True,
    problem: LegProblem | None = None,
    detail: str = "",
    runner: RunnerFacts | None = X64,
    regressions: tuple[str, ...] = (),
) -> Leg:
    packages = tuple(
        ProducedPackage(f"dist/hello_{arch}_{suite}.deb", arch, suite, "1.0.0-1", 2048, "ab" * 32, None, name)
        for arch, suite in cells
    )
    return Leg(
        name=name,
        root=Path("/agg") / name,
        summary_file=None if problem == LegProblem.MISSING else Path("/agg") / name / "build-summary.json",
        problem=problem,
        detail=detail,
        status=None if problem in (LegProblem.MISSING, LegProblem.UNREADABLE) else status,
        package="hello",
        version="1.0.0",
        packages=packages,
        files={p.path: Path(f"/agg/{name}/{Path(p.path).name}") for p in packages},
        failed=tuple(LegFailure(name, a, s, reason, "network") for a, s, reason in failed),
        telemetry={"performance_regressions": list(regressions)} if timed else None,
        metrics=metrics(offset, duration, regressions) if timed and problem is None else None,
        # A leg whose summary cannot be read tells nothing of its runner.
        runner=None if problem in (LegProblem.MISSING, LegProblem.UNREADABLE) else runner,
    )


def aggregate(
    legs: Sequence[Leg],
    *,
    problems: Sequence[JoinProblem] = (),
    notes: Sequence[str] = (),
    arches: Sequence[str] = (),
    suites: Sequence[str] = (),
    status: ActionStatus = ActionStatus.SUCCESS,
) -> Aggregate:
    """What the join would make of ``legs`` (built here, so the summary is tested on its own)."""
    usable = [item for item in legs if item.usable]
    packages = tuple(
        ProducedPackage(
            f"agg/{item.name}/{p.path}", p.arch, p.suite, p.version, p.size, p.sha256, None, item.name
        )
        for item in usable
        for p in item.packages
    )
    failed = tuple(f for item in usable for f in item.failed)
    arch_axis = tuple(dict.fromkeys([*arches, *(p.arch for p in packages), *(f.arch for f in failed)]))
    suite_axis = tuple(dict.fromkeys([*suites, *(p.suite for p in packages), *(f.suite for f in failed)]))
    built = {(p.arch, p.suite): p for p in packages}
    broken = {(f.arch, f.suite): f for f in failed}
    grid = []
    for arch in arch_axis:
        for suite in suite_axis or ("",):
            if (arch, suite) in built:
                p = built[(arch, suite)]
                grid.append(GridCell(arch, suite, JobStatus.SUCCESS, p.leg, p))
            elif (arch, suite) in broken:
                f = broken[(arch, suite)]
                grid.append(GridCell(arch, suite, JobStatus.FAILURE, f.leg, reason=f.reason))
            else:
                asked = arch in arches and (not suites or suite in suites)
                grid.append(GridCell(arch, suite, None, "", asked=asked))
    sessions = [item.metrics.build_session for item in usable if item.metrics]
    refused = [JoinProblem(item.name, item.problem, item.detail) for item in legs if item.problem]
    return Aggregate(
        legs=tuple(legs),
        package="hello",
        version="1.0.0",
        packages=packages,
        failed=failed,
        skipped=(),
        problems=(*refused, *problems),
        notes=tuple(notes),
        arches=arch_axis,
        suites=suite_axis or ("",),
        grid=tuple(grid),
        status=status,
        start_timestamp=min((s.start_timestamp for s in sessions), default=None),
        end_timestamp=max((s.end_timestamp for s in sessions), default=None),
    )


def outcome(agg: Aggregate, with_figures: bool = True) -> ActionOutcome:
    return ActionOutcome(
        status=agg.status,
        mode=BuildMode.AGGREGATE,
        package=agg.package,
        version=agg.version,
        packages=agg.packages,
        result=None,
        failure=None,
        telemetry=figures() if with_figures else None,
        duration_seconds=0.0,
        exit_code=0,
        aggregate=agg,
    )


def matrix() -> Aggregate:
    """Three good legs on two kinds of runner, one cancelled, one failed job, and every kind of bad leg."""
    legs = [
        leg("deb-amd64", [("amd64", "bookworm"), ("amd64", "trixie")], offset=0, duration=400),
        leg("deb-arm64", [("arm64", "bookworm"), ("arm64", "trixie")], offset=30, duration=620, runner=ARM),
        leg(
            "deb-armhf",
            [("armhf", "bookworm")],
            status=ActionStatus.PARTIAL,
            failed=[
                ("armhf", "trixie", "curl: (22) The requested URL returned error: 503 while downloading x")
            ],
            offset=10,
            duration=200,
            regressions=("Build duration increased by 35% (threshold 20%)",),
        ),
        leg("deb-i386", status=ActionStatus.CANCELLED, offset=5, duration=90),
        leg("deb-gone", problem=LegProblem.MISSING, detail="deb-gone: no such artifact folder under agg/"),
        leg("deb-torn", problem=LegProblem.UNREADABLE, detail="deb-torn: build-summary.json: not valid JSON"),
        leg(
            "deb-other",
            [("s390x", "trixie")],
            problem=LegProblem.FOREIGN,
            detail="deb-other: built other 2.0, not hello 1.0.0: refused",
        ),
        leg("deb-notime", [("ppc64el", "bookworm")], timed=False),
    ]
    gap = JoinProblem("", LegProblem.MISSING, "riscv64/trixie: no leg built or attempted it")
    return aggregate(
        legs,
        problems=[gap],
        notes=["hello_amd64.deb: built by deb-amd64 and deb-x, identical; listed once"],
        arches=("amd64", "arm64", "armhf", "riscv64"),
        suites=("bookworm", "trixie"),
        status=ActionStatus.PARTIAL,
    )


def test_the_outcome_counts_legs_by_state_and_gives_the_wall_time() -> None:
    md = render(outcome(matrix()), "build-summary.json")
    assert md.startswith("## ⚠️ Joined 8 legs: 6 packages of hello 1.0.0\n")
    assert (
        "**Legs:** 3 ✅ success, 1 ⚠️ partial, 1 ⏹️ cancelled, 1 ❔ missing, 1 🚫 unreadable, 1 🚫 foreign."
        in md
    )
    # 0 s to 650 s: the arm64 leg started 30 s late and ran 620 s.
    assert "**Wall time:** 10 min 50 s, from the first leg's start (2025-01-18 05:00:00 UTC)" in md
    assert "to the last leg's end (2025-01-18 05:10:50 UTC) of the legs with telemetry." in md
    assert "Combined figures: peak memory 2047.6 MB (the largest leg's)" in md
    assert_fences_balanced(md)


def test_the_grid_is_complete_with_each_packages_leg() -> None:
    md = render(outcome(matrix()), "build-summary.json")
    assert "| arch \\ suite | bookworm | trixie |" in md
    assert "| **amd64** | ✅ deb-amd64 · 2.0 KiB | ✅ deb-amd64 · 2.0 KiB |" in md
    assert "| **arm64** | ✅ deb-arm64 · 2.0 KiB | ✅ deb-arm64 · 2.0 KiB |" in md
    assert (
        "| **armhf** | ✅ deb-armhf · 2.0 KiB | ❌ deb-armhf: curl: (22) The requested URL returned e… |"
        in md
    )
    # Asked for and attempted by nobody: named missing; not asked for: a dash.
    assert "| **riscv64** | ❔ missing | ❔ missing |" in md
    assert "| **ppc64el** | ✅ deb-notime · 2.0 KiB | — |" in md
    # The foreign leg's package is refused: no s390x row.
    assert "s390x**" not in md


def test_bad_legs_are_named_with_what_is_wrong() -> None:
    md = render(outcome(matrix()), "build-summary.json")
    problems = md.split("### Problems", 1)[1].split("###", 1)[0]
    assert "- ❔ **missing** · **deb-gone**: no such artifact folder under agg/" in problems
    assert "- 🚫 **unreadable** · **deb-torn**: build-summary.json: not valid JSON" in problems
    assert "- 🚫 **foreign** · **deb-other**: built other 2.0, not hello 1.0.0: refused" in problems
    assert "- ❔ **missing** · (no leg): riscv64/trixie: no leg built or attempted it" in problems
    assert "Notes (harmless):" in problems and "identical; listed once" in problems
    legs = md.split("### Legs\n", 1)[1].split("###", 1)[0]
    assert "| ❔ missing | **deb-gone** | — | — | — | — | — | — | — | — | — |" in legs
    assert "| 🚫 foreign | **deb-other** | 1 (refused) |" in legs
    # What is wrong with a bad leg is said once, under Problems; its row in the table has its state.
    assert "| 🚫 unreadable | **deb-torn** |" in legs
    assert md.count("build-summary.json: not valid JSON") == 1


def test_a_cancelled_leg_is_shown_as_cancelled() -> None:
    md = render(outcome(matrix()), "build-summary.json")
    row = next(line for line in md.splitlines() if "**deb-i386**" in line and line.startswith("|"))
    assert row.startswith("| ⏹️ cancelled | **deb-i386** |")
    gantt = mermaid_blocks(md)[0]
    assert "    ⏹️ deb-i386 (1 min 30 s) :crit, active, 5000, 95000" in gantt


def test_the_legs_table_shows_each_legs_figures_and_runner() -> None:
    md = render(outcome(matrix()), "build-summary.json")
    rows = {
        line.split(" | ")[1]: line for line in md.splitlines() if line.startswith("| ") and "**deb-" in line
    }
    arm = rows["**deb-arm64**"]
    assert "| 2 | — | 30.0 s | 10 min 20 s | 2047.6 MB | 383.5 s | 50.0 MiB |" in arm
    assert "| Linux/ARM64, aarch64, 4 cores, 16.0 GiB, `GitHub Actions 7` | — |" in arm
    assert "Linux/X64, x86\\_64, 2 cores, 8.0 GiB" in rows["**deb-amd64**"]
    assert rows["**deb-armhf**"].endswith("| ⚠️ 1 |")
    assert "| **deb-notime** | 1 | — | — | — | — | — | — |" in rows["**deb-notime**"]


def test_the_gantt_has_one_task_per_timed_leg_on_one_axis() -> None:
    md = render(outcome(matrix()), "build-summary.json")
    gantt = mermaid_blocks(md)[0]
    assert gantt.startswith("gantt\n%%{init: ")
    assert "dateFormat x" in gantt and "axisFormat %s" in gantt
    tasks = re.findall(r"^    (.+?) :((?:\w+, )*)(\d+), (\d+)$", gantt, flags=re.M)
    assert [t[0] for t in tasks] == [
        "Whole matrix (10 min 50 s)",
        "deb-amd64 (6 min 40 s)",
        "⏹️ deb-i386 (1 min 30 s)",
        "⚠️ deb-armhf (3 min 20 s)",
        "deb-arm64 (10 min 20 s)",
    ]
    assert tasks[4][1:] == ("done, ", "30000", "650000")
    assert tasks[3][1] == "active, "
    # Legs without telemetry are not drawn, and said so; refused legs are not part of the matrix's time.
    assert "Not drawn, no telemetry in the artifact: **deb-notime**." in md
    assert "deb-other" not in gantt


def test_hostile_leg_names_are_escaped_everywhere() -> None:
    legs = [
        leg(name, [(f"arch{i}", "trixie")], offset=i, failed=[(f"arch{i}", "sid", f"{name} broke")])
        for i, name in enumerate(HOSTILE)
    ]
    md = render(
        outcome(aggregate(legs, problems=[JoinProblem(HOSTILE[0], LegProblem.DUPLICATE, "a|b: <b>x</b>")])),
        "s.json",
    )
    # Inside a code span (a package's path) mark-up is text; everywhere else it must be escaped.
    text = re.sub(r"`[^`]*`", "", md)
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    for line in md.splitlines():
        if line.startswith("| **arch"):
            # A grid row is arch + two suites: a raw pipe in a name would add cells.
            assert len(re.findall(r"(?<!\\)\|", line)) == 4, line
        if line.startswith("| ✅ success |"):
            assert len(re.findall(r"(?<!\\)\|", line.replace("\\|", ""))) == 12, line
    assert "✅ a\\|b · 2.0 KiB" in md and "✅ \\`tick\\` name" in md
    gantt = mermaid_blocks(md)[0]
    tasks = re.findall(r"^    (.+?) :(?:\w+, )*\d+, \d+$", gantt, flags=re.M)
    assert len(tasks) == 1 + len(HOSTILE)
    labels = [t.rsplit(" (", 1)[0] for t in tasks[1:]]
    assert labels == [
        "a|b",
        "#60;script#62;alert(1)#60;/script#62;",
        "#35;",
        "#96;tick#96; name",
        "with#58; colon",
        "#83;ection#58; x",
    ]


def test_command_mode_legs_have_one_column() -> None:
    legs = [leg(f"leg-{a}", [(a, "")]) for a in ("amd64", "arm64")]
    md = render(outcome(aggregate(legs)), "s.json")
    assert "| arch | package |\n|---|---|\n| **amd64** | ✅ leg-amd64 · 2.0 KiB |" in md


def test_long_lists_are_capped() -> None:
    gaps = [
        JoinProblem("", LegProblem.MISSING, f"arch{i}/trixie: no leg built or attempted it")
        for i in range(120)
    ]
    md = render(outcome(aggregate([leg("one", [("amd64", "trixie")])], problems=gaps)), "s.json")
    problems = md.split("### Packages", 1)[0]
    assert problems.count("no leg built or attempted it") == MAX_LISTED
    assert "- … and 70 more problems in build-summary.json" in md


def big_matrix() -> Aggregate:
    """50 legs of 12 packages each (600 in all), every tenth leg failing two jobs."""
    arches = [f"arch{i:02d}" for i in range(50)]
    suites = [f"suite{j:02d}" for j in range(12)]
    legs = [
        leg(
            f"build-{arch}-with-a-long-artifact-name",
            [(arch, s) for s in suites[: 10 if i % 10 == 0 else 12]],
            failed=[(arch, s, "x" * 500) for s in suites[10:]] if i % 10 == 0 else [],
            status=ActionStatus.PARTIAL if i % 10 == 0 else ActionStatus.SUCCESS,
            offset=i * 7,
            duration=300 + i,
            runner=ARM if i % 2 else X64,
            regressions=("duration +30%",) if i % 5 == 0 else (),
        )
        for i, arch in enumerate(arches)
    ]
    return aggregate(legs, status=ActionStatus.PARTIAL)


def test_fifty_legs_and_six_hundred_packages_fit_under_the_cap() -> None:
    agg = big_matrix()
    assert len(agg.packages) == 590 and len(agg.failed) == 10
    md = render(outcome(agg), "s.json")
    assert len(md.encode()) < GITHUB_SUMMARY_LIMIT
    assert "section(s) left out" not in md  # everything fits as it is
    gantt = mermaid_blocks(md)[0]
    assert len(re.findall(r"^    .+ :(?:\w+, )*\d+, \d+$", gantt, flags=re.M)) == 51
    assert "<details><summary>All 50 legs</summary>" in md
    assert_fences_balanced(md)


def test_the_least_important_sections_go_first() -> None:
    parts = aggregate_sections(outcome(big_matrix()), "s.json")
    titles = [p.markdown.split("\n", 1)[0] for p in parts]
    assert titles[1:] == [
        "### Packages by leg",
        "### Legs",
        "### Legs over time",
        "### Regressions",
        "### Failures",
        "### Files",
    ]
    # Room for the first three sections only: the other four are dropped, least important first.
    keep = sum(len(p.markdown.encode()) for p in parts[:3]) + 200
    md = fit(parts, keep)
    assert "### Packages by leg" in md and "### Legs\n" in md
    assert "### Files" not in md and "### Failures" not in md and "### Legs over time" not in md
    assert "*(4 section(s) left out" in md
    assert_fences_balanced(md)


def test_many_legs_draw_the_telling_ones() -> None:
    legs = [leg(f"leg{i:03d}", offset=i, duration=100 + i) for i in range(MAX_LEG_TASKS + 10)]
    legs[0] = leg("leg000", status=ActionStatus.FAILURE, offset=0, duration=5)
    chart, drawn, omitted = legs_gantt(aggregate(legs))
    assert (drawn, omitted) == (MAX_LEG_TASKS, 10)
    assert "leg000" in chart  # the failed one is kept although it is the shortest
    assert "leg001 " not in chart  # the shortest successful ones are left out
    assert f"the {MAX_LEG_TASKS} most telling of {MAX_LEG_TASKS + 10}" in chart


def test_without_legs_the_summary_says_so() -> None:
    empty = Aggregate((), "", "", (), (), (), (), (), (), ("",), (), ActionStatus.FAILURE, None, None)
    md = render(outcome(empty, with_figures=False), "s.json")
    assert md.startswith("## ❌ Joined 0 legs: 0 packages of no package")
    assert "No leg was found under the aggregate folder" in md
    assert "**Wall time:** not known" in md
    assert_fences_balanced(md)


# ---------------------------------------------------------------- the real mermaid


def render_cases() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Markdown to render, and the leg names its gantt must show as written."""
    names = generated_names()
    chunks = [names[i : i + MAX_LEG_TASKS] for i in range(0, len(names), MAX_LEG_TASKS)]
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for n, chunk in enumerate(chunks):
        legs = [leg(name, offset=i * 3.5, duration=20 + i * 0.5) for i, name in enumerate(chunk)]
        out[f"agg-names-{n}"] = (render(outcome(aggregate(legs)), "s.json"), tuple(chunk))
    out["agg-matrix"] = (render(outcome(matrix()), "s.json"), ())
    out["agg-big"] = (render(outcome(big_matrix()), "s.json"), ())
    return out


@pytest.fixture(scope="module")
def rendered(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, tuple[str, tuple[str, ...]]], list[dict[str, object]]]:
    cases = render_cases()
    folder = tmp_path_factory.mktemp("mermaid-aggregate")
    results = render_markdown(folder, {name: markdown for name, (markdown, _) in cases.items()})
    return cases, results


def test_the_legs_gantt_parses_at_every_version(
    rendered: tuple[dict[str, tuple[str, tuple[str, ...]]], list[dict[str, object]]],
) -> None:
    cases, results = rendered
    assert len(results) == sum(len(mermaid_blocks(md)) for md, _ in cases.values()) * len(VERSIONS)
    failures = [f"{r['version']} {Path(str(r['file'])).name}: {r['error']}" for r in results if not r["ok"]]
    assert not failures, "\n".join(failures)


def test_every_leg_name_is_drawn_as_written(
    rendered: tuple[dict[str, tuple[str, tuple[str, ...]]], list[dict[str, object]]],
) -> None:
    import xml.etree.ElementTree as ET

    from tests.action.test_summary_render import _expected_label

    cases, results = rendered
    by_file = {(Path(str(r["file"])).stem, r["version"], r["index"]): r for r in results}
    checked = 0
    for case, (_, names) in cases.items():
        for version in VERSIONS:
            svg = str(by_file[(case, version, 1)]["svg"])
            texts = [
                " ".join("".join(el.itertext()).split())
                for el in ET.parse(svg).getroot().iter()
                if el.tag.endswith("text")
            ]
            assert [t for t in texts if t.startswith("Matrix legs")] == ["Matrix legs"], (case, version)
            for name in names:
                label = re.escape(_expected_label(name))
                assert any(re.fullmatch(label + r" \([\d.]+ s\)", t) for t in texts), (version, name)
                checked += 1
    assert checked >= len(generated_names()) * len(VERSIONS)
