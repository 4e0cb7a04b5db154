"""metrics.json as typed values: ``MetricsDocument``, its one serialiser and its one parser.

The sections mirror ``schemas/metrics.schema.json`` field for field and in the same order:
``to_json`` walks the dataclass fields in declaration order, so the order of the fields here
IS the order of the keys in the file. Where a section holds exactly the fields of a type the
measuring side already has, it is that type: ``telemetry.model``'s for the CPU and disk sections,
the peak figures and every sample series, ``telemetry.baseline.Noise`` for the noise floors; the
order of that type's fields is then the file's. Values are stored exactly as they are written
(integers where the guide's shell snippets compare them, rounded decimals elsewhere, ``None``
for null); building them from a ``RunData`` is ``telemetry.reporters.metrics_json``'s job.

``MetricsDocument.from_json`` reads a file written by this or an earlier run, or a
``metrics.json`` copied by hand: a missing or mistyped field becomes its empty value (0, "",
null, no samples) and an ``*_exact`` figure missing from an older file falls back to its
rounded twin, so ``parse(serialise(doc)) == doc`` and old files still read.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeAlias, TypeGuard, TypeVar

from contracts.vocabulary import DEFAULT_REGRESSION_THRESHOLD_PERCENT, MemoryLayout, RunStatus
from telemetry.baseline import Noise
from telemetry.failures import FailureAnalysis
from telemetry.model import CpuResult, DiskResult, MemorySample, NetworkSample, PeakFigure

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
class MemoryMetrics:
    peak_usage_mb: int
    peak_usage_mb_exact: float
    peak_source: str
    peak_source_description: str
    layout: str  # a contracts.vocabulary.MemoryLayout value
    peak_figures: tuple[PeakFigure, ...]
    system_used_peak_mb: float
    samples: tuple[MemorySample, ...]


@dataclass(frozen=True)
class InterfaceBytes:
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
    samples: tuple[NetworkSample, ...]


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
class PerformanceMetrics:
    regressions_detected: tuple[str, ...]  # the guide's messages
    baseline_comparison: BaselineDiff
    performance_score: int
    baseline_available: bool
    baseline_saved_at: str | None
    baseline_problem: str | None
    threshold_percent: float
    noise_floors: Noise  # the fixed floors, ``Thresholds``'s


@dataclass(frozen=True)
class MetricsDocument:
    schema_version: int
    build_session: BuildSession
    memory_metrics: MemoryMetrics
    network_metrics: NetworkMetrics
    cpu_metrics: CpuResult
    disk_metrics: DiskResult
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
        return _parse(cls, _Reader(value))


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

    def has_section(self, key: str) -> bool:
        return isinstance(self._data.get(key), Mapping)

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

    def names(self) -> list[str]:
        return list(self._data)


# How one field is read, given the object that holds it and the field's key.
_FieldRead: TypeAlias = Callable[[_Reader, str], object]
_SectionT = TypeVar("_SectionT", bound="DataclassInstance")


def _parse(cls: type[_SectionT], data: _Reader) -> _SectionT:
    """One section: each field read by the rule of its declared type, see ``_field_reads``."""
    return cls(**{name: read(data, name) for name, read in _field_reads(cls)})


def _run_status(r: _Reader, key: str) -> RunStatus:
    # A file without a status was written by a build that did not say otherwise: a success.
    # A status this version does not know is not a success either.
    text = r.text(key)
    if not text:
        return RunStatus.SUCCESS
    try:
        return RunStatus(text)
    except ValueError:
        return RunStatus.FAILURE


def _exact(r: _Reader, key: str, rounded_key: str) -> float:
    """An ``*_exact`` figure, or its rounded twin in a file written before it existed."""
    return r.number(key) if r.has(key) else r.number(rounded_key)


# The fields whose missing value is not their type's empty one.
_FIELD_READS: Final[Mapping[tuple[type, str], _FieldRead]] = {
    (MetricsDocument, "schema_version"): lambda r, key: r.integer(key) or SCHEMA_VERSION,
    (MemoryMetrics, "layout"): lambda r, key: r.text(key, MemoryLayout.NONE),
    (PerformanceMetrics, "performance_score"): lambda r, key: int(r.number(key, 100)),
    (PerformanceMetrics, "threshold_percent"): (
        lambda r, key: r.number(key, DEFAULT_REGRESSION_THRESHOLD_PERCENT)
    ),
}

# The value types a field holds, read as written or as their empty value.
_TYPE_READS: Final[Mapping[object, _FieldRead]] = {
    str: _Reader.text,
    int: _Reader.integer,
    float: _Reader.number,
    bool: _Reader.flag,
    str | None: _Reader.optional_text,
    int | None: _Reader.optional_integer,
    float | None: _Reader.optional_number,
    bool | None: _Reader.optional_flag,
    tuple[str, ...]: _Reader.texts,
    RunStatus: _run_status,
}


@functools.cache
def _field_reads(cls: type[DataclassInstance]) -> tuple[tuple[str, _FieldRead], ...]:
    """How each field of a section reads: its own rule, its rounded twin's fallback, or its type's."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    reads: list[tuple[str, _FieldRead]] = []
    for name in names:
        twin = name.removesuffix("_exact")
        if (cls, name) in _FIELD_READS:
            read = _FIELD_READS[cls, name]
        elif twin != name and twin in names:
            read = functools.partial(_exact, rounded_key=twin)
        else:
            read = _type_read(hints[name])
        reads.append((name, read))
    return tuple(reads)


def _type_read(hint: object) -> _FieldRead:
    """A value type's reading; a section, a list or map of sections reads each section the same way."""
    if hint in _TYPE_READS:
        return _TYPE_READS[hint]
    if _is_section(hint):
        section = hint
        return lambda r, key: _parse(section, r.section(key))
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is types.UnionType and args[1] is type(None) and _is_section(args[0]):
        optional = args[0]
        # Absent unless the file has it with something in it.
        return lambda r, key: _parse(optional, r.section(key)) if r.section(key).names() else None
    if origin is tuple and _is_section(args[0]):
        item = args[0]
        return lambda r, key: tuple(_parse(item, entry) for entry in r.items(key))
    if origin is Mapping and _is_section(args[1]):
        value_read = _type_read(args[1])
        return lambda r, key: _by_name(r.section(key), _Reader.has_section, value_read)
    if origin is Mapping and args[1] is float:
        return lambda r, key: _by_name(r.section(key), _Reader.has, _Reader.number)
    raise TypeError(f"metrics.json has no reading for {hint}")


def _is_section(hint: object) -> TypeGuard[type[DataclassInstance]]:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _by_name(data: _Reader, present: Callable[[_Reader, str], bool], read: _FieldRead) -> dict[str, object]:
    """A map keyed by name (in the file's order): the entries of the expected kind, each read."""
    return {name: read(data, name) for name in data.names() if present(data, name)}
