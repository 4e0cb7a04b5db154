#!/usr/bin/env python3
"""How the join of a matrix scales: 50 legs, 600 packages, joined by ``mode: aggregate``.

Lays out ``--legs`` legs as ``actions/download-artifact`` writes them (one folder per artifact),
each with its build-summary.json, ``--packages`` / ``--legs`` small .deb-named files (their real
sizes and sha256 recorded, as a leg records them) and a metrics.json (the telemetry golden file
with the leg's own start time and stages), then runs the entrypoint with ``mode: aggregate`` as
a subprocess, the way the action runs, ``--runs`` times. Prints, side by side:

- wall time of the whole step (interpreter start to exit; target < 5 s), its median and range;
- the size of the job summary it wrote (target < 1 MiB, GitHub's limit for a step summary) and
  of the combined build-summary.json;
- what the step joined (packages, legs, status), checked against what was laid out.

    .venv/bin/python bench/aggregate_bench.py [--legs 50] [--packages 600] [--runs 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "telemetry" / "golden" / "success" / "metrics.json"
ARCHES = ("amd64", "arm64", "armhf", "armel", "i386", "ppc64el", "s390x", "riscv64", "loong64")
SUITES = ("bullseye", "bookworm", "trixie", "forky", "sid")
SUMMARY_LIMIT = 1024 * 1024
TARGET_SECONDS = 5.0


def _cells(legs: int, packages: int) -> list[list[tuple[str, str, str]]]:
    """Each leg's (arch, suite, extra) package cells: arch × suite first, then extra variants."""
    cells = [(arch, suite, f"{n}") for n in range(packages) for arch in ARCHES for suite in SUITES]
    cells = cells[:packages]
    per_leg = [cells[i::legs] for i in range(legs)]
    return per_leg


def _metrics(index: int, start: float, stages: int = 8) -> dict[str, object]:
    document: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    session = document["build_session"]
    duration = 60.0 + 7 * (index % 13)
    session.update(start_timestamp=start, end_timestamp=start + duration, duration_seconds_exact=duration)
    document["memory_metrics"]["peak_usage_mb_exact"] = 100.0 + index
    build = document["build_metrics"]
    template = build["build_stages"][0]
    build["build_stages"] = [{**template, "name": f"stage_{n}"} for n in range(stages)]
    return document


def lay_out(base: Path, legs: int, packages: int) -> int:
    """Write the legs under ``base``; returns how many packages they hold."""
    written = 0
    start = time.time() - 3600
    for index, cells in enumerate(_cells(legs, packages)):
        leg = base / f"debs-leg{index:03d}"
        (leg / "dist").mkdir(parents=True)
        (leg / ".telemetry").mkdir()
        rows = []
        for arch, suite, n in cells:
            name = f"tool_1.0.0-1+{suite}.{n}_{arch}.deb"
            data = f"{name}\n".encode() * 64
            (leg / "dist" / name).write_bytes(data)
            rows.append(
                {
                    "path": f"dist/{name}",
                    "arch": arch,
                    "suite": suite,
                    "version": f"1.0.0-1+{suite}.{n}",
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "lintian": {"errors": 0, "warnings": 0, "info": 0, "tags": []},
                }
            )
        written += len(rows)
        metrics = _metrics(index, start + 3 * index)
        (leg / ".telemetry" / "metrics.json").write_text(json.dumps(metrics))
        summary = {
            "schema": 1,
            "package": "tool",
            "version": "1.0.0",
            "tag": "v1.0.0",
            "build_version": "1",
            "status": "success",
            "packages": rows,
            "failed": [],
            "skipped": [],
            "error": None,
            "telemetry": {
                "build_duration_seconds": 60,
                "peak_memory_mb": 100,
                "network_downloaded_bytes": 0,
                "network_uploaded_bytes": 0,
                "failure_category": "",
                "performance_regressions": [],
                "telemetry_dir": ".telemetry",
            },
        }
        (leg / "dist" / "build-summary.json").write_text(json.dumps(summary))
    return written


def run_once(workspace: Path) -> tuple[float, int, dict[str, object]]:
    files = workspace.parent / "files"
    files.mkdir(exist_ok=True)
    output, step_summary = files / "output", files / "summary"
    output.write_text("")
    step_summary.write_text("")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))},
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(step_summary),
        "INPUT_MODE": "aggregate",
        "INPUT_AGGREGATE-DIR": "legs",
        "INPUT_OUTPUT-DIR": "joined",
    }
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py")],
        cwd=workspace,
        env=env,
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(
            f"the aggregate step failed ({done.returncode}):\n{done.stdout.decode()}\n{done.stderr.decode()}"
        )
    summary = json.loads((workspace / "joined" / "build-summary.json").read_text())
    return wall, len(step_summary.read_bytes()), summary


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--legs", type=int, default=50)
    parser.add_argument("--packages", type=int, default=600)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aggregate-bench-") as tmp:
        workspace = Path(tmp) / "workspace"
        (workspace / "legs").mkdir(parents=True)
        laid = lay_out(workspace / "legs", args.legs, args.packages)
        walls: list[float] = []
        for _ in range(args.runs):
            wall, summary_bytes, summary = run_once(workspace)
            walls.append(wall)
        joined_bytes = (workspace / "joined" / "build-summary.json").stat().st_size
    packages = summary["packages"]
    legs = summary["legs"]
    assert isinstance(packages, list) and isinstance(legs, list)
    median = statistics.median(walls)
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.runs} runs")
    print(f"{'figure':<44}{'measured':>16}{'target':>12}")
    print(f"{'step wall time, median (s)':<44}{median:>16.2f}{'< 5':>12}")
    print(f"{'step wall time, range (s)':<44}{f'{min(walls):.2f}-{max(walls):.2f}':>16}{'':>12}")
    print(f"{'job summary (KiB)':<44}{summary_bytes / 1024:>16.1f}{'< 1024':>12}")
    print(f"{'combined build-summary.json (KiB)':<44}{joined_bytes / 1024:>16.1f}{'':>12}")
    print(f"{'packages joined / laid out':<44}{f'{len(packages)} / {laid}':>16}{'':>12}")
    print(f"{'legs joined / laid out':<44}{f'{len(legs)} / {args.legs}':>16}{'':>12}")
    print(f"{'status':<44}{summary['status']!s:>16}{'success':>12}")
    ok = (
        median < TARGET_SECONDS
        and summary_bytes < SUMMARY_LIMIT
        and len(packages) == laid
        and len(legs) == args.legs
        and summary["status"] == "success"
    )
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
