"""The job summary of aggregate mode: what the join made of a matrix's legs.

Sections, most important first: the outcome (legs by state, packages, wall time); every problem
the join found; the arch × suite grid with the leg that built each cell; one row per leg with its
figures and the runner it ran on (legs of one matrix may run on different machines); the legs on
one time axis (a Mermaid ``gantt``); regressions and failed jobs per leg; the files.

Leg names are artifact names, chosen by whoever wrote the workflow: they reach Markdown only
through ``escape_cell``/``escape_text`` and Mermaid only through ``mermaid_text``. Long lists are
cut at ``MAX_LISTED`` entries so a broken matrix of hundreds of legs still leaves room for the
grid; build-summary.json keeps every entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from action.job_summary import (
    MAX_LABEL_CHARS,
    OPEN_TABLE_ROWS,
    STATUS_ICON,
    Section,
    code_span,
    escape_cell,
    escape_text,
    gantt_head,
    human_bytes,
    human_duration,
    lintian_cell,
    mermaid_text,
    one_line,
    short_duration,
)
from contracts.vocabulary import ActionStatus, FailureCategory, JobStatus, LegProblem

if TYPE_CHECKING:
    from action.join import Aggregate, GridCell
    from action.legs import Leg, RunnerFacts
    from action.outcome import ActionOutcome, TelemetryFigures

# Entries of one list (problems, notes, failures, regressions) shown before "… and N more".
MAX_LISTED: Final = 50
# A matrix is rarely wider than a few dozen legs, and every leg is one bar worth seeing, so the
# legs' chart allows more bars than a build's stage chart; past this the chart stops being readable.
MAX_LEG_TASKS: Final = 64
# A failure reason inside a grid cell: enough to tell two failures apart, not to explain them.
MAX_CELL_REASON: Final = 40

_PROBLEM_ICON: Final[dict[str, str]] = {
    LegProblem.MISSING: "❔",
    LegProblem.UNREADABLE: "🚫",
    LegProblem.INVALID: "🚫",
    LegProblem.FOREIGN: "🚫",
    LegProblem.DUPLICATE: "⚠️",
}
_LEG_ICON: Final[dict[str, str]] = {**{str(k): v for k, v in STATUS_ICON.items()}, **_PROBLEM_ICON}
# The order states are counted in: the legs' own outcomes, then why a leg could not be taken.
_STATE_ORDER: Final[tuple[str, ...]] = (*ActionStatus, *LegProblem)
# Mermaid's task tags, as the stage chart colours them: finished green, partial amber, failed
# red, cancelled amber with a red border.
_LEG_TAG: Final[dict[str, str]] = {
    ActionStatus.SUCCESS: "done, ",
    ActionStatus.PARTIAL: "active, ",
    ActionStatus.FAILURE: "crit, ",
    ActionStatus.CANCELLED: "crit, active, ",
}
_WHOLE_MATRIX: Final = "Whole matrix"
_NO_LEG: Final = "(no leg)"


# ---------------------------------------------------------------- small helpers


def _plural(count: int, word: str) -> str:
    return f"{count} {word if count == 1 else word + 's'}"


def _name(leg: str) -> str:
    """A leg's name in running text or a cell: bold, escaped, never empty."""
    return f"**{escape_cell(leg)}**" if leg.strip() else _NO_LEG


def _about(leg: str, message: str) -> str:
    """``message`` without the leg's name in front: the line names the leg already."""
    return message.removeprefix(f"{leg}: ") if leg else message


def _capped(lines: Sequence[str], what: str) -> list[str]:
    """The first ``MAX_LISTED`` list items, then how many more build-summary.json holds."""
    if len(lines) <= MAX_LISTED:
        return list(lines)
    return [*lines[:MAX_LISTED], f"- … and {len(lines) - MAX_LISTED} more {what} in build-summary.json"]


def leg_state(leg: Leg) -> str:
    """The word a leg is counted under: why it was refused, else its own status."""
    if leg.problem is not None:
        return str(leg.problem)
    return str(leg.status) if leg.status is not None else ""


def _state_cell(leg: Leg) -> str:
    state = leg_state(leg)
    icon = _LEG_ICON.get(state, "❔")
    return f"{icon} {state}" if state else icon


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# ---------------------------------------------------------------- outcome


def _state_counts(legs: Iterable[Leg]) -> str:
    counts = Counter(leg_state(leg) for leg in legs)
    parts = [f"{counts[state]} {_LEG_ICON.get(state, '')} {state}" for state in _STATE_ORDER if counts[state]]
    return ", ".join(parts)


def _combined_line(figures: TelemetryFigures | None) -> str:
    if figures is None:
        return ""
    cpu = figures.cpu_user_seconds + figures.cpu_system_seconds
    return (
        f"Combined figures: peak memory {figures.peak_memory_mb:.1f} MB (the largest leg's),"
        f" CPU {cpu:.1f} s, network ↓ {human_bytes(figures.network_downloaded_bytes)}"
        f" ↑ {human_bytes(figures.network_uploaded_bytes)} (all legs together)."
    )


def _outcome_section(outcome: ActionOutcome, aggregate: Aggregate) -> str:
    icon = STATUS_ICON.get(aggregate.status, "")
    subject = " ".join(x for x in (aggregate.package, aggregate.version) if x) or "no package"
    built = _plural(len(aggregate.packages), "package")
    heading = f"## {icon} Joined {_plural(len(aggregate.legs), 'leg')}: {built} of {escape_text(subject)}"
    lines = [heading, "", f"**Status:** {aggregate.status}."]
    if aggregate.legs:
        lines += ["", f"**Legs:** {_state_counts(aggregate.legs)}."]
    else:
        lines += ["", "No leg was found under the aggregate folder: nothing to join."]
    facts = []
    if aggregate.failed:
        facts.append(f"**{len(aggregate.failed)}** failed job{'s' if len(aggregate.failed) != 1 else ''}")
    if aggregate.problems:
        facts.append(f"**{_plural(len(aggregate.problems), 'problem')}** (listed below)")
    if aggregate.skipped:
        facts.append(f"**{len(aggregate.skipped)}** architecture(s) skipped")
    if facts:
        lines += ["", ", ".join(facts) + "."]
    start, end = aggregate.start_timestamp, aggregate.end_timestamp
    if start is not None and end is not None:
        untimed = any(leg.usable and leg.metrics is None for leg in aggregate.legs)
        lines += [
            "",
            f"**Wall time:** {human_duration(max(end - start, 0.0))}, from the first leg's start"
            f" ({_utc(start)}) to the last leg's end ({_utc(end)})"
            + (" of the legs with telemetry." if untimed else "."),
        ]
    else:
        lines += ["", "**Wall time:** not known (no leg brought its telemetry)."]
    combined = _combined_line(outcome.telemetry)
    if combined:
        lines += ["", combined]
    return "\n".join(lines)


# ---------------------------------------------------------------- problems


def _problems_section(aggregate: Aggregate) -> str | None:
    without = [leg for leg in aggregate.legs if leg.metrics_problem]
    if not aggregate.problems and not aggregate.notes and not without:
        return None
    lines = ["### Problems", ""]
    if aggregate.problems:
        lines.append(f"The join refused or left out {_plural(len(aggregate.problems), 'thing')}:")
        lines.append("")
        items = [
            f"- {_PROBLEM_ICON.get(p.kind, '❔')} **{p.kind}** · {_name(p.leg)}:"
            f" {escape_text(one_line(_about(p.leg, p.message)))}"
            for p in aggregate.problems
        ]
        lines += _capped(items, "problems")
    if without:
        lines += ["", "Legs whose figures are not in the combined telemetry:", ""]
        items = [
            f"- {_name(leg.name)}: {escape_text(one_line(_about(leg.name, leg.metrics_problem)))}"
            for leg in without
        ]
        lines += _capped(items, "legs without figures")
    if aggregate.notes:
        lines += ["", "Notes (harmless):", ""]
        lines += _capped([f"- {escape_text(one_line(note))}" for note in aggregate.notes], "notes")
    return "\n".join(lines)


# ---------------------------------------------------------------- grid


def _cell(cell: GridCell) -> str:
    if cell.status == JobStatus.SUCCESS:
        package = cell.package
        extras = [human_bytes(package.size)] if package is not None and package.size else []
        lint = lintian_cell(package.lintian) if package is not None else ""
        extras += [lint] if lint else []
        return " · ".join([f"✅ {escape_cell(cell.leg)}", *extras])
    if cell.status == JobStatus.FAILURE:
        reason = one_line(cell.reason, MAX_CELL_REASON) if cell.reason else "failed"
        return f"❌ {escape_cell(cell.leg)}: {escape_cell(reason)}"
    return f"❔ {LegProblem.MISSING}" if cell.asked else "—"


def _grid_section(aggregate: Aggregate) -> str | None:
    if not aggregate.grid:
        return None
    asked = any(c.asked and c.status is None for c in aggregate.grid)
    cells = {(c.arch, c.suite): c for c in aggregate.grid}
    suites = aggregate.suites or ("",)
    single = suites == ("",)
    header = (
        "| arch | package |"
        if single
        else "| arch \\ suite | " + " | ".join(escape_cell(s) for s in suites) + " |"
    )
    lines = ["### Packages by leg", "", header, "|---|" + "---|" * len(suites)]
    for arch in aggregate.arches:
        row = [_cell(cells[(arch, suite)]) if (arch, suite) in cells else "—" for suite in suites]
        lines.append(f"| **{escape_cell(arch) or '—'}** | " + " | ".join(row) + " |")
    legend = "✅ built by the leg named (size, lintian) · ❌ the leg named failed it · — not built"
    if asked:
        legend += " · ❔ missing: asked for, and no leg built or attempted it"
    lines += ["", legend + "."]
    if aggregate.skipped:
        lines += ["", "Skipped architectures:", ""]
        items = [
            f"- {_name(leg)} · **{escape_cell(arch)}**: {escape_text(one_line(reason))}"
            for leg, arch, reason in aggregate.skipped
        ]
        lines += _capped(items, "skipped architectures")
    return "\n".join(lines)


# ---------------------------------------------------------------- legs table


def _runner_cell(runner: RunnerFacts | None) -> str:
    if runner is None:
        return "—"
    platform = "/".join(x for x in (runner.os, runner.arch) if x)
    parts = [escape_cell(platform)] if platform else []
    if runner.machine:
        parts.append(escape_cell(runner.machine))
    if runner.cpu_cores:
        parts.append(f"{runner.cpu_cores} cores")
    if runner.memory_total_mb:
        parts.append(f"{runner.memory_total_mb / 1024:.1f} GiB")
    who = runner.name or runner.hostname
    if who:
        parts.append(code_span(one_line(who, MAX_LABEL_CHARS)))
    return ", ".join(parts) or "—"


def _packages_cell(leg: Leg, joined: Mapping[str, int]) -> str:
    recorded = len(leg.packages)
    taken = joined.get(leg.name, 0)
    if not leg.usable:
        return f"{recorded} (refused)" if recorded else "—"
    return str(taken) if taken == recorded else f"{taken} of {recorded}"


def _leg_row(leg: Leg, joined: Mapping[str, int], origin: float | None) -> str:
    cells = [
        _state_cell(leg),
        _name(leg.name),
        _packages_cell(leg, joined),
        str(len(leg.failed)) if leg.failed else "—",
    ]
    metrics = leg.metrics
    if metrics is None:
        cells += ["—"] * 5
    else:
        session = metrics.build_session
        offset = f"{session.start_timestamp - origin:.1f} s" if origin is not None else "—"
        cpu = metrics.cpu_metrics.user_seconds + metrics.cpu_metrics.system_seconds
        cells += [
            offset,
            short_duration(session.duration_seconds_exact),
            f"{metrics.memory_metrics.peak_usage_mb_exact:.1f} MB",
            f"{cpu:.1f} s",
            human_bytes(metrics.network_metrics.bytes_downloaded),
        ]
    regressions = leg.regressions
    cells += [_runner_cell(leg.runner), f"⚠️ {len(regressions)}" if regressions else "—"]
    return "| " + " | ".join(cells) + " |"


def _legs_section(aggregate: Aggregate) -> str | None:
    if not aggregate.legs:
        return None
    joined = Counter(p.leg for p in aggregate.packages)
    rows = [
        "| | leg | packages | failed | start | duration | peak memory | CPU | network ↓ | runner"
        " | regressions |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *(_leg_row(leg, joined, aggregate.start_timestamp) for leg in aggregate.legs),
    ]
    legend = (
        "Start is the time since the first leg started; duration, memory, CPU and network are each leg's"
        " own (from its metrics.json; — when the artifact has none)."
        " Runner: OS/arch, machine, cores, memory, name."
    )
    lines = ["### Legs", ""]
    if len(aggregate.legs) <= OPEN_TABLE_ROWS:
        lines += [*rows, "", legend]
    else:
        lines += [
            f"<details><summary>All {len(aggregate.legs)} legs</summary>",
            "",
            *rows,
            "",
            legend,
            "",
            "</details>",
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------- gantt


def _drawn_legs(legs: Sequence[Leg]) -> tuple[list[Leg], int]:
    """The legs drawn as bars, by start: all of them up to ``MAX_LEG_TASKS``, else the ones that did
    not succeed (the ones worth a look) and then the longest; and how many were left out."""
    timed = [leg for leg in legs if leg.metrics is not None]
    if len(timed) > MAX_LEG_TASKS:
        timed.sort(
            key=lambda leg: (
                leg.status == ActionStatus.SUCCESS,
                -(leg.metrics.build_session.duration_seconds_exact if leg.metrics else 0.0),
            )
        )
    drawn = timed[:MAX_LEG_TASKS]
    drawn.sort(key=lambda leg: (leg.metrics.build_session.start_timestamp if leg.metrics else 0.0, leg.name))
    return drawn, len(timed) - len(drawn)


def _leg_task(leg: Leg, origin: float) -> str:
    session = leg.metrics.build_session if leg.metrics else None
    if session is None:  # pragma: no cover - only legs with metrics are drawn
        return ""
    start = max(round((session.start_timestamp - origin) * 1000), 0)
    # Mermaid draws nothing for a zero-length task.
    end = max(round((session.end_timestamp - origin) * 1000), start + 1)
    status = leg.status or ActionStatus.FAILURE
    icon = "" if status == ActionStatus.SUCCESS else _LEG_ICON.get(status, "❔") + " "
    label = f"{icon}{mermaid_text(leg.name)} ({short_duration((end - start) / 1000)})"
    return f"    {label} :{_LEG_TAG.get(status, '')}{start}, {end}"


def legs_gantt(aggregate: Aggregate) -> tuple[str, int, int]:
    """The legs' Mermaid chart on one axis (seconds since the first leg started), the number of
    bars, and how many legs with telemetry were left out to stay readable."""
    usable = [leg for leg in aggregate.legs if leg.usable]
    drawn, omitted = _drawn_legs(usable)
    if not drawn:
        return "", 0, omitted
    origin = min(leg.metrics.build_session.start_timestamp for leg in drawn if leg.metrics)
    last = max(leg.metrics.build_session.end_timestamp for leg in drawn if leg.metrics)
    total = max(last - origin, 0.001)
    title = "Matrix legs" + (f" (the {len(drawn)} most telling of {len(drawn) + omitted})" if omitted else "")
    lines = [
        *gantt_head(title, total, "Matrix", _WHOLE_MATRIX),
        "    section Legs",
        *(_leg_task(leg, origin) for leg in drawn),
        "```",
    ]
    return "\n".join(lines), len(drawn), omitted


def _gantt_section(aggregate: Aggregate) -> str | None:
    chart, _, omitted = legs_gantt(aggregate)
    if not chart:
        return None
    parts = [
        "### Legs over time",
        "",
        chart,
        "",
        "Bars: green ✅ succeeded, amber ⚠️ partial, red ❌ failed, amber with a red border ⏹️ cancelled;"
        " blue the whole matrix. Time is in seconds since the first leg started.",
    ]
    if omitted:
        parts[-1] += f" {omitted} more legs are not drawn (the table above lists every leg)."
    untimed = [leg.name for leg in aggregate.legs if leg.usable and leg.metrics is None]
    if untimed:
        names = ", ".join(_name(name) for name in untimed[:MAX_LISTED])
        more = f" and {len(untimed) - MAX_LISTED} more" if len(untimed) > MAX_LISTED else ""
        parts += ["", f"Not drawn, no telemetry in the artifact: {names}{more}."]
    return "\n".join(parts)


# ---------------------------------------------------------------- regressions, failures, files


def _regression_section(aggregate: Aggregate) -> str | None:
    usable = [leg for leg in aggregate.legs if leg.usable]
    if not any(leg.metrics is not None or leg.telemetry is not None for leg in usable):
        return None
    items = [
        f"- {_name(leg.name)}: {escape_text(one_line(message))}"
        for leg in usable
        for message in leg.regressions
    ]
    if not items:
        return "### Regressions\n\nNo leg reported a regression against its baseline."
    legs = sum(1 for leg in usable if leg.regressions)
    head = (
        f"### Regressions\n\n**{_plural(legs, 'leg')}** reported a regression against its own baseline:\n\n"
    )
    return head + "\n".join(_capped(items, "regressions"))


def _failures_section(aggregate: Aggregate) -> str | None:
    items = [
        f"- {_name(f.leg)} · **{escape_cell(f.arch)}/{escape_cell(f.suite or '-')}**"
        f" ({escape_cell(f.failure_category or FailureCategory.UNKNOWN)}):"
        f" {escape_text(one_line(f.reason) or 'no reason was reported')}"
        for f in aggregate.failed
    ]
    # A leg that stopped before any job has no failed job, only its error.
    items += [
        f"- {_name(leg.name)} ({escape_cell(leg.error_category or FailureCategory.UNKNOWN)}):"
        f" {escape_text(one_line(leg.error))}"
        for leg in aggregate.legs
        if leg.usable and leg.error and not leg.failed
    ]
    if not items:
        return None
    return "### Failures\n\n" + "\n".join(_capped(items, "failures"))


def _files_section(aggregate: Aggregate, build_summary: str) -> str:
    lines = ["### Files", "", f"- Combined build summary: {code_span(build_summary)}"]
    if aggregate.packages:
        lines += [
            "",
            f"<details><summary>The {_plural(len(aggregate.packages), 'joined package')}</summary>",
            "",
        ]
        lines += ["| file | leg | size | sha256 |", "|---|---|---|---|"]
        lines += [
            f"| {code_span(p.path)} | {escape_cell(p.leg) or '—'} | {human_bytes(p.size)}"
            f" | {code_span(p.sha256[:16] or '—')} |"
            for p in aggregate.packages
        ]
        lines += ["", "</details>"]
    return "\n".join(lines)


def aggregate_sections(outcome: ActionOutcome, build_summary: str) -> list[Section]:
    """The summary's sections in page order; priority 0 is kept longest under the size cap."""
    aggregate = outcome.aggregate
    if aggregate is None:
        return []
    candidates: list[str | None] = [
        _outcome_section(outcome, aggregate),
        _problems_section(aggregate),
        _grid_section(aggregate),
        _legs_section(aggregate),
        _gantt_section(aggregate),
        _regression_section(aggregate),
        _failures_section(aggregate),
        _files_section(aggregate, build_summary),
    ]
    return [Section(priority, md) for priority, md in enumerate(candidates) if md]
