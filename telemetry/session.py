"""Run a build as a monitored subprocess and produce ``RunData``.

How a run goes:

1. The telemetry dir is created, the event channel (``events.jsonl``) and the
   sample logs are truncated; ``TELEMETRY_EVENTS_FILE`` and ``TELEMETRY_DIR``
   are put in the build's environment.
2. When permitted, a dedicated memory cgroup is created for the build (resident
   memory and interval peaks, OOM counter, a member list for killing stragglers); otherwise our own
   cgroup is only read. The session becomes a child subreaper
   (``PR_SET_CHILD_SUBREAPER``) so orphans of the build are re-parented to it,
   stay visible to the tree walk, and are reaped with their ``rusage``.
3. The build runs in a new session and process group (``setsid``), stdin from
   /dev/null, stdout+stderr merged through a pipe: forwarded live to our stdout
   and the last lines kept for failure analysis. An argv runs without a shell;
   a shell command runs like a GitHub ``run:`` step, ``bash --noprofile --norc
   -eo pipefail -c CMD`` (``sh -e -c`` when bash is missing).
4. A background thread walks the tree every ``sample_interval`` seconds, feeds
   every sampler, appends one JSON line per sample to ``<name>-samples.log``,
   and feeds the stage tracker from the event channel.
5. SIGINT/SIGTERM received by the session are forwarded to the build's process
   group; after ``kill_grace_seconds`` (or at a second signal) the whole tree —
   group, cgroup members and walked descendants, including processes that left
   the group — gets SIGKILL. The run then finalizes with ``cancelled=True``.
6. At the end: one last tick, samplers finish with the exact ``os.wait4``
   rusage, leftovers of the build are stopped, and ``RunData`` is returned.

Telemetry never fails the build: a broken sampler is logged in
``sampler_errors`` and skipped; if the telemetry dir cannot be created the build
runs unmonitored. With ``enabled=False`` nothing but the command runs: no dir,
no threads, output inherited.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

from contracts.vocabulary import (
    DEFAULT_TELEMETRY_DIR,
    ENV_EVENTS_FILE,
    ENV_TELEMETRY_DIR,
    EVENTS_FILE,
    MemoryLayout,
)
from telemetry.cgroup import CgroupView, DedicatedCgroup
from telemetry.model import MemoryResult, ProcessOutcome, RunData, SystemInfo
from telemetry.proctree import ProcessTree, TreeSnapshot, adopted_zombies, session_side_pids
from telemetry.samplers.interface import FinalFacts, SamplerSetup, SamplingContext
from telemetry.samplers.memory import MemorySampler, own_status_bytes
from telemetry.samplers.registry import SamplerResults, SamplerSet, run_data_fields
from telemetry.samplers.system import collect_system_info
from telemetry.stages import EventTail, StageTracker

_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
# A sampler that fails this many ticks in a row is skipped for the rest of the run.
_MAX_CONSECUTIVE_ERRORS = 3
_MAX_LINE_CHARS = 4000
_QUICK_POLL_BUDGET = 0.005  # of one core
_QUICK_POLL_IDLE = 0.2  # seconds between quick polls while no build process is young


@dataclass(frozen=True)
class SessionOptions:
    telemetry_dir: Path = Path(DEFAULT_TELEMETRY_DIR)
    sample_interval: float = 1.0
    enabled: bool = True
    output_path: str | None = None  # where the build writes (free space); default: cwd
    env: Mapping[str, str] = field(default_factory=dict)  # extra variables for the build
    cwd: str | None = None
    kill_grace_seconds: float = 5.0  # after SIGINT/SIGTERM, before SIGKILL of the tree
    use_cgroup: bool = True  # create a dedicated memory cgroup when permitted
    read_cgroup: bool = True  # False: use no cgroup at all, not even our own (as where none is usable)
    memory_limit_mb: float | None = None  # only with a dedicated cgroup (tests, constrained builds)
    subreaper: bool = True
    kill_leftovers: bool = True  # stop processes the build left running when it exits
    output_tail_lines: int = 200
    echo_output: bool = True
    quick_poll_interval: float = 0.05  # young processes between ticks; 0 = off (adapts to its budget)
    series_capacity: int = 720  # samples kept in RAM per sampler (downsampled beyond)


class _SampleLog:
    """Append-only JSON lines, one ``write`` per line: valid up to the last line after a crash."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o644)

    def write(self, record: Mapping[str, object]) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=True, default=str) + "\n"
        os.write(self._fd, line.encode())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


class _OutputPump(threading.Thread):
    """Forwards the build's output live and keeps its last lines."""

    def __init__(self, fd: int, sink: BinaryIO | None, tail_lines: int) -> None:
        super().__init__(name="telemetry-output", daemon=True)
        self._fd = fd
        self._sink = sink
        self._tail: deque[str] = deque(maxlen=max(1, tail_lines))
        self._partial = b""

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except InterruptedError:
                continue
            except OSError:
                break
            if not chunk:
                break
            if self._sink is not None:
                try:
                    self._sink.write(chunk)
                    self._sink.flush()
                except (OSError, ValueError):
                    self._sink = None  # our stdout went away; keep draining the pipe
            self._keep(chunk)
        if self._partial:
            self._add_line(self._partial)
            self._partial = b""
        # The pump owns the read end: closing it from another thread while a read is
        # blocked could hand the descriptor number to an unrelated file.
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def _keep(self, chunk: bytes) -> None:
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > _MAX_LINE_CHARS * 4:
            self._partial = self._partial[-_MAX_LINE_CHARS:]
        for line in lines:
            self._add_line(line)

    def _add_line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if "\r" in text:  # progress bars: keep what the terminal would show last
            text = text.rsplit("\r", 1)[-1]
        self._tail.append(text[:_MAX_LINE_CHARS])

    def tail(self) -> tuple[str, ...]:
        return tuple(self._tail)


def _libc_prctl() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl: Callable[..., int] = libc.prctl
        return prctl
    except (OSError, AttributeError):
        return None


def _set_subreaper(enable: bool) -> bool | None:
    """Sets the flag; returns the previous value (None when unsupported)."""
    prctl = _libc_prctl()
    if prctl is None:
        return None
    previous = ctypes.c_int(0)
    if prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(previous), 0, 0, 0) != 0:
        return None
    if prctl(_PR_SET_CHILD_SUBREAPER, 1 if enable else 0, 0, 0, 0) != 0:
        return None
    return bool(previous.value)


def memory_layout(dedicated: bool, cgroup: CgroupView | None) -> tuple[MemoryLayout, int]:
    """Which source can give the build's resident memory, and the session side's share of it.

    A dedicated cgroup holds only the build. A cgroup that holds nothing but this
    process and its ancestors (a Docker action's container: the entrypoint is the
    session) holds the build plus what is already resident now, which is subtracted.
    Any other process in it (a runner service's cgroup) makes its figures the
    machine's, not the build's: the tree's own estimate is used instead.
    """
    if cgroup is None:
        return MemoryLayout.NONE, 0
    stat = cgroup.memory_stat()
    if stat is None:
        return MemoryLayout.SHARED, 0
    if dedicated:
        return MemoryLayout.DEDICATED, 0
    pids = cgroup.pids()
    if pids is not None and set(pids) <= session_side_pids(os.getpid()):
        return MemoryLayout.CONTAINER, stat[0] + stat[1]
    return MemoryLayout.SHARED, 0


def _shim(command: list[str], procs_file: str | None, *, report_pid: bool = False) -> list[str]:
    """``command`` behind a tiny ``sh`` that first joins the build's cgroup (so nothing the
    build forks can start outside it) and, with ``report_pid``, writes its pid to its stdin
    (a pipe's write end) before the build gets /dev/null there; argv passes through untouched."""
    if procs_file is None and not report_pid:
        return command
    script = ""
    if procs_file is not None:
        script += '{ echo $$ > "$0"; } 2>/dev/null; '
    if report_pid:
        script += "echo $$ >&0; exec 0</dev/null; "
    return ["/bin/sh", "-c", script + 'exec "$@"', procs_file or "sh", *command]


_SETSID_FORKS: bool | None = None


def _setsid_forks() -> bool:
    """Whether ``setsid -f`` (util-linux) is here: it forks, and its parent exits at once."""
    global _SETSID_FORKS
    if _SETSID_FORKS is None:
        setsid = shutil.which("setsid")
        try:
            done = subprocess.run(
                [setsid or "setsid", "-f", "true"], capture_output=True, timeout=5, check=False
            )
            _SETSID_FORKS = setsid is not None and done.returncode == 0
        except (OSError, subprocess.SubprocessError):
            _SETSID_FORKS = False
    return _SETSID_FORKS


def _own_hwm_bytes() -> int:
    """This process's VmHWM (0 when /proc cannot tell)."""
    return own_status_bytes("VmHWM")


def _vmstat_oom_kills() -> int | None:
    try:
        with open("/proc/vmstat", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def shell_argv(command: str) -> list[str]:
    """How a shell command runs: like a GitHub Actions ``run:`` step."""
    bash = shutil.which("bash")
    if bash is not None:
        return [bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", command]
    return ["/bin/sh", "-e", "-c", command]


def _resolve(program: str, env: Mapping[str, str], cwd: str | None) -> str | None:
    """Why the program cannot start, or None (checked before spawning: the cgroup shim exec's it)."""
    if "/" in program:
        path = program if os.path.isabs(program) or cwd is None else os.path.join(cwd, program)
        if not os.path.exists(path):
            return f"{program}: No such file or directory"
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            return f"{program}: Permission denied"
        return None
    if shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        return f"{program}: command not found"
    return None


def _restore_subreaper(previous: bool | None) -> None:
    """Clear the subreaper flag again if we set it (None: we did not touch it)."""
    if previous is not None and not previous:
        _set_subreaper(False)


def _empty_system(output_path: str) -> SystemInfo:
    try:
        return collect_system_info(output_path)
    except OSError:
        return SystemInfo(os.uname().nodename, os.uname().sysname, os.cpu_count() or 1, 0.0, 0.0)


@dataclass(frozen=True)
class _Run:
    """What set-up made for one monitored run; torn down when it ends."""

    env: Mapping[str, str]  # the build's environment
    cgroup: CgroupView | None  # the cgroup read (the dedicated one, else our own)
    dedicated: DedicatedCgroup | None  # the build's own cgroup, when one could be made
    previous_subreaper: bool | None  # the flag before we set it (None: not set)
    oom_before: int | None  # the cgroup's OOM kills before the build
    vmstat_oom_before: int | None  # the machine's OOM kills before the build
    system: SystemInfo
    samplers: SamplerSet
    logs: Mapping[str, _SampleLog]  # by sampler name
    tree: ProcessTree
    tracker: StageTracker
    tail: EventTail
    monitor: _Monitor


@dataclass
class _Build:
    """What is known of the build process as it runs (filled in as it goes)."""

    outcome: ProcessOutcome | None = None
    rusage: resource.struct_rusage | None = None  # os.wait4 of the build root
    spawner_hwm: int = 0  # our VmHWM when the build was forked (see FinalFacts)
    output_tail: tuple[str, ...] = ()
    root_pid: int | None = None  # spawned and not yet reaped


class Session:
    """One monitored build run. Not reusable across threads; ``run`` may be called again."""

    def __init__(self, options: SessionOptions | None = None, *, output: BinaryIO | None = None) -> None:
        self.options = options or SessionOptions()
        self._output = output
        self._cancel_signal: int | None = None
        self._kill_deadline: float | None = None
        self._pgid: int | None = None
        self._errors: list[str] = []

    # ---- public ---------------------------------------------------------------------------

    def run(self, argv: Sequence[str] | None = None, shell_command: str | None = None) -> RunData:
        if (argv is None) == (shell_command is None):
            raise ValueError("give exactly one of argv or shell_command")
        command = list(argv) if argv is not None else shell_argv(shell_command or "")
        if not command:
            raise ValueError("argv must not be empty")
        self._cancel_signal = None
        self._kill_deadline = None
        self._errors = []
        if not self.options.enabled:
            return self._run_plain(command)
        try:
            telemetry_dir = self.options.telemetry_dir.resolve()
            telemetry_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._errors.append(f"session: cannot create telemetry dir: {exc}")
            return self._run_plain(command)
        return self._run_monitored(command, telemetry_dir)

    # ---- disabled mode --------------------------------------------------------------------

    def _run_plain(self, command: list[str]) -> RunData:
        start = time.time()
        env = {**os.environ, **self.options.env}
        output_path = self.options.output_path or self.options.cwd or os.getcwd()
        outcome: ProcessOutcome
        with self._signals():
            problem = _resolve(command[0], env, self.options.cwd)
            if problem is not None:
                outcome = self._spawn_failed(problem)
            else:
                try:
                    pid = self._spawn(command, env, stdout=None)
                except OSError as exc:
                    outcome = self._spawn_failed(str(exc))
                else:
                    status, _ = self._wait_root(pid, None, None)
                    outcome = self._outcome(status, (), oom=False)
        end = time.time()
        system = _empty_system(output_path)
        return RunData(
            start_time=start,
            end_time=end,
            duration_seconds=round(end - start, 3),
            system=system,
            **run_data_fields(SamplerResults.empty(), {}),
            stages=(),
            failures=(),
            outcome=outcome,
            sampler_errors=tuple(self._errors),
        )

    # ---- monitored mode -------------------------------------------------------------------

    def _run_monitored(self, command: list[str], telemetry_dir: Path) -> RunData:
        start = time.time()
        start_mono = time.monotonic()
        run = self._set_up(telemetry_dir, start)
        build = _Build()
        outcome = self._execute(command, run, build)
        return self._finish(run, build, outcome, start, start_mono)

    def _open_channel(self, telemetry_dir: Path) -> Path:
        """Truncate the event channel (a failure is noted; the build still runs)."""
        events_path = telemetry_dir / EVENTS_FILE
        try:
            events_path.write_bytes(b"")
        except OSError as exc:
            self._errors.append(f"session: cannot create {events_path}: {exc}")
        return events_path

    def _make_cgroup(self) -> tuple[CgroupView | None, DedicatedCgroup | None]:
        """(the cgroup to read, the build's own cgroup when one could be made)."""
        opts = self.options
        dedicated: DedicatedCgroup | None = None
        if opts.use_cgroup and opts.read_cgroup:
            limit = None if opts.memory_limit_mb is None else int(opts.memory_limit_mb * 1024 * 1024)
            dedicated = DedicatedCgroup.create(
                f"telemetry-{os.getpid()}-{time.time_ns()}", memory_limit_bytes=limit
            )
        if dedicated is not None:
            return dedicated, dedicated
        if opts.read_cgroup:
            return CgroupView.current(), None
        return None, None

    def _set_up(self, telemetry_dir: Path, start: float) -> _Run:
        """Everything the build runs under: channel, environment, cgroup, subreaper, samplers."""
        opts = self.options
        events_path = self._open_channel(telemetry_dir)
        env = {
            **os.environ,
            **opts.env,
            ENV_EVENTS_FILE: str(events_path),
            ENV_TELEMETRY_DIR: str(telemetry_dir),
        }
        output_path = os.path.abspath(opts.output_path or opts.cwd or os.getcwd())
        cgroup, dedicated = self._make_cgroup()
        previous_subreaper: bool | None = None
        try:  # nothing may leave the build's cgroup behind, whatever fails before the build starts
            oom_before = cgroup.oom_kills() if cgroup is not None else None
            vmstat_oom_before = _vmstat_oom_kills()
            previous_subreaper = _set_subreaper(True) if opts.subreaper else None
            system = self._system_info(output_path, cgroup, dedicated)
            layout, session_side = memory_layout(dedicated is not None, cgroup)
            setup = SamplerSetup(opts.series_capacity, layout, session_side)
            samplers = SamplerSet.create(setup)
            context = SamplingContext(
                start_time=start, interval=opts.sample_interval, output_path=output_path
            )
            logs = self._start_samplers(samplers, context, telemetry_dir)
            tree = ProcessTree(
                cgroup=cgroup,
                unique=layout in (MemoryLayout.SHARED, MemoryLayout.NONE),
                interval=opts.sample_interval,
            )
            tracker = StageTracker(start)
            tail = EventTail(str(events_path))
            monitor = _Monitor(
                tree, samplers, logs, tracker, tail, opts.sample_interval, opts.quick_poll_interval
            )
        except BaseException:
            if dedicated is not None:
                dedicated.remove()
            _restore_subreaper(previous_subreaper)
            raise
        return _Run(
            env=env,
            cgroup=cgroup,
            dedicated=dedicated,
            previous_subreaper=previous_subreaper,
            oom_before=oom_before,
            vmstat_oom_before=vmstat_oom_before,
            system=system,
            samplers=samplers,
            logs=logs,
            tree=tree,
            tracker=tracker,
            tail=tail,
            monitor=monitor,
        )

    def _system_info(
        self, output_path: str, cgroup: CgroupView | None, dedicated: DedicatedCgroup | None
    ) -> SystemInfo:
        # The build may use at most the smallest limit on its way up: ours (a container's)
        # and the dedicated cgroup's, if one was set.
        own = cgroup if dedicated is None or not self.options.read_cgroup else CgroupView.current()
        limits = [v.limit_bytes() for v in (own, dedicated) if v is not None]
        known = [limit for limit in limits if limit is not None]
        try:
            return collect_system_info(output_path, min(known) if known else None)
        except OSError:
            return _empty_system(output_path)

    def _start_samplers(
        self, samplers: SamplerSet, context: SamplingContext, telemetry_dir: Path
    ) -> dict[str, _SampleLog]:
        """Start each sampler and open its sample log; a failure is noted, never fatal."""
        logs: dict[str, _SampleLog] = {}
        for sampler in samplers:
            try:
                sampler.start(context)
            except Exception as exc:
                self._errors.append(f"{sampler.name}: {type(exc).__name__}: {exc}")
            try:
                logs[sampler.name] = _SampleLog(telemetry_dir / sampler.log_file)
            except OSError as exc:
                self._errors.append(f"{sampler.name}: cannot open sample log: {exc}")
        return logs

    def _execute(self, command: list[str], run: _Run, build: _Build) -> ProcessOutcome:
        """Run the build to its end under our signal handlers; never leave it running."""
        try:
            with self._signals():
                self._start_build(command, run, build)
        except BaseException as exc:  # our own failure: never leave the build running
            self._errors.append(f"session: {type(exc).__name__}: {exc}")
            self._abandon(run, build)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            if build.outcome is None:
                build.outcome = ProcessOutcome(
                    None, None, False, False, build.output_tail, f"telemetry session error: {exc}"
                )
        finally:
            run.monitor.stop()
            _restore_subreaper(run.previous_subreaper)
        if build.outcome is None:  # every path above sets it or raises
            raise AssertionError("the build ended without an outcome")
        return build.outcome

    def _start_build(self, command: list[str], run: _Run, build: _Build) -> None:
        """Spawn the build with its output through a pipe, then follow it to its end."""
        problem = _resolve(command[0], run.env, self.options.cwd)
        if problem is not None:
            build.outcome = self._spawn_failed(problem)
            return
        procs_file = run.dedicated.procs_file if run.dedicated is not None else None
        read_fd, write_fd = os.pipe()
        build.spawner_hwm = _own_hwm_bytes()
        try:
            try:
                if run.previous_subreaper is not None and _setsid_forks():
                    pid = self._spawn_detached(command, run.env, write_fd, procs_file)
                    build.spawner_hwm = 0  # forked by a fresh, tiny process: nothing inherited
                else:
                    pid = self._spawn(_shim(command, procs_file), run.env, stdout=write_fd)
            except OSError as exc:
                os.close(read_fd)
                build.outcome = self._spawn_failed(str(exc))
                return
            build.root_pid = pid
            os.close(write_fd)
            write_fd = -1
            self._follow_build(pid, read_fd, run, build)
        finally:
            if write_fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(write_fd)

    def _follow_build(self, pid: int, read_fd: int, run: _Run, build: _Build) -> None:
        """Sample the running build, reap it, stop what it left running, judge its end."""
        sink = self._sink() if self.options.echo_output else None
        pump = _OutputPump(read_fd, sink, self.options.output_tail_lines)
        pump.start()
        with run.monitor.lock:
            run.tree.set_root(pid)
        run.monitor.start()
        status, build.rusage = self._wait_root(pid, run.tree, run.monitor, run.dedicated)
        build.root_pid = None
        with run.monitor.lock:
            run.tree.account_reaped(pid, build.rusage)
        self._stop_leftovers(run.tree, run.monitor, run.dedicated)
        run.monitor.stop()
        # Processes left running with the pipe open (kill_leftovers=False)
        # keep the pump reading; the tail so far is what we report.
        pump.join(timeout=2.0)
        build.output_tail = pump.tail()
        oom = self._oom_detected(status, run.cgroup, run.oom_before, run.vmstat_oom_before)
        build.outcome = self._outcome(status, build.output_tail, oom=oom)

    def _abandon(self, run: _Run, build: _Build) -> None:
        """After our own failure: kill the build if it is still ours, and stop sampling."""
        if build.root_pid is not None:
            self._pgid = build.root_pid
            self._kill_tree(run.tree, run.monitor, run.dedicated)
            self._pgid = None
            with contextlib.suppress(OSError):
                os.wait4(build.root_pid, 0)
        run.monitor.stop()

    def _finish(
        self, run: _Run, build: _Build, outcome: ProcessOutcome, start: float, start_mono: float
    ) -> RunData:
        """The last tick, every sampler's result, the teardown, and the run's ``RunData``."""
        # Final tick after the build is gone: picks up the reaped rusage and the last events.
        end = time.time()
        run.monitor.final_tick()
        run.tree.close()
        run.tracker.feed(run.tail.read_rest())
        run.tracker.close(end)
        facts = FinalFacts(
            end_time=end,
            build_rusage=build.rusage,
            adopted_rusage=tuple(run.monitor.adopted),
            spawner_rss_bytes=build.spawner_hwm,
        )
        results = run.samplers.finish(facts, self._errors)
        # The memory sampler's peak alone can tell an OOM kill that no counter recorded.
        if self._near_memory_limit(outcome, results.get(MemorySampler), run.system):
            outcome = replace(outcome, oom_killed=True)
        self._tear_down(run)
        return RunData(
            start_time=start,
            end_time=end,
            duration_seconds=round(time.monotonic() - start_mono, 3),
            system=run.system,
            **run_data_fields(results, run.tracker.counters()),
            stages=run.tracker.stages(),
            failures=run.tracker.failures(),
            outcome=outcome,
            counters=run.tracker.counters(),
            sampler_errors=tuple(self._errors + run.monitor.errors()),
            telemetry_cpu_seconds=round(run.monitor.cpu_seconds, 4),
        )

    def _tear_down(self, run: _Run) -> None:
        """Close the sample logs, remove the build's cgroup, note what went wrong."""
        for log in run.logs.values():
            log.close()
        stop_all = self.options.kill_leftovers or self._cancel_signal is not None
        if run.dedicated is not None and not run.dedicated.remove(kill=stop_all):
            self._errors.append("session: could not remove the build's cgroup (processes left)")
        if run.cgroup is not None:
            run.cgroup.close()
        if run.tail.malformed:
            self._errors.append(f"stages: {run.tail.malformed} malformed event line(s) skipped")

    # ---- helpers --------------------------------------------------------------------------

    def _sink(self) -> BinaryIO | None:
        if self._output is not None:
            return self._output
        try:
            sys.stdout.flush()
            return sys.stdout.buffer
        except (AttributeError, ValueError, OSError):
            return None

    def _spawn(self, command: list[str], env: Mapping[str, str], stdout: int | None) -> int:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not None else None,
            env=dict(env),
            cwd=self.options.cwd,
            start_new_session=True,  # own session and process group: we signal it as a whole
            close_fds=True,
        )
        # The pid is managed with os.wait4 from here on (Popen does not expose rusage);
        # mark the Popen as finished so it never tries to reap the pid itself.
        proc.returncode = 0
        self._pgid = proc.pid
        if self._cancel_signal is not None:
            # Cancelled after our handlers went in but before the build existed: it must hear
            # the signal too, now, rather than be killed when the grace period runs out.
            with contextlib.suppress(OSError):
                os.killpg(self._pgid, self._cancel_signal)
        return proc.pid

    def _spawn_detached(
        self, command: list[str], env: Mapping[str, str], stdout: int, procs_file: str | None
    ) -> int:
        """Start the build as the child of a fresh ``setsid -f``, which exits at once.

        Why: a fork copies its parent's memory descriptor with its high-water mark, and
        ``execve`` keeps it in ``ru_maxrss``, so a build forked from the session "had"
        the session's peak memory. ``setsid`` is a new small image; the build it forks
        inherits only that, and is re-parented to the session (a child subreaper), which
        reaps it with an rusage that is the build's own. The build leads its own session
        and process group, as with a direct spawn.
        """
        report_r, report_w = os.pipe()
        try:
            intermediate = subprocess.Popen(
                ["setsid", "-f", *_shim(command, procs_file, report_pid=True)],
                stdin=report_w,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=self.options.cwd,
                start_new_session=True,
                close_fds=True,
            )
            os.close(report_w)
            report_w = -1
            intermediate.wait()
            data = b""
            while True:
                chunk = os.read(report_r, 64)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(report_r)
            if report_w >= 0:
                os.close(report_w)
        try:
            pid = int(data.strip())
        except ValueError:
            raise OSError(f"the build did not start (setsid exited with {intermediate.returncode})") from None
        self._pgid = pid
        if self._cancel_signal is not None:
            with contextlib.suppress(OSError):
                os.killpg(pid, self._cancel_signal)
        return pid

    def _spawn_failed(self, message: str) -> ProcessOutcome:
        code = 126 if "Permission denied" in message else 127
        return ProcessOutcome(code, None, False, False, (message,), message)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self._cancel_signal is None:
            self._cancel_signal = signum
            self._kill_deadline = now + self.options.kill_grace_seconds
        else:
            self._kill_deadline = now  # a second signal: stop waiting
        if self._pgid is not None:
            with contextlib.suppress(OSError):
                os.killpg(self._pgid, signum)

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        installed: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    installed[sig] = signal.signal(sig, self._on_signal)
                except (ValueError, OSError):
                    continue
        try:
            yield
        finally:
            for signum, handler in installed.items():
                with contextlib.suppress(ValueError, OSError):
                    signal.signal(signum, handler)
            self._pgid = None

    def _wait_root(
        self,
        pid: int,
        tree: ProcessTree | None,
        monitor: _Monitor | None,
        dedicated: DedicatedCgroup | None = None,
    ) -> tuple[int, resource.struct_rusage]:
        """Wait for the build root, enforcing the kill deadline; returns (status, rusage)."""
        pidfd: int | None = None
        with contextlib.suppress(OSError, AttributeError):
            pidfd = os.pidfd_open(pid)
        poller = select.poll()
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        try:
            while True:
                # Exited, but not reaped yet: one more tick reads its final I/O counts (a
                # zombie's /proc/PID/io includes everything it reaped), then reap it.
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    if monitor is not None:
                        monitor.exit_tick()
                    _, status, usage = os.wait4(pid, 0)
                    return status, usage
                if self._kill_deadline is not None and time.monotonic() >= self._kill_deadline:
                    self._kill_tree(tree, monitor, dedicated)
                if pidfd is not None:
                    poller.poll(100)
                else:
                    time.sleep(0.05)
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _kill_tree(
        self, tree: ProcessTree | None, monitor: _Monitor | None, dedicated: DedicatedCgroup | None
    ) -> None:
        if self._pgid is not None:
            with contextlib.suppress(OSError):
                os.killpg(self._pgid, signal.SIGKILL)
        if dedicated is not None:
            dedicated.kill_all(signal.SIGKILL)
        if tree is not None and monitor is not None:
            for pid in monitor.fresh_members():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def _stop_leftovers(
        self, tree: ProcessTree, monitor: _Monitor, dedicated: DedicatedCgroup | None
    ) -> None:
        """After the root exited: stop what it left running (if asked), reap adopted orphans."""
        members = monitor.fresh_members()
        if members and (self.options.kill_leftovers or self._cancel_signal is not None):
            sig = signal.SIGKILL if self._cancel_signal is not None else signal.SIGTERM
            for pid in members:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + min(1.0, self.options.kill_grace_seconds)
            while time.monotonic() < deadline:
                self._reap(tree, monitor)
                if not monitor.fresh_members(live_only=True):
                    break
                time.sleep(0.05)
            for pid in monitor.fresh_members(live_only=True):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if dedicated is not None:
                dedicated.kill_all(signal.SIGKILL)
            time.sleep(0.02)
        self._reap(tree, monitor)

    def _reap(self, tree: ProcessTree, monitor: _Monitor) -> None:
        with monitor.lock:
            candidates = adopted_zombies(tree.member_pids(), os.getpid(), tree.root)
        for pid in candidates:
            monitor.reap(pid)

    def _oom_detected(
        self, status: int, cgroup: CgroupView | None, before: int | None, vmstat_before: int | None
    ) -> bool:
        if cgroup is not None and before is not None:
            after = cgroup.oom_kills()
            if after is not None and after > before:
                return True
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        if killed and self._cancel_signal is None and vmstat_before is not None:
            after_vm = _vmstat_oom_kills()
            return after_vm is not None and after_vm > vmstat_before
        return False

    def _near_memory_limit(self, outcome: ProcessOutcome, memory: MemoryResult, system: SystemInfo) -> bool:
        """Without an OOM counter (no cgroup, no /proc/vmstat): a SIGKILL we did not send,
        after the tree's peak came within 5 % of the memory it could use, was the OOM killer."""
        if outcome.oom_killed or outcome.cancelled or outcome.signal != signal.SIGKILL:
            return False
        limit = system.memory_total_mb  # already the cgroup limit when that is lower
        return limit > 0 and memory.peak_mb >= 0.95 * limit

    def _outcome(self, status: int, tail: tuple[str, ...], *, oom: bool) -> ProcessOutcome:
        cancelled = self._cancel_signal is not None
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            return ProcessOutcome(None, sig, cancelled, oom, tail)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1
        # A shell reports a killed child as 128+N; keep the exit code, note the signal.
        sig_from_code = code - 128 if 128 < code < 128 + 65 else None
        signal_seen = self._cancel_signal if cancelled else (sig_from_code if oom else None)
        return ProcessOutcome(code, signal_seen, cancelled, oom, tail)


class _Monitor:
    """The sampling thread: one tree walk per tick feeding every sampler and the stage tracker."""

    def __init__(
        self,
        tree: ProcessTree,
        samplers: SamplerSet,
        logs: Mapping[str, _SampleLog],
        tracker: StageTracker,
        tail: EventTail,
        interval: float,
        quick_interval: float,
    ) -> None:
        self.lock = threading.Lock()
        self._tick_lock = threading.Lock()
        self._tree = tree
        self._samplers = samplers
        self._logs = logs
        # The stage tracker reads the memory sampler's spike-aware interval peak after each tick.
        self._memory = samplers.get(MemorySampler)
        self._tracker = tracker
        self._tail = tail
        self._interval = max(0.01, interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures: dict[str, int] = {}
        self._disabled: set[str] = set()
        self._errors: list[str] = []
        self._quick_interval = max(0.0, quick_interval)
        self._thread_begin: float | None = None
        self.adopted: list[resource.struct_rusage] = []  # orphans reaped as subreaper
        self.cpu_seconds = 0.0  # CPU time the sampling cost (thread time), for the overhead figure

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="telemetry-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10.0)
        self._thread = None

    def errors(self) -> list[str]:
        return list(self._errors)

    def fresh_members(self, *, live_only: bool = False) -> list[int]:
        """Members after a new walk (not fed to samplers: it does not count as a tick).

        Used when killing: if the sampling thread is stuck in a /proc read (a process
        in uninterruptible sleep), the members known so far are returned instead.
        """
        if not self.lock.acquire(timeout=1.0):
            try:
                return self._tree.member_pids()
            except RuntimeError:  # changed size while the other thread walks
                return []
        try:
            snapshot = self._tree.walk(read_cgroup=False)
        except Exception:
            return self._tree.member_pids()
        finally:
            self.lock.release()
        return [p.pid for p in snapshot.processes if not live_only or p.state != "Z"]

    def _loop(self) -> None:
        begin = self._thread_begin = time.thread_time()
        base = min(self._quick_interval, self._interval / 2)
        # Two brakes on quick polls: they may use _QUICK_POLL_BUDGET of one core (the
        # floor pace doubles or halves per interval to stay in it), and while no process
        # is young the pace relaxes towards _QUICK_POLL_IDLE (newcomers reset it).
        budget = _QUICK_POLL_BUDGET * self._interval
        floor = base
        pace = base
        try:
            next_tick = time.monotonic()
            while not self._stop.is_set():
                self.tick()
                next_tick = max(next_tick + self._interval, time.monotonic() + self._interval / 2)
                spent = 0.0
                while base > 0:
                    pause = min(pace, next_tick - time.monotonic())
                    if pause <= 0 or self._stop.wait(pause) or time.monotonic() >= next_tick:
                        break
                    started = time.thread_time()
                    busy = True
                    try:
                        with self.lock:
                            busy = self._tree.quick_poll()
                    except Exception as exc:
                        self._note("proctree-quick", exc)
                    spent += time.thread_time() - started
                    idle_cap = max(floor, min(_QUICK_POLL_IDLE, self._interval / 2))
                    pace = floor if busy else min(pace * 2, idle_cap)
                if base > 0:
                    if spent > budget:
                        floor = min(floor * 2, self._interval / 2)
                    elif spent < budget / 2:
                        floor = max(floor / 2, base)
                    pace = max(pace, floor)
                self._stop.wait(max(0.0, next_tick - time.monotonic()))
        finally:
            self.cpu_seconds += time.thread_time() - begin

    def final_tick(self) -> None:
        begin = time.thread_time()
        self.tick()
        self.cpu_seconds += time.thread_time() - begin

    def exit_tick(self) -> None:
        """A tick from the waiting thread when the build root has exited (still a zombie)."""
        if self._thread is None:
            return  # sampling never started or already stopped: the final tick follows
        self.final_tick()

    def tick(self) -> None:
        with self._tick_lock:  # the sampling thread and the waiting thread may both tick
            self._tick()

    def _tick(self) -> None:
        try:
            with self.lock:
                snapshot: TreeSnapshot = self._tree.walk()
        except Exception as exc:
            self._note("proctree", exc)
            return
        self._reap_adopted(snapshot)
        now = snapshot.wall_time
        for sampler in self._samplers:
            if sampler.name in self._disabled:
                continue
            try:
                record = sampler.sample(snapshot, now)
            except Exception as exc:
                self._note(sampler.name, exc)
                continue
            self._failures[sampler.name] = 0
            in_thread = threading.current_thread() is self._thread
            if (
                record is not None
                and sampler.carries_telemetry_cost
                and self._thread_begin is not None
                and in_thread
            ):
                # What telemetry itself has cost so far (sampling thread CPU time).
                spent = time.thread_time() - self._thread_begin
                record = {**record, "telemetry_cpu_seconds": round(spent, 4)}
            log = self._logs.get(sampler.name)
            if record is not None and log is not None:
                try:
                    log.write(record)
                except OSError as exc:
                    self._note(sampler.name + "-log", exc)
        try:
            self._tracker.tick(now, snapshot.cpu_seconds, self._memory.last_interval_peak_mb)
            self._tracker.feed(self._tail.read_new())
        except Exception as exc:
            self._note("stages", exc)

    def _reap_adopted(self, snapshot: TreeSnapshot) -> None:
        """Orphans of the build re-parented to us (subreaper) are ours to reap, with their
        rusage; the build root is reaped by the main thread."""
        me = os.getpid()
        for proc in snapshot.processes:
            if proc.state != "Z" or proc.ppid != me or proc.pid == self._tree.root:
                continue
            self.reap(proc.pid)

    def reap(self, pid: int) -> None:
        with contextlib.suppress(ChildProcessError, OSError):
            done, _, usage = os.wait4(pid, os.WNOHANG)
            if done == pid:
                self.adopted.append(usage)
                with self.lock:
                    self._tree.account_reaped(pid, usage)

    def _note(self, name: str, exc: Exception) -> None:
        message = f"{name}: {type(exc).__name__}: {exc}"
        if message not in self._errors:
            self._errors.append(message)
        count = self._failures.get(name, 0) + 1
        self._failures[name] = count
        if count >= _MAX_CONSECUTIVE_ERRORS:
            self._disabled.add(name)
