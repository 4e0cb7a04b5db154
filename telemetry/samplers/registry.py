"""The samplers a monitored run uses, and their instances and results found by class.

Adding a sampler is one ``Sampler`` subclass (with its ``name`` and ``log_file``, and its own
``create`` when it takes more of the ``SamplerSetup`` than its capacity) plus one line in
``SAMPLERS``: the session creates, starts, feeds, logs and finishes every sampler listed here,
and its result is in ``SamplerResults``. A result that ``RunData`` should carry also needs a
field there and its line in ``SampledFields``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Final, TypedDict, TypeVar, cast

from telemetry.model import CpuResult, DiskResult, MemoryResult, NetworkResult
from telemetry.samplers.cpu import CpuSampler
from telemetry.samplers.disk import DiskSampler
from telemetry.samplers.interface import FinalFacts, Sampler, SamplerSetup
from telemetry.samplers.memory import MemorySampler
from telemetry.samplers.network import NetworkSampler, with_builder_downloads

# In the order they sample at each tick: memory first, so the stage tracker (fed after the
# samplers) sees this tick's interval peak.
SAMPLERS: Final[tuple[type[Sampler[object]], ...]] = (
    MemorySampler,
    CpuSampler,
    NetworkSampler,
    DiskSampler,
)

SamplerT = TypeVar("SamplerT", bound=Sampler[object])
ResultT = TypeVar("ResultT")


class SamplerResults:
    """Each sampler's frozen result, by the sampler's class: ``get(MemorySampler)`` is a MemoryResult."""

    def __init__(self, by_kind: Mapping[type[Sampler[object]], object]) -> None:
        self._by_kind = dict(by_kind)

    def get(self, kind: type[Sampler[ResultT]]) -> ResultT:
        # The only writer (SamplerSet) stores what ``kind``'s result() or empty_result() returned.
        return cast(ResultT, self._by_kind[kind])

    @classmethod
    def empty(cls, kinds: Sequence[type[Sampler[object]]] = SAMPLERS) -> SamplerResults:
        """Every sampler's result with no data (a run that was not monitored)."""
        setup = SamplerSetup()
        return cls({kind: kind.create(setup).empty_result() for kind in kinds})


class SamplerSet:
    """One instance of each sampler, in registry order, each found by its class."""

    def __init__(self, samplers: Iterable[Sampler[object]]) -> None:
        self._by_kind: dict[type[Sampler[object]], Sampler[object]] = {type(s): s for s in samplers}

    @classmethod
    def create(cls, setup: SamplerSetup, kinds: Sequence[type[Sampler[object]]] = SAMPLERS) -> SamplerSet:
        return cls(kind.create(setup) for kind in kinds)

    def __iter__(self) -> Iterator[Sampler[object]]:
        return iter(self._by_kind.values())

    def get(self, kind: type[SamplerT]) -> SamplerT:
        found = self._by_kind[kind]
        if not isinstance(found, kind):
            raise TypeError(f"{kind.__name__}: registered as {type(found).__name__}")
        return found

    def finish(self, facts: FinalFacts, errors: list[str]) -> SamplerResults:
        """Every sampler's result; a sampler that fails here gives its empty result (noted in ``errors``)."""
        results: dict[type[Sampler[object]], object] = {}
        for kind, sampler in self._by_kind.items():
            try:
                sampler.finish(facts)
                results[kind] = sampler.result()
            except Exception as exc:
                errors.append(f"{sampler.name}: {type(exc).__name__}: {exc}")
                results[kind] = sampler.empty_result()
        return SamplerResults(results)


class SampledFields(TypedDict):
    """The fields of ``RunData`` that samplers fill (``RunData(**run_data_fields(...), ...)``)."""

    memory: MemoryResult
    cpu: CpuResult
    network: NetworkResult
    disk: DiskResult


def run_data_fields(results: SamplerResults, counters: Mapping[str, float]) -> SampledFields:
    """The samplers' results as ``RunData`` carries them.

    The network figures also carry the bytes the build reported downloading itself (a
    counter of the event channel), beside the interface's, which may include other traffic.
    """
    return SampledFields(
        memory=results.get(MemorySampler),
        cpu=results.get(CpuSampler),
        network=with_builder_downloads(results.get(NetworkSampler), counters),
        disk=results.get(DiskSampler),
    )
