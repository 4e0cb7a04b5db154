"""Resource faults: a full output disk, and a build child killed as the OOM killer would.

- The output folder is a small tmpfs (``mount -t tmpfs -o size=…``; the tests run as root)
  that fills up after a few packages: the run must say ``resource``, and the packages written
  before the disk filled must be intact and listed, nothing half-written under a final name.
- The build child gets SIGKILL (what the OOM killer sends): the run must say ``resource`` and
  carry the memory figures (peak memory in the outputs, build-summary.json, metrics.json and
  the job summary, next to the category). Both the
  built-in builder (killed while it waits on a stalled download) and a ``command`` build that
  really holds 300 MB when it dies (the exact peak must not be missed by sampling).
- A real OOM kill: the entrypoint runs in a cgroup of our own capped at 200 MB and its command
  asks for 400 MB; the kernel's OOM killer must be recognised as such.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_root, require_tool, skip_or_fail
from tests.reliability.action_run import (
    DEMO,
    ActionRun,
    Workspace,
    alive,
    debs_are_whole,
    descendants,
    kill_all,
    kill_group,
    stage_started,
    validate,
    wait_for,
)
from tests.reliability.conftest import Figures
from tests.support.fake_github import FakeGitHub, Fault
from tests.support.fixtures import FAKE_TOKEN

ROW = "Resource faults"
PAGE = 4096
# Free space left on the output tmpfs: three demo packages (~3.2 KB, one page each) fit.
FREE_PAGES = 3


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    require_root()
    require_tool("mount", "umount")
    mountpoint = tmp_path / "workspace" / "out"
    mountpoint.mkdir(parents=True)
    size = 64 * 1024
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        skip_or_fail(f"mount -t tmpfs not permitted here: {done.stderr.strip()}")
    try:
        # Fill it up but for a few pages, so it runs out after a few packages, mid-build.
        (mountpoint / ".filler").write_bytes(b"\0" * (size - FREE_PAGES * PAGE))
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def test_output_disk_fills_mid_build(tmp_path: Path, small_tmpfs: Path, figures: Figures) -> None:
    require_tool("dpkg-deb")
    with figures.case(ROW, "output tmpfs fills up mid-build") as record:
        ws = Workspace(tmp_path / "workspace", tmp_path / "runner")
        for sub in ("home", "temp", "cache"):
            (ws.runner / sub).mkdir(parents=True)
        ws.add_demo()
        run = ws.run({"version": "v1.0.0", "assets-dir": "release", "output-dir": "out", "max-parallel": "1"})
        run.check_no_traceback()
        assert run.returncode != 0, run.log()
        assert run.outputs.get("failure-category") == "resource", run.log()
        written = sorted(p.name for p in small_tmpfs.glob("*.deb"))
        assert 0 < len(written) < 6, f"the disk should fill after a few packages: {written}"
        assert debs_are_whole(small_tmpfs) == []
        listed = run.outputs.get("packages", "").split()
        assert sorted(Path(p).name for p in listed) == written, (listed, written)
        assert run.outputs.get("build-status") in ("partial", "failure"), run.outputs
        # The full disk is where build-summary.json would go; it must still be written (the
        # output says where) and valid.
        summary = run.check_summary()
        assert summary["status"] == run.outputs["build-status"]
        where = "output folder" if run.summary_path.parent == small_tmpfs else "telemetry folder"
        record.outcome = (
            f"resource; {len(written)} packages written intact; build-summary.json valid ({where})"
        )


@pytest.fixture
def stalled_github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=FAKE_TOKEN) as gh:
        gh.add_repo("example/hello-demo", license_spdx="MIT")
        gh.add_release_from_dir("example/hello-demo", "v1.0.0", DEMO / "release")
        gh.add_fault(Fault.stall("/objects/*", 60.0, times=None))
        yield gh


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _check_resource_with_memory(run: ActionRun) -> float:
    run.check_no_traceback()
    assert run.returncode != 0, run.log()
    assert run.outputs.get("failure-category") == "resource", run.log()
    summary = run.check_summary()
    assert summary["status"] == "failure", summary
    metrics = json.loads((run.telemetry_dir / "metrics.json").read_text())
    validate(metrics, "metrics")
    peak = float(metrics["memory_metrics"]["peak_usage_mb"])
    assert peak > 0
    report = json.loads((run.telemetry_dir / "failure-report.json").read_text())
    validate(report, "failure-report")
    primary = report["primary"]
    assert primary["category"] == "resource", primary
    assert primary["signal"] == "SIGKILL", primary
    # The memory figures travel with the failure: the outputs, build-summary.json and the job
    # summary a reader opens first all carry the peak next to the category.
    assert float(run.outputs["peak-memory-mb"]) == pytest.approx(peak, abs=1)
    assert summary["telemetry"]["peak_memory_mb"] == pytest.approx(peak, abs=1)
    page = run.ws.summary_file.read_text(encoding="utf-8")
    shown = re.search(r"Peak memory \| ([\d.]+) MB", page)
    assert "resource" in page and shown is not None, page[:3000]
    assert float(shown.group(1)) == pytest.approx(peak, abs=1), shown.group(0)
    return peak


def test_builder_child_sigkilled(tmp_path: Path, stalled_github: FakeGitHub, figures: Figures) -> None:
    with figures.case(ROW, "builder child SIGKILLed mid-build") as record:
        ws = Workspace.create(tmp_path)
        ws.add_demo()
        proc = ws.start(
            {"version": "v1.0.0", "output-dir": "out", "sample-interval": "0.2"}, stalled_github.env()
        )
        try:
            assert wait_for(lambda: stage_started(ws.root, "download_") or proc.poll() is not None, 60)
            builders = [p for p in descendants(proc.pid) if "-m multiarch build" in _cmdline(p)]
            assert builders, "the builder process was not found"
            kill_all(builders)
            assert wait_for(lambda: not alive(set(builders)), 5)
            out, err = proc.communicate(timeout=60)
        finally:
            kill_group(proc.pid)
        run = ws.collect(proc.returncode, out, err)
        peak = _check_resource_with_memory(run)
        record.outcome = f"resource, peak {peak:.0f} MB reported"


def test_command_child_sigkilled_holding_memory(tmp_path: Path, figures: Figures) -> None:
    with figures.case(ROW, "command build SIGKILLed holding 300 MB") as record:
        ws = Workspace.create(tmp_path)
        # Touch every page so the memory is really resident, then die the way the OOM killer kills.
        script = (
            "import os, signal, time; b = bytearray(300 << 20); "
            "[b.__setitem__(i, 1) for i in range(0, len(b), 4096)]; time.sleep(0.3); "
            "os.kill(os.getpid(), signal.SIGKILL)"
        )
        run = ws.run({"command": f'python3 -c "{script}"', "sample-interval": "0.2"})
        peak = _check_resource_with_memory(run)
        assert peak >= 290, f"peak {peak} MB: the 300 MB the child held were missed"
        record.outcome = f"resource, peak {peak:.0f} MB reported"


@pytest.fixture
def memory_limited_cgroup() -> Iterator[Path]:
    """A cgroup of our own capped at 200 MB, for a real OOM kill; yields its ``cgroup.procs``."""
    require_root()
    name = f"reliability-oom-{os.getpid()}"
    limit = str(200 * 1024 * 1024)
    v1 = Path("/sys/fs/cgroup/memory")
    v2 = Path("/sys/fs/cgroup")
    if (v1 / "memory.limit_in_bytes").exists():
        group = v1 / name
        settings = {"memory.limit_in_bytes": limit, "memory.memsw.limit_in_bytes": limit}
    elif "memory" in (v2 / "cgroup.subtree_control").read_text(errors="replace").split():
        group = v2 / name
        settings = {"memory.max": limit, "memory.swap.max": "0"}
    else:
        skip_or_fail("no writable memory cgroup controller (v1 memory or v2 with memory delegated)")
    try:
        group.mkdir()
        for key, value in settings.items():
            if (group / key).exists():
                (group / key).write_text(value)
    except OSError as exc:
        skip_or_fail(f"cannot create a memory-limited cgroup here: {exc}")
    try:
        yield group / "cgroup.procs"
    finally:
        # Members are gone by now (the run ended); sub-cgroups the session made go first.
        for sub in sorted((p for p in group.rglob("*") if p.is_dir()), reverse=True):
            with contextlib.suppress(OSError):
                sub.rmdir()
        with contextlib.suppress(OSError):
            group.rmdir()


def test_real_oom_kill(tmp_path: Path, memory_limited_cgroup: Path, figures: Figures) -> None:
    with figures.case(ROW, "command build OOM-killed under a 200 MB cgroup limit") as record:
        ws = Workspace.create(tmp_path)
        script = "b = bytearray(400 << 20); [b.__setitem__(i, 1) for i in range(0, len(b), 4096)]"
        run = ws.run(
            {"command": f'python3 -c "{script}"', "sample-interval": "0.2"},
            cgroup_procs=memory_limited_cgroup,
        )
        peak = _check_resource_with_memory(run)
        report = json.loads((run.telemetry_dir / "failure-report.json").read_text())
        assert report["oom_killed"] is True, report
        assert "OOM" in report["primary"]["reason"], report["primary"]
        assert 100 <= peak <= 260, f"peak {peak} MB under a 200 MB limit"
        record.outcome = f"resource (OOM killer detected), peak {peak:.0f} MB reported"
