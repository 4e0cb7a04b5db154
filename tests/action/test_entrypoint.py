"""``python entrypoint.py`` as a subprocess, outside the container, with the runner's variables.

Each test gets its own workspace, ``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY``
files, reads the outputs back the way the runner parses them, and validates
``build-summary.json`` against its schema.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from action.outputs import OUTPUT_NAMES, parse_output_file
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo"
TOKEN = "ghp_ENTRYPOINTtestTOKEN_0123456789abcdef"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    workspace: Path

    def build_summary(self) -> dict[str, Any]:
        path = self.workspace / self.outputs["build-summary"]
        document = json.loads(path.read_text(encoding="utf-8"))
        schema = json.loads((ROOT / "schemas" / "build-summary.schema.json").read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(schema).validate(document)
        assert isinstance(document, dict)
        return document


def runner_env(workspace: Path, inputs: dict[str, str], files: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INPUT_", "GITHUB_", "TELEMETRY_")) and k not in ("CI",)
    }
    env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    env.update(
        {
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(files / "set_output_1"),
            "GITHUB_STEP_SUMMARY": str(files / "step_summary_1"),
            "GITHUB_API_URL": "http://127.0.0.1:9",
            "GITHUB_ACTIONS": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
            # A download cache of its own: a verified copy cached by another test would
            # otherwise stand in for an asset this test tampers with.
            "XDG_CACHE_HOME": str(workspace.parent / "cache"),
        }
    )
    return env


def start(workspace: Path, inputs: dict[str, str]) -> tuple[subprocess.Popen[str], Path]:
    files = workspace.parent / "file_commands"
    files.mkdir(exist_ok=True)
    (files / "set_output_1").write_text("")
    (files / "step_summary_1").write_text("")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "entrypoint.py")],
        cwd=workspace,
        env=runner_env(workspace, inputs, files),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, files


def finish(proc: subprocess.Popen[str], files: Path, workspace: Path, timeout: float = 300) -> Run:
    stdout, stderr = proc.communicate(timeout=timeout)
    outputs = parse_output_file((files / "set_output_1").read_text(encoding="utf-8"))
    return Run(proc.returncode, stdout, stderr, outputs, (files / "step_summary_1").read_text(), workspace)


def run_action(workspace: Path, **inputs: str) -> Run:
    proc, files = start(workspace, {k.replace("_", "-"): v for k, v in inputs.items()})
    return finish(proc, files, workspace)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace"
    ws.mkdir()
    return ws


@pytest.fixture
def demo_workspace(workspace: Path) -> Path:
    shutil.copy(DEMO / "package.yaml", workspace / "package.yaml")
    shutil.copytree(DEMO / "release", workspace / "release")
    return workspace


def assert_category_agrees(run: Run, category: str) -> None:
    """The output, build-summary.json's telemetry block and metrics.json name the same failure."""
    metrics = json.loads((run.workspace / run.outputs["telemetry-dir"] / "metrics.json").read_text())
    assert run.outputs["failure-category"] == category
    assert run.build_summary()["telemetry"]["failure_category"] == category
    assert metrics["build_metrics"]["failure_category"] == category


def assert_every_output(run: Run) -> None:
    assert set(OUTPUT_NAMES) <= set(run.outputs), set(OUTPUT_NAMES) - set(run.outputs)


# ---------------------------------------------------------------- built-in builder


def test_demo_release_builds_every_package(demo_workspace: Path) -> None:
    (demo_workspace / "dist").mkdir()
    stale = demo_workspace / "dist" / "hello-demo_0.9.0-1+deb12_amd64.deb"
    stale.write_bytes(b"stale")
    run = run_action(
        demo_workspace,
        version="v1.0.0",
        assets_dir="release",
        output_dir="dist",
        sample_interval="0.2",
        github_token=TOKEN,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert_every_output(run)
    out = run.outputs
    assert out["build-status"] == "success"
    packages = out["packages"].split()
    assert json.loads(out["packages-json"]) == packages
    assert len(packages) == 6  # amd64, arm64, armhf × bookworm, trixie
    assert stale.relative_to(demo_workspace).as_posix() not in packages
    for path in packages:
        assert not os.path.isabs(path)  # later steps run outside the container
        assert (demo_workspace / path).is_file()
        assert re.fullmatch(r"dist/hello-demo_1\.0\.0-1\+deb1[23]_(amd64|arm64|armhf)\.deb", path), path
    assert out["build-summary"] == "dist/build-summary.json"
    assert out["telemetry-dir"] == ".telemetry"
    assert out["failure-category"] == ""
    assert out["regression-detected"] == "false"
    assert json.loads(out["performance-regressions"]) == []
    assert 0 <= float(out["performance-score"]) <= 100
    assert float(out["build-duration-seconds"]) > 0 and float(out["peak-memory-mb"]) > 0
    assert int(out["network-downloaded-bytes"]) >= 0 and int(out["network-uploaded-bytes"]) >= 0

    summary = run.build_summary()
    assert summary["package"] == "hello-demo" and summary["status"] == "success"
    assert sorted(p["path"] for p in summary["packages"]) == sorted(packages)
    assert summary["failed"] == [] and summary["error"] is None
    assert summary["telemetry"]["failure_category"] == ""
    assert (demo_workspace / ".telemetry" / "metrics.json").is_file()
    network = json.loads((demo_workspace / ".telemetry" / "metrics.json").read_text())["network_metrics"]
    # A local assets folder: the builder reports that it downloaded nothing.
    assert network["builder_downloaded_bytes"] == 0
    assert "Builder downloaded 0 B |" in run.summary

    assert "| arch \\ suite | bookworm | trixie |" in run.summary
    assert "```mermaid\ngantt" in run.summary
    # Memory and CPU: a chart, or (a short build, as this one usually is) a line saying why not.
    assert "xychart-beta" in run.summary or "too few to chart" in run.summary
    assert "::group::Build log" in run.stdout and "::endgroup::" in run.stdout

    require_tool("dpkg-deb")
    amd64 = next(p for p in packages if p.endswith("_amd64.deb"))
    info = subprocess.run(
        ["dpkg-deb", "--field", str(demo_workspace / amd64), "Package", "Architecture"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Package: hello-demo" in info and "Architecture: amd64" in info


def test_bad_config_is_a_configuration_failure_with_an_annotation(demo_workspace: Path) -> None:
    config = (demo_workspace / "package.yaml").read_text()
    lines = config.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("section:"))
    lines[index] = "sectoin: utils"
    (demo_workspace / "package.yaml").write_text("\n".join(lines) + "\n")
    run = run_action(demo_workspace, version="v1.0.0", assets_dir="release", output_dir="dist")
    assert run.returncode == 2, run.stdout + run.stderr
    assert_every_output(run)
    assert run.outputs["build-status"] == "failure"
    assert run.outputs["failure-category"] == "configuration"
    assert run.outputs["packages"] == "" and json.loads(run.outputs["packages-json"]) == []
    assert re.search(rf"^::error file=package\.yaml,line={index + 1}(,|::)", run.stdout, flags=re.M), (
        run.stdout
    )
    summary = run.build_summary()
    assert summary["status"] == "failure"
    assert summary["error"]["category"] == "configuration"
    assert summary["error"]["line"] == index + 1
    assert_category_agrees(run, "configuration")
    assert "### Failure: configuration" in run.summary
    assert f"`package.yaml, line {index + 1}`" in run.summary
    assert f"1. Fix package.yaml line {index + 1} (field 'sectoin')" in run.summary
    assert run.summary.splitlines()[0].startswith("## ❌ package.yaml ")  # no package name yet: the file


def test_one_bad_asset_gives_a_partial_build(demo_workspace: Path) -> None:
    # A tampered armhf archive: its .sha256 no longer matches, so only armhf fails (security).
    asset = demo_workspace / "release" / "hello-demo-armv7-unknown-linux-gnueabihf.tar.gz"
    asset.write_bytes(asset.read_bytes() + b"tampered")
    run = run_action(demo_workspace, version="v1.0.0", assets_dir="release", output_dir="dist")
    assert run.returncode == 1, run.stdout + run.stderr
    assert_every_output(run)
    assert run.outputs["build-status"] == "partial"
    assert run.outputs["failure-category"] == "security"
    packages = run.outputs["packages"].split()
    assert len(packages) == 4 and not any("armhf" in p for p in packages)
    summary = run.build_summary()
    assert summary["status"] == "partial"
    assert {(f["arch"], f["failure_category"]) for f in summary["failed"]} == {("armhf", "security")}
    assert_category_agrees(run, "security")
    assert re.search(r"^::error title=armhf/(bookworm|trixie) failed \(security\)::", run.stdout, flags=re.M)
    assert "| **armhf** | ❌ security | ❌ security |" in run.summary
    assert "## ⚠️ hello-demo 1.0.0: partial" in run.summary


def test_token_appears_nowhere(demo_workspace: Path) -> None:
    run = run_action(
        demo_workspace, version="v1.0.0", assets_dir="release", output_dir="dist", github_token=TOKEN
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert_no_token_leak(run)


def assert_no_token_leak(run: Run) -> None:
    # The one line allowed to hold it is the mask command, which the runner consumes.
    leaked = [line for line in run.stdout.splitlines() if TOKEN in line and line != f"::add-mask::{TOKEN}"]
    assert leaked == []
    assert f"::add-mask::{TOKEN}" in run.stdout
    assert TOKEN not in run.stderr
    assert TOKEN not in json.dumps(run.outputs) and TOKEN not in run.summary
    for path in run.workspace.parent.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), f"token found in {path}"


# ---------------------------------------------------------------- invalid inputs


def test_invalid_inputs_fail_cleanly_with_every_report(workspace: Path) -> None:
    run = run_action(
        workspace, version="v1; rm -rf /", max_parallel="lots", architecture="amd64,arm46", output_dir="dist"
    )
    assert run.returncode == 2
    assert_every_output(run)
    assert run.outputs["build-status"] == "failure"
    assert run.outputs["failure-category"] == "configuration"
    assert "::error title=Invalid input 'max-parallel'::" in run.stdout
    assert (
        "::error title=Invalid input 'architecture'::unknown architecture 'arm46'; did you mean 'arm64'?"
        in (run.stdout)
    )
    summary = run.build_summary()
    assert summary["error"]["category"] == "configuration"
    assert summary["telemetry"] is None
    assert "### Failure: configuration" in run.summary
    assert not (workspace / ".telemetry").exists()  # nothing was built or measured


def test_an_output_dir_outside_the_workspace_is_refused(workspace: Path, tmp_path: Path) -> None:
    run = run_action(workspace, command="true", output_dir="../elsewhere")
    assert run.returncode == 2
    assert "outside the workspace" in run.stdout
    assert not (tmp_path / "elsewhere").exists()
    assert run.outputs["build-summary"] == "build-summary.json"  # reported from the workspace root
    run.build_summary()


# ---------------------------------------------------------------- command mode

STAGED_BUILD = """\
python -m telemetry stage-start compile
python3 -c 'import time; b = bytearray(30 * 1024 * 1024); time.sleep(0.6)'
python -m telemetry stage-complete compile success "compiled"
python -m telemetry stage-start package
mkdir -p dist && printf '!<arch>\\n' > dist/tool_2.0-1_arm64.deb
python -m telemetry stage-complete package success
"""


def test_command_mode_reports_shell_stages(workspace: Path) -> None:
    (workspace / "dist").mkdir()
    (workspace / "dist" / "old_1.0-1_amd64.deb").write_bytes(b"stale")
    run = run_action(workspace, command=STAGED_BUILD, sample_interval="0.1", github_token=TOKEN)
    assert run.returncode == 0, run.stdout + run.stderr
    assert_every_output(run)
    assert run.outputs["build-status"] == "success"
    assert run.outputs["packages"] == "dist/tool_2.0-1_arm64.deb"  # not the stale one
    assert float(run.outputs["peak-memory-mb"]) >= 30
    metrics = json.loads((workspace / ".telemetry" / "metrics.json").read_text())
    stages = {s["name"]: s for s in metrics["build_metrics"]["build_stages"]}
    assert stages["compile"]["status"] == "success" and stages["compile"]["duration_seconds"] >= 0.5
    assert stages["package"]["status"] == "success"
    summary = run.build_summary()
    assert summary["status"] == "success"
    assert summary["telemetry"]["build_duration_seconds"] >= 0
    assert "compile (" in run.summary and "package (" in run.summary
    assert_no_token_leak(run)


def test_command_failure_is_classified(workspace: Path) -> None:
    command = "echo 'cp: cannot create regular file /x/y: No space left on device' >&2\nexit 1"
    run = run_action(workspace, command=command)
    assert run.returncode == 1
    assert run.outputs["build-status"] == "failure"
    assert run.outputs["failure-category"] == "resource"
    summary = run.build_summary()
    assert summary["error"]["category"] == "resource"
    assert "### Failure: resource" in run.summary
    assert "No space left on device" in run.summary
    assert "::error title=Build failed (resource)" in run.stdout


HUGE_BUILD = """\
python - <<'EOF'
from telemetry import events
for i in range(600):
    events.stage_start(f"step_{i}")
    events.stage_complete(f"step_{i}", "failure" if i % 100 == 0 else "success", "x" * 2000)
for i in range(5000):
    print(f"error: line {i} " + "y" * 100)
EOF
exit 2
"""


def test_a_huge_failing_build_keeps_the_summary_under_the_cap(workspace: Path) -> None:
    run = run_action(workspace, command=HUGE_BUILD, sample_interval="0.2")
    assert run.outputs["build-status"] == "failure"
    assert len(run.summary.encode()) < 1024 * 1024
    assert run.summary.startswith("## ❌ build command: failure")
    assert "### Failure:" in run.summary
    fences = [line for line in run.summary.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0
    assert "560 shorter stages are not drawn" in run.summary
    run.build_summary()


def test_job_summary_can_be_turned_off(workspace: Path) -> None:
    run = run_action(workspace, command="true", job_summary="false")
    assert run.returncode == 0 and run.outputs["build-status"] == "success"
    assert run.summary == ""


def test_command_mode_without_telemetry(workspace: Path) -> None:
    run = run_action(workspace, command="echo plain", telemetry_enabled="false")
    assert run.returncode == 0
    assert run.outputs["build-status"] == "success"
    assert run.outputs["telemetry-dir"] == "" and run.outputs["peak-memory-mb"] == ""
    assert run.build_summary()["telemetry"] is None
    assert not (workspace / ".telemetry").exists()
    assert "Telemetry was disabled" in run.summary


def test_regression_fails_the_step_when_asked(workspace: Path) -> None:
    telemetry = workspace / ".telemetry"
    first = run_action(workspace, command="true", save_baseline="true")
    assert first.returncode == 0 and (telemetry / "baseline.json").is_file()
    baseline = json.loads((telemetry / "baseline.json").read_text())
    # Pretend the baseline build was much faster and smaller than any real run can be.
    baseline["build_session"]["duration_seconds"] = 0
    baseline["build_session"]["duration_seconds_exact"] = 0.001
    baseline["memory_metrics"]["peak_usage_mb"] = 1
    baseline["memory_metrics"]["peak_usage_mb_exact"] = 1.0
    (telemetry / "baseline.json").write_text(json.dumps(baseline))
    command = "python3 -c 'import time; b = bytearray(64 * 1024 * 1024); time.sleep(6)'"
    run = run_action(workspace, command=command, fail_on_regression="true", sample_interval="0.2")
    assert run.outputs["build-status"] == "success"
    assert run.outputs["regression-detected"] == "true", run.stdout
    assert json.loads(run.outputs["performance-regressions"])
    assert run.returncode == 1
    assert "::error title=Performance regression::" in run.stdout
    assert "**Regression detected** (fails this step" in run.summary


# ---------------------------------------------------------------- cancellation


@pytest.mark.parametrize("telemetry", ["true", "false"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cancellation_still_reports(workspace: Path, telemetry: str, signum: int) -> None:
    # A duration no other process uses, so the leftover check below finds only ours.
    sleeper = f"sleep 60.{os.getpid()}{signum}{len(telemetry)}"
    command = f"python -m telemetry stage-start wait\necho started > started.txt\n{sleeper}"
    proc, files = start(
        workspace, {"command": command, "telemetry-enabled": telemetry, "sample-interval": "0.2"}
    )
    deadline = time.monotonic() + 20
    while not (workspace / "started.txt").exists():
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.05)
    sent = time.monotonic()
    proc.send_signal(signum)
    run = finish(proc, files, workspace, timeout=30)
    assert time.monotonic() - sent < 10
    assert run.returncode == 128 + signum, run.stdout + run.stderr
    assert run.outputs["build-status"] == "cancelled"
    assert run.outputs["failure-category"] == ""
    summary = run.build_summary()
    assert summary["status"] == "cancelled"
    assert "cancelled" in run.summary
    if telemetry == "true":
        metrics = json.loads((workspace / ".telemetry" / "metrics.json").read_text())
        assert metrics["build_metrics"]["status"] == "cancelled"
    # The build's whole process tree was stopped, not just the shell.
    time.sleep(0.2)
    leftovers = subprocess.run(["pgrep", "-f", sleeper], capture_output=True, text=True, check=False)
    assert leftovers.stdout.strip() == ""


@pytest.mark.parametrize("telemetry", ["true", "false"])
def test_a_build_that_ignores_sigterm_is_killed_after_the_grace_period(
    workspace: Path, telemetry: str
) -> None:
    sleeper = f"sleep 59.{os.getpid()}{len(telemetry)}"
    command = f"trap '' TERM\necho started > started.txt\n{sleeper}"
    proc, files = start(workspace, {"command": command, "telemetry-enabled": telemetry})
    deadline = time.monotonic() + 20
    while not (workspace / "started.txt").exists():
        assert time.monotonic() < deadline, "the build never started"
        time.sleep(0.05)
    time.sleep(0.2)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    run = finish(proc, files, workspace, timeout=30)
    assert 4 < time.monotonic() - sent < 10  # the grace period (5 s), then SIGKILL
    assert run.returncode == 143
    assert run.outputs["build-status"] == "cancelled"
    run.build_summary()
    leftovers = subprocess.run(["pgrep", "-f", sleeper], capture_output=True, text=True, check=False)
    assert leftovers.stdout.strip() == ""


# ---------------------------------------------------------------- cost


def test_the_build_starts_quickly(workspace: Path) -> None:
    """From launching the entrypoint to the build's first instruction: the target is under 1 s."""
    files = workspace.parent / "file_commands"
    files.mkdir()
    (files / "set_output_1").write_text("")
    (files / "step_summary_1").write_text("")
    env = runner_env(workspace, {"COMMAND": "date +%s.%N > started.txt"}, files)
    best = 10.0
    for _ in range(5):  # the best of five: the first run pays for cold caches, others for load
        launched = time.time()
        subprocess.run(
            [sys.executable, str(ROOT / "entrypoint.py")],
            cwd=workspace,
            env=env,
            capture_output=True,
            check=True,
        )
        best = min(best, float((workspace / "started.txt").read_text()) - launched)
    assert best < 1.0, f"build started {best:.3f} s after launch"
