"""telemetry.cgroup in a Docker container action's layout on GitHub's ubuntu runner (inside the VM).

The action's entrypoint (here: a Python snippet) runs in the container's cgroup together with
the build it starts; the container has a private cgroup namespace and ``/sys/fs/cgroup``
mounted read-only with the container's cgroup as its root. See layouts.run_in_container: the
tests use podman (as close to Docker as this machine gets: runc, entrypoint as pid 1); the
``unshare`` layout is checked to look the same from inside.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.cgroup2.inside.layouts import CONTAINER_METHODS, run_in_container

# Run inside the container: what the entrypoint sees of its cgroup.
FACTS = r"""
import json, os, uuid
from telemetry.cgroup import CgroupView, DedicatedCgroup

view = CgroupView.current()
reading = view.read() if view is not None else None
try:
    group = DedicatedCgroup.create("probe-" + uuid.uuid4().hex[:8])
    created, create_error = (None if group is None else group.directory), None
    if group is not None:
        group.remove()
except Exception as exc:
    created, create_error = None, repr(exc)
try:
    os.mkdir("/sys/fs/cgroup/probe-" + uuid.uuid4().hex[:8])
    mkdir_error = None
except OSError as exc:
    mkdir_error = exc.errno
mounts = []
for line in open("/proc/self/mountinfo"):
    left, _, right = line.partition(" - ")
    if right.split()[0] == "cgroup2":
        fields = left.split()
        mounts.append({"root": fields[3], "mount_point": fields[4], "options": fields[5].split(",")})
print(json.dumps({
    "pid": os.getpid(),
    "proc_self_cgroup": open("/proc/self/cgroup").read().strip(),
    "mounts": mounts,
    "view": None if view is None else {
        "version": view.version, "directory": view.directory, "dedicated": view.dedicated,
        "pids": view.pids(),
    },
    "reading": None if reading is None else {
        "usage_bytes": reading.usage_bytes, "peak_bytes": reading.peak_bytes,
        "peak_was_reset": reading.peak_was_reset,
    },
    "created": created,
    "create_error": create_error,
    "mkdir_errno": mkdir_error,
}))
"""

# Run inside the container: a monitored 150 MiB build, as the entrypoint runs one.
SESSION = r"""
import json, sys, tempfile
from pathlib import Path
from telemetry.session import Session, SessionOptions

build = (
    "b = bytearray(150 * 1024 * 1024)\n"
    "for i in range(0, len(b), 4096):\n"
    "    b[i] = 1\n"
    "import time\n"
    "time.sleep(1)\n"
)
telemetry_dir = Path(tempfile.mkdtemp()) / "telemetry"
options = SessionOptions(telemetry_dir=telemetry_dir, sample_interval=0.2, echo_output=False)
run = Session(options).run(argv=[sys.executable, "-c", build])
samples = telemetry_dir / "memory-samples.log"
print(json.dumps({
    "exit_code": run.outcome.exit_code,
    "peak_mb": run.memory.peak_mb,
    "peak_source": run.memory.peak_source,
    "sample_lines": len(samples.read_text().splitlines()) if samples.exists() else None,
    "logs": sorted(p.name for p in telemetry_dir.iterdir()),
    "sampler_errors": list(run.sampler_errors),
}))
"""


def _json_result(code: str, method: str) -> dict[str, Any]:
    proc = run_in_container(code, method=method)
    output = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, f"{method} exit {proc.returncode}\n{output}"
    lines = proc.stdout.strip().splitlines()
    assert lines, f"{method}: no output\nstderr:\n{proc.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@pytest.fixture(scope="module", params=CONTAINER_METHODS)
def facts(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _json_result(FACTS, request.param)


def test_the_layout_is_a_docker_container(facts: dict[str, Any]) -> None:
    assert facts["proc_self_cgroup"] == "0::/"
    visible = [m for m in facts["mounts"] if m["mount_point"] == "/sys/fs/cgroup"]
    assert visible, facts["mounts"]
    top = visible[-1]  # the last mount on a mount point is the one in effect
    assert top["root"] == "/"  # the container's cgroup is the mount's root
    assert "ro" in top["options"]
    assert facts["mkdir_errno"] == 30  # EROFS


def test_current_view_is_the_namespace_root(facts: dict[str, Any]) -> None:
    view = facts["view"]
    assert view is not None, facts
    assert view["version"] == 2
    assert not view["dedicated"]
    assert os.path.normpath(view["directory"]) == "/sys/fs/cgroup"
    reading = facts["reading"]
    assert reading is not None
    assert reading["usage_bytes"] > 0
    assert reading["peak_bytes"] is not None and reading["peak_bytes"] >= reading["usage_bytes"]
    assert not reading["peak_was_reset"]


def test_dedicated_cgroup_is_refused_without_raising(facts: dict[str, Any]) -> None:
    assert facts["create_error"] is None
    assert facts["created"] is None


def test_cgroup_procs_lists_the_entrypoint(facts: dict[str, Any]) -> None:
    view = facts["view"]
    assert view is not None
    assert facts["pid"] in view["pids"]


@pytest.mark.parametrize("method", CONTAINER_METHODS)
def test_session_measures_a_150_mib_build(method: str) -> None:
    result = _json_result(SESSION, method)
    assert result["exit_code"] == 0, result
    assert 140 <= result["peak_mb"] <= 260, result
    assert result["sample_lines"], result
    assert {"memory-samples.log", "cpu-samples.log"} <= set(result["logs"]), result
