"""A GitHub-shaped REST API on loopback: releases, Actions artifacts and issue comments.

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

Actions artifacts (what a later run reads back: regression history)::

    gh.add_artifact("o/r", "metrics", {"metrics.json": b"{}"}, run_id=7, head_branch="main")
    gh.add_artifact("o/r", "metrics", b"not a zip", run_id=8, head_branch="main", expired=True)

``GET /repos/{o}/{r}/actions/artifacts`` (``name``, ``per_page``, ``page``) answers
``{"total_count": N, "artifacts": [...]}`` newest first (``created_at``), ``N`` counting every
match, with ``Link`` pagination; each artifact has ``id``, ``node_id``, ``name``,
``size_in_bytes``, ``url``, ``archive_download_url``, ``expired``, ``digest``, the three dates and
``workflow_run`` (``id``, ``repository_id``, ``head_repository_id``, ``head_branch``,
``head_sha``). ``.../artifacts/{id}`` is one artifact; ``.../artifacts/{id}/zip`` needs a token
(401 without one, even on a fake created with ``token=None``), answers ``410 Gone`` ("Artifact has
expired") for an expired artifact, else ``302`` to ``/objects/artifacts/{id}/{name}.zip`` on the
objects host, which serves the zip (``application/zip``, ``Range``) and refuses a forwarded token.
``files`` as a mapping is zipped like upload-artifact does (deflate, paths as given, no leading
folder); raw ``bytes`` are served as the zip itself.

Issues, pull requests and comments (one report comment per pull request, edited in place)::

    gh.add_pull_request("o/r", 42, head_branch="feature", base_branch="main")
    gh.add_comment("o/r", 42, "LGTM", user="octocat")          # seeds; registers #42 if unknown
    gh.set_read_only(True)                                      # a fork pull request's token
    assert [c.body for c in gh.comments("o/r", 42)] == ["LGTM"]

Served: ``GET /repos/{o}/{r}/issues/{n}`` (with ``pull_request`` for pull requests),
``GET .../pulls/{n}`` (``head``/``base`` refs), ``GET .../issues/{n}/comments`` (oldest first,
``per_page``/``page``, ``Link``), ``POST .../issues/{n}/comments`` ``{"body"}`` -> 201,
``GET``/``PATCH .../issues/comments/{id}`` -> 200. Comments posted over HTTP are by
``github-actions[bot]`` (``Bot``). Writes need a token (401), a registered number (404), a JSON
body (400) with a string ``body`` (422); read-only mode answers 403 "Resource not accessible by
integration" (``READ_ONLY_MESSAGE``), also settable as ``FakeGitHub(read_only=True)``.

GitHub Enterprise Server layout: ``FakeGitHub(api_prefix="/api/v3")`` serves the API under
``/api/v3`` (``gh.api_url`` includes it), browser downloads under the root.

Faults (``Fault.*`` constructors) match the request path (without query) with a shell glob, fire
for the first ``times`` matching requests (``None`` = forever) and then let requests succeed:
``server_error`` (500/502/503/...), ``too_many_requests`` (429 + ``Retry-After``),
``rate_limited`` (403, ``X-RateLimit-Remaining: 0``, ``X-RateLimit-Reset``),
``secondary_rate_limit`` (403 + ``Retry-After``), ``connection_reset`` (RST after part of the
body), ``truncated`` (clean close after part of the body), ``stall`` (no bytes for a while, before
the headers or mid-body), ``redirect_loop`` (302 to itself), ``wrong_length`` (a
``Content-Length`` that disagrees with the body), ``not_found``/``status`` (any status). A fault
fires for any method unless narrowed: ``Fault.server_error(glob).for_method("POST")``.

Every request is recorded (``gh.requests``: method, path, query, headers, host, fault applied, and
the body of a POST/PATCH; ``r.json()`` parses it, ``r.contains(secret)`` searches all of it).

The objects host answers single ``Range`` requests (206/416), like real storage does, so download
resumption can be tested. ``add_release(..., digests=False)`` serves ``"digest": null`` (assets
uploaded before GitHub computed digests), ``digests=None`` leaves the key out (older GHES).

Public API (all on ``FakeGitHub``): ``start()/stop()`` or ``with``; ``api_url``, ``server_url``,
``objects_url``, ``port``, ``env()``; ``add_repo(full_name, license_spdx=..., ...)``,
``add_release(full_name, tag, {name: bytes | Path}, prerelease=, draft=, latest=, digests=)``,
``add_release_from_dir(full_name, tag, folder)``, ``asset(full_name, tag, name)``;
``add_artifact(full_name, name, files | bytes, run_id=, head_branch=, head_sha=, created_at=,
expired=, head_repository_id=, retention_days=) -> FakeArtifact``, ``artifacts(full_name,
name=None)`` (newest first); ``add_pull_request(full_name, number, head_branch, base_branch)``,
``add_issue(full_name, number)``, ``add_comment(full_name, number, body, user=, created_at=)``,
``comments(full_name, number)`` (oldest first), ``set_read_only(flag)``, ``read_only``;
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
import io
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
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

    def for_method(self, method: str) -> Fault:
        """The same fault, firing only for requests of this HTTP method (``"POST"``, ``"PATCH"``...)."""
        return replace(self, method=method.upper())


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
    body: bytes = b""  # what a POST/PATCH sent

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    def contains(self, secret: str) -> bool:
        """Whether ``secret`` appears anywhere in what the client sent (path, query, headers, body)."""
        return (
            secret in self.path
            or secret in self.query
            or any(secret in v for _, v in self.headers)
            or secret.encode() in self.body
        )

    def json(self) -> Any:
        """The request body parsed as JSON (``None`` when there was none)."""
        return json.loads(self.body) if self.body else None


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
class FakeArtifact:
    """An Actions artifact: the zip that upload-artifact stored for a workflow run."""

    id: int
    repo_full_name: str
    name: str
    blob: FakeAsset  # the zip, served by the objects host
    created_at: datetime
    run_id: int
    head_branch: str
    head_sha: str
    repository_id: int
    head_repository_id: int
    expired: bool = False
    retention_days: int = 90

    @property
    def data(self) -> bytes:
        assert isinstance(self.blob.source, bytes)
        return self.blob.source

    @property
    def size_in_bytes(self) -> int:
        return self.blob.size

    @property
    def digest(self) -> str:
        return f"sha256:{self.blob.sha256}"

    @property
    def expires_at(self) -> datetime:
        return self.created_at + timedelta(days=self.retention_days)


@dataclass
class FakeComment:
    id: int
    issue_number: int
    body: str
    user: str
    user_type: str
    author_association: str
    created_at: str
    updated_at: str


@dataclass
class FakeIssue:
    """An issue or (``head_branch`` set) a pull request; both have issue comments."""

    id: int
    number: int
    title: str
    head_branch: str | None = None
    base_branch: str | None = None
    head_sha: str = ""
    comments: list[FakeComment] = field(default_factory=list)  # oldest first

    @property
    def is_pull_request(self) -> bool:
        return self.head_branch is not None


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
    artifacts: list[FakeArtifact] = field(default_factory=list)  # in the order added
    issues: dict[int, FakeIssue] = field(default_factory=dict)

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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str | datetime) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def zip_members(
    files: Mapping[str, bytes], *, date_time: tuple[int, int, int, int, int, int] | None = None
) -> bytes:
    """Zip ``files`` the way upload-artifact does: deflate, member paths as given, no leading folder."""
    buffer = io.BytesIO()
    stamp = date_time or (2024, 12, 20, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for member, data in files.items():
            info = zipfile.ZipInfo(member.lstrip("/"), date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=6)
    return buffer.getvalue()


READ_ONLY_MESSAGE = "Resource not accessible by integration"
ACTIONS_BOT = "github-actions[bot]"


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
        read_only: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.require_token = require_token
        self.read_only = read_only
        self.api_prefix = api_prefix.rstrip("/")
        self.objects_host = objects_host
        self.objects_reject_auth = objects_reject_auth
        self.rate_limit = rate_limit
        self._bind = (host, port)
        self._lock = threading.Lock()
        self._repos: dict[str, FakeRepo] = {}
        self._assets: dict[int, tuple[FakeRepo, FakeRelease, FakeAsset]] = {}
        self._artifacts: dict[int, tuple[FakeRepo, FakeArtifact]] = {}
        self._comments: dict[int, tuple[FakeRepo, FakeIssue, FakeComment]] = {}
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

    def _repo(self, full_name: str) -> FakeRepo:
        return self._repos.get(full_name.lower()) or self.add_repo(full_name)

    # -- Actions artifacts -------------------------------------------------------------------

    def add_artifact(
        self,
        full_name: str,
        name: str,
        files: Mapping[str, bytes] | bytes,
        *,
        run_id: int,
        head_branch: str,
        head_sha: str | None = None,
        created_at: str | datetime | None = None,
        expired: bool = False,
        head_repository_id: int | None = None,
        retention_days: int = 90,
    ) -> FakeArtifact:
        """Store an artifact of workflow run ``run_id`` (on ``head_branch``).

        ``files`` maps zip member paths to bytes and is zipped as upload-artifact does; raw
        ``bytes`` are served as the zip itself (corrupt or oversized archives). ``created_at``
        (ISO string or datetime, default now) orders the listing, newest first; artifacts created
        in the same second list the later-added one first. ``head_repository_id`` differs from the
        repository's id for runs of a fork's pull request.
        """
        repo = self._repo(full_name)
        moment = (
            _parse_time(created_at) if created_at is not None else datetime.now(UTC).replace(microsecond=0)
        )
        if isinstance(files, bytes):
            data = files
        else:
            data = zip_members(files, date_time=moment.astimezone(UTC).timetuple()[:6])
        artifact_id = self._new_id()
        blob = FakeAsset(
            id=artifact_id,
            name=f"{name}.zip",
            source=data,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            content_type="application/zip",
        )
        artifact = FakeArtifact(
            id=artifact_id,
            repo_full_name=repo.full_name,
            name=name,
            blob=blob,
            created_at=moment,
            run_id=run_id,
            head_branch=head_branch,
            head_sha=head_sha or hashlib.sha1(f"{run_id}:{head_branch}".encode()).hexdigest(),
            repository_id=repo.id,
            head_repository_id=repo.id if head_repository_id is None else head_repository_id,
            expired=expired,
            retention_days=retention_days,
        )
        with self._lock:
            repo.artifacts.append(artifact)
            self._artifacts[artifact.id] = (repo, artifact)
        return artifact

    def artifacts(self, full_name: str, name: str | None = None) -> list[FakeArtifact]:
        """The repository's artifacts (only those called ``name`` if given), newest first."""
        repo = self._repos.get(full_name.lower())
        if repo is None:
            return []
        with self._lock:
            found = [a for a in repo.artifacts if name is None or a.name == name]
        return sorted(found, key=lambda a: (a.created_at, a.id), reverse=True)

    # -- issues, pull requests and their comments --------------------------------------------

    def set_read_only(self, read_only: bool = True) -> None:
        """Make writes answer 403 "Resource not accessible by integration" (a fork PR's token)."""
        self.read_only = read_only

    def add_issue(self, full_name: str, number: int, *, title: str | None = None) -> FakeIssue:
        return self._add_issue(full_name, number, title=title)

    def add_pull_request(
        self,
        full_name: str,
        number: int,
        head_branch: str,
        base_branch: str = "main",
        *,
        title: str | None = None,
        head_sha: str | None = None,
    ) -> FakeIssue:
        return self._add_issue(
            full_name, number, title=title, head_branch=head_branch, base_branch=base_branch,
            head_sha=head_sha,
        )  # fmt: skip

    def _add_issue(
        self,
        full_name: str,
        number: int,
        *,
        title: str | None,
        head_branch: str | None = None,
        base_branch: str | None = None,
        head_sha: str | None = None,
    ) -> FakeIssue:
        repo = self._repo(full_name)
        issue = FakeIssue(
            id=self._new_id(),
            number=number,
            title=title or (f"Pull request {number}" if head_branch is not None else f"Issue {number}"),
            head_branch=head_branch,
            base_branch=base_branch,
            head_sha=head_sha or hashlib.sha1(f"{number}:{head_branch}".encode()).hexdigest(),
        )
        with self._lock:
            old = repo.issues.get(number)
            if old is not None:
                issue.comments = old.comments
            repo.issues[number] = issue
            for comment in issue.comments:
                self._comments[comment.id] = (repo, issue, comment)
        return issue

    def add_comment(
        self,
        full_name: str,
        number: int,
        body: str,
        *,
        user: str = ACTIONS_BOT,
        created_at: str | datetime | None = None,
    ) -> FakeComment:
        """Post a comment directly (another user's, or an earlier run's); registers the number as a
        pull request (head branch ``pr-{number}``) if it is not known yet."""
        repo = self._repo(full_name)
        issue = repo.issues.get(number) or self.add_pull_request(full_name, number, f"pr-{number}")
        stamp = _iso(_parse_time(created_at)) if created_at is not None else None
        return self._new_comment(repo, issue, body, user=user, stamp=stamp)

    def _new_comment(
        self,
        repo: FakeRepo,
        issue: FakeIssue,
        body: str,
        *,
        user: str = ACTIONS_BOT,
        stamp: str | None = None,
    ) -> FakeComment:
        bot = user.endswith("[bot]")
        comment = FakeComment(
            id=self._new_id(),
            issue_number=issue.number,
            body=body,
            user=user,
            user_type="Bot" if bot else "User",
            author_association="NONE" if bot else "CONTRIBUTOR",
            created_at=stamp or _now_iso(),
            updated_at=stamp or _now_iso(),
        )
        with self._lock:
            issue.comments.append(comment)
            self._comments[comment.id] = (repo, issue, comment)
        return comment

    def comments(self, full_name: str, number: int) -> list[FakeComment]:
        """The comments on issue / pull request ``number`` as they are now, oldest first."""
        repo = self._repos.get(full_name.lower())
        issue = repo.issues.get(number) if repo is not None else None
        if issue is None:
            return []
        with self._lock:
            return list(issue.comments)

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

    def artifact_json(self, repo: FakeRepo, artifact: FakeArtifact) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{repo.full_name}/actions/artifacts/{artifact.id}"
        return {
            "id": artifact.id,
            "node_id": base64.b64encode(f"08:Artifact{artifact.id}".encode()).decode(),
            "name": artifact.name,
            "size_in_bytes": artifact.size_in_bytes,
            "url": url,
            "archive_download_url": f"{url}/zip",
            "expired": artifact.expired,
            "digest": artifact.digest,
            "created_at": _iso(artifact.created_at),
            "updated_at": _iso(artifact.created_at),
            "expires_at": _iso(artifact.expires_at),
            "workflow_run": {
                "id": artifact.run_id,
                "repository_id": artifact.repository_id,
                "head_repository_id": artifact.head_repository_id,
                "head_branch": artifact.head_branch,
                "head_sha": artifact.head_sha,
            },
        }

    def _actor(self, login: str, kind: str) -> dict[str, Any]:
        user = self._user(login, kind)
        if login == ACTIONS_BOT:
            user["id"] = 41898282  # the real github-actions[bot] id
        return user

    def comment_json(self, repo: FakeRepo, comment: FakeComment) -> dict[str, Any]:
        api = f"{self.api_url}/repos/{repo.full_name}"
        issue = repo.issues.get(comment.issue_number)
        kind = "pull" if issue is not None and issue.is_pull_request else "issues"
        return {
            "id": comment.id,
            "node_id": base64.b64encode(f"IC_{comment.id}".encode()).decode(),
            "url": f"{api}/issues/comments/{comment.id}",
            "html_url": f"{self.server_url}/{repo.full_name}/{kind}/{comment.issue_number}"
            f"#issuecomment-{comment.id}",
            "body": comment.body,
            "user": self._actor(comment.user, comment.user_type),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "issue_url": f"{api}/issues/{comment.issue_number}",
            "author_association": comment.author_association,
            "performed_via_github_app": None,
            "reactions": {
                "url": f"{api}/issues/comments/{comment.id}/reactions",
                "total_count": 0,
                "+1": 0,
                "-1": 0,
                "laugh": 0,
                "hooray": 0,
                "confused": 0,
                "heart": 0,
                "rocket": 0,
                "eyes": 0,
            },
        }

    def issue_json(self, repo: FakeRepo, issue: FakeIssue) -> dict[str, Any]:
        api = f"{self.api_url}/repos/{repo.full_name}"
        kind = "pull" if issue.is_pull_request else "issues"
        data: dict[str, Any] = {
            "url": f"{api}/issues/{issue.number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{issue.number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{issue.number}/comments",
            "events_url": f"{api}/issues/{issue.number}/events",
            "html_url": f"{self.server_url}/{repo.full_name}/{kind}/{issue.number}",
            "id": issue.id,
            "node_id": base64.b64encode(f"I_{issue.id}".encode()).decode(),
            "number": issue.number,
            "title": issue.title,
            "user": self._actor("octocat", "User"),
            "labels": [],
            "state": "open",
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": len(issue.comments),
            "created_at": "2024-12-20T00:00:00Z",
            "updated_at": "2024-12-20T00:00:00Z",
            "closed_at": None,
            "author_association": "CONTRIBUTOR",
            "body": "",
            "state_reason": None,
        }
        if issue.is_pull_request:
            data["draft"] = False
            data["pull_request"] = {
                "url": f"{api}/pulls/{issue.number}",
                "html_url": data["html_url"],
                "diff_url": f"{data['html_url']}.diff",
                "patch_url": f"{data['html_url']}.patch",
                "merged_at": None,
            }
        return data

    def pull_json(self, repo: FakeRepo, issue: FakeIssue) -> dict[str, Any]:
        api = f"{self.api_url}/repos/{repo.full_name}"
        issue_data = self.issue_json(repo, issue)
        base_sha = hashlib.sha1(f"{repo.full_name}:{issue.base_branch}".encode()).hexdigest()

        def ref(branch: str | None, sha: str) -> dict[str, Any]:
            return {
                "label": f"{repo.owner}:{branch}",
                "ref": branch,
                "sha": sha,
                "user": self._user(repo.owner),
                "repo": self.repo_json(repo),
            }

        return {
            "url": f"{api}/pulls/{issue.number}",
            "id": issue.id,
            "node_id": base64.b64encode(f"PR_{issue.id}".encode()).decode(),
            "html_url": issue_data["html_url"],
            "diff_url": f"{issue_data['html_url']}.diff",
            "patch_url": f"{issue_data['html_url']}.patch",
            "issue_url": f"{api}/issues/{issue.number}",
            "comments_url": f"{api}/issues/{issue.number}/comments",
            "number": issue.number,
            "state": "open",
            "locked": False,
            "title": issue.title,
            "user": issue_data["user"],
            "body": "",
            "created_at": issue_data["created_at"],
            "updated_at": issue_data["updated_at"],
            "closed_at": None,
            "merged_at": None,
            "draft": False,
            "head": ref(issue.head_branch, issue.head_sha),
            "base": ref(issue.base_branch, base_sha),
            "author_association": "CONTRIBUTOR",
            "merged": False,
            "comments": len(issue.comments),
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

    def do_POST(self) -> None:
        self._serve(head=False)

    def do_PATCH(self) -> None:
        self._serve(head=False)

    # -- dispatch ----------------------------------------------------------------------------

    def _serve(self, head: bool) -> None:
        gh = self.gh
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        # Read the whole body first, even when a fault answers: unread bytes would be taken for
        # the next request on this keep-alive connection.
        length = int(self.headers.get("Content-Length") or 0)
        self.request_body = self.rfile.read(length) if length > 0 else b""
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
                body=self.request_body,
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
        if self.command not in ("GET", "HEAD"):
            return self._route_write(path)
        if path.startswith("/objects/"):
            return self._objects(path)
        release: FakeRelease | None
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
        if rest == ["actions", "artifacts"]:
            matches = gh.artifacts(repo.full_name, urllib.parse.parse_qs(query).get("name", [None])[0])
            return self._paginated(
                matches, path, query, lambda a: gh.artifact_json(repo, a), envelope="artifacts"
            )
        if len(rest) in (3, 4) and rest[:2] == ["actions", "artifacts"] and rest[2].isdigit():
            found_artifact = gh._artifacts.get(int(rest[2]))
            if found_artifact is None or found_artifact[0] is not repo or rest[3:] not in ([], ["zip"]):
                return self._error(404, "Not Found")
            artifact = found_artifact[1]
            if rest[3:] == []:
                return self._json(200, gh.artifact_json(repo, artifact))
            if self.headers.get("Authorization") is None:  # even for public repositories
                return self._error(401, "Requires authentication")
            if artifact.expired:
                return self._error(410, "Artifact has expired")
            return self._redirect(self._object_url(artifact.blob, kind="artifacts"), api=True)
        if rest[:1] == ["issues"] and len(rest) == 3 and rest[1] == "comments" and rest[2].isdigit():
            found_comment = gh._comments.get(int(rest[2]))
            if found_comment is None or found_comment[0] is not repo:
                return self._error(404, "Not Found")
            return self._json(200, gh.comment_json(repo, found_comment[2]))
        if rest[:1] in (["issues"], ["pulls"]) and len(rest) in (2, 3) and rest[1].isdigit():
            issue = repo.issues.get(int(rest[1]))
            if issue is None or (rest[0] == "pulls" and not issue.is_pull_request):
                return self._error(404, "Not Found")
            if rest[2:] == [] and rest[0] == "issues":
                return self._json(200, gh.issue_json(repo, issue))
            if rest[2:] == [] and rest[0] == "pulls":
                return self._json(200, gh.pull_json(repo, issue))
            if rest[2:] == ["comments"] and rest[0] == "issues":
                comments = gh.comments(repo.full_name, issue.number)
                return self._paginated(comments, path, query, lambda c: gh.comment_json(repo, c))
        return self._error(404, "Not Found")

    def _route_write(self, path: str) -> _Response:
        """POST/PATCH: create and edit issue comments (nothing else is writable)."""
        gh = self.gh
        if gh.api_prefix:
            if not path.startswith(gh.api_prefix + "/"):
                return self._error(404, "Not Found", api=False)
            path = path[len(gh.api_prefix) :]
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        repo = gh._repos.get(f"{parts[1]}/{parts[2]}".lower()) if len(parts) >= 3 else None
        rest = parts[3:]
        create = self.command == "POST" and len(rest) == 3 and rest[0] == "issues" and rest[2] == "comments"
        edit = self.command == "PATCH" and len(rest) == 3 and rest[:2] == ["issues", "comments"]
        if repo is None or parts[0] != "repos" or not (create or edit) or not rest[1 + edit].isdigit():
            return self._error(404, "Not Found")
        if self.headers.get("Authorization") is None:
            return self._error(401, "Requires authentication")
        auth = self._check_auth()
        if auth is not None:
            return auth
        if create:
            issue = repo.issues.get(int(rest[1]))
            target: FakeComment | None = None
        else:
            found = gh._comments.get(int(rest[2]))
            issue, target = (found[1], found[2]) if found is not None and found[0] is repo else (None, None)
        if issue is None:
            return self._error(404, "Not Found")
        if gh.read_only:
            section = "create-an-issue-comment" if create else "update-an-issue-comment"
            response = self._error(403, READ_ONLY_MESSAGE)
            payload = json.loads(response.body)
            payload["documentation_url"] = f"{DOCS}/issues/comments#{section}"
            response.body = json.dumps(payload, indent=2).encode()
            return response
        try:
            payload = json.loads(self.request_body or b"null")
        except ValueError:
            return self._error(400, "Problems parsing JSON")
        body = payload.get("body") if isinstance(payload, dict) else None
        if not isinstance(body, str):
            response = self._json(
                422,
                {
                    "message": 'Invalid request.\n\n"body" wasn\'t supplied.',
                    "documentation_url": f"{DOCS}/issues/comments",
                    "status": "422",
                },
            )
            return response
        if target is None:
            return self._json(201, gh.comment_json(repo, gh._new_comment(repo, issue, body)))
        with gh._lock:
            target.body = body
            target.updated_at = _now_iso()
        return self._json(200, gh.comment_json(repo, target))

    def _list_releases(self, repo: FakeRepo, path: str, query: str) -> _Response:
        visible = [r for r in reversed(repo.releases) if not r.draft]  # newest first
        return self._paginated(visible, path, query, lambda r: self.gh.release_json(repo, r))

    def _paginated(
        self,
        items: list[Any],
        path: str,
        query: str,
        render: Any,
        *,
        envelope: str | None = None,
    ) -> _Response:
        """One page of ``items`` (``per_page`` default 30, max 100; ``page`` from 1) with GitHub's
        ``Link`` header; ``envelope`` wraps it as ``{"total_count": N, envelope: [...]}``."""
        params = urllib.parse.parse_qsl(query, keep_blank_values=True)
        values = dict(params)
        per_page = max(1, min(100, int(values.get("per_page") or 30)))
        page = max(1, int(values.get("page") or 1))
        last = max(1, -(-len(items) // per_page))
        chunk = [render(item) for item in items[(page - 1) * per_page : page * per_page]]
        payload: object = chunk if envelope is None else {"total_count": len(items), envelope: chunk}
        response = self._json(200, payload)
        base = f"{self.gh.api_url}{path}"  # ``path`` is already without ``api_prefix``
        kept = [(k, v) for k, v in params if k not in ("per_page", "page")]

        def link(target: int, rel: str) -> str:
            query = urllib.parse.urlencode([*kept, ("per_page", per_page), ("page", target)])
            return f'<{base}?{query}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if links:
            response.headers.append(("Link", ", ".join(links)))
        return response

    def _object_url(self, asset: FakeAsset, *, kind: str | None = None) -> str:
        # Signed-URL-like query, as objects.githubusercontent.com uses (no token needed there).
        sig = hashlib.sha256(f"{asset.id}:{asset.sha256}".encode()).hexdigest()[:32]
        name = urllib.parse.quote(asset.name)
        folder = f"{self.gh.objects_url}/{kind}" if kind else self.gh.objects_url
        return f"{folder}/{asset.id}/{name}?sp=r&sv=2018-11-09&sr=b&sig={sig}"

    def _objects(self, path: str) -> _Response:
        if self.gh.objects_reject_auth and self.headers.get("Authorization"):
            # What the real objects host does when a client forwards its API token.
            body = (
                b"<Error><Code>InvalidArgument</Code>"
                b"<Message>Only one auth mechanism allowed</Message></Error>"
            )
            return _Response(400, [("Content-Type", "application/xml")], body)
        parts = path.strip("/").split("/")
        asset: FakeAsset | None = None
        if len(parts) == 3 and parts[1].isdigit():
            found = self.gh._assets.get(int(parts[1]))
            asset = found[2] if found is not None else None
        elif len(parts) == 4 and parts[1] == "artifacts" and parts[2].isdigit():
            found_artifact = self.gh._artifacts.get(int(parts[2]))
            asset = found_artifact[1].blob if found_artifact is not None else None
        if asset is None:
            return _Response(404, [("Content-Type", "text/plain")], b"Not Found")
        asset.download_count += 1
        headers = [
            ("Content-Type", "application/zip" if parts[1] == "artifacts" else "application/octet-stream"),
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
