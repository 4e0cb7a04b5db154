"""The guide's functions: Python API and ``python -m telemetry`` from real shell scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from telemetry import api
from telemetry.__main__ import main as cli_main
from telemetry.api import TelemetryConfig

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEMETRY_", "SAVE_BASELINE"))}
    env["PYTHONPATH"] = str(ROOT)
    env["TELEMETRY_PYTHON"] = sys.executable
    env.update(extra)
    return env


def _bash(script: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    prelude = 'eval "$("$TELEMETRY_PYTHON" -m telemetry shell-functions)"\n'
    return subprocess.run(
        ["bash", "-c", prelude + textwrap.dedent(script)],
        cwd=cwd,
        env=_env(**extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _cli(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "telemetry", *args], cwd=cwd, env=_env(**extra), capture_output=True, text=True
    )


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return loaded


GUIDE_SCRIPT = """
set -e
init_telemetry
record_build_stage "build_initialization"
sleep 0.1
record_build_stage_complete "build_initialization" "success" "ready"
record_build_stage "architecture_amd64"
# A child holding 64 MB until told to go: alive (and resident) during the next call, however slow.
"$TELEMETRY_PYTHON" -c "
import os, time
b = bytearray(64 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])
open('ready', 'w').close()
deadline = time.time() + 30
while not os.path.exists('done') and time.time() < deadline:
    time.sleep(0.02)
" &
while [ ! -e ready ]; do sleep 0.02; done
record_build_stage_complete "architecture_amd64" "success" "built"
touch done
wait
record_build_stage "architecture_arm64"
record_build_failure "architecture_arm64" "curl: (6) Could not resolve host: github.com" "6"
record_build_stage_complete "architecture_arm64" "failure" "download failed"
finalize_telemetry --packages-built 1 --packages-failed 1
get_telemetry_summary > summary.json
"""


@pytest.fixture(scope="module")
def guide_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("guide")
    done = _bash(GUIDE_SCRIPT, work)
    assert done.returncode == 0, done.stderr
    return work


def test_standalone_run_writes_the_guides_files(guide_run: Path) -> None:
    tdir = guide_run / ".telemetry"
    for name in (
        "build-telemetry.log",
        "metrics.json",
        "memory-samples.log",
        "network-samples.log",
        "build-stages.log",
        "metrics.prom",
        "failure-report.json",
    ):
        assert (tdir / name).is_file(), name
    metrics = json.loads((tdir / "metrics.json").read_text())
    jsonschema.validate(metrics, _schema("metrics"))
    jsonschema.validate(json.loads((tdir / "failure-report.json").read_text()), _schema("failure-report"))
    stages = metrics["build_metrics"]["build_stages"]
    assert [(s["name"], s["status"]) for s in stages] == [
        ("build_initialization", "success"),
        ("architecture_amd64", "success"),
        ("architecture_arm64", "failure"),
    ]
    assert stages[0]["duration_seconds"] >= 0.1 and stages[0]["message"] == "ready"
    build = metrics["build_metrics"]
    assert (build["status"], build["failure_category"], build["failure_stage"]) == (
        "failure",
        "network",
        "architecture_arm64",
    )
    assert build["packages_built"] == 1 and build["packages_failed"] == 1
    assert metrics["network_metrics"]["interface"] == "unknown"
    assert metrics["network_metrics"]["bytes_downloaded"] == 0
    assert metrics["build_session"]["duration_seconds_exact"] > 0.25
    # The 64 MB child was alive at one of the calls: the sampled tree saw it.
    assert metrics["memory_metrics"]["peak_usage_mb"] >= 64
    assert metrics["memory_metrics"]["peak_source"] == "tree_unique"
    assert metrics["cpu_metrics"]["user_seconds"] + metrics["cpu_metrics"]["system_seconds"] > 0


def test_summary_block_printed(guide_run: Path) -> None:
    summary = json.loads((guide_run / "summary.json").read_text())
    assert summary["failure_category"] == "network"
    assert summary["failure_transient"] is True
    doc = {"package": "x", "version": "1", "status": "failure", "packages": [], "failed": [], "skipped": []}
    jsonschema.validate({**doc, "error": None, "telemetry": summary}, _schema("build-summary"))


def _main(
    args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """The CLI in-process (same argv parsing and exit codes, without a Python start-up per call)."""
    monkeypatch.chdir(cwd)
    for name in ("TELEMETRY_ENABLED", "TELEMETRY_DIR", "TELEMETRY_EVENTS_FILE", "SAVE_BASELINE"):
        monkeypatch.delenv(name, raising=False)
    try:
        code = cli_main(args)
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_regressions_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tdir = tmp_path / ".telemetry"
    tdir.mkdir()
    metrics = {"build_session": {"duration_seconds": 100}, "memory_metrics": {"peak_usage_mb": 500}}
    (tdir / "metrics.json").write_text(json.dumps(metrics))
    code, out, _ = _main(["check-regressions"], tmp_path, monkeypatch, capsys)
    assert (code, out.strip()) == (0, "No baseline to compare with.")
    (tdir / "baseline.json").write_text(
        json.dumps({"build_session": {"duration_seconds": 50}, "memory_metrics": {"peak_usage_mb": 450}})
    )
    code, out, _ = _main(["check-regressions"], tmp_path, monkeypatch, capsys)
    assert code == 1
    assert out.splitlines() == ["Build duration increased by 100%"]
    code, out, _ = _main(["check-regressions", "--threshold", "150"], tmp_path, monkeypatch, capsys)
    assert code == 0 and "No performance regressions" in out
    (tdir / "baseline.json").write_text("{broken")
    code, _, err = _main(["check-regressions"], tmp_path, monkeypatch, capsys)
    assert code == 0 and "baseline ignored" in err
    # The real entry point gives the same status to a shell.
    assert _cli("check-regressions", cwd=tmp_path).returncode == 0


def test_save_baseline_refuses_failed_runs(
    guide_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _main(["save-baseline"], guide_run, monkeypatch, capsys)
    assert code == 3 and "only successful runs" in err
    code, _, _ = _main(["save-baseline", "--force"], guide_run, monkeypatch, capsys)
    assert code == 0
    doc = json.loads((guide_run / ".telemetry" / "baseline.json").read_text())
    jsonschema.validate(doc, _schema("baseline"))


def test_state_errors_and_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(["summary"], tmp_path, monkeypatch, capsys)[0] == 3
    assert _main(["check-regressions"], tmp_path, monkeypatch, capsys)[0] == 3
    assert _main(["stage-complete", "x", "done"], tmp_path, monkeypatch, capsys)[0] == 2
    assert _main(["bogus"], tmp_path, monkeypatch, capsys)[0] == 2
    assert _cli("bogus", cwd=tmp_path).returncode == 2


def test_disabled_does_nothing(tmp_path: Path) -> None:
    script = """
    set -e
    init_telemetry
    record_build_stage "a"
    record_build_failure "a" "boom" "1"
    finalize_telemetry
    get_telemetry_summary > summary.json
    """
    done = _bash(script, tmp_path, TELEMETRY_ENABLED="false")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / ".telemetry").exists()
    assert (tmp_path / "summary.json").read_text() == ""


def test_telemetry_dir_and_save_baseline_env(tmp_path: Path) -> None:
    script = """
    set -e
    init_telemetry
    record_build_stage "only"
    record_build_stage_complete "only" "success"
    finalize_telemetry
    """
    done = _bash(script, tmp_path, TELEMETRY_DIR="out/tele", SAVE_BASELINE="true")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out/tele/metrics.json").is_file()
    assert (tmp_path / "out/tele/baseline.json").is_file()  # a successful run, SAVE_BASELINE=true


def test_inside_a_session_calls_become_events(tmp_path: Path) -> None:
    channel = tmp_path / "events.jsonl"
    script = """
    record_build_stage "download"
    record_build_failure "download" "HTTP 503" "503"
    record_build_stage_complete "download" "failure" "gave up"
    finalize_telemetry
    """
    done = _bash(script, tmp_path, TELEMETRY_EVENTS_FILE=str(channel))
    assert done.returncode == 0, done.stderr
    assert "the session finalizes" in done.stderr
    events = [json.loads(line) for line in channel.read_text().splitlines()]
    assert [e["type"] for e in events] == ["stage_start", "failure", "stage_complete"]
    assert events[1]["code"] == "503"
    assert not (tmp_path / ".telemetry").exists()


def test_python_api_in_process_counts_child_rusage(tmp_path: Path) -> None:
    """The API in the build's own process (a fresh one: a child inherits its parent's
    high-water mark, so only a peak above the caller's own is the child's)."""
    script = textwrap.dedent(
        f"""
        import json, subprocess, sys
        from pathlib import Path
        from telemetry import api
        cfg = api.TelemetryConfig(True, Path({str(tmp_path / "t")!r}), False, 20.0, None)
        assert api.init_telemetry(cfg) == cfg.directory
        assert api.record_build_stage("alloc", cfg)
        subprocess.run(
            [sys.executable, "-c", "b = bytearray(96 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"]
        )
        assert api.record_build_stage_complete("alloc", "success", "", cfg)
        report = api.finalize_telemetry(cfg, packages_built=1)
        assert report is not None and report.status == "success"
        print(json.dumps(report.document.to_json()["memory_metrics"]))
        summary = api.get_telemetry_summary(cfg)
        assert summary is not None and summary["status"] == "success"
        assert api.save_as_baseline(cfg) == cfg.directory / "baseline.json"
        comparison = api.check_performance_regressions(cfg)
        assert comparison is not None and comparison.regressions == () and comparison.performance_score == 100
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    memory = json.loads(done.stdout.strip().splitlines()[-1])
    figures = {f["source"]: f["value_mb"] for f in memory["peak_figures"]}
    assert 96 <= figures["largest_process_rusage"] <= 130
    assert memory["peak_usage_mb"] >= 96


def test_python_api_validates_arguments(tmp_path: Path) -> None:
    cfg = TelemetryConfig(True, tmp_path, False, 20.0, None)
    with pytest.raises(ValueError, match="stage status"):
        api.record_build_stage_complete("x", "done", "", cfg)
    with pytest.raises(ValueError, match="unknown failure category"):
        api.record_build_failure("x", "y", "", cfg, category="weather")


def test_disabled_config_touches_nothing(tmp_path: Path) -> None:
    cfg = TelemetryConfig.from_env({"TELEMETRY_ENABLED": "false", "TELEMETRY_DIR": str(tmp_path / "t")})
    assert cfg.mode == "disabled"
    assert api.init_telemetry(cfg) is None
    assert not api.record_build_stage("x", cfg)
    assert api.finalize_telemetry(cfg) is None
    assert api.get_telemetry_summary(cfg) is None
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("false", False), ("0", False), ("FALSE", False), ("true", True), ("", True), ("x", True)],
)
def test_enabled_flag(value: str, enabled: bool) -> None:
    assert TelemetryConfig.from_env({"TELEMETRY_ENABLED": value}).enabled is enabled


def test_config_defaults() -> None:
    cfg = TelemetryConfig.from_env({})
    assert (cfg.enabled, cfg.directory, cfg.save_baseline, cfg.threshold, cfg.mode) == (
        True,
        Path(".telemetry"),
        False,
        20.0,
        "standalone",
    )
