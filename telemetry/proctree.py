"""One walk of the build's process tree per tick, read straight from /proc.

Every sampler is fed the same ``TreeSnapshot`` (the prmon design: one walk,
many monitors), so figures are consistent with each other and the cost is paid
once. psutil is not used for the walk: it builds a ppid map of the whole system
on every ``children()`` call and wraps each figure in objects; here a tick is
one ``listdir('/proc')`` plus three small reads per build process
(``stat``, ``status``, ``io``). Where no cgroup can tell what the build holds
resident, the walk also estimates it with every shared page counted once
(``unique_bytes``, from ``smaps_rollup``; see ``_UniqueEstimate``).

Membership: the build root, its descendants, orphans of the build adopted by
the session (it is a child subreaper, so they are re-parented to it instead of
init), and every member of the build's dedicated cgroup when there is one. A
process that is not a member when first seen can never become one (a pid only
joins the tree by being forked inside it), so it is remembered as foreign and
not read again; that keeps a tick cheap on busy hosts. (A foreign pid that dies
and is reused for a build process within one tick would be missed; with
pid_max at 4 M that needs millions of forks per second.)

CPU time and I/O bytes are cumulative and include finished processes: the
kernel adds a reaped child's times and I/O into its parent's ``cutime``/
``cstime`` and ``/proc/PID/io``, so the sum over live members of "own +
reaped children" loses nothing when a child is reaped inside the tree. A member
that vanishes while its parent is not a live member (its parent already died,
or it was reaped by the session, which reports the exact ``rusage`` through
``account_reaped``) has its last figures kept.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time
from collections.abc import Iterable
from dataclasses import dataclass

from telemetry.cgroup import CgroupReading, CgroupView, read_raw

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcessSnapshot:
    pid: int
    ppid: int
    pgid: int
    sid: int
    name: str
    state: str  # R, S, D, Z, ...
    start_time: float  # Unix seconds
    rss_bytes: int
    hwm_bytes: int  # VmHWM: the process's own resident high-water mark
    user_seconds: float
    system_seconds: float
    children_user_seconds: float  # reaped descendants (kernel-accumulated)
    children_system_seconds: float
    read_bytes: int  # storage I/O, own + reaped descendants
    write_bytes: int
    threads: int
    anon_bytes: int = 0  # RssAnon: anonymous pages it maps (copy-on-write shared ones included)
    file_bytes: int = 0  # RssFile + RssShmem: file and shared-memory pages it maps
    syscall_io_bytes: int = 0  # rchar + wchar: bytes through read/write calls, own + reaped descendants

    @property
    def cumulative_cpu_seconds(self) -> float:
        return (
            self.user_seconds
            + self.system_seconds
            + self.children_user_seconds
            + self.children_system_seconds
        )


@dataclass(frozen=True)
class TreeSnapshot:
    wall_time: float
    monotonic: float
    processes: tuple[ProcessSnapshot, ...]
    started: tuple[int, ...]  # pids first seen in this tick
    ended: tuple[ProcessSnapshot, ...]  # last figures of members gone since the previous tick
    cpu_user_seconds: float  # cumulative for the whole tree, finished processes included
    cpu_system_seconds: float
    io_read_bytes: int  # cumulative, finished processes included
    io_write_bytes: int
    rss_bytes: int  # sum over live members (shared pages once per process)
    hwm_bytes: int  # sum of VmHWM over live members
    cgroup: CgroupReading | None
    walk_cpu_seconds: float  # what this walk cost this thread
    # Storage reads plus bytes read and written through syscalls, cumulative: more than
    # the page cache the tree can have added (the memory sampler's bound for cache).
    io_cache_bound_bytes: int = 0
    # What the tree holds resident with each page counted once (``_UniqueEstimate``);
    # None unless the tree was asked for it.
    unique_bytes: int | None = None
    # Largest rise of the tree's memory seen by quick polls since the previous walk,
    # relative to that walk (young processes' anonymous growth, less what left).
    quick_rise_bytes: int | None = None
    # Members whose stat changed since the previous walk (they ran, or are new).
    active_pids: frozenset[int] = frozenset()

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_user_seconds + self.cpu_system_seconds


def _read(path: str) -> bytes:
    return read_raw(path, 8192, short_read_ends=True)


def boot_time(proc: str = "/proc") -> float:
    for line in _read(f"{proc}/stat").splitlines():
        if line.startswith(b"btime "):
            return float(line.split()[1])
    return time.time() - time.monotonic()


@dataclass(frozen=True)
class _Stat:
    ppid: int
    pgid: int
    sid: int
    state: str
    start_ticks: int
    utime: int
    stime: int
    cutime: int
    cstime: int
    rss_pages: int


def _parse_stat(data: bytes) -> _Stat:
    # The command name is in parentheses and may itself contain spaces or ')'.
    rest = data[data.rindex(b")") + 2 :].split()
    return _Stat(
        ppid=int(rest[1]),
        pgid=int(rest[2]),
        sid=int(rest[3]),
        state=rest[0].decode(),
        start_ticks=int(rest[19]),
        utime=int(rest[11]),
        stime=int(rest[12]),
        cutime=int(rest[13]),
        cstime=int(rest[14]),
        rss_pages=int(rest[21]),
    )


def _field_kb(data: bytes, key: bytes) -> int:
    """A ``Key:   123 kB`` field of /proc/PID/status, 0 when absent (zombies have no Vm* lines)."""
    at = data.find(key)
    if at < 0:
        return 0
    end = data.find(b"\n", at + 1)
    return int(data[at + len(key) : end if end >= 0 else None].split()[0])


@dataclass(frozen=True)
class _Status:
    name: str
    rss: int
    hwm: int
    threads: int
    anon: int
    file: int


def _parse_status(data: bytes) -> _Status:
    """Name, VmRSS, VmHWM, threads, RssAnon, RssFile+RssShmem; zombies have no Vm*/Rss* lines."""
    end = data.find(b"\n")
    name = data[5:end].strip().decode(errors="replace") if data.startswith(b"Name:") else ""
    return _Status(
        name=name,
        rss=_field_kb(data, b"\nVmRSS:") * 1024,
        hwm=_field_kb(data, b"\nVmHWM:") * 1024,
        threads=_field_kb(data, b"\nThreads:") or 1,
        anon=_field_kb(data, b"\nRssAnon:") * 1024,
        file=(_field_kb(data, b"\nRssFile:") + _field_kb(data, b"\nRssShmem:")) * 1024,
    )


def _parse_io(data: bytes) -> tuple[int, int, int]:
    """(storage read bytes, storage write bytes, read+written through syscalls)."""
    read = _field_kb(data, b"\nread_bytes:")
    write = _field_kb(data, b"\nwrite_bytes:")
    cancelled = _field_kb(data, b"\ncancelled_write_bytes:")
    chars = _field_kb(data, b"rchar:") + _field_kb(data, b"\nwchar:")
    # Pages written and then truncated before writeback never reached the disk.
    return read, max(0, write - cancelled), chars


@dataclass(frozen=True)
class Rollup:
    """The fields of /proc/PID/smaps_rollup the unique estimate uses (bytes)."""

    pss: int  # each page divided by the number of processes mapping it
    private: int  # pages no other process maps
    anon: int
    private_dirty: int  # its own modified pages: anonymous memory not shared with a fork parent


def parse_rollup(data: bytes) -> Rollup:
    fields: dict[bytes, int] = {}
    for line in data.split(b"\n"):
        key, _, rest = line.partition(b":")
        if key in (b"Pss", b"Private_Clean", b"Private_Dirty", b"Anonymous"):
            fields[key] = int(rest.split()[0]) * 1024
    if b"Pss" not in fields:
        raise ValueError("smaps_rollup without Pss")
    private = fields.get(b"Private_Clean", 0) + fields.get(b"Private_Dirty", 0)
    return Rollup(fields[b"Pss"], private, fields.get(b"Anonymous", 0), fields.get(b"Private_Dirty", 0))


def _ancestors(pid: int, proc: str = "/proc") -> frozenset[int]:
    """``pid``, its ancestors, and 1: processes the tree must never contain (or signal)."""
    found = {0, 1, pid}
    current = pid
    for _ in range(64):
        try:
            current = _parse_stat(_read(f"{proc}/{current}/stat")).ppid
        except (OSError, ValueError, IndexError):
            break
        if current in found:
            break
        found.add(current)
    return frozenset(found)


def session_side_pids(pid: int, proc: str = "/proc") -> frozenset[int]:
    """``pid`` and its ancestors: what a container's cgroup holds besides the build."""
    return _ancestors(pid, proc) - {0}


@dataclass
class _Member:
    start_ticks: int
    last: ProcessSnapshot | None
    first_seen: float  # monotonic
    cpu_ticks: int = -1  # utime+stime+cutime+cstime at the last full read
    stale: int = 0  # walks since status and io were last read
    stat_fd: int | None = None  # kept open: pread is cheaper than open+read+close every tick
    statm_fd: int | None = None  # held while young, for quick polls
    raw_stat: bytes = b""
    # Quick polls: anonymous memory at the last walk (or the least seen since birth, for
    # a process born after it), so a poll's rise counts only pages faulted in since.
    anon_ref: int | None = None
    gone_in_poll: bool = False  # a quick poll found it gone (its walk figures no longer held)
    # Unique estimate: the member's share when its smaps_rollup was last read, and its
    # anonymous and resident memory then (growth since is counted as its own).
    unique_base: int | None = None
    anon_base: int = 0
    rss_base: int = 0


# Held /proc descriptors (stat of members, statm of young ones); beyond this many the rest
# are opened per read, so a build with thousands of processes cannot exhaust our fd limit.
_MAX_HELD_FDS = 512
# Quick polls look for newcomers under each member's children up to this many members.
_CHILDREN_LOOKUP_MAX = 32


# The unique estimate may spend this share of the sampling interval on smaps_rollup reads
# (the kernel walks the page tables to produce them); a full sweep waits until the budget
# saved up over at most _SWEEP_SAVINGS ticks covers it.
_UNIQUE_BUDGET = 0.01
_SWEEP_SAVINGS = 10
_SWEEP_EVERY = 10  # ticks: a sweep at least this often even when nothing seems to change
_SWEEP_RSS_CHANGE = 4 * 1024 * 1024  # a member's RSS moved this much since its last read


# A process that did not run since the last walk cannot have raised its high-water mark
# or done I/O, so only its stat (CPU, RSS) is read; status and io are re-read at least
# every this many walks anyway (RSS can shrink under reclaim without the process running).
_REFRESH_EVERY = 5


class ProcessTree:
    """Walks the build's tree; one instance per monitored run, used by one thread at a time."""

    def __init__(
        self,
        *,
        session_pid: int | None = None,
        cgroup: CgroupView | None = None,
        unique: bool = False,
        interval: float = 1.0,
        young_seconds: float = 2.0,
        proc: str = "/proc",
    ) -> None:
        self._proc = proc
        self._session_pid = os.getpid() if session_pid is None else session_pid
        self._cgroup = cgroup
        self._unique = unique
        self._unique_tokens = 0.0  # seconds of smaps_rollup reading we may spend now
        self._unique_budget = _UNIQUE_BUDGET * max(0.01, interval)
        self._rollup_cost = 0.0  # seconds per smaps_rollup read, measured
        self._last_sweep = -_SWEEP_EVERY
        self._swept_members: frozenset[int] = frozenset()
        self._young_seconds = young_seconds
        self._boot = boot_time(proc)
        self._root: int | None = None
        self._root_pgid: int | None = None
        self._root_sid: int | None = None
        self._members: dict[int, _Member] = {}
        self._foreign: set[int] = set()
        self._ticks = 0
        self._retired_user = 0.0
        self._retired_system = 0.0
        self._retired_read = 0
        self._retired_write = 0
        self._max_user = 0.0
        self._max_system = 0.0
        self._max_read = 0
        self._max_write = 0
        self._retired_chars = 0
        self._max_chars = 0
        self._reaped: set[int] = set()
        self._last_pid_seen = ""
        self._protected = _ancestors(self._session_pid, proc)
        self._held_fds = 0
        self._young_until = 0.0  # monotonic time when the youngest member stops being young
        self._quick_rise: int | None = None
        self._quick_polls = 0

    @property
    def root(self) -> int | None:
        return self._root

    @property
    def _dedicated(self) -> bool:
        return self._cgroup is not None and self._cgroup.dedicated

    def set_root(self, pid: int) -> None:
        """The build process: a child of the session, the leader of its own process group."""
        self._root = pid
        try:
            stat = _parse_stat(_read(f"{self._proc}/{pid}/stat"))
        except (OSError, ValueError, IndexError):
            return
        # Group and session identify adopted orphans only when the build owns them
        # (the session starts it with setsid); a shared group would adopt strangers.
        self._root_pgid = stat.pgid if stat.pgid == pid else None
        self._root_sid = stat.sid if stat.sid == pid else None
        self._members[pid] = _Member(stat.start_ticks, None, time.monotonic())
        self._young_until = time.monotonic() + self._young_seconds
        self._foreign.discard(pid)

    def member_pids(self) -> list[int]:
        return list(self._members)

    def account_reaped(self, pid: int, usage: resource.struct_rusage) -> None:
        """The session reaped ``pid`` (the root or an adopted orphan) with ``os.wait4``.

        rusage covers the process and every descendant it reaped, up to its exit,
        which is more than its last /proc figures.
        """
        if pid in self._reaped:
            return
        self._reaped.add(pid)
        self._retired_user += usage.ru_utime
        self._retired_system += usage.ru_stime
        self._retired_read += usage.ru_inblock * 512
        self._retired_write += usage.ru_oublock * 512

    def _is_candidate(self, pid: int, stat: _Stat, cgroup_pids: set[int]) -> bool:
        if pid in self._protected:
            return False  # never the session, its ancestors or init, whatever a list says
        if pid in cgroup_pids:
            return True
        if stat.ppid in self._members:
            return True
        if stat.ppid == self._session_pid and pid != self._session_pid:
            # Adopted orphan (we are its subreaper): it kept the build's group or session
            # (the build runs in a session of its own, so neither is shared with anyone else).
            return stat.pgid == self._root_pgid or stat.sid == self._root_sid
        return False

    def _admit(self, listed: set[int], cgroup_pids: set[int], now: float) -> list[int]:
        """Read stat of pids never seen before; admit the tree's, remember the rest as foreign."""
        pending: dict[int, _Stat] = {}
        for pid in listed:
            if pid in self._members or pid in self._foreign or pid == self._session_pid:
                continue
            try:
                pending[pid] = _parse_stat(_read(f"{self._proc}/{pid}/stat"))
            except (OSError, ValueError, IndexError):
                continue
        started: list[int] = []
        changed = True
        while pending and changed:  # parents before children, whatever the pid order
            changed = False
            for pid, stat in list(pending.items()):
                if self._is_candidate(pid, stat, cgroup_pids):
                    self._members[pid] = _Member(stat.start_ticks, None, now)
                    self._young_until = max(self._young_until, now + self._young_seconds)
                    started.append(pid)
                    del pending[pid]
                    changed = True
        self._foreign.update(pending)
        return started

    def _list_proc(self) -> set[int]:
        try:
            listed = {int(name) for name in os.listdir(self._proc) if name.isdigit()}
        except OSError:
            return set()
        self._foreign &= listed  # forget dead foreigners so a reused pid is looked at again
        return listed

    def _discover(self) -> tuple[set[int], set[int]]:
        """(pids that may be new members, pids known to be in the build's dedicated cgroup).

        The cgroup's list is used when there is one: every process the build forks
        starts in our cgroup, and a cgroup lists far fewer pids than /proc. Only a
        dedicated cgroup's list proves membership; a /proc listing never does.
        """
        raw = self._cgroup.procs_bytes() if self._cgroup is not None else None
        if raw is None:
            return self._list_proc(), set()
        try:
            found = {int(x) for x in raw.split()}
        except ValueError:
            return self._list_proc(), set()
        self._foreign &= found | set(self._members)
        return found, (found if self._dedicated else set())

    def _private_dirty(self, pid: int) -> int:
        try:
            return parse_rollup(_read(f"{self._proc}/{pid}/smaps_rollup")).private_dirty
        except (OSError, ValueError, IndexError):
            return 0

    def _children_of_members(self) -> set[int] | None:
        """New processes as the kernel lists them under their parents (``task/*/children``):
        a few reads for a small tree, where listing /proc or a busy cgroup would read
        every process on the machine. None for a large tree or without the file."""
        if len(self._members) > _CHILDREN_LOOKUP_MAX:
            return None
        found: set[int] = set()
        for pid in list(self._members):
            try:
                tasks = os.listdir(f"{self._proc}/{pid}/task")
            except OSError:
                continue
            for tid in tasks:
                try:
                    data = _read(f"{self._proc}/{pid}/task/{tid}/children")
                except FileNotFoundError:
                    return None  # a kernel without CONFIG_PROC_CHILDREN
                except OSError:
                    continue
                found.update(int(x) for x in data.split())
        return found - set(self._members)

    def _forked_since_last_look(self) -> bool:
        """/proc/loadavg names the last pid allocated in this pid namespace: a 20 us read
        that tells whether anything was forked, so idle quick polls skip listing /proc."""
        try:
            last = _read(f"{self._proc}/loadavg").rsplit(None, 1)[-1].decode()
        except (OSError, IndexError):
            return True
        changed = last != self._last_pid_seen
        self._last_pid_seen = last
        return changed

    def quick_poll(self) -> bool:
        """Between walks: admit processes born since the last look and read the young ones.

        A grandchild that allocates 300 MB and exits within 200 ms lives between two
        1 s walks; polling only young processes every few tens of milliseconds sees
        it at its peak at a small cost. What a poll adds to the last walk's figure is
        how the young processes' anonymous memory changed since that walk: for those in
        the walk, up or down (what one frees while another grows must not count twice);
        for those born since, what they faulted in (a fresh fork shares its parent's
        pages, so only its own count); file pages are left out, as they are mostly
        libraries shared with others. Young members of the walk that are gone take their
        whole RSS with them (more than they can have freed: the estimate errs low). The
        largest such rise goes to the next ``TreeSnapshot.quick_rise_bytes``.
        Returns whether any member is young (the caller polls faster while one is).
        """
        now = time.monotonic()
        self._quick_polls += 1
        if self._forked_since_last_look():
            children = self._children_of_members()
            if children is not None:
                self._admit(children, set(), now)
            else:
                found, cgroup_pids = self._discover()
                self._admit(found, cgroup_pids, now)
        if now >= self._young_until:
            return False  # nothing young: the walks see everything that lives this long
        rise = 0
        for pid, member in self._members.items():
            if now - member.first_seen >= self._young_seconds:
                self._release_statm(member)
                continue
            if member.gone_in_poll:
                if member.last is not None:
                    rise -= member.last.rss_bytes
                continue
            try:
                # statm is the cheapest memory figure the kernel offers (no status text to
                # format); the descriptor is held while the process is young.
                if member.statm_fd is None and self._held_fds < _MAX_HELD_FDS:
                    member.statm_fd = os.open(f"{self._proc}/{pid}/statm", os.O_RDONLY)
                    self._held_fds += 1
                if member.statm_fd is not None:
                    data = os.pread(member.statm_fd, 256, 0)
                else:
                    data = _read(f"{self._proc}/{pid}/statm")
                fields = data.split()
                if int(fields[1]) == 0:
                    raise ProcessLookupError(pid)  # a zombie: its memory is freed
                anon = (int(fields[1]) - int(fields[2])) * _PAGE  # resident - file/shmem
            except (OSError, ValueError, IndexError):
                member.gone_in_poll = True  # its peak already counted in earlier polls
                if member.last is not None:
                    rise -= member.last.rss_bytes
                continue
            if member.anon_ref is None:
                # Born since the last walk: all its private memory is new, but a fork
                # shares its parent's pages until it writes them (they are in the level).
                member.anon_ref = anon - min(anon, self._private_dirty(pid))
            elif member.last is None and anon < member.anon_ref:
                member.anon_ref = anon
            if member.last is None:
                rise += max(0, anon - member.anon_ref)
            else:
                # In the walk's level: what it freed since counts as much as what it took.
                rise += anon - member.anon_ref
        self._quick_rise = rise if self._quick_rise is None else max(self._quick_rise, rise)
        return True

    def walk(self, *, read_cgroup: bool = True) -> TreeSnapshot:
        """One tick. ``read_cgroup=False`` for walks that only refresh membership (killing,
        reaping): reading the cgroup resets its interval peak, and what quick polls saw
        since the last tick is measured against that tick; both belong to the samplers."""
        cpu_before = time.thread_time()
        wall = time.time()
        mono = time.monotonic()
        self._ticks += 1
        cgroup_reading = self._cgroup.read() if self._cgroup is not None and read_cgroup else None
        listed, started = self._find_members(read_cgroup, mono)
        live, ended, gone, active = self._read_members(listed, read_cgroup)
        self._retire(gone, {p.pid for p in live})
        self._accumulate(live)
        unique: int | None = None
        quick_rise: int | None = None
        if read_cgroup:
            if self._unique:
                unique = self._estimate_unique(live, ended)
            quick_rise, self._quick_rise = self._quick_rise, None
        return TreeSnapshot(
            wall_time=wall,
            monotonic=mono,
            processes=tuple(live),
            started=tuple(started),
            ended=tuple(ended),
            cpu_user_seconds=self._max_user,
            cpu_system_seconds=self._max_system,
            io_read_bytes=self._max_read,
            io_write_bytes=self._max_write,
            rss_bytes=sum(p.rss_bytes for p in live),
            hwm_bytes=sum(p.hwm_bytes for p in live),
            cgroup=cgroup_reading,
            walk_cpu_seconds=time.thread_time() - cpu_before,
            io_cache_bound_bytes=self._max_read + self._max_chars,
            unique_bytes=unique,
            quick_rise_bytes=quick_rise,
            active_pids=frozenset(active),
        )

    def _find_members(self, read_cgroup: bool, now: float) -> tuple[set[int], list[int]]:
        """(every pid that may be a member now, the pids admitted in this walk)."""
        # A cgroup's member list finds every newcomer; /proc is still listed on membership
        # walks and now and then, for adopted zombies (no longer listed in any cgroup).
        found, cgroup_pids = self._discover()
        if self._cgroup is not None and (not read_cgroup or self._ticks % 10 == 1):
            found = found | self._list_proc()
        listed = found | set(self._members)
        return listed, self._admit(listed, cgroup_pids, now)

    def _read_members(
        self, listed: set[int], read_cgroup: bool
    ) -> tuple[list[ProcessSnapshot], list[ProcessSnapshot], list[int], set[int]]:
        """(live members' snapshots, last snapshots of members gone, their pids, members that ran)."""
        live: list[ProcessSnapshot] = []
        ended: list[ProcessSnapshot] = []
        gone: list[int] = []
        active: set[int] = set()
        for pid, member in self._members.items():
            snap = self._snapshot(pid, member) if pid in listed else None
            if snap is None:
                gone.append(pid)
                if member.last is not None:
                    ended.append(member.last)
                continue
            if snap is not member.last:
                active.add(pid)
            member.last = snap
            if read_cgroup:
                member.anon_ref = snap.anon_bytes
                member.gone_in_poll = False
            live.append(snap)
        return live, ended, gone, active

    def _retire(self, gone: list[int], live_pids: set[int]) -> None:
        """Forget members gone since the last walk, keeping what no live member accounts for."""
        for pid in gone:
            gone_member = self._members.pop(pid)
            self._release(gone_member)
            last = gone_member.last
            if last is None:
                continue
            if last.ppid in live_pids:
                continue  # reaped by a live member: now inside its cutime and io
            if last.ppid == self._session_pid:
                # Reaped by the session, whose rusage is exact for CPU and storage I/O
                # but has no syscall byte counts: keep the last ones seen.
                self._retired_chars += last.syscall_io_bytes
                continue
            self._retired_user += last.user_seconds + last.children_user_seconds
            self._retired_system += last.system_seconds + last.children_system_seconds
            self._retired_read += last.read_bytes
            self._retired_write += last.write_bytes
            self._retired_chars += last.syscall_io_bytes

    def _accumulate(self, live: list[ProcessSnapshot]) -> None:
        """The tree's cumulative CPU and I/O: what retired plus what the live members report."""
        user = self._retired_user + sum(p.user_seconds + p.children_user_seconds for p in live)
        system = self._retired_system + sum(p.system_seconds + p.children_system_seconds for p in live)
        read = self._retired_read + sum(p.read_bytes for p in live)
        write = self._retired_write + sum(p.write_bytes for p in live)
        chars = self._retired_chars + sum(p.syscall_io_bytes for p in live)
        # Cumulative figures never go down, even when an estimate above was short.
        self._max_user = max(self._max_user, user)
        self._max_system = max(self._max_system, system)
        self._max_read = max(self._max_read, read)
        self._max_write = max(self._max_write, write)
        self._max_chars = max(self._max_chars, chars)

    def _estimate_unique(self, live: list[ProcessSnapshot], gone: list[ProcessSnapshot]) -> int:
        """What the tree holds resident, every page counted once, without a cgroup.

        ``smaps_rollup`` gives each process's PSS: a page mapped by k processes counts
        1/k in each, so the sum over the tree counts pages shared inside it once (pages
        also mapped outside the tree count by the tree's share). A sum of PSS read at
        different times can count a page twice when its sharing changed in between, and
        a read costs a page table walk, so:

        - every member is read in one sweep whenever the sharing may have changed (a
          newcomer, a member gone, a member whose RSS moved) and every few ticks, as far
          as a CPU budget of ``_UNIQUE_BUDGET`` of the interval allows (a burst may run it
          into debt);
        - beyond the budget, only the families where sharing may have changed are read
          together (a fork shares with its parent and siblings; readers of one file are
          often siblings), and while the debt is deep, nothing;
        - a member not read since counts its share at its last read plus its anonymous
          growth since; one never read counts what it faults in after first seen.
        """
        now = self._ticks
        budget = self._unique_budget
        self._unique_tokens = min(self._unique_tokens + budget, budget * _SWEEP_SAVINGS)
        readable = [p for p in live if p.state != "Z"]
        members = self._members
        by_pid = {p.pid: p for p in readable}
        changed = {p.pid for p in readable if members[p.pid].unique_base is None}
        changed.update(
            p.pid
            for p in readable
            if members[p.pid].unique_base is not None
            and abs(p.rss_bytes - members[p.pid].rss_base) > _SWEEP_RSS_CHANGE
        )
        first = self._last_sweep < 0
        predicted = self._rollup_cost * len(readable)
        debt_limit = -budget * _SWEEP_SAVINGS
        due = now - self._last_sweep >= _SWEEP_EVERY
        if (
            first
            or (due and predicted <= self._unique_tokens)
            or ((changed or gone) and predicted <= self._unique_tokens - debt_limit)
        ):
            self._read_rollups(readable)
            self._last_sweep = now
        elif (changed or gone) and self._unique_tokens > debt_limit:
            # Too many to read all: the families where sharing may have changed (a fork
            # shares with its parent and siblings, readers of one file are often siblings).
            parents = {by_pid[pid].ppid for pid in changed} | {p.ppid for p in gone}
            family = {p.pid for p in readable if p.ppid in parents} | parents | changed
            self._read_rollups([by_pid[pid] for pid in sorted(family) if pid in by_pid])
        total = 0
        for p in readable:
            member = members[p.pid]
            if member.unique_base is None:
                # Not read: count only what it faults in from now on.
                member.unique_base, member.anon_base, member.rss_base = 0, p.anon_bytes, p.rss_bytes
            total += max(0, member.unique_base + p.anon_bytes - member.anon_base)
        return total

    def _read_rollups(self, procs: list[ProcessSnapshot]) -> None:
        started = time.perf_counter()
        count = 0
        for p in procs:
            member = self._members[p.pid]
            try:
                rollup = parse_rollup(_read(f"{self._proc}/{p.pid}/smaps_rollup"))
            except (OSError, ValueError, IndexError):
                continue
            count += 1
            member.unique_base = rollup.pss
            member.anon_base, member.rss_base = rollup.anon, p.rss_bytes
        spent = time.perf_counter() - started
        self._unique_tokens -= spent
        if count:
            self._rollup_cost = spent / count

    def _read_stat(self, pid: int, member: _Member) -> bytes:
        # A descriptor of /proc/PID/stat stays bound to that process: once it is reaped,
        # reads fail with ESRCH even if the pid number is reused.
        if member.stat_fd is None and self._held_fds < _MAX_HELD_FDS:
            member.stat_fd = os.open(f"{self._proc}/{pid}/stat", os.O_RDONLY)
            self._held_fds += 1
        if member.stat_fd is not None:
            return os.pread(member.stat_fd, 4096, 0)
        return _read(f"{self._proc}/{pid}/stat")

    def _release_statm(self, member: _Member) -> None:
        if member.statm_fd is not None:
            with contextlib.suppress(OSError):
                os.close(member.statm_fd)
            member.statm_fd = None
            self._held_fds -= 1

    def _release(self, member: _Member) -> None:
        self._release_statm(member)
        if member.stat_fd is not None:
            with contextlib.suppress(OSError):
                os.close(member.stat_fd)
            member.stat_fd = None
            self._held_fds -= 1

    def close(self) -> None:
        """Release held descriptors (the tree can still walk afterwards, opening them again)."""
        for member in self._members.values():
            self._release(member)

    def _snapshot(self, pid: int, member: _Member) -> ProcessSnapshot | None:
        base = f"{self._proc}/{pid}/"
        try:
            raw = self._read_stat(pid, member)
            if not raw:
                return None
            if raw == member.raw_stat and member.last is not None:
                # Nothing in its stat moved: no CPU time, no page faults, same RSS, no
                # reaped children; so neither its high-water mark nor its I/O changed.
                # (Its PSS could, when other processes map or unmap pages it shares;
                # the last reading is kept.)
                return member.last
            stat = _parse_stat(raw)
        except (OSError, ValueError, IndexError):
            return None  # vanished mid-walk
        if stat.start_ticks != member.start_ticks:
            return None  # the pid was reused: our member is gone
        member.raw_stat = raw
        cpu_ticks = stat.utime + stat.stime + stat.cutime + stat.cstime
        last = member.last
        zombie = stat.state == "Z"
        rss = 0 if zombie else stat.rss_pages * _PAGE
        exited = zombie and (last is None or last.state != "Z")  # its final I/O is readable now
        if last is None or cpu_ticks != member.cpu_ticks or member.stale >= _REFRESH_EVERY or exited:
            try:
                status = _parse_status(_read(base + "status"))
            except (OSError, ValueError, IndexError):
                return None
            try:
                read, write, chars = _parse_io(_read(base + "io"))
            except (OSError, ValueError, IndexError):
                read, write, chars = (
                    (last.read_bytes, last.write_bytes, last.syscall_io_bytes)
                    if last is not None
                    else (0, 0, 0)
                )
            name, hwm, threads = status.name, status.hwm, status.threads
            anon, file = status.anon, status.file
            rss = status.rss or rss
            member.stale = 0
        else:
            name, hwm, threads = last.name, last.hwm_bytes, last.threads
            anon, file = last.anon_bytes, last.file_bytes
            read, write, chars = last.read_bytes, last.write_bytes, last.syscall_io_bytes
            member.stale += 1
        member.cpu_ticks = cpu_ticks
        if zombie:
            anon = file = 0
        return ProcessSnapshot(
            pid=pid,
            ppid=stat.ppid,
            pgid=stat.pgid,
            sid=stat.sid,
            name=name,
            state=stat.state,
            start_time=self._boot + stat.start_ticks / _CLK_TCK,
            rss_bytes=rss,
            hwm_bytes=max(hwm, rss),
            user_seconds=stat.utime / _CLK_TCK,
            system_seconds=stat.stime / _CLK_TCK,
            children_user_seconds=stat.cutime / _CLK_TCK,
            children_system_seconds=stat.cstime / _CLK_TCK,
            read_bytes=read,
            write_bytes=write,
            threads=threads,
            anon_bytes=anon,
            file_bytes=file,
            syscall_io_bytes=chars,
        )


def adopted_zombies(
    tree_pids: Iterable[int], session_pid: int, root: int | None, proc: str = "/proc"
) -> list[int]:
    """Zombie children of the session that belong to the build (adopted orphans), root excluded."""
    found = []
    for pid in tree_pids:
        if pid == root:
            continue
        try:
            stat = _parse_stat(_read(f"{proc}/{pid}/stat"))
        except (OSError, ValueError, IndexError):
            continue
        if stat.ppid == session_pid and stat.state == "Z":
            found.append(pid)
    return found
