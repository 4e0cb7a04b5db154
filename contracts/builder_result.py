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

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from contracts.vocabulary import BuildStatus, FailureCategory, JobStatus, RunStatus

RESULT_SCHEMA_VERSION: Final = 1

# The key an interrupted build carries (``"cancelled": true``) is the run's status word.
_CANCELLED_KEY: Final = str(RunStatus.CANCELLED)

# A JSON object as json.loads gives it; the writer's values are JSON types only.
Document = dict[str, object]


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
        return {
            "errors": self.errors,
            "warnings": self.warnings,
            "info": self.info,
            "pedantic": self.pedantic,
            "overridden": self.overridden,
            "tags": list(self.tags),
        }

    @classmethod
    def from_document(cls, value: object) -> LintianCounts | None:
        if not isinstance(value, dict):
            return None
        return cls(
            errors=_int(value.get("errors")),
            warnings=_int(value.get("warnings")),
            info=_int(value.get("info")),
            tags=_strings(value.get("tags")),
            pedantic=_int(value.get("pedantic")),
            overridden=_int(value.get("overridden")),
        )


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
        document: Document = {
            "arch": self.arch,
            "suite": self.suite,
            "status": self.status,
            "version": self.version,
            "package_path": self.package_path,
            "size": self.size,
            "sha256": self.sha256,
            "reason": self.reason,
            "failure_category": self.failure_category,
            "lintian": self.lintian.to_document() if self.lintian is not None else None,
            "duration_seconds": round(self.duration_seconds, 3),
        }
        if self.transient:
            document["transient"] = True
        if self.remediation:
            document["remediation"] = list(self.remediation)
        return document

    @classmethod
    def from_document(cls, value: Mapping[str, object]) -> JobResult:
        return cls(
            arch=_str(value.get("arch")),
            suite=_str(value.get("suite")),
            status=_job_status(value.get("status")),
            version=_str(value.get("version")),
            package_path=_str(value.get("package_path")),
            size=_int(value.get("size")),
            sha256=_str(value.get("sha256")),
            reason=_str(value.get("reason")),
            failure_category=_category(value.get("failure_category")),
            lintian=LintianCounts.from_document(value.get("lintian")),
            duration_seconds=_float(value.get("duration_seconds")),
            transient=value.get("transient") is True,
            remediation=_strings(value.get("remediation")),
        )


@dataclass(frozen=True)
class SkippedArch:
    """An architecture (or one suite of it, when ``suite`` is set) that is not built, and why."""

    arch: str
    reason: str
    suite: str | None = None  # set when only this suite lacks the arch's port

    def to_document(self) -> Document:
        document: Document = {"arch": self.arch, "reason": self.reason}
        if self.suite:
            document["suite"] = self.suite
        return document

    @classmethod
    def from_document(cls, value: Mapping[str, object]) -> SkippedArch:
        return cls(
            arch=_str(value.get("arch")),
            reason=_str(value.get("reason")),
            suite=_opt_str(value.get("suite")),
        )


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
        return {
            "category": self.category,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "transient": self.transient,
            "remediation": list(self.remediation),
        }

    @classmethod
    def from_document(cls, value: object) -> EarlyFailure | None:
        if not isinstance(value, dict):
            return None
        return cls(
            category=_category(value.get("category")) or FailureCategory.UNKNOWN,
            message=_str(value.get("message")),
            file=_opt_str(value.get("file")),
            line=_positive_int(value.get("line")),
            field=_opt_str(value.get("field")),
            transient=value.get("transient") is True,
            remediation=_strings(value.get("remediation")),
        )


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
        document: Document = {
            "schema": RESULT_SCHEMA_VERSION,
            "package": self.package,
            "tag": self.tag,
            "upstream_version": self.upstream_version,
            "build_version": self.build_version,
            "status": self.status,
            "jobs": [job.to_document() for job in self.jobs],
            "skipped": [skip.to_document() for skip in self.skipped],
            "error": self.error.to_document() if self.error is not None else None,
        }
        if self.cancelled:
            document[_CANCELLED_KEY] = True
        return document

    @classmethod
    def from_document(cls, document: object) -> BuilderResult | None:
        """The result a parsed file describes, or ``None`` when it is not a JSON object."""
        if not isinstance(document, dict):
            return None
        return cls(
            package=_str(document.get("package")),
            tag=_str(document.get("tag")),
            upstream_version=_str(document.get("upstream_version")),
            build_version=_str(document.get("build_version")),
            status=_build_status(document.get("status")),
            jobs=tuple(JobResult.from_document(j) for j in _objects(document.get("jobs"))),
            skipped=tuple(SkippedArch.from_document(s) for s in _objects(document.get("skipped"))),
            error=EarlyFailure.from_document(document.get("error")),
            cancelled=document.get(_CANCELLED_KEY) is True,
        )


def read_builder_result(path: Path) -> BuilderResult | None:
    """The result file at ``path``, or ``None`` when there is none or it is not JSON."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return BuilderResult.from_document(document)
