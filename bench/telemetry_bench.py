"""Telemetry cost and network accuracy, printed side by side (not a timed test).

    .venv/bin/python bench/telemetry_bench.py            # everything (~2 min)
    .venv/bin/python bench/telemetry_bench.py overhead   # or: network

Peak memory against an independent truth, with the peers side by side, is
``bench/memory_truth.py``.

1. Overhead. Sampler thread CPU time at a 1 s interval on a 50-process tree
   (target <= 1 % of one core), and the wall time of a CPU-bound build
   monitored vs unmonitored in alternating pairs (target ratio <= 1.02).
2. Network. A 50 MB download from a loopback HTTP server: bytes reported vs
   bytes served (target within 2 % plus protocol overhead), and the interface.
"""

from __future__ import annotations

import io
import json
import os
import resource
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telemetry.session import Session, SessionOptions  # noqa: E402

PY = sys.executable
MB = 1024 * 1024


def _session(tmp: str, interval: float, env: dict[str, str] | None = None, enabled: bool = True) -> Session:
    options = SessionOptions(
        telemetry_dir=Path(tmp) / ".telemetry",
        sample_interval=interval,
        env=env or {},
        output_path=tmp,
        enabled=enabled,
    )
    return Session(options, output=io.BytesIO())


def _pct(value: float, truth: float) -> str:
    return f"{100.0 * (value - truth) / truth:+6.1f} %"


FIFTY = textwrap.dedent(
    """
    import subprocess, sys, time
    idle = "import sys, time; time.sleep(float(sys.argv[1]))"
    kids = [subprocess.Popen([sys.executable, "-c", idle, sys.argv[1]]) for _ in range(24)]
    kids += [subprocess.Popen(["sleep", sys.argv[1]]) for _ in range(25)]
    for k in kids:
        k.wait()
    """
)

BURN = textwrap.dedent(
    """
    import multiprocessing, sys
    def work(n):
        x = 0
        for i in range(n):
            x += i * i
        return x
    if __name__ == "__main__":
        with multiprocessing.Pool(int(sys.argv[1])) as pool:
            pool.map(work, [int(sys.argv[2])] * int(sys.argv[1]) * 2)
    """
)


def bench_overhead(pairs: int = 10) -> None:
    print("== 2. Overhead ==")
    seconds = 30.0
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_SELF)
        run = _session(tmp, 1.0).run([PY, "-c", FIFTY, str(seconds)])
        after = resource.getrusage(resource.RUSAGE_SELF)
        lines = (Path(tmp) / ".telemetry" / "memory-samples.log").read_text().splitlines()
        cpu_log = [json.loads(line) for line in (Path(tmp) / ".telemetry" / "cpu-samples.log").open()]
    processes = max(json.loads(line)["processes"] for line in lines)
    # Steady state: from the 5th tick (the tree is up, nobody is young) to the last.
    steady = [r for r in cpu_log if "telemetry_cpu_seconds" in r][4:]
    steady_share = (
        100
        * (steady[-1]["telemetry_cpu_seconds"] - steady[0]["telemetry_cpu_seconds"])
        / (steady[-1]["timestamp"] - steady[0]["timestamp"])
    )
    session_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    share = 100 * run.telemetry_cpu_seconds / run.duration_seconds
    print(
        f"sampler thread CPU, {processes}-process tree, 1 s interval, {run.duration_seconds:.0f} s: "
        f"{run.telemetry_cpu_seconds:.3f} s = {share:.2f} % of one core "
        f"(steady state, after the tree started: {steady_share:.2f} %)"
    )
    print(
        f"  (whole session process, incl. output pump and waiting: "
        f"{100 * session_cpu / run.duration_seconds:.2f} %)"
    )
    # Paired runs, alternating which goes first, of a build that keeps every core busy.
    cores = len(os.sched_getaffinity(0))
    argv = [PY, "-c", BURN, str(cores), "12000000"]
    plain: list[float] = []
    monitored: list[float] = []
    stolen: list[float] = []  # sampling CPU per second of build, monitored runs
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(pairs):
            for enabled in (False, True) if i % 2 == 0 else (True, False):
                start = time.monotonic()
                result = _session(tmp, 1.0, enabled=enabled).run(argv)
                (monitored if enabled else plain).append(time.monotonic() - start)
                if enabled:
                    stolen.append(result.telemetry_cpu_seconds / result.duration_seconds)
    ratios = [m / p for m, p in zip(monitored, plain, strict=True)]
    print(
        f"CPU-bound build on {cores} cores, {pairs} alternating pairs: "
        f"unmonitored median {statistics.median(plain):.2f} s, "
        f"monitored median {statistics.median(monitored):.2f} s"
    )
    print(
        f"  ratio of medians {statistics.median(monitored) / statistics.median(plain):.3f}, "
        f"median of pair ratios {statistics.median(ratios):.3f}, "
        f"ratio of totals {sum(monitored) / sum(plain):.3f}; pairs: {', '.join(f'{r:.3f}' for r in ratios)}"
    )
    # What the wall-time pairs cannot resolve on a noisy machine: the CPU the sampler took
    # from a build that had every core busy bounds the slowdown it can cause.
    bound = 1 + statistics.mean(stolen) / cores
    print(
        f"  sampler CPU during the monitored builds: {100 * statistics.mean(stolen):.2f} % of one core, "
        f"so the slowdown is at most {bound:.4f}x on {cores} busy cores"
    )
    print()


class _Served:
    total = 0


def bench_network() -> None:
    print("== 3. Network ==")
    size = 50 * MB
    payload = os.urandom(MB)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            for _ in range(size // MB):
                self.wfile.write(payload)
                _Served.total += MB

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/blob"
    code = f"import urllib.request\nr = urllib.request.urlopen({url!r})\nwhile r.read(1 << 20): pass"
    with tempfile.TemporaryDirectory() as tmp:
        run = _session(tmp, 1.0).run([PY, "-c", code])
    server.shutdown()
    server.server_close()
    net = run.network
    print(
        f"served {_Served.total} bytes; reported downloaded {net.bytes_downloaded} on {net.interface!r} "
        f"({_pct(net.bytes_downloaded, _Served.total).strip()}), uploaded {net.bytes_uploaded}, "
        f"connections seen in the tree's sockets {net.connection_count}, "
        f"TCP connections opened in the namespace {net.tcp_connections_opened}"
    )
    print(f"per interface (rx, tx): {dict(net.per_interface)}")
    if net.interface == "lo":
        print("(on loopback every packet is sent and received, so both directions show the same bytes)")
    print()


def main(argv: list[str]) -> int:
    wanted = set(argv) or {"overhead", "network"}
    print(
        f"python {sys.version.split()[0]}, {os.uname().sysname} {os.uname().release}, "
        f"cores {os.cpu_count()}\n"
    )
    if "network" in wanted:
        bench_network()
    if "overhead" in wanted:
        bench_overhead()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
