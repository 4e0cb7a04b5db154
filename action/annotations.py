"""Workflow commands on stdout: annotations that point at the file and line, and log groups.

Built on actions-toolkit's ``issue_command`` (which escapes ``%``, newlines,
``:`` and ``,`` in properties). Only the properties that have a value are
sent: the toolkit's ``core.error(**props)`` would send every property, empty
ones included (``line=,col=``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from actions_toolkit.command import issue_command

from action.outcome import ActionOutcome, relative_to_workspace
from contracts.vocabulary import ActionStatus, AnnotationLevel, FailureCategory

# GitHub shows at most 10 error annotations per step; more are noise in the log.
MAX_JOB_ANNOTATIONS = 10


def annotate(
    level: AnnotationLevel,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    title: str | None = None,
) -> None:
    """Print one ``::error``/``::warning``/``::notice`` command (file and line first, then title)."""
    properties: dict[str, object] = {}
    if file:
        properties["file"] = file
        if line is not None and line > 0:
            properties["line"] = str(line)
    if title:
        properties["title"] = title
    sys.stdout.flush()
    issue_command(level, properties, message)
    sys.stdout.flush()


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
    """Errors for invalid inputs, configuration errors (file and line), failed jobs; regressions."""
    for name, message in outcome.input_problems:
        annotate(AnnotationLevel.ERROR, message, title=f"Invalid input '{name}'")

    failure = outcome.failure
    jobs_failed = outcome.result is not None and bool(outcome.result.failed)
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
        failed = outcome.result.failed
        for job in failed[:MAX_JOB_ANNOTATIONS]:
            category = job.failure_category or FailureCategory.UNKNOWN
            annotate(
                AnnotationLevel.ERROR,
                job.reason or "failed without a reason",
                title=f"{job.arch}/{job.suite} failed ({category})",
            )
        if len(failed) > MAX_JOB_ANNOTATIONS:
            annotate(
                AnnotationLevel.ERROR,
                f"{len(failed) - MAX_JOB_ANNOTATIONS} more package jobs failed; see the job summary",
                title="More failed jobs",
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
