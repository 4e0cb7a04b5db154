#!/usr/bin/env python3
"""``make demo``: run the action's entrypoint on the embedded demo release, as the runner would.

The entrypoint gets the same environment GitHub's runner gives the container:
``INPUT_*`` variables (hyphens kept), ``GITHUB_WORKSPACE``, and files for
``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY``. Everything lands in ``demo-out/``:

    demo-out/*.deb                   the packages (amd64, arm64, armhf × bookworm, trixie)
    demo-out/build-summary.json      the run's result and telemetry block
    demo-out/.telemetry/             metrics.json, samples, stages, metrics.prom, baseline.json
    demo-out/job-summary.md          the job summary GitHub would render
    demo-out/github-output.txt       the step outputs, in the runner's file format

No network is used: the release assets come from ``examples/demo/release`` and
the GitHub API URL points at a closed local port, so an accidental API call
fails at once instead of reaching out. The baseline is kept between runs, so a
second ``make demo`` compares itself with the first.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = Path(__file__).resolve().parent
OUT = ROOT / "demo-out"
TELEMETRY = OUT / ".telemetry"


def clean_output() -> None:
    """Fresh output for every run, except the saved baseline (so run two compares with run one)."""
    baseline = TELEMETRY / "baseline.json"
    kept = baseline.read_bytes() if baseline.is_file() else None
    shutil.rmtree(OUT, ignore_errors=True)
    TELEMETRY.mkdir(parents=True)
    if kept is not None:
        baseline.write_bytes(kept)


def runner_environment(outputs: Path, summary: Path) -> dict[str, str]:
    # Start from the caller's environment without any INPUT_* or token it may carry.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INPUT_", "GITHUB_", "RUNNER_"))
        and k not in ("TELEMETRY_ENABLED", "TELEMETRY_DIR")
    }
    inputs = {
        "config-file": "examples/demo/package.yaml",
        "version": "v1.0.0",
        "build-version": "1",
        "architecture": "all",
        "assets-dir": "examples/demo/release",
        "output-dir": "demo-out",
        "telemetry-dir": "demo-out/.telemetry",
        "lintian-check": "true" if shutil.which("lintian") else "false",
        "sample-interval": "0.25",
        "save-baseline": "true",
        "github-token": "",
    }
    env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
    env.update(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(ROOT),
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_STEP_SUMMARY": str(summary),
            # Port 9 (discard) on loopback: nothing listens, so any API call fails immediately.
            "GITHUB_API_URL": "http://127.0.0.1:9",
            "GITHUB_SERVER_URL": "http://127.0.0.1:9",
            # Reproducible packages: the same demo gives byte-identical .deb files.
            "SOURCE_DATE_EPOCH": "1735689600",
        }
    )
    return env


def try_the_amd64_package(packages: list[str]) -> str | None:
    """Unpack the amd64 package and run its binary, when this machine can."""
    amd64 = [p for p in packages if p.endswith("_amd64.deb")]
    if not amd64 or not shutil.which("dpkg-deb") or platform.machine() != "x86_64":
        return None
    with tempfile.TemporaryDirectory() as root:
        subprocess.run(["dpkg-deb", "-x", str(ROOT / amd64[0]), root], check=True)
        run = subprocess.run(
            [str(Path(root) / "usr/bin/hello-demo")], capture_output=True, text=True, check=False
        )
        return run.stdout.strip() or run.stderr.strip()


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from action.outputs import parse_output_file

    clean_output()
    outputs = OUT / "github-output.txt"
    summary = OUT / "job-summary.md"
    outputs.touch()
    summary.touch()
    print(f"Running the action's entrypoint on the demo release ({DEMO.relative_to(ROOT)}/release) ...\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py")],
        cwd=ROOT,
        env=runner_environment(outputs, summary),
        check=False,
    )
    values = parse_output_file(outputs.read_text(encoding="utf-8"))
    packages = values.get("packages", "").split()

    print("\n" + "=" * 72)
    print(f"build-status: {values.get('build-status', '?')}   (entrypoint exit status {proc.returncode})")
    if values.get("failure-category"):
        print(f"failure-category: {values['failure-category']}")
    print(f"\nPackages ({len(packages)}):")
    for path in packages:
        print(f"  {path}  ({(ROOT / path).stat().st_size} bytes)")
    print(f"\nBuild summary:   {values.get('build-summary', '')}")
    print(f"Telemetry:       {values.get('telemetry-dir', '')}/  (metrics.json, samples, metrics.prom)")
    print(
        f"Job summary:     {summary.relative_to(ROOT)}  (Markdown with Mermaid charts, as GitHub renders it)"
    )
    print(f"Step outputs:    {outputs.relative_to(ROOT)}")
    print(
        f"\nHeadline: {values.get('build-duration-seconds', '?')} s, peak memory "
        f"{values.get('peak-memory-mb', '?')} MB, performance score {values.get('performance-score', '?')}"
        f", regressions {values.get('performance-regressions', '[]')}"
    )
    if values.get("regression-detected") == "true":
        print("  (compared with the previous `make demo`, saved as the baseline; a busy machine is slower)")
    greeting = try_the_amd64_package(packages)
    if greeting:
        print(f"\nThe amd64 package's binary says: {greeting}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
