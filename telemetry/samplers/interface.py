"""What every sampler implements, and the bounded series they keep in RAM.

A sampler is fed the tick's ``TreeSnapshot`` (one walk shared by all) and may
read its own system-wide source (``/proc/stat``, ``/proc/net/dev``...). It
returns the JSON record to append to its sample log (or ``None``), and at the
end a frozen result for ``RunData``. Samplers never write files and never raise
into the build: the session catches, logs to ``sampler_errors`` and skips a
sampler that keeps failing.

A session makes one of each sampler listed in ``samplers.registry.SAMPLERS``
through ``create``, from the ``SamplerSetup`` it decided before the build starts.
"""

from __future__ import annotations

import resource
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Generic, Self, TypeVar

from contracts.vocabulary import MemoryLayout
from telemetry.proctree import TreeSnapshot

# Covariant: a Sampler[MemoryResult] is a Sampler[object], so one list holds every sampler.
ResultT = TypeVar("ResultT", covariant=True)
T = TypeVar("T")

SampleRecord = Mapping[str, object]


@dataclass(frozen=True)
class SamplingContext:
    """What the session knows before the first tick."""

    start_time: float  # Unix seconds
    interval: float  # seconds between ticks
    output_path: str  # where the build writes (free-space figures)


@dataclass(frozen=True)
class SamplerSetup:
    """What the session decided before creating its samplers; each takes what it needs."""

    capacity: int = 720  # samples kept in RAM (downsampled beyond)
    memory_layout: MemoryLayout = MemoryLayout.NONE  # where the build's memory can be read
    session_baseline_bytes: int = 0  # container layout: what the session side held at the start


@dataclass(frozen=True)
class FinalFacts:
    """What only the end of the run knows; handed to ``Sampler.finish``."""

    end_time: float
    build_rusage: resource.struct_rusage | None  # os.wait4 of the build root (incl. reaped descendants)
    adopted_rusage: tuple[resource.struct_rusage, ...]  # orphans the session reaped as subreaper
    # The high-water mark the build root inherited from the process that forked it: a fork
    # copies the parent's mm with its VmHWM, and execve keeps it in ru_maxrss, so a
    # build_rusage maxrss at or below this figure may be the spawner's, not the build's.
    spawner_rss_bytes: int = 0


class Sampler(ABC, Generic[ResultT]):
    """One concern (memory, CPU, ...) fed by the shared tree walk."""

    name: ClassVar[str]  # in its sampler_errors lines
    log_file: ClassVar[str]  # its sample log, in the telemetry dir
    # Its records also carry what the sampling thread has cost so far (one sampler does).
    carries_telemetry_cost: ClassVar[bool] = False

    def __init__(self, *, capacity: int = 720) -> None:
        """``capacity``: how many samples the sampler keeps in RAM (``BoundedSeries``)."""

    @classmethod
    def create(cls, setup: SamplerSetup) -> Self:
        """The sampler a monitored run uses: by default one keeping ``setup.capacity`` samples."""
        return cls(capacity=setup.capacity)

    def start(self, context: SamplingContext) -> None:
        """Called once before the first tick."""

    @abstractmethod
    def sample(self, tick: TreeSnapshot, now: float) -> SampleRecord | None:
        """Take this tick's figures; return the record for the sample log."""

    def finish(self, facts: FinalFacts) -> None:
        """Called once after the build ended, before ``result``."""

    @abstractmethod
    def result(self) -> ResultT:
        """The frozen result; must work even if ``sample`` was never called."""

    @abstractmethod
    def empty_result(self) -> ResultT:
        """A result with no data, used when this sampler broke."""


class BoundedSeries(Generic[T]):
    """At most ``capacity`` items: when full, neighbours are merged pairwise.

    A long build keeps its whole time span at a coarser resolution instead of
    only its last hours; ``merge`` decides what survives (the larger memory
    sample, so peaks stay visible in charts).
    """

    def __init__(self, capacity: int, merge: Callable[[T, T], T]) -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self._capacity = capacity
        self._merge = merge
        self._items: list[T] = []
        self._stride = 1  # raw samples per stored item
        self._pending: T | None = None
        self._pending_count = 0

    def append(self, item: T) -> None:
        merged = item if self._pending is None else self._merge(self._pending, item)
        self._pending_count += 1
        if self._pending_count < self._stride:
            self._pending = merged
            return
        self._pending = None
        self._pending_count = 0
        self._items.append(merged)
        if len(self._items) >= self._capacity:
            items = self._items
            pairs = [self._merge(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
            if len(items) % 2:
                pairs.append(items[-1])
            self._items = pairs
            self._stride *= 2

    def items(self) -> tuple[T, ...]:
        tail = () if self._pending is None else (self._pending,)
        return (*self._items, *tail)

    def __len__(self) -> int:
        return len(self._items) + (self._pending is not None)
