"""Cgroup layouts for the tests that run inside the cgroup v2 VM (tests/cgroup2/vm.py boots it).

The VM starts the test run as root in cgroup ``/job``, a leaf like a systemd service's: the
root's ``cgroup.subtree_control`` has ``+memory``, so ``/job`` has memory files, but ``/job``
holds processes and so cannot enable controllers for children of its own (EBUSY: cgroup v2's
"no internal processes" rule; only the root cgroup is exempt).

- ``delegated_parent``: a fresh ``/sys/fs/cgroup/<name>`` with ``+memory`` in its
  subtree_control, the calling process moved into its leaf ``<name>/self``; children of the
  parent (``parent.child(...)``) have memory files, as in a cgroup delegated to a user or a
  service.
- ``in_root_cgroup``: the calling process moved into the root cgroup, the one place a
  process may sit while its cgroup enables memory for children.
- ``run_in_container``: a Python snippet run the way a Docker container action runs on
  GitHub's ubuntu runner: the entrypoint in its own cgroup (with the build it starts), a
  private cgroup namespace (``/proc/self/cgroup`` reads ``0::/``) and cgroup2 mounted
  read-only at ``/sys/fs/cgroup`` with the container's cgroup as the mount's root. ``podman``
  (runc, cgroupfs; the entrypoint is pid 1 with its own /proc, as under Docker) or
  ``unshare`` (a leaf cgroup, ``unshare --cgroup --mount`` and a read-only cgroup2 remount).
- ``MemoryHolder``: a child process that touches N MiB (optionally in a given cgroup) and
  holds them until released.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
REPO_ROOT: Final = Path(__file__).resolve().parents[3]
MIB: Final = 1024 * 1024
CONTAINER_METHODS: Final = ("podman", "unshare")

# The child of MemoryHolder: joins a cgroup (argv[1], may be empty), touches argv[2] MiB of
# anonymous memory, says "ready" and holds it until stdin closes.
_HOLD_CODE: Final = """
import os, sys
if sys.argv[1]:
    with open(sys.argv[1], "w") as f:
        f.write(str(os.getpid()))
block = bytearray(int(sys.argv[2]) * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
print("ready", flush=True)
sys.stdin.read()
"""

# Podman as the runner's Docker would run the action's container. The VM's root is an overlay
# reached by switch_root from the initramfs, where pivot_root cannot work: runc's no-pivot mode.
_PODMAN_CONF: Final = """\
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
no_pivot_root = true
events_logger = "file"
"""
_PODMAN_ROOTFS: Final = Path("/run/cg2-container-root")


def in_vm() -> bool:
    """True inside the VM that vmrun boots (its command channel is mounted at /vmio)."""
    return Path("/vmio/cmd").is_file() and "cgroup_no_v1=all" in Path("/proc/cmdline").read_text()


def own_cgroup() -> str:
    """This process's cgroup v2 path, e.g. ``/job``."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    raise RuntimeError("no cgroup v2 entry in /proc/self/cgroup")


def move_into(directory: Path, pid: int | None = None) -> None:
    (directory / "cgroup.procs").write_text(str(pid if pid is not None else os.getpid()))


def enable_controllers(directory: Path, *controllers: str) -> None:
    (directory / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in controllers))


def members(directory: Path) -> list[int]:
    return [int(x) for x in (directory / "cgroup.procs").read_text().split()]


def memory_stat(directory: Path) -> dict[str, int]:
    stat: dict[str, int] = {}
    for line in (directory / "memory.stat").read_text().splitlines():
        key, _, value = line.partition(" ")
        stat[key] = int(value)
    return stat


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def remove_tree(directory: Path, timeout: float = 30.0) -> None:
    """Kill whatever is left in ``directory`` and its descendants, then remove them."""
    if not directory.is_dir():
        return
    for child in sorted((p for p in directory.iterdir() if p.is_dir()), reverse=True):
        remove_tree(child, timeout)
    with contextlib.suppress(OSError):
        (directory / "cgroup.kill").write_text("1")
    wait_for(lambda: not members(directory), timeout)
    directory.rmdir()


@dataclass(frozen=True)
class DelegatedParent:
    parent: Path  # has +memory in its subtree_control
    leaf: Path  # parent/self, where the calling process now is

    def child(self, name: str) -> Path:
        """A new child of the parent (a sibling of the leaf), with memory files."""
        directory = self.parent / name
        directory.mkdir()
        return directory


@contextlib.contextmanager
def delegated_parent(controllers: tuple[str, ...] = ("memory", "pids")) -> Iterator[DelegatedParent]:
    back = CGROUP_ROOT / own_cgroup().lstrip("/")
    parent = CGROUP_ROOT / f"delegated-{uuid.uuid4().hex[:8]}"
    parent.mkdir()
    try:
        enable_controllers(parent, *controllers)
        leaf = parent / "self"
        leaf.mkdir()
        move_into(leaf)
        try:
            yield DelegatedParent(parent, leaf)
        finally:
            move_into(back)
    finally:
        remove_tree(parent)


@contextlib.contextmanager
def in_root_cgroup() -> Iterator[Path]:
    back = CGROUP_ROOT / own_cgroup().lstrip("/")
    move_into(CGROUP_ROOT)
    try:
        yield CGROUP_ROOT
    finally:
        move_into(back)


class MemoryHolder:
    """A child process holding ``mib`` MiB of touched anonymous memory until ``release``."""

    def __init__(self, mib: int, cgroup: Path | None = None, timeout: float = 120.0) -> None:
        procs = str(cgroup / "cgroup.procs") if cgroup is not None else ""
        # -S: no site-packages (faster start; the child only needs the standard library).
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _HOLD_CODE, procs, str(mib)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self.release()
            status = self.proc.returncode
            raise RuntimeError(f"memory holder did not get ready (said {line!r}, exit {status})")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def release(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> MemoryHolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _podman_rootfs() -> Path:
    """The VM's root, bound (not recursively: without the VM's /sys, /proc, /dev) for podman."""
    if not os.path.ismount(_PODMAN_ROOTFS):
        _PODMAN_ROOTFS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "--bind", "/", str(_PODMAN_ROOTFS)], check=True)
    return _PODMAN_ROOTFS


def run_in_container(
    code: str, *, method: str = "podman", timeout: float = 300.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code`` (this interpreter, cwd the checkout) in the container layout."""
    python = [sys.executable, "-c", code]
    if method == "podman":
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as conf:
            conf.write(_PODMAN_CONF)
        try:
            argv = [
                "podman",
                "run",
                "--rm",
                "--network=none",
                "--cgroupns=private",
                "--workdir",
                str(REPO_ROOT),
                "--rootfs",
                str(_podman_rootfs()),
                *python,
            ]
            env = {**os.environ, "CONTAINERS_CONF": conf.name}
            return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        finally:
            os.unlink(conf.name)
    if method == "unshare":
        box = CGROUP_ROOT / f"ctr-{uuid.uuid4().hex[:8]}"
        box.mkdir()
        remount = "umount /sys/fs/cgroup && mount -t cgroup2 -o ro,nosuid,nodev,noexec cgroup /sys/fs/cgroup"
        argv = [
            "sh",
            "-c",
            'echo $$ >"$0" && exec "$@"',
            str(box / "cgroup.procs"),
            "unshare",
            "--cgroup",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            f'{remount} && exec "$@"',
            "sh",
            *python,
        ]
        try:
            return subprocess.run(
                argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
            )
        finally:
            remove_tree(box)
    raise ValueError(f"unknown container method {method!r}")


def is_read_only(path: Path) -> bool:
    probe = path / f"probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
    except OSError as exc:
        return exc.errno == errno.EROFS
    probe.rmdir()
    return False
