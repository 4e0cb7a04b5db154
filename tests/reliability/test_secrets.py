"""Secrets: with a token set, its value appears in no file, output or log line.

The entrypoint runs against the loopback GitHub server, which requires the token, with the
token given the way the runner gives it (``INPUT_GITHUB-TOKEN``). Scenarios: a build that
succeeds after retried faults (so the retry warnings, which print URLs, are in the log), one
whose token is refused, invalid inputs, a bad package.yaml and a failing ``command`` build (so
every error path prints its messages). Afterwards everything
is grepped for the token and for the encodings a client could leak it in (Basic auth base64):
every file under the workspace (packages, telemetry, summaries), the runner's output and
summary files, its HOME and download cache, and stdout/stderr. The one line allowed to hold
it is ``::add-mask::<token>``, which the runner consumes to mask it and never shows.
"""

from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.reliability.action_run import DEMO, ActionRun, Workspace
from tests.reliability.conftest import Figures
from tests.support.fake_github import FakeGitHub, Fault

ROW = "Secrets"
REPO = "example/hello-demo"


def _token() -> str:
    alphabet = string.ascii_letters + string.digits
    return "ghp_" + "".join(secrets.choice(alphabet) for _ in range(36))


def needles(token: str) -> list[bytes]:
    raw = token.encode()
    return [
        raw,
        base64.b64encode(f"x-access-token:{token}".encode()),
        base64.b64encode(f"{token}:".encode()),
        base64.b64encode(f":{token}".encode()),
        raw[::-1],  # cheap check against a "hidden" copy in logs
    ]


def leaks(root: Path, token: str) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path}: {n[:12]!r}…" for n in needles(token) if n in data]
    return found


def log_leaks(text: str, token: str) -> list[str]:
    bad = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() == f"::add-mask::{token}":
            continue  # the runner consumes this command; it is how the token gets masked
        if any(n.decode() in line for n in needles(token)):
            bad.append(f"line {number}: {line[:80]}")
    return bad


@pytest.fixture
def servers() -> Iterator[dict[str, tuple[FakeGitHub, str]]]:
    """Two servers: one that knows the token (with transient faults), one that refuses it."""
    good, refused = _token(), _token()
    with (
        FakeGitHub(token=good, require_token=True) as ok,
        FakeGitHub(token=_token(), require_token=True) as bad,
    ):
        for gh in (ok, bad):
            gh.add_repo(REPO, license_spdx="MIT")
            gh.add_release_from_dir(REPO, "v1.0.0", DEMO / "release")
        ok.add_fault(
            Fault.server_error("/objects/*", 503, times=1),
            Fault.too_many_requests(f"/repos/{REPO}/releases/tags/*", retry_after=1),
        )
        yield {"retried-then-built": (ok, good), "token-refused": (bad, refused)}


# Scenario -> (server, extra inputs, expected exit-status check, expected failure category).
EXTRA: dict[str, dict[str, str]] = {
    "retried-then-built": {},
    "token-refused": {},
    "invalid inputs": {"max-parallel": "lots"},
    "bad package.yaml": {},
    "command build that fails": {"command": "echo compiling; python3 -c 'import sys; sys.exit(3)'"},
}
CATEGORY = {
    "retried-then-built": "",
    "token-refused": "permission",
    "invalid inputs": "configuration",
    "bad package.yaml": "configuration",
    "command build that fails": None,  # whatever the analysis says; only the leak matters
}


def _run(tmp_path: Path, name: str, gh: FakeGitHub, token: str) -> ActionRun:
    ws = Workspace.create(tmp_path)
    ws.add_demo(config=b"package_name: x\nbad_key: 1\n" if name == "bad package.yaml" else None)
    env = gh.env(with_token=False)
    inputs = {"version": "v1.0.0", "output-dir": "out", "github-token": token, "sample-interval": "0.2"}
    return ws.run({**inputs, **EXTRA[name]}, env)


def test_token_never_written_or_printed(
    servers: dict[str, tuple[FakeGitHub, str]], tmp_path: Path, figures: Figures
) -> None:
    ok, good = servers["retried-then-built"]
    scenarios = {name: servers.get(name, (ok, good)) for name in EXTRA}
    with ThreadPoolExecutor(max_workers=len(scenarios)) as pool:
        futures = {n: pool.submit(_run, tmp_path / n.replace(" ", "-"), n, *scenarios[n]) for n in scenarios}
        runs = {n: f.result() for n, f in futures.items()}
    for name, run in runs.items():
        gh, token = scenarios[name]
        with figures.case(ROW, name) as record:
            run.check_no_traceback()
            if name == "retried-then-built":
                assert run.returncode == 0, run.log()
                assert gh.pending_faults() == [], "the faults never fired"
                # The token was really in use: the API saw it, the storage host never did.
                api = [r for r in gh.requests if r.path.startswith("/repos/")]
                assert api and all(r.contains(token) for r in api)
            else:
                assert run.returncode != 0, run.log()
                expected = CATEGORY[name]
                if expected is not None:
                    assert run.outputs.get("failure-category") == expected, run.log()
            assert not any(r.contains(token) for r in gh.requests_matching("/objects/*"))
            assert f"::add-mask::{token}" in run.stdout, "the token was not masked first"
            found = leaks(run.ws.root, token) + leaks(run.ws.runner, token)
            found += log_leaks(run.stdout, token) + log_leaks(run.stderr, token)
            assert found == [], "token leaked:\n" + "\n".join(found)
            files = sum(1 for p in run.ws.root.rglob("*") if p.is_file())
            files += sum(1 for p in run.ws.runner.rglob("*") if p.is_file())
            lines = len(run.stdout.splitlines()) + len(run.stderr.splitlines())
            record.outcome = f"no leak in {files} files and {lines} log lines"
