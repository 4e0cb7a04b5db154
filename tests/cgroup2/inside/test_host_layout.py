"""telemetry.cgroup on a unified cgroup v2 host (inside the VM; see conftest.py).

The run starts in ``/job``, a leaf cgroup as under systemd. ``delegated`` puts the test process
in ``<parent>/self`` under a parent that enables memory for its children; ``root_cgroup`` puts
it in the root cgroup.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import pytest

from telemetry.cgroup import CgroupView, DedicatedCgroup
from telemetry.session import Session, SessionOptions
from tests.cgroup2.inside.layouts import (
    CGROUP_ROOT,
    MIB,
    DelegatedParent,
    MemoryHolder,
    members,
    memory_stat,
    own_cgroup,
)

# What the monitored build does in the session tests: 150 MiB touched, held for a second.
ALLOCATE_150_MIB = (
    "b = bytearray(150 * 1024 * 1024)\n"
    "for i in range(0, len(b), 4096):\n"
    "    b[i] = 1\n"
    "import time\n"
    "time.sleep(1)\n"
)


def test_the_run_starts_in_a_leaf_that_cannot_delegate() -> None:
    assert own_cgroup() == "/job"
    assert "memory" in (CGROUP_ROOT / "cgroup.subtree_control").read_text().split()
    with pytest.raises(OSError) as caught:
        (CGROUP_ROOT / "job" / "cgroup.subtree_control").write_text("+memory")
    assert caught.value.errno == errno.EBUSY


def test_current_view_is_v2() -> None:
    view = CgroupView.current()
    assert view is not None
    assert view.version == 2
    assert not view.dedicated
    assert os.path.normpath(view.directory) == str(CGROUP_ROOT / "job")
    reading = view.read()
    assert reading is not None
    assert reading.version == 2
    assert reading.usage_bytes > 0
    assert reading.peak_bytes is not None and reading.peak_bytes >= reading.usage_bytes
    assert not reading.peak_was_reset  # a shared cgroup's peak is never reset
    assert os.getpid() in (view.pids() or [])


def test_dedicated_cgroup_sees_a_child_holding_100_mib(delegated: DelegatedParent) -> None:
    # Made by hand under the delegated parent, to know its path; create() is tested below.
    build = delegated.child("build")
    group = DedicatedCgroup(2, str(build), dedicated=True)
    before = group.read()  # arms the peak reset, as create() does
    assert before is not None and before.usage_bytes < 20 * MIB, before
    holder = MemoryHolder(100, build)
    try:
        assert group.pids() == [holder.pid]
        during = group.read()
        assert during is not None
        assert during.usage_bytes >= 100 * MIB, during
        assert during.peak_bytes is not None and during.peak_bytes >= 100 * MIB, during
        assert during.peak_was_reset
        assert during.oom_kills == 0
        assert group.remove()  # kills the member still holding its memory
        assert holder.proc.wait(timeout=30) == -9
    finally:
        holder.release()
    assert not build.exists()


def test_dedicated_cgroup_create_in_a_delegated_leaf(delegated: DelegatedParent) -> None:
    """Our leaf holds us, so it cannot give memory to children: the build's cgroup is a sibling."""
    assert own_cgroup() == "/" + str(delegated.leaf.relative_to(CGROUP_ROOT))
    group = DedicatedCgroup.create(f"dedicated-{os.getpid()}")
    assert group is not None
    try:
        assert Path(group.directory).parent == delegated.leaf.parent
        assert group.home is not None and Path(group.home) == delegated.leaf
        assert (Path(group.directory) / "memory.current").exists()
    finally:
        assert group.remove()
    assert not Path(group.directory).exists()


def test_dedicated_cgroup_create_in_the_root_cgroup(root_cgroup: Path) -> None:
    assert not (root_cgroup / "memory.current").exists()
    assert "memory" in (root_cgroup / "cgroup.subtree_control").read_text().split()
    group = DedicatedCgroup.create(f"dedicated-{os.getpid()}")
    assert group is not None
    try:
        assert Path(group.directory).parent == root_cgroup  # the root may give memory to children
    finally:
        assert group.remove()


def test_memory_peak_reset_gives_each_interval_its_own_peak(delegated: DelegatedParent) -> None:
    build = delegated.child("build")
    view = CgroupView(2, str(build), dedicated=True)
    try:
        assert view.read() is not None  # the first read arms the per-descriptor reset
        with MemoryHolder(100, build) as holder:
            pass  # released: the child has exited and its memory is freed
        assert holder.proc.returncode == 0
        first = view.read()  # the interval with the 100 MiB
        second = view.read()  # an interval after they were freed
        assert first is not None and second is not None
        assert first.peak_was_reset and second.peak_was_reset
        assert first.peak_bytes is not None and first.peak_bytes >= 100 * MIB, first
        assert second.peak_bytes is not None and second.peak_bytes < 30 * MIB, second
        assert second.peak_bytes >= second.usage_bytes
        # The kernel keeps the cgroup's all-time peak for other readers of memory.peak.
        assert int((build / "memory.peak").read_text()) >= 100 * MIB
    finally:
        view.close()


def test_memory_stat_anon_follows_a_child_holding_100_mib(delegated: DelegatedParent) -> None:
    build = delegated.child("build")
    with MemoryHolder(1, build) as idle:
        base = memory_stat(build)
        assert "anon" in base and "file_mapped" in base
        assert members(build) == [idle.pid]
    with MemoryHolder(100, build):
        held = memory_stat(build)
    rise = held["anon"] - base["anon"]
    assert 95 * MIB <= rise <= 130 * MIB, (base["anon"], held["anon"])
    # Present, but 0 here: page cache (the interpreter's mapped files) stays charged to the
    # cgroup that first read it, which is not this new one.
    assert "file_mapped" in held


@pytest.mark.parametrize("where", ["job", "root"])
def test_session_measures_a_150_mib_build(where: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """``job``: the session's cgroup is a shared leaf (its figures are only read); ``root``: the
    root cgroup, which has no memory.current (no cgroup figures at all)."""
    if where == "root":
        request.getfixturevalue("root_cgroup")
    telemetry_dir = tmp_path / "telemetry"
    options = SessionOptions(telemetry_dir=telemetry_dir, sample_interval=0.2, echo_output=False)
    run = Session(options).run(argv=[sys.executable, "-c", ALLOCATE_150_MIB])
    assert run.outcome.exit_code == 0, run.outcome
    assert 140 <= run.memory.peak_mb <= 260, (run.memory.peak_mb, run.memory.peak_source)
    samples = (telemetry_dir / "memory-samples.log").read_text().splitlines()
    assert samples, "memory-samples.log is empty"
    assert all(isinstance(json.loads(line), dict) for line in samples)
    for name in ("cpu", "network", "disk"):
        assert (telemetry_dir / f"{name}-samples.log").is_file(), name
    places = (CGROUP_ROOT, CGROUP_ROOT / "job")
    leftovers = [str(p) for d in places for p in d.iterdir() if p.name.startswith("telemetry-")]
    assert not leftovers, f"dedicated cgroups left behind: {leftovers}"
