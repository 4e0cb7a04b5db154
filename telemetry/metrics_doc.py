"""metrics.json as typed values: ``MetricsDocument``, its one serialiser and its one parser.

The sections mirror ``schemas/metrics.schema.json`` field for field and in the same order:
``to_json`` walks the dataclass fields in declaration order, so the order of the fields here
IS the order of the keys in the file. Values are stored exactly as they are written (integers
where the guide's shell snippets compare them, rounded decimals elsewhere, ``None`` for null);
building them from a ``RunData`` is ``telemetry.reporters.metrics_json``'s job.

``MetricsDocument.from_json`` reads a file written by this or an earlier run, or a
``metrics.json`` copied by hand: a missing or mistyped field becomes its empty value (0, "",
null, no samples) and an ``*_exact`` figure missing from an older file falls back to its
rounded twin, so ``parse(serialise(doc)) == doc`` and old files still read.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeAlias

from contracts.vocabulary import DEFAULT_REGRESSION_THRESHOLD_PERCENT, MemoryLayout, RunStatus
from telemetry.failures import FailureAnalysis

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"

SCHEMA_VERSION: Final = 1


class MetricsFormatError(ValueError):
    """The JSON is not a metrics document at all (not an object, or no ``build_session``)."""


# --------------------------------------------------------------------------- the document


@dataclass(frozen=True)
class BuildSession:
    start_time: str  # the guide's local time with offset, "2025-01-18T10:30:00+0530"
    end_time: str
    duration_seconds: int
    duration_seconds_exact: float
    start_timestamp: float  # Unix seconds
    end_timestamp: float
    hostname: str
    os_info: str
    cpu_cores: int
    memory_total_mb: int
    disk_available_gb: int
    disk_available_gb_exact: float


@dataclass(frozen=True)
class PeakFigureEntry:
    source: str
    value_mb: float


@dataclass(frozen=True)
class MemorySampleEntry:
    timestamp: float
    memory_mb: float
    system_used_mb: float
    tree_rss_mb: float | None


@dataclass(frozen=True)
class MemoryMetrics:
    peak_usage_mb: int
    peak_usage_mb_exact: float
    peak_source: str
    peak_source_description: str
    layout: str  # a contracts.vocabulary.MemoryLayout value
    peak_figures: tuple[PeakFigureEntry, ...]
    system_used_peak_mb: float
    samples: tuple[MemorySampleEntry, ...]


@dataclass(frozen=True)
class InterfaceBytes:
    bytes_received: int
    bytes_sent: int


@dataclass(frozen=True)
class NetworkSampleEntry:
    timestamp: float
    bytes_received: int
    bytes_sent: int


@dataclass(frozen=True)
class NetworkMetrics:
    bytes_downloaded: int
    bytes_uploaded: int
    interface: str
    connection_count: int
    interface_shared: bool | None  # whether the counters include other processes' traffic
    builder_downloaded_bytes: int | None
    per_interface: Mapping[str, InterfaceBytes]  # by name, sorted
    samples: tuple[NetworkSampleEntry, ...]


@dataclass(frozen=True)
class CpuSampleEntry:
    timestamp: float
    tree_percent: float
    system_percent: float


@dataclass(frozen=True)
class CpuMetrics:
    user_seconds: float
    system_seconds: float
    average_percent: float
    peak_percent: float
    system_average_percent: float
    samples: tuple[CpuSampleEntry, ...]


@dataclass(frozen=True)
class DiskSampleEntry:
    timestamp: float
    read_bytes: int
    write_bytes: int


@dataclass(frozen=True)
class DiskMetrics:
    read_bytes: int
    write_bytes: int
    path: str
    free_before_bytes: int
    free_after_bytes: int
    source: str
    samples: tuple[DiskSampleEntry, ...]


@dataclass(frozen=True)
class StageEntry:
    name: str
    status: str  # a contracts.vocabulary.StageStatus value
    duration: int  # whole seconds, the guide's field
    duration_seconds: float
    start_time: str
    end_time: str
    message: str
    peak_memory_mb: float
    cpu_seconds: float
    average_cpu_percent: float


@dataclass(frozen=True)
class BuildMetrics:
    status: RunStatus
    exit_code: int | None
    signal: str | None  # e.g. "SIGKILL"
    failure_category: str  # a FailureCategory value, "" unless the build failed
    failure_stage: str
    failure_reason: str
    packages_built: int
    packages_failed: int
    build_stages: tuple[StageEntry, ...]
    counters: Mapping[str, float]  # by name, sorted


@dataclass(frozen=True)
class BaselineDiff:
    """Whole percents against the baseline, rounded half away from zero; None without one."""

    duration_diff_percent: int | None
    memory_diff_percent: int | None


@dataclass(frozen=True)
class NoiseFloors:
    duration_seconds: float
    memory_mb: float


@dataclass(frozen=True)
class PerformanceMetrics:
    regressions_detected: tuple[str, ...]  # the guide's messages
    baseline_comparison: BaselineDiff
    performance_score: int
    baseline_available: bool
    baseline_saved_at: str | None
    baseline_problem: str | None
    threshold_percent: float
    noise_floors: NoiseFloors


@dataclass(frozen=True)
class MetricsDocument:
    schema_version: int
    build_session: BuildSession
    memory_metrics: MemoryMetrics
    network_metrics: NetworkMetrics
    cpu_metrics: CpuMetrics
    disk_metrics: DiskMetrics
    build_metrics: BuildMetrics
    performance_metrics: PerformanceMetrics
    failure_analysis: FailureAnalysis | None  # the primary failure; None on success and cancel
    sampler_errors: tuple[str, ...] = field(default=())

    def to_json(self) -> JsonObject:
        """The document as metrics.json holds it (``json.dumps`` it with ``allow_nan=False``)."""
        return json_object(self)

    @classmethod
    def from_json(cls, value: object) -> MetricsDocument:
        """Read a parsed metrics.json (or baseline.json); raises ``MetricsFormatError`` if it is none."""
        if not isinstance(value, Mapping) or not isinstance(value.get("build_session"), Mapping):
            raise MetricsFormatError("not a metrics.json document")
        return _parse_document(_Reader(value))


# --------------------------------------------------------------------------- serialiser


def json_object(instance: DataclassInstance) -> JsonObject:
    """A dataclass as a JSON object: one key per field, in declaration order."""
    return {f.name: to_json_value(getattr(instance, f.name)) for f in dataclasses.fields(instance)}


def to_json_value(value: object) -> JsonValue:
    """A document value as JSON: dataclasses become objects (fields in order), tuples lists."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_object(value)
    if isinstance(value, Mapping):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [to_json_value(item) for item in value]
    raise TypeError(f"not a metrics document value: {type(value).__name__}")


# --------------------------------------------------------------------------- parser


class _Reader:
    """Typed, forgiving reads from one JSON object: a missing or mistyped field is empty."""

    def __init__(self, data: Mapping[str, object]) -> None:
        self._data = data

    def has(self, key: str) -> bool:
        return self.optional_number(key) is not None

    def optional_number(self, key: str) -> float | None:
        # int or float exactly as written: re-serialising must not turn 20 into 20.0.
        value = self._data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return value

    def number(self, key: str, default: float = 0) -> float:
        value = self.optional_number(key)
        return default if value is None else value

    def integer(self, key: str) -> int:
        return self.optional_integer(key) or 0

    def optional_integer(self, key: str) -> int | None:
        value = self.optional_number(key)
        # JSON's 1e999 parses as inf, which no integer holds.
        return int(value) if value is not None and math.isfinite(value) else None

    def text(self, key: str, default: str = "") -> str:
        value = self._data.get(key)
        return value if isinstance(value, str) else default

    def optional_text(self, key: str) -> str | None:
        value = self._data.get(key)
        return value if isinstance(value, str) else None

    def flag(self, key: str) -> bool:
        return self._data.get(key) is True

    def optional_flag(self, key: str) -> bool | None:
        value = self._data.get(key)
        return value if isinstance(value, bool) else None

    def section(self, key: str) -> _Reader:
        value = self._data.get(key)
        return _Reader(value if isinstance(value, Mapping) else {})

    def items(self, key: str) -> list[_Reader]:
        value = self._data.get(key)
        if not isinstance(value, list):
            return []
        return [_Reader(item) for item in value if isinstance(item, Mapping)]

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._data.get(key)
        return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()

    def entries(self) -> list[tuple[str, object]]:
        return list(self._data.items())


def _parse_document(doc: _Reader) -> MetricsDocument:
    analysis = doc.section("failure_analysis")
    return MetricsDocument(
        schema_version=doc.integer("schema_version") or SCHEMA_VERSION,
        build_session=_parse_session(doc.section("build_session")),
        memory_metrics=_parse_memory(doc.section("memory_metrics")),
        network_metrics=_parse_network(doc.section("network_metrics")),
        cpu_metrics=_parse_cpu(doc.section("cpu_metrics")),
        disk_metrics=_parse_disk(doc.section("disk_metrics")),
        build_metrics=_parse_build(doc.section("build_metrics")),
        performance_metrics=_parse_performance(doc.section("performance_metrics")),
        failure_analysis=_parse_failure(analysis) if analysis.entries() else None,
        sampler_errors=doc.texts("sampler_errors"),
    )


def _exact(section: _Reader, key: str, rounded_key: str) -> float:
    """An ``*_exact`` figure, or its rounded twin in a file written before it existed."""
    return section.number(key) if section.has(key) else section.number(rounded_key)


def _parse_session(s: _Reader) -> BuildSession:
    return BuildSession(
        start_time=s.text("start_time"),
        end_time=s.text("end_time"),
        duration_seconds=s.integer("duration_seconds"),
        duration_seconds_exact=_exact(s, "duration_seconds_exact", "duration_seconds"),
        start_timestamp=s.number("start_timestamp"),
        end_timestamp=s.number("end_timestamp"),
        hostname=s.text("hostname"),
        os_info=s.text("os_info"),
        cpu_cores=s.integer("cpu_cores"),
        memory_total_mb=s.integer("memory_total_mb"),
        disk_available_gb=s.integer("disk_available_gb"),
        disk_available_gb_exact=_exact(s, "disk_available_gb_exact", "disk_available_gb"),
    )


def _parse_memory(m: _Reader) -> MemoryMetrics:
    return MemoryMetrics(
        peak_usage_mb=m.integer("peak_usage_mb"),
        peak_usage_mb_exact=_exact(m, "peak_usage_mb_exact", "peak_usage_mb"),
        peak_source=m.text("peak_source"),
        peak_source_description=m.text("peak_source_description"),
        layout=m.text("layout", MemoryLayout.NONE),
        peak_figures=tuple(
            PeakFigureEntry(f.text("source"), f.number("value_mb")) for f in m.items("peak_figures")
        ),
        system_used_peak_mb=m.number("system_used_peak_mb"),
        samples=tuple(
            MemorySampleEntry(
                s.number("timestamp"),
                s.number("memory_mb"),
                s.number("system_used_mb"),
                s.optional_number("tree_rss_mb"),
            )
            for s in m.items("samples")
        ),
    )


def _parse_network(n: _Reader) -> NetworkMetrics:
    per_interface = {
        name: InterfaceBytes(_Reader(v).integer("bytes_received"), _Reader(v).integer("bytes_sent"))
        for name, v in n.section("per_interface").entries()
        if isinstance(v, Mapping)
    }
    return NetworkMetrics(
        bytes_downloaded=n.integer("bytes_downloaded"),
        bytes_uploaded=n.integer("bytes_uploaded"),
        interface=n.text("interface"),
        connection_count=n.integer("connection_count"),
        interface_shared=n.optional_flag("interface_shared"),
        builder_downloaded_bytes=n.optional_integer("builder_downloaded_bytes"),
        per_interface=per_interface,
        samples=tuple(
            NetworkSampleEntry(s.number("timestamp"), s.integer("bytes_received"), s.integer("bytes_sent"))
            for s in n.items("samples")
        ),
    )


def _parse_cpu(c: _Reader) -> CpuMetrics:
    return CpuMetrics(
        user_seconds=c.number("user_seconds"),
        system_seconds=c.number("system_seconds"),
        average_percent=c.number("average_percent"),
        peak_percent=c.number("peak_percent"),
        system_average_percent=c.number("system_average_percent"),
        samples=tuple(
            CpuSampleEntry(s.number("timestamp"), s.number("tree_percent"), s.number("system_percent"))
            for s in c.items("samples")
        ),
    )


def _parse_disk(d: _Reader) -> DiskMetrics:
    return DiskMetrics(
        read_bytes=d.integer("read_bytes"),
        write_bytes=d.integer("write_bytes"),
        path=d.text("path"),
        free_before_bytes=d.integer("free_before_bytes"),
        free_after_bytes=d.integer("free_after_bytes"),
        source=d.text("source"),
        samples=tuple(
            DiskSampleEntry(s.number("timestamp"), s.integer("read_bytes"), s.integer("write_bytes"))
            for s in d.items("samples")
        ),
    )


def _parse_stage(s: _Reader) -> StageEntry:
    return StageEntry(
        name=s.text("name"),
        status=s.text("status"),
        duration=s.integer("duration"),
        duration_seconds=s.number("duration_seconds"),
        start_time=s.text("start_time"),
        end_time=s.text("end_time"),
        message=s.text("message"),
        peak_memory_mb=s.number("peak_memory_mb"),
        cpu_seconds=s.number("cpu_seconds"),
        average_cpu_percent=s.number("average_cpu_percent"),
    )


def _run_status(text: str) -> RunStatus:
    # A file without a status was written by a build that did not say otherwise: a success.
    # A status this version does not know is not a success either.
    if not text:
        return RunStatus.SUCCESS
    try:
        return RunStatus(text)
    except ValueError:
        return RunStatus.FAILURE


def _parse_build(b: _Reader) -> BuildMetrics:
    counters = b.section("counters")
    return BuildMetrics(
        status=_run_status(b.text("status")),
        exit_code=b.optional_integer("exit_code"),
        signal=b.optional_text("signal"),
        failure_category=b.text("failure_category"),
        failure_stage=b.text("failure_stage"),
        failure_reason=b.text("failure_reason"),
        packages_built=b.integer("packages_built"),
        packages_failed=b.integer("packages_failed"),
        build_stages=tuple(_parse_stage(s) for s in b.items("build_stages")),
        counters={name: counters.number(name) for name, _ in counters.entries() if counters.has(name)},
    )


def _parse_performance(p: _Reader) -> PerformanceMetrics:
    diff = p.section("baseline_comparison")
    floors = p.section("noise_floors")
    return PerformanceMetrics(
        regressions_detected=p.texts("regressions_detected"),
        baseline_comparison=BaselineDiff(
            diff.optional_integer("duration_diff_percent"), diff.optional_integer("memory_diff_percent")
        ),
        performance_score=int(p.number("performance_score", 100)),
        baseline_available=p.flag("baseline_available"),
        baseline_saved_at=p.optional_text("baseline_saved_at"),
        baseline_problem=p.optional_text("baseline_problem"),
        threshold_percent=p.number("threshold_percent", DEFAULT_REGRESSION_THRESHOLD_PERCENT),
        noise_floors=NoiseFloors(floors.number("duration_seconds"), floors.number("memory_mb")),
    )


def _parse_failure(a: _Reader) -> FailureAnalysis:
    return FailureAnalysis(
        category=a.text("category"),
        stage=a.text("stage"),
        reason=a.text("reason"),
        exit_code=a.optional_integer("exit_code"),
        signal=a.optional_text("signal"),
        transient=a.flag("transient"),
        remediation=a.texts("remediation"),
        matched_rule=a.text("matched_rule"),
    )
