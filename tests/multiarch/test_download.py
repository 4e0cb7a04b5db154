"""The content-addressed download cache: hits, integrity, concurrency, telemetry counters."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import stat
import threading
from pathlib import Path
from typing import BinaryIO

import pytest

from multiarch.download import CachedAsset, DownloadCache
from multiarch.errors import SecurityError
from multiarch.sources.github import GitHubSource
from multiarch.sources.interface import DownloadResult, Release, ReleaseAsset, ReleaseSource, RetryPolicy
from multiarch.sources.local import LocalSource
from telemetry.events import BUILDER_DOWNLOADED_BYTES
from tests.support.fake_github import FakeGitHub, Fault

REPO = "astral-sh/uv"
TAG = "0.5.11"
ASSET = "uv-aarch64-unknown-linux-gnu.tar.gz"


class CountingSource(ReleaseSource):
    """Wraps a source and counts download calls."""

    def __init__(self, inner: ReleaseSource) -> None:
        self.inner = inner
        self.calls = 0
        self._lock = threading.Lock()

    def get_release(self, tag: str) -> Release:
        return self.inner.get_release(tag)

    def download(self, asset: ReleaseAsset, sink: BinaryIO) -> DownloadResult:
        with self._lock:
            self.calls += 1
        return self.inner.download(asset, sink)


def local(tiny_release_dir: Path) -> tuple[CountingSource, Release]:
    source = CountingSource(LocalSource(tiny_release_dir))
    return source, source.get_release(TAG)


def test_miss_then_hit(tmp_path: Path, tiny_release_dir: Path) -> None:
    source, release = local(tiny_release_dir)
    asset = release.asset(ASSET)
    assert asset is not None and asset.digest_sha256
    cache = DownloadCache(tmp_path / "cache")
    first = cache.fetch(source, asset)
    assert not first.from_cache and first.attempts == 1
    assert first.path == tmp_path / "cache" / "sha256" / asset.digest_sha256
    assert first.path.read_bytes() == (tiny_release_dir / ASSET).read_bytes()
    assert not first.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    second = DownloadCache(tmp_path / "cache").fetch(source, asset)
    assert second.from_cache and second.attempts == 0 and second.path == first.path
    assert source.calls == 1
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []


def test_unknown_digest_is_cached_by_reference(tmp_path: Path, tiny_release_dir: Path) -> None:
    source, release = local(tiny_release_dir)
    asset = release.asset("dist-manifest.json")
    assert asset is not None and asset.digest_sha256 is None
    cache = DownloadCache(tmp_path)
    first = cache.fetch(source, asset)
    assert first.sha256 == hashlib.sha256((tiny_release_dir / "dist-manifest.json").read_bytes()).hexdigest()
    assert cache.fetch(source, asset).from_cache
    assert source.calls == 1


def test_expected_mismatch_is_security_error_and_never_cached(tmp_path: Path, tiny_release_dir: Path) -> None:
    source, release = local(tiny_release_dir)
    asset = release.asset(ASSET)
    assert asset is not None
    cache = DownloadCache(tmp_path)
    with pytest.raises(SecurityError) as info:
        cache.fetch(source, asset, expected_sha256="e" * 64)
    assert ASSET in str(info.value) and "e" * 64 in str(info.value)
    assert source.calls == 1  # not retried
    assert list((tmp_path / "sha256").iterdir()) == []
    assert list((tmp_path / "tmp").iterdir()) == []
    with pytest.raises(SecurityError):
        cache.fetch(source, asset, expected_sha256="not-hex")


def test_corrupted_cache_entry_is_fetched_again(tmp_path: Path, tiny_release_dir: Path) -> None:
    source, release = local(tiny_release_dir)
    asset = release.asset(ASSET)
    assert asset is not None
    cache = DownloadCache(tmp_path)
    entry = cache.fetch(source, asset).path
    entry.chmod(0o644)
    entry.write_bytes(b"bit rot")
    again = cache.fetch(source, asset)
    assert not again.from_cache and again.path.read_bytes() == (tiny_release_dir / ASSET).read_bytes()
    assert source.calls == 2


# -- concurrency over HTTP -----------------------------------------------------------------------


@pytest.fixture
def served(github_env: FakeGitHub, tiny_release_dir: Path) -> tuple[FakeGitHub, ReleaseAsset]:
    github_env.add_release_from_dir(REPO, TAG, tiny_release_dir)
    asset = GitHubSource.from_env(REPO).get_release(TAG).asset(ASSET)
    assert asset is not None
    # Slow the first download down so the other jobs really wait for it.
    github_env.add_fault(Fault.stall("/objects/*", seconds=0.4, fraction=0.5))
    return github_env, asset


def test_threads_share_one_download(tmp_path: Path, served: tuple[FakeGitHub, ReleaseAsset]) -> None:
    gh, asset = served
    source = GitHubSource.from_env(REPO)
    results: list[CachedAsset] = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            results.append(DownloadCache(tmp_path).fetch(source, asset))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(results) == 8 and len({r.path for r in results}) == 1
    assert sum(not r.from_cache for r in results) == 1
    assert len(gh.requests_matching("/objects/*")) == 1
    assert hashlib.sha256(results[0].path.read_bytes()).hexdigest() == asset.digest_sha256


def _process_job(api_url: str, token: str, asset: ReleaseAsset, cache: str, out: str) -> None:
    source = GitHubSource(REPO, token=token, api_url=api_url)
    result = DownloadCache(Path(cache)).fetch(source, asset)
    Path(out).write_text(json.dumps({"path": str(result.path), "from_cache": result.from_cache}))


def test_processes_share_one_download(tmp_path: Path, served: tuple[FakeGitHub, ReleaseAsset]) -> None:
    gh, asset = served
    ctx = multiprocessing.get_context("fork")
    outs = [tmp_path / f"out{i}.json" for i in range(4)]
    procs = [
        ctx.Process(
            target=_process_job, args=(gh.api_url, gh.token, asset, str(tmp_path / "cache"), str(out))
        )
        for out in outs
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    results = [json.loads(o.read_text()) for o in outs]
    assert len({r["path"] for r in results}) == 1
    assert sum(not r["from_cache"] for r in results) == 1
    assert len(gh.requests_matching("/objects/*")) == 1
    assert hashlib.sha256(Path(results[0]["path"]).read_bytes()).hexdigest() == asset.digest_sha256


# -- telemetry -----------------------------------------------------------------------------------


def test_retries_and_bytes_reach_telemetry(
    tmp_path: Path, github_env: FakeGitHub, tiny_release_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events_file = tmp_path / "events.jsonl"
    monkeypatch.setenv("TELEMETRY_EVENTS_FILE", str(events_file))
    github_env.add_release_from_dir(REPO, TAG, tiny_release_dir)
    source = GitHubSource.from_env(REPO, retry=RetryPolicy(base_delay=0.01, jitter=0.0))
    asset = source.get_release(TAG).asset(ASSET)
    assert asset is not None
    github_env.add_fault(Fault.server_error("/objects/*", 503, times=2))
    result = DownloadCache(tmp_path / "cache").fetch(source, asset)
    assert result.retries == 2
    counters = [json.loads(line) for line in events_file.read_text().splitlines()]
    by_name = {c["name"]: c["value"] for c in counters if c["type"] == "counter"}
    # The two 503 answers are error pages, not asset bodies: the download counts the good one.
    assert by_name == {
        "download_retries": 2,
        "download_bytes": asset.size,
        BUILDER_DOWNLOADED_BYTES: asset.size,
    }
    assert all(c["pid"] == os.getpid() for c in counters)


def test_real_uv_asset_through_fake_github(
    tmp_path: Path, github_env: FakeGitHub, uv_release_dir: Path
) -> None:
    github_env.add_release_from_dir(REPO, TAG, uv_release_dir)
    source = GitHubSource.from_env(REPO)
    asset = source.get_release(TAG).asset("uv-x86_64-unknown-linux-gnu.tar.gz")
    assert asset is not None and asset.size > 10_000_000
    github_env.add_fault(Fault.connection_reset("/objects/*", fraction=0.3))
    result = DownloadCache(tmp_path).fetch(source, asset)
    assert result.attempts == 2 and result.size == asset.size
    assert result.sha256 == asset.digest_sha256


# -- fetch + verify, and picking a source --------------------------------------------------------


def test_fetch_verified_uses_the_strongest_sha256(tmp_path: Path, tiny_release_dir: Path) -> None:
    from multiarch.checksums import ChecksumIndex, PinnedMetadata
    from multiarch.download import fetch_verified

    source, release = local(tiny_release_dir)
    asset = release.asset(ASSET)
    assert asset is not None and asset.digest_sha256
    index = ChecksumIndex(release, source.read_bytes)
    verified = fetch_verified(DownloadCache(tmp_path), source, asset, index)
    assert verified.verification.verified_by == f"{ASSET}.sha256"
    assert verified.cached.sha256 == asset.digest_sha256
    # A pin that disagrees stops the file before it enters the cache, and says it was the pin.
    pin = PinnedMetadata.from_json({"version": TAG, "assets": {ASSET: {"sha256": "0" * 64}}}, "pins.json")
    with pytest.raises(SecurityError, match=r"pins\.json expects sha256 0{64}"):
        fetch_verified(
            DownloadCache(tmp_path / "other"), source, asset, ChecksumIndex(release, source.read_bytes, pin)
        )
    assert list((tmp_path / "other" / "sha256").iterdir()) == []


def test_create_source(tmp_path: Path, tiny_release_dir: Path) -> None:
    from multiarch.errors import ConfigError
    from multiarch.sources import create_source

    assert isinstance(create_source("astral-sh/uv", tiny_release_dir), LocalSource)
    gh = create_source("astral-sh/uv", environ={"GITHUB_API_URL": "https://ghe.example/api/v3"})
    assert isinstance(gh, GitHubSource) and gh.api_url == "https://ghe.example/api/v3"
    with pytest.raises(ConfigError):
        create_source(None)


def test_stale_partial_files_are_pruned(tmp_path: Path) -> None:
    DownloadCache(tmp_path)
    old = tmp_path / "tmp" / "crashed.part"
    fresh = tmp_path / "tmp" / "running.part"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (0, 0))
    DownloadCache(tmp_path)
    assert not old.exists() and fresh.exists()
