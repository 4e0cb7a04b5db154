"""The peak-memory headline on unified cgroup v2, against a truth known by construction.

Two layouts, each with the shapes of tests/support/memory_shapes.py (smaller than on the
host: code runs ~15x slower here): the build's own cgroup (the test process sits in a leaf
under a parent that delegates memory, so the session makes the build's cgroup a sibling of
its own), and a Docker action's container (podman: private cgroup namespace, /sys/fs/cgroup
read-only, entrypoint and build in one cgroup, the entrypoint's share taken out).
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from telemetry.session import Session, SessionOptions
from tests.cgroup2.inside.layouts import DelegatedParent, run_in_container
from tests.support import memory_shapes

SHAPES = (
    memory_shapes.cow_forks(64, forks=2, hold=2.0),
    memory_shapes.shared_file_readers(32, readers=3, hold=2.0),
    memory_shapes.file_io(128),
    memory_shapes.grandchild_spike(100, hold=0.1, start=1.3),
    memory_shapes.concurrent_workers(32, workers=3, hold=1.5),
    memory_shapes.one_after_another(32, count=6),
)


def _measure(shape: memory_shapes.Shape, work: Path) -> dict[str, Any]:
    options = SessionOptions(telemetry_dir=work / "telemetry", sample_interval=1.0, output_path=str(work))
    run = Session(options, output=io.BytesIO()).run(argv=[sys.executable, "-c", shape.code, str(work)])
    return {
        "exit_code": run.outcome.exit_code,
        "peak_mb": run.memory.peak_mb,
        "layout": run.memory.layout,
        "figures": {f.source: f.value_mb for f in run.memory.figures},
    }


def _check(shape: memory_shapes.Shape, result: dict[str, Any], layout: str) -> None:
    assert result["exit_code"] == 0, result
    assert result["layout"] == layout, result
    low, high = shape.band
    assert low <= result["peak_mb"] <= high, (shape.name, result)
    assert result["figures"]["tree_rss_sum"] >= shape.rss_sum_mb * 0.95, result


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name.replace(" ", "-"))
def test_the_builds_own_cgroup(
    shape: memory_shapes.Shape, delegated: DelegatedParent, tmp_path: Path
) -> None:
    result = _measure(shape, tmp_path)
    _check(shape, result, "dedicated")
    assert "cgroup_resident" in result["figures"], result


# Run inside the container: every shape through the session, one JSON line each.
_IN_CONTAINER = r"""
import json, sys, tempfile
from pathlib import Path
from tests.cgroup2.inside.test_memory_truth import SHAPES, _measure
for shape in SHAPES:
    with tempfile.TemporaryDirectory() as work:
        print(json.dumps({"name": shape.name, **_measure(shape, Path(work))}), flush=True)
"""


@pytest.fixture(scope="module")
def in_container() -> dict[str, dict[str, Any]]:
    proc = run_in_container(_IN_CONTAINER, method="podman", timeout=600)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {r["name"]: r for r in results}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name.replace(" ", "-"))
def test_a_docker_actions_container(
    shape: memory_shapes.Shape, in_container: dict[str, dict[str, Any]]
) -> None:
    assert shape.name in in_container, sorted(in_container)
    _check(shape, in_container[shape.name], "container")
