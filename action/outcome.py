"""What one run of the action produced, as one frozen value every reporter reads.

``outputs``, ``build_summary``, ``job_summary`` and ``annotations`` all render
the same ``ActionOutcome``, so they cannot disagree about the status, the
failure category or which packages this run produced.

Status and exit code: ``success`` exits 0 (1 when a regression is
detected and ``fail-on-regression`` is set); ``partial`` and ``failure`` exit
non-zero (the builder's own status when it gave one, else 1; invalid inputs
or configuration exit 2); ``cancelled`` exits 128 + the signal (130 for
SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Final

from contracts.builder_result import BuilderResult, LintianCounts
from contracts.fileio import sha256_file
from contracts.vocabulary import DEFAULT_REGRESSION_THRESHOLD_PERCENT, ActionStatus, MemoryLayout

if TYPE_CHECKING:
    from action.history import HistoryView
    from action.join import Aggregate
    from telemetry.model import RunData
    from telemetry.reporters.summary_block import SummaryBlock

STATUSES: Final = tuple(ActionStatus)
EXIT_CONFIGURATION: Final = 2
EXIT_REGRESSION: Final = 1


@dataclass(frozen=True)
class ProducedPackage:
    """A .deb this run wrote (not one left over from an earlier run)."""

    path: str  # workspace-relative: the container's absolute paths mean nothing to later steps
    arch: str
    suite: str
    version: str
    size: int
    sha256: str
    lintian: LintianCounts | None
    leg: str = ""  # the matrix leg that built it, when the action joined a matrix's legs


@dataclass(frozen=True)
class FailureInfo:
    category: str  # one of telemetry.events.CATEGORIES
    reason: str
    stage: str = ""
    remediation: tuple[str, ...] = ()
    exit_code: int | None = None
    signal: int | None = None
    transient: bool | None = None
    file: str | None = None  # for configuration errors: where to point the annotation
    line: int | None = None
    field: str | None = None


@dataclass(frozen=True)
class TelemetryFigures:
    """The headline figures and regression verdict, as the telemetry report computed them."""

    directory: str  # workspace-relative
    duration_seconds: float
    peak_memory_mb: float
    peak_memory_source: str
    network_downloaded_bytes: int
    network_uploaded_bytes: int
    network_interface: str
    cpu_user_seconds: float
    cpu_system_seconds: float
    cpu_average_percent: float
    disk_read_bytes: int
    disk_write_bytes: int
    regressions: tuple[str, ...]
    baseline_comparison: Mapping[str, float]
    performance_score: float
    has_baseline: bool
    baseline_saved: bool
    # The `telemetry` block of build-summary.json exactly as the report made it (None: no report).
    summary_block: SummaryBlock | None = None
    files: tuple[str, ...] = ()  # workspace-relative paths of what the report wrote
    # Whether the interface counters include other processes' traffic (None: could not tell),
    # and what the build itself reported downloading (None: it reports nothing).
    network_interface_shared: bool | None = None
    builder_downloaded_bytes: int | None = None
    # The kernel's peak of everything charged to the cgroup, page cache included (how close
    # the run came to the memory limit), where a cgroup was readable; and which cgroup it is
    # ("dedicated": the build's own, "container": with the entrypoint, "shared": with other work).
    cgroup_peak_mb: float | None = None
    memory_layout: str = MemoryLayout.NONE
    # What the comparison used, in words ("median of 7 baseline runs on main"), and how many runs.
    comparison_basis: str = ""
    baseline_runs: int = 0
    # The reference figures themselves (a history's medians, or baseline.json's), when there are.
    reference_duration_seconds: float | None = None
    reference_peak_memory_mb: float | None = None

    @property
    def regression_detected(self) -> bool:
        return bool(self.regressions)


class BuildMode(StrEnum):
    """What the action ran: the built-in multi-arch builder, or the user's ``command``."""

    BUILDER = "builder"
    COMMAND = "command"
    AGGREGATE = "aggregate"  # no build: the legs of a matrix joined


@dataclass(frozen=True)
class ActionOutcome:
    status: ActionStatus
    mode: BuildMode
    package: str
    version: str
    packages: tuple[ProducedPackage, ...]
    result: BuilderResult | None
    failure: FailureInfo | None
    telemetry: TelemetryFigures | None
    duration_seconds: float  # wall clock of the build subprocess
    exit_code: int
    input_problems: tuple[tuple[str, str], ...] = ()  # (input, message) when inputs were invalid
    run: RunData | None = None  # samples and stages for the charts; None without telemetry
    fail_on_regression: bool = False
    regression_threshold: float = DEFAULT_REGRESSION_THRESHOLD_PERCENT
    config_file: str = ""  # names the build in the summary when the package name is unknown
    history: HistoryView | None = None  # the runs before this one and this run; None without telemetry
    aggregate: Aggregate | None = None  # aggregate mode: the legs and what the join made of them

    @property
    def failure_category(self) -> str:
        # Empty on success and on cancellation: cancelling is not a build failure.
        if self.status in (ActionStatus.SUCCESS, ActionStatus.CANCELLED) or self.failure is None:
            return ""
        return self.failure.category


def relative_to_workspace(path: str | Path, workspace: Path) -> str:
    """``path`` as the steps after this one see it (relative to the shared workspace)."""
    absolute = Path(os.path.realpath(workspace / path))
    try:
        return absolute.relative_to(workspace).as_posix() or "."
    except ValueError:
        return str(absolute)


def produced_packages(result: BuilderResult, workspace: Path) -> tuple[ProducedPackage, ...]:
    """The successful jobs' packages that exist on disk now."""
    produced: list[ProducedPackage] = []
    for job in result.succeeded:
        absolute = Path(job.package_path) if os.path.isabs(job.package_path) else workspace / job.package_path
        if not absolute.is_file():
            continue
        produced.append(
            ProducedPackage(
                path=relative_to_workspace(absolute, workspace),
                arch=job.arch,
                suite=job.suite,
                version=job.version,
                size=job.size or absolute.stat().st_size,
                sha256=job.sha256,
                lintian=job.lintian,
            )
        )
    return tuple(produced)


@dataclass(frozen=True)
class DebSnapshot:
    """The .deb files under a folder and their identity, to tell new files from stale ones."""

    files: Mapping[str, tuple[int, int, int]]  # path -> (inode, size, mtime_ns)


def snapshot_debs(folder: Path) -> DebSnapshot:
    """Command mode has no result file: compare the folder before and after the build."""
    files: dict[str, tuple[int, int, int]] = {}
    if folder.is_dir():
        for path in folder.rglob("*.deb"):
            try:
                st = path.stat()
            except OSError:
                continue
            if path.is_file():
                files[str(path)] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return DebSnapshot(files=files)


def new_debs(before: DebSnapshot, after: DebSnapshot, workspace: Path) -> tuple[ProducedPackage, ...]:
    produced = []
    for path, identity in sorted(after.files.items()):
        if before.files.get(path) == identity:
            continue  # untouched since before the build: stale, not this run's
        arch, version = _deb_name_parts(Path(path).name)
        digest = _sha256(Path(path))
        if not digest:
            continue  # vanished or unreadable since the snapshot: not a package anyone can use
        produced.append(
            ProducedPackage(
                path=relative_to_workspace(path, workspace),
                arch=arch,
                suite="",
                version=version,
                size=identity[1],
                sha256=digest,
                lintian=None,
            )
        )
    return tuple(produced)


def _sha256(path: Path) -> str:
    """The file's sha256, or "" when it vanished or cannot be read."""
    try:
        return sha256_file(path)
    except OSError:
        return ""


def _deb_name_parts(name: str) -> tuple[str, str]:
    """(arch, version) from ``<pkg>_<version>_<arch>.deb``, empty when the name has another shape."""
    parts = name.removesuffix(".deb").split("_")
    if len(parts) == 3:
        return parts[2], parts[1]
    return "", ""


def success_exit_code(telemetry: TelemetryFigures | None, fail_on_regression: bool) -> int:
    """A successful run's exit status: 0, or EXIT_REGRESSION when a regression must fail the step."""
    regression = telemetry is not None and telemetry.regression_detected
    return EXIT_REGRESSION if regression and fail_on_regression else 0


def cancel_exit_code(signum: int | None) -> int:
    """128 + the cancelling signal; SIGKILL is only ever our own escalation, so it counts as SIGTERM."""
    if not signum or signum == signal.SIGKILL:
        return 128 + int(signal.SIGTERM)
    return 128 + signum


def first_failure(candidates: Iterable[FailureInfo | None]) -> FailureInfo | None:
    for candidate in candidates:
        if candidate is not None:
            return candidate
    return None
