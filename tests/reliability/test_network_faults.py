"""Network faults from the loopback GitHub-shaped server, injected per request.

The builder's real code path (``GitHubSource`` through PyGithub and requests, ``DownloadCache``)
talks to ``tests.support.fake_github``; each case arms a fault for a number of requests and then
lets requests through. Transient faults must be retried a bounded number of times and the
download must then succeed with the right bytes; permanent ones must fail at once with the right
category; the retry count must reach telemetry (``download_retries`` / ``api_retries`` counters
on the stage event channel, which the session folds into ``metrics.json``'s ``counters``).

Waiting is not real: the retry policy's ``sleep`` records what it was asked to wait, so a
``Retry-After: 2`` or a rate-limit reset is checked without slowing the suite down.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from multiarch.download import DownloadCache
from multiarch.errors import MultiarchError
from multiarch.sources.github import GitHubSource
from multiarch.sources.interface import Release, ReleaseAsset, RetryPolicy
from telemetry import events
from tests.reliability.conftest import Figures
from tests.support.fake_github import FakeGitHub, Fault
from tests.support.fixtures import FAKE_TOKEN

ROW = "Network faults"
REPO = "astral-sh/uv"
TAG = "0.5.11"
ASSET = "uv-x86_64-unknown-linux-gnu.tar.gz"
# Big enough that "half the body" is several socket writes, so a reset really is mid-body.
BODY = random.Random(5).randbytes(384 * 1024)
OBJECTS = "/objects/*"
API_ASSET = f"/repos/{REPO}/releases/assets/*"
API_TAG = f"/repos/{REPO}/releases/tags/*"
MAX_ATTEMPTS = 4


@dataclass
class Net:
    gh: FakeGitHub
    source: GitHubSource
    cache: DownloadCache
    sleeps: list[float]
    events_file: Path

    def counters(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        if not self.events_file.exists():
            return totals
        for line in self.events_file.read_text().splitlines():
            event = json.loads(line)
            if event.get("type") == "counter":
                totals[event["name"]] = totals.get(event["name"], 0) + event["value"]
        return totals

    def release(self) -> Release:
        return self.source.get_release(TAG)

    def fetch(self) -> bytes:
        release = self.release()
        asset = release.asset(ASSET)
        assert asset is not None
        cached = self.cache.fetch(self.source, asset)
        return cached.path.read_bytes()


@pytest.fixture
def net(fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Net:
    fake_github.add_release(REPO, TAG, {ASSET: BODY, "SHA256SUMS": b"irrelevant\n"})
    events_file = tmp_path / "events.jsonl"
    monkeypatch.setenv(events.ENV_VAR, str(events_file))
    sleeps: list[float] = []
    policy = RetryPolicy(
        max_attempts=MAX_ATTEMPTS,
        base_delay=0.01,
        max_delay=0.05,
        max_total_wait=30.0,
        connect_timeout=2.0,
        read_timeout=1.0,
        jitter=0.0,
        sleep=sleeps.append,
    )
    source = GitHubSource(REPO, token=FAKE_TOKEN, api_url=fake_github.api_url, retry=policy)
    return Net(fake_github, source, DownloadCache(tmp_path / "cache"), sleeps, events_file)


# --------------------------------------------------------------------------- transient


@dataclass(frozen=True)
class Transient:
    fault: Fault
    retries: int  # how many failed attempts the fault causes
    counter: str  # the telemetry counter that must show them
    min_wait: float = 0.0  # the server's requested wait must be honoured (at least this long)


TRANSIENT = {
    "http-500-twice": Transient(Fault.server_error(OBJECTS, 500, times=2), 2, "download_retries"),
    "http-502": Transient(Fault.server_error(OBJECTS, 502, times=1), 1, "download_retries"),
    "http-503-thrice": Transient(Fault.server_error(OBJECTS, 503, times=3), 3, "download_retries"),
    "http-429-retry-after": Transient(
        Fault.too_many_requests(API_ASSET, retry_after=2), 1, "download_retries", min_wait=2.0
    ),
    "http-403-ratelimit-reset": Transient(
        Fault.rate_limited(API_ASSET, reset_in=3), 1, "download_retries", min_wait=2.0
    ),
    "http-403-secondary-ratelimit": Transient(
        Fault.secondary_rate_limit(API_ASSET, retry_after=1), 1, "download_retries", min_wait=1.0
    ),
    "reset-mid-body": Transient(Fault.connection_reset(OBJECTS, 0.5), 1, "download_retries"),
    "truncated-body": Transient(Fault.truncated(OBJECTS, 0.3), 1, "download_retries"),
    "stall-before-headers": Transient(Fault.stall(OBJECTS, 4.0), 1, "download_retries"),
    "stall-mid-body": Transient(Fault.stall(OBJECTS, 4.0, fraction=0.5), 1, "download_retries"),
    "wrong-length-once": Transient(Fault.wrong_length(OBJECTS, 1000), 1, "download_retries"),
    "api-502-on-release": Transient(Fault.server_error(API_TAG, 502, times=2), 2, "api_retries"),
    "api-429-on-repo": Transient(
        Fault.too_many_requests(f"/repos/{REPO}", retry_after=1), 1, "api_retries", min_wait=1.0
    ),
    "api-reset-on-release": Transient(Fault.connection_reset(API_TAG, 0.5), 1, "api_retries"),
}


@pytest.mark.parametrize("name", list(TRANSIENT))
def test_transient_fault_is_retried_then_succeeds(name: str, net: Net, figures: Figures) -> None:
    case = TRANSIENT[name]
    with figures.case(ROW, name) as record:
        net.gh.add_fault(case.fault)
        data = net.fetch()
        assert hashlib.sha256(data).digest() == hashlib.sha256(BODY).digest()
        assert net.gh.pending_faults() == [], "the fault never fired, so the case tested nothing"
        assert len(net.sleeps) == case.retries
        if case.min_wait:
            assert max(net.sleeps) >= case.min_wait, f"server asked to wait, we slept {net.sleeps}"
        counters = net.counters()
        assert counters.get(case.counter) == case.retries, counters
        record.outcome = "retried, then built"


# --------------------------------------------------------------------------- permanent


@dataclass(frozen=True)
class Permanent:
    arm: Callable[[Net], None]
    category: str
    max_requests: int  # to the faulted path: "fail fast" means no pointless retries
    path: str = OBJECTS
    retries: int = 0  # failed attempts telemetry must report (bounded retries before giving up)


def _tamper(net: Net) -> None:
    # Same length, different bytes: the release's digest no longer matches what is served.
    asset = net.gh.asset(REPO, TAG, ASSET)
    asset.source = bytes(b ^ 0xFF for b in BODY[:16]) + BODY[16:]


PERMANENT = {
    "http-404-asset": Permanent(lambda n: n.gh.add_fault(Fault.not_found(OBJECTS)), "network", 1),
    "http-410-asset": Permanent(
        lambda n: n.gh.add_fault(Fault.status_code(OBJECTS, 410, times=None)), "network", 1
    ),
    "redirect-loop": Permanent(
        lambda n: n.gh.add_fault(Fault.redirect_loop(API_ASSET)), "network", 6, path=API_ASSET
    ),
    "checksum-mismatch": Permanent(_tamper, "security", 1),
    "429-retry-after-beyond-budget": Permanent(
        lambda n: n.gh.add_fault(Fault.too_many_requests(API_ASSET, retry_after=3600, times=None)),
        "network",
        1,
        path=API_ASSET,
    ),
    "http-403-forbidden": Permanent(
        lambda n: n.gh.add_fault(Fault.status_code(API_ASSET, 403, times=None)),
        "permission",
        1,
        path=API_ASSET,
    ),
    # Never clears: retried up to the bound, then a network failure whose retries still count.
    "http-503-forever": Permanent(
        lambda n: n.gh.add_fault(Fault.server_error(OBJECTS, 503, times=None)),
        "network",
        MAX_ATTEMPTS,
        retries=MAX_ATTEMPTS - 1,
    ),
    "wrong-size-forever": Permanent(
        lambda n: n.gh.add_fault(Fault.wrong_length(OBJECTS, 1000, times=None)),
        "network",
        MAX_ATTEMPTS,
        retries=MAX_ATTEMPTS - 1,
    ),
}


@pytest.mark.parametrize("name", list(PERMANENT))
def test_permanent_fault_fails_fast_with_category(name: str, net: Net, figures: Figures) -> None:
    case = PERMANENT[name]
    with figures.case(ROW, name) as record:
        release = net.release()  # metadata is fine; the fault hits the download
        asset = release.asset(ASSET)
        assert asset is not None
        case.arm(net)
        net.gh.clear_requests()
        with pytest.raises(MultiarchError) as caught:
            net.cache.fetch(net.source, asset)
        error = caught.value
        assert error.category == case.category, f"{error.category}: {error}"
        assert ASSET in str(error), f"the error does not name the asset: {error}"
        assert len(net.gh.requests_matching(case.path)) <= case.max_requests
        assert len(net.sleeps) == case.retries
        assert net.counters().get("download_retries", 0) == case.retries
        # Nothing half-downloaded may be left where a later run would pick it up.
        assert list((net.cache.root / "sha256").iterdir()) == []
        assert list((net.cache.root / "tmp").iterdir()) == []
        record.outcome = f"failed fast: {error.category}"
        if case.retries:
            record.outcome = f"gave up after {case.retries} retries: {error.category}"


def test_missing_tag_and_refused_token(net: Net, figures: Figures) -> None:
    with figures.case(ROW, "release-tag-404") as record:
        with pytest.raises(MultiarchError) as caught:
            net.source.get_release("v9.9.9")
        assert caught.value.category == "configuration"
        assert "v9.9.9" in str(caught.value)
        record.outcome = "failed fast: configuration"
    with figures.case(ROW, "http-401-bad-token") as record:
        bad = GitHubSource(REPO, token="ghp_wrong", api_url=net.gh.api_url, retry=net.source.retry)
        with pytest.raises(MultiarchError) as caught:
            bad.get_release(TAG)
        assert caught.value.category == "permission"
        assert "ghp_wrong" not in str(caught.value)
        record.outcome = "failed fast: permission"


def test_retry_counts_reach_metrics_json_through_the_entrypoint(tmp_path: Path, figures: Figures) -> None:
    """The whole path: faults on the loopback server, the action's session, metrics.json."""
    from tests.reliability.action_run import DEMO, Workspace, validate

    with figures.case(ROW, "entrypoint: 502 on the asset, 503 on the release API") as record:
        with FakeGitHub(token=FAKE_TOKEN) as gh:
            gh.add_repo("example/hello-demo", license_spdx="MIT")
            gh.add_release_from_dir("example/hello-demo", "v1.0.0", DEMO / "release")
            gh.add_fault(
                Fault.server_error("/objects/*", 502, times=2),
                Fault.server_error("/repos/example/hello-demo/releases/tags/*", 503, times=1),
            )
            ws = Workspace.create(tmp_path)
            ws.add_demo()
            run = ws.run({"version": "v1.0.0", "output-dir": "out", "architecture": "amd64"}, gh.env())
            assert gh.pending_faults() == []
        run.check_no_traceback()
        assert run.returncode == 0, run.log()
        assert run.outputs["build-status"] == "success"
        metrics = json.loads((run.telemetry_dir / "metrics.json").read_text())
        validate(metrics, "metrics")
        counters = metrics["build_metrics"]["counters"]
        assert counters.get("download_retries") == 2, counters
        assert counters.get("api_retries") == 1, counters
        record.outcome = "retried, then built; retries in metrics.json"


@pytest.mark.parametrize("fault", ["tampered asset", "asset 404"])
def test_permanent_faults_through_the_entrypoint(fault: str, tmp_path: Path, figures: Figures) -> None:
    from tests.reliability.action_run import DEMO, Workspace

    with figures.case(ROW, f"entrypoint: {fault}") as record:
        with FakeGitHub(token=FAKE_TOKEN) as gh:
            gh.add_repo("example/hello-demo", license_spdx="MIT")
            gh.add_release_from_dir("example/hello-demo", "v1.0.0", DEMO / "release")
            name = "hello-demo-x86_64-unknown-linux-gnu.tar.gz"
            asset = gh.asset("example/hello-demo", "v1.0.0", name)
            if fault == "tampered asset":
                # Same size, other bytes: the sidecar .sha256 and the API digest both disagree.
                data = asset.source.read_bytes() if isinstance(asset.source, Path) else asset.source
                asset.source = bytes([data[0] ^ 0xFF]) + data[1:]
            else:
                gh.add_fault(Fault.not_found(f"/objects/{asset.id}/*"))
            ws = Workspace.create(tmp_path)
            ws.add_demo()
            run = ws.run({"version": "v1.0.0", "output-dir": "out", "architecture": "amd64"}, gh.env())
            fetches = len(gh.requests_matching(f"/objects/{asset.id}/*"))
        run.check_no_traceback()
        assert run.returncode != 0, run.log()
        expected = "security" if fault == "tampered asset" else "network"
        assert run.outputs["failure-category"] == expected, run.log()
        assert fetches == 1, f"a permanent fault was retried: {fetches} fetches"
        assert name in json.dumps(run.check_summary()), "the summary does not name the asset"
        record.outcome = f"failed fast: {expected}"


# --------------------------------------------------------------------------- bad redirects

BAD_LOCATIONS = {
    "redirect to file://": "file:///etc/passwd",
    "redirect to ftp://": "ftp://127.0.0.1/asset",
    "redirect to data:": "data:text/plain,hello",
    "malformed redirect": "http://[::1",
}


class _Redirector(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a 302 to the Location whose index ends the path."""

    hits = 0

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(302)
        self.send_header("Location", list(BAD_LOCATIONS.values())[int(self.path.rsplit("/", 1)[1])])
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.mark.parametrize("name", list(BAD_LOCATIONS))
def test_unusable_redirect_fails_fast(name: str, figures: Figures) -> None:
    with figures.case(ROW, name) as record:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}"
            sleeps: list[float] = []
            source = GitHubSource(REPO, api_url=base, retry=RetryPolicy(max_attempts=3, sleep=sleeps.append))
            index = list(BAD_LOCATIONS).index(name)
            asset = ReleaseAsset(
                name=ASSET, size=10, download_ref=f"{base}/assets/{index}", digest_sha256=None
            )
            _Redirector.hits = 0
            with pytest.raises(MultiarchError) as caught:
                source.download(asset, io.BytesIO())
        finally:
            server.shutdown()
            server.server_close()
        assert caught.value.category == "network" and not caught.value.transient, caught.value
        assert ASSET in str(caught.value)
        assert _Redirector.hits == 1 and sleeps == [], "an unusable redirect was retried"
        record.outcome = "failed fast: network"
