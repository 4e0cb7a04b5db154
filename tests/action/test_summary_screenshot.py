"""The job summary as GitHub shows it, looked at: a demo-like summary (stages, memory and CPU over
time, the history's two charts) as HTML with its charts drawn by the real mermaid 11.12 in Debian's
chromium, on GitHub's white page with mermaid's ``default`` theme and on its dark page (#0d1117)
with the ``dark`` theme. Every chart is screenshotted and every line and bar must show in its
pixels in the colour the summary gave it, clearly apart from what is behind it.

The page is tools/mermaid/summary_page.py's (markdown-it-py for the Markdown), the screenshots are
tools/mermaid/screenshot.mjs's, which also says where each series is drawn. A second pair of pages
paints the first colour of every chart in the background's colour: exactly those series must be
reported unseen, the others still seen, so the check cannot pass on a chart nobody can read.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from action.job_summary import render
from telemetry.model import CpuSample, MemorySample, RunData, StageRecord
from tests.action.test_job_summary import figures, mermaid_blocks, outcome
from tests.action.test_trend_summary import _view
from tests.conftest import skip_or_fail
from tests.telemetry.factories import T0, make_run

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "mermaid"
VERSION = "11.12"
THEMES = ("light", "dark")
# A pixel shows the series when it is this close to the colour the browser painted (RGB distance, of
# 441; anti-aliased edges are not) and clearly apart from what is behind the series: a CIELAB
# difference (CIE76) of at least 25, where 2.3 is the least a person notices (#333 on GitHub's
# #0d1117 is 17; the closest pair these charts draw, green on mermaid's dark band #393b3d, 49).
# A series shows when enough of its pixels do.
SAME_COLOUR = 48.0
CLEARLY_APART = 25.0
# Of a line, at least this many pixels of its colour per pixel of its width (a 2 px stroke gives
# about 2); of a bar, this share of its area (labels inside a gantt bar take some).
LINE_PIXELS_PER_COLUMN = 0.5
BAR_SHARE = 0.5

RGB = tuple[int, int, int]


# ---------------------------------------------------------------- the summary looked at


def _demo_like_run(duration: float = 24.0, count: int = 96) -> RunData:
    """A build like examples/demo's: three downloads, then per architecture and suite a job that
    wraps its package and lintian steps (one lintian with warnings), sampled every 0.25 s."""
    stages: list[StageRecord] = []
    for i, arch in enumerate(("amd64", "arm64", "armhf")):
        stages.append(StageRecord(f"download_{arch}", "success", T0 + 1.3, T0 + 1.4 + 0.1 * i, 0.1 + 0.1 * i))
        for j, suite in enumerate(("bookworm", "trixie")):
            start = T0 + 1.5 + 7.5 * i + 0.1 * j
            stages.append(
                StageRecord(
                    f"architecture_{arch}_{suite}", "success", start, start + 7.4, 7.4, "built", 310.0
                )
            )
            stages.append(StageRecord(f"package_{arch}_{suite}", "success", start, start + 0.4, 0.4))
            status, message = ("warning", "2 warnings") if (i, j) == (1, 1) else ("success", "")
            stages.append(
                StageRecord(f"lintian_{arch}_{suite}", status, start + 0.4, start + 7.4, 7.0, message, 300.0)
            )
    step = duration / count
    # Memory climbs through each architecture's jobs and drops between them; CPU wobbles.
    memory = tuple(MemorySample(T0 + k * step, 20.0 + 290.0 * ((k % 32) / 31), 3000.0) for k in range(count))
    cpu = tuple(CpuSample(T0 + k * step, 40.0 + 35.0 * math.sin(k / 3) ** 2, 20.0) for k in range(count))
    run = make_run(duration=duration, peak_mb=312.7, stages=tuple(stages))
    return replace(run, memory=replace(run.memory, samples=memory), cpu=replace(run.cpu, samples=cpu))


def summary_markdown() -> str:
    telemetry = figures(
        duration_seconds=24.0,
        peak_memory_mb=312.7,
        has_baseline=True,
        comparison_basis="median of 10 baseline runs on main",
        baseline_runs=10,
        reference_duration_seconds=65.0,
        reference_peak_memory_mb=305.0,
    )
    done = outcome(run=_demo_like_run(), telemetry=telemetry, history=_view(20), duration_seconds=24.0)
    return render(done, "build-summary.json")


_INIT = re.compile(r"^%%\{init: (.*)\}%%$", re.M)


def _theme_variables(block: str) -> dict[str, Any]:
    match = _INIT.search(block)
    assert match, block[:200]
    variables: dict[str, Any] = json.loads(match.group(1))["themeVariables"]
    return variables


def in_background_colour(markdown: str, background: str) -> str:
    """The summary with the first colour of every chart painted in the page's background colour:
    xychart's first series (and the chart's own background, which mermaid's dark theme makes
    #333), the gantt chart's finished bars (and the bands behind them)."""

    def recolour(match: re.Match[str]) -> str:
        variables = json.loads(match.group(1))["themeVariables"]
        if "xyChart" in variables:
            palette = [c.strip() for c in variables["xyChart"]["plotColorPalette"].split(",")]
            palette[0] = background
            variables["xyChart"] = {"plotColorPalette": ", ".join(palette), "backgroundColor": background}
        else:
            for key in ("doneTaskBkgColor", "doneTaskBorderColor", "sectionBkgColor", "altSectionBkgColor"):
                variables[key] = background
            variables["sectionBkgColor2"] = background
        return "%%{init: " + json.dumps({"themeVariables": variables}) + "}%%"

    return _INIT.sub(recolour, markdown)


# ---------------------------------------------------------------- pixels


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    rows: list[bytes]  # RGB, 3 bytes a pixel

    def pixel(self, x: int, y: int) -> RGB:
        row = self.rows[y]
        return row[3 * x], row[3 * x + 1], row[3 * x + 2]

    def pixels(self, x0: int, y0: int, x1: int, y1: int) -> Iterator[RGB]:
        """The pixels of [x0, x1) × [y0, y1), clipped to the image."""
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, self.width), min(y1, self.height)
        for y in range(y0, y1):
            row = self.rows[y]
            for x in range(x0, x1):
                yield row[3 * x], row[3 * x + 1], row[3 * x + 2]


def read_png(path: Path) -> Image:
    """An 8-bit, non-interlaced RGB or RGBA PNG (what chromium's screenshots are), as RGB rows."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, header = 8, [], b""
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + size]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat.append(chunk)
        pos += 12 + size
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, (depth, colour_type, interlace)
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    low, high = int.from_bytes(b"\x7f" * stride, "big"), int.from_bytes(b"\x80" * stride, "big")
    prior = bytearray(stride)
    rows: list[bytes] = []
    for y in range(height):
        start = y * (stride + 1)
        kind_of_filter = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        if kind_of_filter == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind_of_filter == 2:  # Up: byte-wise sums without carries, the whole row as one integer
            a, b = int.from_bytes(line, "big"), int.from_bytes(prior, "big")
            line = bytearray((((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(stride, "big"))
        elif kind_of_filter == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prior[i]) >> 1)) & 255
        elif kind_of_filter == 4:  # Paeth
            for i in range(bpp):
                line[i] = (line[i] + prior[i]) & 255
            for i in range(bpp, stride):
                a, b, c = line[i - bpp], prior[i], prior[i - bpp]
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - c - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if bpp == 4:  # screenshots are opaque: drop alpha
            rows.append(bytes(v for i, v in enumerate(line) if i % 4 != 3))
        else:
            rows.append(bytes(line))
        prior = line
    return Image(width, height, rows)


def parse_colour(text: str) -> RGB:
    """``#rrggbb`` or the browser's ``rgb(r, g, b)``."""
    if text.startswith("#") and len(text) == 7:
        return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)
    match = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, [\d.]+)?\)", text.strip())
    assert match, text
    r, g, b = (int(v) for v in match.groups())
    return r, g, b


def distance(a: RGB, b: RGB) -> float:
    return math.dist(a, b)


def _linear(v: int) -> float:
    c = v / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _lab(colour: RGB) -> tuple[float, float, float]:
    r, g, b = (_linear(v) for v in colour)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047  # D65 white
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e(a: RGB, b: RGB) -> float:
    """How far apart two sRGB colours look: CIE76, the distance in CIELAB."""
    return math.dist(_lab(a), _lab(b))


def contrast_ratio(a: RGB, b: RGB) -> float:
    """WCAG's contrast ratio of two sRGB colours (1 to 21), for the report."""

    def luminance(c: RGB) -> float:
        linear = [v / 255 / 12.92 if v <= 10 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _modal(pixels: Iterator[RGB]) -> RGB:
    counts = Counter(pixels)
    assert counts, "no pixels to take a background from"
    return counts.most_common(1)[0][0]


# ---------------------------------------------------------------- one chart, measured


@dataclass(frozen=True)
class Seen:
    """One line, bar series or gantt bar, as its screenshot shows it."""

    chart: str  # "<page> #<n> <kind>"
    series: str
    kind: str
    colour: RGB  # as the browser painted it
    background: RGB  # what is behind it in the screenshot
    pixels: int  # of its colour and clearly apart from the background, inside its boxes
    needed: int

    @property
    def visible(self) -> bool:
        return self.pixels >= self.needed and delta_e(self.colour, self.background) >= CLEARLY_APART

    def __str__(self) -> str:
        return (
            f"{self.chart} {self.series} ({self.kind}) colour {self.colour} on {self.background}: "
            f"delta E {delta_e(self.colour, self.background):.1f}, "
            f"WCAG contrast {contrast_ratio(self.colour, self.background):.2f}:1, "
            f"{self.pixels} of {self.needed} pixels needed"
        )


def _box(box: dict[str, float], pad: int) -> tuple[int, int, int, int]:
    x0 = math.floor(box["x"]) - pad
    y0 = math.floor(box["y"]) - pad
    return x0, y0, math.ceil(box["x"] + box["width"]) + pad, math.ceil(box["y"] + box["height"]) + pad


def measure(label: str, chart: dict[str, Any]) -> list[Seen]:
    image = read_png(Path(chart["png"]))
    plot = chart["plot"]
    assert plot is not None and plot["width"] > 50 and plot["height"] > 50, (label, plot)
    px0, py0, px1, py1 = _box(plot, 0)
    if chart["kind"] == "xychart":
        # The chart's own background: its most common colour outside the plot area.
        outside = (
            p
            for y in range(0, image.height, 2)
            for x in range(0, image.width, 2)
            if not (px0 <= x < px1 and py0 <= y < py1)
            for p in [image.pixel(x, y)]
        )
        chart_background = _modal(outside)
    seen = []
    for series in chart["series"]:
        colour = parse_colour(series["colour"])
        boxes = [b for b in series["boxes"] if b["width"] >= 1 or series["kind"] == "line"]
        if not boxes:
            continue  # a zero-length stage: mermaid draws nothing
        if chart["kind"] == "xychart":
            background = chart_background
        else:
            # A gantt bar lies on its section's band: the most common colour of its row around it.
            x0, y0, x1, y1 = _box(boxes[0], 3)
            row = (
                image.pixel(x, y)
                for y in range(max(y0 + 3, 0), min(y1 - 3, image.height))
                for x in range(image.width)
                if not x0 <= x < x1
            )
            background = _modal(row)
        if chart["kind"] == "xychart":  # lines and bars are drawn in the plot area, where we look
            assert all(
                px0 - 3 <= x0 and py0 - 3 <= y0 and x1 <= px1 + 3 and y1 <= py1 + 3
                for x0, y0, x1, y1 in (_box(b, 0) for b in boxes)
            ), (label, series["name"])
        pad = 2 if series["kind"] == "line" else 0
        count = 0
        needed = 0.0
        for box in boxes:
            x0, y0, x1, y1 = _box(box, pad)
            if series["kind"] != "line":
                x0, y0, x1, y1 = x0 + 1, y0 + 1, x1 - 1, y1 - 1  # inside the edge's anti-aliasing
            count += sum(
                n
                for p, n in Counter(image.pixels(x0, y0, x1, y1)).items()
                if distance(p, colour) <= SAME_COLOUR and delta_e(p, background) >= CLEARLY_APART
            )
            if series["kind"] == "line":
                needed += LINE_PIXELS_PER_COLUMN * box["width"]
            else:
                needed += BAR_SHARE * max(x1 - x0, 1) * max(y1 - y0, 1)
        seen.append(
            Seen(label, series["name"], series["kind"], colour, background, count, max(1, math.ceil(needed)))
        )
    return seen


# ---------------------------------------------------------------- the pages


@dataclass(frozen=True)
class Shots:
    markdown: str
    pages: dict[str, dict[str, Any]]  # "light", "dark", "light-hidden", "dark-hidden"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    if shutil.which("node") is None or not (TOOL / "node_modules" / f"mmdc-{VERSION}").is_dir():
        skip_or_fail("needs node and tools/mermaid/node_modules (make deps installs them)")
    if not Path("/usr/bin/chromium").exists() and not os.environ.get("MERMAID_CHROMIUM"):
        skip_or_fail("needs chromium (apt-get install chromium)")
    try:
        from tools.mermaid.summary_page import THEMES as PAGE_THEMES
        from tools.mermaid.summary_page import page_html, screenshot
    except ImportError as error:  # markdown-it-py comes with requirements-dev.lock
        skip_or_fail(f"needs {error.name} (make venv installs requirements-dev.lock)")
        raise
    folder = tmp_path_factory.mktemp("screenshots")
    markdown = summary_markdown()
    variants = {theme: markdown for theme in THEMES}
    variants |= {
        f"{theme}-hidden": in_background_colour(markdown, PAGE_THEMES[theme].background) for theme in THEMES
    }
    args = []
    for name, text in variants.items():
        page = folder / f"{name}.html"
        page.write_text(page_html(text, name.split("-")[0], VERSION), encoding="utf-8")
        args += ["--page", str(page)]
    report = screenshot([*args, "--out", str(folder / "png")], timeout=120)
    pages = {Path(p["page"]).stem: p for p in report["pages"]}
    return Shots(markdown, pages)


def _all_seen(page: dict[str, Any], name: str) -> list[Seen]:
    return [s for i, c in enumerate(page["charts"]) for s in measure(f"{name} #{i + 1} {c['kind']}", c)]


@pytest.mark.parametrize("theme", THEMES)
def test_every_chart_is_drawn_in_its_colours(shots: Shots, theme: str) -> None:
    page = shots.pages[theme]
    assert page["errors"] == [], page["errors"]
    assert page["background"] == {"light": "rgb(255, 255, 255)", "dark": "rgb(13, 17, 23)"}[theme]
    blocks = mermaid_blocks(shots.markdown)
    charts = page["charts"]
    # The stages, memory, CPU, and the history's duration and peak memory per run.
    assert [c["kind"] for c in charts] == ["gantt", "xychart", "xychart", "xychart", "xychart"]
    assert len(blocks) == len(charts)
    kinds = [[s["kind"] for s in c["series"]] for c in charts[1:]]
    assert kinds == [["line", "line"], ["line"], ["bar", "line"], ["bar", "line"]]
    for block, chart in zip(blocks, charts, strict=True):
        # mermaid took the summary's colours, in this theme too.
        variables = _theme_variables(block)
        painted = [parse_colour(s["colour"]) for s in chart["series"]]
        if chart["kind"] == "xychart":
            palette = [parse_colour(c.strip()) for c in variables["xyChart"]["plotColorPalette"].split(",")]
            assert painted == palette[: len(painted)], (theme, block[:80])
        else:
            bars = {parse_colour(v) for k, v in variables.items() if k.endswith("BkgColor")}
            # One bar a stage that is not a job (those are sections), and the whole build's.
            assert set(painted) <= bars and len(painted) == 3 + 12 + 1, (theme, set(painted))


@pytest.mark.parametrize("theme", THEMES)
def test_every_line_and_bar_stands_out_from_the_background(shots: Shots, theme: str) -> None:
    seen = _all_seen(shots.pages[theme], theme)
    # Every chart has something drawn, the gantt all its bars but zero-length stages.
    assert {s.chart for s in seen} == {
        f"{theme} #{i + 1} {c['kind']}" for i, c in enumerate(shots.pages[theme]["charts"])
    }
    unseen = [str(s) for s in seen if not s.visible]
    assert not unseen, "\n".join(unseen)


@pytest.mark.parametrize("theme", THEMES)
def test_a_series_in_the_background_colour_is_reported_unseen(shots: Shots, theme: str) -> None:
    name = f"{theme}-hidden"
    page = shots.pages[name]
    assert page["errors"] == [], page["errors"]
    background = parse_colour(page["background"])
    seen = _all_seen(page, name)
    hidden = [s for s in seen if s.colour == background]
    shown = [s for s in seen if s.colour != background]
    # Each chart has one hidden series (the gantt chart all its finished bars) and some still shown.
    assert {s.chart for s in hidden} == {f"{name} #{i + 1} {c['kind']}" for i, c in enumerate(page["charts"])}
    assert len(shown) >= 5, [str(s) for s in shown]
    assert [str(s) for s in hidden if s.visible or s.pixels >= s.needed] == []
    assert [str(s) for s in shown if not s.visible] == []
    for s in hidden:
        assert distance(s.background, background) <= 3, str(s)  # behind it is the page's colour too
