"""The builder's result file (``.multiarch-result.json``): one model for its writer and its readers.

The builder (``multiarch``) writes it with ``BuilderResult.to_document()``; the action reads it
with ``BuilderResult.from_document()``; ``schemas/builder-result.schema.json`` describes it.

Writing is exact: ``to_document()`` gives the keys in the order the file has always had them, and
the optional additions only when they say something (``transient``/``remediation`` on a failed job,
``suite`` on a skipped entry, ``cancelled`` on an interrupted build).

Reading is tolerant: a field of the wrong type becomes its empty value and an unknown status or
category word becomes the failure/``unknown`` one, never an exception, because a reporting step
must never turn a build failure into a crash of the action itself. A file that is missing or not
JSON reads as ``None`` (``read_builder_result``), and the caller reports from the exit status.

Stdlib only: the builder subprocess imports it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

from contracts.vocabulary import BuildStatus, FailureCategory, JobStatus, RunStatus

RESULT_SCHEMA_VERSION: Final = 1

# The key an interrupted build carries (``"cancelled": true``) is the run's status word.
_CANCELLED_KEY: Final = str(RunStatus.CANCELLED)

# A JSON object as json.loads gives it; the writer's values are JSON types only.
Document = dict[str, object]
_PartT = TypeVar("_PartT", bound="DataclassInstance")


# --------------------------------------------------------------------------- tolerant field readers


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0


def _positive_int(value: object) -> int | None:
    number = _int(value)
    return number if number > 0 else None


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


def _objects(value: object) -> Iterable[Mapping[str, object]]:
    """The JSON objects of a list; anything else in it (or a non-list) is left out."""
    if not isinstance(value, list):
        return ()
    return (item for item in value if isinstance(item, dict))


def _category(value: object) -> FailureCategory | None:
    """A failure category; a word outside the vocabulary reads as ``unknown``, none as ``None``."""
    word = _opt_str(value)
    if word is None:
        return None
    try:
        return FailureCategory(word)
    except ValueError:
        return FailureCategory.UNKNOWN


def _job_status(value: object) -> JobStatus:
    # Only "success" means a package was built; anything else is a failed job.
    return JobStatus.SUCCESS if value == JobStatus.SUCCESS else JobStatus.FAILURE


def _build_status(value: object) -> BuildStatus:
    word = _str(value)
    try:
        return BuildStatus(word)
    except ValueError:
        return BuildStatus.FAILURE


# --------------------------------------------------------------------------- the parts


@dataclass(frozen=True)
class LintianCounts:
    """What lintian found in one package (tags: every finding except the overridden ones)."""

    errors: int
    warnings: int
    info: int
    tags: tuple[str, ...]
    pedantic: int = 0
    overridden: int = 0

    @property
    def clean(self) -> bool:
        """No errors and no warnings: the bar the default packages must pass."""
        return self.errors == 0 and self.warnings == 0

    def to_document(self) -> Document:
        return _document(self, order=("errors", "warnings", "info", "pedantic", "overridden", "tags"))

    @classmethod
    def from_document(cls, value: object) -> LintianCounts | None:
        return _read(cls, value) if isinstance(value, dict) else None


@dataclass(frozen=True)
class JobResult:
    """One (architecture, suite) package: built, or why not."""

    arch: str
    suite: str
    status: JobStatus
    version: str
    package_path: str = ""  # absolute, or "" when the job failed
    size: int = 0
    sha256: str = ""
    reason: str = ""
    failure_category: FailureCategory | None = None  # None for a success or a cancelled job
    lintian: LintianCounts | None = None  # None when lintian did not run
    duration_seconds: float = 0.0
    transient: bool = False  # a failure that may pass on a retry (network)
    remediation: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.status == JobStatus.SUCCESS

    def to_document(self) -> Document:
        document = _document(self, unless_empty=("transient", "remediation"))
        document["duration_seconds"] = round(self.duration_seconds, 3)
        return document


@dataclass(frozen=True)
class SkippedArch:
    """An architecture (or one suite of it, when ``suite`` is set) that is not built, and why."""

    arch: str
    reason: str
    suite: str | None = None  # set when only this suite lacks the arch's port

    def to_document(self) -> Document:
        return _document(self, unless_empty=("suite",))


@dataclass(frozen=True)
class EarlyFailure:
    """A failure before any job ran (configuration, release lookup), with where it was found."""

    category: FailureCategory
    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    transient: bool = False
    remediation: tuple[str, ...] = ()

    def to_document(self) -> Document:
        return _document(self)

    @classmethod
    def from_document(cls, value: object) -> EarlyFailure | None:
        return _read(cls, value) if isinstance(value, dict) else None


# --------------------------------------------------------------------------- the whole file


def status_of(jobs: Iterable[JobResult]) -> BuildStatus:
    """Every job built: success; some: partial; none (or no jobs at all): failure."""
    outcomes = [job.succeeded for job in jobs]
    if outcomes and all(outcomes):
        return BuildStatus.SUCCESS
    return BuildStatus.PARTIAL if any(outcomes) else BuildStatus.FAILURE


@dataclass(frozen=True)
class BuilderResult:
    package: str
    tag: str
    upstream_version: str
    build_version: str
    status: BuildStatus
    jobs: tuple[JobResult, ...]
    skipped: tuple[SkippedArch, ...]
    error: EarlyFailure | None  # set only when the build failed before any job
    cancelled: bool = False  # interrupted (SIGINT/SIGTERM); unfinished jobs are failures

    @property
    def succeeded(self) -> tuple[JobResult, ...]:
        """The jobs that left a package behind."""
        return tuple(j for j in self.jobs if j.succeeded and j.package_path)

    @property
    def failed(self) -> tuple[JobResult, ...]:
        return tuple(j for j in self.jobs if not j.succeeded)

    def to_document(self) -> Document:
        return {"schema": RESULT_SCHEMA_VERSION, **_document(self, unless_empty=(_CANCELLED_KEY,))}

    @classmethod
    def from_document(cls, document: object) -> BuilderResult | None:
        """The result a parsed file describes, or ``None`` when it is not a JSON object."""
        return _read(cls, document) if isinstance(document, dict) else None


# --------------------------------------------------------------------------- one writer, one reader


def _document(
    part: DataclassInstance, *, order: Sequence[str] = (), unless_empty: Iterable[str] = ()
) -> Document:
    """A part's fields as JSON values, in ``order`` (else declaration order).

    The ``unless_empty`` fields are written only when they say something; a nested part is its
    own document, a tuple a list.
    """
    names = order or [f.name for f in dataclasses.fields(part)]
    values = {name: getattr(part, name) for name in names}
    return {name: _json(value) for name, value in values.items() if value or name not in unless_empty}


def _json(value: object) -> object:
    if isinstance(value, tuple):
        return [_json(item) for item in value]
    to_document: Callable[[], Document] | None = getattr(value, "to_document", None)
    return value if to_document is None else to_document()


def _read(cls: type[_PartT], document: Mapping[str, object]) -> _PartT:
    """A part from its JSON object: each field read by the tolerant reader of its type."""
    hints = _field_types(cls)
    return cls(**{name: _READERS[hint](document.get(name)) for name, hint in hints.items()})


def _parts(cls: type[_PartT]) -> Callable[[object], tuple[_PartT, ...]]:
    """The reader of a list of parts (anything in it that is not a JSON object is left out)."""
    return lambda value: tuple(_read(cls, item) for item in _objects(value))


@functools.cache
def _field_types(cls: type[DataclassInstance]) -> dict[str, object]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


# Each field type's tolerant reader (see the readers at the top).
_READERS: Final[Mapping[object, Callable[[object], object]]] = {
    str: _str,
    str | None: _opt_str,  # an empty text reads as None too
    int: _int,
    int | None: _positive_int,  # a line number: none below 1
    float: _float,
    bool: lambda value: value is True,
    tuple[str, ...]: _strings,
    FailureCategory: lambda value: _category(value) or FailureCategory.UNKNOWN,
    FailureCategory | None: _category,
    JobStatus: _job_status,
    BuildStatus: _build_status,
    LintianCounts | None: LintianCounts.from_document,
    EarlyFailure | None: EarlyFailure.from_document,
    tuple[JobResult, ...]: _parts(JobResult),
    tuple[SkippedArch, ...]: _parts(SkippedArch),
}


def read_builder_result(path: Path) -> BuilderResult | None:
    """The result file at ``path``, or ``None`` when there is none or it is not JSON."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return BuilderResult.from_document(document)
