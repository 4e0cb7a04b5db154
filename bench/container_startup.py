#!/usr/bin/env python3
"""What the container costs a workflow: image build time, image size, and start-up latency.

Prints, measured in one run on this machine:

- the cold build of the repo's Dockerfile (``--no-cache``; the base image cached, which is what
  a GitHub runner has after its first pull), ``--builds`` times, with the machine's load average
  before and after each build (wall time: a busy machine inflates it) and the CPU seconds the
  build used (much less sensitive to other load);
- the image size (podman's figure, uncompressed) and the size a pull of the image downloads:
  the gzip-compressed layers, as ``podman image save --format docker-dir --compress`` writes them
  (what a registry push stores), in total and without the base image's layer;
- start-up: from the container's start (the runtime's ``StartedAt``) to the build subprocess's
  first instruction, for a ``command:`` build that records ``$EPOCHREALTIME`` as its very first
  act (bash's builtin clock: no exec in between), with telemetry on and off; plus podman's own
  launch overhead (``podman run`` to ``StartedAt``) for comparison;
- the entrypoint's own figure ("build starts N s after the entrypoint started"), which leaves out
  the interpreter's start;
- for the built-in builder on the demo release (``assets-dir``, no network): container start to
  the builder's first stage event, read from the stage event channel the build wrote
  (``.telemetry/events.jsonl``, float timestamps), i.e. including the builder's own imports and
  config loading.

Needs root, podman, runc and debootstrap (see /work/shared/CONTAINERS.md):

    .venv/bin/python bench/container_startup.py [--runs 5] [--builds 3] [--no-build] [--build-only]
        [--tag IMAGE] [--context DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from contracts.vocabulary import DEFAULT_TELEMETRY_DIR, EVENTS_FILE, EventType  # noqa: E402
from tests.e2e.image import (  # noqa: E402  (the repo root must be on sys.path first)
    BASE_IMAGE,
    RunnerDirs,
    build_image,
    ensure_base_image,
    image_exists,
    image_size,
    run_action,
)

BENCH_IMAGE = "localhost/debian-multiarch-builder:bench"
MARKER = ".subprocess-started"
# The build's first act: write bash's own wall clock, without spawning anything.
COMMAND = f'echo "$EPOCHREALTIME" > {MARKER}'
_ENTRYPOINT_LINE = re.compile(r"build starts ([0-9.]+) s after the entrypoint started")
DEMO = ROOT / "examples" / "demo"


@dataclass(frozen=True)
class StartSample:
    launch_to_started: float  # podman run -> runtime's StartedAt (podman/runc, not ours)
    started_to_subprocess: float  # StartedAt -> the build's first instruction (ours)
    entrypoint_internal: float | None  # the entrypoint's own log line


def measure_start(image: str, telemetry: bool) -> StartSample:
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        dirs = RunnerDirs.create(Path(tmp))
        run = run_action(
            image,
            dirs,
            inputs={"command": COMMAND, "telemetry-enabled": "true" if telemetry else "false"},
            # Nothing is fetched; a closed port makes any accidental request fail fast.
            api_url="http://127.0.0.1:9",
            record_start=True,
            timeout=120,
        )
        if run.returncode != 0:
            raise SystemExit(f"container step failed:\n{run.describe()}")
        if run.container_started_at is None:
            raise SystemExit("podman did not report the container's start time")
        subprocess_started = float((dirs.workspace / MARKER).read_text().strip().replace(",", "."))
        match = _ENTRYPOINT_LINE.search(run.stdout)
        return StartSample(
            launch_to_started=run.container_started_at - run.launched_at,
            started_to_subprocess=subprocess_started - run.container_started_at,
            entrypoint_internal=float(match.group(1)) if match else None,
        )


def measure_builder_start(image: str) -> float:
    """Container start to the built-in builder's first stage event, on the demo release."""
    with tempfile.TemporaryDirectory(prefix="startup-builder-") as tmp:
        dirs = RunnerDirs.create(Path(tmp))
        shutil.copy(DEMO / "package.yaml", dirs.workspace / "package.yaml")
        shutil.copytree(DEMO / "release", dirs.workspace / "release")
        run = run_action(
            image,
            dirs,
            inputs={"version": "v1.0.0", "assets-dir": "release", "distributions": "trixie"},
            api_url="http://127.0.0.1:9",
            record_start=True,
            timeout=300,
        )
        if run.returncode != 0 or run.container_started_at is None:
            raise SystemExit(f"demo build failed:\n{run.describe()}")
        events = (dirs.workspace / DEFAULT_TELEMETRY_DIR / EVENTS_FILE).read_text().splitlines()
        starts = [float(e["time"]) for e in map(json.loads, events) if e.get("type") == EventType.STAGE_START]
        if not starts:
            raise SystemExit("no stage event in the telemetry folder")
        return min(starts) - run.container_started_at


def compressed_layers(image: str) -> list[int]:
    """The sizes of the image's layers gzip-compressed, as a push uploads and a pull downloads them."""
    with tempfile.TemporaryDirectory(prefix="image-save-") as tmp:
        out = Path(tmp) / "image"
        subprocess.run(
            ["podman", "image", "save", "--format", "docker-dir", "--compress", "-o", str(out), image],
            check=True,
            capture_output=True,
        )
        manifest = json.loads((out / "manifest.json").read_text())
    return [int(layer["size"]) for layer in manifest["layers"]]


def _children_cpu() -> float:
    """CPU seconds of every finished child process (podman, runc and what the build ran)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (5 min {five:.2f})"


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="container starts per variant")
    parser.add_argument("--builds", type=int, default=1, help="cold builds to time (median reported)")
    parser.add_argument("--no-build", action="store_true", help="reuse the bench image if it exists")
    parser.add_argument("--build-only", action="store_true", help="skip the start-up measurements")
    parser.add_argument("--tag", default=BENCH_IMAGE, help="image to build and measure")
    parser.add_argument(
        "--context", type=Path, default=ROOT, help="build context holding the Dockerfile (A/B comparisons)"
    )
    args = parser.parse_args()
    image = args.tag

    base_cached = image_exists(BASE_IMAGE)
    ensure_base_image()
    print(f"base image {BASE_IMAGE}: {'cached' if base_cached else 'made with debootstrap now'}")

    if args.no_build and image_exists(image):
        print(f"image build: skipped (--no-build), reusing {image}")
    else:
        seconds: list[float] = []
        for n in range(1, args.builds + 1):
            before, cpu = _load(), _children_cpu()
            built = build_image(image, context=args.context, no_cache=True)
            seconds.append(built.seconds)
            print(f"image build {n} (cold, --no-cache, base cached): {built.seconds:.1f} s")
            print(f"  CPU {_children_cpu() - cpu:.1f} s (podman and the build's processes)")
            print(f"  before: {before}; after: {_load()}")
        if len(seconds) > 1:
            print(f"image build, {len(seconds)} runs: {_median(seconds)}")
    size = image_size(image)
    print(f"image size: {size / 1e6:.1f} MB ({size} bytes)")
    layers = compressed_layers(image)
    print(
        f"compressed (a pull's download): {sum(layers) / 1e6:.1f} MB in {len(layers)} layers, "
        f"{sum(layers[1:]) / 1e6:.1f} MB without the base image's layer"
    )
    if args.build_only:
        return 0

    # One throwaway start first: the first run after a build pays for page-cache misses.
    measure_start(image, telemetry=True)
    for telemetry in (True, False):
        samples = [measure_start(image, telemetry) for _ in range(args.runs)]
        label = "telemetry on " if telemetry else "telemetry off"
        print(f"\nstart-up, {label} ({args.runs} runs, median):")
        print(
            f"  container start -> build subprocess : {_median([s.started_to_subprocess for s in samples])}"
        )
        internal = [s.entrypoint_internal for s in samples if s.entrypoint_internal is not None]
        if internal:
            print(f"  of which inside the entrypoint's main: {_median(internal)}")
        print(f"  podman run -> container start (podman): {_median([s.launch_to_started for s in samples])}")

    builder = [measure_builder_start(image) for _ in range(args.runs)]
    print(f"\nbuilt-in builder, demo release ({args.runs} runs, median):")
    print(f"  container start -> first stage event  : {_median(builder)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
