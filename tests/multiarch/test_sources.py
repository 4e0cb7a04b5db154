"""Release sources against the fake GitHub API (PyGithub through GITHUB_API_URL) and local folders."""

from __future__ import annotations

import hashlib
import io
import logging
import time
from pathlib import Path

import pytest

from multiarch.errors import ConfigError, NetworkError, PermissionDeniedError
from multiarch.sources.github import GitHubSource, api_url_from_env
from multiarch.sources.interface import ReleaseAsset, RetryPolicy
from multiarch.sources.local import LocalSource
from tests.support.fake_github import FakeGitHub, Fault
from tests.support.fixtures import FAKE_TOKEN

REPO = "astral-sh/uv"
TAG = "0.5.11"
ASSET = "uv-x86_64-unknown-linux-gnu.tar.gz"


class Sleeps:
    """Records requested sleeps instead of sleeping, so retry tests take no wall time."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def policy(sleeps: Sleeps, **overrides: float) -> RetryPolicy:
    values: dict[str, float] = {
        "max_attempts": 4,
        "base_delay": 0.5,
        "max_delay": 4.0,
        "max_total_wait": 60.0,
        "read_timeout": 2.0,
        "connect_timeout": 2.0,
        "jitter": 0.0,
    }
    values.update(overrides)
    return RetryPolicy(
        max_attempts=int(values["max_attempts"]),
        base_delay=values["base_delay"],
        max_delay=values["max_delay"],
        max_total_wait=values["max_total_wait"],
        read_timeout=values["read_timeout"],
        connect_timeout=values["connect_timeout"],
        jitter=values["jitter"],
        sleep=sleeps,
    )


@pytest.fixture
def gh(github_env: FakeGitHub, tiny_release_dir: Path) -> FakeGitHub:
    github_env.add_release_from_dir(REPO, TAG, tiny_release_dir)
    return github_env


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def source(gh: FakeGitHub, sleeps: Sleeps) -> GitHubSource:
    return GitHubSource.from_env(REPO, retry=policy(sleeps))


def download(source: GitHubSource, asset: ReleaseAsset) -> tuple[bytes, int]:
    buf = io.BytesIO()
    result = source.download(asset, buf)
    assert result.bytes_written == len(buf.getvalue())
    return buf.getvalue(), result.attempts


# -- metadata ------------------------------------------------------------------------------------


def test_release_through_github_api_url(source: GitHubSource, gh: FakeGitHub, tiny_release_dir: Path) -> None:
    assert source.api_url == gh.api_url
    release = source.get_release(TAG)
    assert release.tag == TAG
    assert release.license_spdx == "MIT"
    assert release.html_url.endswith(f"/{REPO}/releases/tag/{TAG}")
    asset = release.asset(ASSET)
    assert asset is not None
    data = (tiny_release_dir / ASSET).read_bytes()
    assert asset.size == len(data)
    assert asset.digest_sha256 == hashlib.sha256(data).hexdigest()
    assert asset.content_type == "application/gzip"
    assert asset.download_ref.startswith(f"{gh.api_url}/repos/{REPO}/releases/assets/")
    assert len(release.assets) == len(list(tiny_release_dir.iterdir()))
    # The license came from the license API, and nothing was fetched per asset.
    paths = [r.path for r in gh.requests]
    assert f"/repos/{REPO}/license" in paths
    assert not any("/releases/assets/" in p for p in paths)


def test_release_without_digest_or_license(gh: FakeGitHub, sleeps: Sleeps, tiny_release_dir: Path) -> None:
    gh.add_repo("example/old", license_spdx=None)
    gh.add_release_from_dir("example/old", "v1.0.0", tiny_release_dir, digests=False)
    gh.add_repo("example/dual", license_spdx="NOASSERTION")
    gh.add_release_from_dir("example/dual", "v1.0.0", tiny_release_dir)
    old = GitHubSource.from_env("example/old", retry=policy(sleeps)).get_release("v1.0.0")
    assert old.license_spdx is None
    assert all(a.digest_sha256 is None for a in old.assets)
    dual = GitHubSource.from_env("example/dual", retry=policy(sleeps)).get_release("v1.0.0")
    assert dual.license_spdx is None  # "NOASSERTION" is GitHub's "could not tell"


def test_release_without_digest_key_costs_no_extra_requests(
    gh: FakeGitHub, sleeps: Sleeps, tiny_release_dir: Path
) -> None:
    # Older GHES omits "digest"; PyGithub would fetch every asset to complete it if we asked it.
    gh.add_release_from_dir(REPO, "v0.1.0", tiny_release_dir, digests=None)
    gh.clear_requests()
    release = GitHubSource.from_env(REPO, retry=policy(sleeps)).get_release("v0.1.0")
    assert all(a.digest_sha256 is None for a in release.assets)
    assert len(gh.requests) == 3  # repository, release, license


def test_github_enterprise_server_prefix(tiny_release_dir: Path, sleeps: Sleeps) -> None:
    with FakeGitHub(token=FAKE_TOKEN, api_prefix="/api/v3") as ghes:
        ghes.add_release_from_dir(REPO, TAG, tiny_release_dir)
        env = ghes.env()
        assert env["GITHUB_API_URL"].endswith("/api/v3")
        source = GitHubSource.from_env(REPO, env, retry=policy(sleeps))
        release = source.get_release(TAG)
        asset = release.asset(ASSET)
        assert asset is not None and "/api/v3/repos/" in asset.download_ref
        data, _ = download(source, asset)
        assert data == (tiny_release_dir / ASSET).read_bytes()
    assert api_url_from_env({"GITHUB_SERVER_URL": "https://ghe.example"}) == "https://ghe.example/api/v3"
    assert api_url_from_env({"GITHUB_API_URL": "https://ghe.example/api/v3/"}) == "https://ghe.example/api/v3"
    assert api_url_from_env({"GITHUB_SERVER_URL": "https://github.com"}) == "https://api.github.com"
    assert api_url_from_env({}) == "https://api.github.com"


def test_unknown_tag_is_a_config_error(source: GitHubSource, gh: FakeGitHub) -> None:
    with pytest.raises(ConfigError) as info:
        source.get_release("v0.5.11")
    assert info.value.field == "version" and info.value.category == "configuration"
    assert len(gh.requests_matching("*/releases/tags/*")) == 1  # a 404 is not retried


def test_unknown_repo_is_a_config_error(gh: FakeGitHub, sleeps: Sleeps) -> None:
    with pytest.raises(ConfigError) as info:
        GitHubSource.from_env("astral-sh/nope", retry=policy(sleeps)).get_release(TAG)
    assert info.value.field == "github_repo"


def test_bad_token_is_a_permission_error_without_retry(gh: FakeGitHub, sleeps: Sleeps) -> None:
    source = GitHubSource(REPO, token="ghp_wrong", api_url=gh.api_url, retry=policy(sleeps))
    with pytest.raises(PermissionDeniedError) as info:
        source.get_release(TAG)
    assert info.value.category == "permission"
    assert "ghp_wrong" not in str(info.value)
    assert len(gh.requests) == 1 and sleeps.calls == []


def test_metadata_retries_5xx(source: GitHubSource, gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_fault(Fault.server_error("*/releases/tags/*", 502, times=2))
    assert source.get_release(TAG).tag == TAG
    assert sleeps.calls == [0.5, 1.0]  # exponential backoff


def test_metadata_honours_retry_after(source: GitHubSource, gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_fault(Fault.too_many_requests(f"/repos/{REPO}", retry_after=3))
    gh.add_fault(Fault.secondary_rate_limit("*/license", retry_after=2))
    assert source.get_release(TAG).license_spdx == "MIT"
    assert sleeps.calls == [3.0, 2.0]


def test_metadata_waits_for_rate_limit_reset(source: GitHubSource, gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_fault(Fault.rate_limited("*/releases/tags/*", reset_in=20))
    source.get_release(TAG)
    assert len(sleeps.calls) == 1 and 18 <= sleeps.calls[0] <= 22


def test_rate_limit_beyond_budget_fails_fast(gh: FakeGitHub, sleeps: Sleeps) -> None:
    source = GitHubSource.from_env(REPO, retry=policy(sleeps, max_total_wait=10))
    gh.add_fault(Fault.rate_limited("*/releases/tags/*", reset_in=3600))
    with pytest.raises(NetworkError) as info:
        source.get_release(TAG)
    assert info.value.transient and "rate limit" in info.value.message
    assert info.value.remediation and sleeps.calls == []


def test_metadata_gives_up_after_max_attempts(source: GitHubSource, gh: FakeGitHub, sleeps: Sleeps) -> None:
    gh.add_fault(Fault.server_error("*/releases/tags/*", 500, times=None))
    with pytest.raises(NetworkError) as info:
        source.get_release(TAG)
    assert info.value.transient and "4 attempts" in info.value.message
    assert len(gh.requests_matching("*/releases/tags/*")) == 4


# -- downloads -----------------------------------------------------------------------------------


@pytest.fixture
def asset(source: GitHubSource) -> ReleaseAsset:
    found = source.get_release(TAG).asset(ASSET)
    assert found is not None
    return found


def test_download_sends_token_to_api_only(
    source: GitHubSource, asset: ReleaseAsset, gh: FakeGitHub, tiny_release_dir: Path
) -> None:
    gh.clear_requests()
    data, attempts = download(source, asset)
    assert data == (tiny_release_dir / ASSET).read_bytes() and attempts == 1
    api_request, object_request = gh.requests
    assert api_request.header("Authorization") == f"token {FAKE_TOKEN}"
    assert api_request.header("Accept") == "application/octet-stream"
    assert object_request.path.startswith("/objects/")
    assert object_request.header("Authorization") is None
    assert not object_request.contains(FAKE_TOKEN)


@pytest.mark.parametrize(
    "fault",
    [
        Fault.server_error("/objects/*", 503, times=2),
        Fault.server_error("*/releases/assets/*", 500, times=2),
        Fault.too_many_requests("/objects/*", retry_after=1, times=2),
        Fault.connection_reset("/objects/*", times=2),
        Fault.truncated("/objects/*", times=2),
        Fault.wrong_length("/objects/*", delta=100, times=2),
        Fault.wrong_length("/objects/*", delta=-100, times=2),
        Fault.stall("/objects/*", seconds=5, times=1),
    ],
    ids=lambda f: f"{f.kind}-{f.status}-{f.path.split('/')[1]}",
)
def test_download_recovers_from_transient_faults(
    gh: FakeGitHub, sleeps: Sleeps, asset: ReleaseAsset, tiny_release_dir: Path, fault: Fault
) -> None:
    source = GitHubSource.from_env(REPO, retry=policy(sleeps, read_timeout=0.3))
    gh.add_fault(fault)
    data, attempts = download(source, asset)
    assert data == (tiny_release_dir / ASSET).read_bytes()
    assert attempts == (fault.times or 0) + 1
    assert gh.pending_faults() == []


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault.not_found("/objects/*"), "404"),
        (Fault.status_code("*/releases/assets/*", 410), "410"),
        (Fault.redirect_loop("/objects/*"), "redirects"),
    ],
)
def test_download_permanent_faults_fail_fast(
    source: GitHubSource, asset: ReleaseAsset, gh: FakeGitHub, sleeps: Sleeps, fault: Fault, kind: str
) -> None:
    gh.add_fault(fault)
    with pytest.raises(NetworkError) as info:
        download(source, asset)
    assert not info.value.transient and kind in info.value.message
    assert sleeps.calls == []


def test_download_gives_up_and_keeps_secrets_out_of_errors_and_logs(
    source: GitHubSource,
    asset: ReleaseAsset,
    gh: FakeGitHub,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gh.add_fault(Fault.connection_reset("/objects/*", times=None))
    with caplog.at_level(logging.DEBUG), pytest.raises(NetworkError) as info:
        download(source, asset)
    assert info.value.transient and info.value.category == "network"
    assert len(gh.requests_matching("/objects/*")) == 4
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("multiarch"))
    assert "retry 1/3" in ours
    text = str(info.value) + ours + repr(source)
    assert FAKE_TOKEN not in text
    assert "sig=" not in text  # signed storage URLs are credentials too


def test_total_wait_budget_bounds_retries(gh: FakeGitHub, asset: ReleaseAsset) -> None:
    sleeps = Sleeps()
    source = GitHubSource.from_env(
        REPO, retry=policy(sleeps, max_attempts=10, base_delay=1, max_total_wait=2.5)
    )
    gh.add_fault(Fault.server_error("/objects/*", 503, times=None))
    with pytest.raises(NetworkError, match="budget"):
        download(source, asset)
    assert sum(sleeps.calls) <= 2.5


def test_real_sleep_is_bounded(gh: FakeGitHub, asset: ReleaseAsset) -> None:
    source = GitHubSource.from_env(REPO, retry=RetryPolicy(max_attempts=3, base_delay=0.05, jitter=0.0))
    gh.add_fault(Fault.server_error("/objects/*", 503, times=2))
    started = time.monotonic()
    download(source, asset)
    assert time.monotonic() - started < 2


# -- local folder --------------------------------------------------------------------------------


def test_local_source(tiny_release_dir: Path) -> None:
    source = LocalSource(tiny_release_dir, license_spdx="MIT")
    release = source.get_release("0.5.11")
    asset = release.asset(ASSET)
    assert asset is not None
    data = (tiny_release_dir / ASSET).read_bytes()
    assert asset.digest_sha256 == hashlib.sha256(data).hexdigest()  # from the .sha256 sidecar
    assert release.asset("dist-manifest.json") is not None
    assert release.license_spdx == "MIT"
    buf = io.BytesIO(b"stale bytes that must go")
    assert source.download(asset, buf).bytes_written == len(data)
    assert buf.getvalue() == data
    assert source.read_bytes(release.asset(ASSET + ".sha256")).decode().startswith(asset.digest_sha256)  # type: ignore[arg-type]


def test_local_source_sidecar_rules(tmp_path: Path) -> None:
    (tmp_path / "a.tar.gz").write_bytes(b"a")
    (tmp_path / "a.tar.gz.sha256").write_text(f"{'1' * 64}  other.tar.gz\n")  # names another file
    (tmp_path / "b").write_bytes(b"b")
    (tmp_path / "b.sha256sum").write_text(f"{'AB' * 32}\n")  # bare digest
    (tmp_path / ".hidden").write_text("x")
    (tmp_path / "sub").mkdir()
    release = LocalSource(tmp_path).get_release("v1")
    assert release.asset_names == ("a.tar.gz", "a.tar.gz.sha256", "b", "b.sha256sum")
    assert release.asset("a.tar.gz").digest_sha256 is None  # type: ignore[union-attr]
    assert release.asset("b").digest_sha256 == "ab" * 32  # type: ignore[union-attr]


def test_local_source_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        LocalSource(tmp_path / "nope").get_release("v1")
    assert info.value.field == "assets-dir"


def test_tls_failure_is_permanent(gh: FakeGitHub, sleeps: Sleeps) -> None:
    # Speaking TLS to a plain-HTTP port fails the handshake, as a wrong GHES certificate would.
    source = GitHubSource(REPO, token=FAKE_TOKEN, api_url=gh.api_url.replace("http://", "https://"),
                          retry=policy(sleeps))  # fmt: skip
    with pytest.raises(NetworkError) as info:
        source.get_release(TAG)
    assert not info.value.transient and "TLS" in info.value.message
    assert "REQUESTS_CA_BUNDLE" in info.value.remediation[0]
    assert sleeps.calls == []


def test_download_resumes_with_a_range_request(gh: FakeGitHub, sleeps: Sleeps, uv_release_dir: Path) -> None:
    gh.add_release_from_dir(REPO, "real", uv_release_dir)
    source = GitHubSource.from_env(REPO, retry=policy(sleeps))
    asset = source.get_release("real").asset(ASSET)
    assert asset is not None
    gh.add_fault(
        Fault.connection_reset("/objects/*", fraction=0.6), Fault.truncated("/objects/*", fraction=0.5)
    )
    gh.clear_requests()
    data, attempts = download(source, asset)
    assert attempts == 3
    assert hashlib.sha256(data).hexdigest() == asset.digest_sha256
    first, second, third = gh.requests_matching("/objects/*")
    assert first.header("Range") is None
    resumed_at = int((second.header("Range") or "bytes=0-")[6:-1])
    assert 0 < resumed_at < asset.size  # what arrived before the reset was kept
    assert second.header("If-Range") is not None
    assert int((third.header("Range") or "bytes=0-")[6:-1]) > resumed_at


def test_resume_refused_starts_over(
    gh: FakeGitHub, sleeps: Sleeps, asset: ReleaseAsset, tiny_release_dir: Path
) -> None:
    gh.add_fault(Fault.truncated("/objects/*", fraction=0.5), Fault.status_code("/objects/*", 416))
    data, attempts = download(GitHubSource.from_env(REPO, retry=policy(sleeps)), asset)
    assert data == (tiny_release_dir / ASSET).read_bytes() and attempts == 3
    assert gh.requests_matching("/objects/*")[-1].header("Range") is None


class _StubResponse:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status_code = status
        self.headers = headers

    def close(self) -> None:
        pass


class _StubSession:
    """Answers every GET with one redirect; records the headers it was sent."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.sent: list[tuple[str, dict[str, str]]] = []

    def get(self, url: str, headers: dict[str, str], **_: object) -> _StubResponse:
        self.sent.append((url, headers))
        return _StubResponse(302, {"Location": self.location})


def test_https_to_http_redirect_is_refused(sleeps: Sleeps) -> None:
    source = GitHubSource(REPO, token=FAKE_TOKEN, api_url="https://ghe.example/api/v3", retry=policy(sleeps))
    session = _StubSession("http://storage.ghe.example/blob?sig=secret")
    with pytest.raises(NetworkError) as info:
        source._open(session, "https://ghe.example/api/v3/repos/o/r/releases/assets/1", "download")  # type: ignore[arg-type]
    assert not info.value.transient and "refusing" in info.value.message
    assert "secret" not in info.value.message
    assert session.sent[0][1]["Authorization"] == f"token {FAKE_TOKEN}"
