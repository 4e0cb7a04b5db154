"""Releases from GitHub (or GitHub Enterprise Server) through its REST API.

Metadata (repository, release by tag, license) goes through PyGithub. Asset bytes are fetched
with ``requests`` from the API asset URL with ``Accept: application/octet-stream``, following
the ``302`` to the storage host by hand, because:

- PyGithub only follows redirects into hosts it knows (``*.githubusercontent.com``) and recurses
  without a bound, so a GHES storage host or a redirect loop would break it;
- we want to decide ourselves that the token is sent only to the API's own origin (scheme, host,
  port), never to the storage host, as GitHub's clients do;
- we want the retry policy (bounded attempts and total wait, honouring ``Retry-After`` and
  ``X-RateLimit-Reset``) to cover the whole download, body included.

PyGithub's own retries are switched off (``retry=None``) so exactly one policy applies, and its
request pacing is off because we only read.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

import requests
from github import Auth, Github, GithubException

from multiarch.errors import ConfigError, NetworkError, PermissionDeniedError
from multiarch.sources.interface import DownloadResult, Release, ReleaseAsset, ReleaseSource, RetryPolicy
from telemetry import events

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
USER_AGENT = "debian-multiarch-builder"
_CHUNK = 256 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)

T = TypeVar("T")


class HttpStatusError(NetworkError):
    """A permanent HTTP failure (404, 410, other 4xx); ``status`` lets callers tell them apart."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, transient=False)
        self.status = status


class _Retryable(Exception):
    """A transient failure; ``wait`` is what the server asked for (seconds), if anything."""

    def __init__(self, error: NetworkError, wait: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait


class _RangeRefused(_Retryable):
    """416 to a resume request: the partial copy is useless, the next attempt starts over."""


@dataclass
class _Progress:
    """One download across its attempts."""

    tries: int = 0
    have: int = 0  # bytes of a partial copy in the sink that the next attempt may continue
    etag: str | None = None
    received: int = 0  # body bytes that came over the wire, every attempt (telemetry)

    def range_headers(self) -> dict[str, str]:
        """Ask for the rest only, and only if the object is still the one the part came from."""
        if not self.have:
            return {}
        extra = {"Range": f"bytes={self.have}-"}
        if self.etag:
            extra["If-Range"] = self.etag
        return extra


@dataclass
class _Attempt:
    """One attempt's response: what it delivered and whether it may be continued."""

    got: int = 0
    resumable: bool = False
    declared: str | None = None  # Content-Length


def _complete_size(asset: ReleaseAsset, progress: _Progress, attempt: _Attempt, what: str) -> int:
    """The sink's size once the body ended; a short or long one is retried (resumed if it can)."""
    total = progress.have + attempt.got
    declared = attempt.declared
    if declared is not None and declared.isdigit() and attempt.got != int(declared):
        progress.have = total if attempt.resumable else 0
        raise _Retryable(
            NetworkError(f"{what}: truncated, {attempt.got} of {declared} bytes", transient=True)
        )
    if asset.size and total != asset.size:
        # Short: continue from here next time. Long: something is wrong; start over.
        progress.have = total if attempt.resumable and total < asset.size else 0
        raise _Retryable(
            NetworkError(f"{what}: got {total} bytes, the release lists {asset.size}", transient=True)
        )
    return total


def github_client(
    api_url: str, token: str | None, *, timeout: float, user_agent: str = USER_AGENT, lazy: bool = False
) -> Github:
    """A PyGithub client with its own retries and request pacing off: the caller's retry policy
    (or none, where a failure is only a notice) is the one that applies, and we write rarely."""
    return Github(
        base_url=api_url,
        auth=Auth.Token(token) if token else None,
        timeout=max(1, int(timeout)),
        user_agent=user_agent,
        per_page=100,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
        lazy=lazy,
    )


def api_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``GITHUB_API_URL``; else ``GITHUB_SERVER_URL`` + ``/api/v3`` for GHES; else api.github.com."""
    env = os.environ if environ is None else environ
    api = env.get("GITHUB_API_URL", "").strip()
    if api:
        return api.rstrip("/")
    server = env.get("GITHUB_SERVER_URL", "").strip().rstrip("/")
    if server and urllib.parse.urlsplit(server).hostname not in (None, "github.com"):
        return f"{server}/api/v3"
    return DEFAULT_API_URL


def _redact(text: str) -> str:
    """Drop query strings (signed storage URLs) from text that may reach logs."""
    return re.sub(r"\?[^\s'\")]*", "?<redacted>", text)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value)
    return None


def _server_wait(status: int, headers: Mapping[str, Any] | None) -> float | None:
    """How long the server asked us to wait: ``Retry-After``, or until the rate-limit reset."""
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return None  # an HTTP date: rare for GitHub; fall back to our own backoff
    if status in (403, 429) and _header(headers, "X-RateLimit-Remaining") == "0":
        reset = _header(headers, "X-RateLimit-Reset")
        if reset is not None and reset.isdigit():
            return max(0.0, int(reset) - time.time()) + 1.0
    return None


def _message(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return ""


def classify_status(status: int, headers: Mapping[str, Any] | None, what: str, detail: str = "") -> Exception:
    """The error for a failed HTTP status: ``_Retryable`` for transient ones, else a final error."""
    suffix = f": {detail}" if detail else ""
    wait = _server_wait(status, headers)
    rate_limited = status == 429 or (
        status == 403 and (wait is not None or _header(headers, "X-RateLimit-Remaining") == "0")
    )
    if rate_limited:
        err = NetworkError(
            f"{what}: GitHub rate limit (HTTP {status}){suffix}",
            transient=True,
            remediation=("pass github-token (authenticated requests get a higher rate limit)",),
        )
        return _Retryable(err, wait)
    if status >= 500 or status == 408:
        return _Retryable(
            NetworkError(f"{what}: HTTP {status} from the server{suffix}", transient=True), wait
        )
    if status == 401:
        return PermissionDeniedError(
            f"{what}: HTTP 401, the token was refused{suffix}",
            remediation=("check the github-token input (expired or revoked?)",),
        )
    if status == 403:
        return PermissionDeniedError(
            f"{what}: HTTP 403, access denied{suffix}",
            remediation=("the token needs read access to the repository's contents",),
        )
    return HttpStatusError(f"{what}: HTTP {status}{suffix}", status)


def _wire_bytes(resp: requests.Response, delivered: int) -> int:
    """Body bytes read from the connection, including a tail cut short before it reached us.

    urllib3 keeps the last partial read of a broken body in its buffer and drops it with the
    error, so what ``iter_content`` delivered can be less than what was transferred; its
    ``tell()`` counts what came off the socket (before any content decoding).
    """
    tell = getattr(resp.raw, "tell", None)
    try:
        return int(tell()) if callable(tell) else delivered
    except (TypeError, ValueError, OSError):
        return delivered


def _tls_error(what: str, exc: Exception) -> NetworkError:
    # A certificate problem does not go away by retrying; say what usually fixes it.
    return NetworkError(
        f"{what}: TLS failure: {_redact(str(exc))}",
        transient=False,
        remediation=(
            "for GitHub Enterprise Server with a private CA, set REQUESTS_CA_BUNDLE to its certificate",
        ),
    )


class GitHubSource(ReleaseSource):
    """Releases of ``owner/name`` on github.com or a GHES instance (``api_url``)."""

    def __init__(
        self,
        repo: str,
        *,
        token: str | None = None,
        api_url: str = DEFAULT_API_URL,
        retry: RetryPolicy | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.repo_name = repo
        self.api_url = api_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._token = token or None
        self._user_agent = user_agent
        self._gh = github_client(self.api_url, token, timeout=self.retry.read_timeout, user_agent=user_agent)

    @classmethod
    def from_env(
        cls, repo: str, environ: Mapping[str, str] | None = None, *, retry: RetryPolicy | None = None
    ) -> GitHubSource:
        """Token from ``GITHUB_TOKEN`` (never argv), API from ``GITHUB_API_URL``/``GITHUB_SERVER_URL``."""
        env = os.environ if environ is None else environ
        token = env.get("GITHUB_TOKEN", "").strip() or None
        return cls(repo, token=token, api_url=api_url_from_env(env), retry=retry)

    def describe(self) -> str:
        return f"GitHub {self.repo_name} via {self.api_url}"

    def __repr__(self) -> str:  # the token must not show up in reprs either
        token = "set" if self._token else "unset"
        return f"GitHubSource({self.repo_name!r}, api_url={self.api_url!r}, token={token})"

    # -- retries -----------------------------------------------------------------------------

    def _retrying(self, op: Callable[[], T], what: str) -> tuple[T, int]:
        """Run ``op`` under the retry policy; returns its value and the number of attempts."""
        policy = self.retry
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                return op(), attempt
            except _Retryable as failure:
                err = failure.error
                if attempt >= policy.max_attempts:
                    raise NetworkError(
                        f"{err.message} (gave up after {attempt} attempts)",
                        transient=True,
                        remediation=err.remediation,
                    ) from None
                budget = policy.max_total_wait - waited
                if failure.wait is not None:
                    delay = failure.wait
                    if delay > budget:
                        raise NetworkError(
                            f"{err.message} (the server asks to wait {delay:.0f}s, more than the "
                            f"{budget:.0f}s retry budget left)",
                            transient=True,
                            remediation=err.remediation,
                        ) from None
                else:
                    delay = min(policy.backoff(attempt), budget)
                    delay *= 1.0 + random.uniform(0, policy.jitter) if policy.jitter else 1.0
                    delay = min(delay, budget)
                    if delay <= 0 and budget <= 0:
                        raise NetworkError(
                            f"{err.message} (retry budget of {policy.max_total_wait:.0f}s used up)",
                            transient=True,
                            remediation=err.remediation,
                        ) from None
                log.warning(
                    "%s failed (%s); retry %d/%d in %.1fs",
                    what,
                    _redact(err.message),
                    attempt,
                    policy.max_attempts - 1,
                    delay,
                )
                policy.sleep(delay)
                waited += delay

    def _api(self, op: Callable[[], T], what: str) -> T:
        tries = 0

        def guarded() -> T:
            nonlocal tries
            tries += 1
            try:
                return op()
            except GithubException as exc:
                raise classify_status(exc.status, exc.headers, what, _message(exc.data)) from None
            except requests.exceptions.SSLError as exc:
                raise _tls_error(what, exc) from None
            # ChunkedEncodingError: the connection broke inside the body (reset mid-response);
            # it is not a ConnectionError subclass, and is as transient as one.
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                err = NetworkError(f"{what}: {type(exc).__name__}: {_redact(str(exc))}", transient=True)
                raise _Retryable(err) from None
            except ValueError as exc:  # a truncated JSON body
                raise _Retryable(
                    NetworkError(f"{what}: unreadable response ({exc})", transient=True)
                ) from None
            except requests.RequestException as exc:  # anything else requests may raise
                raise _Retryable(
                    NetworkError(f"{what}: {type(exc).__name__}: {_redact(str(exc))}", transient=True)
                ) from None

        try:
            return self._retrying(guarded, what)[0]
        finally:
            # Metadata retries reach telemetry too, whether the call finally worked or gave up.
            if tries > 1:
                events.counter("api_retries", tries - 1)

    # -- metadata ----------------------------------------------------------------------------

    def get_release(self, tag: str) -> Release:
        repo = self._api_or_missing(
            lambda: self._gh.get_repo(self.repo_name),
            f"repository {self.repo_name}",
            ConfigError(
                f"GitHub repository {self.repo_name} not found at {self.api_url}",
                field="github_repo",
                remediation=("check github_repo (owner/name); a private repository needs a token",),
            ),
        )
        release = self._api_or_missing(
            lambda: repo.get_release(tag),
            f"release {tag} of {self.repo_name}",
            ConfigError(
                f"{self.repo_name} has no published release with tag {tag!r}",
                field="version",
                remediation=("use the tag exactly as published, e.g. 'v1.2.3' vs '1.2.3'",),
            ),
        )
        raw = release.raw_data  # the release JSON as fetched (no lazy per-asset requests)
        assets = tuple(self._asset(a) for a in raw.get("assets", []))
        license_spdx = self._license(repo)
        return Release(tag=str(raw.get("tag_name", tag)), assets=assets, license_spdx=license_spdx,
                       html_url=str(raw.get("html_url", "")))  # fmt: skip

    def _api_or_missing(self, call: Callable[[], T], what: str, missing: ConfigError) -> T:
        """``_api``, where a 404 means package.yaml or the inputs name something that is not there."""
        try:
            return self._api(call, what)
        except HttpStatusError as exc:
            if exc.status == 404:
                raise missing from None
            raise

    @staticmethod
    def _asset(data: Mapping[str, Any]) -> ReleaseAsset:
        digest = data.get("digest")
        sha256 = None
        if isinstance(digest, str) and digest.lower().startswith("sha256:"):
            candidate = digest.split(":", 1)[1].strip().lower()
            if re.fullmatch(r"[0-9a-f]{64}", candidate):
                sha256 = candidate
        return ReleaseAsset(
            name=str(data["name"]),
            size=int(data.get("size") or 0),
            download_ref=str(data["url"]),
            digest_sha256=sha256,
            content_type=str(data.get("content_type") or "application/octet-stream"),
        )

    def _license(self, repo: Any) -> str | None:
        """SPDX id from the license API; None when GitHub found no (or no single) license."""
        try:
            content = self._api(lambda: repo.get_license(), f"license of {self.repo_name}")
        except HttpStatusError as exc:
            if exc.status == 404:
                return None  # no license file GitHub recognises
            raise
        spdx = getattr(getattr(content, "license", None), "spdx_id", None)
        if not isinstance(spdx, str) or spdx in ("", "NOASSERTION"):
            return None
        return spdx

    # -- bytes -------------------------------------------------------------------------------

    def _open(
        self, session: requests.Session, url: str, what: str, extra: Mapping[str, str] | None = None
    ) -> requests.Response:
        """GET ``url`` as a stream, following redirects; the token only goes to the API's origin."""
        api_origin = _origin(self.api_url)
        for _ in range(self.retry.max_redirects + 1):
            headers = {"Accept": "application/octet-stream", "User-Agent": self._user_agent, **(extra or {})}
            if self._token and _origin(url) == api_origin:
                headers["Authorization"] = f"token {self._token}"
            try:
                resp = session.get(
                    url,
                    headers=headers,
                    stream=True,
                    allow_redirects=False,
                    timeout=(self.retry.connect_timeout, self.retry.read_timeout),
                )
            except requests.RequestException:
                raise
            except ValueError as exc:
                # requests parses a redirect's Location even when not following it; a malformed
                # one ("http://[::1") surfaces here, and asking again gets the same answer.
                raise NetworkError(f"{what}: unusable redirect ({exc})", transient=False) from None
            if resp.status_code in _REDIRECTS and "Location" in resp.headers:
                resp.close()
                location = resp.headers["Location"]
                try:
                    target = urllib.parse.urljoin(url, location)
                    scheme = urllib.parse.urlsplit(target).scheme
                except ValueError:  # e.g. "http://[::1": urljoin itself refuses it
                    target, scheme = location, ""
                if scheme not in ("http", "https"):
                    # Malformed, or not HTTP (file:, ftp:, data:): it cannot be followed, and
                    # asking again gets the same answer.
                    raise NetworkError(f"{what}: unusable redirect to {_redact(location)!r}", transient=False)
                if url.startswith("https:") and not target.startswith("https:"):
                    # A downgrade would expose the download to anyone on the path; never follow it.
                    raise NetworkError(
                        f"{what}: refusing a redirect from https to {_redact(target)}", transient=False
                    )
                url = target
                continue
            if resp.status_code not in (200, 206):
                status, resp_headers = resp.status_code, dict(resp.headers)
                detail = ""
                with contextlib.suppress(ValueError):
                    detail = _message(resp.json())
                resp.close()
                if status == 416:  # our resume offset was refused: start over on the next attempt
                    raise _RangeRefused(NetworkError(f"{what}: range not satisfiable", transient=True))
                raise classify_status(status, resp_headers, what, detail)
            return resp
        # A loop is a server or proxy misconfiguration; retrying the same chain will not fix it.
        raise NetworkError(
            f"{what}: more than {self.retry.max_redirects} redirects (last: {_redact(url)})", transient=False
        )

    def download(self, asset: ReleaseAsset, sink: BinaryIO) -> DownloadResult:
        """Fetch the asset; an attempt cut short is resumed with a Range request when it can be.

        The storage host answers ranges (``Accept-Ranges: bytes``); ``If-Range`` with its ETag
        makes it send the whole file instead if the object changed in between. Whatever arrives,
        the size must equal the release's, and the checksums are verified afterwards anyway.
        """
        what = f"download of {asset.name}"
        progress = _Progress()
        try:
            written, attempts = self._retrying(
                lambda: self._download_attempt(asset, sink, progress, what), what
            )
        except NetworkError:
            # The cache counts the retries of a download that returns; one that gives up returns
            # nothing, so its retries would never reach telemetry unless counted here.
            if progress.tries > 1:
                events.counter("download_retries", progress.tries - 1)
            raise
        finally:
            # What this download cost the network, whether it worked or not: every attempt's
            # bytes, a resumed attempt's range only.
            if progress.received:
                events.counter(events.BUILDER_DOWNLOADED_BYTES, progress.received)
        return DownloadResult(bytes_written=written, attempts=attempts)

    def _download_attempt(self, asset: ReleaseAsset, sink: BinaryIO, progress: _Progress, what: str) -> int:
        """One attempt: the bytes the sink holds afterwards, or ``_Retryable`` for another try."""
        progress.tries += 1
        extra = progress.range_headers()
        attempt = _Attempt()
        with requests.Session() as session:
            try:
                self._receive(session, asset, sink, progress, attempt, what, extra)
            except requests.exceptions.SSLError as exc:
                raise _tls_error(what, exc) from None
            except _RangeRefused:
                progress.have = 0
                raise
            except requests.RequestException as exc:
                # Connection errors, timeouts, a body cut short (ChunkedEncodingError, which is
                # not a ConnectionError), undecodable content: all worth another attempt.
                progress.have = progress.have + attempt.got if attempt.resumable else 0
                err = NetworkError(
                    f"{what}: {type(exc).__name__} after {attempt.got} bytes: {_redact(str(exc))}",
                    transient=True,
                )
                raise _Retryable(err) from None
        total = _complete_size(asset, progress, attempt, what)
        sink.flush()
        return total

    def _receive(
        self,
        session: requests.Session,
        asset: ReleaseAsset,
        sink: BinaryIO,
        progress: _Progress,
        attempt: _Attempt,
        what: str,
        extra: Mapping[str, str],
    ) -> None:
        """Write the response body into the sink, after the part kept from before when resumed."""
        resp = self._open(session, asset.download_ref, what, extra)
        with resp:
            resumed = (
                progress.have > 0
                and resp.status_code == 206
                and resp.headers.get("Content-Range", "").startswith(f"bytes {progress.have}-")
            )
            if not resumed:
                progress.have = 0
            sink.seek(progress.have)
            sink.truncate()
            attempt.resumable = resp.headers.get("Accept-Ranges", "").lower() == "bytes"
            progress.etag = resp.headers.get("ETag") if attempt.resumable else None
            attempt.declared = resp.headers.get("Content-Length")
            try:
                for chunk in resp.iter_content(_CHUNK):
                    sink.write(chunk)
                    attempt.got += len(chunk)
            finally:
                progress.received += _wire_bytes(resp, attempt.got)
