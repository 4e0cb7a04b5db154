"""Benchmark: the uv 0.5.11 matrix (6 arches x bookworm, trixie, forky, sid = 24 packages).

Measured in one run, side by side:

(a) our build: ``python -m multiarch build`` from the release folder (cold download cache);
(b) what a straightforward builder pays: the same 24 packages made one at a time with
    ``dpkg-deb --root-owner-group --build -Zxz`` from staged trees (the trees are unpacked from
    our packages, so both build exactly the same contents; staging is not timed);
(c) the physical limit: xz -6 of each arch's unique payload (its data.tar) once, spread over
    all cores: one ``xz -6 -T1`` process per arch, as many at a time as there are cores, largest
    first (``--c-threaded`` also times ``xz -6 -T<cores>`` per payload one after the other, which
    was slower here: 404 s against 214 s; the faster of the two is (c)).

CPU seconds are printed beside wall times: on a shared machine the wall times follow the load.

Targets: a <= 1.25 x c and b / a >= 4; peak memory of (a) under 1 GiB.

    .venv/bin/python bench/multiarch_bench.py [--b-sample N] [--keep DIR]

``--b-sample N`` times only N of the 24 dpkg-deb builds (spread over the arches) and scales the
sum up to 24 (printed as an estimate); the default builds all 24.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.uv_release import uv_release  # noqa: E402

SUITES = "bookworm,trixie,forky,sid"


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_ours(release: Path, out: Path, cache: Path) -> tuple[float, float, int, dict[str, object]]:
    """Wall seconds, CPU seconds, peak RSS (KiB) of the builder process, and its result file."""
    env = dict(os.environ)
    env.pop("MULTIARCH_XZ_PRESET", None)
    env.pop("TELEMETRY_EVENTS_FILE", None)
    env["SOURCE_DATE_EPOCH"] = "1734653444"
    env["PYTHONPATH"] = str(ROOT)
    cmd = [
        sys.executable,
        "-m",
        "multiarch",
        "build",
        "--config",
        str(ROOT / "examples/uv/package.yaml"),
        "--version",
        "0.5.11",
        "--distributions",
        SUITES,
        "--assets-dir",
        str(release),
        "--output-dir",
        str(out),
        "--cache-dir",
        str(cache),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"our build failed ({proc.returncode}): {err}")
    result = json.loads((out / ".multiarch-result.json").read_text())
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, result


def stage_trees(debs: list[Path], dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    trees = []
    for deb in debs:
        tree = dest / deb.stem
        subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True)
        trees.append(tree)
    return trees


def run_dpkg_deb(trees: list[Path], out: Path, sample: int | None) -> tuple[float, int, bool]:
    """Sum of sequential dpkg-deb wall times (scaled to all trees when sampling)."""
    chosen = trees
    if sample is not None and sample < len(trees):
        step = len(trees) / sample
        chosen = [trees[int(i * step)] for i in range(sample)]
    total = 0.0
    size = 0
    for tree in chosen:
        target = out / f"{tree.name}.deb"
        start = time.perf_counter()
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(target)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        total += time.perf_counter() - start
        size += target.stat().st_size
    scale = len(trees) / len(chosen)
    return total * scale, int(size * scale), len(chosen) != len(trees)


def payloads(debs_by_arch: dict[str, Path], dest: Path) -> list[Path]:
    out = []
    for arch, deb in sorted(debs_by_arch.items()):
        target = dest / f"payload-{arch}.tar"
        with open(target, "wb") as fh:
            subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, stdout=fh)
        out.append(target)
    return out


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def xz_parallel_processes(files: list[Path], n: int) -> float:
    ordered = sorted(files, key=lambda p: p.stat().st_size, reverse=True)

    def one(path: Path) -> None:
        subprocess.run(["xz", "-6", "-T1", "-c", str(path)], check=True, stdout=subprocess.DEVNULL)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(one, ordered))
    return time.perf_counter() - start


def xz_threaded(files: list[Path], n: int) -> float:
    start = time.perf_counter()
    for path in files:
        subprocess.run(["xz", "-6", f"-T{n}", "-c", str(path)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--b-sample", type=int, default=None, help="time only N dpkg-deb builds and scale")
    parser.add_argument("--keep", type=Path, default=None, help="keep the work folder here")
    parser.add_argument("--c-threaded", action="store_true", help="also time xz -T<cores> per payload")
    args = parser.parse_args()
    for tool in ("dpkg-deb", "xz"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is required")

    n = cores()
    release = uv_release("0.5.11")
    work = args.keep or Path(tempfile.mkdtemp(prefix="multiarch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"uv 0.5.11, 6 arches x {SUITES} = 24 packages; {n} cores; work folder {work}", flush=True)
    try:
        print("(a) our build ...", flush=True)
        out_a = work / "ours"
        a, a_cpu, peak_kib, result = run_ours(release, out_a, work / "cache")
        jobs = result["jobs"]
        assert isinstance(jobs, list)
        debs = [Path(j["package_path"]) for j in jobs if j["status"] == "success"]
        if len(debs) != 24:
            raise SystemExit(f"expected 24 packages, got {len(debs)}")
        size_a = sum(p.stat().st_size for p in debs)
        print(
            f"    {a:.1f} s ({a_cpu:.1f} CPU s), {size_a / 1e6:.1f} MB, peak RSS {peak_kib / 1024:.0f} MiB",
            flush=True,
        )

        print("(c) xz -6 of each arch's payload once ...", flush=True)
        by_arch = {j["arch"]: Path(j["package_path"]) for j in jobs if j["suite"] == "bookworm"}
        files = payloads(by_arch, work)
        payload_bytes = sum(p.stat().st_size for p in files)
        cpu0 = children_cpu()
        c_proc = xz_parallel_processes(files, n)
        c_cpu = children_cpu() - cpu0
        print(f"    one xz -T1 per arch, {n} at a time: {c_proc:.1f} s ({c_cpu:.1f} CPU s)", flush=True)
        c_thr = float("inf")
        if args.c_threaded:
            c_thr = xz_threaded(files, n)
            print(f"    xz -T{n} per arch, one after another: {c_thr:.1f} s", flush=True)
        c = min(c_proc, c_thr)

        print("(b) 24 x dpkg-deb --build -Zxz, one at a time ...", flush=True)
        trees = stage_trees(debs, work / "trees")
        out_b = work / "dpkg-deb"
        out_b.mkdir(exist_ok=True)
        cpu0 = children_cpu()
        b, size_b, sampled = run_dpkg_deb(trees, out_b, args.b_sample)
        b_cpu = (children_cpu() - cpu0) * (24 / min(24, args.b_sample or 24))
        print(f"    {b:.1f} s ({b_cpu:.1f} CPU s)", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    est = " (sampled)" if sampled else ""
    print()
    print(f"{'':52} {'wall s':>8} {'CPU s':>8} {'output MB':>10}")
    print(f"{'(a) our build':52} {a:8.1f} {a_cpu:8.1f} {size_a / 1e6:10.1f}")
    print(f"{'(b) 24 x dpkg-deb -Zxz, sequential' + est:52} {b:8.1f} {b_cpu:8.1f} {size_b / 1e6:10.1f}")
    print(f"{'(c) xz -6 of unique payloads, all cores':52} {c:8.1f} {c_cpu:8.1f}")
    if args.c_threaded:
        print(f"{'    xz -T' + str(n) + ' per arch, one after another':52} {c_thr:8.1f}")
    print(f"{'    payload (uncompressed data.tar, 6 arches)':52} {'':8} {'':8} {payload_bytes / 1e6:10.1f}")
    print()
    ok_ac = a <= 1.25 * c
    ok_ba = b / a >= 4
    ok_mem = peak_kib < 1024 * 1024
    print(f"a / c = {a / c:.2f}  (target <= 1.25: {'met' if ok_ac else 'NOT met'})")
    print(f"b / a = {b / a:.1f}  (target >= 4: {'met' if ok_ba else 'NOT met'})")
    # On a shared machine wall times follow the load; CPU seconds show the work itself.
    print(f"CPU seconds: a / c = {a_cpu / c_cpu:.2f}, b / a = {b_cpu / a_cpu:.1f}")
    verdict = "met" if ok_mem else "NOT met"
    print(f"peak memory of our build (ru_maxrss) = {peak_kib / 1024:.0f} MiB  (target < 1024: {verdict})")
    return 0 if ok_ac and ok_ba and ok_mem else 1


if __name__ == "__main__":
    sys.exit(main())
