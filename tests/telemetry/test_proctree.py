"""The tree walk against real process trees (python children allocating memory, burning CPU)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telemetry.cgroup import CgroupView
from telemetry.proctree import ProcessTree, TreeSnapshot, _parse_io, _parse_stat, _parse_status

MB = 1024 * 1024

# A 3-level tree: root -> child -> grandchild holding 60 MB (pages touched), all waiting on stdin close.
THREE_LEVELS = r"""
import subprocess, sys, time
level = int(sys.argv[1])
if level < 3:
    p = subprocess.Popen([sys.executable, "-c", sys.argv[2], str(level + 1), sys.argv[2]])
    p.wait()
else:
    b = bytearray(60 * 2**20)
    for i in range(0, len(b), 4096):
        b[i] = 1
    time.sleep(30)
"""


def _spawn_tree() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", THREE_LEVELS, "1", THREE_LEVELS])


def _walk_until(tree: ProcessTree, predicate: object, timeout: float = 10.0) -> TreeSnapshot:
    deadline = time.monotonic() + timeout
    while True:
        snap = tree.walk()
        if callable(predicate) and predicate(snap):
            return snap
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met; last snapshot had {len(snap.processes)} processes")
        time.sleep(0.05)


@pytest.fixture
def three_levels() -> Iterator[subprocess.Popen[bytes]]:
    proc = _spawn_tree()
    yield proc
    tree = ProcessTree()
    tree.set_root(proc.pid)
    for p in tree.walk().processes:
        with contextlib.suppress(OSError):
            os.kill(p.pid, 9)
    proc.kill()
    proc.wait()


def test_walk_finds_three_levels_with_parents_and_memory(three_levels: subprocess.Popen[bytes]) -> None:
    tree = ProcessTree()
    tree.set_root(three_levels.pid)
    snap = _walk_until(
        tree, lambda s: len(s.processes) == 3 and max(p.rss_bytes for p in s.processes) >= 60 * MB
    )
    by_pid = {p.pid: p for p in snap.processes}
    root = by_pid[three_levels.pid]
    child = next(p for p in snap.processes if p.ppid == root.pid)
    grandchild = next(p for p in snap.processes if p.ppid == child.pid)
    assert grandchild.rss_bytes >= 60 * MB
    assert grandchild.hwm_bytes >= grandchild.rss_bytes
    assert root.start_time <= child.start_time <= grandchild.start_time <= time.time()
    assert snap.hwm_bytes >= snap.rss_bytes
    # Our own process (the session) is never part of the tree.
    assert os.getpid() not in by_pid


# A parent touching 100 MB, then forking three idle children: copy-on-write shares it all.
COW_FORKS = r"""
import os, sys, time
b = bytearray(100 * 2**20)
for i in range(0, len(b), 4096):
    b[i] = 1
for _ in range(3):
    if os.fork() == 0:
        time.sleep(30)
        os._exit(0)
print("ready", flush=True)
time.sleep(30)
"""

# Three readers of one 64 MB file mapped shared.
SHARED_READERS = r"""
import mmap, os, subprocess, sys, time
path = sys.argv[1]
reader = "import mmap, sys, time\nf = open(sys.argv[1], 'rb')\n"
reader += "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\n"
reader += "s = sum(m[i] for i in range(0, len(m), 4096))\nprint('r', flush=True)\ntime.sleep(30)"
procs = [subprocess.Popen([sys.executable, "-c", reader, path]) for _ in range(3)]
time.sleep(30)
"""


@pytest.mark.parametrize("shape", ["cow", "shared-file"])
def test_unique_estimate_counts_shared_pages_once(shape: str, tmp_path: Path) -> None:
    """RSS counts shared pages in every process; the unique estimate counts them once."""
    if shape == "cow":
        proc = subprocess.Popen([sys.executable, "-c", COW_FORKS], stdout=subprocess.PIPE)
        expected = 100 * MB
    else:
        path = os.path.join(str(tmp_path), "data")
        with open(path, "wb") as handle:
            handle.write(os.urandom(64 * MB))
        proc = subprocess.Popen([sys.executable, "-c", SHARED_READERS, path])
        expected = 64 * MB
    try:
        tree = ProcessTree(unique=True)
        tree.set_root(proc.pid)
        snap = _walk_until(tree, lambda s: len(s.processes) == 4 and s.rss_bytes >= 3 * expected, 20)
        time.sleep(0.5)  # all settled: one more walk, so every member is read in one sweep
        snap = tree.walk()
        assert snap.rss_bytes >= 3 * expected  # the measure that overcounts
        assert snap.unique_bytes is not None
        # Each python interpreter adds a few MB of its own.
        assert expected <= snap.unique_bytes <= expected + 40 * MB, snap.unique_bytes / MB
    finally:
        for pid in tree.member_pids():
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        proc.kill()
        proc.wait()


def test_cpu_of_finished_children_is_kept() -> None:
    # The root runs a child that burns ~0.4 s of CPU and exits; the root then sleeps.
    code = (
        "import subprocess, sys, time\n"
        "subprocess.run([sys.executable, '-c', 'import time\\nt=time.process_time()\\n"
        "while time.process_time()-t<0.4: pass'])\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        tree = ProcessTree()
        tree.set_root(proc.pid)
        seen_child = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            snap = tree.walk()
            seen_child = seen_child or len(snap.processes) > 1
            if seen_child and len(snap.processes) == 1:
                break
            time.sleep(0.05)
        snap = tree.walk()
        assert len(snap.processes) == 1  # the child is gone
        assert snap.cpu_seconds >= 0.35
    finally:
        proc.kill()
        proc.wait()


def test_orphan_cpu_is_kept_when_its_parent_died_first() -> None:
    # root -> middle (exits soon) -> worker (orphaned to init, burns CPU, then exits).
    worker = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.4: pass"
    # The middle lingers long enough for a walk to see the worker as its child.
    middle = (
        f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {worker!r}]); time.sleep(0.3)"
    )
    code = f"import subprocess, sys, time; subprocess.run([sys.executable, '-c', {middle!r}]); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        tree = ProcessTree()
        tree.set_root(proc.pid)
        peak_members = 0
        deadline = time.monotonic() + 10
        snap = tree.walk()
        while time.monotonic() < deadline:
            snap = tree.walk()
            peak_members = max(peak_members, len(snap.processes))
            if peak_members > 1 and len(snap.processes) == 1 and snap.cpu_seconds > 0.3:
                break
            time.sleep(0.05)
        assert snap.cpu_seconds >= 0.3
    finally:
        proc.kill()
        proc.wait()


def test_io_bytes_include_reaped_children(tmp_path: object) -> None:
    target = os.path.join(str(tmp_path), "blob")
    writer = (
        f"import os\nf=open({target!r},'wb')\nf.write(os.urandom(4*2**20))\nf.flush()\nos.fsync(f.fileno())"
    )
    code = f"import subprocess, sys, time; subprocess.run([sys.executable, '-c', {writer!r}]); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        tree = ProcessTree()
        tree.set_root(proc.pid)
        snap = _walk_until(tree, lambda s: s.io_write_bytes >= 4 * MB and len(s.processes) == 1)
        assert snap.io_write_bytes >= 4 * MB
    finally:
        proc.kill()
        proc.wait()


def test_processes_vanishing_mid_walk_never_break_it() -> None:
    # A root that forks short-lived children continuously.
    code = "import subprocess, sys\nfor _ in range(60): subprocess.Popen([sys.executable, '-c', 'pass'])\n"
    proc = subprocess.Popen([sys.executable, "-c", code + "import time; time.sleep(0.2)"])
    tree = ProcessTree()
    tree.set_root(proc.pid)
    cpu = 0.0
    while proc.poll() is None:
        snap = tree.walk()
        assert snap.cpu_seconds >= cpu  # cumulative never goes down
        cpu = snap.cpu_seconds


def test_foreign_processes_are_not_members() -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    root = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tree = ProcessTree()
        tree.set_root(root.pid)
        pids = {p.pid for p in tree.walk().processes}
        assert pids == {root.pid}
        assert {p.pid for p in tree.walk().processes} == {root.pid}
    finally:
        for p in (other, root):
            p.kill()
            p.wait()


def test_parse_stat_survives_parentheses_in_the_name() -> None:
    line = b"123 (a) b (c)) S 1 123 123 0 -1 4194304 0 0 0 0 5 7 2 3 20 0 1 0 999 0 10 0 0 0"
    stat = _parse_stat(line + b" 0" * 30)
    assert (stat.ppid, stat.pgid, stat.state, stat.utime, stat.stime, stat.start_ticks) == (
        1,
        123,
        "S",
        5,
        7,
        999,
    )


class _FakeDedicated(CgroupView):
    """A dedicated cgroup whose member list we control."""

    def __init__(self, pids: list[int] | None) -> None:
        super().__init__(1, "/nonexistent", dedicated=True)
        self.listed = pids

    def pids(self) -> list[int] | None:
        return self.listed

    def read(self) -> None:
        return None


def test_an_empty_or_unreadable_cgroup_never_admits_strangers() -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        choices: tuple[list[int] | None, ...] = ([], None)
        for listed in choices:
            tree = ProcessTree(cgroup=_FakeDedicated(listed))
            for _ in range(12):  # includes the ticks that also list /proc
                assert tree.walk().processes == ()
                tree.quick_poll()
            assert tree.walk(read_cgroup=False).processes == ()
            assert tree.member_pids() == []
    finally:
        stranger.kill()
        stranger.wait()


def test_the_session_its_ancestors_and_init_are_never_members() -> None:
    protected = [os.getpid(), os.getppid(), 1]
    tree = ProcessTree(cgroup=_FakeDedicated(protected))
    snap = tree.walk()
    assert {p.pid for p in snap.processes}.isdisjoint(protected)


@given(
    st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00\n"), max_size=15),
    st.integers(min_value=0, max_value=2**31),
    st.integers(min_value=0, max_value=2**40),
)
def test_parse_stat_for_any_command_name(comm: str, ppid: int, start: int) -> None:
    fields = ["S", str(ppid), "7", "8", "0", "-1", "0", "0", "0", "0", "0", "11", "12", "13", "14"]
    fields += ["20", "0", "1", "0", str(start), "0", "99"] + ["0"] * 30
    line = f"42 ({comm}) {' '.join(fields)}".encode()
    stat = _parse_stat(line)
    assert (stat.ppid, stat.pgid, stat.sid, stat.start_ticks, stat.rss_pages) == (ppid, 7, 8, start, 99)
    assert (stat.utime, stat.stime, stat.cutime, stat.cstime) == (11, 12, 13, 14)


def test_status_and_io_parsers_on_real_files() -> None:
    with open("/proc/self/status", "rb") as handle:
        status = _parse_status(handle.read())
    assert status.name and 0 < status.rss <= status.hwm and status.threads >= 1
    assert 0 < status.anon < status.rss and status.anon + status.file == status.rss
    with open("/proc/self/io", "rb") as handle:
        read, write, chars = _parse_io(handle.read())
    assert read >= 0 and write >= 0 and chars > 0  # this test's process has read files
    zombie = _parse_status(b"Name:\tzombie\nState:\tZ (zombie)\nThreads:\t1\n")
    assert (zombie.name, zombie.rss, zombie.hwm, zombie.threads, zombie.anon) == ("zombie", 0, 0, 1, 0)
