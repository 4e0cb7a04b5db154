"""Workflow commands on stdout: annotations that point at the file and line, and log groups.

Built on actions-toolkit's ``issue_command`` (which escapes ``%``, newlines,
``:`` and ``,`` in properties). Only the properties that have a value are
sent: the toolkit's ``core.error(**props)`` would send every property, empty
ones included (``line=,col=``).

GitHub shows at most ten annotations of each level per step and drops the rest. The step's
annotations therefore go through one budget: the first nine of a level are shown as they come,
the tenth waits; when more follow, the waiting one and the rest are printed as plain log lines and
``flush_annotations`` (at the end of ``annotate_outcome``) adds one annotation saying how many
there were and where they are all listed.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from actions_toolkit.command import issue_command

from action.outcome import ActionOutcome, relative_to_workspace
from contracts.vocabulary import ActionStatus, AnnotationLevel, FailureCategory

if TYPE_CHECKING:
    from action.join import Aggregate

# GitHub shows at most this many annotations of each level (error, warning, notice) per step.
MAX_ANNOTATIONS_PER_LEVEL: Final = 10


@dataclass
class _Held:
    """An annotation that waits for its turn: ``properties`` as ``issue_command`` takes them."""

    properties: dict[str, object]
    message: str


@dataclass
class _Budget:
    """What this step has shown per level, the one annotation that may still be shown, the rest."""

    shown: Counter[str] = field(default_factory=Counter)
    waiting: dict[str, _Held] = field(default_factory=dict)
    overflow: Counter[str] = field(default_factory=Counter)


_budget = _Budget()


def _issue(level: str, held: _Held) -> None:
    sys.stdout.flush()
    issue_command(level, held.properties, held.message)
    sys.stdout.flush()


def _log_line(level: str, held: _Held) -> None:
    """An annotation past the budget, as a plain line of the log: nothing is lost."""
    title = held.properties.get("title")
    where = held.properties.get("file")
    if where and held.properties.get("line"):
        where = f"{where}:{held.properties['line']}"
    prefix = f"[{level}]" + (f" {where}" if where else "") + (f" {title}:" if title else "")
    sys.stdout.write(f"{prefix} {held.message}\n")
    sys.stdout.flush()


def annotate(
    level: AnnotationLevel,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    title: str | None = None,
) -> None:
    """Print one ``::error``/``::warning``/``::notice`` command (file and line first, then title),
    within the step's budget of ``MAX_ANNOTATIONS_PER_LEVEL`` per level."""
    properties: dict[str, object] = {}
    if file:
        properties["file"] = file
        if line is not None and line > 0:
            properties["line"] = str(line)
    if title:
        properties["title"] = title
    held = _Held(properties, message)
    budget = _budget
    if budget.shown[level] < MAX_ANNOTATIONS_PER_LEVEL - 1:
        budget.shown[level] += 1
        _issue(level, held)
        return
    waiting = budget.waiting.pop(level, None)
    if waiting is None and not budget.overflow[level]:
        budget.waiting[level] = held
        return
    if waiting is not None:
        budget.overflow[level] += 1
        _log_line(level, waiting)
    budget.overflow[level] += 1
    _log_line(level, held)


def flush_annotations() -> None:
    """Show what waited: the last annotation of a level that fit the budget, or one saying how many
    more there were. Starts a fresh budget (the next step's, in tests the next run's)."""
    global _budget
    budget, _budget = _budget, _Budget()
    for level in AnnotationLevel:
        one, many = str(level), f"{level}s"
        waiting = budget.waiting.get(level)
        if waiting is not None:
            _issue(level, waiting)
        elif budget.overflow[level]:
            count = budget.overflow[level]
            noun = one if count == 1 else many
            _issue(
                level,
                _Held(
                    {"title": f"{count} more {noun}"},
                    f"GitHub shows {MAX_ANNOTATIONS_PER_LEVEL} {many} per step; the other {count} "
                    f"{'is' if count == 1 else 'are'} in the build log, and the job summary lists every "
                    "failed job, lintian finding and regression.",
                ),
            )


@contextmanager
def group(title: str) -> Iterator[None]:
    """A collapsible block in the log. Flushes around it because child output shares our stdout."""
    sys.stdout.write(f"::group::{title}\n")
    sys.stdout.flush()
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout.write("::endgroup::\n")
        sys.stdout.flush()


def annotate_outcome(outcome: ActionOutcome, workspace: Path) -> None:
    """Errors for invalid inputs, configuration errors (file and line), failed jobs; regressions.
    The step's last annotations: those past the budget are counted in one final annotation."""
    try:
        _annotate_outcome(outcome, workspace)
    finally:
        flush_annotations()


def _annotate_join(aggregate: Aggregate) -> None:
    """Aggregate mode: every leg the join refused or missed, and every failed job with its leg."""
    for problem in aggregate.problems:
        title = f"Leg {problem.leg}: {problem.kind}" if problem.leg else f"Matrix: {problem.kind}"
        annotate(AnnotationLevel.ERROR, problem.message, title=title)
    for job in aggregate.failed:
        annotate(
            AnnotationLevel.ERROR,
            job.reason or "failed without a reason",
            title=f"{job.leg}: {job.arch}/{job.suite or '-'} failed ({job.failure_category})",
        )


def _annotate_outcome(outcome: ActionOutcome, workspace: Path) -> None:
    for name, message in outcome.input_problems:
        annotate(AnnotationLevel.ERROR, message, title=f"Invalid input '{name}'")

    failure = outcome.failure
    jobs_failed = outcome.result is not None and bool(outcome.result.failed)
    if outcome.aggregate is not None and outcome.aggregate.legs:
        # The join names each problem and failed job below; a summary line would repeat one.
        jobs_failed = True
        _annotate_join(outcome.aggregate)
    if outcome.status == ActionStatus.CANCELLED:
        annotate(
            AnnotationLevel.WARNING,
            "The build was cancelled; outputs and summaries describe the partial run.",
        )
    elif failure is not None and not outcome.input_problems and not jobs_failed:
        # Failed jobs get their own annotations below; this one is for failures before any job.
        file = relative_to_workspace(failure.file, workspace) if failure.file else None
        if failure.category == FailureCategory.CONFIGURATION:
            title = "Configuration error" + (f" in '{failure.field}'" if failure.field else "")
        else:
            title = f"Build failed ({failure.category})" + (f" in {failure.stage}" if failure.stage else "")
        annotate(
            AnnotationLevel.ERROR,
            failure.reason or "the build failed",
            file=file,
            line=failure.line,
            title=title,
        )

    if outcome.result is not None:
        for job in outcome.result.failed:
            category = job.failure_category or FailureCategory.UNKNOWN
            annotate(
                AnnotationLevel.ERROR,
                job.reason or "failed without a reason",
                title=f"{job.arch}/{job.suite} failed ({category})",
            )

        for package in outcome.packages:
            lint = package.lintian
            if lint is not None and not lint.clean:
                tags = ", ".join(lint.tags[:8]) or "see the build log"
                annotate(
                    AnnotationLevel.WARNING,
                    f"{lint.errors} error(s), {lint.warnings} warning(s): {tags}",
                    title=f"lintian {package.arch}/{package.suite}",
                )

    telemetry = outcome.telemetry
    if telemetry is not None:
        level = AnnotationLevel.ERROR if outcome.fail_on_regression else AnnotationLevel.WARNING
        for message in telemetry.regressions:
            annotate(level, message, title="Performance regression")
