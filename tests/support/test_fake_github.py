"""The fake GitHub server answers like GitHub: shapes, headers, redirects, and injected faults."""

from __future__ import annotations

import hashlib
import tarfile
import time
from pathlib import Path

import pytest
import requests
from github import Auth, Github

from tests.support.fake_github import FakeGitHub, Fault
from tests.support.fixtures import FAKE_TOKEN
from tests.support.uv_release import UV_LINUX_TARGETS, minimal_elf, tiny_release

REPO = "astral-sh/uv"
ASSET = "uv-x86_64-unknown-linux-gnu.tar.gz"


@pytest.fixture
def gh(fake_github: FakeGitHub, tiny_release_dir: Path) -> FakeGitHub:
    fake_github.add_release_from_dir(REPO, "0.5.10", tiny_release_dir)
    fake_github.add_release_from_dir(REPO, "0.5.11", tiny_release_dir)
    return fake_github


def api(gh: FakeGitHub, path: str, **kwargs: object) -> requests.Response:
    headers = {"Authorization": f"token {FAKE_TOKEN}", "Accept": "application/vnd.github+json"}
    headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
    kwargs.setdefault("timeout", 10)
    return requests.get(f"{gh.api_url}{path}", headers=headers, **kwargs)  # type: ignore[arg-type]


def asset_id(gh: FakeGitHub, name: str = ASSET, tag: str = "0.5.11") -> int:
    return gh.asset(REPO, tag, name).id


def test_repository_and_license_shapes(gh: FakeGitHub) -> None:
    repo = api(gh, f"/repos/{REPO}").json()
    assert repo["full_name"] == REPO
    assert repo["license"]["spdx_id"] == "MIT" and repo["license"]["key"] == "mit"
    assert repo["url"] == f"{gh.api_url}/repos/{REPO}"
    lic = api(gh, f"/repos/{REPO}/license").json()
    assert lic["license"]["spdx_id"] == "MIT"
    assert lic["encoding"] == "base64" and lic["type"] == "file"


def test_release_shape_with_digest_and_urls(gh: FakeGitHub, tiny_release_dir: Path) -> None:
    resp = api(gh, f"/repos/{REPO}/releases/tags/0.5.11")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    release = resp.json()
    assert release["tag_name"] == "0.5.11" and release["draft"] is False
    assets = {a["name"]: a for a in release["assets"]}
    assert set(assets) == {p.name for p in tiny_release_dir.iterdir()}
    a = assets[ASSET]
    data = (tiny_release_dir / ASSET).read_bytes()
    assert a["size"] == len(data)
    assert a["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert a["state"] == "uploaded" and a["content_type"] == "application/gzip"
    assert a["url"] == f"{gh.api_url}/repos/{REPO}/releases/assets/{a['id']}"
    assert a["browser_download_url"].endswith(f"/{REPO}/releases/download/0.5.11/{ASSET}")


def test_rate_limit_headers_on_api_responses(gh: FakeGitHub) -> None:
    first = api(gh, f"/repos/{REPO}")
    second = api(gh, f"/repos/{REPO}")
    for key in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used"):
        assert key in first.headers
    assert first.headers["X-RateLimit-Resource"] == "core"
    assert int(second.headers["X-RateLimit-Remaining"]) == int(first.headers["X-RateLimit-Remaining"]) - 1


def test_not_found_body(gh: FakeGitHub) -> None:
    resp = api(gh, f"/repos/{REPO}/releases/tags/v9.9.9")
    assert resp.status_code == 404
    body = resp.json()
    assert body["message"] == "Not Found" and body["documentation_url"].startswith("https://docs.github.com")


def test_latest_and_pagination_links(gh: FakeGitHub) -> None:
    assert api(gh, f"/repos/{REPO}/releases/latest").json()["tag_name"] == "0.5.11"
    page1 = api(gh, f"/repos/{REPO}/releases", params={"per_page": 1})
    assert [r["tag_name"] for r in page1.json()] == ["0.5.11"]
    assert 'rel="next"' in page1.headers["Link"] and "page=2" in page1.headers["Link"]
    page2 = requests.get(page1.links["next"]["url"], timeout=10)
    assert [r["tag_name"] for r in page2.json()] == ["0.5.10"]
    assert 'rel="prev"' in page2.headers["Link"] and 'rel="next"' not in page2.headers["Link"]


def test_pygithub_reads_it(gh: FakeGitHub) -> None:
    g = Github(base_url=gh.api_url, auth=Auth.Token(FAKE_TOKEN), per_page=1, retry=None)
    repo = g.get_repo(REPO)
    assert repo.get_license().license.spdx_id == "MIT"
    assert [r.tag_name for r in repo.get_releases()] == ["0.5.11", "0.5.10"]
    release = repo.get_release("0.5.11")
    asset = next(a for a in release.assets if a.name == ASSET)
    assert asset.digest is not None and asset.digest.startswith("sha256:")
    assert g.rate_limiting[0] < g.rate_limiting[1]


def test_asset_download_redirects_to_objects_host(gh: FakeGitHub, tiny_release_dir: Path) -> None:
    aid = asset_id(gh)
    meta = api(gh, f"/repos/{REPO}/releases/assets/{aid}")
    assert meta.json()["name"] == ASSET
    first = api(gh, f"/repos/{REPO}/releases/assets/{aid}", headers={"Accept": "application/octet-stream"},
                allow_redirects=False)  # fmt: skip
    assert first.status_code == 302
    location = first.headers["Location"]
    assert location.startswith(f"http://localhost:{gh.port}/objects/{aid}/")
    # requests drops Authorization on a host change, as it should.
    full = api(gh, f"/repos/{REPO}/releases/assets/{aid}", headers={"Accept": "application/octet-stream"})
    assert full.content == (tiny_release_dir / ASSET).read_bytes()
    objects = gh.requests_matching("/objects/*")
    assert objects and all(r.header("Authorization") is None for r in objects)
    assert all(r.host.startswith("localhost:") for r in objects)


def test_objects_host_refuses_forwarded_token(gh: FakeGitHub) -> None:
    aid = asset_id(gh)
    location = api(
        gh, f"/repos/{REPO}/releases/assets/{aid}", headers={"Accept": "application/octet-stream"},
        allow_redirects=False,
    ).headers["Location"]  # fmt: skip
    resp = requests.get(location, headers={"Authorization": f"token {FAKE_TOKEN}"}, timeout=10)
    assert resp.status_code == 400


def test_browser_download_url_redirects(gh: FakeGitHub, tiny_release_dir: Path) -> None:
    url = f"{gh.server_url}/{REPO}/releases/download/0.5.11/{ASSET}"
    resp = requests.get(url, timeout=10)
    assert resp.history[0].status_code == 302
    assert resp.content == (tiny_release_dir / ASSET).read_bytes()


def test_token_checks(tiny_release_dir: Path) -> None:
    with FakeGitHub(token="right", require_token=True) as gh:
        gh.add_repo(REPO)
        url = f"{gh.api_url}/repos/{REPO}"
        assert requests.get(url, timeout=5).status_code == 401
        bad = requests.get(url, headers={"Authorization": "token wrong"}, timeout=5)
        assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
        assert requests.get(url, headers={"Authorization": "Bearer right"}, timeout=5).status_code == 200
        assert requests.get(url, headers={"Authorization": "token right"}, timeout=5).status_code == 200
        assert gh.requests[-1].contains("right")


def test_ghes_prefix(tiny_release_dir: Path) -> None:
    with FakeGitHub(api_prefix="/api/v3") as gh:
        gh.add_release_from_dir(REPO, "0.5.11", tiny_release_dir)
        assert gh.api_url.endswith("/api/v3")
        assert requests.get(f"{gh.api_url}/repos/{REPO}", timeout=5).json()["url"].startswith(gh.api_url)
        assert requests.get(f"{gh.server_url}/repos/{REPO}", timeout=5).status_code == 404


def test_fault_status_then_success(gh: FakeGitHub) -> None:
    gh.add_fault(Fault.server_error(f"/repos/{REPO}", 503, times=2))
    codes = [api(gh, f"/repos/{REPO}").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert gh.pending_faults() == []
    assert [r.fault for r in gh.requests] == ["status", "status", None]


def test_fault_429_and_rate_limits(gh: FakeGitHub) -> None:
    gh.add_fault(Fault.too_many_requests("*/releases/*", retry_after=7))
    resp = api(gh, f"/repos/{REPO}/releases/latest")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    gh.add_fault(Fault.rate_limited("*/releases/*", reset_in=30))
    resp = api(gh, f"/repos/{REPO}/releases/latest")
    assert resp.status_code == 403 and resp.headers["X-RateLimit-Remaining"] == "0"
    assert 25 <= int(resp.headers["X-RateLimit-Reset"]) - time.time() <= 31
    assert "rate limit" in resp.json()["message"]
    gh.add_fault(Fault.secondary_rate_limit("*/releases/*", retry_after=3))
    resp = api(gh, f"/repos/{REPO}/releases/latest")
    assert resp.status_code == 403 and resp.headers["Retry-After"] == "3"
    assert api(gh, f"/repos/{REPO}/releases/latest").status_code == 200


def object_url(gh: FakeGitHub) -> str:
    aid = asset_id(gh)
    return str(
        api(
            gh, f"/repos/{REPO}/releases/assets/{aid}", headers={"Accept": "application/octet-stream"},
            allow_redirects=False,
        ).headers["Location"]
    )  # fmt: skip


def test_fault_reset_and_truncation(gh: FakeGitHub, tiny_release_dir: Path) -> None:
    url = object_url(gh)
    gh.add_fault(Fault.connection_reset("/objects/*"), Fault.truncated("/objects/*"))
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match=r"reset|Connection broken"):
        requests.get(url, timeout=5).content  # noqa: B018
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        requests.get(url, timeout=5).content  # noqa: B018
    assert requests.get(url, timeout=5).content == (tiny_release_dir / ASSET).read_bytes()


def test_fault_wrong_length(gh: FakeGitHub, tiny_release_dir: Path) -> None:
    url = object_url(gh)
    data = (tiny_release_dir / ASSET).read_bytes()
    gh.add_fault(Fault.wrong_length("/objects/*", delta=50), Fault.wrong_length("/objects/*", delta=-50))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url, timeout=5).content  # noqa: B018
    short = requests.get(url, timeout=5)
    assert int(short.headers["Content-Length"]) == len(data) - 50
    assert short.content == data[:-50]


def test_fault_stall(gh: FakeGitHub) -> None:
    url = object_url(gh)
    gh.add_fault(Fault.stall("/objects/*", seconds=3))
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(url, timeout=(2, 0.3))
    assert time.monotonic() - started < 2
    gh.add_fault(Fault.stall("/objects/*", seconds=3, fraction=0.5))
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=(2, 0.3)).content  # noqa: B018


def test_fault_redirect_loop(gh: FakeGitHub) -> None:
    gh.add_fault(Fault.redirect_loop("/objects/*"))
    url = object_url(gh)
    with pytest.raises(requests.exceptions.TooManyRedirects):
        requests.get(url, timeout=5)


def test_stop_does_not_wait_for_stalls(gh: FakeGitHub) -> None:
    gh.add_fault(Fault.stall(f"/repos/{REPO}", seconds=60))
    with pytest.raises(requests.exceptions.ReadTimeout):
        api(gh, f"/repos/{REPO}", timeout=0.2)
    started = time.monotonic()
    gh.stop()
    assert time.monotonic() - started < 5


def test_tiny_release_layout_and_determinism(tmp_path: Path) -> None:
    one = tiny_release(tmp_path / "one")
    two = tiny_release(tmp_path / "two")
    for name in sorted(p.name for p in one.iterdir()):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    for target in UV_LINUX_TARGETS.values():
        asset = one / f"uv-{target}.tar.gz"
        with tarfile.open(asset) as tar:
            names = tar.getnames()
            assert f"uv-{target}/uv" in names and f"uv-{target}/uvx" in names
            assert {m.mtime for m in tar.getmembers()} == {1734653444}
        sidecar = (one / f"uv-{target}.tar.gz.sha256").read_text()
        assert sidecar == f"{hashlib.sha256(asset.read_bytes()).hexdigest()}  uv-{target}.tar.gz\n"
    assert minimal_elf(2, 2, 22)[:6] == b"\x7fELF\x02\x02"


def test_range_requests(gh: FakeGitHub, tiny_release_dir: Path) -> None:
    url = object_url(gh)
    data = (tiny_release_dir / ASSET).read_bytes()
    part = requests.get(url, headers={"Range": "bytes=10-"}, timeout=5)
    assert part.status_code == 206 and part.content == data[10:]
    assert part.headers["Content-Range"] == f"bytes 10-{len(data) - 1}/{len(data)}"
    middle = requests.get(url, headers={"Range": "bytes=5-9"}, timeout=5)
    assert middle.status_code == 206 and middle.content == data[5:10]
    beyond = requests.get(url, headers={"Range": f"bytes={len(data)}-"}, timeout=5)
    assert beyond.status_code == 416


def test_release_without_digest_key(fake_github: FakeGitHub, tiny_release_dir: Path) -> None:
    fake_github.add_release_from_dir(REPO, "old", tiny_release_dir, digests=None)
    fake_github.add_release_from_dir(REPO, "null", tiny_release_dir, digests=False)
    old = api(fake_github, f"/repos/{REPO}/releases/tags/old").json()
    assert all("digest" not in a for a in old["assets"])
    null = api(fake_github, f"/repos/{REPO}/releases/tags/null").json()
    assert all(a["digest"] is None for a in null["assets"])
