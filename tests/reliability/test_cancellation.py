"""Cancellation and crashes of the entrypoint, mid-build.

GitHub cancels a step with SIGINT, then SIGTERM, then kills the container. Two kinds of
"mid-build" are used, because they stop in different places:

- *stalled download*: the demo package from the loopback GitHub server, whose asset downloads
  stall; the builder sits in a socket read (cheap and deterministic);
- *packaging*: the real uv release (40 MB of executables) from a local folder, signalled while
  its payload is being compressed, so the tree is busy on the CPU when the signal lands.

SIGTERM/SIGINT to the entrypoint: every process of the build tree stops within 5 s, the run
ends ``cancelled`` (not a failure), and ``metrics.json``, ``build-summary.json`` and the sample
logs are valid. ``kill -9`` of the entrypoint *and* its tree (what a container teardown does):
the sample logs are JSON lines up to the last line, and no ``.deb`` under its final name is
half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.reliability.action_run import (
    DEMO,
    Workspace,
    alive,
    debs_are_whole,
    descendants,
    json_lines_valid_to_the_end,
    kill_all,
    kill_group,
    release_copy,
    sample_logs,
    stage_started,
    validate,
    wait_for,
)
from tests.reliability.conftest import Figures
from tests.support.fake_github import FakeGitHub, Fault
from tests.support.fixtures import FAKE_TOKEN

ROW = "Cancellation and crashes"
STOP_WITHIN = 5.0
FAST = {"MULTIARCH_XZ_PRESET": "0"}  # same packages, less CPU: only the timing matters here


@pytest.fixture
def stalled_github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=FAKE_TOKEN) as gh:
        gh.add_repo("example/hello-demo", license_spdx="MIT")
        gh.add_release_from_dir("example/hello-demo", "v1.0.0", DEMO / "release")
        gh.add_fault(Fault.stall("/objects/*", 60.0, times=None))
        yield gh


def _start_stalled(tmp_path: Path, gh: FakeGitHub) -> tuple[Workspace, subprocess.Popen[bytes]]:
    ws = Workspace.create(tmp_path)
    ws.add_demo()
    proc = ws.start(
        {"version": "v1.0.0", "output-dir": "out", "sample-interval": "0.2"}, {**gh.env(), **FAST}
    )
    return ws, proc


def _start_packaging(tmp_path: Path, uv_release_dir: Path) -> tuple[Workspace, subprocess.Popen[bytes]]:
    ws = Workspace.create(tmp_path)
    release_copy(uv_release_dir, ws.root / "release")
    (ws.root / "package.yaml").write_bytes((DEMO.parent / "uv" / "package.yaml").read_bytes())
    inputs = {
        "version": "0.5.11",
        "assets-dir": "release",
        "output-dir": "out",
        "architecture": "amd64",
        "max-parallel": "2",
        "sample-interval": "0.2",
    }
    return ws, ws.start(inputs, FAST)


def _wait_stage(ws: Workspace, proc: subprocess.Popen[bytes], prefix: str) -> None:
    if not wait_for(lambda: stage_started(ws.root, prefix) or proc.poll() is not None, 60):
        kill_group(proc.pid)
        raise AssertionError(f"no {prefix}* stage within 60 s")
    if proc.poll() is not None:
        out, err = proc.communicate()
        raise AssertionError(f"the run ended before {prefix}*: {out.decode()[-2000:]}{err.decode()[-2000:]}")
    time.sleep(0.5)  # a couple of sampler ticks, so the sample logs have content to check


@pytest.mark.parametrize("where", ["stalled-download", "packaging"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_build_stops_the_tree_and_reports_cancelled(
    signum: int,
    where: str,
    tmp_path: Path,
    stalled_github: FakeGitHub,
    uv_release_dir: Path,
    figures: Figures,
) -> None:
    name = f"{signal.Signals(signum).name} during {where}"
    with figures.case(ROW, name) as record:
        if where == "stalled-download":
            ws, proc = _start_stalled(tmp_path, stalled_github)
            _wait_stage(ws, proc, "download_")
        else:
            ws, proc = _start_packaging(tmp_path, uv_release_dir)
            _wait_stage(ws, proc, "package_")
        try:
            tree = descendants(proc.pid)
            assert tree, "no build process to stop"
            sent = time.monotonic()
            os.kill(proc.pid, signum)
            stopped = wait_for(lambda: not alive(tree), STOP_WITHIN + 1)
            took = time.monotonic() - sent
            assert stopped and took <= STOP_WITHIN, f"build tree still running {took:.1f}s after {name}"
            out, err = proc.communicate(timeout=60)
        finally:
            kill_group(proc.pid)
            kill_all(descendants(proc.pid))
        run = ws.collect(proc.returncode, out, err)
        run.check_no_traceback()
        assert run.returncode != 0, run.log()
        summary = run.check_summary()
        assert summary["status"] == "cancelled", summary
        assert run.outputs.get("build-status") == "cancelled", run.outputs
        # Cancelled is not a failure: no failure category.
        assert run.outputs.get("failure-category", "") == "", run.outputs
        metrics = json.loads((run.telemetry_dir / "metrics.json").read_text())
        validate(metrics, "metrics")
        logs = sample_logs(run.telemetry_dir)
        assert logs, "no sample logs"
        lines = sum(json_lines_valid_to_the_end(log) for log in logs)
        assert lines > 0
        assert debs_are_whole(ws.root / "out") == [] if (ws.root / "out").exists() else True
        record.outcome = (
            f"tree stopped in {took:.1f}s; cancelled; metrics, summary, {len(logs)} sample logs valid"
        )


@pytest.mark.parametrize("moment", ["compressing", "first-deb-renamed"])
def test_kill_9_leaves_valid_logs_and_no_half_written_deb(
    moment: str, tmp_path: Path, uv_release_dir: Path, figures: Figures
) -> None:
    require_tool("dpkg-deb")
    with figures.case(ROW, f"kill -9 while {moment}") as record:
        ws, proc = _start_packaging(tmp_path, uv_release_dir)
        out = ws.root / "out"
        temp_at_kill: list[str] = []
        try:
            _wait_stage(ws, proc, "package_")
            if moment == "first-deb-renamed":
                # The other suites' packages are written right after the first: killing at the
                # first rename catches the next one mid-write.
                assert wait_for(lambda: any(out.glob("*.deb")) or proc.poll() is not None, 120, 0.005)
            tree = descendants(proc.pid)
            # What a container teardown does: everything dies at once, no handler runs.
            kill_all([proc.pid, *tree])
            temp_at_kill = sorted(p.name for p in out.glob(".*")) if out.exists() else []
            assert wait_for(lambda: not alive(tree | {proc.pid}), 10)
            proc.communicate(timeout=10)
        finally:
            kill_group(proc.pid)
        telemetry = ws.root / ".telemetry"
        logs = sample_logs(telemetry)
        assert logs, "no sample logs"
        torn = []
        for log in logs:
            json_lines_valid_to_the_end(log, allow_torn_tail=True)
            data = log.read_bytes()
            if data and not data.endswith(b"\n"):
                torn.append(log.name)
        # Files that are only ever replaced whole must be absent or complete.
        for whole in ("metrics.json", "build-summary.json"):
            for path in (telemetry / whole, out / whole):
                if path.exists():
                    json.loads(path.read_text())
        finals = sorted(p.name for p in out.glob("*.deb")) if out.exists() else []
        assert debs_are_whole(out) == [] if out.exists() else True
        record.outcome = (
            f"{len(finals)} final .deb whole, {len(temp_at_kill)} temp file(s) at the kill, "
            f"sample logs valid{' (torn tail: ' + ', '.join(torn) + ')' if torn else ''}"
        )


def _finish_cancelled(
    ws: Workspace, proc: subprocess.Popen[bytes], tree: set[int], sent: float, head: bytes = b""
) -> str:
    """Wait for the tree and the entrypoint; check the cancelled run's files. Returns timing text."""
    try:
        stopped = wait_for(lambda: not alive(tree), STOP_WITHIN + 1)
        took = time.monotonic() - sent
        assert stopped and took <= STOP_WITHIN, f"build tree still running {took:.1f}s after the signal"
        out, err = proc.communicate(timeout=60)
    finally:
        kill_group(proc.pid)
    run = ws.collect(proc.returncode, head + out, err)
    run.check_no_traceback()
    assert run.returncode != 0, run.log()
    assert run.check_summary()["status"] == "cancelled"
    assert run.outputs.get("build-status") == "cancelled", run.outputs
    metrics = run.telemetry_dir / "metrics.json"
    if metrics.exists():  # absent only when the build never started
        validate(json.loads(metrics.read_text()), "metrics")
    for log in sample_logs(run.telemetry_dir):
        json_lines_valid_to_the_end(log)
    return f"{took:.1f}s"


def test_sigint_then_sigterm_like_the_runner(
    tmp_path: Path, stalled_github: FakeGitHub, figures: Figures
) -> None:
    """GitHub's cancel: SIGINT, then SIGTERM while the first is still being handled."""
    with figures.case(ROW, "SIGINT then SIGTERM 0.3 s later") as record:
        ws, proc = _start_stalled(tmp_path, stalled_github)
        _wait_stage(ws, proc, "download_")
        tree = descendants(proc.pid)
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        time.sleep(0.3)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        took = _finish_cancelled(ws, proc, tree, sent)
        record.outcome = f"tree stopped in {took}; cancelled; files valid"


@pytest.mark.parametrize("after", ["first line", "build-starts line"])
def test_sigterm_at_start_up(
    after: str, tmp_path: Path, stalled_github: FakeGitHub, figures: Figures
) -> None:
    """A signal before the build has started must still end in a prompt, reported cancellation.

    ``first line``: the token mask, printed right after the entrypoint installs its handlers
    (earlier, the interpreter itself is still starting and the default action applies, as for
    any program). ``build-starts line``: printed after the last "cancelled already?" check and
    before the telemetry session takes over the handlers, the window where a signal used to be
    recorded and then ignored while the build ran to its end.
    """
    with figures.case(ROW, f"SIGTERM right after the {after}") as record:
        ws, proc = _start_stalled(tmp_path, stalled_github)
        assert proc.stdout is not None
        head = proc.stdout.readline()
        if after == "build-starts line":
            while head and b"[action] build starts" not in head.splitlines()[-1]:
                head += proc.stdout.readline()
        tree = descendants(proc.pid)
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        _finish_cancelled(ws, proc, tree | descendants(proc.pid), sent, head)
        ended = time.monotonic() - sent
        # Not left to run its (stalled) build to the end: it stops and reports promptly.
        assert ended <= 15, f"the entrypoint took {ended:.1f}s to stop after a start-up SIGTERM"
        record.outcome = f"entrypoint done {ended:.1f}s after the signal; cancelled; files valid"


def test_kill_9_during_a_stalled_download(
    tmp_path: Path, stalled_github: FakeGitHub, figures: Figures
) -> None:
    with figures.case(ROW, "kill -9 during a stalled download") as record:
        ws, proc = _start_stalled(tmp_path, stalled_github)
        try:
            _wait_stage(ws, proc, "download_")
            tree = descendants(proc.pid)
            kill_all([proc.pid, *tree])
            assert wait_for(lambda: not alive(tree | {proc.pid}), 10)
            proc.communicate(timeout=10)
        finally:
            kill_group(proc.pid)
        logs = sample_logs(ws.root / ".telemetry")
        assert logs
        for log in logs:
            json_lines_valid_to_the_end(log, allow_torn_tail=True)
        out = ws.root / "out"
        assert not out.exists() or not any(out.glob("*.deb"))
        record.outcome = f"{len(logs)} sample logs valid, no package"


def test_sigterm_during_lintian(tmp_path: Path, figures: Figures) -> None:
    """The build's own children (lintian, a perl process tree) must stop within the limit too."""
    require_tool("lintian")
    with figures.case(ROW, "SIGTERM during lintian") as record:
        ws = Workspace.create(tmp_path)
        ws.add_demo()
        inputs = {
            "version": "v1.0.0",
            "assets-dir": "release",
            "output-dir": "out",
            "lintian-check": "true",
            "sample-interval": "0.2",
        }
        proc = ws.start(inputs, FAST)
        _wait_stage(ws, proc, "lintian_")
        tree = descendants(proc.pid)
        names = set()
        for pid in alive(tree):
            with contextlib.suppress(OSError):  # it may exit between the two reads
                names.add(Path(f"/proc/{pid}/comm").read_text().strip())
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        took = _finish_cancelled(ws, proc, tree, sent)
        record.outcome = f"tree of {len(tree)} ({', '.join(sorted(names))}) stopped in {took}; cancelled"


def test_sigterm_with_telemetry_disabled(
    tmp_path: Path, stalled_github: FakeGitHub, figures: Figures
) -> None:
    """Without the session, the plain runner forwards the signal; the same promises hold."""
    with figures.case(ROW, "SIGTERM during a stalled download, telemetry disabled") as record:
        ws = Workspace.create(tmp_path)
        ws.add_demo()
        proc = ws.start(
            {"version": "v1.0.0", "output-dir": "out", "telemetry-enabled": "false"},
            {**stalled_github.env(), **FAST},
        )
        # No event channel without telemetry: wait until the stalled download is in flight.
        assert wait_for(lambda: bool(stalled_github.requests_matching("/objects/*")), 60)
        tree = descendants(proc.pid)
        assert tree
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        took = _finish_cancelled(ws, proc, tree, sent)
        assert not (ws.root / ".telemetry" / "metrics.json").exists()
        record.outcome = f"tree stopped in {took}; cancelled; build-summary valid"
