"""Values that cross module lines inside telemetry: what a monitored run measured.

The session (``telemetry.session``) produces a ``RunData``; analysis
(failures, baselines) and reporters (metrics.json, build-summary block,
Prometheus, logs, job summary) consume it. Units are in the field names.

metrics.json holds some of these types as they are (``CpuResult``, ``DiskResult``,
``PeakFigure`` and the samples, see ``telemetry.metrics_doc``): their fields, in this order,
are that file's keys, so a field added or moved here is one added or moved there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from contracts.vocabulary import MemoryLayout


@dataclass(frozen=True)
class SystemInfo:
    hostname: str
    os_info: str  # e.g. "Linux 6.1.0-18-amd64 #1 SMP Debian 6.1.76-1"
    cpu_cores: int  # usable cores (affinity), not just installed ones
    memory_total_mb: float
    disk_available_gb: float  # free space where the build writes, at start


@dataclass(frozen=True)
class MemorySample:
    timestamp: float  # Unix seconds
    memory_mb: float  # what the build held resident, every page once (the headline's measure)
    system_used_mb: float
    tree_rss_mb: float | None = None  # RSS summed over the tree (shared pages once per process)


@dataclass(frozen=True)
class PeakFigure:
    """One estimate of the peak, labelled with where it came from.

    ``source`` is one of ``telemetry.samplers.memory.HEADLINE_SOURCES`` (candidates
    for the headline) or ``LABEL_SOURCES`` (``tree_rss_sum``, RSS summed over the
    processes; ``cgroup_peak_with_page_cache``, the kernel's peak of everything
    charged to the cgroup): ``SOURCE_TEXT`` there says what each one is.
    """

    source: str
    value_mb: float


@dataclass(frozen=True)
class MemoryResult:
    peak_mb: float  # the headline figure (peak_usage_mb)
    peak_source: str  # which PeakFigure.source it came from
    figures: tuple[PeakFigure, ...]
    system_used_peak_mb: float
    samples: tuple[MemorySample, ...]  # bounded: downsampled on long builds
    # Where the per-sample level came from: "dedicated" (the build's own cgroup),
    # "container" (a cgroup shared only with the session), "shared" (a cgroup with other
    # work in it: not used for the level) or "none" (no readable memory cgroup).
    layout: str = MemoryLayout.NONE


@dataclass(frozen=True)
class CpuSample:
    timestamp: float
    tree_percent: float  # 100 = one full core
    system_percent: float  # 0-100 over all cores


@dataclass(frozen=True)
class CpuResult:
    user_seconds: float
    system_seconds: float
    average_percent: float  # tree, 100 = one core
    peak_percent: float
    system_average_percent: float
    samples: tuple[CpuSample, ...]


@dataclass(frozen=True)
class NetworkSample:
    timestamp: float
    bytes_received: int  # cumulative since start, on `interface`
    bytes_sent: int


@dataclass(frozen=True)
class NetworkResult:
    bytes_downloaded: int
    bytes_uploaded: int
    interface: str  # the interface counted (the busiest, or "all")
    per_interface: Mapping[str, tuple[int, int]]  # name -> (received, sent) deltas
    connection_count: int  # distinct remote endpoints the tree connected to
    samples: tuple[NetworkSample, ...]
    # TCP connections opened in this network namespace during the run (/proc/net/snmp
    # ActiveOpens): counts short ones the tree's sockets were never seen for, but also any
    # neighbour's outside a container. None when unreadable.
    tcp_connections_opened: int | None = None
    # Whether other processes share the network namespace these counters are of, so that they
    # include other traffic (a bare runner, a container with the host's network): True; a
    # namespace of the build's own (a container's): False; None when it could not be told.
    interface_shared: bool | None = None
    # Bytes the build reported downloading itself (response bodies, every attempt; the built-in
    # builder reports them); None when the build reports nothing (an arbitrary command).
    builder_downloaded_bytes: int | None = None


@dataclass(frozen=True)
class DiskSample:
    timestamp: float
    read_bytes: int  # cumulative since start
    write_bytes: int


@dataclass(frozen=True)
class DiskResult:
    read_bytes: int
    write_bytes: int
    path: str  # the filesystem whose free space is reported
    free_before_bytes: int
    free_after_bytes: int
    source: str  # "process_io" (tree /proc/PID/io) or "system_diskstats"
    samples: tuple[DiskSample, ...]


@dataclass(frozen=True)
class StageRecord:
    name: str
    status: str  # "success" | "failure" | "warning" | "incomplete" (never completed)
    start_time: float
    end_time: float
    duration_seconds: float
    message: str = ""
    peak_memory_mb: float = 0.0  # tree RSS peak while the stage ran
    cpu_seconds: float = 0.0  # tree CPU time spent while the stage ran
    average_cpu_percent: float = 0.0


@dataclass(frozen=True)
class FailureEvent:
    """A failure the build reported itself (structured: category may be known)."""

    stage: str
    reason: str
    code: str
    time: float
    category: str | None = None
    transient: bool | None = None
    remediation: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int | None  # None when killed by a signal
    signal: int | None  # the signal that ended the build, if any
    cancelled: bool  # we stopped it because of SIGINT/SIGTERM
    oom_killed: bool  # kernel OOM killer (cgroup oom_kill count or dmesg-free heuristics)
    output_tail: tuple[str, ...] = ()  # last lines of combined output, for log rules
    spawn_error: str | None = None  # the command could not be started


@dataclass(frozen=True)
class RunData:
    start_time: float
    end_time: float
    duration_seconds: float
    system: SystemInfo
    memory: MemoryResult
    cpu: CpuResult
    network: NetworkResult
    disk: DiskResult
    stages: tuple[StageRecord, ...]
    failures: tuple[FailureEvent, ...]
    outcome: ProcessOutcome
    counters: Mapping[str, float] = field(default_factory=dict)
    sampler_errors: tuple[str, ...] = ()  # "network: PermissionError ..." (logged and skipped)
    telemetry_cpu_seconds: float = 0.0  # CPU time the sampling thread itself used (overhead)
