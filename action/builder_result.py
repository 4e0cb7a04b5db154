"""Read the builder's result file (architecture.md, "multiarch/") into frozen dataclasses.

The file is the builder's machine-readable answer; the entrypoint never parses
its log. Reading is tolerant: a field of the wrong type becomes its empty value
rather than an exception, because a reporting step must never turn a build
failure into a crash of the action itself. A file that is missing or not JSON
gives ``None`` and the caller reports from the exit status and telemetry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LintianCounts:
    errors: int
    warnings: int
    info: int
    tags: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return self.errors == 0 and self.warnings == 0


@dataclass(frozen=True)
class JobResult:
    arch: str
    suite: str
    status: str  # "success" | "failure"
    version: str
    package_path: str  # absolute, or "" when the job failed
    size: int
    sha256: str
    reason: str
    failure_category: str | None
    lintian: LintianCounts | None
    duration_seconds: float


@dataclass(frozen=True)
class SkippedArch:
    arch: str
    reason: str


@dataclass(frozen=True)
class BuildError:
    """A failure before any job ran (e.g. configuration), with where it was found."""

    category: str
    message: str
    file: str | None
    line: int | None
    field: str | None
    transient: bool
    remediation: tuple[str, ...]


@dataclass(frozen=True)
class BuilderResult:
    package: str
    tag: str
    upstream_version: str
    build_version: str
    status: str  # "success" | "partial" | "failure"
    jobs: tuple[JobResult, ...]
    skipped: tuple[SkippedArch, ...]
    error: BuildError | None

    @property
    def succeeded(self) -> tuple[JobResult, ...]:
        return tuple(j for j in self.jobs if j.status == "success" and j.package_path)

    @property
    def failed(self) -> tuple[JobResult, ...]:
        return tuple(j for j in self.jobs if j.status != "success")


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


def _map(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


def _lintian(value: object) -> LintianCounts | None:
    if not isinstance(value, dict):
        return None
    return LintianCounts(
        errors=_int(value.get("errors")),
        warnings=_int(value.get("warnings")),
        info=_int(value.get("info")),
        tags=_strings(value.get("tags")),
    )


def _job(value: Mapping[str, object]) -> JobResult:
    return JobResult(
        arch=_str(value.get("arch")),
        suite=_str(value.get("suite")),
        status=_str(value.get("status")) or "failure",
        version=_str(value.get("version")),
        package_path=_str(value.get("package_path")),
        size=_int(value.get("size")),
        sha256=_str(value.get("sha256")),
        reason=_str(value.get("reason")),
        failure_category=_opt_str(value.get("failure_category")),
        lintian=_lintian(value.get("lintian")),
        duration_seconds=_float(value.get("duration_seconds")),
    )


def parse_error(value: object) -> BuildError | None:
    if not isinstance(value, dict):
        return None
    line = value.get("line")
    return BuildError(
        category=_str(value.get("category")) or "unknown",
        message=_str(value.get("message")),
        file=_opt_str(value.get("file")),
        line=line if isinstance(line, int) and not isinstance(line, bool) and line > 0 else None,
        field=_opt_str(value.get("field")),
        transient=value.get("transient") is True,
        remediation=_strings(value.get("remediation")),
    )


def parse_result(document: object) -> BuilderResult | None:
    if not isinstance(document, dict):
        return None
    jobs = tuple(_job(_map(j)) for j in document.get("jobs") or () if isinstance(j, dict))
    skipped = tuple(
        SkippedArch(arch=_str(s.get("arch")), reason=_str(s.get("reason")))
        for s in document.get("skipped") or ()
        if isinstance(s, dict)
    )
    status = _str(document.get("status"))
    if status not in ("success", "partial", "failure"):
        status = "failure"
    return BuilderResult(
        package=_str(document.get("package")),
        tag=_str(document.get("tag")),
        upstream_version=_str(document.get("upstream_version")),
        build_version=_str(document.get("build_version")),
        status=status,
        jobs=jobs,
        skipped=skipped,
        error=parse_error(document.get("error")),
    )


def read_result(path: Path | None) -> BuilderResult | None:
    """The result file at ``path``, or None when there is none (crash, command mode)."""
    if path is None:
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return parse_result(document)
