"""One metrics document for runs that ran side by side: the legs of a matrix.

The legs ran at the same time on different machines, so their figures combine the way a user
reads "the whole build": wall time from the first leg's start to the last leg's end; CPU seconds,
bytes and packages summed; memory the largest leg's peak (legs do not share a machine, so their
peaks never add up in one place), named with the leg it came from; stages of every leg, named
``<leg>/<stage>``; counters summed by name. Per-sample series stay in each leg's own files: the
combined document has no samples. Machine facts are the legs' together: host names and kernels
listed once each, cores and memory summed (the capacity the build used), disk space the smallest.
Regressions are each leg's, prefixed with its name; the score is the worst leg's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from contracts.vocabulary import RunStatus
from telemetry.metrics_doc import (
    BaselineDiff,
    BuildMetrics,
    BuildSession,
    MemoryMetrics,
    MetricsDocument,
    NetworkMetrics,
    PerformanceMetrics,
)
from telemetry.model import CpuResult, DiskResult
from telemetry.reporters.metrics_json import iso_time

# Host names and kernels listed in the combined build_session before "and N more".
MAX_LISTED: Final = 5


@dataclass(frozen=True)
class LegMetrics:
    """One leg's metrics.json and the name the join knows it by."""

    leg: str
    document: MetricsDocument


def _listed(values: Iterable[str]) -> str:
    distinct = list(dict.fromkeys(v for v in values if v))
    text = ", ".join(distinct[:MAX_LISTED])
    if len(distinct) > MAX_LISTED:
        text += f" and {len(distinct) - MAX_LISTED} more"
    return text


def _sums(sections: Sequence[object], *names: str) -> dict[str, int]:
    """The named counters of the legs' sections, each summed."""
    return {name: sum(getattr(section, name) for section in sections) for name in names}


def _session(legs: Sequence[LegMetrics]) -> BuildSession:
    sessions = [leg.document.build_session for leg in legs]
    start = min(s.start_timestamp for s in sessions)
    end = max(s.end_timestamp for s in sessions)
    wall = max(0.0, end - start)
    return replace(
        sessions[0],
        start_time=iso_time(start),
        end_time=iso_time(end),
        duration_seconds=int(wall + 0.5),
        duration_seconds_exact=round(wall, 3),
        start_timestamp=start,
        end_timestamp=end,
        hostname=_listed(s.hostname for s in sessions),
        os_info=_listed(s.os_info for s in sessions),
        cpu_cores=sum(s.cpu_cores for s in sessions),
        memory_total_mb=sum(s.memory_total_mb for s in sessions),
        disk_available_gb=min(s.disk_available_gb for s in sessions),
        disk_available_gb_exact=min(s.disk_available_gb_exact for s in sessions),
    )


def _memory(legs: Sequence[LegMetrics]) -> MemoryMetrics:
    largest = max(legs, key=lambda leg: leg.document.memory_metrics.peak_usage_mb_exact)
    memory = largest.document.memory_metrics
    return replace(
        memory,
        peak_source_description=f"the largest leg's peak ({largest.leg}): {memory.peak_source_description}",
        system_used_peak_mb=max(leg.document.memory_metrics.system_used_peak_mb for leg in legs),
        samples=(),
    )


def _shared(values: Iterable[bool | None]) -> bool | None:
    """True if any leg's counters included other traffic, False if none did, None if unknown."""
    seen = list(values)
    if any(v is True for v in seen):
        return True
    return False if seen and all(v is False for v in seen) else None


def _network(legs: Sequence[LegMetrics]) -> NetworkMetrics:
    nets = [leg.document.network_metrics for leg in legs]
    builder = [n.builder_downloaded_bytes for n in nets if n.builder_downloaded_bytes is not None]
    per_interface: dict[str, tuple[int, int]] = {}
    for net in nets:
        for name, counts in net.per_interface.items():
            received, sent = per_interface.get(name, (0, 0))
            per_interface[name] = (received + counts.bytes_received, sent + counts.bytes_sent)
    first = next((n for n in nets for _ in n.per_interface.values()), None)
    template = next(iter(first.per_interface.values())) if first else None
    return replace(
        nets[0],
        **_sums(nets, "bytes_downloaded", "bytes_uploaded", "connection_count"),
        interface=_listed(n.interface for n in nets),
        interface_shared=_shared(n.interface_shared for n in nets),
        builder_downloaded_bytes=sum(builder) if builder else None,
        per_interface={
            name: replace(template, bytes_received=received, bytes_sent=sent)
            for name, (received, sent) in sorted(per_interface.items())
        }
        if template is not None
        else {},
        samples=(),
    )


def _cpu(legs: Sequence[LegMetrics], wall: float) -> CpuResult:
    cpus = [leg.document.cpu_metrics for leg in legs]
    user = sum(c.user_seconds for c in cpus)
    system = sum(c.system_seconds for c in cpus)
    return replace(
        cpus[0],
        user_seconds=round(user, 3),
        system_seconds=round(system, 3),
        average_percent=round(100.0 * (user + system) / wall, 1) if wall > 0 else 0.0,
        peak_percent=max(c.peak_percent for c in cpus),
        system_average_percent=round(sum(c.system_average_percent for c in cpus) / len(cpus), 1),
        samples=(),
    )


def _disk(legs: Sequence[LegMetrics]) -> DiskResult:
    disks = [leg.document.disk_metrics for leg in legs]
    return replace(
        disks[0],
        **_sums(disks, "read_bytes", "write_bytes"),
        path=_listed(d.path for d in disks),
        free_before_bytes=min(d.free_before_bytes for d in disks),
        free_after_bytes=min(d.free_after_bytes for d in disks),
        source=_listed(d.source for d in disks),
        samples=(),
    )


def _first_failure(legs: Sequence[LegMetrics]) -> LegMetrics | None:
    """The leg whose failure came first in time: the combined run's failure, as in one run."""
    failed = [leg for leg in legs if leg.document.build_metrics.status == RunStatus.FAILURE]
    return min(failed, key=lambda leg: leg.document.build_session.end_timestamp, default=None)


def _status(legs: Sequence[LegMetrics]) -> RunStatus:
    statuses = {leg.document.build_metrics.status for leg in legs}
    if RunStatus.FAILURE in statuses:
        return RunStatus.FAILURE
    return RunStatus.CANCELLED if RunStatus.CANCELLED in statuses else RunStatus.SUCCESS


def _build(legs: Sequence[LegMetrics]) -> BuildMetrics:
    builds = [leg.document.build_metrics for leg in legs]
    failing = _first_failure(legs)
    failure = failing.document.build_metrics if failing else None
    counters: Counter[str] = Counter()
    for build in builds:
        counters.update(build.counters)
    status = _status(legs)
    return replace(
        builds[0],
        status=status,
        exit_code=0 if status == RunStatus.SUCCESS else 1,
        signal=None,
        failure_category=failure.failure_category if failure else "",
        failure_stage=f"{failing.leg}/{failure.failure_stage}" if failing and failure else "",
        failure_reason=f"{failing.leg}: {failure.failure_reason}" if failing and failure else "",
        packages_built=sum(b.packages_built for b in builds),
        packages_failed=sum(b.packages_failed for b in builds),
        build_stages=tuple(
            replace(stage, name=f"{leg.leg}/{stage.name}")
            for leg in legs
            for stage in leg.document.build_metrics.build_stages
        ),
        counters={name: counters[name] for name in sorted(counters)},
    )


def _performance(legs: Sequence[LegMetrics]) -> PerformanceMetrics:
    perfs = [leg.document.performance_metrics for leg in legs]
    saved = [p.baseline_saved_at for p in perfs if p.baseline_saved_at]
    return replace(
        perfs[0],
        regressions_detected=tuple(
            f"{leg.leg}: {message}"
            for leg in legs
            for message in leg.document.performance_metrics.regressions_detected
        ),
        # No single baseline stands for the legs together: each leg's comparison is its own.
        baseline_comparison=BaselineDiff(duration_diff_percent=None, memory_diff_percent=None),
        performance_score=min(p.performance_score for p in perfs),
        baseline_available=any(p.baseline_available for p in perfs),
        baseline_saved_at=max(saved) if saved else None,
        baseline_problem=None,
    )


def combine(legs: Sequence[LegMetrics]) -> MetricsDocument | None:
    """The legs' documents as one (None when no leg has one); legs in the order given."""
    if not legs:
        return None
    ordered = sorted(legs, key=lambda leg: (leg.document.build_session.start_timestamp, leg.leg))
    session = _session(ordered)
    wall = session.duration_seconds_exact
    failing = _first_failure(ordered)
    return replace(
        ordered[0].document,
        build_session=session,
        memory_metrics=_memory(ordered),
        network_metrics=_network(ordered),
        cpu_metrics=_cpu(ordered, wall),
        disk_metrics=_disk(ordered),
        build_metrics=_build(ordered),
        performance_metrics=_performance(ordered),
        failure_analysis=failing.document.failure_analysis if failing else None,
        sampler_errors=tuple(
            f"{leg.leg}: {error}" for leg in ordered for error in leg.document.sampler_errors
        ),
    )
