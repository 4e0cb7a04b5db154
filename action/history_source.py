"""Find the previous ``history.json`` in the repository's workflow artifacts.

The newest unexpired artifact of the history's name from an earlier run on the comparison branch
is listed through the REST API (PyGithub; the token needs ``actions: read``), its zip downloaded by
the builder's GitHub client (bounded retries, and the token is sent only to the API's own origin,
never to the storage host the download redirects to), and unpacked by the builder's extractor, so
the history gets the same protection as a release archive (paths, links, sizes, ratio).

Nothing here may fail a build: every failure (no token, 401/403/404, expired, rate limits, a
corrupt or oversized zip, a bad history file) comes back as a ``notice`` and no history.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import requests
from github import GithubException
from github.Artifact import Artifact

from contracts.vocabulary import HISTORY_FILE
from multiarch.errors import MultiarchError
from multiarch.extract import ExtractLimits, extract_asset
from multiarch.sources.github import GitHubSource, github_client
from multiarch.sources.interface import ReleaseAsset, RetryPolicy
from telemetry.history import History, load_history

# A telemetry folder is a few MB; a history artifact far larger than this is not one.
MAX_ARTIFACT_BYTES: Final = 256 * 1024 * 1024
HISTORY_LIMITS: Final = ExtractLimits(max_total_bytes=1024**3, max_entries=10_000)
# Artifacts are listed newest first; a branch's history is among the newest few hundred.
MAX_ARTIFACTS_LISTED: Final = 300
# Looking for history must not hold the build up for long: a few quick attempts at most.
LOOKUP_RETRY: Final = RetryPolicy(max_attempts=3, base_delay=1.0, max_total_wait=15.0, read_timeout=30.0)


@dataclass(frozen=True)
class HistoryQuery:
    repository: str  # owner/name
    artifact_name: str
    branch: str  # the comparison branch: the base branch of a pull request, else the current one
    current_run_id: str  # this run's artifacts (a re-run's) are not a previous history
    api_url: str
    token: str

    def __repr__(self) -> str:  # the token must never reach a log through a repr
        return f"HistoryQuery({self.repository!r}, {self.artifact_name!r}, branch={self.branch!r})"


@dataclass(frozen=True)
class FoundArtifact:
    id: int
    name: str
    size: int
    download_url: str
    run_id: str
    branch: str
    commit: str


@dataclass(frozen=True)
class HistoryLookup:
    history: History | None
    notice: str | None  # why there is no history to compare with (None: it was found and read)
    artifact: FoundArtifact | None = None

    def describe(self) -> str:
        if self.artifact is None:
            return ""
        a = self.artifact
        return f"artifact {a.name} of run {a.run_id} on {a.branch}"


def _candidates(query: HistoryQuery) -> Iterator[Artifact]:
    repo = github_client(query.api_url, query.token, timeout=LOOKUP_RETRY.read_timeout, lazy=True).get_repo(
        query.repository
    )
    for index, artifact in enumerate(repo.get_artifacts(name=query.artifact_name)):
        if index >= MAX_ARTIFACTS_LISTED:
            return
        yield artifact


def _of_branch(artifact: Artifact, query: HistoryQuery) -> FoundArtifact | None:
    """The artifact if it is this history's, from an earlier run on the comparison branch."""
    run = artifact.workflow_run
    run_id = str(run.id) if run is not None else ""
    branch = (run.head_branch or "") if run is not None else ""
    if artifact.name != query.artifact_name or branch != query.branch or run_id == query.current_run_id:
        return None
    return FoundArtifact(
        id=artifact.id,
        name=artifact.name,
        size=artifact.size_in_bytes,
        download_url=artifact.archive_download_url,
        run_id=run_id,
        branch=branch,
        commit=(run.head_sha or "") if run is not None else "",
    )


def _api_problem(exc: GithubException, query: HistoryQuery) -> str:
    message = ""
    if isinstance(exc.data, dict):
        message = str(exc.data.get("message", ""))
    listing = f"listing artifacts of {query.repository}"
    if exc.status in (401, 403) and "rate limit" in message.lower():
        return f"{listing}: the API rate limit is exhausted ({message})"
    if exc.status in (401, 403):
        return (
            f"{listing}: HTTP {exc.status} {message}".rstrip()
            + "; the token needs `actions: read` (a pull request from a fork gets a read-only token"
            " without it)"
        )
    if exc.status == 404:
        return f"{listing}: HTTP 404 (the repository is not visible to this token)"
    return f"{listing}: HTTP {exc.status} {message}".rstrip()


def find_artifact(query: HistoryQuery) -> tuple[FoundArtifact | None, str]:
    """The newest unexpired artifact of the history, or why there is none."""
    expired: FoundArtifact | None = None
    try:
        for artifact in _candidates(query):
            found = _of_branch(artifact, query)
            if found is not None and not artifact.expired:
                return found, ""
            expired = expired or found
    except GithubException as exc:
        return None, _api_problem(exc, query)
    except requests.RequestException as exc:
        return None, f"listing artifacts of {query.repository}: {type(exc).__name__}"
    if expired is not None:
        return None, (
            f"the newest history artifact {query.artifact_name} on {query.branch} (run {expired.run_id}) has "
            "expired; this run starts a new history"
        )
    return None, f"no history yet: no artifact {query.artifact_name} from an earlier run on {query.branch}"


def _read_zip(zip_path: Path, found: FoundArtifact, scratch: Path) -> HistoryLookup:
    where = f"artifact {found.name} of run {found.run_id}"
    unpacked = scratch / "unpacked"
    try:
        extraction = extract_asset(zip_path, unpacked, asset_name=f"{found.name}.zip", limits=HISTORY_LIMITS)
    except MultiarchError as exc:
        return HistoryLookup(None, f"{where}: unusable zip: {exc.message}", found)
    names = [e.path for e in extraction.files() if e.path.rsplit("/", 1)[-1] == HISTORY_FILE]
    # upload-artifact stores the uploaded folder's contents at the zip's root; one level down is
    # accepted too, for an upload of several paths.
    chosen = HISTORY_FILE if HISTORY_FILE in names else (names[0] if len(names) == 1 else "")
    if not chosen or chosen.count("/") > 1:
        return HistoryLookup(None, f"{where}: no {HISTORY_FILE} in it", found)
    loaded = load_history(unpacked / chosen)
    if loaded.history is None:
        return HistoryLookup(None, f"{where}: {loaded.problem}", found)
    return HistoryLookup(loaded.history, None, found)


def _download(found: FoundArtifact, query: HistoryQuery, target: Path) -> str | None:
    source = GitHubSource(query.repository, token=query.token, api_url=query.api_url, retry=LOOKUP_RETRY)
    asset = ReleaseAsset(name=f"{found.name}.zip", size=found.size, download_ref=found.download_url)
    try:
        with target.open("wb") as sink:
            source.download(asset, sink)
    except MultiarchError as exc:
        return f"artifact {found.name} of run {found.run_id}: download failed: {exc.message}"
    except OSError as exc:
        return f"artifact {found.name}: cannot store the download ({exc})"
    return None


def fetch_history(query: HistoryQuery, scratch_parent: Path | None = None) -> HistoryLookup:
    """Find, download and read the previous history; never raises."""
    if not query.token:
        return HistoryLookup(None, "no token: reading the history from artifacts needs `actions: read`")
    found, why_none = find_artifact(query)
    if found is None:
        return HistoryLookup(None, why_none)
    if found.size > MAX_ARTIFACT_BYTES:
        return HistoryLookup(
            None, f"artifact {found.name}: {found.size} bytes, more than a telemetry folder can be", found
        )
    with tempfile.TemporaryDirectory(prefix="history-", dir=scratch_parent) as tmp:
        scratch = Path(tmp)
        zip_path = scratch / "history.zip"
        problem = _download(found, query, zip_path)
        if problem is not None:
            return HistoryLookup(None, problem, found)
        return _read_zip(zip_path, found, scratch)
