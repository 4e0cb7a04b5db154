"""Disk: the tree's storage I/O (``/proc/PID/io``) and free space before/after."""

from __future__ import annotations

from contracts.vocabulary import DISK_SAMPLES_FILE, SamplerName
from telemetry.model import DiskResult, DiskSample
from telemetry.proctree import TreeSnapshot
from telemetry.samplers.interface import (
    BoundedSeries,
    FinalFacts,
    Sampler,
    SampleRecord,
    SamplingContext,
)
from telemetry.samplers.system import existing_ancestor, free_bytes

# Where the figures come from: the tree's /proc/PID/io (and the reaped processes' rusage).
_SOURCE = "process_io"


def _keep_later(a: DiskSample, b: DiskSample) -> DiskSample:
    return b  # cumulative figures: the later sample carries the earlier one


class DiskSampler(Sampler[DiskResult]):
    name = SamplerName.DISK
    log_file = DISK_SAMPLES_FILE

    def __init__(self, *, capacity: int = 720) -> None:
        self._series: BoundedSeries[DiskSample] = BoundedSeries(capacity, _keep_later)
        self._path = ""
        self._free_before = 0
        self._free_after: int | None = None
        self._read = 0
        self._write = 0

    def start(self, context: SamplingContext) -> None:
        self._path = existing_ancestor(context.output_path)
        self._free_before = free_bytes(self._path)

    def sample(self, tick: TreeSnapshot, now: float) -> SampleRecord | None:
        self._read = max(self._read, tick.io_read_bytes)
        self._write = max(self._write, tick.io_write_bytes)
        self._series.append(DiskSample(now, self._read, self._write))
        return {"timestamp": round(now, 3), "read_bytes": self._read, "write_bytes": self._write}

    def finish(self, facts: FinalFacts) -> None:
        usages = list(facts.adopted_rusage)
        if facts.build_rusage is not None:
            usages.append(facts.build_rusage)
        if usages:
            # rusage counts 512-byte blocks of the same kernel I/O accounting.
            self._read = max(self._read, sum(u.ru_inblock for u in usages) * 512)
            self._write = max(self._write, sum(u.ru_oublock for u in usages) * 512)
        if self._path:
            self._free_after = free_bytes(self._path)

    def result(self) -> DiskResult:
        after = self._free_after if self._free_after is not None else free_bytes(self._path or ".")
        return DiskResult(
            read_bytes=self._read,
            write_bytes=self._write,
            path=self._path,
            free_before_bytes=self._free_before,
            free_after_bytes=after,
            source=_SOURCE,
            samples=self._series.items(),
        )

    def empty_result(self) -> DiskResult:
        return DiskResult(0, 0, self._path, self._free_before, self._free_before, _SOURCE, ())
