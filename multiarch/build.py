"""Orchestration: plan the arch × suite matrix, then build every package job in parallel.

Work is split by what it depends on, so nothing is done twice:

- per architecture (once, in a *prep* pool): download and verify the asset, extract it, stage
  the payload (ELF checks included), and queue its large files for compression right away;
- per (architecture, suite) *job* (up to ``--max-parallel`` at a time): control file, changelog,
  copyright, overrides and fallback man pages, then the ``.deb`` itself, whose big blocks come
  from the shared ``BlockCompressor`` cache (see ``debwriter``), and lintian when asked.

``--max-parallel`` bounds the jobs, the prep pool and the compression threads (never more
compression threads than usable cores), so a user who asks for 1 gets one busy core.

A failure is contained where it happens: a prep failure fails that arch's jobs, a job failure
fails that job; the others go on. Every error carries its category from where it was raised.

Stage events (``telemetry.events``; no samplers are imported here): ``download_<arch>``,
``verify_<arch>``, ``extract_<arch>`` per architecture, and per job ``architecture_<arch>_<suite>``
enclosing ``package_<arch>_<suite>`` (and ``lintian_<arch>_<suite>``). A failure event is emitted
once, by the step where it happened.

Arches the user asked for explicitly (a list or map in package.yaml, or ``--arch``) that have no
usable asset become failed jobs, so the run is ``partial``; with the absent form ("whatever
upstream ships") they are only listed as skipped. Suites without a port of an arch are skipped.

API summary::

    BuildOptions(config, tag, ...)                      # the CLI's arguments
    make_plan(options, *, source=None) -> Plan          # no packaging; Plan.to_json()
    build_packages(options, *, cancel=None, source=None, plan=None) -> BuilderResult
    write_result(result, path)                          # atomically, via BuilderResult.to_document()
    error_result(options, error, package="") -> BuilderResult   # a failure before any job

The result file's model (``BuilderResult`` and its parts) is ``contracts.builder_result``.
"""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import os
import shutil
import tarfile
import tempfile
import threading
import time
import traceback
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

from contracts.builder_result import (
    RESULT_SCHEMA_VERSION,
    BuilderResult,
    EarlyFailure,
    JobResult,
    SkippedArch,
    status_of,
)
from contracts.fileio import atomic_write_json
from contracts.vocabulary import (
    BUILDER_RESULT_FILE,
    BuildStatus,
    FailureCategory,
    JobStatus,
    RunStatus,
    StageStatus,
)
from multiarch import versioning
from multiarch.checksums import ChecksumIndex, PinnedMetadata, Verification
from multiarch.config import ArchSpec, PackageConfig, expand, load_config, tag_version
from multiarch.debian import (
    PackageMeta,
    control_bytes,
    doc_entries,
    installed_size_kib,
    manpage_gz,
    md5sums_bytes,
    merge_relations,
)
from multiarch.debwriter import (
    COMPRESSIONS,
    BlockCompressor,
    Compression,
    DataEntry,
    WrittenDeb,
    complete_tree,
    write_deb,
)
from multiarch.discovery import ArchChoice, Discovery, discover, settle_with_elf
from multiarch.download import DownloadCache
from multiarch.elf import ElfInfo, read_elf, shlib_depends
from multiarch.errors import ConfigError, MultiarchError, PackagingError, SecurityError
from multiarch.extract import extract_asset
from multiarch.lintian import LintianResult, override_entry, run_lintian, strict_failure
from multiarch.payload import StagedPayload, glob_match, stage_payload
from multiarch.sources.github import GitHubSource
from multiarch.sources.interface import Release, ReleaseSource
from multiarch.sources.local import LocalSource
from multiarch.suites import Suite, get_arch
from telemetry import events

# The reason of a job that a SIGINT/SIGTERM stopped (it has no failure category).
_CANCELLED_REASON: Final = "cancelled before the package was written"

# --------------------------------------------------------------------------- options and plan


@dataclass(frozen=True)
class BuildOptions:
    config: Path
    tag: str
    build_version: str = "1"
    arches: tuple[str, ...] | None = None
    distributions: tuple[str, ...] | None = None
    assets_dir: Path | None = None
    output_dir: Path = Path(".")
    max_parallel: int | None = None  # None: usable cores
    lintian: bool = False
    lintian_strict: bool = False  # a package with any lintian error fails its job (implies lintian)
    pinned_metadata: Path | None = None
    compression: str | None = None  # None: the config's
    cache_dir: Path | None = None
    result_file: Path | None = None
    source_date_epoch: int | None = None  # None: $SOURCE_DATE_EPOCH, else the build's start
    xz_preset: int = 6
    work_dir: Path | None = None

    def result_path(self) -> Path:
        return self.result_file or (self.output_dir / BUILDER_RESULT_FILE)

    def parallel(self) -> int:
        if self.max_parallel is not None:
            return max(1, self.max_parallel)
        return usable_cores()


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def source_date_epoch(options: BuildOptions) -> int | None:
    """The packages' timestamp when the caller sets one (option, then $SOURCE_DATE_EPOCH), else None.

    None means: derive it from the upstream files (``upstream_epoch``), so that building the
    same release twice, at any time, gives the same bytes.
    """
    if options.source_date_epoch is not None:
        return options.source_date_epoch
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if raw:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(
                f"SOURCE_DATE_EPOCH must be a Unix timestamp, not {raw!r}", field="SOURCE_DATE_EPOCH"
            ) from None
    return None


# The oldest date a zip archive can record: the floor when an asset records no date at all.
UPSTREAM_EPOCH_FLOOR: Final = 315532800  # 1980-01-01T00:00:00Z


def upstream_epoch(asset_path: Path, local_file: Path | None = None) -> int:
    """The newest modification time the release asset records for its files.

    Tar members' mtimes, zip entries' dates (read as UTC) or a gzip header's MTIME: dates that
    travel inside the asset, so they are the same on every machine and every run. An asset that
    records none (a bare binary) takes the mtime of the file in a local assets folder, if it
    came from one, else ``UPSTREAM_EPOCH_FLOOR``.
    """
    newest = 0
    try:
        if tarfile.is_tarfile(asset_path):
            with tarfile.open(asset_path) as tar:
                newest = max((int(m.mtime) for m in tar), default=0)
        elif zipfile.is_zipfile(asset_path):
            with zipfile.ZipFile(asset_path) as zf:
                newest = max((calendar.timegm((*i.date_time, 0, 0, 0)) for i in zf.infolist()), default=0)
        else:
            with open(asset_path, "rb") as fh:
                head = fh.read(8)
            if head[:2] == b"\x1f\x8b":
                newest = int.from_bytes(head[4:8], "little")
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, ValueError):
        newest = 0  # unreadable here: extraction reports it properly
    if newest <= 0 and local_file is not None:
        with contextlib.suppress(OSError):
            newest = int(local_file.stat().st_mtime)
    return max(newest, UPSTREAM_EPOCH_FLOOR)


@dataclass(frozen=True)
class PlannedJob:
    arch: str
    suite: str
    version: str
    filename: str


@dataclass(frozen=True)
class MissingArch:
    """An arch the user asked for that has no usable asset: its jobs fail."""

    arch: str
    reason: str
    category: FailureCategory


@dataclass(frozen=True)
class Plan:
    config: PackageConfig
    tag: str
    upstream_version: str
    build_version: str
    compression: Compression
    source: ReleaseSource
    release: Release
    discovery: Discovery
    specs: tuple[ArchSpec, ...]
    suites: tuple[Suite, ...]
    jobs: tuple[PlannedJob, ...]
    skipped: tuple[SkippedArch, ...]
    missing: tuple[MissingArch, ...]
    failed_jobs: tuple[PlannedJob, ...] = ()  # jobs of ``missing`` arches

    def spec(self, arch: str) -> ArchSpec:
        return next(s for s in self.specs if s.arch == arch)

    def to_json(self) -> dict[str, Any]:
        arches = []
        for spec in self.specs:
            choice = self.discovery.choice(spec.arch)
            jobs = [j for j in self.jobs if j.arch == spec.arch]
            entry: dict[str, Any] = {"arch": spec.arch}
            if choice is not None:
                entry.update(
                    asset=choice.asset,
                    kind=choice.kind.value,
                    libc=choice.libc,
                    manual=choice.manual,
                    reason=choice.reason,
                    alternatives=list(choice.alternatives),
                )
            else:
                missing = next((m for m in self.missing if m.arch == spec.arch), None)
                entry.update(asset=None, reason=missing.reason if missing else "")
            entry["bundle"] = spec.bundle
            entry["jobs"] = [
                {"suite": j.suite, "version": j.version, "package_file": j.filename} for j in jobs
            ]
            arches.append(entry)
        return {
            "schema": RESULT_SCHEMA_VERSION,
            "package": self.config.package_name,
            "tag": self.tag,
            "upstream_version": self.upstream_version,
            "build_version": self.build_version,
            "compression": self.compression,
            "source": self.source.describe(),
            "suites": [s.name for s in self.suites],
            "architectures": arches,
            "matrix": [
                {"arch": j.arch, "suite": j.suite, "version": j.version, "package_file": j.filename}
                for j in self.jobs
            ],
            "skipped": [s.to_document() for s in self.skipped],
            "missing": [{"arch": m.arch, "reason": m.reason, "category": m.category} for m in self.missing],
            "notes": list(self.config.notes),
            "rejected_assets": [
                {"name": r.name, "reason": r.reason, **({"arch": r.arch} if r.arch else {})}
                for r in self.discovery.rejected
            ],
        }


# Set by the action (the workspace root): config-given paths must not leave it.
WORKSPACE_ENV = "MULTIARCH_WORKSPACE"


def _source_for(options: BuildOptions, config: PackageConfig) -> ReleaseSource:
    folder = options.assets_dir or config.resolve_assets_dir(options.tag)
    workspace = os.environ.get(WORKSPACE_ENV, "").strip()
    if folder is not None and not options.assets_dir and workspace:
        # The action checks the paths it is given; one from package.yaml must stay in the
        # workspace as well, or a config could package files from anywhere on the runner.
        root = os.path.realpath(workspace)
        real = os.path.realpath(folder)
        if real != root and not real.startswith(root + os.sep):
            field = "source.assets_dir" if config.line_of("source.assets_dir") else "assets_dir"
            raise ConfigError(
                f"the assets folder resolves to {real}, outside the workspace {root}",
                file=str(config.path),
                line=config.line_of(field),
                field=field,
            )
    if folder is not None:
        return LocalSource(Path(folder), license_spdx=config.license)
    if not config.github_repo:
        raise ConfigError(
            "no assets folder and no github_repo: nowhere to take the release from",
            file=str(config.path),
            field="github_repo",
            remediation=("set github_repo in package.yaml, or pass --assets-dir",),
        )
    return GitHubSource.from_env(config.github_repo)


def _ignored(name: str, patterns: tuple[str, ...]) -> bool:
    return any(glob_match(p, name) for p in patterns)


def _elf_reader(
    options: BuildOptions, source: ReleaseSource, release: Release
) -> Callable[[str], list[ElfInfo]]:
    """The ELF headers of an asset's executables, for names only the binary can settle.

    The asset goes through the download cache, so the build that follows does not fetch it
    again; it is unpacked into a scratch folder that is removed right away.
    """
    cache = DownloadCache(options.cache_dir)

    def read(name: str) -> list[ElfInfo]:
        asset = release.asset(name)
        if asset is None:
            return []
        cached = cache.fetch(source, asset)
        with tempfile.TemporaryDirectory(prefix="multiarch-elf-", dir=options.work_dir) as tmp:
            extraction = extract_asset(cached.path, Path(tmp) / "x", asset_name=name)
            infos = [read_elf(extraction.root / e.path) for e in extraction.files()]
        return [i for i in infos if i is not None and i.is_executable]

    return read


def make_plan(options: BuildOptions, *, source: ReleaseSource | None = None) -> Plan:
    """Resolve the matrix: configuration, release, one asset per arch, suites per arch."""
    config = load_config(options.config)
    versioning.validate_build_version(options.build_version)
    upstream = versioning.upstream_version(options.tag)
    compression = cast(Compression, options.compression or config.compression or "xz")
    if compression not in COMPRESSIONS:
        raise ConfigError(f"unknown compression {compression!r} (use xz, gzip or zstd)", field="compression")
    specs = config.arch_specs(list(options.arches) if options.arches else None, tag=options.tag)
    suites = config.suites(list(options.distributions) if options.distributions else None)
    if not suites:
        raise ConfigError("no suites to build for", file=str(config.path), field="debian_distributions")
    for suite in suites:
        if not suite.supports_compression(compression):
            raise ConfigError(
                f"{compression} packages cannot be read by dpkg {suite.dpkg_version} in {suite.name}: "
                f"{suite.note}",
                field="compression",
                remediation=(f"use xz (the default), or drop {suite.name} from the distributions",),
            )
    source = source or _source_for(options, config)
    release = source.get_release(options.tag)
    names = [a.name for a in release.assets if not _ignored(a.name, config.ignore_assets)]
    manual = {s.arch: cast(str, s.asset or s.release_pattern) for s in specs if not s.auto}
    wanted = [s.arch for s in specs]
    found = discover(
        names,
        wanted,
        manual=manual,
        prefer_libc="musl" if config.prefer_musl else "gnu",
    )
    if any(c.elf_decides for c in found.chosen):
        found = settle_with_elf(found, wanted, _elf_reader(options, source, release))
    explicit = config.architecture_mode != "all" or bool(options.arches)
    jobs: list[PlannedJob] = []
    failed: list[PlannedJob] = []
    skipped: list[SkippedArch] = []
    missing: list[MissingArch] = []
    for spec in specs:
        arch_suites = [s for s in suites if s.supports_arch(spec.arch)]
        for suite in suites:
            if not suite.supports_arch(spec.arch):
                skipped.append(SkippedArch(spec.arch, f"{suite.name} has no {spec.arch} port", suite.name))
        planned = [
            PlannedJob(
                arch=spec.arch,
                suite=suite.name,
                version=(v := config.debian_version(options.tag, options.build_version, suite)),
                filename=versioning.deb_filename(config.package_name, v, spec.arch),
            )
            for suite in arch_suites
        ]
        if found.choice(spec.arch) is not None:
            jobs.extend(planned)
            continue
        reason = found.skip_reason(spec.arch) or f"no release asset for {spec.arch}"
        if explicit and planned:
            # A manual pattern that matches nothing is the configuration's problem; an arch
            # upstream did not publish is a missing dependency of the build.
            category = FailureCategory.DEPENDENCY if spec.auto else FailureCategory.CONFIGURATION
            missing.append(MissingArch(spec.arch, reason, category))
            failed.extend(planned)
        else:
            skipped.append(SkippedArch(spec.arch, reason))
    return Plan(
        config=config,
        tag=options.tag,
        upstream_version=upstream,
        build_version=options.build_version,
        compression=compression,
        source=source,
        release=release,
        discovery=found,
        specs=specs,
        suites=suites,
        jobs=tuple(jobs),
        skipped=tuple(skipped),
        missing=tuple(missing),
        failed_jobs=tuple(failed),
    )


# --------------------------------------------------------------------------- results


def early_failure(error: BaseException) -> EarlyFailure:
    """What the result file says about a failure before any job: the error's own category."""
    if isinstance(error, ConfigError):
        return EarlyFailure(
            category=error.category,
            message=error.detail,
            file=error.file,
            line=error.line,
            field=error.field,
            remediation=tuple(error.remediation),
        )
    if isinstance(error, MultiarchError):
        return EarlyFailure(
            category=error.category,
            message=error.message,
            transient=bool(error.transient),
            remediation=tuple(error.remediation),
        )
    return EarlyFailure(category=FailureCategory.UNKNOWN, message=f"{type(error).__name__}: {error}")


def error_result(options: BuildOptions, error: BaseException, package: str = "") -> BuilderResult:
    """The result file when the build fails before any job (configuration, release lookup)."""
    try:
        upstream = versioning.upstream_version(options.tag)
    except MultiarchError:
        upstream = ""
    return BuilderResult(
        package=package,
        tag=options.tag,
        upstream_version=upstream,
        build_version=options.build_version,
        status=BuildStatus.FAILURE,
        jobs=(),
        skipped=(),
        error=early_failure(error),
    )


def write_result(result: BuilderResult, path: Path) -> None:
    """Atomically: a crash leaves the previous file or the new one, never half of one."""
    # ASCII-only JSON, as the file has always been written (readers need not know its encoding).
    atomic_write_json(Path(path), result.to_document(), ensure_ascii=True)


# --------------------------------------------------------------------------- stage events


@contextmanager
def _step(name: str, *, report_failure: bool = True) -> Iterator[None]:
    """A telemetry stage around a block; the failure event carries the error's category."""
    events.stage_start(name)
    try:
        yield
    except MultiarchError as exc:
        events.stage_complete(name, StageStatus.FAILURE, exc.message[:500])
        if report_failure:
            events.failure(
                name,
                exc.message,
                type(exc).__name__,
                category=exc.category,
                transient=exc.transient,
                remediation=tuple(exc.remediation),
            )
        raise
    except BaseException as exc:
        _report_unexpected(
            name,
            exc,
            failure_event=report_failure and not isinstance(exc, CancelledError | KeyboardInterrupt),
        )
        raise
    else:
        events.stage_complete(name, StageStatus.SUCCESS)


def _report_unexpected(name: str, exc: BaseException, *, failure_event: bool = True) -> None:
    """Close the stage of an error no code raised on purpose (a bug, an interruption)."""
    detail = f"{type(exc).__name__}: {exc}"
    events.stage_complete(name, StageStatus.FAILURE, detail[:500])
    if failure_event:
        events.failure(name, detail, type(exc).__name__, category=FailureCategory.UNKNOWN)


# --------------------------------------------------------------------------- the build


@dataclass(frozen=True)
class ArchPayload:
    arch: str
    asset: str
    choice: ArchChoice
    verification: Verification
    payload: StagedPayload
    root: Path
    date: int  # SOURCE_DATE_EPOCH of this arch's packages


class Cancelled(Exception):
    """The build was asked to stop (SIGINT/SIGTERM)."""


class LintianRefused(PackagingError):
    """``--lintian strict`` and lintian found errors: the job fails, its findings still reported."""

    def __init__(self, message: str, result: LintianResult) -> None:
        super().__init__(
            message,
            remediation=(
                "fix the package (package.yaml), or record a justified override in lintian_overrides",
            ),
        )
        self.result = result


@dataclass
class _Runner:
    options: BuildOptions
    plan: Plan
    cancel: threading.Event
    date: int | None  # None: each arch's from its upstream files (upstream_epoch)
    work: Path
    compressor: BlockCompressor
    checksums: ChecksumIndex
    cache: DownloadCache
    license: str | None
    output: Path
    remaining: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled(RunStatus.CANCELLED)

    # -- once per arch

    def configured_checksum_files(self, arch: str, asset_name: str) -> tuple[str, ...]:
        """package.yaml's ``checksums.files`` with the placeholders filled for this asset."""
        config = self.plan.config
        return tuple(
            expand(template, tag=self.plan.tag, arch=arch, package_name=config.package_name, asset=asset_name)
            for template in config.checksums.files
        )

    def prepare(self, arch: str) -> ArchPayload:
        self.check_cancel()
        choice = self.plan.discovery.choice(arch)
        assert choice is not None
        name = choice.asset
        asset = self.plan.release.asset(name)
        if asset is None:
            raise PackagingError(f"release {self.plan.tag} has no asset {name!r}")
        configured = self.configured_checksum_files(arch, name)
        with _step(f"download_{arch}"):
            expected = self.checksums.expected(name, configured)
            sha256 = next((d for d in expected if d.algorithm == "sha256"), None)
            cached = self.cache.fetch(
                self.plan.source,
                asset,
                expected_sha256=sha256.hexdigest if sha256 else None,
                # A mismatch then names the checksum file (or pin) the digest came from.
                expected_from=sha256.source if sha256 else None,
            )
        self.check_cancel()
        with _step(f"verify_{arch}"):
            verification = self.checksums.verify(name, cached.path, configured)
            if self.plan.config.checksums.required and not verification.verified:
                raise SecurityError(
                    f"{name}: no checksum covers this asset, and package.yaml requires one",
                    remediation=("check that the release publishes checksums for every asset",),
                )
        self.check_cancel()
        date = self.date
        if date is None:
            local = Path(asset.download_ref) if isinstance(self.plan.source, LocalSource) else None
            date = upstream_epoch(cached.path, local)
        with _step(f"extract_{arch}"):
            root = self.work / arch
            extraction = extract_asset(cached.path, root, asset_name=name)
            payload = stage_payload(
                extraction,
                self.plan.spec(arch),
                package=self.plan.config.package_name,
                arch=get_arch(arch),
                asset=name,
            )
        # The big files are the same for every suite: start compressing them now, before any
        # job of this arch gets a slot.
        self.compressor.prefetch(payload.entries, self.plan.compression)
        return ArchPayload(arch, name, choice, verification, payload, root, date)

    # -- once per job

    def meta(self, job: PlannedJob, payload: StagedPayload, date: int) -> PackageMeta:
        cfg = self.plan.config
        repo_url = ""
        if cfg.github_repo:
            repo_url = f"https://github.com/{cfg.github_repo}"
        return PackageMeta(
            package=cfg.package_name,
            version=job.version,
            upstream_version=self.plan.upstream_version,
            architecture=job.arch,
            suite=job.suite,
            maintainer=cfg.maintainer,
            synopsis=cfg.synopsis,
            extended_description=cfg.extended_description,
            section=cfg.section,
            priority=cfg.priority,
            homepage=cfg.homepage,
            relations=merge_relations(
                [("Depends", ", ".join(shlib_depends(payload.elf_infos())))],
                cfg.relation_fields().items(),
            ),
            license=self.license,
            upstream_name=cfg.github_repo.split("/")[-1] if cfg.github_repo else cfg.package_name,
            source_url=repo_url or (cfg.homepage or ""),
            date=date,
        )

    def package(self, job: PlannedJob, prep: ArchPayload) -> WrittenDeb:
        payload = prep.payload
        meta = self.meta(job, payload, prep.date)
        package = meta.package
        entries: list[DataEntry] = [*payload.entries, *doc_entries(meta)]
        bundle_dir = f"usr/lib/{package}" if self.plan.spec(job.arch).bundle else None
        overrides = override_entry(
            package, payload.binaries, self.plan.config.lintian_overrides, bundle_dir=bundle_dir
        )
        if overrides is not None:
            entries.append(overrides)
        documented = {m.rsplit(".", 1)[0] for m in payload.manpages}
        for command in payload.commands:
            if command not in documented:
                entries.append(
                    DataEntry.blob(f"usr/share/man/man1/{command}.1.gz", manpage_gz(command, meta))
                )
        tree = complete_tree(entries)
        control = control_bytes(meta, installed_size_kib(tree))
        md5sums = md5sums_bytes(tree, payload.md5_map())
        target = self.output / job.filename
        written = write_deb(
            target,
            [DataEntry.blob("control", control), DataEntry.blob("md5sums", md5sums)],
            entries,
            compression=self.plan.compression,
            mtime=prep.date,
            compressor=self.compressor,
        )
        return written

    def run_job(self, job: PlannedJob, prep_future: Future[ArchPayload]) -> JobResult:
        start = time.monotonic()
        stage = f"architecture_{job.arch}_{job.suite}"
        events.stage_start(stage)
        try:
            return self.build_job(job, prep_future, stage, start)
        except (Cancelled, CancelledError):
            events.stage_complete(stage, StageStatus.FAILURE, RunStatus.CANCELLED)
            return _cancelled_job(job, duration=time.monotonic() - start)
        except MultiarchError as exc:
            events.stage_complete(stage, StageStatus.FAILURE, exc.message[:500])
            failed = _failed_job(
                job,
                exc.message,
                exc.category,
                duration=time.monotonic() - start,
                transient=exc.transient,
                remediation=tuple(exc.remediation),
            )
            if isinstance(exc, LintianRefused):
                failed = dataclasses.replace(failed, lintian=exc.result.counts)
            return failed
        except Exception as exc:  # a bug: report it as such, and keep the other jobs going
            _report_unexpected(stage, exc)
            detail = "".join(traceback.format_exception_only(exc)).strip()
            return _failed_job(
                job, f"internal error: {detail}", FailureCategory.UNKNOWN, duration=time.monotonic() - start
            )
        finally:
            self.job_done(job.arch)

    def build_job(
        self, job: PlannedJob, prep_future: Future[ArchPayload], stage: str, start: float
    ) -> JobResult:
        """The job's package (and lintian's verdict on it); errors are ``run_job``'s to report."""
        self.check_cancel()
        prep = prep_future.result()
        self.check_cancel()
        with _step(f"package_{job.arch}_{job.suite}"):
            written = self.package(job, prep)
        path = written.path
        lint: LintianResult | None = None
        if self.options.lintian or self.options.lintian_strict:
            self.check_cancel()
            with _step(f"lintian_{job.arch}_{job.suite}"):
                lint = run_lintian(path)
                why = strict_failure(lint) if self.options.lintian_strict else None
                if why is not None:
                    # A failed job leaves no package: nothing may publish one strict mode refused.
                    path.unlink(missing_ok=True)
                    raise LintianRefused(why, lint)
        events.stage_complete(stage, StageStatus.SUCCESS, str(path))
        # Size and digest were taken while writing: no second read of the package.
        return JobResult(
            arch=job.arch,
            suite=job.suite,
            status=JobStatus.SUCCESS,
            version=job.version,
            package_path=str(path.resolve()),
            size=written.size,
            sha256=written.sha256,
            lintian=lint.counts if lint is not None else None,
            duration_seconds=time.monotonic() - start,
        )

    def job_done(self, arch: str) -> None:
        with self.lock:
            self.remaining[arch] -= 1
            last = self.remaining[arch] == 0
        if last:
            # Free the arch's compressed blocks and extracted files once its last job is done.
            # Chunk keys start with the source's absolute path (DataEntry.file).
            self.compressor.forget(os.path.join(os.path.abspath(self.work / arch), ""))
            shutil.rmtree(self.work / arch, ignore_errors=True)


def _failed_job(
    job: PlannedJob,
    reason: str,
    category: FailureCategory | None,
    *,
    duration: float = 0.0,
    transient: bool = False,
    remediation: tuple[str, ...] = (),
) -> JobResult:
    """A job that left no package, and why (no category for a cancelled one)."""
    return JobResult(
        arch=job.arch,
        suite=job.suite,
        status=JobStatus.FAILURE,
        version=job.version,
        reason=reason,
        failure_category=category,
        duration_seconds=duration,
        transient=transient,
        remediation=remediation,
    )


def _cancelled_job(job: PlannedJob, duration: float = 0.0) -> JobResult:
    return _failed_job(job, _CANCELLED_REASON, None, duration=duration)


def _missing_results(plan: Plan) -> list[JobResult]:
    """The failed jobs of arches the user asked for that have no asset, each reported as a failure."""
    out = []
    for job in plan.failed_jobs:
        why = next(m for m in plan.missing if m.arch == job.arch)
        result = _failed_job(
            job,
            why.reason,
            why.category,
            remediation=("check the release's asset names, or map this arch to an asset in package.yaml",),
        )
        events.failure(
            f"architecture_{result.arch}_{result.suite}",
            result.reason,
            "MissingAsset",
            category=result.failure_category,
            remediation=result.remediation,
        )
        out.append(result)
    return out


def _output_dir(options: BuildOptions) -> Path:
    output = Path(options.output_dir)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        # A file in the way or a folder we may not create: the setting is wrong, not the code.
        raise ConfigError(
            f"cannot use {output} as the output folder: {exc.strerror or exc}", field="output-dir"
        ) from None
    return output


def _checksum_index(options: BuildOptions, plan: Plan) -> ChecksumIndex:
    pin = PinnedMetadata.load(options.pinned_metadata) if options.pinned_metadata else None
    return ChecksumIndex(
        plan.release,
        plan.source.read_bytes,
        pin=pin,
        hashes_order_name=_expand_release_name(plan, plan.config.checksums.hashes_order),
    )


def _run_jobs(runner: _Runner, parallel: int, on_job: Callable[[JobResult], None] | None) -> list[JobResult]:
    """Prepare every arch and build every job, until all are done or the build is cancelled.

    Jobs still pending at a cancellation are reported as cancelled failures.
    """
    plan, cancel = runner.plan, runner.cancel
    arches = list(dict.fromkeys(j.arch for j in plan.jobs))
    runner.remaining = {a: sum(1 for j in plan.jobs if j.arch == a) for a in arches}
    prep_pool = ThreadPoolExecutor(
        max_workers=max(1, min(parallel, len(arches) or 1)), thread_name_prefix="prep"
    )
    job_pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="job")
    results: list[JobResult] = []
    try:
        preps = {a: prep_pool.submit(runner.prepare, a) for a in arches}
        futures = {job_pool.submit(runner.run_job, job, preps[job.arch]): job for job in plan.jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                result = fut.result()
                results.append(result)
                if on_job is not None:
                    on_job(result)
            if cancel.is_set():
                break
        if cancel.is_set():
            for fut, job in futures.items():
                if fut in pending:
                    fut.cancel()
                    results.append(_cancelled_job(job))
    finally:
        stop_now = cancel.is_set()
        job_pool.shutdown(wait=not stop_now, cancel_futures=True)
        prep_pool.shutdown(wait=not stop_now, cancel_futures=True)
        runner.compressor.close(cancel=stop_now)
        # On cancellation a worker may still be finishing a block; it only reads from here.
        shutil.rmtree(runner.work, ignore_errors=True)
    return results


def build_packages(
    options: BuildOptions,
    *,
    cancel: threading.Event | None = None,
    source: ReleaseSource | None = None,
    plan: Plan | None = None,
    on_job: Callable[[JobResult], None] | None = None,
) -> BuilderResult:
    """Build every planned job; never raises for a job's failure (it is in the result)."""
    cancel = cancel or threading.Event()
    if plan is None:
        with _step("plan"):
            plan = make_plan(options, source=source)
    date = source_date_epoch(options)
    output = _output_dir(options)
    checksums = _checksum_index(options, plan)
    missing = _missing_results(plan)
    parallel = options.parallel()
    runner = _Runner(
        options=options,
        plan=plan,
        cancel=cancel,
        date=date,
        work=Path(tempfile.mkdtemp(prefix="multiarch-", dir=options.work_dir)),
        compressor=BlockCompressor(threads=min(parallel, usable_cores()), xz_preset=options.xz_preset),
        checksums=checksums,
        cache=DownloadCache(options.cache_dir),
        license=plan.config.license or plan.release.license_spdx,
        output=output,
    )
    results = [*missing, *_run_jobs(runner, parallel, on_job)]
    order = {(j.arch, j.suite): i for i, j in enumerate((*plan.jobs, *plan.failed_jobs))}
    results.sort(key=lambda r: order.get((r.arch, r.suite), len(order)))
    jobs = tuple(results)
    return BuilderResult(
        package=plan.config.package_name,
        tag=plan.tag,
        upstream_version=plan.upstream_version,
        build_version=plan.build_version,
        status=status_of(jobs),
        jobs=jobs,
        skipped=plan.skipped,
        error=None,
        cancelled=cancel.is_set(),
    )


def _expand_release_name(plan: Plan, template: str | None) -> str | None:
    """A release-wide asset name from package.yaml (``checksums.hashes_order``).

    It names one asset for the whole release, so only the release's placeholders apply; an
    ``{arch}`` left in it matches no asset and the conventional ``<file>_hashes_order`` is used.
    """
    if template is None:
        return None
    return (
        template.replace("{version}", tag_version(plan.tag))
        .replace("{tag}", plan.tag)
        .replace("{package_name}", plan.config.package_name)
    )
