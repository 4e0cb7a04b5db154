"""Memory: the tree's RSS over time, and a peak that sampling cannot miss.

The headline ``peak_mb`` answers "how much memory was resident for the build at
once, at most" (RSS summed over the tree, the same measure as the samples). A
1 s poller misses a grandchild that holds 300 MB for 100 ms, so several exact
sources are combined, each reported with its label:

``sampled_tree_rss``
    max over ticks of the summed RSS. Exact at the ticks, blind between them.
``tree_rss_with_cgroup_spikes`` (the usual headline)
    The kernel records the exact peak of a cgroup. The build's dedicated cgroup
    has its peak reset at every tick, so each tick knows the highest charge since
    the previous one; what exceeded the charge at both ends of the interval was
    transient, and is added to the tree RSS at the ends:
    ``max(R[t-1], R[t]) + max(0, P[t] - max(U[t-1], U[t]))``. Offsets between RSS
    and cgroup charge (page cache, shared libraries counted once, this process
    in a container's cgroup) cancel in the difference as long as they are steady
    over one interval; only transient page cache (a temp file created and
    deleted within one tick) would be counted as a spike. When the peak cannot be
    reset (a container's read-only cgroup), a rise of the all-time peak is still
    attributed to the interval where it happened, which is the case that matters
    for the maximum.
``tree_rss_young_poll``
    Between walks, processes younger than two intervals are polled every few
    tens of milliseconds (``ProcessTree.quick_poll``; the pace adapts to a CPU
    budget): young processes at their current RSS plus the others at their last
    walk. In RSS units like the samples, so shared libraries count as they do
    in ``sampled_tree_rss``; catches spikes that last longer than one poll.
``tree_rss_with_hwm_spikes``
    Per-process VmHWM: a process whose high-water mark rose since the last tick
    peaked in between; the tree is estimated at ``R[t] - rss + hwm`` of the one
    that rose most. Catches spikes of processes that live across a tick.
``rusage_children``
    ``os.wait4`` of the build root: the largest single descendant's max RSS over
    every process that was reaped inside the tree, however short-lived. A lower
    bound of the tree's peak.
``process_hwm``
    max over ticks of the sum of VmHWM of live members: an upper bound (each
    process's own peak, not necessarily at the same time). Not a headline.
``cgroup_v1_max_usage`` / ``cgroup_v2_memory.peak`` (dedicated cgroup) or with
``_container`` (our own, shared with this process): the raw kernel peak of
    charged memory, page cache included.

The headline is the largest of the lower-bound estimates (the first five). The
cgroup estimate counts a spike's pages once (the kernel's charge) while RSS counts
shared library pages in every process, so for a spike too short for the young
poll it reads a few MB per short-lived process below an RSS sum.
"""

from __future__ import annotations

from telemetry.cgroup import CgroupReading
from telemetry.model import MemoryResult, MemorySample, PeakFigure
from telemetry.proctree import TreeSnapshot
from telemetry.samplers.interface import BoundedSeries, FinalFacts, Sampler, SampleRecord, SamplingContext

_MB = 1024 * 1024
_HEADLINE_SOURCES = (
    "tree_rss_young_poll",
    "tree_rss_with_cgroup_spikes",
    "tree_rss_with_hwm_spikes",
    "sampled_tree_rss",
    "rusage_children",
)


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


def _keep_larger(a: MemorySample, b: MemorySample) -> MemorySample:
    return a if a.tree_rss_mb > b.tree_rss_mb else b


class MemorySampler(Sampler[MemoryResult]):
    name = "memory"

    def __init__(self, *, capacity: int = 720, meminfo_path: str = "/proc/meminfo") -> None:
        self._meminfo_path = meminfo_path
        self._series: BoundedSeries[MemorySample] = BoundedSeries(capacity, _keep_larger)
        self._sampled_peak = 0
        self._hwm_sum_peak = 0
        self._hwm_spike_peak = 0
        self._cgroup_spike_peak: int | None = None
        self._young_poll_peak: int | None = None
        self._cgroup_raw_peak: int | None = None
        self._cgroup_label = ""
        self._system_peak = 0
        self._rusage_peak: int | None = None
        self._prev_rss: int | None = None
        self._prev_cgroup: CgroupReading | None = None
        self._prev_hwm: dict[int, int] = {}
        self.last_interval_peak_mb = 0.0  # read by the stage tracker after each tick

    def start(self, context: SamplingContext) -> None:
        self._prev_rss = 0  # nothing of the build was resident before it started

    def _cgroup_excess(self, reading: CgroupReading) -> int | None:
        """Transient charge above both ends of the interval, if the interval's peak is known."""
        prev = self._prev_cgroup
        if reading.peak_bytes is None:
            return None
        if reading.peak_was_reset:
            base = max(reading.usage_bytes, prev.usage_bytes if prev is not None else 0)
            return max(0, reading.peak_bytes - base)
        if prev is None or prev.peak_bytes is None:
            return None  # the all-time peak may predate the build
        if reading.peak_bytes > prev.peak_bytes:
            return max(0, reading.peak_bytes - max(reading.usage_bytes, prev.usage_bytes))
        return 0

    def sample(self, tick: TreeSnapshot, now: float) -> SampleRecord | None:
        rss = tick.rss_bytes
        prev_rss = self._prev_rss if self._prev_rss is not None else rss
        base = max(rss, prev_rss)
        self._sampled_peak = max(self._sampled_peak, rss)
        self._hwm_sum_peak = max(self._hwm_sum_peak, tick.hwm_bytes)

        # Per-process high-water marks that rose since the previous tick.
        hwm_excess = 0
        current_hwm: dict[int, int] = {}
        for proc in tick.processes:
            current_hwm[proc.pid] = proc.hwm_bytes
            if proc.hwm_bytes > self._prev_hwm.get(proc.pid, 0):
                hwm_excess = max(hwm_excess, proc.hwm_bytes - proc.rss_bytes)
        self._prev_hwm = current_hwm
        hwm_estimate = rss + hwm_excess
        self._hwm_spike_peak = max(self._hwm_spike_peak, hwm_estimate)
        interval_peak = max(base, hwm_estimate)

        if tick.quick_peak_rss_bytes is not None:
            self._young_poll_peak = max(self._young_poll_peak or 0, tick.quick_peak_rss_bytes, rss)
            interval_peak = max(interval_peak, tick.quick_peak_rss_bytes)

        reading = tick.cgroup
        cgroup_excess: int | None = None
        if reading is not None:
            cgroup_excess = self._cgroup_excess(reading)
            version = "cgroup_v2_memory.peak" if reading.version == 2 else "cgroup_v1_max_usage"
            self._cgroup_label = version if reading.dedicated else version + "_container"
            if reading.peak_bytes is not None:
                self._cgroup_raw_peak = max(
                    self._cgroup_raw_peak or 0, reading.peak_bytes, reading.usage_bytes
                )
            if cgroup_excess is not None:
                estimate = base + cgroup_excess
                self._cgroup_spike_peak = max(self._cgroup_spike_peak or 0, estimate)
                interval_peak = max(interval_peak, estimate)
            self._prev_cgroup = reading
        self._prev_rss = rss

        try:
            with open(self._meminfo_path, encoding="ascii") as handle:
                system_used = system_used_bytes(handle.read())
        except OSError:
            system_used = 0
        self._system_peak = max(self._system_peak, system_used)
        self.last_interval_peak_mb = interval_peak / _MB

        pss_mb = None if tick.pss_bytes is None else round(tick.pss_bytes / _MB, 1)
        self._series.append(
            MemorySample(
                timestamp=now,
                tree_rss_mb=round(rss / _MB, 1),
                system_used_mb=round(system_used / _MB, 1),
                tree_pss_mb=pss_mb,
            )
        )
        record: dict[str, object] = {
            "timestamp": round(now, 3),
            "memory_mb": round(rss / _MB, 1),
            "tree_hwm_mb": round(tick.hwm_bytes / _MB, 1),
            "interval_peak_mb": round(interval_peak / _MB, 1),
            "system_used_mb": round(system_used / _MB, 1),
            "processes": len(tick.processes),
        }
        if pss_mb is not None:
            record["tree_pss_mb"] = pss_mb
        if reading is not None:
            record["cgroup_usage_mb"] = round(reading.usage_bytes / _MB, 1)
        return record

    def finish(self, facts: FinalFacts) -> None:
        # Linux reports ru_maxrss in KiB.
        values = [u.ru_maxrss * 1024 for u in facts.adopted_rusage]
        if facts.build_rusage is not None:
            build_maxrss = facts.build_rusage.ru_maxrss * 1024
            # At or below the session's own high-water mark the figure may be inherited from
            # the fork that started the build (see FinalFacts.spawner_hwm_bytes): not evidence.
            if build_maxrss > facts.spawner_hwm_bytes:
                values.append(build_maxrss)
        if values:
            self._rusage_peak = max(values)

    def figures(self) -> tuple[PeakFigure, ...]:
        found: list[PeakFigure] = [
            PeakFigure("sampled_tree_rss", round(self._sampled_peak / _MB, 1)),
            PeakFigure("tree_rss_with_hwm_spikes", round(self._hwm_spike_peak / _MB, 1)),
            PeakFigure("process_hwm", round(self._hwm_sum_peak / _MB, 1)),
        ]
        if self._young_poll_peak is not None:
            found.append(PeakFigure("tree_rss_young_poll", round(self._young_poll_peak / _MB, 1)))
        if self._cgroup_spike_peak is not None:
            found.append(PeakFigure("tree_rss_with_cgroup_spikes", round(self._cgroup_spike_peak / _MB, 1)))
        if self._rusage_peak is not None:
            found.append(PeakFigure("rusage_children", round(self._rusage_peak / _MB, 1)))
        if self._cgroup_raw_peak is not None:
            found.append(PeakFigure(self._cgroup_label, round(self._cgroup_raw_peak / _MB, 1)))
        return tuple(found)

    def result(self) -> MemoryResult:
        figures = self.figures()
        candidates = [f for f in figures if f.source in _HEADLINE_SOURCES]
        # Prefer the earlier source on ties: it says more about how the figure was found.
        best = max(candidates, key=lambda f: (f.value_mb, -_HEADLINE_SOURCES.index(f.source)))
        return MemoryResult(
            peak_mb=best.value_mb,
            peak_source=best.source,
            figures=figures,
            system_used_peak_mb=round(self._system_peak / _MB, 1),
            samples=self._series.items(),
        )

    def empty_result(self) -> MemoryResult:
        return MemoryResult(
            peak_mb=0.0, peak_source="sampled_tree_rss", figures=(), system_used_peak_mb=0.0, samples=()
        )
