"""Is our peak-memory figure true? Measured against the kernel, beside two common tools.

    .venv/bin/python bench/memory_truth.py                   # host: accuracy + overhead, ~10 min
    .venv/bin/python bench/memory_truth.py --part accuracy   # or: --part overhead
    .venv/bin/python bench/memory_truth.py --markdown FILE   # also write the tables as Markdown
    .venv/bin/python bench/memory_truth.py --vm --part accuracy --scale 0.25 --spike-mb 30 \
        --spike-prestart --spike-phases 0.15 0.4 --sequence-count 20  # in the cgroup v2 VM, ~13 min

The figure under test is ``RunData.memory.peak_mb``: the most memory the build's
processes held resident at one moment, every physical page counted once
(anonymous memory plus the file pages they map; a page shared by several
processes counts once; page cache that no process maps does not count; a spike
between two samples still counts).

Truth. Each workload also runs alone in a memory cgroup this bench creates (a
child of its own; cgroup v2: ``/sys/fs/cgroup/x/truth`` beside ``x/bench``),
and a thread reads that cgroup's ``memory.stat`` every 5 ms: v1
``total_rss + total_mapped_file``, v2 ``anon + file_mapped``; the truth is the
largest sum. A cgroup is charged for the pages its processes brought in, so the
program files every workload maps (the interpreter and its libraries, already
cached before the run and charged elsewhere) are missing from that sum: they are
measured once (``RssFile`` of an idle interpreter minus what its cgroup
charged) and added once. Where the workload makes it obvious, the truth is also
worked out by construction (payload + interpreters + program files).

Ours: ``Session(...).run(argv=...)`` at a 1 s interval, per mode: the session's
defaults (it creates its own cgroup when it may), and no cgroup at all
(``read_cgroup=False, use_cgroup=False``); in the VM, v2 defaults and the
layout of a container on a GitHub runner (session and build in one cgroup, seen
through a private read-only cgroup namespace). Peers: psrecord
(``--include-children --interval 1``, max of "Real (MB)") and GNU time
(``%M``: max RSS of the largest single process). Target: ours within
max(8 %, 15 MB) of the truth on every workload; exits 1 when missed.

Overhead: sampler CPU (``RunData.telemetry_cpu_seconds``) on 200 idle
processes for 30 s and on a build that starts 5,000 short processes (target
<= 2 % of one core each), and a CPU-bound build monitored vs unmonitored in
alternating pairs (target: median ratio <= 1.03).

MB here are MiB (2**20 bytes), as in the product. Needs root (it creates cgroups).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telemetry.session import Session, SessionOptions  # noqa: E402 - after the path fix above

MIB = 1 << 20
PY = sys.executable
TRUTH_INTERVAL = 0.005
GNU_TIME = "/usr/bin/time"
TOLERANCE_PCT = 8.0
TOLERANCE_MB = 15.0
V2_LAYOUT = Path("/sys/fs/cgroup/x")  # --inside-vm: x/bench (this process), x/truth (the truth runs)

# The workloads, one script with a role per process. Every process imports the same
# modules first, so each interpreter costs the same; "touch" writes every page.
WORKLOAD_SCRIPT = textwrap.dedent(
    """
    import mmap, os, subprocess, sys, time

    MIB = 1 << 20
    PAGE = mmap.PAGESIZE
    ME = os.path.abspath(__file__)
    BORN = time.time()


    def touch(mib):
        return b"\\x01" * (int(mib) * MIB)  # allocated and written: every page resident


    def spawn(*args):
        return subprocess.Popen([sys.executable, ME, *map(str, args)])


    def barrier(ready, count):
        open(os.path.join(ready, str(os.getpid())), "w").close()
        while len(os.listdir(ready)) < int(count):
            time.sleep(0.01)


    def wait_all(procs):
        codes = [p.wait() for p in procs]
        if any(codes):
            sys.exit(f"a child failed: {codes}")


    def cow(mib, children, hold):
        data = touch(mib)
        pids = []
        for _ in range(int(children)):
            pid = os.fork()
            if pid == 0:  # idle: shares every page of data with the parent
                time.sleep(float(hold))
                os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        del data


    def shared(path, mib, readers, hold, ready):
        chunk = b"\\x5a" * MIB
        with open(path, "wb") as handle:
            for _ in range(int(mib)):
                handle.write(chunk)
        try:
            wait_all([spawn("reader", path, readers, hold, ready) for _ in range(int(readers))])
        finally:
            os.unlink(path)


    def reader(path, readers, hold, ready):
        with open(path, "rb") as handle:
            view = mmap.mmap(handle.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
        total = 0
        for offset in range(0, len(view), PAGE):
            total += view[offset]
        barrier(ready, readers)
        time.sleep(float(hold))
        view.close()


    def fileio(path, mib):
        chunk = bytes(range(256)) * (MIB // 256)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for _ in range(int(mib)):
                os.write(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        buf = bytearray(MIB)
        with open(path, "rb", buffering=0) as handle:
            while handle.readinto(buf):
                pass
        os.unlink(path)


    def after_tick():
        # Returns just after the monitoring session's next tick (its memory log grows by a
        # line); at once when not monitored by one (the truth and the other tools' runs).
        folder = os.environ.get("TELEMETRY_DIR")
        if not folder:
            return
        log = os.path.join(folder, "memory-samples.log")
        size = os.path.getsize(log) if os.path.exists(log) else 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(log) and os.path.getsize(log) > size:
                return
            time.sleep(0.002)


    def spike(phase, mib, hold, stamp, prestart, startup):
        # The grandchild's spike starts `phase` s after a tick. Born then (prestart 0: the root
        # waits, less two interpreter start-ups) or earlier, waiting idle (prestart 1: where
        # start-ups are slow and vary by more than a tick).
        if prestart == "0":
            after_tick()
            time.sleep(max(0.0, float(phase) - 2 * float(startup)))
        args = [phase, mib, hold, stamp, prestart]
        code = subprocess.call([sys.executable, ME, "spike-child", *args])
        time.sleep(0.5)
        sys.exit(code)


    def spike_child(*args):
        sys.exit(subprocess.call([sys.executable, ME, "spike-grandchild", *args]))


    def spike_grandchild(phase, mib, hold, stamp, prestart):
        if prestart == "1":
            after_tick()
            time.sleep(float(phase))
        begin = time.time()
        data = touch(mib)
        time.sleep(float(hold))
        with open(stamp, "w") as handle:
            handle.write(f"{BORN} {begin} {time.time()}\\n")
        del data


    def workers(count, mib, hold, ready):
        wait_all([spawn("worker", count, mib, hold, ready) for _ in range(int(count))])


    def worker(count, mib, hold, ready):
        data = touch(mib)
        barrier(ready, count)
        time.sleep(float(hold))
        del data


    def sequence(count, mib, hold):
        for _ in range(int(count)):
            subprocess.run([sys.executable, ME, "one", mib, hold], check=True)


    def one(mib, hold):
        data = touch(mib)
        time.sleep(float(hold))
        del data


    def idle(ready, done):
        open(ready, "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists(done) and time.monotonic() < deadline:
            time.sleep(0.01)


    def noop():
        pass


    ROLES = {
        "cow": cow, "shared": shared, "reader": reader, "fileio": fileio, "spike": spike,
        "spike-child": spike_child, "spike-grandchild": spike_grandchild, "workers": workers,
        "worker": worker, "sequence": sequence, "one": one, "idle": idle, "noop": noop,
    }
    ROLES[sys.argv[1]](*sys.argv[2:])
    """
)


# ---- cleanup: every cgroup, process group and folder this bench made ----------------------


class Cleanup:
    """What is left to undo, undone in reverse order at exit (also after SIGINT/SIGTERM)."""

    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], None]]] = []

    def push(self, name: str, undo: Callable[[], None]) -> str:
        self._undo.append((name, undo))
        return name

    def pop(self, name: str) -> None:
        for index in range(len(self._undo) - 1, -1, -1):
            if self._undo[index][0] == name:
                _, undo = self._undo.pop(index)
                undo()
                return

    def run_all(self) -> None:
        while self._undo:
            name, undo = self._undo.pop()
            try:
                undo()
            except Exception as exc:
                print(f"cleanup of {name} failed: {exc}", file=sys.stderr)


CLEANUP = Cleanup()


def _on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _session_members(sid: int) -> list[int]:
    """Live processes of the session ``sid`` (one we created with setsid)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry))
    return found


def _kill_session(sid: int, sig: int = signal.SIGKILL) -> None:
    for pid in _session_members(sid):
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def _stop_child_sessions() -> None:
    """Stops the sessions our own children lead (the VM's, if we are stopped while it runs)."""
    me = os.getpid()
    leaders = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == me and int(fields[3]) == int(entry):
                    leaders.append(int(entry))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for sid in leaders:
            _kill_session(sid, sig)
        if sig == signal.SIGTERM and leaders:
            time.sleep(2)


def unmonitored_env() -> dict[str, str]:
    """Our environment without a monitoring session's variables (the workloads look for them)."""
    return {k: v for k, v in os.environ.items() if k not in ("TELEMETRY_DIR", "TELEMETRY_EVENTS_FILE")}


def run_checked(argv: Sequence[str], what: str, timeout: float = 900.0) -> None:
    """Runs argv in its own session; kills whatever of it is left; raises on failure."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=unmonitored_env(),
        start_new_session=True,
    )
    token = CLEANUP.push(f"session {proc.pid}", lambda: _kill_session(proc.pid))
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_session(proc.pid)
        proc.communicate()
        raise RuntimeError(f"{what}: timed out after {timeout:.0f} s") from None
    finally:
        CLEANUP.pop(token)
    if proc.returncode != 0:
        raise RuntimeError(f"{what}: exit {proc.returncode}: {err.decode(errors='replace')[-2000:]}")


# ---- cgroups ------------------------------------------------------------------------------


def _memory_v1_mount() -> str | None:
    with open("/proc/self/mountinfo", encoding="ascii", errors="replace") as handle:
        for line in handle:
            left, _, right = line.partition(" - ")
            rfields = right.split()
            if len(rfields) >= 3 and rfields[0] == "cgroup" and "memory" in rfields[2].split(","):
                return left.split()[4]
    return None


def _own_cgroup(version: int) -> str | None:
    with open("/proc/self/cgroup", encoding="ascii") as handle:
        for line in handle:
            hid, controllers, path = line.rstrip("\n").split(":", 2)
            if version == 2 and hid == "0" and controllers == "":
                return path
            if version == 1 and "memory" in controllers.split(","):
                return path
    return None


@dataclass(frozen=True)
class CgroupPlace:
    """Where truth cgroups go and how their memory.stat reads."""

    version: int
    parent: Path
    keys: tuple[str, str]  # anon, mapped file
    cache_key: str  # all page cache (for the notes)


def find_truth_parent(inside_vm: bool) -> CgroupPlace:
    if inside_vm:
        return CgroupPlace(2, V2_LAYOUT, ("anon", "file_mapped"), "file")
    mount = _memory_v1_mount()
    own = _own_cgroup(1)
    if mount is not None and own is not None:
        parent = Path(mount) / own.lstrip("/")
        if (parent / "memory.stat").exists():
            return CgroupPlace(1, parent, ("total_rss", "total_mapped_file"), "total_cache")
    raise SystemExit(
        "error: no cgroup v1 memory controller here. On a cgroup v2 host run the bench with "
        "--inside-vm's layout (it needs to own /sys/fs/cgroup/x), or use --vm."
    )


def read_stat(path: Path) -> dict[str, int]:
    values: dict[str, int] = {}
    with open(path, encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                values[key] = int(value)
    return values


def remove_cgroup(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            with contextlib.suppress(OSError):
                for pid in (path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), signal.SIGKILL)
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


class StatSampler(threading.Thread):
    """Reads a cgroup's memory.stat every ``interval`` seconds; keeps the largest anon + mapped."""

    def __init__(self, stat: Path, place: CgroupPlace, interval: float = TRUTH_INTERVAL) -> None:
        super().__init__(name="truth-sampler", daemon=True)
        self.stat = stat
        self.place = place
        self.interval = interval
        self.peak = 0
        self.peak_anon = 0
        self.peak_mapped = 0
        self.peak_cache = 0
        self.samples = 0
        self.max_gap = 0.0
        self._halt = threading.Event()

    def sample(self) -> None:
        try:
            values = read_stat(self.stat)
        except OSError:
            return
        anon, mapped = (values.get(key, 0) for key in self.place.keys)
        if anon + mapped > self.peak:
            self.peak, self.peak_anon, self.peak_mapped = anon + mapped, anon, mapped
        self.peak_cache = max(self.peak_cache, values.get(self.place.cache_key, 0))
        self.samples += 1

    def run(self) -> None:
        # Real-time priority for this thread (it sleeps 5 ms between reads): busy workloads
        # on few cores must not stretch the gaps. Best effort.
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        last = time.monotonic()
        while not self._halt.is_set():
            self.sample()
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - last)
            last = now
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


@dataclass(frozen=True)
class Truth:
    cgroup_mb: float  # max of anon + mapped file charged to the run's cgroup
    anon_mb: float  # the two parts at that moment
    mapped_mb: float
    cache_mb: float  # max page cache charged (mapped or not): what must not count
    samples: int
    max_gap_ms: float
    seconds: float


class TruthRunner:
    """Runs a command alone in a fresh memory cgroup and samples it every 5 ms."""

    def __init__(self, place: CgroupPlace) -> None:
        self.place = place
        self._count = 0

    @contextlib.contextmanager
    def cgroup(self) -> Iterator[Path]:
        self._count += 1
        name = "truth" if self.place.version == 2 else f"memory-truth-{os.getpid()}-{self._count}"
        path = self.place.parent / name
        path.mkdir()
        token = CLEANUP.push(f"cgroup {path}", lambda: remove_cgroup(path))
        try:
            yield path
        finally:
            CLEANUP.pop(token)

    def run(self, argv: Sequence[str], what: str) -> Truth:
        with self.cgroup() as path:
            sampler = StatSampler(path / "memory.stat", self.place)
            sampler.start()
            start = time.monotonic()
            try:
                run_checked(_join_cgroup(path, argv), what)
            finally:
                seconds = time.monotonic() - start
                sampler.stop()
        return Truth(
            cgroup_mb=sampler.peak / MIB,
            anon_mb=sampler.peak_anon / MIB,
            mapped_mb=sampler.peak_mapped / MIB,
            cache_mb=sampler.peak_cache / MIB,
            samples=sampler.samples,
            max_gap_ms=sampler.max_gap * 1000,
            seconds=seconds,
        )


def _join_cgroup(cgroup: Path, argv: Sequence[str]) -> list[str]:
    return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(cgroup), *argv]


@dataclass(frozen=True)
class Interpreter:
    """One idle workload interpreter: what its cgroup is charged, and the program files it maps."""

    anon_mb: float
    charged_mapped_mb: float
    rss_file_mb: float
    startup_s: float

    @property
    def program_files_mb(self) -> float:
        """Mapped file pages charged elsewhere (cached before the run): the cgroup misses them."""
        return max(0.0, self.rss_file_mb - self.charged_mapped_mb)


def measure_interpreter(runner: TruthRunner, script: Path, work: Path) -> Interpreter:
    starts = []
    for _ in range(3):
        begin = time.monotonic()
        run_checked([PY, str(script), "noop"], "interpreter start-up")
        starts.append(time.monotonic() - begin)
    ready, done = work / "idle.ready", work / "idle.done"
    with runner.cgroup() as path:
        proc = subprocess.Popen(
            _join_cgroup(path, [PY, str(script), "idle", str(ready), str(done)]),
            env=unmonitored_env(),
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the idle interpreter did not start")
                time.sleep(0.01)
            time.sleep(0.1)
            status = Path(f"/proc/{proc.pid}/status").read_text()
            stat = read_stat(path / "memory.stat")
        finally:
            done.touch()
            proc.wait()
            _kill_session(proc.pid)
    fields = {line.split(":")[0]: line.split()[1] for line in status.splitlines() if line.startswith("Rss")}
    anon, mapped = (stat.get(key, 0) for key in runner.place.keys)
    return Interpreter(
        anon_mb=anon / MIB,
        charged_mapped_mb=mapped / MIB,
        rss_file_mb=int(fields.get("RssFile", "0")) / 1024,
        startup_s=statistics.median(starts),
    )


# ---- workloads ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    role: str
    args: Callable[[Path], list[str]]  # run folder -> role arguments
    construction: Callable[[Interpreter], float] | None = None  # truth by construction, MB


@dataclass(frozen=True)
class Sizes:
    scale: float = 1.0  # all sizes (MiB)
    hold: float = 3.0  # seconds the big shapes hold their memory
    sequence_count: int = 200
    spike_mb: int | None = None  # default: 400 MiB x scale
    spike_phases: tuple[float, ...] = (0.15, 0.35, 0.55)  # the spike starts this long after a tick
    spike_prestart: bool = False  # the grandchild is started early and waits (slow start-ups)

    def mib(self, base: int) -> int:
        return max(1, round(base * self.scale))


def workloads(sizes: Sizes, interp_startup: float) -> list[Workload]:
    cow_mb, shared_mb, io_mb = sizes.mib(300), sizes.mib(256), sizes.mib(1536)
    spike_mb, worker_mb, one_mb = sizes.spike_mb or sizes.mib(400), sizes.mib(80), sizes.mib(60)
    readers, children, count, seq = 6, 4, 6, sizes.sequence_count
    hold = sizes.hold
    found = [
        Workload(
            "cow",
            f"1 fork: {cow_mb} MiB, {children} idle children",
            "cow",
            lambda _: [str(cow_mb), str(children), str(hold)],
            lambda i: cow_mb + i.anon_mb + i.program_files_mb,
        ),
        Workload(
            "shared",
            f"2 {readers} readers of one {shared_mb} MiB mmap",
            "shared",
            lambda run: [
                str(run / "shared.bin"),
                str(shared_mb),
                str(readers),
                str(hold),
                str(run / "ready"),
            ],
            lambda i: shared_mb + (1 + readers) * i.anon_mb + i.program_files_mb,
        ),
        Workload(
            "io",
            f"3 file I/O: {io_mb} MiB written, read",
            "fileio",
            lambda run: [str(run / "io.bin"), str(io_mb)],
            lambda i: 1 + i.anon_mb + i.program_files_mb,
        ),
    ]

    prestart = "1" if sizes.spike_prestart else "0"
    startup = f"{interp_startup:.3f}"

    def spike_args(phase: float) -> Callable[[Path], list[str]]:
        return lambda run: [f"{phase:g}", str(spike_mb), "0.1", str(run / "spike.stamp"), prestart, startup]

    for phase in sizes.spike_phases:
        found.append(
            Workload(
                f"spike@{phase:g}",
                f"4 grandchild {spike_mb} MiB/100 ms, tick+{phase:g}s",
                "spike",
                spike_args(phase),
                lambda i: spike_mb + 3 * i.anon_mb + i.program_files_mb,
            )
        )
    found += [
        Workload(
            "workers",
            f"5 {count} workers x {worker_mb} MiB",
            "workers",
            lambda run: [str(count), str(worker_mb), str(hold / 2), str(run / "ready")],
            lambda i: count * worker_mb + (1 + count) * i.anon_mb + i.program_files_mb,
        ),
        Workload(
            "sequence",
            f"6 {seq} processes x {one_mb} MiB, in turn",
            "sequence",
            lambda _: [str(seq), str(one_mb), "0.02"],
            lambda i: one_mb + 2 * i.anon_mb + i.program_files_mb,
        ),
    ]
    return found


# ---- the measurements ---------------------------------------------------------------------


@dataclass(frozen=True)
class Ours:
    peak_mb: float
    source: str
    figures: str
    seconds: float
    note: str = ""


@dataclass(frozen=True)
class Mode:
    key: str
    title: str
    read_cgroup: bool = True
    use_cgroup: bool = True


MODES = {
    "default": Mode("default", "session defaults"),
    "no-cgroup": Mode("no-cgroup", "no cgroup at all (read_cgroup=False, use_cgroup=False)", False, False),
    # --inside-vm only: like a Docker action on a GitHub runner. Session and build share one
    # cgroup (x/ctr), seen through a private cgroup namespace with cgroupfs mounted read-only.
    "container": Mode(
        "container", "container layout (private read-only cgroup namespace, session and build in one cgroup)"
    ),
}
HOST_MODES = ["default", "no-cgroup"]
VM_MODES = ["default", "container"]
CONTAINER_ENTRY = (
    'echo $$ > "$1" && shift && exec unshare --cgroup --mount --propagation private /bin/sh -c '
    "'umount -l /sys/fs/cgroup && mount -t cgroup2 -o ro,nosuid,nodev,noexec cgroup2 /sys/fs/cgroup "
    '&& exec "$@"\' sh "$@"'
)


@dataclass(frozen=True)
class OursRun:
    """What one monitored run reported (kept as plain data: it may come from another process)."""

    peak_mb: float
    source: str
    figures: list[tuple[str, float]]
    ticks: list[float]
    start_time: float
    exit_code: int | None
    output_tail: list[str]


def monitored_run(argv: list[str], mode: Mode, tmp: Path) -> OursRun:
    options = SessionOptions(
        telemetry_dir=tmp / ".telemetry",
        sample_interval=1.0,
        output_path=str(tmp),
        read_cgroup=mode.read_cgroup,
        use_cgroup=mode.use_cgroup,
    )
    run = Session(options, output=io.BytesIO()).run(argv=argv)
    ticks = []
    with contextlib.suppress(OSError):
        for line in (tmp / ".telemetry" / "memory-samples.log").read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                ticks.append(float(json.loads(line)["timestamp"]))
    return OursRun(
        run.memory.peak_mb,
        run.memory.peak_source,
        [(f.source, f.value_mb) for f in run.memory.figures],
        ticks,
        run.start_time,
        run.outcome.exit_code,
        list(run.outcome.output_tail[-5:]),
    )


def ours_once(spec_file: Path) -> int:
    """--ours-once: one monitored run in this process (the container layout's entrypoint)."""
    spec = json.loads(spec_file.read_text())
    result = monitored_run(spec["argv"], MODES[spec["mode"]], Path(spec["tmp"]))
    Path(spec["result"]).write_text(json.dumps(result.__dict__))
    return 0


def run_ours(argv: list[str], mode: Mode, run_dir: Path) -> OursRun:
    tmp = run_dir / "telemetry"
    tmp.mkdir()
    if mode.key != "container":
        result = monitored_run(argv, mode, tmp)
    else:
        spec, out = run_dir / "spec.json", run_dir / "result.json"
        spec.write_text(json.dumps({"argv": argv, "mode": mode.key, "tmp": str(tmp), "result": str(out)}))
        ctr = V2_LAYOUT / "ctr"
        ctr.mkdir()
        token = CLEANUP.push(f"cgroup {ctr}", lambda: remove_cgroup(ctr))
        try:
            entry = [PY, str(Path(__file__).resolve()), "--ours-once", str(spec)]
            run_checked(
                ["/bin/sh", "-c", CONTAINER_ENTRY, "sh", str(ctr / "cgroup.procs"), *entry], "container"
            )
        finally:
            CLEANUP.pop(token)
        result = OursRun(**json.loads(out.read_text()))
    if result.exit_code != 0:
        raise RuntimeError(f"ours ({mode.key}): the workload failed: {result.output_tail}")
    return result


def spike_note(stamp: Path, ticks: list[float], start_time: float) -> str:
    """Where the grandchild's spike (from its first touch to its end) fell among the ticks."""
    try:
        born, begin, end = (float(x) for x in stamp.read_text().split())
    except (OSError, ValueError):
        return "spike timing unknown"
    first = ticks[0] if ticks else start_time
    before = max((t for t in ticks if t < begin), default=first)
    inside = [t for t in ticks if begin - 0.005 <= t <= end + 0.005]
    where = "a tick fell inside it" if inside else "between two ticks"
    return (
        f"spike {begin - before:.2f}-{end - before:.2f} s after a tick ({begin - first:.2f} s after the "
        f"first), grandchild born {born - first:.2f} s after the first: {where}"
    )


def run_psrecord(argv: list[str], run_dir: Path) -> float | None:
    psrecord = shutil.which("psrecord", path=f"{Path(PY).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if psrecord is None:
        return None
    log = run_dir / "psrecord.log"
    run_checked(
        [psrecord, "--include-children", "--interval", "1", "--log", str(log), shlex.join(argv)], "psrecord"
    )
    values = [float(line.split()[2]) for line in log.read_text().splitlines() if line and line[0] != "#"]
    return max(values, default=0.0)


def run_gnu_time(argv: list[str], run_dir: Path) -> float | None:
    if not os.access(GNU_TIME, os.X_OK):
        return None
    out = run_dir / "time.txt"
    run_checked([GNU_TIME, "-f", "%M", "-o", str(out), *argv], "GNU time")
    return int(out.read_text().split()[-1]) / 1024


@dataclass
class Row:
    workload: Workload
    truth_mb: float
    truth: Truth
    construction_mb: float | None
    ours: dict[str, Ours] = field(default_factory=dict)
    psrecord_mb: float | None = None
    time_mb: float | None = None


def within(value: float, truth: float) -> bool:
    return abs(value - truth) <= max(TOLERANCE_PCT / 100 * truth, TOLERANCE_MB)


def _err(value: float | None, truth: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    pct = 100 * (value - truth) / truth if truth else 0.0
    return f"{round(value - truth):+d} ({round(pct):+d}%)"


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


# ---- tables: plain text and Markdown ------------------------------------------------------


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # one per row ("" for none)
    notes: list[str] = field(default_factory=list)

    def add(self, cells: list[str], detail: str = "") -> None:
        self.rows.append(cells)
        self.details.append(detail)

    def text(self) -> str:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in enumerate(self.headers)]
        right = [i > 0 for i in range(len(self.headers))]

        def line(cells: list[str]) -> str:
            return "  ".join(
                c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
            ).rstrip()

        out = [f"== {self.title} ==", line(self.headers)]
        for cells, detail in zip(self.rows, self.details, strict=True):
            out.append(line(cells))
            if detail:
                out.extend("    " + d for d in detail.split("\n"))
        out.extend(self.notes)
        return "\n".join(out) + "\n"

    def markdown(self, details: bool = False) -> str:
        has_details = details and any(self.details)
        headers = self.headers + (["details"] if has_details else [])
        out = [f"**{self.title}**", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        for cells, detail in zip(self.rows, self.details, strict=True):
            extra = [detail.replace("\n", "; ")] if has_details else []
            out.append("| " + " | ".join(c.replace("|", "/") for c in cells + extra) + " |")
        if self.notes:
            out += [""] + [n.strip() for n in self.notes]
        return "\n".join(out) + "\n"


class Report:
    def __init__(self) -> None:
        self.tables: list[Table] = []

    def emit(self, table: Table) -> None:
        self.tables.append(table)
        print(table.text(), flush=True)

    def markdown(self, header: str, details: bool = False) -> str:
        return header + "\n\n" + "\n".join(t.markdown(details) for t in self.tables)


# ---- accuracy -----------------------------------------------------------------------------


def accuracy(args: argparse.Namespace, where: str, modes: list[Mode], report: Report, work: Path) -> bool:
    place = find_truth_parent(args.inside_vm)
    runner = TruthRunner(place)
    script = work / "workload.py"
    script.write_text(WORKLOAD_SCRIPT)
    interp = measure_interpreter(runner, script, work)
    print(
        f"truth: cgroup v{place.version} under {place.parent}, memory.stat every "
        f"{TRUTH_INTERVAL * 1000:.0f} ms ({' + '.join(place.keys)}); one idle workload interpreter: "
        f"anon {interp.anon_mb:.1f} MB charged, RssFile {interp.rss_file_mb:.1f} MB of which "
        f"{interp.program_files_mb:.1f} MB program files charged elsewhere (added once to each truth); "
        f"start-up {interp.startup_s * 1000:.0f} ms\n",
        flush=True,
    )
    sizes = Sizes(
        scale=args.scale,
        hold=args.hold,
        sequence_count=args.sequence_count,
        spike_mb=args.spike_mb,
        spike_phases=tuple(args.spike_phases),
        spike_prestart=args.spike_prestart,
    )
    chosen = [w for w in workloads(sizes, interp.startup_s) if _selected(w.key, args.workloads)]
    rows: list[Row] = []
    mode_seconds = dict.fromkeys((m.key for m in modes), 0.0)
    peer_seconds = truth_seconds = 0.0
    for workload in chosen:
        print(f"-- {workload.label}", flush=True)

        def fresh(name: str, w: Workload = workload) -> tuple[Path, list[str]]:
            run_dir = work / f"{w.key}-{name}"
            shutil.rmtree(run_dir, ignore_errors=True)
            run_dir.mkdir()
            (run_dir / "ready").mkdir()
            return run_dir, [PY, str(script), w.role, *w.args(run_dir)]

        run_dir, argv = fresh("truth")
        truth = runner.run(argv, f"truth run of {workload.key}")
        truth_seconds += truth.seconds
        shutil.rmtree(run_dir)
        truth_mb = truth.cgroup_mb + interp.program_files_mb
        construction = workload.construction(interp) if workload.construction else None
        row = Row(workload, truth_mb, truth, construction)
        for mode in modes:
            run_dir, argv = fresh(mode.key)
            begin = time.monotonic()
            try:
                result = run_ours(argv, mode, run_dir)
                stamp = run_dir / "spike.stamp"
                note = spike_note(stamp, result.ticks, result.start_time) if workload.role == "spike" else ""
            except Exception as exc:  # reported in the table (a MISS), the other runs go on
                row.ours[mode.key] = Ours(float("nan"), f"error: {exc}"[:300], "", 0.0)
                print(f"   ours ({mode.key}) failed: {exc}", flush=True)
                continue
            finally:
                seconds = time.monotonic() - begin
                mode_seconds[mode.key] += seconds
                shutil.rmtree(run_dir, ignore_errors=True)
            figures = ", ".join(f"{source}={value:.0f}" for source, value in result.figures)
            row.ours[mode.key] = Ours(result.peak_mb, result.source, figures, seconds, note)
        begin = time.monotonic()
        run_dir, argv = fresh("psrecord")
        row.psrecord_mb = run_psrecord(argv, run_dir)
        shutil.rmtree(run_dir)
        run_dir, argv = fresh("time")
        row.time_mb = run_gnu_time(argv, run_dir)
        shutil.rmtree(run_dir)
        peer_seconds += time.monotonic() - begin
        rows.append(row)

    all_ok = True
    for mode in modes:
        table = Table(
            f"{where}, {mode.title}: peak memory, MB",
            [
                "workload",
                "truth",
                "constr.",
                "ours",
                "ours err",
                "ok",
                "peak_source",
                "psrecord",
                "err",
                "GNU time",
                "err",
            ],
        )
        misses = 0
        for row in rows:
            ours = row.ours[mode.key]
            ok = within(ours.peak_mb, row.truth_mb)
            misses += not ok
            t = row.truth
            detail = (
                f"truth: cgroup anon {t.anon_mb:.1f} + mapped {t.mapped_mb:.1f} "
                f"+ program files {interp.program_files_mb:.1f}; page cache up to {t.cache_mb:.0f} "
                f"(not counted); {t.samples} samples, max gap {t.max_gap_ms:.0f} ms\n"
                f"figures: {ours.figures}"
            )
            if ours.note:
                detail += "\n" + ours.note
            table.add(
                [
                    row.workload.label,
                    f"{row.truth_mb:.1f}",
                    _mb(row.construction_mb),
                    f"{ours.peak_mb:.1f}",
                    _err(ours.peak_mb, row.truth_mb),
                    "yes" if ok else "MISS",
                    ours.source,
                    _mb(row.psrecord_mb),
                    _err(row.psrecord_mb, row.truth_mb),
                    _mb(row.time_mb),
                    _err(row.time_mb, row.truth_mb),
                ],
                detail,
            )
        table.notes.append(
            f"verdict ({mode.key}): {len(rows) - misses} of {len(rows)} within max({TOLERANCE_PCT:g} %, "
            f"{TOLERANCE_MB:g} MB) of the truth: {'PASS' if misses == 0 else 'FAIL'}; "
            f"ours took {mode_seconds[mode.key]:.0f} s"
        )
        all_ok = all_ok and misses == 0
        report.emit(table)
    report.emit(summary(where, modes, rows))
    print(
        f"accuracy ({where}): truth runs {truth_seconds:.0f} s, "
        f"psrecord + GNU time runs {peer_seconds:.0f} s\n",
        flush=True,
    )
    return all_ok


def summary(where: str, modes: list[Mode], rows: list[Row]) -> Table:
    """One line per workload: every figure and its error, the modes side by side."""

    def cell(value: float | None, truth: float, judged: bool = False) -> str:
        if value is None or math.isnan(value):
            return "n/a" if value is None else "error"
        pct = 100 * (value - truth) / truth if truth else 0.0
        miss = " MISS" if judged and not within(value, truth) else ""
        return f"{value:.0f} ({round(pct):+d}%){miss}"

    table = Table(
        f"{where}: summary, peak MB (error against the truth)",
        ["workload", "truth", *(f"ours, {m.key}" for m in modes), "psrecord", "GNU time"],
    )
    for row in rows:
        table.add(
            [
                row.workload.label,
                f"{row.truth_mb:.0f}",
                *(cell(row.ours[m.key].peak_mb, row.truth_mb, judged=True) for m in modes),
                cell(row.psrecord_mb, row.truth_mb),
                cell(row.time_mb, row.truth_mb),
            ]
        )
    table.notes.append(
        f"ours: within max({TOLERANCE_PCT:g} %, {TOLERANCE_MB:g} MB) of the truth, or MISS; sampled every 1 s"
    )
    return table


def _selected(key: str, wanted: list[str] | None) -> bool:
    return not wanted or any(key == w or key.startswith(w + "@") for w in wanted)


# ---- overhead -----------------------------------------------------------------------------

CPU_BOUND = textwrap.dedent(
    """
    import hashlib, multiprocessing, sys, zlib

    def work(args):
        seed, count = args
        data = b"".join(hashlib.sha256(b"%d-%d" % (seed, i)).hexdigest().encode() for i in range(count))
        return len(zlib.compress(data, 9))

    if __name__ == "__main__":
        cores, count = int(sys.argv[1]), int(sys.argv[2])
        with multiprocessing.Pool(cores) as pool:
            pool.map(work, [(seed, count) for seed in range(cores * 4)])
    """
)


def _session(tmp: Path, enabled: bool = True) -> Session:
    options = SessionOptions(
        telemetry_dir=tmp / ".telemetry", sample_interval=1.0, output_path=str(tmp), enabled=enabled
    )
    return Session(options, output=io.BytesIO())


def overhead(args: argparse.Namespace, where: str, report: Report, work: Path) -> bool:
    table = Table(
        f"{where}, session defaults: sampler CPU, 1 s interval",
        ["build", "seconds", "sampler CPU s", "% of one core", "target", "ok"],
    )
    ok_all = True
    idle_seconds = args.idle_seconds
    builds = [
        (
            f"200 idle processes, {idle_seconds:g} s",
            f"for i in $(seq 200); do sleep {idle_seconds:g} & done; wait",
        ),
        ("5,000 short processes in turn", "for i in $(seq 5000); do /bin/true; done"),
    ]
    for label, command in builds:
        tmp = work / "overhead"
        tmp.mkdir()
        run = _session(tmp).run(argv=["/bin/sh", "-c", command])
        shutil.rmtree(tmp)
        share = 100 * run.telemetry_cpu_seconds / run.duration_seconds
        ok = share <= 2.0
        ok_all = ok_all and ok
        table.add(
            [
                label,
                f"{run.duration_seconds:.1f}",
                f"{run.telemetry_cpu_seconds:.3f}",
                f"{share:.2f}",
                "<= 2 %",
                "yes" if ok else "MISS",
            ]
        )
    report.emit(table)

    cores = len(os.sched_getaffinity(0))
    tmp = work / "pairs"
    tmp.mkdir()
    script = tmp / "cpu_bound.py"
    script.write_text(CPU_BOUND)
    # Calibrate the build to about --cpu-seconds of wall time, unmonitored (twice: the first
    # guess may be far off).
    count = 20000
    for _ in range(2):
        begin = time.monotonic()
        _session(tmp, enabled=False).run(argv=[PY, str(script), str(cores), str(count)])
        count = max(1000, int(count * args.cpu_seconds / max(0.05, time.monotonic() - begin)))
    argv = [PY, str(script), str(cores), str(count)]
    plain: list[float] = []
    monitored: list[float] = []
    sampler_share: list[float] = []  # sampler thread CPU per second of monitored build
    load_before = os.getloadavg()[0]
    for index in range(args.pairs):
        for enabled in (False, True) if index % 2 == 0 else (True, False):
            begin = time.monotonic()
            run = _session(tmp, enabled=enabled).run(argv=argv)
            elapsed = time.monotonic() - begin
            if run.outcome.exit_code != 0:
                raise RuntimeError(f"the CPU-bound build failed: {run.outcome.output_tail[-5:]}")
            (monitored if enabled else plain).append(elapsed)
            if enabled:
                sampler_share.append(run.telemetry_cpu_seconds / run.duration_seconds)
    load_after = os.getloadavg()[0]
    shutil.rmtree(tmp)
    ratios = sorted(m / p for m, p in zip(monitored, plain, strict=True))
    quartiles = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) >= 2 else ratios * 3
    median = statistics.median(ratios)
    ok = median <= 1.03
    pairs = Table(
        f"{where}: CPU-bound build on {cores} cores, {args.pairs} alternating pairs, monitored / unmonitored",
        ["unmonitored median s", "monitored median s", "median ratio", "min", "max", "IQR", "target", "ok"],
    )
    pairs.add(
        [
            f"{statistics.median(plain):.2f}",
            f"{statistics.median(monitored):.2f}",
            f"{median:.3f}",
            f"{ratios[0]:.3f}",
            f"{ratios[-1]:.3f}",
            f"{quartiles[0]:.3f}-{quartiles[2]:.3f}",
            "<= 1.03",
            "yes" if ok else "MISS",
        ]
    )
    # Wall-time pairs are only as good as the machine is quiet; the sampler's own CPU time
    # during the monitored builds bounds the slowdown it can cause on busy cores.
    share = statistics.mean(sampler_share)
    pairs.notes.append(
        f"sampler CPU during the monitored builds: {100 * share:.2f} % of one core, so at most a "
        f"{1 + share / cores:.4f}x slowdown on {cores} busy cores; load average "
        f"{load_before:.1f} before the pairs, {load_after:.1f} after"
    )
    report.emit(pairs)
    return ok_all and ok


# ---- the VM -------------------------------------------------------------------------------


def setup_v2_layout() -> Callable[[], None]:
    """In the VM: x (+memory) with this process in x/bench; the truth cgroups go in x/truth."""
    base = Path("/sys/fs/cgroup")
    original = _own_cgroup(2) or "/"
    V2_LAYOUT.mkdir(exist_ok=True)
    (V2_LAYOUT / "cgroup.subtree_control").write_text("+memory")
    bench = V2_LAYOUT / "bench"
    bench.mkdir(exist_ok=True)
    (bench / "cgroup.procs").write_text(str(os.getpid()))

    def undo() -> None:
        with contextlib.suppress(OSError):
            (base / original.lstrip("/") / "cgroup.procs").write_text(str(os.getpid()))
        for path in (bench, V2_LAYOUT):
            with contextlib.suppress(OSError):
                remove_cgroup(path, timeout=2.0)

    return undo


def run_vm(args: argparse.Namespace) -> int:
    """--vm: the whole bench runs again inside the cgroup v2 VM (--inside-vm), from the checkout."""
    try:
        from tests.cgroup2 import vm  # the kit: tools/cgroup2-vm/setup.sh
    except ImportError as exc:
        print(f"error: the cgroup v2 VM kit is not here (tests/cgroup2/vm.py): {exc}", file=sys.stderr)
        return 2
    try:
        vm.ensure_vm()
    except vm.VmUnavailable as exc:
        print(f"error: the cgroup v2 VM is unavailable: {exc}", file=sys.stderr)
        return 2
    # Only the checkout is writable in the VM: the Markdown comes back through it.
    markdown = ROOT / f".memory-truth-vm-{os.getpid()}.md"
    inner = [PY, str(Path(__file__).resolve()), "--inside-vm", *args.passthrough]
    if args.markdown is not None:
        inner += ["--markdown", str(markdown)]
    env = vm.vm_env({"CG2VM_MEM": args.vm_memory, "CG2VM_CPUS": str(len(os.sched_getaffinity(0)))})
    print(f"running in the cgroup v2 VM ({args.vm_memory}): {shlex.join(inner)}", flush=True)
    begin = time.monotonic()
    try:
        result = vm.run_in_vm(shlex.join(inner), cwd=ROOT, env=env, timeout=args.vm_timeout)
    except subprocess.TimeoutExpired as exc:  # run_in_vm has stopped the VM
        print(exc.output or "", end="")
        print(f"error: the VM run took longer than {args.vm_timeout:.0f} s (--vm-timeout)", file=sys.stderr)
        return 1
    except BaseException:
        _stop_child_sessions()
        raise
    try:
        print(result.stdout, end="")
        sys.stderr.write(result.stderr)
        if args.markdown is not None and markdown.exists():
            args.markdown.write_text(markdown.read_text())
    finally:
        markdown.unlink(missing_ok=True)
    print(f"VM run: {time.monotonic() - begin:.0f} s, exit {result.returncode}")
    return result.returncode


# ---- main ---------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=("all", "accuracy", "overhead"), default="all")
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=sorted(MODES),
        help=f"session modes (default: {' '.join(HOST_MODES)}; in the VM: {' '.join(VM_MODES)})",
    )
    parser.add_argument(
        "--workloads", nargs="+", metavar="KEY", help="cow shared io spike workers sequence (default: all)"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workload size (MiB)")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds shapes 1-2 hold (5: half)")
    parser.add_argument("--sequence-count", type=int, default=200)
    parser.add_argument(
        "--spike-phases",
        type=float,
        nargs="+",
        default=[0.15, 0.35, 0.55],
        help="workload 4: its spike starts this long after one of the session's ticks",
    )
    parser.add_argument("--spike-mb", type=int, help="workload 4's size (default: 400 MiB x --scale)")
    parser.add_argument(
        "--spike-prestart",
        action="store_true",
        help="start the grandchild early, idle until its spike (where start-ups take seconds: the VM)",
    )
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--cpu-seconds", type=float, default=5.0, help="length of the CPU-bound build")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument(
        "--workdir", type=Path, help="on disk, not tmpfs (default: /var/tmp; in the VM: the checkout)"
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables here, as Markdown")
    parser.add_argument(
        "--markdown-details", action="store_true", help="with the truth's parts and every figure per row"
    )
    parser.add_argument("--vm", action="store_true", help="run the bench in the cgroup v2 VM instead")
    parser.add_argument("--vm-timeout", type=float, default=3600.0)
    parser.add_argument("--vm-memory", default="4G", help="the VM's memory (qemu -m)")
    parser.add_argument("--inside-vm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ours-once", type=Path, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if rest and not args.vm:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.passthrough = _without(argv, {"--vm": 0, "--markdown": 1, "--vm-timeout": 1, "--vm-memory": 1})
    return args


def _without(argv: list[str], options: dict[str, int]) -> list[str]:
    """argv less the given options (name -> how many values follow it)."""
    kept: list[str] = []
    skip = 0
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in options:
            skip = options[name] if "=" not in arg else 0
            continue
        kept.append(arg)
    return kept


def _revision() -> str:
    """The checkout's commit (and whether tracked files differ from it), when git can tell."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return f" at commit {commit}{' with uncommitted changes' if changed else ''}"


def _fs_type(path: Path) -> str:
    best, kind = "", "?"
    with open("/proc/self/mounts", encoding="ascii", errors="replace") as handle:
        for line in handle:
            fields = line.split()
            mount = fields[1]
            inside = str(path) == mount or str(path).startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, kind = mount, fields[2]
    return kind


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.ours_once is not None:
        return ours_once(args.ours_once)
    if os.geteuid() != 0:
        print("error: memory_truth.py needs root: it creates memory cgroups", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_term)
    if args.vm:
        return run_vm(args)
    where = "cgroup v2 VM" if args.inside_vm else f"host (cgroup v{2 if _own_cgroup(1) is None else 1})"
    modes = [MODES[m] for m in args.modes or (VM_MODES if args.inside_vm else HOST_MODES)]
    if "container" in [m.key for m in modes] and not args.inside_vm:
        print("error: the container mode runs only in the VM (--vm)", file=sys.stderr)
        return 2
    started = time.monotonic()
    report = Report()
    ok = True
    try:
        if args.inside_vm:
            CLEANUP.push("v2 layout", setup_v2_layout())
        # Not tmpfs: the workloads' files must be page cache, not memory. In the VM, / is a
        # RAM overlay and only the checkout is a real disk (shared with the host).
        workdir = args.workdir or (ROOT if args.inside_vm else Path("/var/tmp"))
        work = Path(tempfile.mkdtemp(prefix=".memory-truth-", dir=workdir))
        CLEANUP.push(f"folder {work}", lambda: shutil.rmtree(work, ignore_errors=True))
        fs = _fs_type(work)
        print(
            f"memory_truth{_revision()}: {where}; python {sys.version.split()[0]}, {os.uname().release}, "
            f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f}; "
            f"work folder {work} ({fs})\n",
            flush=True,
        )
        if fs == "tmpfs":
            print("warning: the work folder is on tmpfs: its files are memory (use --workdir)\n")
        if args.part in ("all", "accuracy"):
            begin = time.monotonic()
            ok = accuracy(args, where, modes, report, work) and ok
            print(f"accuracy part: {time.monotonic() - begin:.0f} s\n", flush=True)
        if args.part in ("all", "overhead"):
            begin = time.monotonic()
            ok = overhead(args, where, report, work) and ok
            print(f"overhead part: {time.monotonic() - begin:.0f} s\n", flush=True)
    finally:
        CLEANUP.run_all()
    if args.markdown is not None:
        shown = _without(argv, {"--markdown": 1, "--inside-vm": 0})
        command = shlex.join(["bench/memory_truth.py", *(["--vm"] if args.inside_vm else []), *shown])
        header = f"Measured{_revision()} with `{command}` ({where}, Linux {os.uname().release})."
        args.markdown.write_text(report.markdown(header, args.markdown_details))
    print(
        f"memory_truth: {'all targets met' if ok else 'TARGET MISSED'} ({time.monotonic() - started:.0f} s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
