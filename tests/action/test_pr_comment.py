"""One comment per pull request and leg, edited in place, against the loopback GitHub API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from action.pr_comment import CommentTarget, pull_request_number, write_comment
from tests.support.fake_github import FakeGitHub

TOKEN = "ghs_comment_token_456"
REPO = "acme/tool"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        server.add_repo(REPO)
        server.add_pull_request(REPO, 7, "feature", "main")
        yield server


def _target(gh: FakeGitHub, key: str = "telemetry-history-tool-amd64") -> CommentTarget:
    return CommentTarget(REPO, 7, key, gh.api_url, TOKEN)


def test_two_runs_leave_one_edited_comment_and_other_comments_alone(gh: FakeGitHub) -> None:
    gh.add_comment(REPO, 7, "LGTM", user="octocat")
    assert write_comment(_target(gh), "Build duration increased by 25%", create=True) == ("created", None)
    assert write_comment(_target(gh), "Build duration increased by 31%", create=True) == ("updated", None)
    comments = gh.comments(REPO, 7)
    assert [c.body.splitlines()[-1] for c in comments] == ["LGTM", "Build duration increased by 31%"]
    assert comments[1].body.startswith(
        "<!-- debian-multiarch-builder:telemetry telemetry-history-tool-amd64 -->"
    )


def test_each_leg_keeps_its_own_comment(gh: FakeGitHub) -> None:
    write_comment(_target(gh, "history-amd64"), "amd64", create=True)
    write_comment(_target(gh, "history-arm64"), "arm64", create=True)
    write_comment(_target(gh, "history-amd64"), "amd64 again", create=True)
    assert sorted(c.body.splitlines()[-1] for c in gh.comments(REPO, 7)) == ["amd64 again", "arm64"]


def test_without_create_nothing_new_is_written_but_an_existing_comment_is_kept_current(
    gh: FakeGitHub,
) -> None:
    assert write_comment(_target(gh), "fine", create=False) == ("none", None)
    assert gh.comments(REPO, 7) == []
    write_comment(_target(gh), "regressed", create=True)
    assert write_comment(_target(gh), "fine again", create=False) == ("updated", None)
    assert gh.comments(REPO, 7)[0].body.endswith("fine again")


def test_a_read_only_token_is_a_notice(gh: FakeGitHub) -> None:
    gh.set_read_only(True)
    outcome, notice = write_comment(_target(gh), "regressed", create=True)
    assert outcome == "failed"
    assert notice is not None and "HTTP 403" in notice and "pull-requests: write" in notice
    assert TOKEN not in notice and TOKEN not in repr(_target(gh))


def test_the_pull_request_number_comes_from_the_event(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 7, "pull_request": {"number": 7}}))
    env = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event)}
    assert pull_request_number(env) == 7
    assert (
        pull_request_number({"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/12/merge"}) == 12
    )
    assert pull_request_number({"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(event)}) is None
