"""RunData values for tests: realistic figures, every part filled in."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from telemetry.model import (
    CpuResult,
    CpuSample,
    DiskResult,
    DiskSample,
    FailureEvent,
    MemoryResult,
    MemorySample,
    NetworkResult,
    NetworkSample,
    PeakFigure,
    ProcessOutcome,
    RunData,
    StageRecord,
    SystemInfo,
)

T0 = 1_737_176_400.0  # 2025-01-18T05:00:00Z


def make_run(
    *,
    duration: float = 420.4,
    peak_mb: float = 2047.6,
    failures: tuple[FailureEvent, ...] = (),
    outcome: ProcessOutcome | None = None,
    stages: tuple[StageRecord, ...] | None = None,
    **overrides: Any,
) -> RunData:
    samples = tuple(MemorySample(T0 + i * 5, 512.0 + i * 256.0, 3000.0 + i, None) for i in range(4))
    if stages is None:
        stages = (
            StageRecord("build_initialization", "success", T0, T0 + 2.2, 2.2, "", 40.0, 0.5, 20.0),
            StageRecord(
                "architecture_amd64", "success", T0 + 2.2, T0 + 182.2, 180.0, "", 1500.0, 170.0, 94.0
            ),
            StageRecord(
                "architecture_arm64", "success", T0 + 182.2, T0 + 402.6, 220.4, "built", peak_mb, 200.0, 91.0
            ),
        )
    run = RunData(
        start_time=T0,
        end_time=T0 + duration,
        duration_seconds=duration,
        system=SystemInfo("runner-linux-2", "Linux 5.15.0-78-generic #85-Ubuntu", 2, 8192.0, 45.3),
        memory=MemoryResult(
            peak_mb=peak_mb,
            peak_source="cgroup_resident",
            figures=(PeakFigure("cgroup_resident", peak_mb), PeakFigure("tree_rss_sum", 1280.0)),
            system_used_peak_mb=5120.5,
            samples=samples,
        ),
        cpu=CpuResult(
            371.0, 12.5, 91.3, 198.0, 47.0, (CpuSample(T0, 95.0, 48.0), CpuSample(T0 + 5, 190.0, 96.0))
        ),
        network=NetworkResult(
            52_428_800,
            1_048_576,
            "eth0",
            {"eth0": (52_428_800, 1_048_576), "lo": (0, 0)},
            15,
            (NetworkSample(T0, 0, 0), NetworkSample(T0 + 5, 52_428_800, 1_048_576)),
        ),
        disk=DiskResult(
            1_000_000,
            250_000_000,
            "/github/workspace",
            48_000_000_000,
            47_700_000_000,
            "process_io",
            (DiskSample(T0, 0, 0), DiskSample(T0 + 5, 1_000_000, 250_000_000)),
        ),
        stages=stages,
        failures=failures,
        outcome=outcome or ProcessOutcome(exit_code=0, signal=None, cancelled=False, oom_killed=False),
        counters={"download_retries": 1.0},
    )
    return replace(run, **overrides) if overrides else run
