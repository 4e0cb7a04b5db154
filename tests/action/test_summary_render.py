"""Every Mermaid block of generated job summaries renders with the real mermaid, at every version
GitHub has used, and every stage name shows up in its chart as written.

The renderer is tools/mermaid (mermaid-cli with Debian's chromium; ``make deps`` installs it).
All summaries of this module are written first and rendered in one call (one browser a version),
because starting chromium is most of the cost.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from action.job_summary import MAX_GANTT_TASKS, MAX_LABEL_CHARS, render
from action.outcome import FailureInfo
from telemetry.model import CpuSample, MemorySample, ProcessOutcome, RunData, StageRecord
from tests.action.test_job_summary import figures, mermaid_blocks, outcome
from tests.action.test_trend_summary import _view
from tests.conftest import skip_or_fail
from tests.telemetry.factories import T0, make_run

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "mermaid"
RENDER = TOOL / "render.mjs"
VERSIONS = ("10.9", "11.4", "11.12")
KEYWORDS = (
    "accTitle",
    "accDescr",
    "accDescription",
    "axisFormat",
    "bar",
    "call",
    "click",
    "dateFormat",
    "excludes",
    "gantt",
    "href",
    "includes",
    "inclusiveEndDates",
    "line",
    "section",
    "tickInterval",
    "title",
    "todayMarker",
    "topAxis",
    "weekday",
    "weekend",
    "x-axis",
    "y-axis",
    "xychart-beta",
)
AWKWARD = (
    "%%",
    "%%{init: {}}%%",
    ':;#"{}',
    "<b>bold</b>",
    "<script>alert(1)</script>",
    "&amp; &lt;",
    "#35; #quot;",
    "ﬂ°°35¶ß",
    "100%",
    "Straße über 東京 🚀",
    "a\tb\nc",
    "`code` | pipe",
    "2024-01-01 release",
    "-->",
    "[x]",
)


def _random_case(word: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in word)


def generated_names(seed: int = 20240601) -> list[str]:
    """Every keyword at the start of a name in some case, each awkward piece, and long names."""
    rng = random.Random(seed)
    names = [f"{_random_case(k, rng)} tests (UI)" for k in KEYWORDS]
    names += [k.upper() + " " + k for k in KEYWORDS[:6]] + [k.lower() for k in KEYWORDS[6:12]]
    names += [f"{piece} stage {i}" for i, piece in enumerate(AWKWARD)] + list(AWKWARD[:6])
    names += ["x" * 200, "Click " + "y" * 100, "é" * 80]
    pool = "".join(AWKWARD) + "abcXYZ _-.:/"
    names += ["".join(rng.choice(pool) for _ in range(rng.randint(1, 90))) for _ in range(20)]
    return names


def _stages(names: list[str], status: str = "success") -> tuple[StageRecord, ...]:
    return tuple(
        StageRecord(name, status, T0 + i * 0.5, T0 + i * 0.5 + 0.4, 0.4, "", 10.0, 0.1)
        for i, name in enumerate(names)
    )


def _sampled(run_duration: float, count: int = 40, stages: tuple[StageRecord, ...] = ()) -> RunData:
    step = run_duration / count
    memory = tuple(MemorySample(T0 + i * step, 100.0 + 10 * (i % 7), 3000.0) for i in range(count))
    cpu = tuple(CpuSample(T0 + i * step, 50.0 + 20 * (i % 5), 20.0) for i in range(count))
    run = make_run(duration=run_duration, stages=stages or None)
    return replace(run, memory=replace(run.memory, samples=memory), cpu=replace(run.cpu, samples=cpu))


@dataclass(frozen=True)
class Case:
    name: str
    markdown: str
    stage_names: tuple[str, ...]  # names whose labels must appear in the gantt chart


def cases() -> list[Case]:
    names = generated_names()
    chunks = [names[i : i + MAX_GANTT_TASKS] for i in range(0, len(names), MAX_GANTT_TASKS)]
    out = [
        Case(f"names-{i}", render(outcome(run=_sampled(60.0, stages=_stages(c))), "s.json"), tuple(c))
        for i, c in enumerate(chunks)
    ]
    many = tuple(
        StageRecord(f"step_{i}", "success", T0 + i, T0 + i + 0.2 + (i % 9), 0.2 + (i % 9)) for i in range(200)
    )
    out.append(Case("two-hundred", render(outcome(run=_sampled(400.0, stages=many)), "s.json"), ()))
    failed = FailureInfo(category="network", reason="503", stage="download_amd64")
    failing = _stages(["download_amd64", "verify_amd64"], "failure")
    out.append(
        Case(
            "failed",
            render(
                outcome(status="failure", failure=failed, packages=(), run=_sampled(30.0, stages=failing)),
                "s.json",
            ),
            ("download_amd64",),
        )
    )
    warned = (StageRecord("lintian_amd64_trixie", "warning", T0 + 1, T0 + 3, 2.0, "2 warnings: x: y; #z"),)
    out.append(Case("warning", render(outcome(run=_sampled(10.0, stages=warned)), "s.json"), ()))
    running = (
        StageRecord("architecture_amd64_trixie", "incomplete", T0, T0 + 9, 9.0),
        StageRecord("package_amd64_trixie", "incomplete", T0 + 1, T0 + 9, 8.0),
    )
    cancelled = _sampled(9.0, stages=running)
    cancelled = replace(cancelled, outcome=ProcessOutcome(None, 15, True, False))
    out.append(Case("cancelled", render(outcome(status="cancelled", run=cancelled), "s.json"), ()))
    command = _stages(["compile", "package"])
    out.append(
        Case(
            "command",
            render(
                outcome(mode="command", package="", result=None, run=_sampled(3.0, stages=command)), "s.json"
            ),
            (),
        )
    )
    short = _sampled(0.7, count=4, stages=_stages(["only"]))
    out.append(Case("short", render(outcome(run=short), "s.json"), ()))
    history = figures(has_baseline=True, reference_duration_seconds=65.0, reference_peak_memory_mb=305.0)
    out.append(Case("history", render(outcome(telemetry=history, history=_view(20)), "s.json"), ()))
    return out


def render_markdown(folder: Path, markdowns: dict[str, str]) -> list[dict[str, object]]:
    """Render every Mermaid block of each named Markdown text with the real mermaid at every
    version (tools/mermaid/render.mjs in chromium); the tool's per-block results."""
    if shutil.which("node") is None or not (TOOL / "node_modules" / "mmdc-11.12").is_dir():
        skip_or_fail("needs node and tools/mermaid/node_modules (make deps installs them)")
    if not Path("/usr/bin/chromium").exists() and not os.environ.get("MERMAID_CHROMIUM"):
        skip_or_fail("needs chromium (apt-get install chromium)")
    files = []
    for name, markdown in markdowns.items():
        path = folder / f"{name}.md"
        path.write_text(markdown, encoding="utf-8")
        files.append(str(path))
    proc = subprocess.run(
        ["node", str(RENDER), "--out", str(folder / "svg"), *files],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results: list[dict[str, object]] = json.loads(proc.stdout.strip().splitlines()[-1])["results"]
    return results


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Case], list[dict[str, object]]]:
    all_cases = cases()
    results = render_markdown(tmp_path_factory.mktemp("mermaid"), {c.name: c.markdown for c in all_cases})
    return all_cases, results


def test_every_block_parses_at_every_version(rendered: tuple[list[Case], list[dict[str, object]]]) -> None:
    all_cases, results = rendered
    expected = sum(len(mermaid_blocks(c.markdown)) for c in all_cases) * len(VERSIONS)
    assert len(results) == expected
    failures = [
        f"{r['version']} {Path(str(r['file'])).name} #{r['index']}: {r['error']}"
        for r in results
        if not r["ok"]
    ]
    assert not failures, "\n".join(failures)


def _svg_texts(svg_file: str) -> list[str]:
    root = ET.parse(svg_file).getroot()
    return [" ".join("".join(el.itertext()).split()) for el in root.iter() if el.tag.endswith("text")]


def _expected_label(name: str) -> str:
    plain = " ".join(name.split())
    return plain if len(plain) <= MAX_LABEL_CHARS else plain[: MAX_LABEL_CHARS - 1].rstrip() + "…"


def test_every_stage_name_is_drawn_as_written(rendered: tuple[list[Case], list[dict[str, object]]]) -> None:
    all_cases, results = rendered
    by_file = {(Path(str(r["file"])).stem, r["version"], r["index"]): r for r in results}
    checked = 0
    for case in all_cases:
        if not case.stage_names:
            continue
        for version in VERSIONS:
            result = by_file[(case.name, version, 1)]  # the gantt chart is the first block
            # A bar's label: the status icon (none when it finished), the name, its duration.
            labels = [re.sub(r"^(❌|⚠️|⏳|⏹️) ", "", t) for t in _svg_texts(str(result["svg"]))]
            for name in case.stage_names:
                label = _expected_label(name)
                assert any(re.fullmatch(re.escape(label) + r" \(\d+ ms\)", t) for t in labels), (
                    version,
                    name,
                )
                checked += 1
            # The title is ours: no name became a statement that took it over.
            assert [t for t in labels if t.startswith("Stages")] == ["Stages"], version
    assert checked >= len(generated_names()) * len(VERSIONS)


def test_the_gantt_axis_is_seconds_since_the_start(
    rendered: tuple[list[Case], list[dict[str, object]]],
) -> None:
    _, results = rendered
    two_hundred = [r for r in results if Path(str(r["file"])).stem == "two-hundred" and r["index"] == 1]
    for result in two_hundred:
        ticks = [t for t in _svg_texts(str(result["svg"])) if re.fullmatch(r"\d+", t)]
        assert ticks[0] == "0" and int(ticks[-1]) <= 400 and len(ticks) >= 3, ticks
        assert all(int(b) > int(a) for a, b in itertools.pairwise(ticks))


def test_escaped_text_decodes_to_the_name() -> None:
    from action.job_summary import mermaid_text

    for name in generated_names():
        text = mermaid_text(name, limit=1000)
        assert not re.search(r'[:;"{}%<>`]', re.sub(r"#\d+;", "", text))
        # Mermaid turns each #<code>; into that character after parsing.
        assert re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), text) == " ".join(name.split())
