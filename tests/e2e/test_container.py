"""The action's real image, run the way GitHub's runner runs a Docker container step.

The image is built once per session from the repo's Dockerfile (``tests/e2e/image.py``); each
scenario runs it once (module-scoped fixtures) and several tests look at that one run, the way
later steps of a workflow would: the outputs file parsed like the runner parses it,
``build-summary.json`` and ``.telemetry/metrics.json`` checked against the schemas and with the
guide's jq snippets, the packages installed and run (amd64 natively, arm64 under qemu).

Releases come from the loopback GitHub-shaped server (``--network host`` lets the container reach
127.0.0.1): real uv 0.5.11 executables for the realistic run, tiny ELF stubs for the failures.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from tests.conftest import require_root, require_tool
from tests.e2e.image import (
    PODMAN,
    PROJECT_IMAGE,
    ActionRun,
    ImageBuild,
    RunnerDirs,
    build_image,
    files_containing,
    parse_file_commands,
    run_action,
    start_action,
)
from tests.support.fake_github import FakeGitHub, RecordedRequest
from tests.support.fixtures import FAKE_TOKEN
from tests.support.uv_release import tiny_release, uv_release

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
UV_VERSION = "0.5.11"
# Modest on purpose (time): two 64-bit and one 32-bit arch, the two current suites.
ARCHES = ("amd64", "arm64", "armhf")
SUITES = ("bookworm", "trixie")
SUITE_SUFFIX = {"bookworm": "+deb12", "trixie": "+deb13"}
# Every output the action declares: a following step must find each one in the outputs file.
EVERY_OUTPUT = tuple(YAML(typ="safe").load((ROOT / "action.yml").read_text())["outputs"])


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def action_image() -> ImageBuild:
    require_tool("podman", "runc", "debootstrap", "tar")
    require_root()
    # On a fresh machine uv's wheels come from PyPI while debootstrap and apt run: overlap them.
    # A failed prefetch is left to the uv_release_dir fixture, which tries again and reports it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        prefetch = pool.submit(uv_release, UV_VERSION)
        image = build_image(PROJECT_IMAGE)
        prefetch.exception()
    return image


@pytest.fixture(scope="module")
def github(uv_release_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGitHub]:
    """uv's real release, and a tiny one whose arm64 asset is missing."""
    tiny = tiny_release(tmp_path_factory.mktemp("tiny-release"), version="1.2.3", name="uv")
    missing = {"uv-aarch64-unknown-linux-gnu.tar.gz", "uv-aarch64-unknown-linux-gnu.tar.gz.sha256"}
    # require_token: the token must travel from INPUT_GITHUB-TOKEN to the builder's API calls.
    with FakeGitHub(token=FAKE_TOKEN, require_token=True) as gh:
        gh.add_repo(
            "astral-sh/uv", license_spdx="MIT", description="An extremely fast Python package manager."
        )
        gh.add_release_from_dir("astral-sh/uv", UV_VERSION, uv_release_dir)
        gh.add_repo("octo-org/tiny", license_spdx="MIT")
        assets = {p.name: p for p in sorted(tiny.iterdir()) if p.is_file() and not p.name.startswith(".")}
        gh.add_release("octo-org/tiny", "v1.2.3", assets)
        gh.add_release("octo-org/tiny", "v1.2.4", {k: v for k, v in assets.items() if k not in missing})
        yield gh


def _uv_config() -> str:
    """The repo's own uv example (a real project's config), unchanged."""
    return (ROOT / "examples" / "uv" / "package.yaml").read_text()


def _tiny_config() -> str:
    return (
        _uv_config()
        .replace("github_repo: astral-sh/uv", "github_repo: octo-org/tiny")
        .replace("package_name: uv", "package_name: tiny-uv")
    )


def _workspace(tmp_path_factory: pytest.TempPathFactory, name: str, files: dict[str, str]) -> RunnerDirs:
    dirs = RunnerDirs.create(tmp_path_factory.mktemp(name))
    for rel, text in files.items():
        path = dirs.workspace / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return dirs


@dataclass(frozen=True)
class Scenario:
    """One container step and what the fake GitHub saw during it."""

    run: ActionRun
    requests: list[RecordedRequest]


def _run(image: ImageBuild, gh: FakeGitHub, dirs: RunnerDirs, inputs: dict[str, str]) -> Scenario:
    gh.clear_requests()
    run = run_action(
        image.tag,
        dirs,
        # The token is given as the workflow would give it (the runner's default for the
        # input is `${{ github.token }}`; run_action fills the others from action.yml).
        inputs={"github-token": FAKE_TOKEN, **inputs},
        api_url=gh.api_url,
        env={"GITHUB_SERVER_URL": gh.server_url},
        token=FAKE_TOKEN,
    )
    return Scenario(run, gh.requests)


@pytest.fixture(scope="module")
def uv_run(
    action_image: ImageBuild, github: FakeGitHub, tmp_path_factory: pytest.TempPathFactory
) -> Scenario:
    dirs = _workspace(tmp_path_factory, "uv", {"package.yaml": _uv_config()})
    return _run(
        action_image,
        github,
        dirs,
        {
            "version": UV_VERSION,
            "architecture": ",".join(ARCHES),
            "distributions": ",".join(SUITES),
            "output-dir": "dist",
            # lintian on six 28 MB executables takes minutes on a small runner; the tiny
            # release's run exercises lintian in the image instead.
            "sample-interval": "0.5",
        },
    )


# A shell build reporting its stages through the telemetry CLI, producing one real package.
COMMAND_BUILD = r"""
python3 -m telemetry stage-start prepare
mkdir -p pkgroot/DEBIAN pkgroot/usr/bin out
printf '#!/bin/sh\necho hello from the command build\n' > pkgroot/usr/bin/hello-cmd
chmod 0755 pkgroot/usr/bin/hello-cmd
cat > pkgroot/DEBIAN/control <<EOF
Package: hello-cmd
Version: 1.0-1
Architecture: all
Maintainer: Test <test@example.org>
Description: shell build under the action's telemetry
EOF
python3 -m telemetry stage-complete prepare success "tree staged"
python3 -m telemetry stage-start package
dpkg-deb --root-owner-group --build pkgroot out/hello-cmd_1.0-1_all.deb
python3 -m telemetry stage-complete package success
"""


@pytest.fixture(scope="module")
def command_run(
    action_image: ImageBuild, github: FakeGitHub, tmp_path_factory: pytest.TempPathFactory
) -> Scenario:
    dirs = _workspace(tmp_path_factory, "command", {})
    return _run(action_image, github, dirs, {"command": COMMAND_BUILD, "output-dir": "out"})


@pytest.fixture(scope="module")
def partial_run(
    action_image: ImageBuild, github: FakeGitHub, tmp_path_factory: pytest.TempPathFactory
) -> Scenario:
    """v1.2.4 of the tiny project has no arm64 asset, but arm64 is asked for."""
    dirs = _workspace(tmp_path_factory, "partial", {"package.yaml": _tiny_config()})
    return _run(
        action_image,
        github,
        dirs,
        {
            "version": "v1.2.4",
            "architecture": "amd64,arm64",
            "distributions": "trixie",
            "lintian-check": "true",
        },
    )


BAD_CONFIG_LINE = 4
BAD_CONFIG = """\
# A config with a misspelt key on line 4.
package_name: tiny-uv
github_repo: octo-org/tiny
descriptoin: misspelt on purpose
maintainer: Test <test@example.org>
architectures: [amd64]
binary_path: ["uv-*/uv"]
"""


@pytest.fixture(scope="module")
def bad_config_run(
    action_image: ImageBuild, github: FakeGitHub, tmp_path_factory: pytest.TempPathFactory
) -> Scenario:
    dirs = _workspace(tmp_path_factory, "badconfig", {"package.yaml": BAD_CONFIG})
    return _run(action_image, github, dirs, {"version": "v1.2.3"})


# --- helpers ----------------------------------------------------------------------------------


def _schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return data


def _validate(document: Path, schema_name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(document.read_text())
    schema = _schema(schema_name)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator_class(schema, format_checker=validator_class.FORMAT_CHECKER).validate(data)
    return data


def _summary_path(run: ActionRun) -> Path:
    rel = run.outputs.get("build-summary", "")
    assert rel, run.describe()
    return _in_workspace(run, rel)


def _in_workspace(run: ActionRun, rel: str) -> Path:
    """Map a path the action printed (workspace-relative or /github/workspace/...) to the host."""
    prefix = "/github/workspace/"
    rel = rel.removeprefix(prefix) if rel.startswith(prefix) else rel
    assert not os.path.isabs(rel), f"{rel!r} is neither workspace-relative nor under {prefix}"
    return run.dirs.workspace / rel


def _sh(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script], cwd=cwd, capture_output=True, text=True, check=False
    )


# --- the image itself ---------------------------------------------------------------------------

IMAGE_SIZE_LIMIT = 500 * 1000 * 1000


def test_image_follows_githubs_rules_for_docker_actions(action_image: ImageBuild) -> None:
    config = json.loads(
        subprocess.run(
            ["podman", "image", "inspect", "--format", "{{json .Config}}", action_image.tag],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    # No WORKDIR and no USER: the runner sets --workdir and needs root for its mounts.
    assert config.get("WorkingDir", "") in ("", "/")
    assert config.get("User", "") in ("", "root", "0")
    entrypoint = config["Entrypoint"]
    assert all(os.path.isabs(part) for part in entrypoint[:2]), entrypoint
    assert action_image.size_bytes < IMAGE_SIZE_LIMIT, f"{action_image.size_bytes / 1e6:.0f} MB"


def test_image_holds_only_what_the_action_runs(action_image: ImageBuild) -> None:
    probe = (
        "set -e; ls -A /app; lintian --version >/dev/null; dpkg-deb --version >/dev/null;"
        # `set -e` ignores a negated command, hence the explicit exits.
        " if ls /usr/bin/qemu-* >/dev/null 2>&1; then echo qemu; exit 1; fi;"
        " if command -v pip3 >/dev/null; then echo pip3; exit 1; fi;"
        " cd / && python3 -c 'import psutil, ruamel.yaml, github, debian, jsonschema, prometheus_client,"
        " zstandard, telemetry, multiarch, action'"
    )
    ran = subprocess.run(
        [*PODMAN, "run", "--rm", "--entrypoint", "bash", action_image.tag, "-c", probe],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert sorted(ran.stdout.split()) == sorted(
        ["__pycache__", "action", "contracts", "entrypoint.py", "multiarch", "schemas", "telemetry"]
    )


# --- (1) a realistic multi-arch release --------------------------------------------------------


def test_uv_release_outputs_every_one(uv_run: Scenario) -> None:
    run = uv_run.run
    assert run.returncode == 0, run.describe()
    out = run.outputs
    missing = [name for name in EVERY_OUTPUT if name not in out]
    assert not missing, f"outputs missing {missing}\n{run.describe()}"

    assert out["build-status"] == "success"
    assert out["failure-category"] == ""
    packages = out["packages"].split()
    assert json.loads(out["packages-json"]) == packages
    expected = {
        f"dist/uv_{UV_VERSION}-1{SUITE_SUFFIX[suite]}_{arch}.deb" for arch in ARCHES for suite in SUITES
    }
    assert set(packages) == expected
    for rel in packages:
        assert _in_workspace(run, rel).is_file(), rel

    assert _summary_path(run).is_file()
    assert out["telemetry-dir"] == ".telemetry"
    assert (run.dirs.workspace / ".telemetry" / "metrics.json").is_file()

    assert float(out["build-duration-seconds"]) > 0
    assert float(out["peak-memory-mb"]) > 0
    # Byte counts are integers; downloads are at least the three assets' sizes... when the
    # sampler sees the loopback interface; here only their form and sign are fixed.
    assert int(out["network-downloaded-bytes"]) >= 0
    assert int(out["network-uploaded-bytes"]) >= 0
    assert json.loads(out["performance-regressions"]) == []
    assert out["regression-detected"] == "false"
    assert out["performance-score"] == "100"


def test_uv_release_token_reached_the_api_and_nothing_else(uv_run: Scenario) -> None:
    api = [r for r in uv_run.requests if r.path.startswith("/repos/")]
    objects = [r for r in uv_run.requests if r.path.startswith("/objects/")]
    assert api and objects, uv_run.run.describe()
    assert all(FAKE_TOKEN in (r.header("Authorization") or "") for r in api)
    # The asset host must never see the token (it is another origin on GitHub).
    assert all(r.header("Authorization") is None for r in objects)


def test_uv_release_files_validate_against_schemas(uv_run: Scenario) -> None:
    run = uv_run.run
    summary = _validate(_summary_path(run), "build-summary.schema.json")
    metrics = _validate(run.dirs.workspace / ".telemetry" / "metrics.json", "metrics.schema.json")
    assert summary["package"] == "uv"
    assert summary["telemetry"]["failure_category"] == ""
    assert metrics["build_metrics"]["packages_built"] == len(ARCHES) * len(SUITES)
    assert metrics["build_metrics"]["packages_failed"] == 0
    names = [stage["name"] for stage in metrics["build_metrics"]["build_stages"]]
    for arch in ARCHES:
        assert any(arch in name for name in names), names


# The guide's snippets, verbatim (telemetry-guide.md: "Performance Monitoring", "Custom
# Telemetry Processing", "Advanced Usage"). They must run unchanged against our files.
GUIDE_REGRESSION_CHECK = r"""
if jq -e '.telemetry.performance_regressions | length > 0' build-summary.json; then
  echo "Performance regressions detected:"
  jq -r '.telemetry.performance_regressions[]' build-summary.json
  exit 1
fi
"""
GUIDE_CUSTOM_PROCESSING = r"""
# Extract key metrics
BUILD_TIME=$(jq -r '.telemetry.build_duration_seconds' build-summary.json)
PEAK_MEMORY=$(jq -r '.telemetry.peak_memory_mb' build-summary.json)
NETWORK_DOWN=$(jq -r '.telemetry.network_downloaded_bytes' build-summary.json)

echo "Build completed in ${BUILD_TIME}s"
echo "Peak memory usage: ${PEAK_MEMORY}MB"
echo "Data downloaded: $(echo $NETWORK_DOWN | numfmt --to=iec)"

# Alert on high memory usage
if [ "$PEAK_MEMORY" -gt 4096 ]; then
  echo "::warning::High memory usage detected: ${PEAK_MEMORY}MB"
fi
"""
GUIDE_ADVANCED = r"""
cat .telemetry/metrics.json | \
  jq '.memory_metrics.peak_usage_mb' | \
  awk '{if($1 > 2048) print "High memory usage: " $1 "MB"}'
echo "build_duration_seconds $(jq -r '.build_session.duration_seconds' .telemetry/metrics.json)"
echo "peak_memory_mb $(jq -r '.memory_metrics.peak_usage_mb' .telemetry/metrics.json)"
"""


def test_uv_release_guide_jq_snippets_run(uv_run: Scenario) -> None:
    require_tool("jq", "numfmt")
    run = uv_run.run
    ws = run.dirs.workspace
    # The guide's snippets read build-summary.json from the working directory: the default
    # output-dir puts it there; with output-dir: dist it is where the output says.
    cwd = _summary_path(run).parent
    if cwd != ws:
        shutil.copytree(ws / ".telemetry", cwd / ".telemetry", dirs_exist_ok=True)

    check = _sh(GUIDE_REGRESSION_CHECK, cwd)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.strip() == "false"

    custom = _sh(GUIDE_CUSTOM_PROCESSING, cwd)
    assert custom.returncode == 0 and not custom.stderr, custom.stdout + custom.stderr
    assert "Build completed in " in custom.stdout and "null" not in custom.stdout

    advanced = _sh(GUIDE_ADVANCED, cwd)
    assert advanced.returncode == 0 and not advanced.stderr, advanced.stdout + advanced.stderr
    lines = dict(
        line.split(" ", 1) for line in advanced.stdout.splitlines() if line.startswith(("build_", "peak_"))
    )
    assert float(lines["build_duration_seconds"]) > 0
    assert float(lines["peak_memory_mb"]) > 0


def test_uv_release_job_summary(uv_run: Scenario) -> None:
    summary = uv_run.run.summary
    assert 0 < len(summary.encode()) < 1024 * 1024
    assert "```mermaid" in summary
    for arch in ARCHES:
        assert arch in summary


def test_uv_amd64_package_installs_and_runs(uv_run: Scenario, tmp_path: Path) -> None:
    require_tool("dpkg", "dpkg-deb")
    deb = _in_workspace(uv_run.run, f"dist/uv_{UV_VERSION}-1+deb13_amd64.deb")
    fields = subprocess.run(
        ["dpkg-deb", "--field", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    assert f"Version: {UV_VERSION}-1+deb13" in fields and "Architecture: amd64" in fields

    # A throwaway root with its own dpkg database: a real install (unpack, configure, database
    # entry) that touches nothing of the host's.
    root = tmp_path / "root"
    admin = root / "var/lib/dpkg"
    (admin / "info").mkdir(parents=True)
    (admin / "updates").mkdir()
    (admin / "status").write_text("")
    install = subprocess.run(
        ["dpkg", f"--root={root}", "--log=/dev/null", "--force-depends", "--force-not-root", "-i", str(deb)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    status = subprocess.run(
        ["dpkg-query", f"--admindir={admin}", "-W", "-f=${Status} ${Version}", "uv"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == f"install ok installed {UV_VERSION}-1+deb13"
    version = subprocess.run(
        [str(root / "usr/bin/uv"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip().startswith(f"uv {UV_VERSION}")


def test_uv_arm64_binary_runs_under_qemu(uv_run: Scenario, tmp_path: Path) -> None:
    require_tool("qemu-aarch64-static", "dpkg-deb")
    deb = _in_workspace(uv_run.run, f"dist/uv_{UV_VERSION}-1+deb12_arm64.deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    ran = subprocess.run(
        ["qemu-aarch64-static", str(tmp_path / "usr/bin/uv"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().startswith(f"uv {UV_VERSION}")


# --- (2) a shell build through the telemetry CLI ------------------------------------------------


def test_command_build_reports_stages(command_run: Scenario) -> None:
    run = command_run.run
    assert run.returncode == 0, run.describe()
    out = run.outputs
    assert [name for name in EVERY_OUTPUT if name not in out] == []
    assert out["build-status"] == "success"
    assert out["failure-category"] == ""
    assert out["packages"] == "out/hello-cmd_1.0-1_all.deb"
    assert json.loads(out["packages-json"]) == ["out/hello-cmd_1.0-1_all.deb"]
    _validate(_summary_path(run), "build-summary.schema.json")
    metrics = _validate(run.dirs.workspace / ".telemetry" / "metrics.json", "metrics.schema.json")
    stages = {s["name"]: s for s in metrics["build_metrics"]["build_stages"]}
    assert stages["prepare"]["status"] == "success"
    assert stages["package"]["status"] == "success"
    assert (run.dirs.workspace / "out/hello-cmd_1.0-1_all.deb").is_file()


# --- (3) failing builds ---------------------------------------------------------------------------


def test_missing_asset_for_one_arch_is_partial(partial_run: Scenario) -> None:
    run = partial_run.run
    out = run.outputs
    assert run.returncode != 0, run.describe()
    assert [name for name in EVERY_OUTPUT if name not in out] == [], run.describe()
    assert out["build-status"] == "partial", run.describe()
    assert out["packages"] == "tiny-uv_1.2.4-1+deb13_amd64.deb"
    # arm64 was asked for by name (package.yaml lists it) and upstream did not publish it: a
    # missing dependency of the build, not a configuration error (build.py decides this).
    assert out["failure-category"] == "dependency", out
    summary = _validate(_summary_path(run), "build-summary.schema.json")
    assert summary["status"] == "partial"
    assert summary["telemetry"]["failure_category"] == "dependency"
    assert [f["arch"] for f in summary["failed"]] == ["arm64"]
    (built,) = summary["packages"]
    deb = _in_workspace(run, out["packages"])
    assert built["sha256"] == hashlib.sha256(deb.read_bytes()).hexdigest()
    # lintian ran inside the image (lintian-check: true) and its counts reached the summary.
    assert built["lintian"] is not None and built["lintian"]["errors"] >= 0
    assert run.commands("error"), run.describe()


def test_bad_config_is_a_configuration_failure_with_annotation(bad_config_run: Scenario) -> None:
    run = bad_config_run.run
    out = run.outputs
    assert run.returncode != 0
    assert out["build-status"] == "failure", run.describe()
    assert out["failure-category"] == "configuration"
    errors = run.commands("error")
    located = [e for e in errors if e.properties.get("file") == "package.yaml"]
    assert located, run.describe()
    assert located[0].properties.get("line") == str(BAD_CONFIG_LINE)
    assert "descriptoin" in located[0].message
    summary = _validate(_summary_path(run), "build-summary.schema.json")
    assert summary["status"] == "failure"
    assert summary["error"]["category"] == "configuration"
    assert summary["error"]["line"] == BAD_CONFIG_LINE


def test_bad_config_category_agrees_everywhere(bad_config_run: Scenario) -> None:
    """The output, build-summary.json's telemetry block and metrics.json name the same category."""
    run = bad_config_run.run
    summary = json.loads(_summary_path(run).read_text())
    metrics = json.loads((run.dirs.workspace / ".telemetry" / "metrics.json").read_text())
    assert run.outputs["failure-category"] == "configuration"
    assert summary["telemetry"]["failure_category"] == "configuration"
    assert metrics["build_metrics"]["failure_category"] == "configuration"


# --- baselines and regressions across two steps of one job ------------------------------------------

# Memory, not time, makes the regression: the duration noise floor is 5 s, the memory one 16 MB,
# and writing 170 MB more is quicker than sleeping.
# The baseline build uses some memory too: from a zero peak no percentage can be computed.
SMALL_BUILD = "python3 -c \"data = b'x' * (30 * 2**20); import time; time.sleep(1)\""
BIG_BUILD = "python3 -c \"data = b'x' * (200 * 2**20); import time; time.sleep(1)\""


@pytest.fixture(scope="module")
def regression_runs(
    action_image: ImageBuild, github: FakeGitHub, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Scenario, Scenario]:
    dirs = _workspace(tmp_path_factory, "regression", {})
    baseline = _run(action_image, github, dirs, {"command": SMALL_BUILD, "save-baseline": "true"})
    regressed = _run(action_image, github, dirs, {"command": BIG_BUILD, "fail-on-regression": "true"})
    return baseline, regressed


def test_baseline_then_regression_fails_the_step(regression_runs: tuple[Scenario, Scenario]) -> None:
    baseline, regressed = (s.run for s in regression_runs)
    assert baseline.returncode == 0, baseline.describe()
    assert (baseline.dirs.workspace / ".telemetry" / "baseline.json").is_file()
    _validate(baseline.dirs.workspace / ".telemetry" / "baseline.json", "baseline.schema.json")

    out = regressed.outputs
    assert regressed.returncode != 0, regressed.describe()
    assert out["regression-detected"] == "true", regressed.describe()
    messages = json.loads(out["performance-regressions"])
    assert any(m.startswith("Memory usage increased by ") and m.endswith("%") for m in messages), messages
    assert 0 <= int(out["performance-score"]) < 100
    summary = _validate(_summary_path(regressed), "build-summary.schema.json")
    assert summary["telemetry"]["performance_regressions"] == messages
    # The guide's regression check (a later step) now takes its failing branch.
    check = _sh(GUIDE_REGRESSION_CHECK, _summary_path(regressed).parent)
    assert check.returncode == 1 and "Performance regressions detected:" in check.stdout


def test_telemetry_disabled_leaves_telemetry_outputs_empty(
    action_image: ImageBuild, github: FakeGitHub, tmp_path_factory: pytest.TempPathFactory
) -> None:
    dirs = _workspace(tmp_path_factory, "notelemetry", {})
    run = _run(action_image, github, dirs, {"command": "true", "telemetry-enabled": "false"}).run
    out = run.outputs
    assert run.returncode == 0, run.describe()
    assert [name for name in EVERY_OUTPUT if name not in out] == []
    assert out["build-status"] == "success"
    for name in ("telemetry-dir", "peak-memory-mb", "network-downloaded-bytes", "network-uploaded-bytes"):
        assert out[name] == "", (name, out[name])
    assert out["performance-score"] == ""
    assert not (dirs.workspace / ".telemetry").exists()
    _validate(_summary_path(run), "build-summary.schema.json")


# --- cancellation -------------------------------------------------------------------------------

CANCEL_COMMAND = r"""
python3 -m telemetry stage-start wait_for_cancel
touch .build-started
sleep 300
"""
# The runner's cancel of a step: SIGINT to the process it started (here `podman run`, which
# forwards it to the container's PID 1), SIGTERM 7.5 s later, then a kill 2.5 s after that.
RUNNER_CANCEL_GRACE = (7.5, 2.5)


def test_cancel_reaches_the_build_and_is_reported(
    action_image: ImageBuild, github: FakeGitHub, tmp_path_factory: pytest.TempPathFactory
) -> None:
    dirs = _workspace(tmp_path_factory, "cancel", {})
    running = start_action(
        action_image.tag,
        dirs,
        inputs={"github-token": FAKE_TOKEN, "command": CANCEL_COMMAND},
        api_url=github.api_url,
        env={"GITHUB_SERVER_URL": github.server_url},
        token=FAKE_TOKEN,
    )
    marker = dirs.workspace / ".build-started"
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert running.proc.poll() is None, running.wait(10).describe()
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.1)

    signalled = time.monotonic()
    running.send_signal(signal.SIGINT)
    for signum, grace in zip((signal.SIGTERM, signal.SIGKILL), RUNNER_CANCEL_GRACE, strict=True):
        try:
            running.proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            running.send_signal(signum)
    run = running.wait(timeout=60)
    # Wound up within the runner's first grace period: SIGINT alone was enough.
    assert time.monotonic() - signalled < RUNNER_CANCEL_GRACE[0], run.describe()
    assert run.returncode != 0
    out = run.outputs
    assert out["build-status"] == "cancelled", run.describe()
    assert out["failure-category"] == ""
    summary = _validate(_summary_path(run), "build-summary.schema.json")
    assert summary["status"] == "cancelled"


# --- (4) the token ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenario", ["uv_run", "command_run", "partial_run", "bad_config_run", "regression_runs"]
)
def test_token_is_never_written_or_printed(scenario: str, request: pytest.FixtureRequest) -> None:
    value = request.getfixturevalue(scenario)
    run = (value[-1] if isinstance(value, tuple) else value).run
    needle = FAKE_TOKEN.encode()
    leaked_files = [
        p
        for root in (run.dirs.workspace, run.dirs.file_commands, run.dirs.home)
        for p in files_containing(root, needle)
    ]
    assert leaked_files == []
    # `::add-mask::<token>` is the one line that may carry it: the runner consumes that command
    # and never shows it, and it is how the value gets masked everywhere else.
    leaked_lines = [
        line for line in run.lines if FAKE_TOKEN in line and line.strip() != f"::add-mask::{FAKE_TOKEN}"
    ]
    assert leaked_lines == []


def test_outputs_file_parses_like_the_runner(uv_run: Scenario) -> None:
    # Re-parse the raw file: every name is unique and multi-line values use delimiters that
    # appear nowhere in their values (the runner would otherwise cut them short).
    text = uv_run.run.step.output.read_text()
    assert parse_file_commands(text) == uv_run.run.outputs
    for line in text.splitlines():
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            delimiter = line.split("<<", 1)[1]
            assert text.count(f"\n{delimiter}\n") + text.endswith(f"\n{delimiter}") >= 1
