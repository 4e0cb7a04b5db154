"""The job summary: Markdown for ``$GITHUB_STEP_SUMMARY``.

Sections, most important first: outcome; for failures the category, stage,
reason and remediation; the package grid (arch × suite, size, lintian);
headline telemetry; regressions against the baseline; the stage timeline
(Mermaid ``gantt``) and memory/CPU over time (Mermaid ``xychart-beta``);
skipped architectures and the produced files. Charts are rendered by GitHub
from the Markdown itself: no external chart service sees the data.

GitHub rejects a step summary over 1 MiB. ``fit`` keeps the result under the
cap by dropping whole sections from the least important end (with a note),
and as a last resort cuts at a line boundary and closes any open code fence,
so the output is always valid Markdown. Charts are bounded by construction
(``MAX_CHART_POINTS``, ``MAX_GANTT_TASKS``), so on real builds the cap only
bites on pathological failure logs.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from action.builder_result import LintianCounts
from action.outcome import ActionOutcome, BuildMode, TelemetryFigures
from action.trend_summary import trend_section
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

_STATUS_ICON: Final = {
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


def _mermaid_label(text: str) -> str:
    # Mermaid's gantt and xychart grammars treat : ; # " and newlines as syntax.
    cleaned = re.sub(r'[:;#"\n\r\t{}]', " ", text)
    return " ".join(cleaned.split())[:60] or "stage"


def _lintian_cell(lintian: LintianCounts | None) -> str:
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


def _outcome_section(outcome: ActionOutcome) -> str:
    icon = _STATUS_ICON.get(outcome.status, "")
    name = outcome.package or (
        "build command" if outcome.mode == BuildMode.COMMAND else outcome.config_file or "package"
    )
    version = f" {outcome.version}" if outcome.version else ""
    lines = [f"## {icon} {escape_text(name)}{escape_text(version)}: {outcome.status}", ""]
    built = len(outcome.packages)
    facts = [f"**{built}** package{'s' if built != 1 else ''} built"]
    if outcome.result is not None:
        if outcome.result.failed:
            facts.append(f"**{len(outcome.result.failed)}** failed")
        if outcome.result.skipped:
            facts.append(f"**{len(outcome.result.skipped)}** architecture(s) skipped")
    duration = outcome.telemetry.duration_seconds if outcome.telemetry else outcome.duration_seconds
    facts.append(f"in {human_duration(duration)}")
    lines.append(", ".join(facts) + ".")
    if outcome.status == ActionStatus.CANCELLED:
        lines += ["", "The build was cancelled (SIGINT/SIGTERM); the figures below cover the run until then."]
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
            lint = _lintian_cell(job.lintian)
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
        ("Performance score", f"{t.performance_score:.0f}/100" + ("" if t.has_baseline else ", no baseline")),
    ]
    run = outcome.run
    # The builder's downloaded bytes are on the Network line already.
    reported = run.counters if run is not None else {}
    counters = {k: v for k, v in reported.items() if k != BUILDER_DOWNLOADED_BYTES}
    if any(counters.values()):
        # Counters the build reported (download retries, bytes fetched …): a retry storm shows here.
        counted = ", ".join(f"{escape_cell(k)} {v:g}" for k, v in sorted(counters.items()) if v)
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
        lines.append("No earlier baseline to compare with.")
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
    if t.baseline_saved:
        lines += ["", "This run was saved as the new baseline."]
    return "\n".join(lines)


# Mermaid's task tags: a failed stage in red, one that never completed still running.
_GANTT_TAG: Final[dict[str, str]] = {StageStatus.FAILURE: "crit, ", StageStatus.INCOMPLETE: "active, "}


def _gantt_section(run: RunData | None) -> str | None:
    if run is None or not run.stages:
        return None
    stages: list[StageRecord] = list(run.stages)
    omitted = 0
    if len(stages) > MAX_GANTT_TASKS:
        # Keep the longest stages: they are the ones a reader is looking for.
        keep = sorted(stages, key=lambda s: s.duration_seconds, reverse=True)[:MAX_GANTT_TASKS]
        omitted = len(stages) - len(keep)
        stages = keep
    stages.sort(key=lambda s: (s.start_time, s.name))
    sections: dict[str, list[StageRecord]] = {}
    for stage in stages:
        prefix = re.split(r"[_:/ .]", stage.name, maxsplit=1)[0] or "stages"
        sections.setdefault(prefix, []).append(stage)
    total = max(run.duration_seconds, 1.0)
    axis = "%H:%M:%S" if total >= 60 else "%M:%S"
    lines = ["```mermaid", "gantt", "    title Build stages", "    dateFormat x", f"    axisFormat {axis}"]
    for name, members in sections.items():
        lines.append(f"    section {_mermaid_label(name)}")
        for stage in members:
            start = int(stage.start_time * 1000)
            # Mermaid draws nothing for a zero-length task.
            end = max(int(stage.end_time * 1000), start + 1)
            tag = _GANTT_TAG.get(stage.status, "done, ")
            label = f"{_mermaid_label(stage.name)} ({stage.duration_seconds:.1f}s)"
            lines.append(f"    {label} :{tag}{start}, {end}")
    lines.append("```")
    note = f"\n\n{omitted} shorter stages are not drawn; all are in `build-stages.log`." if omitted else ""
    return "### Stage timeline\n\n" + "\n".join(lines) + note


def _xychart(title: str, y_label: str, values: Sequence[float], span_seconds: float) -> str:
    points = downsample_max(values, MAX_CHART_POINTS)
    data = ", ".join(f"{v:.1f}" for v in points)
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f'    title "{_mermaid_label(title)}"',
            f'    x-axis "seconds since start" 0 --> {max(1, math.ceil(span_seconds))}',
            f'    y-axis "{_mermaid_label(y_label)}" 0 --> {_axis_top(points):g}',
            f"    line [{data}]",
            "```",
        ]
    )


def _resource_section(run: RunData | None) -> str | None:
    if run is None:
        return None
    memory = run.memory.samples
    cpu = run.cpu.samples
    if len(memory) < 2 and len(cpu) < 2:
        return (
            "### Memory and CPU over time\n\nThe build was too short to chart "
            f"({len(memory)} memory sample(s)); the peak above includes what happened between samples."
        )
    parts = ["### Memory and CPU over time", ""]
    if len(memory) >= 2:
        span = memory[-1].timestamp - memory[0].timestamp
        rss = [s.memory_mb for s in memory]
        parts.append(_xychart("Build process tree memory (RSS, MB)", "MB", rss, span))
    if len(cpu) >= 2:
        span = cpu[-1].timestamp - cpu[0].timestamp
        parts += ["", _xychart("Build CPU (100 = one core)", "percent", [s.tree_percent for s in cpu], span)]
    return "\n".join(parts)


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
    candidates: list[tuple[int, str | None]] = [
        (0, _outcome_section(outcome)),
        (1, _failure_section(outcome)),
        (2, _grid_section(outcome)),
        (3, _telemetry_section(outcome)),
        (4, _regression_section(outcome)),
        (6, _gantt_section(outcome.run)),
        (7, _resource_section(outcome.run)),
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
