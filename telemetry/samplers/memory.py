"""Memory: what the build held resident at once, every page counted once, spikes included.

The headline ``peak_mb`` is the most memory the build's processes held resident at
one moment: anonymous memory plus the file pages they map, each physical page counted
once however many processes map it (a fork's copy-on-write pages, shared libraries, a
file mapped by many readers). Page cache that no process maps (files the build wrote
or read) is the kernel's, not the build's. RSS summed over processes is not this
figure: it counts a shared page once per process (``tree_rss_sum``, kept as a label).

At each tick the level comes from the best source the layout offers (``layout``):

``cgroup_resident``
    ``dedicated``: the build runs in a memory cgroup of its own; its ``memory.stat``
    (v2 ``anon + file_mapped``, v1 ``total_rss + total_mapped_file``) is that figure,
    kept by the kernel.
``container_cgroup_resident``
    ``container``: the build shares a cgroup only with the session and its ancestors
    (a Docker action: the entrypoint and the build in the container's read-only
    cgroup). The same figure less what the session side held at the start, plus the
    session's own anonymous growth since.
``tree_unique``
    ``shared`` (our cgroup also holds unrelated processes, e.g. a runner service) or
    ``none``: summed PSS of the tree, read within a CPU budget (``ProcessTree``).

Between ticks a spike can come and go; three estimates catch it, each built to err
low rather than high, and the headline is the largest figure of all:

``young_process_poll``
    quick polls of processes younger than two intervals (every ~50 ms): the previous
    level plus their anonymous growth since, less what left.
``process_hwm_rise``
    a process alive at a tick whose ``VmHWM`` rose since the previous one peaked in
    between: the level plus its high-water mark above its current RSS (less file
    pages it unmapped, which others may still map).
``cgroup_interval_peak``
    where the cgroup's peak covers just this interval (reset every tick) or rose in it:
    that peak less what was not the build's at the start of the interval (page cache,
    kernel memory, the session) and less every byte the tree read or wrote since, which
    bounds the page cache it can have added.
``largest_process_rusage``
    after the run, ``ru_maxrss`` of what the session reaped: the largest single process
    (shared pages included). A floor.

Labelled figures that are not the headline: ``tree_rss_sum`` and
``cgroup_peak_with_page_cache`` (the kernel's peak of everything charged to the
cgroup, page cache included: how close the runner came to its memory limit; in the
``container`` layout it includes the entrypoint, in ``shared`` the whole service).
"""

from __future__ import annotations

from typing import Final, Self

from contracts.vocabulary import MEMORY_SAMPLES_FILE, MemoryLayout, MemorySource, SamplerName
from telemetry.cgroup import CgroupReading
from telemetry.model import MemoryResult, MemorySample, PeakFigure
from telemetry.proctree import TreeSnapshot
from telemetry.samplers.interface import (
    BoundedSeries,
    FinalFacts,
    Sampler,
    SampleRecord,
    SamplerSetup,
    SamplingContext,
)

_MB = 1024 * 1024
_KERNEL_PER_CACHED_BYTE_PERCENT = 5

LAYOUTS: Final = tuple(MemoryLayout)
_LEVEL_SOURCE: Final = {
    MemoryLayout.DEDICATED: MemorySource.CGROUP_RESIDENT,
    MemoryLayout.CONTAINER: MemorySource.CONTAINER_CGROUP_RESIDENT,
    MemoryLayout.SHARED: MemorySource.TREE_UNIQUE,
    MemoryLayout.NONE: MemorySource.TREE_UNIQUE,
}
# Layouts whose level is read from a cgroup's memory.stat.
_CGROUP_LAYOUTS: Final = (MemoryLayout.DEDICATED, MemoryLayout.CONTAINER)
# Headline candidates, in the order that breaks ties (the earlier says more).
HEADLINE_SOURCES: Final = (
    MemorySource.CGROUP_RESIDENT,
    MemorySource.CONTAINER_CGROUP_RESIDENT,
    MemorySource.TREE_UNIQUE,
    MemorySource.CGROUP_INTERVAL_PEAK,
    MemorySource.YOUNG_PROCESS_POLL,
    MemorySource.PROCESS_HWM_RISE,
    MemorySource.LARGEST_PROCESS_RUSAGE,
)
LABEL_SOURCES: Final = (MemorySource.TREE_RSS_SUM, MemorySource.CGROUP_PEAK_WITH_PAGE_CACHE)
# Estimates built from the processes, bounded by what the kernel charged the cgroup.
_PROCESS_ESTIMATES: Final = (MemorySource.YOUNG_PROCESS_POLL, MemorySource.PROCESS_HWM_RISE)
# What each source is, for people (logs, summaries).
SOURCE_TEXT: Final[dict[str, str]] = {
    MemorySource.CGROUP_RESIDENT: "the build's cgroup: anonymous + mapped file pages at each sample",
    MemorySource.CONTAINER_CGROUP_RESIDENT: (
        "the container's cgroup less the entrypoint: anonymous + mapped file pages"
    ),
    MemorySource.TREE_UNIQUE: "the process tree's proportional set size (PSS) at each sample",
    MemorySource.CGROUP_INTERVAL_PEAK: "the cgroup's peak between two samples, less page cache and I/O",
    MemorySource.YOUNG_PROCESS_POLL: "new processes polled between samples",
    MemorySource.PROCESS_HWM_RISE: "a process's high-water mark between samples",
    MemorySource.LARGEST_PROCESS_RUSAGE: "the largest single process (rusage)",
    MemorySource.TREE_RSS_SUM: "RSS summed over processes (counts shared pages once per process)",
    MemorySource.CGROUP_PEAK_WITH_PAGE_CACHE: "the cgroup's own peak, page cache included",
}


def memory_source_text(source: str) -> str:
    """What a peak figure's source is, in words (never the bare identifier)."""
    return SOURCE_TEXT.get(source, "source unknown")


def system_used_bytes(meminfo: str) -> int:
    fields: dict[str, int] = {}
    for line in meminfo.splitlines():
        key, _, rest = line.partition(":")
        if key in ("MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached"):
            fields[key] = int(rest.split()[0]) * 1024
    total = fields.get("MemTotal", 0)
    available = fields.get("MemAvailable")
    if available is None:  # kernels before 3.14
        available = fields.get("MemFree", 0) + fields.get("Buffers", 0) + fields.get("Cached", 0)
    return max(0, total - available)


def own_status_bytes(field: str, status_path: str = "/proc/self/status") -> int:
    """A ``Field:  N kB`` line of this process's status, in bytes (0 when /proc cannot tell)."""
    try:
        with open(status_path, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def own_anon_bytes(status_path: str = "/proc/self/status") -> int:
    """This process's RssAnon (0 when /proc cannot tell)."""
    return own_status_bytes("RssAnon", status_path)


def _keep_larger(a: MemorySample, b: MemorySample) -> MemorySample:
    return a if a.memory_mb > b.memory_mb else b


class MemorySampler(Sampler[MemoryResult]):
    name = SamplerName.MEMORY
    log_file = MEMORY_SAMPLES_FILE

    def __init__(
        self,
        *,
        capacity: int = 720,
        layout: str = MemoryLayout.NONE,
        session_baseline_bytes: int = 0,
        meminfo_path: str = "/proc/meminfo",
        self_status_path: str = "/proc/self/status",
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown memory layout {layout!r}")
        self.layout = MemoryLayout(layout)
        self._level_source = _LEVEL_SOURCE[self.layout]
        # container layout: what the session side held in the cgroup when the build started,
        # and our own anonymous memory then (our growth since is ours, not the build's).
        self._baseline = session_baseline_bytes
        self._self_status = self_status_path
        container = self.layout == MemoryLayout.CONTAINER
        self._self_anon_start = own_anon_bytes(self_status_path) if container else 0
        self._meminfo_path = meminfo_path
        self._series: BoundedSeries[MemorySample] = BoundedSeries(capacity, _keep_larger)
        self._peaks: dict[MemorySource, int] = {}
        self._cgroup_raw_peak: int | None = None
        self._system_peak = 0
        self._prev_level: int | None = None
        self._prev_cgroup: CgroupReading | None = None
        self._io_history = [0, 0]  # the tree's I/O bound at the two previous ticks
        self._prev_hwm: dict[
            int, tuple[int, int, int]
        ] = {}  # pid -> (VmHWM, file pages, RSS) at the last tick
        self.last_interval_peak_mb = 0.0  # read by the stage tracker after each tick

    @classmethod
    def create(cls, setup: SamplerSetup) -> Self:
        return cls(
            capacity=setup.capacity,
            layout=setup.memory_layout,
            session_baseline_bytes=setup.session_baseline_bytes,
        )

    def start(self, context: SamplingContext) -> None:
        self._prev_level = 0  # nothing of the build was resident before it started

    @property
    def _reads_cgroup(self) -> bool:
        return self.layout in _CGROUP_LAYOUTS

    def _note(self, source: MemorySource, value: int) -> None:
        if value > self._peaks.get(source, -1):
            self._peaks[source] = value

    def _session_side(self) -> int:
        if self.layout != MemoryLayout.CONTAINER:
            return 0
        return self._baseline + own_anon_bytes(self._self_status) - self._self_anon_start

    def _level(self, tick: TreeSnapshot) -> int:
        reading = tick.cgroup
        if self._reads_cgroup and reading is not None:
            resident = reading.resident_bytes
            if resident is not None:
                return max(0, resident - self._session_side())
        if tick.unique_bytes is not None:
            return tick.unique_bytes
        return tick.rss_bytes  # no better source this tick (the samples say which)

    def _level_source_of(self, tick: TreeSnapshot) -> MemorySource:
        """Where this tick's level came from: the layout's source, or RSS when it had none."""
        cgroup_resident = tick.cgroup is not None and tick.cgroup.resident_bytes is not None
        if tick.unique_bytes is None and not (self._reads_cgroup and cgroup_resident):
            return MemorySource.TREE_RSS_SUM
        return self._level_source

    def _cgroup_bounds(self, reading: CgroupReading, io_delta: int) -> tuple[int | None, int | None]:
        """(lower estimate, upper bound) of the build's memory at the cgroup's peak in this
        interval, or None where the peak says nothing about this interval."""
        prev = self._prev_cgroup
        if prev is None or reading.peak_bytes is None or reading.resident_bytes is None:
            return None, None
        if prev.resident_bytes is None:
            return None, None
        if not reading.peak_was_reset and (prev.peak_bytes is None or reading.peak_bytes <= prev.peak_bytes):
            return None, None  # an all-time peak that did not rise: it happened before
        side = self._session_side()
        not_build_before = prev.usage_bytes - prev.resident_bytes
        not_build_after = reading.usage_bytes - reading.resident_bytes
        # Page cache brings kernel memory with it (the page cache's index, buffer heads:
        # a few % of the data), charged to the cgroup too.
        allowance = io_delta + io_delta * _KERNEL_PER_CACHED_BYTE_PERCENT // 100
        lower = reading.peak_bytes - not_build_before - allowance - side
        upper = reading.peak_bytes - min(not_build_before, not_build_after) - side
        return max(0, lower), max(0, upper)

    def sample(self, tick: TreeSnapshot, now: float) -> SampleRecord | None:
        level = self._level(tick)
        prev_level = self._prev_level if self._prev_level is not None else level
        self._note(self._level_source_of(tick), level)
        self._note(MemorySource.TREE_RSS_SUM, tick.rss_bytes)
        spikes = self._spikes(tick, level, prev_level)
        for source, value in spikes.items():
            self._note(source, value)
        interval_peak = max(level, prev_level, *spikes.values())
        self._prev_level = level
        system_used = self._system_used()
        self._system_peak = max(self._system_peak, system_used)
        self.last_interval_peak_mb = interval_peak / _MB
        self._series.append(
            MemorySample(
                timestamp=now,
                memory_mb=round(level / _MB, 1),
                system_used_mb=round(system_used / _MB, 1),
                tree_rss_mb=round(tick.rss_bytes / _MB, 1),
            )
        )
        record: dict[str, object] = {
            "timestamp": round(now, 3),
            "memory_mb": round(level / _MB, 1),
            "interval_peak_mb": round(interval_peak / _MB, 1),
            "tree_rss_mb": round(tick.rss_bytes / _MB, 1),
            "system_used_mb": round(system_used / _MB, 1),
            "processes": len(tick.processes),
        }
        if tick.cgroup is not None:
            record["cgroup_usage_mb"] = round(tick.cgroup.usage_bytes / _MB, 1)
        return record

    def _spikes(self, tick: TreeSnapshot, level: int, prev_level: int) -> dict[MemorySource, int]:
        """The between-tick estimates this tick offers (module docstring), by source."""
        spikes: dict[MemorySource, int] = {}
        if tick.quick_rise_bytes is not None and tick.quick_rise_bytes > 0:
            spikes[MemorySource.YOUNG_PROCESS_POLL] = prev_level + tick.quick_rise_bytes
        hwm_excess = self._hwm_excess(tick)
        if hwm_excess > 0:
            spikes[MemorySource.PROCESS_HWM_RISE] = min(level, prev_level) + hwm_excess
        self._cgroup_spikes(tick, level, spikes)
        return spikes

    def _hwm_excess(self, tick: TreeSnapshot) -> int:
        """How far a process's high-water mark rose above what it held at both ends.

        A process whose high-water mark rose since the previous tick peaked in between, by
        what its mark exceeds its RSS at both ends (less file pages it unmapped: others may
        still map them). The rest of the tree is taken at the lower of the two levels: a
        process caught exiting still counts in a level read a moment before its status.
        """
        hwm_excess = 0
        current: dict[int, tuple[int, int, int]] = {}
        for proc in tick.processes:
            current[proc.pid] = (proc.hwm_bytes, proc.file_bytes, proc.rss_bytes)
            before = self._prev_hwm.get(proc.pid)
            if before is None or proc.hwm_bytes > before[0]:
                unmapped = max(0, before[1] - proc.file_bytes) if before is not None else 0
                at_ends = max(proc.rss_bytes, before[2] if before is not None else 0)
                hwm_excess = max(hwm_excess, proc.hwm_bytes - at_ends - unmapped)
        self._prev_hwm = current
        return hwm_excess

    def _cgroup_spikes(self, tick: TreeSnapshot, level: int, spikes: dict[MemorySource, int]) -> None:
        """Add the cgroup's interval peak to ``spikes`` and cap the process estimates by it."""
        reading = tick.cgroup
        # The cgroup is read just before the tree's I/O counters at each tick, so the I/O
        # that can have added page cache between two cgroup reads is only known to lie
        # between the counters of the tick before the previous one and this one's.
        io_delta = max(0, tick.io_cache_bound_bytes - self._io_history[0])
        self._io_history = [self._io_history[1], tick.io_cache_bound_bytes]
        if reading is None:
            return
        if reading.peak_bytes is not None:
            self._cgroup_raw_peak = max(self._cgroup_raw_peak or 0, reading.peak_bytes, reading.usage_bytes)
        if self._reads_cgroup:
            lower, upper = self._cgroup_bounds(reading, io_delta)
            if lower is not None:
                spikes[MemorySource.CGROUP_INTERVAL_PEAK] = lower
            if upper is not None:
                # What the processes suggest cannot exceed what the kernel charged.
                for source in _PROCESS_ESTIMATES:
                    if source in spikes:
                        spikes[source] = min(spikes[source], max(upper, level))
        self._prev_cgroup = reading

    def _system_used(self) -> int:
        try:
            with open(self._meminfo_path, encoding="ascii") as handle:
                return system_used_bytes(handle.read())
        except OSError:
            return 0

    def finish(self, facts: FinalFacts) -> None:
        # Linux reports ru_maxrss in KiB.
        values = [u.ru_maxrss * 1024 for u in facts.adopted_rusage]
        if facts.build_rusage is not None:
            build_maxrss = facts.build_rusage.ru_maxrss * 1024
            # At or below what the session held when it forked the build, the figure may be
            # inherited from that fork (see FinalFacts.spawner_rss_bytes): not evidence.
            if build_maxrss > facts.spawner_rss_bytes:
                values.append(build_maxrss)
        if values:
            self._note(MemorySource.LARGEST_PROCESS_RUSAGE, max(values))

    def figures(self) -> tuple[PeakFigure, ...]:
        found = [PeakFigure(s, round(self._peaks[s] / _MB, 1)) for s in HEADLINE_SOURCES if s in self._peaks]
        rss_sum = MemorySource.TREE_RSS_SUM
        if rss_sum in self._peaks:
            found.append(PeakFigure(rss_sum, round(self._peaks[rss_sum] / _MB, 1)))
        if self._cgroup_raw_peak is not None:
            raw = round(self._cgroup_raw_peak / _MB, 1)
            found.append(PeakFigure(MemorySource.CGROUP_PEAK_WITH_PAGE_CACHE, raw))
        return tuple(found)

    def result(self) -> MemoryResult:
        figures = self.figures()
        candidates = [f for f in figures if f.source in HEADLINE_SOURCES]
        if not candidates:  # no tick at all: the labels are all there is
            candidates = [f for f in figures if f.source == MemorySource.TREE_RSS_SUM] or [
                PeakFigure(MemorySource.NONE, 0.0)
            ]
        ranked = (*HEADLINE_SOURCES, MemorySource.TREE_RSS_SUM, MemorySource.NONE)
        order: dict[str, int] = {s: i for i, s in enumerate(ranked)}
        best = max(candidates, key=lambda f: (f.value_mb, -order[f.source]))
        return MemoryResult(
            peak_mb=best.value_mb,
            peak_source=best.source,
            figures=figures,
            system_used_peak_mb=round(self._system_peak / _MB, 1),
            samples=self._series.items(),
            layout=self.layout,
        )

    def empty_result(self) -> MemoryResult:
        return MemoryResult(
            peak_mb=0.0,
            peak_source=MemorySource.NONE,
            figures=(),
            system_used_peak_mb=0.0,
            samples=(),
            layout=self.layout,
        )
