"""A GitHub-shaped REST API on loopback, serving releases from local files.

GitHub itself is unreachable from the test machines, so the builder's GitHub source, the action's
end-to-end tests and the reliability suite talk to this server instead, through
``GITHUB_API_URL``. It answers with the response shapes GitHub really uses (as PyGithub parses
them): repository with its ``license`` object, the license API, releases by tag / latest / listed
with ``Link`` pagination, assets with ``digest`` (``"sha256:<hex>"``), ``url`` (API) and
``browser_download_url``, rate-limit headers on every API response, and asset downloads that
answer ``302 Found`` towards a separate "objects" host (``localhost`` instead of ``127.0.0.1``, so
a client sees a different hostname, as with objects.githubusercontent.com). Like the real
objects host, it refuses a request that still carries an ``Authorization`` header (a client must
drop the token when it follows the redirect).

Usage::

    with FakeGitHub(token="ghp_test") as gh:
        gh.add_repo("astral-sh/uv", license_spdx="MIT")
        gh.add_release_from_dir("astral-sh/uv", "0.5.11", uv_release())
        gh.add_fault(Fault.server_error("/objects/*", status=503, times=2))
        os.environ.update(gh.env())        # GITHUB_API_URL, GITHUB_SERVER_URL, GITHUB_TOKEN
        ...
        assert all(r.header("Authorization") is None for r in gh.requests_matching("/objects/*"))

GitHub Enterprise Server layout: ``FakeGitHub(api_prefix="/api/v3")`` serves the API under
``/api/v3`` (``gh.api_url`` includes it), browser downloads under the root.

Faults (``Fault.*`` constructors) match the request path (without query) with a shell glob, fire
for the first ``times`` matching requests (``None`` = forever) and then let requests succeed:
``server_error`` (500/502/503/...), ``too_many_requests`` (429 + ``Retry-After``),
``rate_limited`` (403, ``X-RateLimit-Remaining: 0``, ``X-RateLimit-Reset``),
``secondary_rate_limit`` (403 + ``Retry-After``), ``connection_reset`` (RST after part of the
body), ``truncated`` (clean close after part of the body), ``stall`` (no bytes for a while, before
the headers or mid-body), ``redirect_loop`` (302 to itself), ``wrong_length`` (a
``Content-Length`` that disagrees with the body), ``not_found``/``status`` (any status).

Every request is recorded (``gh.requests``: method, path, query, headers, host, fault applied).

The objects host answers single ``Range`` requests (206/416), like real storage does, so download
resumption can be tested. ``add_release(..., digests=False)`` serves ``"digest": null`` (assets
uploaded before GitHub computed digests), ``digests=None`` leaves the key out (older GHES).

Public API (all on ``FakeGitHub``): ``start()/stop()`` or ``with``; ``api_url``, ``server_url``,
``objects_url``, ``port``, ``env()``; ``add_repo(full_name, license_spdx=..., ...)``,
``add_release(full_name, tag, {name: bytes | Path}, prerelease=, draft=, latest=, digests=)``,
``add_release_from_dir(full_name, tag, folder)``, ``asset(full_name, tag, name)``;
``add_fault(*faults)``, ``clear_faults()``, ``pending_faults()``, ``fault_hits()``;
``requests``, ``requests_matching(glob)``, ``clear_requests()``. Standalone:
``python -m tests.support.fake_github FOLDER [--repo R] [--tag T] [--port P] [--api-prefix /api/v3]``.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import hashlib
import http.server
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DOCS = "https://docs.github.com/rest"
_CHUNK = 64 * 1024


# --------------------------------------------------------------------------------------------
# Faults


@dataclass(frozen=True)
class Fault:
    """One programmable failure. Build it with the class methods; ``kind`` says what happens."""

    path: str
    kind: str
    times: int | None = 1
    status: int = 500
    retry_after: int | None = None
    reset_in: int = 60
    stall_seconds: float = 30.0
    fraction: float | None = 0.5
    length_delta: int = 1000
    method: str | None = None

    @classmethod
    def status_code(cls, path: str, status: int, *, times: int | None = 1) -> Fault:
        return cls(path, "status", times=times, status=status)

    @classmethod
    def server_error(cls, path: str, status: int = 500, *, times: int | None = 1) -> Fault:
        return cls(path, "status", times=times, status=status)

    @classmethod
    def not_found(cls, path: str, *, times: int | None = None) -> Fault:
        return cls(path, "status", times=times, status=404)

    @classmethod
    def too_many_requests(cls, path: str, retry_after: int = 1, *, times: int | None = 1) -> Fault:
        return cls(path, "status", times=times, status=429, retry_after=retry_after)

    @classmethod
    def secondary_rate_limit(cls, path: str, retry_after: int = 1, *, times: int | None = 1) -> Fault:
        return cls(path, "secondary_rate_limit", times=times, status=403, retry_after=retry_after)

    @classmethod
    def rate_limited(cls, path: str, reset_in: int = 1, *, times: int | None = 1) -> Fault:
        """The primary rate limit: 403, ``X-RateLimit-Remaining: 0``, reset ``reset_in`` s from now."""
        return cls(path, "rate_limited", times=times, status=403, reset_in=reset_in)

    @classmethod
    def connection_reset(cls, path: str, fraction: float = 0.5, *, times: int | None = 1) -> Fault:
        return cls(path, "reset", times=times, fraction=fraction)

    @classmethod
    def truncated(cls, path: str, fraction: float = 0.5, *, times: int | None = 1) -> Fault:
        return cls(path, "truncate", times=times, fraction=fraction)

    @classmethod
    def stall(
        cls, path: str, seconds: float = 30.0, *, fraction: float | None = None, times: int | None = 1
    ) -> Fault:
        """Send nothing for ``seconds`` (before the headers, or after ``fraction`` of the body)."""
        return cls(path, "stall", times=times, stall_seconds=seconds, fraction=fraction)

    @classmethod
    def redirect_loop(cls, path: str, *, times: int | None = None) -> Fault:
        return cls(path, "redirect_loop", times=times)

    @classmethod
    def wrong_length(cls, path: str, delta: int = 1000, *, times: int | None = 1) -> Fault:
        """Declare ``len(body) + delta`` bytes; positive deltas look like truncation to the client."""
        return cls(path, "wrong_length", times=times, length_delta=delta)


@dataclass
class _Armed:
    fault: Fault
    remaining: int | None
    hits: int = 0


# --------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    host: str
    fault: str | None
    time: float

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def contains(self, secret: str) -> bool:
        """Whether ``secret`` appears anywhere in what the client sent (path, query, headers)."""
        return secret in self.path or secret in self.query or any(secret in v for _, v in self.headers)


@dataclass
class FakeAsset:
    id: int
    name: str
    source: Path | bytes
    size: int
    sha256: str
    content_type: str
    with_digest: bool | None = True  # None: no "digest" key at all (older GHES)
    download_count: int = 0

    def open_chunks(self, limit: int | None = None, start: int = 0) -> Iterator[bytes]:
        end = self.size if limit is None else min(start + limit, self.size)
        if isinstance(self.source, bytes):
            yield self.source[start:end]
            return
        with open(self.source, "rb") as fh:
            fh.seek(start)
            left = end - start
            while left > 0:
                chunk = fh.read(min(_CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk


@dataclass
class FakeRelease:
    id: int
    tag: str
    name: str
    assets: list[FakeAsset]
    prerelease: bool = False
    draft: bool = False
    published_at: str = "2024-12-19T23:55:56Z"
    body: str = ""


@dataclass
class FakeRepo:
    id: int
    owner: str
    name: str
    license_spdx: str | None
    license_name: str | None
    license_key: str | None
    default_branch: str = "main"
    description: str = ""
    releases: list[FakeRelease] = field(default_factory=list)  # oldest first
    latest_tag: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


_LICENSE_NAMES = {
    "MIT": "MIT License",
    "Apache-2.0": "Apache License 2.0",
    "GPL-3.0": "GNU General Public License v3.0",
    "BSD-3-Clause": 'BSD 3-Clause "New" or "Revised" License',
    "Unlicense": "The Unlicense",
    "MPL-2.0": "Mozilla Public License 2.0",
    "NOASSERTION": "Other",
}


def content_type_for(name: str) -> str:
    """What GitHub stores for an upload of this name (the uploader's guess, as seen in releases)."""
    lower = name.lower()
    for suffix, ctype in (
        (".tar.gz", "application/gzip"),
        (".tgz", "application/gzip"),
        (".gz", "application/gzip"),
        (".tar.xz", "application/x-xz"),
        (".xz", "application/x-xz"),
        (".tar.bz2", "application/x-bzip2"),
        (".zst", "application/zstd"),
        (".zip", "application/zip"),
        (".json", "application/json"),
        (".deb", "application/vnd.debian.binary-package"),
        (".rpm", "application/x-rpm"),
        (".txt", "text/plain"),
        (".sh", "application/x-sh"),
    ):
        if lower.endswith(suffix):
            return ctype
    return "application/octet-stream"


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Server


class _Server(http.server.ThreadingHTTPServer):
    # Parallel build jobs open many connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 128
    daemon_threads = True


class FakeGitHub:
    """The server. Start it with ``with FakeGitHub() as gh`` (or ``start()``/``stop()``)."""

    def __init__(
        self,
        *,
        token: str | None = None,
        require_token: bool = False,
        api_prefix: str = "",
        objects_host: str = "localhost",
        objects_reject_auth: bool = True,
        rate_limit: int = 5000,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.require_token = require_token
        self.api_prefix = api_prefix.rstrip("/")
        self.objects_host = objects_host
        self.objects_reject_auth = objects_reject_auth
        self.rate_limit = rate_limit
        self._bind = (host, port)
        self._lock = threading.Lock()
        self._repos: dict[str, FakeRepo] = {}
        self._assets: dict[int, tuple[FakeRepo, FakeRelease, FakeAsset]] = {}
        self._faults: list[_Armed] = []
        self._requests: list[RecordedRequest] = []
        self._used: dict[str, int] = {}
        self._reset_at = int(time.time()) + 3600
        self._next_id = 190_000_000
        self._stopping = threading.Event()
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        handler = type("_BoundHandler", (_Handler,), {"gh": self})
        httpd = _Server(self._bind, handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-github", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes stalled responses so shutdown does not wait for them
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeGitHub is not started")
        return int(self._httpd.server_address[1])

    @property
    def server_url(self) -> str:
        """``GITHUB_SERVER_URL``: html pages and browser downloads."""
        return f"http://{self._bind[0]}:{self.port}"

    @property
    def api_url(self) -> str:
        """``GITHUB_API_URL`` (includes ``api_prefix`` for the GHES layout)."""
        return f"{self.server_url}{self.api_prefix}"

    @property
    def objects_url(self) -> str:
        return f"http://{self.objects_host}:{self.port}/objects"

    def env(self, *, with_token: bool = True) -> dict[str, str]:
        env = {"GITHUB_API_URL": self.api_url, "GITHUB_SERVER_URL": self.server_url}
        if with_token and self.token:
            env["GITHUB_TOKEN"] = self.token
        return env

    # -- content -----------------------------------------------------------------------------

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def add_repo(
        self,
        full_name: str,
        *,
        license_spdx: str | None = "MIT",
        license_name: str | None = None,
        default_branch: str = "main",
        description: str = "",
    ) -> FakeRepo:
        owner, name = full_name.split("/", 1)
        repo = FakeRepo(
            id=self._new_id(),
            owner=owner,
            name=name,
            license_spdx=license_spdx,
            license_name=license_name
            or (_LICENSE_NAMES.get(license_spdx, license_spdx) if license_spdx else None),
            license_key=license_spdx.lower() if license_spdx and license_spdx != "NOASSERTION" else "other",
            default_branch=default_branch,
            description=description,
        )
        with self._lock:
            self._repos[full_name.lower()] = repo
        return repo

    def add_release(
        self,
        full_name: str,
        tag: str,
        assets: Mapping[str, bytes | Path],
        *,
        name: str | None = None,
        prerelease: bool = False,
        draft: bool = False,
        latest: bool | None = None,
        digests: bool | None = True,
        body: str = "",
    ) -> FakeRelease:
        """Publish a release; ``assets`` maps asset names to bytes or files (served lazily).

        ``digests=False`` models releases uploaded before GitHub computed digests (``null``);
        ``digests=None`` leaves the key out, as GitHub Enterprise Server versions without it do.
        """
        repo = self._repos.get(full_name.lower()) or self.add_repo(full_name)
        fake_assets = []
        for asset_name, source in assets.items():
            if isinstance(source, Path):
                digest = hashlib.sha256()
                with open(source, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        digest.update(chunk)
                size = source.stat().st_size
            else:
                digest = hashlib.sha256(source)
                size = len(source)
            asset = FakeAsset(
                id=self._new_id(),
                name=asset_name,
                source=source,
                size=size,
                sha256=digest.hexdigest(),
                content_type=content_type_for(asset_name),
                with_digest=digests,
            )
            fake_assets.append(asset)
        release = FakeRelease(
            id=self._new_id(), tag=tag, name=name or tag, assets=fake_assets, prerelease=prerelease,
            draft=draft, body=body,
        )  # fmt: skip
        with self._lock:
            repo.releases.append(release)
            for asset in fake_assets:
                self._assets[asset.id] = (repo, release, asset)
            if latest or (latest is None and not prerelease and not draft):
                repo.latest_tag = tag
        return release

    def add_release_from_dir(self, full_name: str, tag: str, folder: Path, **kwargs: Any) -> FakeRelease:
        """Every regular, non-hidden file of ``folder`` becomes an asset of that name."""
        files = {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}
        return self.add_release(full_name, tag, files, **kwargs)

    def asset(self, full_name: str, tag: str, name: str) -> FakeAsset:
        repo = self._repos[full_name.lower()]
        for release in repo.releases:
            if release.tag == tag:
                for asset in release.assets:
                    if asset.name == name:
                        return asset
        raise KeyError(f"{full_name} {tag} {name}")

    # -- faults and records ------------------------------------------------------------------

    def add_fault(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(_Armed(f, f.times) for f in faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> list[Fault]:
        """Faults that would still fire (``times`` not used up)."""
        with self._lock:
            return [a.fault for a in self._faults if a.remaining is None or a.remaining > 0]

    def fault_hits(self) -> dict[str, int]:
        with self._lock:
            return {f"{a.fault.kind} {a.fault.path}": a.hits for a in self._faults}

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for armed in self._faults:
                fault = armed.fault
                if fault.method is not None and fault.method != method:
                    continue
                if not fnmatch.fnmatchcase(path, fault.path):
                    continue
                if armed.remaining is not None:
                    if armed.remaining <= 0:
                        continue
                    armed.remaining -= 1
                armed.hits += 1
                return fault
        return None

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_matching(self, path_glob: str) -> list[RecordedRequest]:
        return [r for r in self.requests if fnmatch.fnmatchcase(r.path, path_glob)]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _rate_headers(self, identity: str) -> list[tuple[str, str]]:
        with self._lock:
            used = self._used.get(identity, 0) + 1
            self._used[identity] = used
        limit = self.rate_limit if identity != "anonymous" else 60
        return [
            ("X-RateLimit-Limit", str(limit)),
            ("X-RateLimit-Remaining", str(max(limit - used, 0))),
            ("X-RateLimit-Reset", str(self._reset_at)),
            ("X-RateLimit-Used", str(used)),
            ("X-RateLimit-Resource", "core"),
        ]

    # -- JSON shapes -------------------------------------------------------------------------

    def _user(self, login: str, kind: str = "Organization") -> dict[str, Any]:
        return {
            "login": login,
            "id": abs(hash(login)) % 10_000_000,
            "node_id": base64.b64encode(f"04:User{login}".encode()).decode(),
            "avatar_url": f"{self.server_url}/avatars/{login}",
            "gravatar_id": "",
            "url": f"{self.api_url}/users/{urllib.parse.quote(login)}",
            "html_url": f"{self.server_url}/{login}",
            "type": kind,
            "user_view_type": "public",
            "site_admin": False,
        }

    def _license_obj(self, repo: FakeRepo) -> dict[str, Any] | None:
        if repo.license_spdx is None:
            return None
        key = repo.license_key or "other"
        return {
            "key": key,
            "name": repo.license_name,
            "spdx_id": repo.license_spdx,
            "url": None if key == "other" else f"{self.api_url}/licenses/{key}",
            "node_id": base64.b64encode(f"07:License{key}".encode()).decode(),
        }

    def repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        api = f"{self.api_url}/repos/{repo.full_name}"
        return {
            "id": repo.id,
            "node_id": base64.b64encode(f"010:Repository{repo.id}".encode()).decode(),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": False,
            "owner": self._user(repo.owner),
            "html_url": f"{self.server_url}/{repo.full_name}",
            "description": repo.description,
            "fork": False,
            "url": api,
            "releases_url": f"{api}/releases{{/id}}",
            "tags_url": f"{api}/tags",
            "git_url": f"git://{self._bind[0]}/{repo.full_name}.git",
            "clone_url": f"{self.server_url}/{repo.full_name}.git",
            "homepage": f"https://example.invalid/{repo.name}",
            "size": 1234,
            "stargazers_count": 1,
            "watchers_count": 1,
            "language": "Rust",
            "has_issues": True,
            "archived": False,
            "disabled": False,
            "visibility": "public",
            "license": self._license_obj(repo),
            "topics": [],
            "forks": 0,
            "open_issues": 0,
            "watchers": 1,
            "default_branch": repo.default_branch,
            "created_at": "2023-10-02T17:49:45Z",
            "updated_at": "2024-12-20T00:00:00Z",
            "pushed_at": "2024-12-20T00:00:00Z",
        }

    def asset_json(self, repo: FakeRepo, release: FakeRelease, asset: FakeAsset) -> dict[str, Any]:
        data = {
            "url": f"{self.api_url}/repos/{repo.full_name}/releases/assets/{asset.id}",
            "id": asset.id,
            "node_id": base64.b64encode(f"RA_{asset.id}".encode()).decode(),
            "name": asset.name,
            "label": "",
            "uploader": self._user("github-actions[bot]", "Bot"),
            "content_type": asset.content_type,
            "state": "uploaded",
            "size": asset.size,
            "digest": f"sha256:{asset.sha256}" if asset.with_digest else None,
            "download_count": asset.download_count,
            "created_at": release.published_at,
            "updated_at": release.published_at,
            "browser_download_url": (
                f"{self.server_url}/{repo.full_name}/releases/download/"
                f"{urllib.parse.quote(release.tag, safe='')}/{urllib.parse.quote(asset.name)}"
            ),
        }
        if asset.with_digest is None:
            del data["digest"]
        return data

    def release_json(self, repo: FakeRepo, release: FakeRelease) -> dict[str, Any]:
        api = f"{self.api_url}/repos/{repo.full_name}"
        tag = urllib.parse.quote(release.tag, safe="")
        return {
            "url": f"{api}/releases/{release.id}",
            "assets_url": f"{api}/releases/{release.id}/assets",
            "upload_url": (
                f"{self.server_url}/uploads/repos/{repo.full_name}/releases/{release.id}/assets{{?name,label}}"
            ),
            "html_url": f"{self.server_url}/{repo.full_name}/releases/tag/{tag}",
            "id": release.id,
            "author": self._user("github-actions[bot]", "Bot"),
            "node_id": base64.b64encode(f"RE_{release.id}".encode()).decode(),
            "tag_name": release.tag,
            "target_commitish": repo.default_branch,
            "name": release.name,
            "draft": release.draft,
            "immutable": False,
            "prerelease": release.prerelease,
            "created_at": release.published_at,
            "updated_at": release.published_at,
            "published_at": release.published_at,
            "assets": [self.asset_json(repo, release, a) for a in release.assets],
            "tarball_url": f"{api}/tarball/{tag}",
            "zipball_url": f"{api}/zipball/{tag}",
            "body": release.body,
        }

    def license_json(self, repo: FakeRepo) -> dict[str, Any]:
        text = f"{repo.license_name} text\n".encode()
        api = f"{self.api_url}/repos/{repo.full_name}"
        html = f"{self.server_url}/{repo.full_name}/blob/{repo.default_branch}/LICENSE"
        return {
            "name": "LICENSE",
            "path": "LICENSE",
            "sha": hashlib.sha1(text).hexdigest(),
            "size": len(text),
            "url": f"{api}/contents/LICENSE?ref={repo.default_branch}",
            "html_url": html,
            "git_url": f"{api}/git/blobs/{hashlib.sha1(text).hexdigest()}",
            "download_url": f"{self.server_url}/raw/{repo.full_name}/{repo.default_branch}/LICENSE",
            "type": "file",
            "content": base64.encodebytes(text).decode(),
            "encoding": "base64",
            "_links": {"self": f"{api}/contents/LICENSE", "git": f"{api}/git", "html": html},
            "license": self._license_obj(repo),
        }


# --------------------------------------------------------------------------------------------
# Request handling


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    asset: FakeAsset | None = None  # streamed from its source instead of ``body``
    start: int = 0  # byte range of the asset (a Range request), end exclusive
    stop: int | None = None

    @property
    def length(self) -> int:
        if self.asset is not None:
            return (self.asset.size if self.stop is None else self.stop) - self.start
        return len(self.body)

    def chunks(self, limit: int | None = None) -> Iterator[bytes]:
        if self.asset is not None:
            span = self.length if limit is None else min(limit, self.length)
            yield from self.asset.open_chunks(span, self.start)
        else:
            yield self.body if limit is None else self.body[:limit]


class _Handler(http.server.BaseHTTPRequestHandler):
    gh: FakeGitHub
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect from GitHub
    server_version = "GitHub.com"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read ``gh.requests`` instead

    def finish(self) -> None:
        # After an injected reset the socket is gone; flushing it would only raise.
        with contextlib.suppress(OSError, ValueError):
            super().finish()

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    # -- dispatch ----------------------------------------------------------------------------

    def _serve(self, head: bool) -> None:
        gh = self.gh
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        fault = gh._take_fault(self.command, path)
        gh._record(
            RecordedRequest(
                method=self.command,
                path=path,
                query=parsed.query,
                headers=tuple(self.headers.items()),
                host=self.headers.get("Host", ""),
                fault=fault.kind if fault else None,
                time=time.time(),
            )
        )
        is_objects = path.startswith("/objects/")
        if fault is not None and fault.kind == "redirect_loop":
            self._send(
                self._redirect(self._absolute(path, parsed.query, objects=is_objects), api=not is_objects)
            )
            return
        if fault is not None and fault.kind in ("status", "rate_limited", "secondary_rate_limit"):
            self._send(self._fault_response(fault, api=not is_objects))
            return
        response = self._route(path, parsed.query)
        self._send(response, fault=fault, head=head)

    def _absolute(self, path: str, query: str, *, objects: bool) -> str:
        host = self.gh.objects_host if objects else self.gh._bind[0]
        return f"http://{host}:{self.gh.port}{path}" + (f"?{query}" if query else "")

    def _route(self, path: str, query: str) -> _Response:
        gh = self.gh
        if path.startswith("/objects/"):
            return self._objects(path)
        # Browser download URL on the web host: /{owner}/{repo}/releases/download/{tag}/{name}
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if len(parts) == 6 and parts[2:4] == ["releases", "download"]:
            repo = gh._repos.get(f"{parts[0]}/{parts[1]}".lower())
            if repo is not None:
                for release in repo.releases:
                    if release.tag == parts[4]:
                        for asset in release.assets:
                            if asset.name == parts[5]:
                                return self._redirect(self._object_url(asset), api=False)
            return self._error(404, "Not Found", api=False)

        if gh.api_prefix:
            if not path.startswith(gh.api_prefix + "/"):
                return self._error(404, "Not Found", api=False)
            path = path[len(gh.api_prefix) :]
        auth = self._check_auth()
        if auth is not None:
            return auth
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if parts == ["rate_limit"]:
            return self._json(200, {"resources": {"core": {"limit": gh.rate_limit}}, "rate": {}})
        if len(parts) < 3 or parts[0] != "repos":
            return self._error(404, "Not Found")
        repo = gh._repos.get(f"{parts[1]}/{parts[2]}".lower())
        if repo is None:
            return self._error(404, "Not Found")
        rest = parts[3:]
        if rest == []:
            return self._json(200, gh.repo_json(repo))
        if rest == ["license"]:
            if repo.license_spdx is None:
                return self._error(404, "Not Found")
            return self._json(200, gh.license_json(repo))
        if rest == ["releases"]:
            return self._list_releases(repo, path, query)
        if rest == ["releases", "latest"]:
            release = next((r for r in repo.releases if r.tag == repo.latest_tag), None)
            if release is None:
                return self._error(404, "Not Found")
            return self._json(200, gh.release_json(repo, release))
        if len(rest) == 3 and rest[:2] == ["releases", "tags"]:
            release = next((r for r in repo.releases if r.tag == rest[2] and not r.draft), None)
            if release is None:
                return self._error(404, "Not Found")
            return self._json(200, gh.release_json(repo, release))
        if len(rest) == 3 and rest[:2] == ["releases", "assets"] and rest[2].isdigit():
            found = gh._assets.get(int(rest[2]))
            if found is None or found[0] is not repo:
                return self._error(404, "Not Found")
            _, release, asset = found
            if "application/octet-stream" in self.headers.get("Accept", ""):
                return self._redirect(self._object_url(asset), api=True)
            return self._json(200, gh.asset_json(repo, release, asset))
        if len(rest) >= 2 and rest[0] == "releases" and rest[1].isdigit():
            release = next((r for r in repo.releases if r.id == int(rest[1])), None)
            if release is None:
                return self._error(404, "Not Found")
            if rest[2:] == []:
                return self._json(200, gh.release_json(repo, release))
            if rest[2:] == ["assets"]:
                return self._json(200, [gh.asset_json(repo, release, a) for a in release.assets])
        return self._error(404, "Not Found")

    def _list_releases(self, repo: FakeRepo, path: str, query: str) -> _Response:
        params = urllib.parse.parse_qs(query)
        per_page = max(1, min(100, int(params.get("per_page", ["30"])[0])))
        page = max(1, int(params.get("page", ["1"])[0]))
        visible = [r for r in reversed(repo.releases) if not r.draft]  # newest first
        last = max(1, -(-len(visible) // per_page))
        chunk = visible[(page - 1) * per_page : page * per_page]
        response = self._json(200, [self.gh.release_json(repo, r) for r in chunk])
        base = f"{self.gh.api_url}{path}"
        links = []
        if page < last:
            links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}?per_page={per_page}&page={page - 1}>; rel="prev"')
            links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
        if links:
            response.headers.append(("Link", ", ".join(links)))
        return response

    def _object_url(self, asset: FakeAsset) -> str:
        # Signed-URL-like query, as objects.githubusercontent.com uses (no token needed there).
        sig = hashlib.sha256(f"{asset.id}:{asset.sha256}".encode()).hexdigest()[:32]
        name = urllib.parse.quote(asset.name)
        return f"{self.gh.objects_url}/{asset.id}/{name}?sp=r&sv=2018-11-09&sr=b&sig={sig}"

    def _objects(self, path: str) -> _Response:
        if self.gh.objects_reject_auth and self.headers.get("Authorization"):
            # What the real objects host does when a client forwards its API token.
            body = (
                b"<Error><Code>InvalidArgument</Code>"
                b"<Message>Only one auth mechanism allowed</Message></Error>"
            )
            return _Response(400, [("Content-Type", "application/xml")], body)
        parts = path.strip("/").split("/")
        found = self.gh._assets.get(int(parts[1])) if len(parts) == 3 and parts[1].isdigit() else None
        if found is None:
            return _Response(404, [("Content-Type", "text/plain")], b"Not Found")
        asset = found[2]
        asset.download_count += 1
        headers = [
            ("Content-Type", "application/octet-stream"),
            ("Content-Disposition", f"attachment; filename={asset.name}"),
            ("Last-Modified", "Thu, 19 Dec 2024 23:55:56 GMT"),
            ("ETag", f'"0x{asset.sha256[:16].upper()}"'),
            ("Accept-Ranges", "bytes"),
        ]
        wanted = self.headers.get("Range")
        if wanted:
            # One range, as download resumers send: "bytes=START-" or "bytes=START-END".
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
            start = int(match.group(1)) if match else asset.size
            stop = min(int(match.group(2)) + 1, asset.size) if match and match.group(2) else asset.size
            if start >= asset.size or stop <= start:
                headers.append(("Content-Range", f"bytes */{asset.size}"))
                return _Response(416, headers, b"")
            headers.append(("Content-Range", f"bytes {start}-{stop - 1}/{asset.size}"))
            return _Response(206, headers, asset=asset, start=start, stop=stop)
        return _Response(200, headers, asset=asset)

    # -- responses ---------------------------------------------------------------------------

    def _identity(self) -> str:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("token", "bearer") and value:
            return value
        return "anonymous"

    def _check_auth(self) -> _Response | None:
        gh = self.gh
        header = self.headers.get("Authorization")
        if header is None:
            if gh.require_token:
                return self._error(401, "Requires authentication")
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not value:
            return self._error(401, "Bad credentials")
        if gh.token is not None and value != gh.token:
            return self._error(401, "Bad credentials")
        return None

    def _api_headers(self) -> list[tuple[str, str]]:
        return [
            ("Content-Type", "application/json; charset=utf-8"),
            ("X-GitHub-Media-Type", "github.v3; format=json"),
            ("X-GitHub-Api-Version-Selected", "2022-11-28"),
            ("X-GitHub-Request-Id", hashlib.md5(str(time.time()).encode()).hexdigest()[:20].upper()),
            *self.gh._rate_headers(self._identity()),
        ]

    def _json(self, status: int, payload: object) -> _Response:
        body = json.dumps(payload, indent=2).encode()
        return _Response(status, self._api_headers(), body)

    def _error(self, status: int, message: str, *, api: bool = True) -> _Response:
        payload = {"message": message, "documentation_url": DOCS, "status": str(status)}
        if not api:
            return _Response(status, [("Content-Type", "text/plain; charset=utf-8")], message.encode())
        return self._json(status, payload)

    def _redirect(self, location: str, *, api: bool) -> _Response:
        headers = self._api_headers() if api else [("Content-Type", "text/html; charset=utf-8")]
        headers = [h for h in headers if h[0] != "Content-Type"] + [
            ("Content-Type", "text/html; charset=utf-8")
        ]
        headers.append(("Location", location))
        return _Response(302, headers, b"")

    def _fault_response(self, fault: Fault, *, api: bool) -> _Response:
        if fault.kind == "rate_limited":
            response = self._error(
                403,
                "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated "
                "requests get a higher rate limit. Check out the documentation for more details.)",
            )
            reset = str(int(time.time()) + fault.reset_in)
            response.headers = [
                h for h in response.headers if h[0] not in ("X-RateLimit-Remaining", "X-RateLimit-Reset")
            ]
            response.headers += [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset)]
            return response
        if fault.kind == "secondary_rate_limit":
            response = self._error(
                403, "You have exceeded a secondary rate limit. Please wait a few minutes."
            )
            response.headers.append(("Retry-After", str(fault.retry_after or 1)))
            return response
        messages = {
            429: "Too Many Requests",
            500: "Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
        }
        response = self._error(fault.status, messages.get(fault.status, "Error"), api=api)
        if fault.retry_after is not None:
            response.headers.append(("Retry-After", str(fault.retry_after)))
        return response

    def _send(self, response: _Response, *, fault: Fault | None = None, head: bool = False) -> None:
        stall = fault is not None and fault.kind == "stall"
        if (
            stall
            and fault is not None
            and fault.fraction is None
            and self.gh._stopping.wait(fault.stall_seconds)
        ):
            return
        declared = response.length
        if fault is not None and fault.kind == "wrong_length":
            declared = max(0, response.length + fault.length_delta)
        self.send_response(response.status)
        for key, value in response.headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(declared))
        if fault is not None and fault.kind in ("reset", "truncate", "wrong_length"):
            self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        partial = fault is not None and (
            fault.kind in ("reset", "truncate") or (fault.kind == "stall" and fault.fraction is not None)
        )
        limit = None
        if partial and fault is not None:
            limit = int(response.length * (fault.fraction if fault.fraction is not None else 0.5))
        if fault is not None and fault.kind == "wrong_length" and fault.length_delta < 0:
            limit = declared
        try:
            for chunk in response.chunks(limit):
                self.wfile.write(chunk)
            self.wfile.flush()
            if fault is None or (fault.kind == "wrong_length" and fault.length_delta < 0):
                if fault is not None:
                    self.close_connection = True
                return
            if fault.kind == "stall":
                if self.gh._stopping.wait(fault.stall_seconds):
                    return
                skip = limit or 0
                for chunk in response.chunks():
                    if skip >= len(chunk):
                        skip -= len(chunk)
                        continue
                    self.wfile.write(chunk[skip:])
                    skip = 0
                self.wfile.flush()
                return
            self.close_connection = True
            if fault.kind == "reset":
                # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:  # truncate, or a wrong_length that promised more than it sends
                self.connection.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def main(argv: list[str] | None = None) -> int:
    """Serve a release folder for manual runs: ``python -m tests.support.fake_github DIR``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", type=Path, help="release folder (one file per asset)")
    parser.add_argument("--repo", default="astral-sh/uv")
    parser.add_argument("--tag", default="0.5.11")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=None, help="require this token (default: accept any)")
    parser.add_argument("--api-prefix", default="", help="e.g. /api/v3 for the GHES layout")
    args = parser.parse_args(argv)
    with FakeGitHub(token=args.token, port=args.port, api_prefix=args.api_prefix) as gh:
        gh.add_release_from_dir(args.repo, args.tag, args.folder)
        for key, value in gh.env(with_token=False).items():
            print(f"{key}={value}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
