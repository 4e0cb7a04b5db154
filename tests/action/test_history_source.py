"""The history lookup against the loopback GitHub API, driven through PyGithub and requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from action import history_source
from action.history_source import HistoryQuery, fetch_history
from telemetry.history import History, HistoryEntry, history_document
from tests.support.fake_github import FakeGitHub, Fault

TOKEN = "ghs_history_token_123"
REPO = "acme/tool"
NAME = "telemetry-history-tool"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        server.add_repo(REPO)
        yield server


def _history(*runs: int, duration: float = 30.0) -> bytes:
    entries = tuple(
        HistoryEntry(
            run_id=str(r),
            time="2026-12-01T10:00:00Z",
            status="success",
            duration_seconds=duration,
            peak_memory_mb=120.0,
            baseline=True,
            branch="main",
        )
        for r in runs
    )
    return json.dumps(history_document(History(entries, NAME))).encode()


def _upload(gh: FakeGitHub, files: dict[str, bytes] | bytes, run_id: int, branch: str, **kw: Any) -> None:
    """An upload of this history's artifact by run ``run_id`` on ``branch``."""
    gh.add_artifact(REPO, NAME, files, run_id=run_id, head_branch=branch, **kw)


def _query(gh: FakeGitHub, *, branch: str = "main", run: str = "900", token: str = TOKEN) -> HistoryQuery:
    return HistoryQuery(REPO, NAME, branch, run, gh.api_url, token)


def test_the_newest_unexpired_artifact_of_the_branch_is_read(gh: FakeGitHub, tmp_path: Path) -> None:
    _upload(gh, {"history.json": _history(1)}, 101, "main", created_at="2026-12-01T10:00:00Z")
    _upload(
        gh,
        {"history.json": _history(1, 2), "metrics.json": b"{}"},
        102,
        "main",
        created_at="2026-12-02T10:00:00Z",
    )
    _upload(gh, {"history.json": _history(7)}, 103, "feature", created_at="2026-12-03T09:00:00Z")
    _upload(gh, {"history.json": _history(8)}, 104, "main", created_at="2026-12-03T10:00:00Z", expired=True)
    gh.add_artifact(REPO, "other-name", {"history.json": _history(9)}, run_id=105, head_branch="main")

    lookup = fetch_history(_query(gh), tmp_path)

    assert lookup.notice is None
    assert lookup.history is not None
    assert [e.run_id for e in lookup.history.entries] == ["1", "2"]
    assert lookup.describe() == f"artifact {NAME} of run 102 on main"
    # The token went to the API and never to the storage host.
    storage = gh.requests_matching("/objects/*")
    assert storage and all(r.header("Authorization") is None for r in storage)
    assert not list(tmp_path.iterdir())  # the scratch folder is gone


def test_a_pull_request_reads_its_base_branch_and_skips_its_own_run(gh: FakeGitHub, tmp_path: Path) -> None:
    _upload(gh, {"history.json": _history(1)}, 101, "main", created_at="2026-12-01T10:00:00Z")
    _upload(gh, {"history.json": _history(5)}, 900, "main", created_at="2026-12-02T10:00:00Z")
    lookup = fetch_history(_query(gh, run="900"), tmp_path)
    assert lookup.history is not None and [e.run_id for e in lookup.history.entries] == ["1"]


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("none", "no history yet: no artifact telemetry-history-tool from an earlier run on main"),
        ("expired", "has expired; this run starts a new history"),
        ("corrupt", "unusable zip"),
        ("no-history-file", "no history.json in it"),
        ("bad-history", "does not match history.schema.json"),
        ("traversal", "unusable zip"),
        ("bomb", "decompression bomb"),
    ],
)
def test_every_unusable_artifact_is_a_notice(gh: FakeGitHub, tmp_path: Path, setup: str, needle: str) -> None:
    files: dict[str, bytes] | bytes = {}
    if setup == "expired":
        _upload(gh, {"history.json": _history(1)}, 101, "main", expired=True)
    elif setup != "none":
        files = {
            "corrupt": b"PK\x03\x04 this is not a zip file at all",
            "no-history-file": {"metrics.json": b"{}"},
            "bad-history": {"history.json": b'{"schema_version": 1, "entries": [{"run_id": 5}]}'},
            "traversal": {"../history.json": _history(1)},
            "bomb": {"history.json": _history(1), "padding.bin": bytes(64 * 1024 * 1024)},
        }[setup]
        gh.add_artifact(REPO, NAME, files, run_id=101, head_branch="main")
    lookup = fetch_history(_query(gh), tmp_path)
    assert lookup.history is None
    assert lookup.notice is not None and needle in lookup.notice


def test_no_token_is_a_notice_and_no_request(gh: FakeGitHub, tmp_path: Path) -> None:
    lookup = fetch_history(_query(gh, token=""), tmp_path)
    assert lookup.history is None and "no token" in (lookup.notice or "")
    assert gh.requests == []


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        (Fault.status_code("/repos/*/actions/artifacts", 403, times=None), "actions: read"),
        (Fault.rate_limited("/repos/*/actions/artifacts", reset_in=3600, times=None), "rate limit"),
        (Fault.not_found("/repos/*/actions/artifacts"), "HTTP 404"),
        (Fault.server_error("/repos/*/actions/artifacts", 502, times=None), "HTTP 502"),
    ],
)
def test_api_refusals_are_notices(gh: FakeGitHub, tmp_path: Path, fault: Fault, needle: str) -> None:
    gh.add_artifact(REPO, NAME, {"history.json": _history(1)}, run_id=101, head_branch="main")
    gh.add_fault(fault)
    lookup = fetch_history(_query(gh), tmp_path)
    assert lookup.history is None
    assert needle in (lookup.notice or "")
    assert TOKEN not in (lookup.notice or "")


def test_an_oversized_artifact_is_not_downloaded(
    gh: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gh.add_artifact(REPO, NAME, {"history.json": _history(1)}, run_id=101, head_branch="main")
    monkeypatch.setattr(history_source, "MAX_ARTIFACT_BYTES", 10)
    lookup = fetch_history(_query(gh), tmp_path)
    assert lookup.history is None and "more than a telemetry folder can be" in (lookup.notice or "")
    assert gh.requests_matching("/objects/*") == []


def test_a_broken_download_is_a_notice(gh: FakeGitHub, tmp_path: Path) -> None:
    gh.add_artifact(REPO, NAME, {"history.json": _history(1)}, run_id=101, head_branch="main")
    gh.add_fault(Fault.server_error("/objects/*", 503, times=None))
    lookup = fetch_history(_query(gh), tmp_path)
    assert lookup.history is None and "download failed" in (lookup.notice or "")
