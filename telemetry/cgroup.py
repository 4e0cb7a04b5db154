"""Memory cgroups: a dedicated cgroup for the build when we may create one, else our own.

Why a cgroup at all: the kernel keeps what the cgroup's processes hold resident
(``memory.stat``: anonymous and mapped file pages, each page once), the peak of
everything charged to it (v2 ``memory.peak``, v1 ``memory.max_usage_in_bytes``,
page cache included), counts OOM kills in it, and lists every member process,
including ones that left the build's process group or daemonised.

Two ways to get one:

- ``DedicatedCgroup.create``: a cgroup that only the build runs in (needs write
  access: root on a host, or a privileged container): a child of ours under v1, a
  child or sibling of ours under v2 (see ``_parents_for_a_build_cgroup``). Its peak
  is resettable (v1; v2 from Linux 6.12), so each tick knows the interval's peak.
- ``CgroupView.current``: our own cgroup, read-only (a Docker container's
  cgroup is its own, mounted read-only). It also holds this process, whose share
  the memory sampler takes out (see ``samplers.memory``).

Everything here fails soft: any ``OSError`` means "no cgroup", never a failed build.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

_PROC_SELF_CGROUP = "/proc/self/cgroup"
_MOUNTINFO = "/proc/self/mountinfo"


@dataclass(frozen=True)
class CgroupReading:
    """One read of a cgroup's memory files, taken in the same tick as the tree walk."""

    version: int  # 1 or 2
    dedicated: bool  # only the build runs in it
    usage_bytes: int
    peak_bytes: int | None  # since the last reset (dedicated) or since creation
    peak_was_reset: bool  # True when peak_bytes covers only the interval since the previous read
    oom_kills: int | None
    limit_bytes: int | None  # None when unlimited
    # From memory.stat, hierarchical (sub-cgroups the build makes included): anonymous
    # memory and file pages mapped by the cgroup's processes, each page counted once.
    # None when memory.stat cannot be read.
    anon_bytes: int | None = None
    file_mapped_bytes: int | None = None

    @property
    def resident_bytes(self) -> int | None:
        """What the cgroup's processes hold resident: anonymous + mapped file pages."""
        if self.anon_bytes is None or self.file_mapped_bytes is None:
            return None
        return self.anon_bytes + self.file_mapped_bytes


@dataclass(frozen=True)
class _Mount:
    version: int
    mount_point: str
    root: str


def read_raw(path: str, chunk_size: int, *, short_read_ends: bool = False) -> bytes:
    """A whole file read with plain syscalls: no file object, cheap enough for every tick.

    ``short_read_ends``: stop at the first read shorter than ``chunk_size``, saving the
    empty read that would confirm the end (a /proc file that fits is produced in one read).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, chunk_size)
            if not chunk:
                break
            chunks.append(chunk)
            if short_read_ends and len(chunk) < chunk_size:
                break
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_text(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as handle:
        return handle.read()


def _read_int(path: str) -> int | None:
    try:
        text = _read_text(path).strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


# memory.stat keys for (anonymous, mapped file) pages. v1's plain keys cover only the
# cgroup itself; the ``total_`` ones include its descendants, as v2's always do.
_STAT_KEYS = {1: (b"total_rss", b"total_mapped_file"), 2: (b"anon", b"file_mapped")}


def parse_memory_stat(data: bytes, version: int) -> tuple[int, int] | None:
    """(anonymous, mapped file) bytes from a memory.stat text, None when either is missing."""
    anon_key, mapped_key = _STAT_KEYS[version]
    anon = mapped = None
    for line in data.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == anon_key:
            anon = int(value)
        elif key == mapped_key:
            mapped = int(value)
    if anon is None or mapped is None:
        return None
    return anon, mapped


def _memory_mounts() -> list[_Mount]:
    mounts: list[_Mount] = []
    try:
        lines = _read_text(_MOUNTINFO).splitlines()
    except OSError:
        return mounts
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        rfields = right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        fstype, options = rfields[0], rfields[2]
        if fstype == "cgroup2":
            mounts.append(_Mount(2, fields[4], fields[3]))
        elif fstype == "cgroup" and "memory" in options.split(","):
            mounts.append(_Mount(1, fields[4], fields[3]))
    return mounts


def _own_cgroup_paths() -> dict[int, str]:
    """Our cgroup path per version (v1: the memory hierarchy's)."""
    paths: dict[int, str] = {}
    try:
        lines = _read_text(_PROC_SELF_CGROUP).splitlines()
    except OSError:
        return paths
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if hid == "0" and controllers == "":
            paths[2] = path
        elif "memory" in controllers.split(","):
            paths[1] = path
    return paths


def _directory(mount: _Mount, path: str) -> str:
    # Inside a cgroup namespace the mount root is "/" and our path is relative to it;
    # with a bind-mounted subtree the path starts with the mount's root.
    rel = path
    if mount.root not in ("/", "") and rel.startswith(mount.root):
        rel = rel[len(mount.root) :]
    return os.path.join(mount.mount_point, rel.lstrip("/"))


def _controls_memory(directory: str) -> bool:
    """Whether a v2 cgroup enables the memory controller for its children."""
    try:
        return "memory" in _read_text(os.path.join(directory, "cgroup.subtree_control")).split()
    except OSError:
        return False


def _locate(*, for_children: bool = False) -> tuple[int, str, str] | None:
    """(version, directory, mount point) of our own memory cgroup, v2 preferred.

    ``for_children``: also accept a v2 cgroup that has no memory files of its own but
    gives them to its children (the root of the hierarchy)."""
    own = _own_cgroup_paths()
    mounts = _memory_mounts()
    for version in (2, 1):
        if version not in own:
            continue
        for mount in mounts:
            if mount.version != version:
                continue
            directory = _directory(mount, own[version])
            probe = "memory.current" if version == 2 else "memory.usage_in_bytes"
            if os.path.exists(os.path.join(directory, probe)):
                return version, directory, mount.mount_point
            if for_children and version == 2 and _controls_memory(directory):
                return version, directory, mount.mount_point
    return None


def _locate_own() -> tuple[int, str] | None:
    """(version, directory) of our own memory cgroup, v2 preferred when it has the memory files."""
    located = _locate()
    return None if located is None else (located[0], located[1])


def _parents_for_a_build_cgroup(version: int, own: str, mount_point: str) -> list[str]:
    """Where a cgroup of the build's own can be made, best first.

    v1: a child of ours. v2 forbids a cgroup that holds processes (ours holds us) to give
    controllers to children, unless it is the root; so under v2 the build's cgroup is a
    child of ours only when ours controls memory for its children, else a sibling of ours,
    under a parent that does (what a delegated subtree or a root shell under systemd has).
    We never change a subtree_control: that would move other processes' accounting.
    """
    if version == 1:
        return [own]
    found = [own] if _controls_memory(own) else []
    parent = os.path.dirname(own.rstrip("/"))
    inside = os.path.normpath(own) != os.path.normpath(mount_point)
    if inside and parent.startswith(mount_point.rstrip("/")) and _controls_memory(parent):
        found.append(parent)
    return found


class CgroupView:
    """Reads the memory files of one cgroup directory."""

    def __init__(self, version: int, directory: str, *, dedicated: bool) -> None:
        self.version = version
        self.directory = directory
        self.dedicated = dedicated
        self._reset_ok = dedicated  # a read-only view never resets (it would disturb others)
        self._peak_fd: int | None = None
        self._peak_reset_before = False

    @classmethod
    def current(cls) -> CgroupView | None:
        located = _locate_own()
        if located is None:
            return None
        view = cls(located[0], located[1], dedicated=False)
        return view if view.read() is not None else None

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _usage_name(self) -> str:
        return "memory.current" if self.version == 2 else "memory.usage_in_bytes"

    def _peak_name(self) -> str:
        return "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"

    def oom_kills(self) -> int | None:
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = _read_text(self._path(name))
        except OSError:
            return None
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                with contextlib.suppress(ValueError):
                    return int(value)
        return None

    def limit_bytes(self) -> int | None:
        value = _read_int(self._path("memory.max" if self.version == 2 else "memory.limit_in_bytes"))
        # v1 reports "unlimited" as a huge page-aligned number.
        if value is None or value >= 1 << 60:
            return None
        return value

    def _read_peak(self) -> int | None:
        if self.version == 2 and self._peak_fd is not None:
            try:
                return int(os.pread(self._peak_fd, 64, 0).decode().strip())
            except (OSError, ValueError):
                return None
        return _read_int(self._path(self._peak_name()))

    def _reset_peak(self) -> bool:
        try:
            if self.version == 1:
                with open(self._path(self._peak_name()), "w", encoding="ascii") as handle:
                    handle.write("0")
                return True
            # v2 (Linux >= 6.12): a write resets the peak *for this open file*, so the
            # descriptor is kept and later reads use it.
            if self._peak_fd is None:
                self._peak_fd = os.open(self._path("memory.peak"), os.O_RDWR)
            os.pwrite(self._peak_fd, b"reset\n", 0)
            return True
        except OSError:
            if self._peak_fd is not None:
                os.close(self._peak_fd)
                self._peak_fd = None
            return False

    def memory_stat(self) -> tuple[int, int] | None:
        """(anonymous, mapped file) bytes, hierarchical; None when unreadable."""
        try:
            with open(self._path("memory.stat"), "rb") as handle:
                return parse_memory_stat(handle.read(), self.version)
        except (OSError, ValueError):
            return None

    def read(self) -> CgroupReading | None:
        usage = _read_int(self._path(self._usage_name()))
        if usage is None:
            return None
        stat = self.memory_stat()
        peak = self._read_peak()
        was_reset = False
        if self._reset_ok:
            # The peak we just read covers the time since the previous reset.
            was_reset = self._peak_reset_before
            self._reset_ok = self._reset_peak()
            self._peak_reset_before = self._reset_ok
        return CgroupReading(
            version=self.version,
            dedicated=self.dedicated,
            usage_bytes=usage,
            peak_bytes=peak,
            peak_was_reset=was_reset,
            oom_kills=self.oom_kills(),
            limit_bytes=self.limit_bytes(),
            anon_bytes=None if stat is None else stat[0],
            file_mapped_bytes=None if stat is None else stat[1],
        )

    def pids(self) -> list[int] | None:
        """Member pids; None when the list cannot be read (not the same as empty)."""
        try:
            text = _read_text(self._path("cgroup.procs"))
        except OSError:
            return None
        try:
            return [int(x) for x in text.split()]
        except ValueError:
            return None

    def procs_bytes(self) -> bytes | None:
        """The raw member list, read with plain syscalls (cheap enough for quick polls).

        Opened afresh each time: cgroup v1 builds the list when the file is opened, so
        a held descriptor would keep returning the same members.
        """
        try:
            return read_raw(self._path("cgroup.procs"), 65536)
        except OSError:
            return None

    def close(self) -> None:
        for name in ("_peak_fd",):
            fd = getattr(self, name)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)


class DedicatedCgroup(CgroupView):
    """A cgroup created for one build; removed by ``remove``."""

    home: str | None = None  # the session's own cgroup: where survivors go when not killed

    @classmethod
    def create(cls, name: str, *, memory_limit_bytes: int | None = None) -> DedicatedCgroup | None:
        located = _locate(for_children=True)
        if located is None:
            return None
        version, own, mount_point = located
        for parent in _parents_for_a_build_cgroup(version, own, mount_point):
            group = cls._make(version, os.path.join(parent, name), memory_limit_bytes)
            if group is not None:
                group.home = own
                return group
        return None

    @classmethod
    def _make(cls, version: int, directory: str, memory_limit_bytes: int | None) -> DedicatedCgroup | None:
        try:
            os.mkdir(directory)
        except OSError:
            return None
        group = cls(version, directory, dedicated=True)
        probe = group._path("memory.current" if version == 2 else "memory.usage_in_bytes")
        if not os.path.exists(probe) or not os.access(group._path("cgroup.procs"), os.W_OK):
            group.remove()
            return None
        if memory_limit_bytes is not None:
            limit_file = "memory.max" if version == 2 else "memory.limit_in_bytes"
            with contextlib.suppress(OSError):
                Path(group._path(limit_file)).write_text(str(memory_limit_bytes), encoding="ascii")
        group._reset_peak()
        group._peak_reset_before = True
        return group

    @property
    def procs_file(self) -> str:
        return self._path("cgroup.procs")

    def kill_all(self, sig: int = signal.SIGKILL) -> int:
        """Signal every member; returns how many were signalled."""
        count = 0
        for pid in self.pids() or ():
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
                count += 1
        return count

    def remove(self, timeout: float = 2.0, *, kill: bool = True) -> bool:
        """Remove the cgroup. Members still present are killed first (``kill``), or moved
        to the parent cgroup so they live on, accounted where they would have been."""
        self.close()
        if not kill:
            parent_procs = os.path.join(self.home or os.path.dirname(self.directory), "cgroup.procs")
            for pid in self.pids() or ():
                with contextlib.suppress(OSError), open(parent_procs, "w", encoding="ascii") as handle:
                    handle.write(str(pid))
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.rmdir(self.directory)
                return True
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                if kill:
                    self.kill_all()
                time.sleep(0.02)
