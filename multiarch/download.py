"""A content-addressed download cache that parallel jobs (threads or processes) can share.

Layout under the cache root::

    sha256/<hex>          complete files, named by their SHA-256 (read-only once there)
    refs/<key>            for assets whose digest was not known up front: the <hex> they had
    locks/<key>.lock      fcntl locks, one per asset, held while it is fetched
    tmp/                  partial downloads (never read by anyone but their writer)

One job per asset downloads while the others wait on the lock and then find the file; the file
is written to ``tmp/``, fsynced, and renamed into ``sha256/`` (rename is atomic on one file
system), so no reader ever sees a partial file under a final name, even after a crash. A hit is
re-hashed before use: a cache is not trusted to stay intact.

When the expected SHA-256 is known (pin, checksum file, GitHub's ``digest``) the download is
checked against it before it enters the cache, and a mismatch is a ``SecurityError`` that is not
retried. Retries of transient failures happen in the source; their count and the bytes fetched
go to telemetry as the ``download_retries`` and ``download_bytes`` counters. What crossed the
network (every attempt, cut-short ones included) is the source's own count,
``telemetry.events.BUILDER_DOWNLOADED_BYTES``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from contracts.fileio import atomic_write_text, fsync_dir, sha256_file
from multiarch.checksums import ChecksumIndex, Verification, verify_file
from multiarch.errors import SecurityError
from multiarch.sources.interface import ReleaseAsset, ReleaseSource
from telemetry import events

_HEX64 = re.compile(r"[0-9a-f]{64}")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".cache"
    return root / "debian-multiarch-builder" / "downloads"


@dataclass(frozen=True)
class CachedAsset:
    name: str
    path: Path  # the cache file: read it, never modify it
    sha256: str
    size: int
    from_cache: bool
    attempts: int  # 0 for a cache hit

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)


class DownloadCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_cache_dir()
        for sub in ("sha256", "refs", "locks", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._prune_stale_parts()

    def _prune_stale_parts(self, max_age: float = 24 * 3600) -> None:
        """Partial files of jobs that crashed long ago; a live download touches its file often."""
        now = time.time()
        for part in (self.root / "tmp").glob("*.part"):
            with contextlib.suppress(OSError):
                if now - part.stat().st_mtime > max_age:
                    part.unlink()

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        # flock conflicts between separate open() calls, so this serialises threads of one
        # process as well as separate processes.
        with open(self.root / "locks" / f"{key}.lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @staticmethod
    def _ref_key(asset: ReleaseAsset) -> str:
        ident = f"{asset.download_ref}\0{asset.name}\0{asset.size}".encode()
        return "ref-" + hashlib.sha256(ident).hexdigest()[:40]

    def path_for(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256

    def _hit(self, sha256: str, asset: ReleaseAsset) -> CachedAsset | None:
        path = self.path_for(sha256)
        if not path.is_file():
            return None
        if sha256_file(path) != sha256:
            path.unlink(missing_ok=True)  # corrupted on disk: fetch again
            return None
        return CachedAsset(asset.name, path, sha256, path.stat().st_size, from_cache=True, attempts=0)

    def fetch(
        self,
        source: ReleaseSource,
        asset: ReleaseAsset,
        *,
        expected_sha256: str | None = None,
        expected_from: str | None = None,
    ) -> CachedAsset:
        """The asset's bytes as a cache file, downloading them at most once across jobs.

        ``expected_sha256`` (else the source's ``digest_sha256``) addresses the cache and is
        checked before the file enters it; ``expected_from`` names where it came from, for the error.
        """
        if expected_sha256 is None and asset.digest_sha256:
            expected_from = expected_from or "release API digest"
        expected = (expected_sha256 or asset.digest_sha256 or "").lower() or None
        if expected is not None and not _HEX64.fullmatch(expected):
            raise SecurityError(f"expected sha256 for {asset.name} is not a sha256 hex digest: {expected!r}")
        key = f"sha256-{expected}" if expected else self._ref_key(asset)
        with self._locked(key):
            known = expected
            if known is None:
                ref = self.root / "refs" / key
                if ref.is_file():
                    recorded = ref.read_text().strip()
                    known = recorded if _HEX64.fullmatch(recorded) else None
            if known is not None:
                hit = self._hit(known, asset)
                if hit is not None:
                    return hit
            return self._download(source, asset, expected, expected_from or "the expected digest", key)

    def _download(
        self, source: ReleaseSource, asset: ReleaseAsset, expected: str | None, expected_from: str, key: str
    ) -> CachedAsset:
        fd, tmp_name = tempfile.mkstemp(prefix=f"{key[:24]}.", suffix=".part", dir=self.root / "tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w+b") as sink:
                result = source.download(asset, sink)
                sink.flush()
                os.fsync(sink.fileno())
            if result.retries:
                events.counter("download_retries", result.retries)
            events.counter("download_bytes", result.bytes_written)
            actual = sha256_file(tmp)
            if expected is not None and actual != expected:
                raise SecurityError(
                    f"checksum mismatch for {asset.name}: {expected_from} expects sha256 {expected}, "
                    f"the downloaded file has {actual}",
                    remediation=("the asset changed after its checksum was published, or was tampered with",),
                )
            final = self.path_for(actual)
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
            fsync_dir(final.parent)
            if expected is None:
                self._write_ref(key, actual)
            return CachedAsset(
                asset.name, final, actual, final.stat().st_size, from_cache=False, attempts=result.attempts
            )
        finally:
            tmp.unlink(missing_ok=True)

    def _write_ref(self, key: str, sha256: str) -> None:
        atomic_write_text(self.root / "refs" / key, sha256 + "\n")


def fetch_asset(
    source: ReleaseSource,
    asset: ReleaseAsset,
    cache_dir: Path | None = None,
    *,
    expected_sha256: str | None = None,
) -> CachedAsset:
    """One-call form of ``DownloadCache(cache_dir).fetch(...)``."""
    return DownloadCache(cache_dir).fetch(source, asset, expected_sha256=expected_sha256)


@dataclass(frozen=True)
class VerifiedAsset:
    cached: CachedAsset
    verification: Verification


def fetch_verified(
    cache: DownloadCache, source: ReleaseSource, asset: ReleaseAsset, index: ChecksumIndex
) -> VerifiedAsset:
    """Fetch through the cache and check every expected digest the release (or pin) offers.

    The strongest expected SHA-256 addresses the cache, so a pinned or published checksum is
    enforced before the file is even stored; the other digests (SHA-512, the API digest) are
    checked afterwards by ``ChecksumIndex.verify``. Any mismatch is a ``SecurityError``.
    """
    expected = index.expected(asset.name)
    strongest = next((d for d in expected if d.algorithm == "sha256"), None)
    cached = cache.fetch(
        source,
        asset,
        expected_sha256=strongest.hexdigest if strongest else None,
        expected_from=strongest.source if strongest else None,
    )
    return VerifiedAsset(cached, verify_file(cached.path, asset.name, expected))
