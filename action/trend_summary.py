"""The job summary's history section: duration and peak memory over the runs, this run marked.

Bars are the runs of ``history.json``, oldest first, the last one labelled "this run"; the line is
the reference the comparison used (the median of the reference runs), so a reader sees at once
whether this run stands out. The table under it names each run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from action.outcome import ActionOutcome

if TYPE_CHECKING:
    from action.history import HistoryView
    from telemetry.history import HistoryEntry

THIS_RUN: Final = "this run"
# On the chart's axis a short word: "this run" collided with its neighbour's label at 20 runs.
THIS_RUN_AXIS: Final = "now"


def _axis_top(values: Sequence[float]) -> float:
    top = max(values, default=0.0)
    return max(1.0, float(f"{top * 1.15:.2g}")) if top > 0 else 1.0


def _chart(title: str, unit: str, values: Sequence[float], reference: float | None) -> str:
    labels = [f'"{i + 1}"' for i in range(len(values) - 1)] + [f'"{THIS_RUN_AXIS}"']
    from action.job_summary import LINE_COLOUR, PEAK_COLOUR, init_directive

    # Bars in the charts' blue, the reference line in the peak's orange: both read on light and dark pages.
    palette = init_directive({"xyChart": {"plotColorPalette": f"{LINE_COLOUR}, {PEAK_COLOUR}"}})
    lines = [
        "```mermaid",
        "xychart-beta",
        palette,
        f'    title "{title}, {THIS_RUN_AXIS} = {THIS_RUN}"',
        f"    x-axis [{', '.join(labels)}]",
        f'    y-axis "{unit}" 0 --> {_axis_top([*values, reference or 0.0]):g}',
        f"    bar [{', '.join(f'{v:.1f}' for v in values)}]",
    ]
    if reference is not None:
        lines.append(f"    line [{', '.join(f'{reference:.1f}' for _ in values)}]")
    lines.append("```")
    return "\n".join(lines)


def _row(index: int, entry: HistoryEntry, this_run: str) -> str:
    from action.job_summary import escape_cell  # that module imports this one

    cells = [
        THIS_RUN if entry.run_id == this_run else str(index),
        escape_cell(entry.run_id),
        escape_cell(entry.time),
        escape_cell(entry.branch),
        escape_cell(entry.status),
        f"{entry.duration_seconds:.1f} s",
        f"{entry.peak_memory_mb:.1f} MB",
        "yes" if entry.baseline else "",
    ]
    return "| " + " | ".join(cells) + " |"


def _table(view: HistoryView) -> list[str]:
    lines = ["<details><summary>The runs of this history</summary>", ""]
    lines += ["| | run | finished (UTC) | branch | status | duration | peak memory | reference run |"]
    lines += ["|---|---|---|---|---|---|---|---|"]
    lines += [_row(i + 1, e, view.run_id) for i, e in enumerate(view.entries)]
    return [*lines, "", "</details>"]


def trend_section(outcome: ActionOutcome) -> str | None:
    view = outcome.history
    figures = outcome.telemetry
    if view is None or figures is None:
        return None
    from action.job_summary import code_span, escape_text

    lines = ["### History", ""]
    where = f" (found in {view.found_in})" if view.found_in else ""
    lines.append(
        f"History {code_span(view.artifact)}{escape_text(where)}: {len(view.entries)} run(s), this one last. "
        f"Upload {code_span(figures.directory)} under this name so the next run finds it."
    )
    if figures.comparison_basis:
        lines.append(f"This run is compared with the {escape_text(figures.comparison_basis)}.")
    lines += [f"> {escape_text(n)}" for n in view.notices]
    if len(view.entries) >= 2:
        durations = [e.duration_seconds for e in view.entries]
        memory = [e.peak_memory_mb for e in view.entries]
        lines += [
            "",
            _chart("Build duration per run (s)", "seconds", durations, figures.reference_duration_seconds),
        ]
        lines += ["", _chart("Peak memory per run (MB)", "MB", memory, figures.reference_peak_memory_mb)]
    lines += ["", *_table(view)]
    return "\n".join(lines)
