"""Network: bytes received/sent per interface, and the endpoints the tree talked to.

Interface counters (``/proc/net/dev``, this network namespace) are the only
source that sees every byte, including connections opened and closed between
two ticks; they are not per process, so inside a shared namespace they include
other traffic (in a container they are the build's). The interface reported is
the busiest non-loopback one; loopback only when nothing else moved beyond a
noise floor (a local test server, or a build that only talks to localhost). On
loopback every packet is both sent and received, so ``bytes_downloaded`` and
``bytes_uploaded`` there both count the traffic of both directions.

Whether the namespace is shared with other processes (so the counters include
their traffic) is checked once at the start and once at the end
(``telemetry.netns``); the bytes the build says it downloaded itself (the
``BUILDER_DOWNLOADED_BYTES`` counter of the event channel) are put beside the
counters by ``with_builder_downloads``.

Connections: socket inodes found in the fds of the tree's processes are looked
up in ``/proc/net/tcp{,6}`` for their peers; each step only runs when the
previous one says something changed (see ``_track_connections``), so a quiet
build costs two small reads per tick. Connections opened and closed between two
ticks are not counted.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import replace

from contracts.vocabulary import NETWORK_SAMPLES_FILE, SamplerName
from telemetry.events import BUILDER_DOWNLOADED_BYTES
from telemetry.model import NetworkResult, NetworkSample
from telemetry.netns import namespace_shared, socket_inodes_of
from telemetry.proctree import TreeSnapshot
from telemetry.samplers.interface import (
    BoundedSeries,
    FinalFacts,
    Sampler,
    SampleRecord,
    SamplingContext,
)

LOOPBACK = "lo"
# Below this, a non-loopback interface counts as idle (ARP, DHCP, a monitoring agent).
NOISE_FLOOR_BYTES = 64 * 1024
_LISTEN = "0A"
_TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
_SOCKSTAT = ("/proc/net/sockstat", "/proc/net/sockstat6")


def parse_net_dev(text: str) -> dict[str, tuple[int, int]]:
    counters: dict[str, tuple[int, int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        fields = rest.split()
        if len(fields) >= 9:
            counters[name.strip()] = (int(fields[0]), int(fields[8]))
    return counters


def default_route_interface(route_path: str = "/proc/net/route") -> str | None:
    """The interface of the IPv4 default route, if any."""
    try:
        with open(route_path, encoding="ascii") as handle:
            lines = handle.read().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 1 and fields[1] == "00000000":
            return fields[0]
    return None


def tcp_active_opens(snmp_path: str = "/proc/net/snmp") -> int | None:
    """Outgoing TCP connections ever opened in this network namespace."""
    try:
        with open(snmp_path, encoding="ascii") as handle:
            tcp = [line.split() for line in handle if line.startswith("Tcp:")]
    except OSError:
        return None
    if len(tcp) < 2 or "ActiveOpens" not in tcp[0]:
        return None
    try:
        return int(tcp[1][tcp[0].index("ActiveOpens")])
    except (ValueError, IndexError):
        return None


def choose_interface(per_interface: Mapping[str, tuple[int, int]], default: str | None = None) -> str:
    """Busiest non-loopback above the noise floor, else loopback if it moved, else the default route's."""
    others = {n: rx + tx for n, (rx, tx) in per_interface.items() if n != LOOPBACK}
    busiest = max(others, key=lambda n: (others[n], n == default), default=None)
    if busiest is not None and others[busiest] >= NOISE_FLOOR_BYTES:
        return busiest
    if sum(per_interface.get(LOOPBACK, (0, 0))) > 0:
        return LOOPBACK
    if busiest is not None and others[busiest] > 0:
        return busiest
    return default or busiest or LOOPBACK


def either_shared(first: bool | None, second: bool | None) -> bool | None:
    """Shared if either check saw another user; exclusive only if both saw none."""
    if first is True or second is True:
        return True
    if first is None or second is None:
        return None
    return False


def with_builder_downloads(result: NetworkResult, counters: Mapping[str, float]) -> NetworkResult:
    """``result`` with the bytes the build reported downloading itself (None if it did not)."""
    value = counters.get(BUILDER_DOWNLOADED_BYTES)
    if value is None or not math.isfinite(value):
        return replace(result, builder_downloaded_bytes=None)
    return replace(result, builder_downloaded_bytes=max(0, round(value)))


def _keep_later(
    a: tuple[float, dict[str, tuple[int, int]]], b: tuple[float, dict[str, tuple[int, int]]]
) -> tuple[float, dict[str, tuple[int, int]]]:
    return b


class NetworkSampler(Sampler[NetworkResult]):
    name = SamplerName.NETWORK
    log_file = NETWORK_SAMPLES_FILE

    def __init__(
        self, *, capacity: int = 720, net_dev_path: str = "/proc/net/dev", proc: str = "/proc"
    ) -> None:
        self._net_dev_path = net_dev_path
        self._proc = proc
        self._series: BoundedSeries[tuple[float, dict[str, tuple[int, int]]]] = BoundedSeries(
            capacity, _keep_later
        )
        self._baseline: dict[str, tuple[int, int]] = {}
        self._deltas: dict[str, tuple[int, int]] = {}
        self._inode_owner: dict[str, int] = {}  # socket inodes of the tree, seen in its fds
        self._endpoints: set[str] = set()
        self._default = default_route_interface()
        self._sockstat: tuple[str, ...] | None = None
        self._opens_before: int | None = None
        self._opens: int | None = None
        self._shared_at_start: bool | None = None
        self._shared_at_end: bool | None = None
        self._start_check: threading.Thread | None = None

    def _read_counters(self) -> dict[str, tuple[int, int]]:
        with open(self._net_dev_path, encoding="ascii") as handle:
            return parse_net_dev(handle.read())

    def start(self, context: SamplingContext) -> None:
        self._baseline = self._read_counters()
        self._opens_before = tcp_active_opens()
        # Off the build's critical path: the socket tables can take tens of milliseconds to read.
        self._start_check = threading.Thread(target=self._check_at_start, name="netns-check", daemon=True)
        self._start_check.start()

    def _check_at_start(self) -> None:
        self._shared_at_start = self._namespace_shared()

    def _namespace_shared(self) -> bool | None:
        try:
            return namespace_shared(self._proc)
        except Exception:  # a figure, never a reason to fail the run
            return None

    def _update_opens(self) -> None:
        now = tcp_active_opens()
        if now is not None and self._opens_before is not None:
            self._opens = max(0, now - self._opens_before)

    def _socket_inodes(self, pids: list[int]) -> dict[str, int]:
        owners: dict[str, int] = {}
        for pid in pids:
            for inode in socket_inodes_of(self._proc, pid) or ():
                owners[inode] = pid
        return owners

    def _sockets_changed(self) -> bool:
        """Whether the namespace's TCP socket counts moved since the last look (microseconds)."""
        counts: list[str] = []
        for path in _SOCKSTAT:
            try:
                with open(path, encoding="ascii") as handle:
                    for line in handle:
                        if line.startswith(("TCP:", "TCP6:")):
                            fields = line.split()
                            # inuse and alloc; "tw" (TIME_WAIT) churns without owners to find
                            counts.extend(
                                fields[i + 1] for i, f in enumerate(fields) if f in ("inuse", "alloc")
                            )
            except OSError:
                return True
        signature = tuple(counts)
        changed = signature != self._sockstat
        self._sockstat = signature
        return changed

    def _track_connections(self, tick: TreeSnapshot) -> None:
        """Remote endpoints of TCP sockets the tree holds, at the cost the situation needs.

        1. /proc/net/sockstat (microseconds): if no TCP socket was opened or closed in
           the namespace, nothing to do.
        2. fds of the tree's processes that ran since the last tick (a process that did
           not run cannot have opened a socket): any socket inode not seen before?
        3. Only then /proc/net/tcp{,6}, which costs milliseconds on hosts with large
           hash tables (the kernel walks every bucket), to find those sockets' peers.
        """
        if not self._sockets_changed():
            return
        scan = [p.pid for p in tick.processes if p.pid in tick.active_pids]
        owners = self._socket_inodes(scan)
        fresh = {i: p for i, p in owners.items() if i not in self._inode_owner}
        self._inode_owner.update(owners)
        if not fresh:
            return
        for table in _TCP_TABLES:
            try:
                with open(table, encoding="ascii") as handle:
                    lines = handle.read().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) < 10 or fields[3] == _LISTEN or fields[9] not in fresh:
                    continue
                self._endpoints.add(fields[2])
        if len(self._inode_owner) > 4096:  # bounded: forget the oldest half
            for inode in list(self._inode_owner)[:2048]:
                del self._inode_owner[inode]

    def _update(self) -> None:
        current = self._read_counters()
        deltas: dict[str, tuple[int, int]] = {}
        for name, (rx, tx) in current.items():
            base_rx, base_tx = self._baseline.get(name, (0, 0))
            # A counter that went backwards was reset (interface re-created): count from zero.
            deltas[name] = (rx - base_rx if rx >= base_rx else rx, tx - base_tx if tx >= base_tx else tx)
        self._deltas = deltas

    def sample(self, tick: TreeSnapshot, now: float) -> SampleRecord | None:
        self._update()
        self._update_opens()
        self._track_connections(tick)
        self._series.append((now, dict(self._deltas)))
        interface = choose_interface(self._deltas, self._default)
        rx, tx = self._deltas.get(interface, (0, 0))
        return {
            "timestamp": round(now, 3),
            "interface": interface,
            "bytes_received": rx,
            "bytes_sent": tx,
            "connection_count": len(self._endpoints),
            "tcp_connections_opened": self._opens,
            "per_interface": {n: list(v) for n, v in self._deltas.items() if v != (0, 0)},
        }

    def finish(self, facts: FinalFacts) -> None:
        self._update()
        self._update_opens()
        if self._start_check is not None:
            self._start_check.join(timeout=5.0)
        self._shared_at_end = self._namespace_shared()

    def result(self) -> NetworkResult:
        interface = choose_interface(self._deltas, self._default)
        rx, tx = self._deltas.get(interface, (0, 0))
        samples = tuple(
            NetworkSample(t, counters.get(interface, (0, 0))[0], counters.get(interface, (0, 0))[1])
            for t, counters in self._series.items()
        )
        return NetworkResult(
            bytes_downloaded=rx,
            bytes_uploaded=tx,
            interface=interface,
            per_interface=dict(self._deltas),
            connection_count=len(self._endpoints),
            samples=samples,
            tcp_connections_opened=self._opens,
            interface_shared=either_shared(self._shared_at_start, self._shared_at_end),
        )

    def empty_result(self) -> NetworkResult:
        return NetworkResult(0, 0, LOOPBACK, {}, 0, ())
