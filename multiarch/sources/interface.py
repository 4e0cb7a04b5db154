"""Where release assets come from: one small interface, one module per implementation.

``github.py`` reads a GitHub (or GitHub Enterprise Server) release through its REST API;
``local.py`` reads a folder of files named like release assets. Everything downstream
(discovery, download cache, checksums) sees only these values, so it never knows which one it has.

Errors are the builder's own (``multiarch.errors``): each carries its failure category and
whether it is transient, decided where the failure is understood (here), not by matching text later.
"""

from __future__ import annotations

import abc
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from multiarch.errors import NetworkError
from telemetry import events


@dataclass(frozen=True)
class ReleaseAsset:
    """One file of a release.

    ``download_ref`` is opaque to callers: the API asset URL for GitHub, an absolute path for a
    local folder. ``digest_sha256`` is what the source itself vouches for (GitHub's asset
    ``digest``, a local ``.sha256`` sidecar), lower-case hex, or None.
    """

    name: str
    size: int
    download_ref: str
    digest_sha256: str | None = None
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Release:
    tag: str
    assets: tuple[ReleaseAsset, ...]
    license_spdx: str | None = None
    html_url: str = ""

    def asset(self, name: str) -> ReleaseAsset | None:
        for asset in self.assets:
            if asset.name == name:
                return asset
        return None

    @property
    def asset_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.assets)


@dataclass(frozen=True)
class DownloadResult:
    """What one ``download`` call cost: bytes of the good attempt, and how many attempts it took."""

    bytes_written: int
    attempts: int

    @property
    def retries(self) -> int:
        return self.attempts - 1


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying transient failures (5xx, 429, resets, truncation, rate limits).

    Both bounds hold: at most ``max_attempts`` tries, and never more than ``max_total_wait``
    seconds spent sleeping between them. A server-requested wait (``Retry-After``, a rate-limit
    reset) longer than what is left of the budget fails at once instead of sleeping in vain.
    Tests shrink the delays; ``sleep`` is injectable so they need not sleep at all.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_total_wait: float = 120.0
    connect_timeout: float = 15.0
    read_timeout: float = 60.0
    max_redirects: int = 5
    jitter: float = 0.1  # up to +10% on backoff delays, so parallel jobs do not retry in lockstep
    sleep: Callable[[float], None] = time.sleep

    def backoff(self, attempt: int) -> float:
        """Exponential delay before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        return float(min(self.max_delay, self.base_delay * (2 ** (attempt - 1))))


class ReleaseSource(abc.ABC):
    """A place that holds releases of one upstream project."""

    @abc.abstractmethod
    def get_release(self, tag: str) -> Release:
        """The release published under ``tag`` exactly (``ConfigError`` naming ``version`` if absent)."""

    @abc.abstractmethod
    def download(self, asset: ReleaseAsset, sink: BinaryIO) -> DownloadResult:
        """Write the asset's bytes to ``sink`` (seekable), retrying transient failures.

        The sink starts empty or is truncated first; on success it holds exactly one complete
        copy (an implementation may keep a partial copy between attempts to resume it with a
        range request). Raises ``NetworkError`` (``transient`` says whether trying again later
        may help), ``PermissionDeniedError`` for refused credentials.
        """

    def read_bytes(self, asset: ReleaseAsset, limit: int = 8 * 1024 * 1024) -> bytes:
        """A small asset in memory (checksum files, manifests); refuses anything over ``limit``."""
        if asset.size > limit:
            raise NetworkError(
                f"asset {asset.name} is {asset.size} bytes, over the {limit} allowed for a metadata file",
                transient=False,
            )
        buf = io.BytesIO()
        result = self.download(asset, buf)
        # The download cache counts what it fetches; metadata files (checksums) bypass it, so
        # their bytes and retries are counted here or never reach telemetry.
        if result.retries:
            events.counter("download_retries", result.retries)
        events.counter("download_bytes", result.bytes_written)
        return buf.getvalue()

    def describe(self) -> str:
        """A human name for logs and reasons (never includes credentials)."""
        return type(self).__name__
