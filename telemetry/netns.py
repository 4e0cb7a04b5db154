"""Whether the network namespace the build is measured in is shared with other processes.

``/proc/net/dev`` counts every byte of a network namespace, whoever sent it. In a container with
a network of its own (a Docker action's usual case) that is the build's traffic; on a bare runner
or in a container started with ``--network host`` it also holds the runner agent's log uploads,
other jobs, anything else on the machine. ``namespace_shared()`` tells the two apart, from
``/proc`` alone, in milliseconds (reading the TCP tables can take tens of them on a big host,
so the network sampler calls it at the start, in a thread, and at the end: not at every tick):

1. **Processes.** Every process whose ``/proc/PID/ns/net`` link names our namespace is a user
   of it, except: the calling process (the session), its descendants (the build's tree and
   whatever re-parented to the session as subreaper), kernel threads, and the session's
   ancestors *when we are in a PID namespace of our own*. There, what we can see is the
   container, and its ancestors are the container's init or the wrapper that started the
   entrypoint. In the machine's initial PID namespace the ancestors are the runner's worker
   and shell, which upload the job's logs: they count as others.
2. **Sockets.** A PID namespace of our own hides the processes outside it, e.g. the host's
   under ``--network host``. Their sockets are still listed in this namespace's
   ``/proc/net/{tcp,tcp6,udp,udp6,raw,raw6,unix}``: a socket no process of ours holds belongs
   to someone else. Docker's embedded DNS resolver is the one exception: the daemon listens
   inside a container's namespace on 127.0.0.11, and what passes there is the build's own
   lookups. The tables are read before and after the descriptors, and only sockets present
   both times count, so one of ours opened or closed in between is not mistaken for another's.
   Sockets opened and closed between two checks are not seen.

A namespace link that cannot be read (another user's process without root, or one that
forbids ptrace access: ``EACCES``) is compared through ``/proc/PID/net/dev`` instead: that
needs no ptrace access, and each network namespace has its own entry there, so the inode
differs per namespace.

The answer is True on any evidence of another user; else None when some process could not be
placed (``/proc`` mounted with ``hidepid``), because it may be one; else False.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

# The initial PID namespace's inode number, fixed by the kernel (PROC_PID_INIT_INO).
INITIAL_PID_NS = "pid:[4026531836]"
_PF_KTHREAD = 0x00200000
# Docker's embedded DNS resolver at 127.0.0.11, as /proc/net/{tcp,udp} print a local address
# (the 32-bit value in host byte order: little-endian first).
_DOCKER_DNS = ("0B00007F:", "7F00000B:")
_INET_TABLES = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6")


def _stat(proc: str, pid: int) -> tuple[int, int] | None:
    """(ppid, flags) of ``pid``; None if it is gone; (-1, 0) if we may not read it (``hidepid``)."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), int(fields[6])
    except PermissionError:
        return -1, 0
    except (OSError, IndexError, ValueError):
        return None


def _pids(proc: str) -> list[int]:
    try:
        return [int(name) for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return []


def _own_pid_namespace(proc: str) -> bool:
    """Whether we are in a PID namespace other than the machine's initial one (a container)."""
    try:
        return os.readlink(f"{proc}/self/ns/pid") != INITIAL_PID_NS
    except OSError:
        return True  # cannot tell: assume processes may be hidden from us


def _namespace_sockets(proc: str) -> set[str]:
    """Inodes of the sockets this network namespace lists (Docker's DNS resolver left out)."""
    inodes: set[str] = set()
    for table in _INET_TABLES:
        try:
            with open(f"{proc}/net/{table}", encoding="ascii") as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[9] != "0" and not fields[1].startswith(_DOCKER_DNS):
                inodes.add(fields[9])
    try:
        with open(f"{proc}/net/unix", encoding="ascii", errors="replace") as handle:
            lines = handle.read().splitlines()[1:]
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) > 6 and fields[6] != "0":
            inodes.add(fields[6])
    return inodes


def socket_inodes_of(proc: str, pid: int) -> list[str] | None:
    """Socket inodes in ``pid``'s descriptors: [] when it exited, None when they are unreadable."""
    fd_dir = f"{proc}/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except FileNotFoundError:
        return []  # exited
    except OSError:
        return None
    found = []
    for name in names:
        try:
            target = os.readlink(f"{fd_dir}/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.append(target[8:-1])
    return found


def _held_sockets(proc: str, pids: Iterable[int]) -> set[str] | None:
    """Socket inodes in the descriptors of ``pids``; None when one's descriptors are unreadable."""
    held: set[str] = set()
    for pid in pids:
        inodes = socket_inodes_of(proc, pid)
        if inodes is None:
            return None
        held.update(inodes)
    return held


def _namespace_of(proc: str, pid: int, own_link: str, own_dev: int | None) -> bool | None:
    """Whether ``pid`` is in our network namespace; None when nothing says."""
    try:
        return os.readlink(f"{proc}/{pid}/ns/net") == own_link
    except (FileNotFoundError, ProcessLookupError):
        return False  # exited, or a zombie: no namespace any more
    except OSError:
        pass  # EACCES: no ptrace access (another user's process, or one that forbids it)
    # /proc/PID/net/ needs no ptrace access, and the kernel gives each network namespace its own
    # entries there, so the inode of ``dev`` names the namespace too.
    if own_dev is None:
        return None
    try:
        return os.stat(f"{proc}/{pid}/net/dev").st_ino == own_dev
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:
        return None


def _processes_hidden(proc: str) -> bool:
    """Whether /proc hides other users' processes from us (``hidepid``), so we cannot see all."""
    if os.geteuid() == 0:
        return False
    target = os.path.realpath(proc)
    try:
        with open(f"{proc}/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if len(fields) < 5 or fields[4] != target or " - proc " not in line:
            continue
        options = line.rsplit(" ", 1)[-1].split(",")
        return any(o.startswith("hidepid=") and o not in ("hidepid=0", "hidepid=off") for o in options)
    return False


def namespace_shared(proc: str = "/proc") -> bool | None:
    """True if processes other than ours use this network namespace, None if it cannot be told.

    "Ours" are the calling process, its descendants and, inside a PID namespace of our own, its
    ancestors (see the module docstring for why).
    """
    try:
        own_link = os.readlink(f"{proc}/self/ns/net")
    except OSError:
        return None
    try:
        own_dev: int | None = os.stat(f"{proc}/self/net/dev").st_ino
    except OSError:
        own_dev = None
    me = os.getpid()
    parents: dict[int, int] = {}
    members: list[int] = []  # processes in our network namespace, kernel threads left out
    unknown = _processes_hidden(proc)
    for pid in _pids(proc):
        stat = _stat(proc, pid)
        if stat is None:
            continue
        ppid, flags = stat
        if ppid >= 0:
            parents[pid] = ppid
        if flags & _PF_KTHREAD or pid == me:
            continue
        same = _namespace_of(proc, pid, own_link, own_dev)
        if same is None:
            unknown = True
        elif same:
            members.append(pid)

    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    ours = {me}
    pending = [me]
    while pending:
        for child in children.get(pending.pop(), ()):
            if child not in ours:
                ours.add(child)
                pending.append(child)
    if _own_pid_namespace(proc):
        ancestor = parents.get(me, 0)
        while ancestor > 0 and ancestor not in ours:
            ours.add(ancestor)
            ancestor = parents.get(ancestor, 0)
    if any(pid not in ours for pid in members):
        return True

    before = _namespace_sockets(proc)
    held = _held_sockets(proc, sorted(ours))
    after = _namespace_sockets(proc)
    if held is None:
        return None
    if (before & after) - held:
        return True
    return None if unknown else False
