"""Network figures that say what they include: namespace sharing, and the build's own downloads.

The namespace checks run for real: on this machine (the host's namespace, shared with every
other process here), and in private namespaces made with ``unshare`` (root only).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.vocabulary import RunStatus
from telemetry.baseline import compare
from telemetry.events import BUILDER_DOWNLOADED_BYTES
from telemetry.netns import INITIAL_PID_NS, namespace_shared
from telemetry.reporters.logs import render_telemetry_log
from telemetry.reporters.metrics_json import build_metrics
from telemetry.reporters.prometheus import render
from telemetry.samplers.network import either_shared, with_builder_downloads
from telemetry.session import Session, SessionOptions
from tests.conftest import require_root, require_tool
from tests.telemetry.factories import make_run

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
NETWORK_SCHEMA = json.loads((ROOT / "schemas" / "metrics.schema.json").read_text())["properties"][
    "network_metrics"
]

# Prints the detector's answer; with "nobody", drops root first. It runs once before that, so
# every module it needs is loaded (the interpreter may live where nobody cannot read) and only
# /proc access changes.
DETECT = (
    "import os, sys\n"
    "from telemetry.netns import namespace_shared\n"
    "if sys.argv[1:] == ['nobody']:\n"
    "    namespace_shared()\n"
    "    os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
    "print(namespace_shared())\n"
)


def _detect(*prefix: str, as_nobody: bool = False) -> str:
    argv = [*prefix, PY, "-c", DETECT, *(["nobody"] if as_nobody else [])]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _in_hosts_namespace() -> bool:
    """Init is in our network namespace and we are not in a container's PID namespace."""
    try:
        same = os.stat("/proc/1/net/dev").st_ino == os.stat("/proc/self/net/dev").st_ino
        return same and os.readlink("/proc/self/ns/pid") == INITIAL_PID_NS
    except OSError:
        return False


def _require_hosts_namespace() -> None:
    if not _in_hosts_namespace():
        pytest.skip("the tests run in a network or PID namespace of their own here, not the host's")


# ----------------------------------------------------------------------------- detection


def test_this_machines_namespace_is_shared() -> None:
    # Init and everything else on the machine (none of them ours) use this namespace.
    _require_hosts_namespace()
    assert namespace_shared() is True


def test_a_private_network_namespace_is_the_builds_own() -> None:
    require_root()
    require_tool("unshare")
    assert _detect("unshare", "--net") == "False"


def test_without_root_a_private_namespace_is_still_told_apart() -> None:
    # Other users' namespace links are unreadable (EACCES); /proc/PID/net/ still tells.
    require_root()
    require_tool("unshare")
    assert _detect("unshare", "--net", as_nobody=True) == "False"
    if _in_hosts_namespace():
        assert _detect(as_nobody=True) == "True"


def test_hidden_processes_make_it_unknown(tmp_path: Path) -> None:
    # /proc mounted with hidepid=1: other users' processes are listed but unreadable, so a
    # process of theirs may be in the namespace: neither shared nor exclusive can be claimed.
    require_root()
    require_tool("unshare", "mount")
    script = tmp_path / "hidden.sh"
    script.write_text('mount -t proc -o hidepid=1 proc /proc || exit 97\nexec "$@"\n')
    done = subprocess.run(
        ["unshare", "--mount", "--net", "sh", str(script), PY, "-c", DETECT, "nobody"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"


def test_either_check_seeing_another_user_makes_it_shared() -> None:
    assert either_shared(False, True) is True and either_shared(None, True) is True
    assert either_shared(False, False) is False
    assert either_shared(False, None) is None and either_shared(None, None) is None


# ----------------------------------------------------------------------------- session


def _session(tmp_path: Path, shell: str) -> Any:
    options = SessionOptions(
        telemetry_dir=tmp_path / ".telemetry",
        sample_interval=0.1,
        env={"PYTHONPATH": str(ROOT)},
        output_path=str(tmp_path),
    )
    return Session(options, output=io.BytesIO()).run(shell_command=shell)


def test_session_says_when_the_counters_are_shared_and_what_the_build_downloaded(tmp_path: Path) -> None:
    _require_hosts_namespace()
    run = _session(tmp_path, f"{PY} -m telemetry counter {BUILDER_DOWNLOADED_BYTES} 1234")
    assert run.outcome.exit_code == 0, run.outcome.output_tail
    assert run.network.interface_shared is True
    assert run.network.builder_downloaded_bytes == 1234


def test_a_build_that_reports_nothing_has_no_builder_figure(tmp_path: Path) -> None:
    run = _session(tmp_path, "true")
    assert run.outcome.exit_code == 0
    assert run.network.builder_downloaded_bytes is None


def test_private_namespace_session_is_not_shared(tmp_path: Path) -> None:
    # The whole session in a namespace of its own, as in a Docker action's container.
    require_root()
    require_tool("unshare")
    code = (
        "import io, sys; from pathlib import Path\n"
        "from telemetry.session import Session, SessionOptions\n"
        "opts = SessionOptions(telemetry_dir=Path(sys.argv[1]), sample_interval=0.1)\n"
        "print(Session(opts, output=io.BytesIO()).run(argv=['true']).network.interface_shared)\n"
    )
    done = subprocess.run(
        ["unshare", "--net", PY, "-c", code, str(tmp_path / "t")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


# ----------------------------------------------------------------------------- reports


@pytest.mark.parametrize(("shared", "builder"), [(True, 5_000_000), (False, 0), (None, None)])
def test_metrics_logs_and_prometheus_carry_both_facts(shared: bool | None, builder: int | None) -> None:
    base = make_run()
    run = replace(
        base, network=replace(base.network, interface_shared=shared, builder_downloaded_bytes=builder)
    )
    document = build_metrics(
        run,
        status=RunStatus.SUCCESS,
        analysis=(),
        packages_built=1,
        packages_failed=0,
        comparison=compare(1.0, 1.0, None),
    )
    network = document.to_json()["network_metrics"]
    jsonschema.validate(network, NETWORK_SCHEMA)
    assert network["interface_shared"] is shared and network["builder_downloaded_bytes"] == builder
    assert json.loads(json.dumps(network))["interface_shared"] is shared  # true/false/null

    log = render_telemetry_log(document)
    line = next(line for line in log.splitlines() if line.strip().startswith("Interface:"))
    expected = {True: "include other traffic", False: "no other traffic", None: "could not tell"}[shared]
    assert expected in line
    assert ("Builder downloaded: not reported" in log) is (builder is None)

    families = {f.name: f for f in text_string_to_metric_families(render(document).decode())}
    if shared is None:
        assert "build_network_interface_shared" not in families
    else:
        assert families["build_network_interface_shared"].samples[0].value == (1.0 if shared else 0.0)
    if builder is None:
        assert "build_network_builder_downloaded_bytes" not in families
    else:
        assert families["build_network_builder_downloaded_bytes"].samples[0].value == builder


def test_schema_refuses_a_negative_or_fractional_builder_figure() -> None:
    base = {
        "bytes_downloaded": 0, "bytes_uploaded": 0, "interface": "lo", "connection_count": 0,
        "interface_shared": None, "builder_downloaded_bytes": None, "per_interface": {}, "samples": [],
    }  # fmt: skip
    jsonschema.validate(base, NETWORK_SCHEMA)
    for key, bad in (
        ("builder_downloaded_bytes", -1),
        ("builder_downloaded_bytes", 1.5),
        ("interface_shared", "no"),
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**base, key: bad}, NETWORK_SCHEMA)
    missing = {k: v for k, v in base.items() if k != "interface_shared"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(missing, NETWORK_SCHEMA)


def test_builder_figure_comes_from_the_counter() -> None:
    result = make_run().network
    assert with_builder_downloads(result, {}).builder_downloaded_bytes is None
    assert with_builder_downloads(result, {BUILDER_DOWNLOADED_BYTES: 0.0}).builder_downloaded_bytes == 0
    assert with_builder_downloads(result, {BUILDER_DOWNLOADED_BYTES: 1234.0}).builder_downloaded_bytes == 1234
