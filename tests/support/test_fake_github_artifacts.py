"""The fake's Actions artifacts and issue-comment endpoints, read by real clients (PyGithub, requests)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import requests
from github import Auth, Github, GithubException

from tests.support.fake_github import READ_ONLY_MESSAGE, FakeGitHub, Fault
from tests.support.fixtures import FAKE_TOKEN

REPO = "astral-sh/uv"
MARKER = "<!-- debian-multiarch-builder:regressions -->"
BASE = datetime(2025, 1, 1, tzinfo=UTC)


def auth_headers(token: str = FAKE_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}


def api(gh: FakeGitHub, path: str, **kwargs: object) -> requests.Response:
    kwargs.setdefault("headers", auth_headers())
    kwargs.setdefault("timeout", 10)
    return requests.get(f"{gh.api_url}{path}", **kwargs)  # type: ignore[arg-type]


def client(gh: FakeGitHub, per_page: int = 30, token: str = FAKE_TOKEN) -> Github:
    return Github(
        base_url=gh.api_url, auth=Auth.Token(token), per_page=per_page, retry=None,
        seconds_between_requests=0, seconds_between_writes=0,  # PyGithub's politeness throttle
    )  # fmt: skip


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


# -- artifacts ---------------------------------------------------------------------------------


def test_artifact_shape_order_and_name_filter(fake_github: FakeGitHub) -> None:
    gh = fake_github
    old = gh.add_artifact(REPO, "metrics", {"metrics.json": b"{}"}, run_id=11, head_branch="main",
                          created_at=BASE)  # fmt: skip
    new = gh.add_artifact(REPO, "metrics", {"metrics.json": b"[]"}, run_id=12, head_branch="feature",
                          created_at=BASE + timedelta(hours=1), head_sha="a" * 40)  # fmt: skip
    gh.add_artifact(REPO, "logs", {"build.log": b"ok\n"}, run_id=12, head_branch="feature",
                    created_at=BASE + timedelta(hours=2))  # fmt: skip

    everything = api(gh, f"/repos/{REPO}/actions/artifacts")
    assert everything.status_code == 200
    assert "X-RateLimit-Remaining" in everything.headers and "Link" not in everything.headers
    assert everything.json()["total_count"] == 3
    assert [a["name"] for a in everything.json()["artifacts"]] == ["logs", "metrics", "metrics"]

    body = api(gh, f"/repos/{REPO}/actions/artifacts", params={"name": "metrics"}).json()
    assert body["total_count"] == 2 and set(body) == {"total_count", "artifacts"}
    first = body["artifacts"][0]
    assert first["id"] == new.id and body["artifacts"][1]["id"] == old.id  # newest first
    url = f"{gh.api_url}/repos/{REPO}/actions/artifacts/{new.id}"
    assert first["url"] == url and first["archive_download_url"] == f"{url}/zip"
    assert first["expired"] is False and first["size_in_bytes"] == len(new.data)
    assert first["digest"] == "sha256:" + hashlib.sha256(new.data).hexdigest()
    assert first["created_at"] == "2025-01-01T01:00:00Z" == first["updated_at"]
    assert first["expires_at"] == "2025-04-01T01:00:00Z"  # 90 days of retention
    assert isinstance(first["node_id"], str) and first["node_id"]
    repo_id = api(gh, f"/repos/{REPO}").json()["id"]
    assert first["workflow_run"] == {
        "id": 12, "repository_id": repo_id, "head_repository_id": repo_id,
        "head_branch": "feature", "head_sha": "a" * 40,
    }  # fmt: skip
    assert api(gh, f"/repos/{REPO}/actions/artifacts", params={"name": "nope"}).json() == {
        "total_count": 0,
        "artifacts": [],
    }
    assert [a.id for a in gh.artifacts(REPO, "metrics")] == [new.id, old.id]


def test_single_artifact_and_unknown_ids(fake_github: FakeGitHub) -> None:
    gh = fake_github
    art = gh.add_artifact(REPO, "metrics", {"m.json": b"1"}, run_id=1, head_branch="main")
    other = gh.add_artifact("someone/else", "metrics", {"m.json": b"2"}, run_id=2, head_branch="main")
    one = api(gh, f"/repos/{REPO}/actions/artifacts/{art.id}")
    assert one.status_code == 200 and one.json()["id"] == art.id
    for missing in (f"/repos/{REPO}/actions/artifacts/999", f"/repos/{REPO}/actions/artifacts/{other.id}",
                    f"/repos/{REPO}/actions/artifacts/{other.id}/zip"):  # fmt: skip
        resp = api(gh, missing)
        assert resp.status_code == 404 and resp.json()["message"] == "Not Found"


def test_pygithub_lists_artifacts_across_pages(fake_github: FakeGitHub) -> None:
    gh = fake_github
    for run in range(45):
        gh.add_artifact(
            REPO, "metrics", {"metrics.json": f'{{"run": {run}}}'.encode()}, run_id=1000 + run,
            head_branch="main" if run % 3 else "feature", created_at=BASE + timedelta(minutes=run),
            expired=run < 5,
        )  # fmt: skip
        gh.add_artifact(REPO, "other", b"PK", run_id=1000 + run, head_branch="main",
                        created_at=BASE + timedelta(minutes=run))  # fmt: skip
    gh.clear_requests()

    listed = client(gh, per_page=20).get_repo(REPO).get_artifacts(name="metrics")
    artifacts = list(listed)
    assert len(artifacts) == 45 and listed.totalCount == 45
    assert [a.workflow_run.id for a in artifacts] == [1000 + run for run in reversed(range(45))]
    newest = artifacts[0]
    assert newest.name == "metrics" and newest.expired is False
    assert newest.workflow_run.head_branch == "main" and newest.workflow_run.head_sha
    assert newest.archive_download_url == f"{gh.api_url}/repos/{REPO}/actions/artifacts/{newest.id}/zip"
    assert newest.digest is not None and newest.digest.startswith("sha256:")
    assert newest.created_at == BASE + timedelta(minutes=44)
    assert [a.expired for a in artifacts[-5:]] == [True] * 5
    assert [a.workflow_run.head_branch for a in artifacts if (a.workflow_run.id - 1000) % 3 == 0][:2] == [
        "feature",
        "feature",
    ]
    pages = [r for r in gh.requests_matching(f"/repos/{REPO}/actions/artifacts") if r.method == "GET"]
    assert len(pages) == 3 and all("name=metrics" in r.query for r in pages)

    # The Link header keeps the name filter and points at the right pages.
    page2 = api(gh, f"/repos/{REPO}/actions/artifacts", params={"name": "metrics", "per_page": 20, "page": 2})
    assert len(page2.json()["artifacts"]) == 20 and page2.json()["total_count"] == 45
    links = page2.links
    assert "name=metrics" in links["next"]["url"] and "page=3" in links["next"]["url"]
    assert "page=1" in links["prev"]["url"] and "page=1" in links["first"]["url"]
    assert (
        len(requests.get(links["last"]["url"], headers=auth_headers(), timeout=10).json()["artifacts"]) == 5
    )
    capped = api(gh, f"/repos/{REPO}/actions/artifacts", params={"per_page": 500})
    assert len(capped.json()["artifacts"]) == 90 and capped.json()["total_count"] == 90


def test_zip_download_redirects_to_storage_without_token(fake_github: FakeGitHub) -> None:
    gh = fake_github
    files = {"metrics.json": b'{"peak_rss": 1}', "nested/dir/build.log": b"line\n" * 1000}
    art = gh.add_artifact(REPO, "metrics", files, run_id=7, head_branch="main")
    zip_url = f"{gh.api_url}/repos/{REPO}/actions/artifacts/{art.id}/zip"

    first = requests.get(zip_url, headers=auth_headers(), allow_redirects=False, timeout=10)
    assert first.status_code == 302 and "X-RateLimit-Remaining" in first.headers
    location = first.headers["Location"]
    assert location.startswith(f"http://localhost:{gh.port}/objects/artifacts/{art.id}/")
    # Forwarding the token to the storage host is refused, as the real one does.
    refused = requests.get(location, headers=auth_headers(), timeout=10)
    assert refused.status_code == 400 and b"Only one auth mechanism" in refused.content
    # Dropping it (requests does so itself when the host changes) gets the zip.
    resp = requests.get(zip_url, headers=auth_headers(), timeout=10)
    assert resp.status_code == 200 and resp.history[0].status_code == 302
    assert resp.headers["Content-Type"] == "application/zip"
    assert resp.content == art.data and read_zip(resp.content) == files
    with zipfile.ZipFile(io.BytesIO(resp.content)) as archive:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in archive.infolist())
    storage = gh.requests_matching("/objects/artifacts/*")
    assert storage[-1].header("Authorization") is None and not storage[-1].contains(FAKE_TOKEN)
    assert storage[0].contains(FAKE_TOKEN)  # the refused one carried it

    ranged = requests.get(location, headers={"Range": "bytes=10-"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == art.data[10:]


def test_zip_needs_a_token_and_expired_is_gone(fake_github: FakeGitHub) -> None:
    gh = fake_github
    art = gh.add_artifact(REPO, "metrics", {"m.json": b"1"}, run_id=1, head_branch="main")
    old = gh.add_artifact(REPO, "metrics", {"m.json": b"0"}, run_id=0, head_branch="main", expired=True)
    anonymous = requests.get(f"{gh.api_url}/repos/{REPO}/actions/artifacts/{art.id}/zip", timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["message"] == "Requires authentication"
    wrong = api(gh, f"/repos/{REPO}/actions/artifacts/{art.id}/zip", headers=auth_headers("ghp_wrong"))
    assert wrong.status_code == 401 and wrong.json()["message"] == "Bad credentials"
    gone = api(gh, f"/repos/{REPO}/actions/artifacts/{old.id}/zip", allow_redirects=False)
    assert gone.status_code == 410 and gone.json()["message"] == "Artifact has expired"
    assert gone.json()["documentation_url"].startswith("https://docs.github.com")
    assert api(gh, f"/repos/{REPO}/actions/artifacts/{old.id}").json()["expired"] is True


def test_raw_bytes_are_served_as_the_zip(fake_github: FakeGitHub) -> None:
    gh = fake_github
    corrupt = gh.add_artifact(REPO, "metrics", b"PK\x03\x04 not really a zip", run_id=3, head_branch="main")
    resp = api(gh, f"/repos/{REPO}/actions/artifacts/{corrupt.id}/zip")
    assert resp.content == b"PK\x03\x04 not really a zip"
    assert api(gh, f"/repos/{REPO}/actions/artifacts/{corrupt.id}").json()["size_in_bytes"] == len(
        corrupt.data
    )
    with pytest.raises(zipfile.BadZipFile):
        read_zip(resp.content)


def test_faults_on_the_artifact_list(fake_github: FakeGitHub) -> None:
    gh = fake_github
    gh.add_artifact(REPO, "metrics", {"m.json": b"1"}, run_id=1, head_branch="main")
    path = f"/repos/{REPO}/actions/artifacts"
    gh.add_fault(Fault.rate_limited(path, reset_in=30), Fault.server_error(path, 500))
    limited = api(gh, path, params={"name": "metrics"})
    assert limited.status_code == 403 and limited.headers["X-RateLimit-Remaining"] == "0"
    assert "rate limit" in limited.json()["message"]
    assert api(gh, path).status_code == 500
    assert api(gh, path).json()["total_count"] == 1
    gh.add_fault(Fault.server_error(path, 502))
    with pytest.raises(GithubException) as raised:
        list(client(gh).get_repo(REPO).get_artifacts(name="metrics"))
    assert raised.value.status == 502
    assert [r.fault for r in gh.requests_matching(path)] == ["rate_limited", "status", None, "status"]


# -- issue comments ----------------------------------------------------------------------------


def test_pygithub_comment_round_trip(fake_github: FakeGitHub) -> None:
    gh = fake_github
    gh.add_pull_request(REPO, 42, "feature", "main")
    gh.add_comment(REPO, 42, "LGTM", user="octocat")
    repo = client(gh).get_repo(REPO)

    issue = repo.get_issue(42)
    assert issue.number == 42 and issue.pull_request is not None
    assert [c.body for c in issue.get_comments()] == ["LGTM"]
    created = issue.create_comment(f"{MARKER}\nfirst report")
    assert created.user.login == "github-actions[bot]" and created.user.type == "Bot"
    assert created.issue_url == f"{gh.api_url}/repos/{REPO}/issues/42"
    assert created.html_url.endswith(f"/{REPO}/pull/42#issuecomment-{created.id}")

    # The next run finds its own comment by the marker and edits it in place.
    mine = [c for c in repo.get_issue(42).get_comments() if MARKER in c.body]
    assert [c.id for c in mine] == [created.id]
    mine[0].edit(f"{MARKER}\nsecond report")
    assert [c.body for c in gh.comments(REPO, 42)] == ["LGTM", f"{MARKER}\nsecond report"]
    assert repo.get_issue(42).get_comment(created.id).body == f"{MARKER}\nsecond report"
    assert repo.get_issue(42).comments == 2

    pull = repo.get_pull(42)
    assert pull.head.ref == "feature" and pull.base.ref == "main"
    assert [c.id for c in pull.get_issue_comments()][-1] == created.id

    posted = gh.requests_matching(f"/repos/{REPO}/issues/42/comments")[1]
    assert posted.method == "POST" and posted.json() == {"body": f"{MARKER}\nfirst report"}
    assert posted.contains("first report")


def test_comment_shape_and_pagination(fake_github: FakeGitHub) -> None:
    gh = fake_github
    for i in range(45):
        gh.add_comment(REPO, 5, f"comment {i}", created_at=BASE + timedelta(minutes=i))
    page1 = api(gh, f"/repos/{REPO}/issues/5/comments", params={"per_page": 20})
    assert [c["body"] for c in page1.json()] == [f"comment {i}" for i in range(20)]  # oldest first
    assert "page=2" in page1.links["next"]["url"] and "page=3" in page1.links["last"]["url"]
    first = page1.json()[0]
    assert set(first) >= {"id", "node_id", "url", "html_url", "body", "user", "created_at", "updated_at",
                          "issue_url", "author_association"}  # fmt: skip
    assert first["created_at"] == "2025-01-01T00:00:00Z"
    assert first["url"] == f"{gh.api_url}/repos/{REPO}/issues/comments/{first['id']}"
    assert {"login", "id", "type"} <= set(first["user"])
    assert api(gh, f"/repos/{REPO}/issues/comments/{first['id']}").json() == first
    listed = list(client(gh, per_page=20).get_repo(REPO).get_issue(5).get_comments())
    assert [c.body for c in listed] == [f"comment {i}" for i in range(45)]
    assert api(gh, f"/repos/{REPO}/issues/6/comments").status_code == 404
    assert api(gh, f"/repos/{REPO}/issues/comments/1").status_code == 404


def test_read_only_token_cannot_comment(fake_github: FakeGitHub) -> None:
    gh = fake_github
    gh.add_pull_request(REPO, 3, "fork-branch")
    existing = gh.add_comment(REPO, 3, f"{MARKER}\nold")
    gh.set_read_only(True)
    repo = client(gh).get_repo(REPO)
    with pytest.raises(GithubException) as raised:
        repo.get_issue(3).create_comment("new")
    assert raised.value.status == 403 and raised.value.data["message"] == READ_ONLY_MESSAGE
    assert READ_ONLY_MESSAGE == "Resource not accessible by integration"
    assert raised.value.data["documentation_url"].startswith("https://docs.github.com/rest/issues/comments")
    comment = repo.get_issue(3).get_comment(existing.id)  # reading still works
    with pytest.raises(GithubException) as raised:
        comment.edit("edited")
    assert raised.value.status == 403
    assert [c.body for c in gh.comments(REPO, 3)] == [f"{MARKER}\nold"]
    gh.set_read_only(False)
    assert repo.get_issue(3).create_comment("new").body == "new"

    with FakeGitHub(token=FAKE_TOKEN, read_only=True) as fork:
        fork.add_pull_request(REPO, 1, "x")
        resp = requests.post(f"{fork.api_url}/repos/{REPO}/issues/1/comments", json={"body": "hi"},
                             headers=auth_headers(), timeout=10)  # fmt: skip
        assert resp.status_code == 403 and resp.json()["message"] == READ_ONLY_MESSAGE
        assert fork.comments(REPO, 1) == []


def test_write_errors(fake_github: FakeGitHub) -> None:
    gh = fake_github
    gh.add_pull_request(REPO, 9, "feature")
    url = f"{gh.api_url}/repos/{REPO}/issues/9/comments"
    assert requests.post(url, json={"body": "x"}, timeout=10).status_code == 401
    bad = requests.post(url, json={"body": "x"}, headers=auth_headers("ghp_wrong"), timeout=10)
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    missing = requests.post(url, json={"text": "x"}, headers=auth_headers(), timeout=10)
    assert missing.status_code == 422
    garbage = requests.post(url, data=b"{not json", headers=auth_headers(), timeout=10)
    assert garbage.status_code == 400 and garbage.json()["message"] == "Problems parsing JSON"
    unknown = requests.post(
        url.replace("/9/", "/10/"), json={"body": "x"}, headers=auth_headers(), timeout=10
    )
    assert unknown.status_code == 404
    edit_unknown = requests.patch(f"{gh.api_url}/repos/{REPO}/issues/comments/12345", json={"body": "x"},
                                  headers=auth_headers(), timeout=10)  # fmt: skip
    assert edit_unknown.status_code == 404
    wrong_method = requests.post(
        f"{gh.api_url}/repos/{REPO}/releases", json={}, headers=auth_headers(), timeout=10
    )
    assert wrong_method.status_code == 404
    assert gh.comments(REPO, 9) == []
    # The same keep-alive connection still works after a request whose body was not used.
    with requests.Session() as session:
        session.headers.update(auth_headers())
        assert session.post(url, json={"nope": 1}, timeout=10).status_code == 422
        assert session.post(url, json={"body": "ok"}, timeout=10).status_code == 201


def test_method_specific_faults_and_ghes_prefix() -> None:
    with FakeGitHub(token=FAKE_TOKEN, api_prefix="/api/v3") as gh:
        gh.add_pull_request(REPO, 2, "feature")
        comments = f"/api/v3/repos/{REPO}/issues/2/comments"
        gh.add_fault(Fault.server_error(comments, 503).for_method("post"))
        url = f"{gh.server_url}{comments}"
        assert requests.get(url, headers=auth_headers(), timeout=10).status_code == 200
        failed = requests.post(url, json={"body": "a"}, headers=auth_headers(), timeout=10)
        assert failed.status_code == 503 and gh.comments(REPO, 2) == []
        created = requests.post(url, json={"body": "a"}, headers=auth_headers(), timeout=10)
        assert created.status_code == 201 and created.json()["url"].startswith(f"{gh.api_url}/repos/")
        patched = requests.patch(
            created.json()["url"], json={"body": "b"}, headers=auth_headers(), timeout=10
        )
        assert patched.status_code == 200 and patched.json()["body"] == "b"
        assert [r.method for r in gh.requests] == ["GET", "POST", "POST", "PATCH"]
        assert [r.fault for r in gh.requests] == [None, "status", None, None]
        art = gh.add_artifact(REPO, "metrics", {"m": b"1"}, run_id=1, head_branch="main")
        for i in range(3):
            gh.add_artifact(REPO, "metrics", {"m": b"1"}, run_id=2 + i, head_branch="main")
        listed = requests.get(f"{gh.api_url}/repos/{REPO}/actions/artifacts?per_page=2", timeout=10)
        assert listed.links["next"]["url"].startswith(f"{gh.api_url}/repos/{REPO}/actions/artifacts?")
        zipped = requests.get(
            listed.json()["artifacts"][0]["archive_download_url"], headers=auth_headers(), timeout=10
        )
        assert read_zip(zipped.content) == {"m": b"1"} and art.id in {a.id for a in gh.artifacts(REPO)}
