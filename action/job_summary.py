"""The job summary: Markdown for ``$GITHUB_STEP_SUMMARY``.

Sections, most important first: outcome; for failures the category, stage,
reason and remediation; the package grid (arch × suite, size, lintian);
headline telemetry; regressions against the baseline; the stages (a Mermaid
``gantt`` chart and a table of every stage) and memory/CPU over time (Mermaid
``xychart-beta``); the produced files. Charts are rendered by GitHub from the
Markdown itself: no external chart service sees the data.

Every chart shares one axis, seconds since the build started, and carries its
own colours (an init directive) chosen to read on GitHub's light and dark
pages. Stage names reach Mermaid only through ``mermaid_text``, which turns
every character Mermaid could read as syntax into an entity, so any name
renders as written; the table below the chart keeps the full names.

GitHub rejects a step summary over 1 MiB. ``fit`` keeps the result under the
cap by dropping whole sections from the least important end (with a note),
and as a last resort cuts at a line boundary and closes any open code fence,
so the output is always valid Markdown. Charts are bounded by construction
(``MAX_CHART_POINTS``, ``MAX_GANTT_TASKS``), so on real builds the cap only
bites on pathological failure logs.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from action.outcome import ActionOutcome, BuildMode, TelemetryFigures
from action.trend_summary import trend_section
from contracts.builder_result import LintianCounts
from contracts.vocabulary import ActionStatus, FailureCategory, JobStatus, MemoryLayout, StageStatus
from telemetry.events import BUILDER_DOWNLOADED_BYTES
from telemetry.samplers.memory import memory_source_text

if TYPE_CHECKING:
    from telemetry.model import RunData, StageRecord

# GitHub's limit for one step's summary file.
GITHUB_SUMMARY_LIMIT: Final = 1024 * 1024
# Our own cap leaves room for anything else the step appended before us.
SUMMARY_LIMIT: Final = GITHUB_SUMMARY_LIMIT - 16 * 1024
MAX_CHART_POINTS: Final = 60
MAX_GANTT_TASKS: Final = 40
MAX_REASON_CHARS: Final = 4000
# Fewer samples than this draw a few straight segments that look like a measurement and are not.
MIN_CHART_SAMPLES: Final = 8
MAX_LABEL_CHARS: Final = 60
MAX_MESSAGE_CHARS: Final = 200
# Stage tables longer than this fold into a <details> block so the page stays readable.
OPEN_TABLE_ROWS: Final = 20
AXIS_TITLE: Final = "seconds since the build started"

STATUS_ICON: Final = {
    ActionStatus.SUCCESS: "✅",
    ActionStatus.PARTIAL: "⚠️",
    ActionStatus.FAILURE: "❌",
    ActionStatus.CANCELLED: "⏹️",
}
LOOPBACK_INTERFACE: Final = "lo"


@dataclass(frozen=True)
class Section:
    """One self-contained block of Markdown; ``priority`` 0 is kept longest."""

    priority: int
    markdown: str


# ---------------------------------------------------------------- formatting helpers


def human_bytes(value: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    amount = float(value)
    for unit in units:
        if abs(amount) < 1024 or unit == units[-1]:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{value} B"  # pragma: no cover - the loop always returns


def human_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def escape_text(text: str) -> str:
    """Plain text in Markdown: no HTML, no accidental emphasis or links."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", text)


def escape_cell(text: str) -> str:
    """Text inside a table cell: one line, pipes escaped."""
    return escape_text(" ".join(text.split()))


def code_span(text: str) -> str:
    """Inline code that is safe in a table cell (a pipe would still split the cell)."""
    return "`" + " ".join(text.split()).replace("`", "'").replace("|", "\\|") + "`"


def code_block(text: str, language: str = "") -> str:
    """A fenced block whose fence is longer than any backtick run inside it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


# Characters Mermaid reads as syntax somewhere in a line (task data, comments, directives, strings,
# its own entity markers ﬂ° ¶ß). Mermaid decodes ``#<code>;`` entities in every diagram after
# parsing, so each of them is written as one and renders as itself.
_MERMAID_SYNTAX: Final = re.compile(r'[#:;"{}%<>\\`ﬂ°¶ß]')
# Words that start a statement when a line begins with them (Mermaid's lexers ignore case), and a
# date, which the gantt lexer takes for a task date. Writing the first character as an entity
# turns such a name back into plain task text.
_MERMAID_LEADING: Final = re.compile(
    r"(?i)(acc|axisformat|bar|call|click|dateformat|excludes|gantt|href|includes|inclusiveenddates|line"
    r"|section|tickinterval|title|todaymarker|topaxis|weekday|weekend|x-axis|y-axis|xychart|\d{4}-\d\d-\d\d)"
)


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` on one line (blanks and control characters collapsed), at most ``limit`` characters."""
    visible = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    plain = " ".join(visible.split())
    return plain if len(plain) <= limit else plain[: limit - 1].rstrip() + "…"


def mermaid_text(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """``text`` as Mermaid label text that renders as written: one line, at most ``limit`` characters."""
    plain = one_line(text, limit) or "(unnamed)"
    if _MERMAID_LEADING.match(plain):
        plain = f"#{ord(plain[0])};" + _MERMAID_SYNTAX.sub(_entity, plain[1:])
        return plain
    return _MERMAID_SYNTAX.sub(_entity, plain)


def _entity(match: re.Match[str]) -> str:
    return f"#{ord(match.group())};"


def short_duration(seconds: float) -> str:
    """A stage's duration: milliseconds under a second, where "0.0 s" would say nothing."""
    if seconds < 1:
        return f"{max(seconds, 0.0) * 1000:.0f} ms"
    return human_duration(seconds)


def lintian_cell(lintian: LintianCounts | None) -> str:
    if lintian is None:
        return ""
    if lintian.clean:
        return "lintian ✓" + (f" ({lintian.info} I)" if lintian.info else "")
    return f"lintian {lintian.errors} E, {lintian.warnings} W"


def downsample_max(values: Sequence[float], buckets: int) -> list[float]:
    """At most ``buckets`` points, each the maximum of its slice: a peak can't vanish from the chart."""
    if len(values) <= buckets:
        return list(values)
    size = len(values) / buckets
    return [max(values[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)]) for i in range(buckets)]


def _axis_top(values: Sequence[float]) -> float:
    top = max(values, default=0.0)
    if top <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(top))
    return float(math.ceil(top * 1.1 / magnitude) * magnitude)


# ---------------------------------------------------------------- sections


def _running_stage(outcome: ActionOutcome) -> str:
    """The innermost stage still open when the run ended (the one that was cancelled)."""
    run = outcome.run
    if run is None:
        return ""
    open_stages = [s for s in run.stages if s.status == StageStatus.INCOMPLETE]
    return max(open_stages, key=lambda s: s.start_time).name if open_stages else ""


def _built_fact(outcome: ActionOutcome) -> str:
    built = len(outcome.packages)
    if outcome.mode == BuildMode.COMMAND:
        # A command's packages are the new .deb files in the output folder; it may build none on purpose.
        if not built:
            return "The build command left no new .deb file in the output folder"
        return f"The build command produced **{built}** new .deb file{'s' if built != 1 else ''}"
    if not built:
        return "No package was built"
    return f"**{built}** package{'s' if built != 1 else ''} built"


def _outcome_section(outcome: ActionOutcome) -> str:
    icon = STATUS_ICON.get(outcome.status, "")
    name = outcome.package or (
        "build command" if outcome.mode == BuildMode.COMMAND else outcome.config_file or "package"
    )
    version = f" {outcome.version}" if outcome.version else ""
    lines = [f"## {icon} {escape_text(name)}{escape_text(version)}: {outcome.status}", ""]
    facts = [_built_fact(outcome)]
    if outcome.result is not None:
        if outcome.result.failed:
            facts.append(f"**{len(outcome.result.failed)}** failed")
        if outcome.result.skipped:
            facts.append(f"**{len(outcome.result.skipped)}** architecture(s) skipped")
    warned = [s for s in outcome.run.stages if s.status == StageStatus.WARNING] if outcome.run else []
    if warned:
        facts.append(f"**{len(warned)}** stage{'s' if len(warned) != 1 else ''} with a warning")
    duration = outcome.telemetry.duration_seconds if outcome.telemetry else outcome.duration_seconds
    facts.append(f"in {human_duration(duration)}")
    lines.append(", ".join(facts) + ".")
    if outcome.status == ActionStatus.CANCELLED:
        running = _running_stage(outcome)
        during = f" while stage {code_span(running)} was running" if running else ""
        lines += [
            "",
            f"The build was cancelled (SIGINT/SIGTERM){during}; the figures below cover the run until then.",
        ]
    return "\n".join(lines)


def _failure_section(outcome: ActionOutcome) -> str | None:
    if outcome.input_problems:
        rows = "\n".join(f"- `{name}`: {escape_text(message)}" for name, message in outcome.input_problems)
        return (
            "### Failure: configuration\n\nThe action's inputs are invalid, so nothing was built:\n\n"
            + rows
            + "\n\nFix the `with:` block of this step."
        )
    failure = outcome.failure
    if failure is None or outcome.status in (ActionStatus.SUCCESS, ActionStatus.CANCELLED):
        return None
    lines = [f"### Failure: {escape_text(failure.category)}", ""]
    facts: list[str] = []
    if failure.stage:
        facts.append(f"- **Stage:** {code_span(failure.stage)}")
    if failure.file:
        where = failure.file + (f", line {failure.line}" if failure.line else "")
        field = f" (field {code_span(failure.field)})" if failure.field else ""
        facts.append(f"- **Where:** {code_span(where)}{field}")
    if failure.exit_code is not None:
        facts.append(f"- **Exit code:** {failure.exit_code}")
    if failure.signal is not None:
        facts.append(f"- **Signal:** {failure.signal}")
    if failure.transient is not None:
        facts.append(
            "- **Kind:** "
            + ("transient (a retry may succeed)" if failure.transient else "permanent (retrying won't help)")
        )
    lines += facts
    reason = failure.reason.strip() or "no reason was reported"
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[:MAX_REASON_CHARS] + "\n… (truncated)"
    lines += ["", "**Reason:**", "", code_block(reason, "text")]
    if failure.remediation:
        lines += ["", "**What to do:**", ""]
        lines += [f"{i}. {escape_text(step)}" for i, step in enumerate(failure.remediation, 1)]
    return "\n".join(lines)


def _grid_section(outcome: ActionOutcome) -> str | None:
    result = outcome.result
    if result is None or (not result.jobs and not result.skipped):
        if not outcome.packages:
            return None
        rows = "\n".join(
            f"| {code_span(p.path)} | {escape_cell(p.arch) or '—'} | {human_bytes(p.size)} |"
            for p in outcome.packages
        )
        return "### Packages\n\n| file | arch | size |\n|---|---|---|\n" + rows
    suites: list[str] = []
    arches: list[str] = []
    for job in result.jobs:
        if job.suite not in suites:
            suites.append(job.suite)
        if job.arch not in arches:
            arches.append(job.arch)
    cells: dict[tuple[str, str], str] = {}
    for job in result.jobs:
        if job.status == JobStatus.SUCCESS:
            size = human_bytes(job.size) if job.size else ""
            lint = lintian_cell(job.lintian)
            cells[(job.arch, job.suite)] = "✅ " + " · ".join(x for x in (size, lint) if x)
        else:
            cells[(job.arch, job.suite)] = f"❌ {escape_cell(job.failure_category or 'failed')}"
    header = "| arch \\ suite | " + " | ".join(escape_cell(s) for s in suites) + " |"
    rule = "|---|" + "---|" * len(suites)
    lines = ["### Packages", "", header, rule]
    for arch in arches:
        row = [cells.get((arch, suite), "—") for suite in suites]
        lines.append(f"| **{escape_cell(arch)}** | " + " | ".join(row) + " |")
    for skipped in result.skipped:
        if skipped.arch not in arches:
            lines.append(f"| **{escape_cell(skipped.arch)}** | " + " | ".join("⏭️" for _ in suites) + " |")
    failed = result.failed
    if failed:
        lines += ["", "Failed jobs:", ""]
        lines += [
            f"- **{escape_text(j.arch)}/{escape_text(j.suite)}** "
            f"({escape_text(j.failure_category or FailureCategory.UNKNOWN)}): "
            f"{escape_text(' '.join(j.reason.split()))}"
            for j in failed
        ]
    if result.skipped:
        lines += ["", "Skipped architectures:", ""]
        lines += [f"- **{escape_text(s.arch)}**: {escape_text(s.reason)}" for s in result.skipped]
    return "\n".join(lines)


def _network_cell(t: TelemetryFigures) -> str:
    """Interface figures, what they include, and what the builder itself downloaded."""
    cell = f"↓ {human_bytes(t.network_downloaded_bytes)}, ↑ {human_bytes(t.network_uploaded_bytes)}"
    if t.network_interface:
        cell += f" on {code_span(t.network_interface)}"
    notes = []
    if t.network_interface == LOOPBACK_INTERFACE:
        notes.append("loopback only: traffic inside this machine, each byte counted both ways")
    if t.network_interface_shared is True:
        notes.append("counters of a shared interface: include other traffic on this machine")
    elif t.network_interface_shared is False:
        notes.append("the build's own network: no other traffic included")
    else:
        notes.append("not known whether the interface is shared: may include other traffic on this machine")
    cell += f" ({'; '.join(notes)})"
    if t.builder_downloaded_bytes is not None:
        cell += f". Builder downloaded {human_bytes(t.builder_downloaded_bytes)}"
    return cell


_CGROUP_SCOPE: Final[dict[str, str]] = {
    MemoryLayout.DEDICATED: "the build's own cgroup",
    MemoryLayout.CONTAINER: "the container's cgroup (the action's entrypoint included)",
    MemoryLayout.SHARED: "this job's cgroup (shared with other processes of the runner)",
}


def _cgroup_row(t: TelemetryFigures) -> list[tuple[str, str]]:
    """How close the run came to its memory limit: the cgroup's own peak, page cache included."""
    if t.cgroup_peak_mb is None:
        return []
    scope = _CGROUP_SCOPE.get(t.memory_layout, "the cgroup")
    return [("Memory with page cache", f"{t.cgroup_peak_mb:.1f} MB at most, charged to {scope}")]


def _telemetry_section(outcome: ActionOutcome) -> str | None:
    t = outcome.telemetry
    if t is None:
        return "### Telemetry\n\nTelemetry was disabled for this run (`telemetry-enabled: false`)."
    rows = [
        ("Duration", human_duration(t.duration_seconds)),
        ("Peak memory", f"{t.peak_memory_mb:.1f} MB ({memory_source_text(t.peak_memory_source)})"),
        (
            "CPU",
            f"user {t.cpu_user_seconds:.1f} s, system {t.cpu_system_seconds:.1f} s, "
            f"average {t.cpu_average_percent:.0f} % of one core",
        ),
        *_cgroup_row(t),
        ("Network", _network_cell(t)),
        ("Disk", f"read {human_bytes(t.disk_read_bytes)}, written {human_bytes(t.disk_write_bytes)}"),
    ]
    # A score compares a finished build with a baseline: without one, or for a build that did not
    # finish, it would be a number that means nothing.
    if t.has_baseline and outcome.status == ActionStatus.SUCCESS:
        rows.append(("Performance score", f"{t.performance_score:.0f}/100 against the baseline"))
    run = outcome.run
    # The builder's downloaded bytes are on the Network line already.
    reported = run.counters if run is not None else {}
    counters = {k: v for k, v in reported.items() if k != BUILDER_DOWNLOADED_BYTES}
    if any(counters.values()):
        # Counters the build reported (download retries, bytes fetched …): a retry storm shows here.
        counted = ", ".join(
            f"{escape_cell(k.replace('_', ' '))} {v:g}" for k, v in sorted(counters.items()) if v
        )
        rows.append(("Counters", counted))
    if run is not None:
        s = run.system
        rows.append(
            (
                "Runner",
                f"{code_span(s.hostname)}, {s.cpu_cores} cores, {s.memory_total_mb / 1024:.1f} GiB memory, "
                f"{s.disk_available_gb:.0f} GB free",
            )
        )
    # Values are our own numbers plus code spans for the untrusted names (host, interface, source).
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return "### Telemetry\n\n| figure | value |\n|---|---|\n" + table


def _regression_section(outcome: ActionOutcome) -> str | None:
    t = outcome.telemetry
    if t is None:
        return None
    lines = ["### Performance against the baseline", ""]
    if not t.has_baseline and t.baseline_saved:
        lines.append(
            "No earlier baseline to compare with: this run was saved as the baseline later runs compare with."
        )
    elif not t.has_baseline:
        lines.append(
            "No baseline yet: run once with `save-baseline: true` to compare later builds"
            f" (a regression is an increase of {outcome.regression_threshold:g} % or more)."
        )
    elif t.regressions:
        verdict = "fails this step" if outcome.fail_on_regression else "is reported as a warning"
        lines.append(f"**Regression detected** ({verdict}; threshold {outcome.regression_threshold:g} %):")
        lines.append("")
        lines += [f"- {escape_text(m)}" for m in t.regressions]
    else:
        lines.append(f"No regressions (threshold {outcome.regression_threshold:g} %).")
    if t.has_baseline and t.comparison_basis:
        lines += ["", f"Compared with the {escape_text(t.comparison_basis)}."]
    if t.baseline_comparison:
        lines += ["", "| compared with the baseline | change |", "|---|---|"]
        for key, value in t.baseline_comparison.items():
            label = key.replace("_diff_percent", "").replace("_", " ")
            lines.append(f"| {escape_cell(label)} | {value:+.1f} % |")
    if t.baseline_saved and t.has_baseline:
        lines += ["", "This run was saved as the new baseline."]
    return "\n".join(lines)


# Colours that read on GitHub's white page and on its dark one (#0d1117): mid-tone fills on which
# both the light theme's black text and the dark theme's light text keep their contrast, so a
# label drawn inside a bar reads in either theme; lines of the same mid tones.
BAR_COLOURS: Final[dict[str, str]] = {
    "taskBkgColor": "#1f6feb",
    "taskBorderColor": "#1f6feb",
    "doneTaskBkgColor": "#2a7a43",
    "doneTaskBorderColor": "#2a7a43",
    "activeTaskBkgColor": "#a8650a",
    "activeTaskBorderColor": "#a8650a",
    "critBkgColor": "#c93c37",
    "critBorderColor": "#c93c37",
}
LINE_COLOUR: Final = "#1f6feb"
PEAK_COLOUR: Final = "#d4600f"

# Mermaid's task tags, one colour a status: finished green (done), with a warning amber (active),
# failed red (crit), never finished amber with a red border (crit + active).
_GANTT_TAG: Final[dict[str, str]] = {
    StageStatus.SUCCESS: "done, ",
    StageStatus.WARNING: "active, ",
    StageStatus.FAILURE: "crit, ",
    StageStatus.INCOMPLETE: "crit, active, ",
}
_STAGE_ICON: Final[dict[str, str]] = {
    StageStatus.SUCCESS: "✅",
    StageStatus.WARNING: "⚠️",
    StageStatus.FAILURE: "❌",
    StageStatus.INCOMPLETE: "⏳",
}
CANCELLED_ICON: Final = "⏹️"
_WHOLE_BUILD: Final = "Whole build"


def init_directive(theme_variables: Mapping[str, object]) -> str:
    """Mermaid's per-diagram configuration: the colours, leaving the theme (light or dark) to GitHub."""
    return "%%{init: " + json.dumps({"themeVariables": theme_variables}) + "}%%"


def _xy_colours(*colours: str) -> str:
    return init_directive({"xyChart": {"plotColorPalette": ", ".join(colours)}})


@dataclass(frozen=True)
class _Stage:
    """A stage on the build's own clock: seconds since the build started."""

    record: StageRecord
    start: float
    end: float
    parent: int | None  # index of the innermost stage that encloses this one


def _subject(name: str) -> str:
    """What a stage is about: its name after the first word (``amd64_trixie`` of ``package_amd64_trixie``)."""
    parts = re.split(r"[_ ]", name, maxsplit=1)
    return parts[1] if len(parts) == 2 and parts[1] else ""


def _relative_stages(run: RunData) -> list[_Stage]:
    """Stages by start, each with the innermost stage of the same subject around it (the builder's
    ``architecture_<arch>_<suite>`` wraps that job's ``package_`` and ``lintian_`` steps). Time alone
    would not do: parallel jobs put one job's short steps inside another job's span."""
    records = sorted(run.stages, key=lambda s: (s.start_time, -s.end_time, s.name))
    spans = [
        (
            max(r.start_time - run.start_time, 0.0),
            max(r.end_time - run.start_time, r.start_time - run.start_time, 0.0),
        )
        for r in records
    ]
    parents: list[int | None] = [None] * len(records)
    open_by_subject: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        subject = _subject(record.name)
        if not subject:
            continue
        stack = open_by_subject.setdefault(subject, [])
        while stack and spans[stack[-1]][1] < spans[index][1] - 1e-6:
            stack.pop()
        parents[index] = stack[-1] if stack else None
        stack.append(index)
    return [
        _Stage(r, start, end, parents[i])
        for i, (r, (start, end)) in enumerate(zip(records, spans, strict=True))
    ]


def _cancelled(outcome: ActionOutcome) -> bool:
    return outcome.status == ActionStatus.CANCELLED


def _stage_icon(status: str, cancelled: bool) -> str:
    if status == StageStatus.INCOMPLETE and cancelled:
        return CANCELLED_ICON
    return _STAGE_ICON.get(status, "❔")


def tick_interval(total: float) -> str:
    """A tick step giving at most about ten ticks; seconds steps divide a minute (how d3 counts them)."""
    for step, unit in ((1, "second"), (2, "second"), (5, "second"), (10, "second"), (15, "second")):
        if total / step <= 10:
            return f"{step}{unit}"
    for step in (30, 60, 120, 300, 600, 900, 1800):
        if total / step <= 10:
            return f"{step}second" if step < 60 else f"{step // 60}minute"
    for step in (3600, 7200, 10800, 21600, 43200):
        if total / step <= 10:
            return f"{step // 3600}hour"
    return "1day"


def _gantt_rows(stages: Sequence[_Stage]) -> tuple[list[int], int]:
    """The stages drawn as bars (those that enclose no other: an enclosing one would repeat its
    children) and how many were left out to stay within ``MAX_GANTT_TASKS``."""
    parents = {s.parent for s in stages if s.parent is not None}
    leaves = [i for i in range(len(stages)) if i not in parents]
    if len(leaves) <= MAX_GANTT_TASKS:
        return leaves, 0
    longest = sorted(leaves, key=lambda i: stages[i].end - stages[i].start, reverse=True)[:MAX_GANTT_TASKS]
    return sorted(longest), len(leaves) - MAX_GANTT_TASKS


def gantt_head(title: str, total: float, section: str, whole: str) -> list[str]:
    """A Gantt chart's opening lines on the shared time axis, and one bar for the whole span.

    Times are milliseconds since the start; ``axisFormat %s`` prints them as seconds since the
    Unix epoch, which is the start here, so no time zone applies.
    """
    return [
        "```mermaid",
        "gantt",
        init_directive(BAR_COLOURS),
        f"    title {title}",
        "    dateFormat x",
        "    axisFormat %s",
        f"    tickInterval {tick_interval(total)}",
        f"    section {section}",
        f"    {whole} ({short_duration(total)}) :0, {max(round(total * 1000), 1)}",
    ]


def _gantt(outcome: ActionOutcome, run: RunData, stages: Sequence[_Stage]) -> tuple[str, int, int]:
    drawn, omitted = _gantt_rows(stages)
    total = max(run.duration_seconds, max((s.end for s in stages), default=0.0), 0.001)
    cancelled = _cancelled(outcome)
    groups: dict[int | None, list[int]] = {}
    for index in drawn:
        groups.setdefault(stages[index].parent, []).append(index)
    title = "Stages" + (f" (the {len(drawn)} longest of {len(drawn) + omitted})" if omitted else "")
    lines = gantt_head(title, total, "Build", _WHOLE_BUILD)
    # Stages outside any other stay in the first section, under the whole build.
    for parent, members in sorted(groups.items(), key=lambda item: item[0] is not None):
        if parent is not None:
            head = stages[parent]
            lines.append(
                f"    section {mermaid_text(head.record.name)} ({short_duration(head.end - head.start)})"
            )
        for index in members:
            stage = stages[index]
            start = round(stage.start * 1000)
            # Mermaid draws nothing for a zero-length task.
            end = max(round(stage.end * 1000), start + 1)
            status = stage.record.status
            icon = "" if status == StageStatus.SUCCESS else _stage_icon(status, cancelled) + " "
            label = f"{icon}{mermaid_text(stage.record.name)} ({short_duration(stage.end - stage.start)})"
            lines.append(f"    {label} :{_GANTT_TAG.get(status, '')}{start}, {end}")
    lines.append("```")
    return "\n".join(lines), len(drawn), omitted


def _stage_legend(cancelled: bool) -> str:
    unfinished = "⏹️ running when the build was cancelled" if cancelled else "⏳ never finished"
    return (
        "Bars: green ✅ finished, amber ⚠️ finished with a warning, red ❌ failed, amber with a red border "
        f"{unfinished}; blue the whole build. A stage that wraps others is the section of its steps. "
        f"Time is in {AXIS_TITLE}, as in the charts below."
    )


def _stage_table(outcome: ActionOutcome, stages: Sequence[_Stage]) -> list[str]:
    cancelled = _cancelled(outcome)
    rows = ["| | stage | start | duration | peak memory | CPU | message |", "|---|---|---|---|---|---|---|"]
    for stage in stages:
        r = stage.record
        message = one_line(r.message)
        rows.append(
            f"| {_stage_icon(r.status, cancelled)} | {escape_cell(r.name) or '(unnamed)'}"
            f" | {stage.start:.1f} s"
            f" | {short_duration(stage.end - stage.start)}"
            f" | {f'{r.peak_memory_mb:.1f} MB' if r.peak_memory_mb > 0 else '—'}"
            f" | {f'{r.cpu_seconds:.1f} s' if r.cpu_seconds > 0 else '—'} | {escape_cell(message)} |"
        )
    legend = (
        f"✅ finished · ⚠️ finished with a warning · ❌ failed · "
        f"{'⏹️ running when the build was cancelled' if cancelled else '⏳ never finished'}. "
        f"Start is in {AXIS_TITLE}; peak memory and CPU are the build's while the stage ran."
    )
    if len(stages) <= OPEN_TABLE_ROWS:
        return [*rows, "", legend]
    return [f"<details><summary>All {len(stages)} stages</summary>", "", *rows, "", legend, "", "</details>"]


def _gantt_section(outcome: ActionOutcome) -> str | None:
    run = outcome.run
    if run is None or not run.stages:
        return None
    stages = _relative_stages(run)
    chart, drawn, omitted = _gantt(outcome, run, stages)
    parts = ["### Stages", "", chart, "", _stage_legend(_cancelled(outcome))]
    if omitted:
        parts[-1] += (
            f" Only the {drawn} longest steps are drawn: {omitted} shorter stages are not drawn, so the gaps"
            " between bars are those; the table lists every stage."
        )
    return "\n".join([*parts, "", *_stage_table(outcome, stages)])


def resample_max(times: Sequence[float], values: Sequence[float], total: float, points: int) -> list[float]:
    """``values`` sampled at ``times`` (seconds since the start) on ``points`` evenly spaced instants
    from 0 to ``total``, each the highest sample nearest to it, so a peak cannot vanish; an instant
    with no sample of its own takes the one before it (or, before the first sample, the first)."""
    points = max(points, 2)
    step = total / (points - 1) if total > 0 else 1.0
    grid: list[float | None] = [None] * points
    for t, v in zip(times, values, strict=True):
        i = min(max(round(t / step), 0), points - 1)
        current = grid[i]
        grid[i] = v if current is None else max(current, v)
    seen = [g for g in grid if g is not None]
    first = seen[0] if seen else 0.0
    out: list[float] = []
    for slot in grid:
        out.append(slot if slot is not None else (out[-1] if out else first))
    return out


def _series(
    run: RunData, stamps: Sequence[float], values: Sequence[float]
) -> tuple[list[float], list[float]]:
    """Samples inside the run, on its clock; samples taken after the tree exited say nothing of it."""
    pairs = [(t - run.start_time, v) for t, v in zip(stamps, values, strict=True)]
    pairs = [(t, v) for t, v in pairs if -0.5 <= t <= run.duration_seconds + 0.5]
    return [max(t, 0.0) for t, _ in pairs], [v for _, v in pairs]


def _xychart(
    title: str, y_label: str, total: float, series: Sequence[Sequence[float]], colours: Sequence[str]
) -> str:
    top = _axis_top([v for line in series for v in line])
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            _xy_colours(*colours),
            f'    title "{title}"',
            f'    x-axis "{AXIS_TITLE}" 0 --> {total:.1f}',
            f'    y-axis "{y_label}" 0 --> {top:g}',
            *(f"    line [{', '.join(f'{v:.1f}' for v in line)}]" for line in series),
            "```",
        ]
    )


def _memory_chart(outcome: ActionOutcome, run: RunData, total: float) -> str | None:
    times, values = _series(
        run, [s.timestamp for s in run.memory.samples], [s.memory_mb for s in run.memory.samples]
    )
    # The tree is gone once the level drops to nothing for good: those samples are after the build.
    while values and values[-1] <= 0:
        times.pop()
        values.pop()
    if len(values) < MIN_CHART_SAMPLES:
        return None
    points = resample_max(times, values, total, MAX_CHART_POINTS)
    peak = outcome.telemetry.peak_memory_mb if outcome.telemetry is not None else run.memory.peak_mb
    peak = max(peak, max(points))
    chart = _xychart(
        f"Memory (MB): sampled level, and the peak {peak:.1f} MB",
        "MB",
        total,
        [points, [peak] * len(points)],
        [LINE_COLOUR, PEAK_COLOUR],
    )
    return (
        f"{chart}\n\nBlue: the memory the build held at each sample; orange: the peak in the table above"
        f" ({peak:.1f} MB), which also counts what happened between samples."
    )


def _cpu_chart(run: RunData, total: float) -> str | None:
    times, values = _series(
        run, [s.timestamp for s in run.cpu.samples], [s.tree_percent for s in run.cpu.samples]
    )
    if len(values) < MIN_CHART_SAMPLES:
        return None
    points = resample_max(times, values, total, MAX_CHART_POINTS)
    return _xychart("CPU (percent, 100 = one core)", "percent", total, [points], [LINE_COLOUR])


def _resource_section(outcome: ActionOutcome) -> str | None:
    run = outcome.run
    if run is None:
        return None
    total = max(run.duration_seconds, 0.1)
    charts = [c for c in (_memory_chart(outcome, run, total), _cpu_chart(run, total)) if c]
    if not charts:
        count = len(run.memory.samples)
        return (
            f"### Memory and CPU over time\n\n{count} memory sample{'s' if count != 1 else ''} over "
            f"{short_duration(run.duration_seconds)} are too few to chart"
            f" (a chart needs {MIN_CHART_SAMPLES}); the figures above include what happened between samples."
        )
    return "\n\n".join(["### Memory and CPU over time", *charts])


def _files_section(outcome: ActionOutcome, build_summary: str) -> str:
    lines = ["### Files", ""]
    lines.append(f"- Build summary: {code_span(build_summary)}")
    if outcome.telemetry is not None:
        folder = code_span(outcome.telemetry.directory + "/")
        lines.append(f"- Telemetry: {folder} (metrics.json, samples, stages, metrics.prom)")
    if outcome.packages:
        lines += ["", "<details><summary>Packages produced by this run</summary>", ""]
        lines += ["| file | size | sha256 |", "|---|---|---|"]
        lines += [
            f"| {code_span(p.path)} | {human_bytes(p.size)} | {code_span(p.sha256[:16] or '—')} |"
            for p in outcome.packages
        ]
        lines += ["", "</details>"]
    return "\n".join(lines)


def sections(outcome: ActionOutcome, build_summary: str) -> list[Section]:
    if outcome.aggregate is not None:
        from action.aggregate_summary import aggregate_sections  # imports this module

        return aggregate_sections(outcome, build_summary)
    candidates: list[tuple[int, str | None]] = [
        (0, _outcome_section(outcome)),
        (1, _failure_section(outcome)),
        (2, _grid_section(outcome)),
        (3, _telemetry_section(outcome)),
        (4, _regression_section(outcome)),
        (6, _gantt_section(outcome)),
        (7, _resource_section(outcome)),
        (8, trend_section(outcome)),
        (5, _files_section(outcome, build_summary)),
    ]
    return [Section(priority, md) for priority, md in candidates if md]


# ---------------------------------------------------------------- size cap


def _close_fences(text: str) -> str:
    """Close a fenced block left open by a cut, so the rest of the page is not swallowed by it."""
    open_fence: str | None = None
    for line in text.splitlines():
        match = re.match(r"^(`{3,})", line)
        if match is None:
            continue
        if open_fence is None:
            open_fence = match.group(1)
        elif line.strip() == open_fence:
            open_fence = None
    return text + (f"\n{open_fence}" if open_fence else "")


def _hard_cut(text: str, limit: int) -> str:
    note = "\n\n*(summary truncated to stay under GitHub's 1 MiB limit)*\n"
    budget = limit - len(note.encode()) - 16  # 16: room for a closing fence
    data = text.encode("utf-8")[: max(budget, 0)]
    cut = data.decode("utf-8", errors="ignore")
    if "\n" in cut:
        cut = cut[: cut.rfind("\n")]
    return _close_fences(cut) + note


def fit(parts: Sequence[Section], limit: int = SUMMARY_LIMIT) -> str:
    """Join sections in page order, dropping the least important ones until it fits ``limit`` bytes."""
    kept = list(parts)
    dropped: list[Section] = []

    def render() -> str:
        body = "\n\n".join(s.markdown for s in kept)
        if dropped:
            body += f"\n\n*({len(dropped)} section(s) left out to stay under GitHub's 1 MiB summary limit.)*"
        return body + "\n"

    text = render()
    while len(text.encode("utf-8")) > limit and len(kept) > 1:
        victim = max(kept, key=lambda s: s.priority)
        kept.remove(victim)
        dropped.append(victim)
        text = render()
    if len(text.encode("utf-8")) > limit:
        text = _hard_cut(text, limit)
    return text


def render(outcome: ActionOutcome, build_summary: str, limit: int = SUMMARY_LIMIT) -> str:
    return fit(sections(outcome, build_summary), limit)


def write_job_summary(
    outcome: ActionOutcome, build_summary: str, environ: Mapping[str, str] | None = None
) -> Path | None:
    """Append the summary to ``$GITHUB_STEP_SUMMARY``; returns the file, or None when unset."""
    env = os.environ if environ is None else environ
    target = env.get("GITHUB_STEP_SUMMARY", "")
    if not target:
        return None
    path = Path(target)
    existing = path.stat().st_size if path.exists() else 0
    limit = max(4096, min(SUMMARY_LIMIT, GITHUB_SUMMARY_LIMIT - existing - 1))
    text = render(outcome, build_summary, limit=limit)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
    return path
