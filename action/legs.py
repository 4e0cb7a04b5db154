"""The legs of a matrix as the join finds them under ``aggregate-dir``.

Each leg of a matrix is a normal run that uploads its output folder and telemetry folder as one
artifact; ``actions/download-artifact`` writes one folder per artifact (or, with
``merge-multiple: true``, all of them into one folder). A leg is found by its
``build-summary.json``:

- one artifact per folder: a top-level folder holding exactly one build-summary.json is one leg,
  named after the folder (the artifact's name);
- anything else (merged artifacts, or several summaries in one folder): each build-summary.json
  is a leg named after the folder it sits in, relative to ``aggregate-dir``.

A leg's packages and its ``metrics.json`` are found from the paths its summary records (relative
to the leg's workspace): the path itself under the folder of the summary or any folder above it
up to the leg's root, else the file name beside the summary. Nothing here raises on bad input:
an unreadable or invalid summary is a leg with a ``problem`` and a sentence saying what is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Final

from action.outcome import ProducedPackage
from contracts.builder_result import LintianCounts
from contracts.schema_files import schema_path
from contracts.vocabulary import BUILD_SUMMARY_FILE, METRICS_FILE, ActionStatus, FailureCategory, LegProblem
from telemetry.json_documents import checked_document, parsed_json, schema_problem
from telemetry.metrics_doc import MetricsDocument, MetricsFormatError

# A build-summary.json of 600 packages is about 300 KB; anything far larger is not one of ours.
MAX_SUMMARY_BYTES: Final = 32 * 1024 * 1024
MAX_METRICS_BYTES: Final = 64 * 1024 * 1024
# download-artifact keeps the uploaded paths; a leg's files sit a few folders down, never 20.
MAX_DEPTH: Final = 20


@dataclass(frozen=True)
class RunnerFacts:
    """The machine a leg ran on, as its build-summary.json and metrics.json recorded it."""

    os: str = ""  # RUNNER_OS: Linux
    arch: str = ""  # RUNNER_ARCH: X64, ARM64
    name: str = ""  # RUNNER_NAME
    machine: str = ""  # the kernel's machine name: x86_64, aarch64
    hostname: str = ""
    os_info: str = ""
    cpu_cores: int = 0
    memory_total_mb: int = 0

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class LegFailure:
    """A job a leg could not build."""

    leg: str
    arch: str
    suite: str
    reason: str
    failure_category: str


@dataclass(frozen=True)
class Leg:
    name: str
    root: Path  # the folder the leg's paths are resolved under
    summary_file: Path | None
    problem: LegProblem | None = None
    detail: str = ""  # what is wrong with the leg, in one sentence naming the file
    status: ActionStatus | None = None  # the leg's own status, when its summary could be read
    package: str = ""
    version: str = ""
    tag: str = ""  # the release tag as the leg was given it (version is the upstream version)
    # The packages as the leg recorded them (paths relative to its workspace, ``leg`` its name),
    # and where each recorded path's file is under aggregate-dir (absent: not in the artifact).
    packages: tuple[ProducedPackage, ...] = ()
    files: Mapping[str, Path] = field(default_factory=dict)
    failed: tuple[LegFailure, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (arch, reason)
    error: str = ""  # the leg's error message (a failure before any job)
    error_category: str = ""
    telemetry: Mapping[str, object] | None = None  # the leg's summary telemetry block
    metrics: MetricsDocument | None = None
    metrics_problem: str = ""
    runner: RunnerFacts | None = None

    @property
    def regressions(self) -> tuple[str, ...]:
        """The leg's regression messages: its metrics.json's (what the combined figures use), else
        its summary's telemetry block."""
        if self.metrics is not None:
            return self.metrics.performance_metrics.regressions_detected
        recorded = (self.telemetry or {}).get("performance_regressions")
        return tuple(str(m) for m in recorded) if isinstance(recorded, list) else ()

    @property
    def usable(self) -> bool:
        """Whether its packages and figures join the combined result."""
        return self.problem is None


# --------------------------------------------------------------------------- finding legs


def _summaries(base: Path) -> Iterator[Path]:
    """Every build-summary.json under ``base`` (no symlinks followed, depth-limited), sorted."""
    found: list[Path] = []
    base_depth = len(base.parts)
    for folder, dirs, files in os.walk(base, followlinks=False):
        here = Path(folder)
        if len(here.parts) - base_depth >= MAX_DEPTH:
            dirs[:] = []
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
        if BUILD_SUMMARY_FILE in files and not (here / BUILD_SUMMARY_FILE).is_symlink():
            found.append(here / BUILD_SUMMARY_FILE)
    return iter(sorted(found))


def locate_legs(base: Path) -> list[tuple[str, Path, Path]]:
    """(name, root, summary file) for every leg under ``base``, in name order."""
    summaries = list(_summaries(base))
    per_top: dict[str, list[Path]] = {}
    for summary in summaries:
        rel = summary.relative_to(base)
        top = rel.parts[0] if len(rel.parts) > 1 else ""
        per_top.setdefault(top, []).append(summary)
    legs: list[tuple[str, Path, Path]] = []
    for top, files in per_top.items():
        if top and len(files) == 1:
            legs.append((top, base / top, files[0]))
            continue
        for summary in files:
            rel_dir = summary.parent.relative_to(base).as_posix()
            legs.append((base.name if rel_dir == "." else rel_dir, base, summary))
    return sorted(legs, key=lambda leg: leg[0])


# --------------------------------------------------------------------------- reading one leg


def _read_bounded(path: Path, limit: int) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // (1024 * 1024)} MiB")
    return data


def _locate(recorded: str, summary_dir: Path, root: Path) -> Path | None:
    """The file a leg recorded as ``recorded`` (leg-workspace-relative), found in the artifact."""
    rel = PurePosixPath(recorded)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        return None
    folder = summary_dir
    while True:
        candidate = folder / rel
        if candidate.is_file() and not candidate.is_symlink():
            return candidate
        if folder == root or root not in folder.parents:
            break
        folder = folder.parent
    beside = summary_dir / rel.name
    return beside if beside.is_file() and not beside.is_symlink() else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _packages(document: Mapping[str, object], name: str) -> tuple[ProducedPackage, ...]:
    rows = document.get("packages")
    return tuple(
        ProducedPackage(
            path=_text(row.get("path")),
            arch=_text(row.get("arch")),
            suite=_text(row.get("suite")),
            version=_text(row.get("version")),
            size=_int(row.get("size")),
            sha256=_text(row.get("sha256")),
            lintian=LintianCounts.from_document(row.get("lintian")),
            leg=name,
        )
        for row in (rows if isinstance(rows, list) else ())
        if isinstance(row, Mapping)
    )


def _files(packages: tuple[ProducedPackage, ...], summary_dir: Path, root: Path) -> dict[str, Path]:
    located = {p.path: _locate(p.path, summary_dir, root) for p in packages}
    return {path: file for path, file in located.items() if file is not None}


def _failures(document: Mapping[str, object], name: str) -> tuple[LegFailure, ...]:
    rows = document.get("failed")
    return tuple(
        LegFailure(
            leg=name,
            arch=_text(row.get("arch")),
            suite=_text(row.get("suite")),
            reason=_text(row.get("reason")),
            failure_category=_text(row.get("failure_category")) or FailureCategory.UNKNOWN,
        )
        for row in (rows if isinstance(rows, list) else ())
        if isinstance(row, Mapping)
    )


def _skipped(document: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    rows = document.get("skipped")
    return tuple(
        (_text(row.get("arch")), _text(row.get("reason")))
        for row in (rows if isinstance(rows, list) else ())
        if isinstance(row, Mapping)
    )


def _metrics(
    telemetry: Mapping[str, object] | None, summary_dir: Path, root: Path, name: str
) -> tuple[MetricsDocument | None, str]:
    """The leg's metrics.json, or (None, why not) — a leg without telemetry has no figures."""
    if telemetry is None:
        return None, ""
    folder = _text(telemetry.get("telemetry_dir")) or "."
    recorded = (PurePosixPath(folder) / METRICS_FILE).as_posix()
    path = _locate(recorded, summary_dir, root)
    if path is None:
        return None, f"{name}: {recorded} is not in the artifact (upload the telemetry folder too)"
    origin = f"{name}: {path.relative_to(root.parent).as_posix()}"
    try:
        data = _read_bounded(path, MAX_METRICS_BYTES)
    except (OSError, ValueError) as exc:
        return None, f"{origin}: cannot be read ({exc})"
    document, problem = checked_document(data, schema_path("metrics.schema.json"), origin)
    if problem is not None:
        return None, problem
    try:
        return MetricsDocument.from_json(document), ""
    except MetricsFormatError as exc:
        return None, f"{origin}: {exc}"


def _runner(document: Mapping[str, object], metrics: MetricsDocument | None) -> RunnerFacts:
    recorded = document.get("runner")
    facts = recorded if isinstance(recorded, Mapping) else {}
    session = metrics.build_session if metrics else None
    return RunnerFacts(
        os=_text(facts.get("os")),
        arch=_text(facts.get("arch")),
        name=_text(facts.get("name")),
        machine=_text(facts.get("machine")),
        hostname=session.hostname if session else _text(facts.get("hostname")),
        os_info=session.os_info if session else _text(facts.get("os_info")),
        cpu_cores=session.cpu_cores if session else _int(facts.get("cpu_cores")),
        memory_total_mb=session.memory_total_mb if session else _int(facts.get("memory_total_mb")),
    )


def read_leg(name: str, root: Path, summary_file: Path) -> Leg:
    """One leg from its build-summary.json; problems become a ``problem`` and a ``detail``."""
    origin = f"{name}: {summary_file.relative_to(root.parent).as_posix()}"

    def refused(kind: LegProblem, detail: str) -> Leg:
        return Leg(name=name, root=root, summary_file=summary_file, problem=kind, detail=detail)

    try:
        document, problem = parsed_json(_read_bounded(summary_file, MAX_SUMMARY_BYTES), origin)
    except (OSError, ValueError) as exc:
        return refused(LegProblem.UNREADABLE, f"{origin}: cannot be read ({exc})")
    if problem is not None:  # not even JSON: truncated, empty, binary
        return refused(LegProblem.UNREADABLE, problem)
    problem = schema_problem(document, schema_path("build-summary.schema.json"), origin)
    if problem is not None:
        return refused(LegProblem.INVALID, problem)
    telemetry = document.get("telemetry")
    block = telemetry if isinstance(telemetry, Mapping) else None
    metrics, metrics_problem = _metrics(block, summary_file.parent, root, name)
    packages = _packages(document, name)
    error = document.get("error")
    return Leg(
        name=name,
        root=root,
        summary_file=summary_file,
        status=ActionStatus(document["status"]),
        package=_text(document.get("package")),
        version=_text(document.get("version")),
        tag=_text(document.get("tag")),
        packages=packages,
        files=_files(packages, summary_file.parent, root),
        failed=_failures(document, name),
        skipped=_skipped(document),
        error=_text(error.get("message")) if isinstance(error, Mapping) else "",
        error_category=_text(error.get("category")) if isinstance(error, Mapping) else "",
        telemetry=block,
        metrics=metrics,
        metrics_problem=metrics_problem,
        runner=_runner(document, metrics),
    )


def read_legs(base: Path, expected: tuple[str, ...] = ()) -> tuple[Leg, ...]:
    """Every leg under ``base``, plus a ``missing`` leg for each expected name not found."""
    legs = [read_leg(name, root, summary) for name, root, summary in locate_legs(base)]
    found = {leg.name for leg in legs}
    for name in expected:
        if name in found:
            continue
        folder = base / name
        why = (
            f"{name}: the folder has no {BUILD_SUMMARY_FILE} (did the leg upload its output folder?)"
            if folder.is_dir()
            else f"{name}: no artifact folder of that name in {base.name}/ (the leg did not run or upload)"
        )
        legs.append(Leg(name=name, root=folder, summary_file=None, problem=LegProblem.MISSING, detail=why))
    return tuple(sorted(legs, key=lambda leg: leg.name))


def runner_facts(environ: Mapping[str, str] | None = None) -> RunnerFacts:
    """This job's runner, as GitHub describes it to the step (RUNNER_*) and the kernel names it."""
    import platform

    env = os.environ if environ is None else environ
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 0
    return RunnerFacts(
        os=env.get("RUNNER_OS", ""),
        arch=env.get("RUNNER_ARCH", ""),
        name=env.get("RUNNER_NAME", ""),
        machine=platform.machine(),
        hostname=platform.node(),
        os_info=f"{platform.system()} {platform.release()}".strip(),
        cpu_cores=cores,
        memory_total_mb=_memory_total_mb(),
    )


def _memory_total_mb() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
