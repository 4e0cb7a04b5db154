"""Join the legs of a matrix into one result: packages, failures, the grid, problems and status.

Rules, in the order they apply:

- The reference package and version are the ``version`` input's when it is given, else the pair
  most legs built (ties: the first leg by name). A leg that built another package or version is
  ``foreign``: refused, its packages left out.
- Each package must be in the artifact as the leg recorded it (size and sha256); one that is
  absent or differs is named and left out of the outputs.
- Two legs with the same file: identical copies are kept once and named; different contents are a
  ``duplicate`` problem and only the first leg's copy (by name) is kept.
- The grid is every architecture × suite asked for (the ``architecture`` and ``distributions``
  inputs, when given) or seen; a cell asked for that no leg built or attempted is named.
- Status: ``success`` only if every leg succeeded and nothing above was found; ``partial`` if some
  packages joined; ``failure`` otherwise (also when no leg was found at all).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from action.legs import Leg, LegFailure
from action.outcome import ProducedPackage, relative_to_workspace
from contracts.fileio import sha256_file
from contracts.vocabulary import ActionStatus, JobStatus, LegProblem


@dataclass(frozen=True)
class JoinProblem:
    """Something the join had to refuse or leave out; ``leg`` names whose it is ("" for none)."""

    leg: str
    kind: LegProblem
    message: str


@dataclass(frozen=True)
class GridCell:
    arch: str
    suite: str
    status: JobStatus | None  # None: no leg built or attempted it
    leg: str  # the leg that built it (or failed it); "" when none did
    package: ProducedPackage | None = None
    reason: str = ""  # why it failed
    asked: bool = False  # the architecture and distributions inputs asked for this cell


@dataclass(frozen=True)
class Aggregate:
    """What the join made of the legs; every reporter of aggregate mode reads this."""

    legs: tuple[Leg, ...]
    package: str
    version: str
    packages: tuple[ProducedPackage, ...]  # joined, each with its leg; workspace-relative paths
    failed: tuple[LegFailure, ...]
    skipped: tuple[tuple[str, str, str], ...]  # (leg, arch, reason)
    problems: tuple[JoinProblem, ...]
    notes: tuple[str, ...]  # what was found and is harmless (identical copies)
    arches: tuple[str, ...]
    suites: tuple[str, ...]
    grid: tuple[GridCell, ...]  # arches × suites, row by row
    status: ActionStatus
    start_timestamp: float | None  # the first leg's start (legs with telemetry)
    end_timestamp: float | None  # the last leg's end

    @property
    def usable_legs(self) -> tuple[Leg, ...]:
        return tuple(leg for leg in self.legs if leg.usable)


def _reference(legs: Sequence[Leg], version: str) -> tuple[str, str]:
    """The (package, version) pair the join is about: the ``version`` input's, else the most built."""
    readable = [leg for leg in legs if leg.problem is None and leg.package]
    if version:
        # The input is a release tag (v1.2.3) or the upstream version (1.2.3): legs record both.
        matching = [leg for leg in readable if version in (leg.version, leg.tag)]
        packages = Counter(leg.package for leg in matching or readable)
        upstream = Counter(leg.version for leg in matching)
        return (
            packages.most_common(1)[0][0] if packages else "",
            upstream.most_common(1)[0][0] if upstream else version,
        )
    pairs = [(leg.package, leg.version) for leg in readable]
    if not pairs:
        return "", ""
    counts = Counter(pairs)
    best = max(counts.values())
    return next(pair for pair in pairs if counts[pair] == best)


def _refuse_foreign(legs: Sequence[Leg], package: str, version: str) -> tuple[list[Leg], list[JoinProblem]]:
    kept: list[Leg] = []
    problems: list[JoinProblem] = []
    for leg in legs:
        other_package = bool(leg.package) and bool(package) and leg.package != package
        other_version = bool(leg.version) and bool(version) and leg.version != version
        if leg.problem is None and (other_package or other_version):
            message = (
                f"{leg.name}: built {leg.package} {leg.version}, not {package} {version}: refused"
                " (an artifact of another package or release in the download folder?)"
            )
            problems.append(JoinProblem(leg.name, LegProblem.FOREIGN, message))
            leg = Leg(**{**leg.__dict__, "problem": LegProblem.FOREIGN, "detail": message})
        elif leg.problem is not None:
            problems.append(JoinProblem(leg.name, leg.problem, leg.detail))
        kept.append(leg)
    return kept, problems


def _checked(leg: Leg, package: ProducedPackage) -> tuple[Path | None, JoinProblem | None]:
    """The package's file, or why it cannot join: absent, or not what the leg recorded."""
    file = leg.files.get(package.path)
    if file is None:
        why = f"{leg.name}: {package.path} is listed in its build-summary.json but not in the artifact"
        return None, JoinProblem(leg.name, LegProblem.MISSING, why)
    try:
        size = file.stat().st_size
        digest = sha256_file(file) if package.sha256 else ""
    except OSError as exc:
        return None, JoinProblem(
            leg.name, LegProblem.INVALID, f"{leg.name}: {package.path} cannot be read ({exc})"
        )
    if size != package.size or digest != package.sha256:
        why = f"{leg.name}: {package.path} differs from what the leg recorded (size or sha256): left out"
        return None, JoinProblem(leg.name, LegProblem.INVALID, why)
    return file, None


def _join_packages(
    legs: Iterable[Leg], workspace: Path
) -> tuple[list[ProducedPackage], list[JoinProblem], list[str]]:
    joined: dict[str, ProducedPackage] = {}
    problems: list[JoinProblem] = []
    notes: list[str] = []
    for leg in legs:
        if not leg.usable:
            continue
        for package in leg.packages:
            file, problem = _checked(leg, package)
            if file is None:
                problems += [problem] if problem else []
                continue
            name = PurePosixPath(package.path).name
            first = joined.get(name)
            if first is None:
                joined[name] = replace(package, path=relative_to_workspace(file, workspace))
            elif first.sha256 == package.sha256:
                notes.append(f"{name}: built by {first.leg} and {leg.name}, identical; listed once")
            else:
                message = (
                    f"{name}: built by {first.leg} and {leg.name} with different contents;"
                    f" kept {first.leg}'s copy"
                )
                problems.append(JoinProblem(leg.name, LegProblem.DUPLICATE, message))
    return list(joined.values()), problems, notes


def _axis(asked: Sequence[str], seen: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*asked, *sorted(set(seen) - set(asked))]))


def _grid(
    packages: Sequence[ProducedPackage],
    failed: Sequence[LegFailure],
    axes: tuple[Sequence[str], Sequence[str]],
    asked: tuple[Sequence[str], Sequence[str]],
) -> tuple[GridCell, ...]:
    """Every arch × suite cell; a cell is asked for when the inputs name its arch (and suite)."""
    built = {(p.arch, p.suite): p for p in packages}
    broken = {(f.arch, f.suite): f for f in failed}
    cells: list[GridCell] = []
    for arch in axes[0]:
        for suite in axes[1]:
            wanted = arch in asked[0] and (not asked[1] or suite in asked[1])
            package = built.get((arch, suite))
            failure = broken.get((arch, suite))
            if package is not None:
                cells.append(GridCell(arch, suite, JobStatus.SUCCESS, package.leg, package, asked=wanted))
            elif failure is not None:
                reason = failure.reason
                cells.append(
                    GridCell(arch, suite, JobStatus.FAILURE, failure.leg, reason=reason, asked=wanted)
                )
            else:
                cells.append(GridCell(arch, suite, None, "", asked=wanted))
    return tuple(cells)


def _gaps(cells: Iterable[GridCell]) -> list[JoinProblem]:
    """Cells the inputs asked for that no leg built or attempted."""
    return [
        JoinProblem("", LegProblem.MISSING, f"{cell.arch}/{cell.suite or '-'}: no leg built or attempted it")
        for cell in cells
        if cell.status is None and cell.asked
    ]


def _status(
    legs: Sequence[Leg], packages: Sequence[ProducedPackage], problems: Sequence[JoinProblem]
) -> ActionStatus:
    if legs and not problems and all(leg.status == ActionStatus.SUCCESS for leg in legs):
        return ActionStatus.SUCCESS
    return ActionStatus.PARTIAL if packages else ActionStatus.FAILURE


def _span(legs: Iterable[Leg]) -> tuple[float | None, float | None]:
    sessions = [leg.metrics.build_session for leg in legs if leg.usable and leg.metrics is not None]
    if not sessions:
        return None, None
    return min(s.start_timestamp for s in sessions), max(s.end_timestamp for s in sessions)


def join(
    legs: Sequence[Leg],
    *,
    workspace: Path,
    version: str = "",
    arches: Sequence[str] = (),
    suites: Sequence[str] = (),
) -> Aggregate:
    """The combined result of ``legs``; ``arches``/``suites`` are what the inputs asked for."""
    package, version = _reference(legs, version)
    checked, problems = _refuse_foreign(legs, package, version)
    packages, package_problems, notes = _join_packages(checked, workspace)
    usable = [leg for leg in checked if leg.usable]
    failed = [failure for leg in usable for failure in leg.failed]
    skipped = tuple((leg.name, arch, reason) for leg in usable for arch, reason in leg.skipped)
    seen_arches = [p.arch for p in packages] + [f.arch for f in failed]
    seen_suites = [p.suite for p in packages] + [f.suite for f in failed]
    arch_axis = _axis(arches, seen_arches)
    suite_axis = _axis(suites, seen_suites) or ("",)
    grid = _grid(packages, failed, (arch_axis, suite_axis), (arches, suites))
    problems += package_problems + _gaps(grid)
    start, end = _span(checked)
    return Aggregate(
        legs=tuple(checked),
        package=package,
        version=version,
        packages=tuple(sorted(packages, key=lambda p: (p.arch, p.suite, p.path))),
        failed=tuple(failed),
        skipped=skipped,
        problems=tuple(problems),
        notes=tuple(notes),
        arches=arch_axis,
        suites=suite_axis,
        grid=grid,
        status=_status(checked, packages, problems),
        start_timestamp=start,
        end_timestamp=end,
    )
