"""The guide's telemetry functions as a Python API; the CLI (``python -m telemetry``) calls these.

Three modes, decided per call from the environment (no module state):

- disabled: ``TELEMETRY_ENABLED=false`` (also ``0``/``no``/``off``): every call
  returns at once and touches nothing.
- session: inside a monitored build (``TELEMETRY_EVENTS_FILE`` is set by
  ``telemetry.session``): stage and failure calls become events on the
  channel; the session measures and finalizes, so ``init``/``finalize`` do
  nothing here.
- standalone: no session (a shell build script using the CLI directly): state
  is kept under ``$TELEMETRY_DIR`` (default ``.telemetry``): ``session.json``
  (what ``init`` saw), ``events.jsonl`` (the same event lines a session
  reads) and ``memory-samples.log`` (one sample per call). ``finalize`` turns
  them into a ``RunData`` and hands it to the same reporters as a session.

What standalone mode can measure without samplers, and how each figure is labelled:
duration (wall clock from ``init``); memory sampled at every call over the
caller's process tree, every page counted once (summed PSS: ``tree_unique``;
RSS summed is kept as ``tree_rss_sum``), and the largest descendant's max RSS
from ``RUSAGE_CHILDREN`` of the calling process (``largest_process_rusage``: only
when the Python API runs in the build's own process, and only above that
process's own high-water mark, which its children inherit when forked); CPU
time of the caller including its waited-for children (from ``/proc``: a shell
counts the commands it ran); disk I/O of the caller including waited-for children;
free space before and after. Network: 0 bytes on interface ``unknown``
(per-interface counters are system-wide; without a session they cannot be
attributed to the build).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from contracts.fileio import atomic_write_json
from contracts.vocabulary import (
    BASELINE_FILE,
    CLI_STATE_FILE,
    CPU_SAMPLES_FILE,
    DEFAULT_REGRESSION_THRESHOLD_PERCENT,
    DEFAULT_TELEMETRY_DIR,
    DISK_SAMPLES_FILE,
    ENV_REGRESSION_THRESHOLD,
    ENV_SAVE_BASELINE,
    ENV_TELEMETRY_DIR,
    ENV_TELEMETRY_ENABLED,
    EVENTS_FILE,
    FAILURE_REPORT_FILE,
    MEMORY_SAMPLES_FILE,
    METRICS_FILE,
    NETWORK_SAMPLES_FILE,
    EventType,
    MemorySource,
    RunStatus,
    parse_bool,
)
from telemetry import events as channel
from telemetry.proctree import parse_rollup

if TYPE_CHECKING:
    from telemetry.baseline import Comparison
    from telemetry.metrics_doc import JsonObject, MetricsDocument
    from telemetry.model import CpuResult, DiskResult, MemoryResult, RunData
    from telemetry.publish_files import TelemetryReport
    from telemetry.stages import StageTracker

_MB: Final = 1024 * 1024
# Per-interface counters are system-wide: without a session they cannot be attributed to the
# build, so a standalone run names no interface.
_NO_INTERFACE: Final = "unknown"
_DISK_SOURCE: Final = "process_io"
# An earlier run's files that init removes: a monitored run's sample logs and a failure report.
_STALE_FILES: Final = (
    EVENTS_FILE,
    MEMORY_SAMPLES_FILE,
    NETWORK_SAMPLES_FILE,
    CPU_SAMPLES_FILE,
    DISK_SAMPLES_FILE,
    FAILURE_REPORT_FILE,
)


class TelemetryStateError(RuntimeError):
    """A standalone call needs a file that is missing or unreadable (e.g. summary before finalize)."""


@dataclass(frozen=True)
class TelemetryConfig:
    enabled: bool
    directory: Path
    save_baseline: bool
    threshold: float
    events_path: str | None  # the enclosing session's channel, if any

    @property
    def mode(self) -> str:
        if not self.enabled:
            return "disabled"
        return "session" if self.events_path else "standalone"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, directory: str | None = None
    ) -> TelemetryConfig:
        env = os.environ if environ is None else environ
        threshold_text = env.get(ENV_REGRESSION_THRESHOLD, "").strip()
        try:
            threshold = float(threshold_text) if threshold_text else DEFAULT_REGRESSION_THRESHOLD_PERCENT
        except ValueError:
            threshold = DEFAULT_REGRESSION_THRESHOLD_PERCENT
        return cls(
            enabled=_flag(env.get(ENV_TELEMETRY_ENABLED), default=True),
            directory=Path(directory or env.get(ENV_TELEMETRY_DIR, "").strip() or DEFAULT_TELEMETRY_DIR),
            save_baseline=_flag(env.get(ENV_SAVE_BASELINE), default=False),
            threshold=threshold,
            events_path=channel.channel_path(env),
        )


def _flag(value: str | None, *, default: bool) -> bool:
    parsed = parse_bool(value or "")
    return default if parsed is None else parsed


def _config(config: TelemetryConfig | None) -> TelemetryConfig:
    return config if config is not None else TelemetryConfig.from_env()


# --------------------------------------------------------------------------- caller figures


@dataclass(frozen=True)
class _CallerFigures:
    tree_unique_mb: float
    tree_rss_mb: float
    tree_hwm_mb: float
    processes: int
    cpu_seconds: float  # caller's user+system including waited-for children
    cpu_user: float
    cpu_system: float
    read_bytes: int
    write_bytes: int
    rusage_children_mb: float
    system_used_mb: float
    system_cpu_busy: float
    system_cpu_total: float
    errors: tuple[str, ...]


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _measure(caller_pid: int) -> _CallerFigures:
    """One look at the caller's process tree (ourselves excluded when we are the CLI)."""
    import psutil  # a standalone call's cost; disabled mode never gets here

    errors: list[str] = []
    own = os.getpid()
    rss = hwm = unique = 0
    count = 0
    cpu_user = cpu_system = 0.0
    read_bytes = write_bytes = 0
    try:
        caller = psutil.Process(caller_pid)
        tree = [caller, *caller.children(recursive=True)]
    except psutil.Error as exc:
        errors.append(f"process tree: {exc!r}")
        tree = []
    for proc in tree:
        if proc.pid == own and caller_pid != own:
            continue
        rss += _status_kb(proc.pid, "VmRSS:")
        hwm += _status_kb(proc.pid, "VmHWM:")
        try:
            with open(f"/proc/{proc.pid}/smaps_rollup", "rb") as handle:
                unique += parse_rollup(handle.read()).pss // 1024
        except (OSError, ValueError, IndexError):
            pass  # gone, or not ours to read: it counts nothing
        count += 1
    if tree:
        try:
            times = tree[0].cpu_times()
            cpu_user = times.user + times.children_user
            cpu_system = times.system + times.children_system
        except psutil.Error as exc:
            errors.append(f"cpu: {exc!r}")
        try:
            # /proc/PID/io includes the counters of waited-for children.
            io = tree[0].io_counters()
            read_bytes, write_bytes = int(io.read_bytes), int(io.write_bytes)
        except (psutil.Error, AttributeError) as exc:
            errors.append(f"disk io: {exc!r}")
    vm = psutil.virtual_memory()
    sys_times = psutil.cpu_times()
    idle = sys_times.idle + getattr(sys_times, "iowait", 0.0)
    total = sum(sys_times)
    own_hwm = _status_kb(caller_pid, "VmHWM:") / 1024
    children_maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return _CallerFigures(
        tree_unique_mb=unique / 1024,
        tree_rss_mb=rss / 1024,
        tree_hwm_mb=hwm / 1024,
        processes=count,
        cpu_seconds=cpu_user + cpu_system,
        cpu_user=cpu_user,
        cpu_system=cpu_system,
        read_bytes=read_bytes,
        write_bytes=write_bytes,
        # ru_maxrss is in KiB on Linux.
        rusage_children_mb=children_maxrss if children_maxrss > own_hwm else 0.0,
        system_used_mb=(vm.total - vm.available) / _MB,
        system_cpu_busy=total - idle,
        system_cpu_total=total,
        errors=tuple(errors),
    )


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _append_line(path: Path, record: Mapping[str, object]) -> None:
    # One write on an O_APPEND descriptor: concurrent CLI calls never interleave.
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _sample(directory: Path, caller_pid: int, event: str) -> None:
    figures = _measure(caller_pid)
    _append_line(
        directory / MEMORY_SAMPLES_FILE,
        {
            "timestamp": round(time.time(), 3),
            "memory_mb": round(figures.tree_unique_mb, 1),
            "tree_rss_mb": round(figures.tree_rss_mb, 1),
            "tree_hwm_mb": round(figures.tree_hwm_mb, 1),
            "rusage_children_mb": round(figures.rusage_children_mb, 1),
            "system_used_mb": round(figures.system_used_mb, 1),
            "processes": figures.processes,
            "cpu_seconds": round(figures.cpu_seconds, 3),
            # The CLI is itself a child of the script: once reaped, its own CPU shows
            # up in the script's children times. Recorded so finalize can take it out.
            "cli_cpu_seconds": round(_own_cpu(), 3) if caller_pid != os.getpid() else 0.0,
            "source": f"api_call:{event}",
        },
    )


# --------------------------------------------------------------------------- the guide's functions


def init_telemetry(config: TelemetryConfig | None = None, *, caller_pid: int | None = None) -> Path | None:
    """Start a standalone run in the telemetry directory; returns it (None when disabled or in a session).

    Clears the previous run's state (events, samples, reports) but keeps ``baseline.json``.
    """
    cfg = _config(config)
    if cfg.mode != "standalone":
        return None
    pid = caller_pid if caller_pid is not None else os.getpid()
    directory = cfg.directory
    directory.mkdir(parents=True, exist_ok=True)
    # Sample logs of an earlier monitored run would otherwise sit beside this run's files.
    for stale in _STALE_FILES:
        (directory / stale).unlink(missing_ok=True)
    figures = _measure(pid)
    workdir = os.getcwd()
    state = {
        "schema_version": 1,
        "start_time": time.time(),
        "caller_pid": pid,
        "cpu_user": figures.cpu_user,
        "cpu_system": figures.cpu_system,
        "read_bytes": figures.read_bytes,
        "write_bytes": figures.write_bytes,
        "system_cpu_busy": figures.system_cpu_busy,
        "system_cpu_total": figures.system_cpu_total,
        "disk_path": workdir,
        "free_before_bytes": shutil.disk_usage(workdir).free,
    }
    atomic_write_json(directory / CLI_STATE_FILE, state)
    _sample(directory, pid, "init")
    return directory


def _standalone_dir(cfg: TelemetryConfig, caller_pid: int) -> Path:
    """The directory of the current standalone run, started on first use if ``init`` was skipped."""
    if not (cfg.directory / CLI_STATE_FILE).exists():
        init_telemetry(cfg, caller_pid=caller_pid)
    return cfg.directory


def _emit(cfg: TelemetryConfig, event: dict[str, object], caller_pid: int | None, label: str) -> bool:
    if cfg.mode == "disabled":
        return False
    if cfg.mode == "session":
        return channel.emit(event, cfg.events_path)
    pid = caller_pid if caller_pid is not None else os.getpid()
    directory = _standalone_dir(cfg, pid)
    event.setdefault("time", time.time())
    event.setdefault("pid", pid)
    ok = channel.emit(event, str(directory / EVENTS_FILE))
    with contextlib.suppress(OSError):  # a missed sample must never fail the build
        _sample(directory, pid, label)
    return ok


def _record(
    config: TelemetryConfig | None, caller_pid: int | None, kind: EventType, label: str, **fields: object
) -> bool:
    """One event of ``kind`` (its fields in order after ``type``); the sample is labelled ``kind:label``."""
    event: dict[str, object] = {"type": kind, **fields}
    return _emit(_config(config), event, caller_pid, f"{kind}:{label}")


def record_build_stage(
    name: str, config: TelemetryConfig | None = None, *, caller_pid: int | None = None
) -> bool:
    """Stage start; True when it was recorded."""
    return _record(config, caller_pid, EventType.STAGE_START, name, name=name)


def record_build_stage_complete(
    name: str,
    status: str,
    message: str = "",
    config: TelemetryConfig | None = None,
    *,
    caller_pid: int | None = None,
) -> bool:
    channel.check_stage_status(status)
    return _record(
        config, caller_pid, EventType.STAGE_COMPLETE, name, name=name, status=status, message=message
    )


def record_build_failure(
    stage: str,
    reason: str,
    code: str = "",
    config: TelemetryConfig | None = None,
    *,
    category: str | None = None,
    transient: bool | None = None,
    remediation: Iterable[str] = (),
    caller_pid: int | None = None,
) -> bool:
    if category is not None and category not in channel.CATEGORIES:
        raise ValueError(f"unknown failure category {category!r}; one of {', '.join(channel.CATEGORIES)}")
    fields = {"stage": stage, "reason": reason, "code": code, "category": category, "transient": transient}
    return _record(config, caller_pid, EventType.FAILURE, stage, **fields, remediation=list(remediation))


def record_counter(
    name: str, value: float = 1, config: TelemetryConfig | None = None, *, caller_pid: int | None = None
) -> bool:
    return _record(config, caller_pid, EventType.COUNTER, name, name=name, value=value)


def finalize_telemetry(
    config: TelemetryConfig | None = None,
    *,
    packages_built: int = 0,
    packages_failed: int = 0,
    exit_code: int | None = None,
    threshold: float | None = None,
    save_baseline: bool | None = None,
    caller_pid: int | None = None,
) -> TelemetryReport | None:
    """Write metrics.json and the other files for a standalone run (None when disabled or in a session)."""
    cfg = _config(config)
    if cfg.mode != "standalone":
        return None
    from telemetry.publish_files import write_all

    pid = caller_pid if caller_pid is not None else os.getpid()
    directory = _standalone_dir(cfg, pid)
    with contextlib.suppress(OSError):
        _sample(directory, pid, "finalize")
    run = standalone_run_data(directory, caller_pid=pid, exit_code=exit_code)
    return write_all(
        run,
        telemetry_dir=directory,
        packages_built=packages_built,
        packages_failed=packages_failed,
        threshold=cfg.threshold if threshold is None else threshold,
        save_baseline=cfg.save_baseline if save_baseline is None else save_baseline,
    )


def _read_metrics(cfg: TelemetryConfig) -> MetricsDocument:
    from telemetry.metrics_doc import MetricsDocument, MetricsFormatError

    path = cfg.directory / METRICS_FILE
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TelemetryStateError(f"{path} does not exist: run finalize first") from exc
    except (OSError, ValueError) as exc:
        raise TelemetryStateError(f"{path}: {exc}") from exc
    try:
        return MetricsDocument.from_json(loaded)
    except MetricsFormatError as exc:
        raise TelemetryStateError(f"{path}: not a metrics.json document") from exc


def get_telemetry_summary(config: TelemetryConfig | None = None) -> JsonObject | None:
    """The ``telemetry`` block of build-summary.json for the last finalized run (None when disabled)."""
    cfg = _config(config)
    if not cfg.enabled:
        return None
    from telemetry.reporters.summary_block import build_summary_block

    return build_summary_block(_read_metrics(cfg), telemetry_dir=str(cfg.directory)).to_json()


def save_as_baseline(config: TelemetryConfig | None = None, *, force: bool = False) -> Path | None:
    """Save the last finalized run's metrics as baseline.json (only a successful run unless ``force``)."""
    cfg = _config(config)
    if not cfg.enabled:
        return None
    from telemetry import baseline

    document = _read_metrics(cfg)
    status = document.build_metrics.status
    if status != RunStatus.SUCCESS and not force:
        raise TelemetryStateError(f"the last run's status is {status}; only successful runs become baselines")
    path = cfg.directory / BASELINE_FILE
    baseline.save_baseline(path, document, document.build_session.end_time)
    return path


def check_performance_regressions(
    config: TelemetryConfig | None = None, *, threshold: float | None = None
) -> Comparison | None:
    """Compare the last finalized run with baseline.json (None when disabled)."""
    cfg = _config(config)
    if not cfg.enabled:
        return None
    from telemetry import baseline

    current = baseline.baseline_from_document(_read_metrics(cfg))
    loaded = baseline.load_baseline(cfg.directory / BASELINE_FILE)
    thresholds = baseline.Thresholds(cfg.threshold if threshold is None else threshold)
    return baseline.compare(
        current.duration_seconds, current.peak_memory_mb, loaded.baseline, thresholds, loaded.problem
    )


# --------------------------------------------------------------------------- standalone RunData

Record = Mapping[str, object]


def _read_json_lines(path: Path) -> list[Record]:
    records: list[Record] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return records
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue  # a torn last line after a crash
        if isinstance(value, dict):
            records.append(value)
    return records


def _num(record: Record, key: str) -> float:
    value = record.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _read_state(directory: Path) -> Record:
    """What ``init`` saw (empty when it never ran or its file is unreadable)."""
    try:
        loaded = json.loads((directory / CLI_STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


@dataclass(frozen=True)
class _Replay:
    """Stages, failures and counters from the events, with the samples taken while each stage ran."""

    tracker: StageTracker
    build_cpu: tuple[float, ...]  # the build's CPU seconds at each sample
    reaped_cli: float  # CPU seconds of the CLI calls reaped by the caller, all samples included


def _replay(
    state: Record, samples: list[Record], events: list[dict[str, object]], start: float, end: float
) -> _Replay:
    from telemetry.stages import StageTracker

    # Replay samples and events in time order so each stage sees the samples taken while it ran.
    tracker = StageTracker(start)
    cpu_start = _num(state, "cpu_user") + _num(state, "cpu_system")
    # Build CPU at each sample: the caller's cumulative CPU minus the CLI calls reaped before it.
    build_cpu: list[float] = []
    reaped_cli = 0.0
    for s in samples:
        build_cpu.append(max(0.0, _num(s, "cpu_seconds") - cpu_start - reaped_cli))
        reaped_cli += _num(s, "cli_cpu_seconds")
    timeline: list[tuple[float, int, int, Record]] = [
        (_num(s, "timestamp"), 0, i, s) for i, s in enumerate(samples)
    ]
    timeline += [(_num(e, "time"), 1, 0, e) for e in events]
    for when, kind, index, record in sorted(timeline, key=lambda item: (item[0], item[1], item[2])):
        if kind == 0:
            tracker.tick(when, build_cpu[index], max(_num(record, "memory_mb"), 0.0))
        else:
            tracker.feed([record])
    tracker.close(end)
    return _Replay(tracker, tuple(build_cpu), reaped_cli)


def _memory_result(samples: list[Record], figures: _CallerFigures) -> MemoryResult:
    from telemetry.model import MemoryResult, MemorySample, PeakFigure

    candidates = [
        PeakFigure(MemorySource.TREE_UNIQUE, max((_num(s, "memory_mb") for s in samples), default=0.0)),
        PeakFigure(
            MemorySource.LARGEST_PROCESS_RUSAGE,
            max([figures.rusage_children_mb, *(_num(s, "rusage_children_mb") for s in samples)]),
        ),
    ]
    headline = max(
        (f for f in candidates if f.value_mb > 0),
        key=lambda f: f.value_mb,
        default=PeakFigure(MemorySource.NONE, 0.0),
    )
    rss_sum = PeakFigure(
        MemorySource.TREE_RSS_SUM, max((_num(s, "tree_rss_mb") for s in samples), default=0.0)
    )
    return MemoryResult(
        peak_mb=headline.value_mb,
        peak_source=headline.source,
        figures=tuple(f for f in (*candidates, rss_sum) if f.value_mb > 0),
        system_used_peak_mb=max((_num(s, "system_used_mb") for s in samples), default=0.0),
        samples=tuple(
            MemorySample(
                _num(s, "timestamp"), _num(s, "memory_mb"), _num(s, "system_used_mb"), _num(s, "tree_rss_mb")
            )
            for s in samples
        ),
    )


def _cpu_result(
    state: Record,
    samples: list[Record],
    replay: _Replay,
    figures: _CallerFigures,
    duration: float,
    caller_pid: int,
) -> CpuResult:
    from telemetry.model import CpuResult, CpuSample

    # Split the CLI's share between user and system in proportion: os.times() per
    # call is not kept split, and the share is small next to a real build.
    cpu_user = max(0.0, figures.cpu_user - _num(state, "cpu_user"))
    cpu_system = max(0.0, figures.cpu_system - _num(state, "cpu_system"))
    raw_total = cpu_user + cpu_system
    if raw_total > 0 and caller_pid != os.getpid():
        # Every call but this finalize (sampled last, not yet reaped) is in the totals.
        reaped = replay.reaped_cli - (_num(samples[-1], "cli_cpu_seconds") if samples else 0.0)
        kept = min(raw_total, max(0.0, raw_total - reaped))
        cpu_user, cpu_system = cpu_user * kept / raw_total, cpu_system * kept / raw_total
    build_cpu = replay.build_cpu
    cpu_samples: list[CpuSample] = []
    for i in range(1, len(samples)):
        span = _num(samples[i], "timestamp") - _num(samples[i - 1], "timestamp")
        if span > 0:
            used = build_cpu[i] - build_cpu[i - 1]
            cpu_samples.append(CpuSample(_num(samples[i], "timestamp"), max(0.0, 100.0 * used / span), 0.0))
    busy = figures.system_cpu_busy - _num(state, "system_cpu_busy")
    total = figures.system_cpu_total - _num(state, "system_cpu_total")
    return CpuResult(
        user_seconds=cpu_user,
        system_seconds=cpu_system,
        average_percent=100.0 * (cpu_user + cpu_system) / duration if duration > 0 else 0.0,
        peak_percent=max((c.tree_percent for c in cpu_samples), default=0.0),
        system_average_percent=100.0 * busy / total if total > 0 else 0.0,
        samples=tuple(cpu_samples),
    )


def _disk_result(state: Record, figures: _CallerFigures, errors: list[str]) -> DiskResult:
    from telemetry.model import DiskResult

    disk_path = str(state.get("disk_path") or os.getcwd())
    try:
        free_after = shutil.disk_usage(disk_path).free
    except OSError as exc:
        errors.append(f"disk: {exc!r}")
        free_after = 0
    return DiskResult(
        read_bytes=max(0, figures.read_bytes - int(_num(state, "read_bytes"))),
        write_bytes=max(0, figures.write_bytes - int(_num(state, "write_bytes"))),
        path=disk_path,
        free_before_bytes=int(_num(state, "free_before_bytes")),
        free_after_bytes=free_after,
        source=_DISK_SOURCE,
        samples=(),
    )


def standalone_run_data(directory: Path, *, caller_pid: int, exit_code: int | None = None) -> RunData:
    """Build the RunData of a standalone run from the state files (see the module docstring)."""
    from telemetry.model import NetworkResult, ProcessOutcome, RunData
    from telemetry.samplers.network import with_builder_downloads
    from telemetry.samplers.system import collect_system_info
    from telemetry.stages import read_events_file

    state = _read_state(directory)
    end = time.time()
    start = _num(state, "start_time") or end
    samples = sorted(_read_json_lines(directory / MEMORY_SAMPLES_FILE), key=lambda r: _num(r, "timestamp"))
    events = read_events_file(str(directory / EVENTS_FILE))
    start = min([start, *(_num(e, "time") for e in events if _num(e, "time") > 0)])
    replay = _replay(state, samples, events, start, end)

    figures = _measure(caller_pid)
    errors = list(figures.errors)
    duration = max(0.0, end - start)
    disk = _disk_result(state, figures, errors)
    counters = replay.tracker.counters()
    return RunData(
        start_time=start,
        end_time=end,
        duration_seconds=duration,
        system=collect_system_info(disk.path),
        memory=_memory_result(samples, figures),
        cpu=_cpu_result(state, samples, replay, figures, duration, caller_pid),
        network=with_builder_downloads(NetworkResult(0, 0, _NO_INTERFACE, {}, 0, ()), counters),
        disk=disk,
        stages=replay.tracker.stages(),
        failures=replay.tracker.failures(),
        outcome=ProcessOutcome(exit_code=exit_code, signal=None, cancelled=False, oom_killed=False),
        counters=counters,
        sampler_errors=tuple(errors),
    )
