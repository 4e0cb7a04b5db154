"""Session.run against real builds: exit codes, output, stages, memory, signals, OOM, disabled mode."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from contracts.vocabulary import EVENTS_FILE
from telemetry.cgroup import DedicatedCgroup
from telemetry.model import RunData
from telemetry.samplers.network import LOOPBACK, NOISE_FLOOR_BYTES
from telemetry.session import Session, SessionOptions
from tests.conftest import skip_or_fail
from tests.support import memory_shapes

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def _options(tmp_path: Path, **kw: object) -> SessionOptions:
    base: dict[str, object] = {
        "telemetry_dir": tmp_path / ".telemetry",
        "sample_interval": 0.1,
        "env": {"PYTHONPATH": str(ROOT)},
        "output_path": str(tmp_path),
        "kill_grace_seconds": 1.0,
    }
    base.update(kw)
    return SessionOptions(**base)  # type: ignore[arg-type]


def _run(tmp_path: Path, argv: list[str] | None = None, shell: str | None = None, **kw: object) -> RunData:
    out = io.BytesIO()
    return Session(_options(tmp_path, **kw), output=out).run(argv=argv, shell_command=shell)


def _log_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _cgroup_available() -> bool:
    group = DedicatedCgroup.create(f"telemetry-probe-{os.getpid()}")
    if group is None:
        return False
    group.remove()
    return True


def test_exit_code_output_tail_and_sample_logs(tmp_path: Path) -> None:
    out = io.BytesIO()
    code = "import sys, time\nfor i in range(500): print('line', i)\ntime.sleep(0.35)\nsys.exit(3)"
    run = Session(_options(tmp_path), output=out).run([PY, "-c", code])
    assert run.outcome.exit_code == 3 and run.outcome.signal is None and not run.outcome.cancelled
    assert len(run.outcome.output_tail) == 200 and run.outcome.output_tail[-1] == "line 499"
    assert out.getvalue().decode().count("\n") == 500  # forwarded live, all of it
    telemetry = tmp_path / ".telemetry"
    for name in ("memory", "cpu", "network", "disk"):
        lines = _log_lines(telemetry / f"{name}-samples.log")
        assert len(lines) >= 3, name
        assert all("timestamp" in line for line in lines)
    memory = _log_lines(telemetry / "memory-samples.log")
    assert all(isinstance(line["memory_mb"], float) for line in memory)
    assert run.sampler_errors == ()
    assert run.duration_seconds >= 0.35
    assert run.system.cpu_cores >= 1 and run.system.memory_total_mb > 0
    assert run.telemetry_cpu_seconds > 0


def test_shell_command_runs_with_pipefail_and_errexit(tmp_path: Path) -> None:
    run = _run(tmp_path, shell="echo start; false | true; echo never")
    assert run.outcome.exit_code == 1
    assert run.outcome.output_tail == ("start",)
    ok = _run(tmp_path, shell='echo $TELEMETRY_EVENTS_FILE; test -n "$TELEMETRY_DIR"')
    assert ok.outcome.exit_code == 0
    assert ok.outcome.output_tail[0].endswith(EVENTS_FILE)


def test_missing_command_is_a_spawn_error(tmp_path: Path) -> None:
    run = _run(tmp_path, argv=["/nonexistent/build-tool", "x"])
    assert run.outcome.spawn_error and run.outcome.exit_code == 127
    run = _run(tmp_path, argv=["no-such-command-anywhere"])
    assert run.outcome.spawn_error and "not found" in run.outcome.spawn_error


def test_argv_is_not_interpreted_by_a_shell(tmp_path: Path) -> None:
    run = _run(tmp_path, argv=[PY, "-c", "import sys; print(sys.argv[1])", "$HOME; echo pwned"])
    assert run.outcome.output_tail == ("$HOME; echo pwned",)


def test_stages_from_the_build_carry_memory_and_cpu(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import time
        from telemetry import events
        events.stage_start("build_initialization")
        time.sleep(0.3)
        events.stage_complete("build_initialization", "success")
        events.stage_start("architecture_amd64")
        b = bytearray(120 * 2**20)
        for i in range(0, len(b), 4096): b[i] = 1
        # CPU between ticks is spread evenly over the interval: the margins keep the burn
        # inside the stage even when a loaded machine stretches the intervals.
        time.sleep(0.5)
        t = time.process_time()
        while time.process_time() - t < 0.3: pass
        time.sleep(0.5)
        del b
        events.stage_complete("architecture_amd64", "failure", "lintian errors")
        events.failure("architecture_amd64", "lintian: E: bad", "1", category="packaging")
        events.counter("download_retries", 2)
        events.stage_start("never_finished")
        """
    )
    run = _run(tmp_path, argv=[PY, "-c", code])
    names = [s.name for s in run.stages]
    assert names == ["build_initialization", "architecture_amd64", "never_finished"]
    init, arch, never = run.stages
    assert init.status == "success" and 0.25 <= init.duration_seconds < 2
    assert arch.status == "failure" and arch.message == "lintian errors"
    assert arch.peak_memory_mb >= 120
    assert arch.cpu_seconds >= 0.2
    assert never.status == "incomplete"
    assert run.failures[0].category == "packaging"
    assert run.counters == {"download_retries": 2.0}
    assert run.memory.peak_mb >= 120


SPIKE = (
    "import time\nb = bytearray({mb} * 2**20)\nfor i in range(0, len(b), 4096): b[i] = 1\ntime.sleep({hold})"
)


@pytest.mark.parametrize("layout", ["dedicated", "none"])
def test_short_spike_in_a_grandchild_is_caught(tmp_path: Path, layout: str) -> None:
    """300 MB held for 100 ms by a grandchild, between two 1 s samples."""
    if layout == "dedicated" and not _cgroup_available():
        skip_or_fail("no writable memory cgroup here (not root)")
    spike = SPIKE.format(mb=300, hold=0.1)
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spike!r}])"
    code = f"import subprocess, sys, time; time.sleep(1.3); subprocess.run([sys.executable, '-c', {child!r}])"
    kw: dict[str, object] = {"read_cgroup": False} if layout == "none" else {}
    run = _run(tmp_path, argv=[PY, "-c", code], sample_interval=1.0, **kw)
    assert run.memory.layout == layout
    figures = {f.source: f.value_mb for f in run.memory.figures}
    # Truth by construction: 300 MB in the grandchild plus three small interpreters.
    assert 300 <= run.memory.peak_mb <= 345, figures
    # The build root is spawned from a process of its own, so its rusage is the build's.
    assert 300 <= figures["largest_process_rusage"] <= 330
    level = "cgroup_resident" if layout == "dedicated" else "tree_unique"
    assert figures[level] <= run.memory.peak_mb  # the samples alone may or may not land on it


def test_young_poll_catches_a_spike_without_a_cgroup(tmp_path: Path) -> None:
    """No cgroup to ask: quick polls of young processes still see a 600 ms spike between ticks."""
    code = (
        "import subprocess, sys, time; time.sleep(1.3); "
        f"subprocess.run([sys.executable, '-c', {SPIKE.format(mb=200, hold=0.6)!r}])"
    )
    run = _run(tmp_path, argv=[PY, "-c", code], sample_interval=1.0, read_cgroup=False)
    figures = {f.source: f.value_mb for f in run.memory.figures}
    # Most of it: on a loaded machine the first poll may come after some was touched.
    assert 100 <= figures["young_process_poll"] <= 235, figures
    assert 200 <= run.memory.peak_mb <= 235  # ~211 for the child, ~11 for its parent


def test_disabled_mode_runs_only_the_command(tmp_path: Path) -> None:
    threads_before = threading.active_count()
    options = SessionOptions(telemetry_dir=tmp_path / ".telemetry", enabled=False)
    run = Session(options).run(
        [PY, "-c", "import os, sys; sys.exit(0 if 'TELEMETRY_EVENTS_FILE' not in os.environ else 9)"]
    )
    assert run.outcome.exit_code == 0
    assert not (tmp_path / ".telemetry").exists()
    assert threading.active_count() == threads_before
    assert run.memory.samples == () and run.stages == ()


def test_killed_by_sigkill_is_reported_as_a_signal_not_a_cancel(tmp_path: Path) -> None:
    run = _run(tmp_path, argv=[PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    assert run.outcome.exit_code is None and run.outcome.signal == signal.SIGKILL
    assert not run.outcome.cancelled and not run.outcome.oom_killed


def test_real_oom_kill_in_the_build_cgroup_is_detected(tmp_path: Path) -> None:
    if not _cgroup_available():
        skip_or_fail("no writable memory cgroup here")
    code = "b = bytearray(400 * 2**20)\nfor i in range(0, len(b), 4096): b[i] = 1"
    run = _run(tmp_path, argv=[PY, "-c", code], memory_limit_mb=80)
    assert run.outcome.signal == signal.SIGKILL
    assert run.outcome.oom_killed


def test_leftover_background_processes_are_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "bg.pid"
    run = _run(tmp_path, shell=f"sleep 60 & echo $! > {pid_file}; echo done")
    assert run.outcome.exit_code == 0
    assert not _alive(int(pid_file.read_text()))


def test_leftovers_can_be_kept_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "bg.pid"
    run = _run(tmp_path, shell=f"sleep 30 >/dev/null 2>&1 & echo $! > {pid_file}", kill_leftovers=False)
    pid = int(pid_file.read_text())
    try:
        assert run.outcome.exit_code == 0
        assert _alive(pid)
        assert not any("cgroup" in e for e in run.sampler_errors)
    finally:
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # adopted by us (subreaper) when its shell exited


def test_orphans_are_reaped_by_the_session_and_their_cpu_counted(tmp_path: Path) -> None:
    pid_file = tmp_path / "orphan.pid"
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass"
    # The middle process starts the worker and exits at once: the worker is orphaned.
    middle = f"import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', {burn!r}]); print(p.pid)"
    # The build waits until the orphan is gone (reaped by the session), however slow a loaded
    # machine makes its 0.4 s of CPU: stopped as a leftover, it would not have burnt them all.
    wait = f"while kill -0 $(cat {pid_file}) 2>/dev/null; do sleep 0.05; done"
    build = f"{PY} -c {json.dumps(middle)} > {pid_file}; {wait}"
    run = _run(tmp_path, shell=build, sample_interval=0.1)
    orphan = int(pid_file.read_text())
    assert not os.path.exists(f"/proc/{orphan}")  # reaped, not a zombie of ours
    assert run.cpu.user_seconds + run.cpu.system_seconds >= 0.35


def test_broken_sampler_is_logged_and_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from telemetry.samplers.network import NetworkSampler

    def boom(self: NetworkSampler, tick: object, now: float) -> None:
        raise RuntimeError("no /proc/net here")

    monkeypatch.setattr(NetworkSampler, "sample", boom)
    run = _run(tmp_path, argv=[PY, "-c", "import time; time.sleep(0.6)"])
    assert run.outcome.exit_code == 0
    assert any(e.startswith("network: RuntimeError") for e in run.sampler_errors)
    assert run.memory.samples  # the others kept sampling


class _Blob(BaseHTTPRequestHandler):
    payload = os.urandom(1024 * 1024)
    served = 0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(8 * len(self.payload)))
        self.end_headers()
        for _ in range(8):
            self.wfile.write(self.payload)
            type(self).served += len(self.payload)
            time.sleep(0.05)  # keep the connection open across ticks

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Blob)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/blob"
    server.shutdown()
    server.server_close()


def test_network_download_over_loopback(tmp_path: Path, http_server: str) -> None:
    code = f"import urllib.request; print(len(urllib.request.urlopen({http_server!r}).read()))"
    run = _run(tmp_path, argv=[PY, "-c", code])
    assert run.outcome.output_tail == (str(8 * 1024 * 1024),)
    rx, _ = run.network.per_interface[LOOPBACK]
    assert rx >= 8 * 1024 * 1024
    others = [sum(v) for k, v in run.network.per_interface.items() if k != LOOPBACK]
    if max(others, default=0) < NOISE_FLOOR_BYTES:
        assert run.network.interface == LOOPBACK
        assert run.network.bytes_downloaded == rx
    assert run.network.connection_count >= 1
    assert run.network.tcp_connections_opened is not None and run.network.tcp_connections_opened >= 1


RUNNER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from telemetry.session import Session, SessionOptions
    opts = SessionOptions(telemetry_dir=Path(sys.argv[1]), sample_interval=0.1, kill_grace_seconds=1.0)
    run = Session(opts).run(shell_command=sys.argv[2])
    print(json.dumps({"cancelled": run.outcome.cancelled, "signal": run.outcome.signal,
                      "exit_code": run.outcome.exit_code, "errors": list(run.sampler_errors)}))
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_whole_tree_and_finalizes(tmp_path: Path, sig: signal.Signals) -> None:
    pids = tmp_path / "pids"
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    # A stubborn grandchild, and a daemon that left the process group and session (setsid).
    build = (
        f"{PY} -c {json.dumps(stubborn)} & echo $! >> {pids}; "
        f"setsid {PY} -c 'import time; time.sleep(60)' & echo $! >> {pids}; "
        f"{PY} -c 'b=bytearray(50*2**20); import time; time.sleep(60)' & echo $! >> {pids}; wait"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runner = subprocess.Popen(
        [PY, "-c", RUNNER, str(tmp_path / ".telemetry"), build], env=env, stdout=subprocess.PIPE, text=True
    )
    samples = tmp_path / ".telemetry" / "memory-samples.log"

    def peak_so_far() -> float:
        try:
            return max((float(str(line["memory_mb"])) for line in _log_lines(samples)), default=0.0)
        except (OSError, ValueError):  # not there yet, or a line being written
            return 0.0

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not pids.exists() or len(pids.read_text().split()) < 3):
        time.sleep(0.05)
    while time.monotonic() < deadline and peak_so_far() < 50:
        time.sleep(0.05)  # ticks with the whole tree alive, its 50 MB seen
    started = time.monotonic()
    runner.send_signal(sig)
    out, _ = runner.communicate(timeout=15)
    elapsed = time.monotonic() - started
    result = json.loads(out.strip().splitlines()[-1])
    assert result["cancelled"] is True
    assert result["signal"] == sig or result["exit_code"] == 128 + sig
    assert elapsed < 5
    for pid in map(int, pids.read_text().split()):
        assert not _alive(pid), pid
    lines = _log_lines(tmp_path / ".telemetry" / "memory-samples.log")  # every line valid JSON
    assert max(float(str(line["memory_mb"])) for line in lines) >= 50


@pytest.mark.parametrize("use_cgroup", [False, True])
def test_a_big_session_process_does_not_inflate_the_builds_peak(tmp_path: Path, use_cgroup: bool) -> None:
    """ru_maxrss survives execve, so a build forked from a 300 MB parent "had" 300 MB.

    The session must not report its own memory as the build's peak.
    """
    ballast = bytearray(300 * 2**20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    run = _run(tmp_path, argv=[PY, "-c", "import time; time.sleep(0.3)"], use_cgroup=use_cgroup)
    del ballast
    assert run.memory.peak_mb < 100, run.memory.figures


@pytest.mark.parametrize("layout", ["dedicated", "none"])
@pytest.mark.parametrize("shape", memory_shapes.shapes(), ids=lambda s: s.name.replace(" ", "-"))
def test_peak_memory_counts_each_page_once(tmp_path: Path, layout: str, shape: memory_shapes.Shape) -> None:
    """The headline against a truth known by construction, with the build's own cgroup and
    with none at all: shared pages once, page cache not at all, spikes between samples."""
    if layout == "dedicated" and not _cgroup_available():
        skip_or_fail("no writable memory cgroup here (not root)")
    kw: dict[str, object] = {"read_cgroup": False} if layout == "none" else {}
    run = _run(tmp_path, argv=[PY, "-c", shape.code, str(tmp_path)], sample_interval=1.0, **kw)
    assert run.outcome.exit_code == 0, run.outcome
    assert run.memory.layout == layout
    figures = {f.source: f.value_mb for f in run.memory.figures}
    low, high = shape.band
    assert low <= run.memory.peak_mb <= high, figures
    assert figures["tree_rss_sum"] >= shape.rss_sum_mb * 0.95  # what summing RSS would have said


def test_a_failure_before_the_build_starts_leaves_no_cgroup_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _cgroup_available():
        skip_or_fail("no writable memory cgroup here (not root)")
    import telemetry.session as session_module
    from telemetry.cgroup import _locate

    located = _locate(for_children=True)
    assert located is not None
    own = Path(located[1])
    mine = f"telemetry-{os.getpid()}-"

    def made() -> list[Path]:  # a child of our cgroup (v1) or a sibling (v2)
        return [p for p in [*own.iterdir(), *own.parent.iterdir()] if p.name.startswith(mine)]

    before = made()

    def broken(*args: object, **kwargs: object) -> None:
        assert [p for p in made() if p not in before], "the build's cgroup should exist by now"
        raise RuntimeError("setup broke")

    monkeypatch.setattr(session_module, "StageTracker", broken)
    with pytest.raises(RuntimeError, match="setup broke"):
        _run(tmp_path, argv=[PY, "-c", "pass"])
    assert [p for p in made() if p not in before] == []
