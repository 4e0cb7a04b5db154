"""One pull-request comment per pull request and leg, edited in place on every run.

The comment is found again by a hidden marker (an HTML comment naming the history artifact,
which is unique per leg), so a matrix of legs keeps one comment each and a new push edits the
comment instead of adding another. Mode ``regression`` creates the comment only when a run
regressed, but keeps an existing one current (so a fixed regression does not stay on show);
``always`` writes it on every run. The token needs ``pull-requests: write``; a fork's read-only
token gets a notice, never a failed build.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import requests
from github import GithubException

from multiarch.sources.github import github_client

MARKER_PREFIX: Final = "<!-- debian-multiarch-builder:telemetry "
# Comments are listed oldest first; ours is usually among the first pages.
MAX_COMMENTS_SCANNED: Final = 500


@dataclass(frozen=True)
class CommentTarget:
    repository: str
    number: int
    key: str  # one comment per key: the leg's history artifact name
    api_url: str
    token: str

    def __repr__(self) -> str:
        return f"CommentTarget({self.repository!r}, #{self.number}, {self.key!r})"

    @property
    def marker(self) -> str:
        return f"{MARKER_PREFIX}{self.key} -->"


def pull_request_number(environ: Mapping[str, str]) -> int | None:
    """The pull request of a ``pull_request``/``pull_request_target`` run, from its event file."""
    if environ.get("GITHUB_EVENT_NAME", "") not in ("pull_request", "pull_request_target"):
        return None
    path = environ.get("GITHUB_EVENT_PATH", "")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        event = {}
    number = (
        event.get("pull_request", {}).get("number", event.get("number")) if isinstance(event, dict) else None
    )
    if isinstance(number, int) and number > 0:
        return number
    ref = environ.get("GITHUB_REF", "")  # refs/pull/42/merge
    parts = ref.split("/")
    if len(parts) == 4 and parts[:2] == ["refs", "pull"] and parts[2].isdigit():
        return int(parts[2])
    return None


def _problem(exc: GithubException, target: CommentTarget) -> str:
    message = str(exc.data.get("message", "")) if isinstance(exc.data, dict) else ""
    what = f"pull request comment on #{target.number}"
    if exc.status in (401, 403):
        return (
            f"{what}: HTTP {exc.status} {message}".rstrip()
            + "; the token needs `pull-requests: write` (a pull request from a fork gets a read-only token)"
        )
    return f"{what}: HTTP {exc.status} {message}".rstrip()


def write_comment(target: CommentTarget, body: str, *, create: bool) -> tuple[str, str | None]:
    """Edit our comment, or create it when ``create``; returns (what happened, notice)."""
    text = f"{target.marker}\n{body}"
    gh = github_client(target.api_url, target.token, timeout=30, lazy=True)
    try:
        issue = gh.get_repo(target.repository).get_issue(target.number)
        for index, comment in enumerate(issue.get_comments()):
            if index >= MAX_COMMENTS_SCANNED:
                break
            if comment.body and comment.body.startswith(target.marker):
                if comment.body != text:
                    comment.edit(text)
                return "updated", None
        if not create:
            return "none", None
        issue.create_comment(text)
        return "created", None
    except GithubException as exc:
        return "failed", _problem(exc, target)
    except requests.RequestException as exc:
        return "failed", f"pull request comment on #{target.number}: {type(exc).__name__}"
