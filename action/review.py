"""The comparison as a pull-request comment (``pr-comment``): what it says and when it is written."""

from __future__ import annotations

from collections.abc import Mapping

from action.inputs import ActionInputs, CommentMode
from action.outcome import ActionOutcome
from action.pr_comment import CommentTarget, pull_request_number, write_comment
from multiarch.sources.github import api_url_from_env


def _figure(value: float, percent: float | None, unit: str) -> str:
    change = f" ({percent:+.0f}%)" if percent is not None else ""
    return f"{value:.1f} {unit}{change}"


def comment_body(outcome: ActionOutcome) -> str:
    """A short Markdown report: verdict, figures against the reference, and where they come from."""
    figures = outcome.telemetry
    name = outcome.package or "build"
    if figures is None:
        return f"**{name}**: no telemetry for this run."
    verdict = "⚠️ " + "; ".join(figures.regressions) if figures.regressions else "✅ no performance regression"
    comparison = figures.baseline_comparison
    duration = _figure(figures.duration_seconds, comparison.get("duration_diff_percent"), "s")
    memory = _figure(figures.peak_memory_mb, comparison.get("memory_diff_percent"), "MB")
    lines = [
        f"### {' '.join(p for p in (name, outcome.version) if p)}: {verdict}",
        "",
        "| | this run |",
        "|---|---|",
        f"| Build duration | {duration} |",
        f"| Peak memory | {memory} |",
        f"| Performance score | {figures.performance_score:.0f}/100 |",
        "",
    ]
    if figures.comparison_basis:
        lines.append(f"Compared with the {figures.comparison_basis}.")
    else:
        lines.append("No reference runs yet: runs saved with `save-baseline: true` become the reference.")
    if outcome.history is not None:
        lines.append(f"History: `{outcome.history.artifact}` ({len(outcome.history.entries)} runs).")
    return "\n".join(lines) + "\n"


def comment_on_pull_request(
    outcome: ActionOutcome, inputs: ActionInputs, environ: Mapping[str, str]
) -> str | None:
    """Write or update the comment as ``pr-comment`` asks; returns a notice when it could not."""
    if inputs.pr_comment is CommentMode.OFF or outcome.telemetry is None or outcome.history is None:
        return None
    number = pull_request_number(environ)
    if number is None:
        return None  # not a pull request run: nothing to comment on
    if not inputs.github_token:
        return "pr-comment: no token (it needs `pull-requests: write`)"
    target = CommentTarget(
        repository=environ.get("GITHUB_REPOSITORY", ""),
        number=number,
        key=outcome.history.artifact,
        api_url=api_url_from_env(environ),
        token=inputs.github_token,
    )
    create = inputs.pr_comment is CommentMode.ALWAYS or outcome.telemetry.regression_detected
    _, notice = write_comment(target, comment_body(outcome), create=create)
    return notice
