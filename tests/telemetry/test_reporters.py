"""write_all and every reporter: schemas, types the guide's snippets need, Prometheus, atomicity."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from telemetry.model import (
    CpuResult,
    DiskResult,
    FailureEvent,
    MemoryResult,
    NetworkResult,
    ProcessOutcome,
    RunData,
    StageRecord,
)
from telemetry.publish_files import write_all
from telemetry.reporters.metrics_json import iso_time
from telemetry.reporters.summary_block import build_summary_block
from tests.telemetry.factories import T0, make_run

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


def _empty_run() -> RunData:
    """A run where every sampler failed: zero figures, no samples."""
    base = make_run(stages=())
    return RunData(
        start_time=T0,
        end_time=T0 + 0.2,
        duration_seconds=0.2,
        system=base.system,
        memory=MemoryResult(0.0, "none", (), 0.0, ()),
        cpu=CpuResult(0.0, 0.0, 0.0, 0.0, 0.0, ()),
        network=NetworkResult(0, 0, "unknown", {}, 0, ()),
        disk=DiskResult(0, 0, "/", 0, 0, "unavailable", ()),
        stages=(),
        failures=(),
        outcome=ProcessOutcome(0, None, False, False),
        sampler_errors=("network: PermissionError(13, 'Permission denied')",),
    )


RUNS: dict[str, RunData] = {
    "success": make_run(),
    "failure-event": make_run(
        failures=(FailureEvent("architecture_arm64", "sha256 mismatch", "", T0 + 200, category="security"),),
        outcome=ProcessOutcome(1, None, False, False, ("checksum mismatch for uv.tar.gz",)),
    ),
    "oom": make_run(
        stages=(
            StageRecord("architecture_amd64", "incomplete", T0, T0 + 30, 30.0, "never completed", 7000.0),
        ),
        outcome=ProcessOutcome(None, signal.SIGKILL, False, True, ("Killed",)),
    ),
    "cancelled": make_run(outcome=ProcessOutcome(None, signal.SIGTERM, True, False, ("Terminated",))),
    "spawn-error": make_run(
        stages=(),
        outcome=ProcessOutcome(
            None, None, False, False, (), "[Errno 2] No such file or directory: './build.sh'"
        ),
    ),
    "empty": _empty_run(),
}


@pytest.fixture(params=sorted(RUNS))
def written(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path, Any]:
    name = str(request.param)
    report = write_all(RUNS[name], telemetry_dir=tmp_path, packages_built=3, packages_failed=1)
    return name, tmp_path, report


def test_every_file_matches_its_schema(written: tuple[str, Path, Any]) -> None:
    _, directory, report = written
    metrics = json.loads((directory / "metrics.json").read_text())
    jsonschema.validate(metrics, schema("metrics"))
    assert metrics == json.loads(json.dumps(report.document.to_json()))
    summary = {
        "package": "uv",
        "version": "0.5.11",
        "status": report.status if report.status != "failure" else "failure",
        "packages": [],
        "failed": [],
        "skipped": [],
        "error": None,
        "telemetry": report.summary_block.to_json(),
    }
    jsonschema.validate(summary, schema("build-summary"))
    failure_path = directory / "failure-report.json"
    if report.status == "success":
        assert not failure_path.exists()
    else:
        jsonschema.validate(json.loads(failure_path.read_text()), schema("failure-report"))
    for log in ("build-telemetry.log", "build-stages.log", "memory-samples.log", "network-samples.log"):
        assert (directory / log).is_file(), log
    assert set(report.paths.values()) <= set(directory.iterdir())


def test_status_and_failure_fields(written: tuple[str, Path, Any]) -> None:
    name, _, report = written
    build = report.document.to_json()["build_metrics"]
    expected = {
        "success": ("success", ""),
        "failure-event": ("failure", "security"),
        "oom": ("failure", "resource"),
        "cancelled": ("cancelled", ""),
        "spawn-error": ("failure", "configuration"),
        "empty": ("success", ""),
    }[name]
    assert (build["status"], build["failure_category"]) == expected
    assert report.summary_block.to_json()["failure_category"] == expected[1]
    if name == "oom":
        assert build["failure_stage"] == "architecture_amd64" and build["signal"] == "SIGKILL"
        assert report.analysis is not None and report.analysis.matched_rule == "signal:SIGKILL+oom"
    if name == "cancelled":
        assert report.analysis is None and report.document.to_json()["failure_analysis"] is None


def test_guide_snippet_figures_are_integers(written: tuple[str, Path, Any]) -> None:
    _, directory, _ = written
    metrics = json.loads((directory / "metrics.json").read_text())
    for section, key in [
        ("build_session", "duration_seconds"),
        ("build_session", "cpu_cores"),
        ("build_session", "memory_total_mb"),
        ("build_session", "disk_available_gb"),
        ("memory_metrics", "peak_usage_mb"),
        ("network_metrics", "bytes_downloaded"),
        ("network_metrics", "bytes_uploaded"),
        ("network_metrics", "connection_count"),
        ("build_metrics", "packages_built"),
        ("build_metrics", "packages_failed"),
        ("performance_metrics", "performance_score"),
    ]:
        assert type(metrics[section][key]) is int, (section, key)
    for stage in metrics["build_metrics"]["build_stages"]:
        assert type(stage["duration"]) is int
    text = (directory / "metrics.json").read_text()
    # As text too: jq prints 420, not 420.0, so `[ "$X" -gt 4096 ]` works.
    assert re.search(r'"peak_usage_mb": \d+,', text)
    assert re.search(r'"duration_seconds": \d+,', text)


def test_guide_values_for_the_guide_example(tmp_path: Path) -> None:
    report = write_all(make_run(), telemetry_dir=tmp_path, packages_built=12, packages_failed=0)
    m = report.document.to_json()
    assert m["build_session"]["duration_seconds"] == 420
    assert m["build_session"]["hostname"] == "runner-linux-2"
    assert m["build_session"]["memory_total_mb"] == 8192
    assert m["build_session"]["disk_available_gb"] == 45
    assert m["memory_metrics"]["peak_usage_mb"] == 2048
    assert m["memory_metrics"]["samples"][0] == {
        "timestamp": T0,
        "memory_mb": 512.0,
        "system_used_mb": 3000.0,
        "tree_rss_mb": None,
    }
    assert m["network_metrics"]["bytes_downloaded"] == 52428800
    assert m["network_metrics"]["interface"] == "eth0"
    assert [s["duration"] for s in m["build_metrics"]["build_stages"]] == [2, 180, 220]
    assert report.summary_block == build_summary_block(report.document, telemetry_dir=str(tmp_path))
    assert list(report.summary_block.to_json())[:6] == [
        "build_duration_seconds",
        "peak_memory_mb",
        "network_downloaded_bytes",
        "network_uploaded_bytes",
        "failure_category",
        "performance_regressions",
    ]


def test_iso_time_has_the_guides_offset_format(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert iso_time(1737176400.0) == "2025-01-18T10:30:00+0530"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_prometheus_exposition_parses(written: tuple[str, Path, Any]) -> None:
    _, directory, report = written
    text = (directory / "metrics.prom").read_text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for required in ("build_duration_seconds", "peak_memory_mb", "build_performance_score", "build_status"):
        assert required in families, required
    (duration,) = families["build_duration_seconds"].samples
    assert duration.value == pytest.approx(report.document.build_session.duration_seconds_exact)
    (peak,) = families["peak_memory_mb"].samples
    assert peak.value == pytest.approx(report.document.memory_metrics.peak_usage_mb_exact)
    statuses = {s.labels["status"]: s.value for s in families["build_status"].samples}
    assert statuses[report.status] == 1 and sum(statuses.values()) == 1
    failure = {s.labels["category"]: s.value for s in families["build_failure"].samples}
    assert sum(failure.values()) == (1 if report.status == "failure" else 0)
    stages = families["build_stage_duration_seconds"].samples
    assert len(stages) == len(report.document.to_json()["build_metrics"]["build_stages"])


def test_two_reports_in_one_process_do_not_mix(tmp_path: Path) -> None:
    # Private registries: no "Duplicated timeseries" error, no leftovers.
    a = write_all(make_run(), telemetry_dir=tmp_path / "a", packages_built=1, packages_failed=0)
    b = write_all(make_run(duration=10.0), telemetry_dir=tmp_path / "b", packages_built=1, packages_failed=0)
    assert a.paths["metrics_prom"].read_text() != b.paths["metrics_prom"].read_text()


def test_no_temporaries_left_and_modes(tmp_path: Path) -> None:
    write_all(RUNS["failure-event"], telemetry_dir=tmp_path, packages_built=1, packages_failed=1)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []
    assert oct((tmp_path / "metrics.json").stat().st_mode & 0o777) == "0o644"


def test_success_removes_a_stale_failure_report(tmp_path: Path) -> None:
    write_all(RUNS["oom"], telemetry_dir=tmp_path, packages_built=0, packages_failed=1)
    assert (tmp_path / "failure-report.json").exists()
    write_all(RUNS["success"], telemetry_dir=tmp_path, packages_built=1, packages_failed=0)
    assert not (tmp_path / "failure-report.json").exists()


def test_sampler_logs_written_live_are_left_alone(tmp_path: Path) -> None:
    live = '{"timestamp":1.0,"memory_mb":5.0}\n'
    (tmp_path / "memory-samples.log").write_text(live)
    report = write_all(RUNS["success"], telemetry_dir=tmp_path, packages_built=1, packages_failed=0)
    assert (tmp_path / "memory-samples.log").read_text() == live
    lines = (tmp_path / "network-samples.log").read_text().splitlines()
    assert [json.loads(x)["bytes_received"] for x in lines] == [0, 52428800]
    assert "memory_samples" in report.paths


def test_logs_are_human_readable(tmp_path: Path) -> None:
    write_all(RUNS["oom"], telemetry_dir=tmp_path, packages_built=0, packages_failed=1)
    log = (tmp_path / "build-telemetry.log").read_text()
    assert "Status:           failure" in log
    assert "Category:       resource (permanent)" in log
    assert "cgroup_resident" in log
    stages = (tmp_path / "build-stages.log").read_text().splitlines()
    assert stages[0].startswith("# start_time\tstage\tstatus")
    assert stages[1].split("\t")[1:4] == ["architecture_amd64", "incomplete", "30.0"]


def test_unwritable_directory_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores directory modes: make the "directory" a file instead.
        target = tmp_path / "file"
        target.write_text("")
    else:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o500)
    report = write_all(RUNS["success"], telemetry_dir=target, packages_built=1, packages_failed=0)
    assert report.warnings
    assert "metrics_json" not in report.paths
    assert report.summary_block.to_json()["build_duration_seconds"] == 420


def test_real_monitored_session_report(tmp_path: Path) -> None:
    """A real RunData from telemetry.session (shell build using the CLI inside), through write_all."""
    import sys

    from telemetry.session import Session, SessionOptions

    root = Path(__file__).resolve().parents[2]
    tdir = tmp_path / ".telemetry"
    script = (
        f'T="{sys.executable} -m telemetry"; '
        "$T stage-start download; "
        f"{sys.executable} -c 'import time; b = bytearray(48 * 1024 * 1024); time.sleep(0.4)'; "
        "$T stage-complete download success fetched; "
        "$T stage-start build; "
        "echo 'E: Unable to locate package libfoo-dev' >&2; exit 100"
    )
    options = SessionOptions(
        telemetry_dir=tdir,
        sample_interval=0.1,
        cwd=str(tmp_path),
        env={"PYTHONPATH": str(root)},
        echo_output=False,
    )
    run = Session(options).run(shell_command=script)
    report = write_all(run, telemetry_dir=tdir, packages_built=0, packages_failed=1)
    metrics = json.loads((tdir / "metrics.json").read_text())
    jsonschema.validate(metrics, schema("metrics"))
    jsonschema.validate(json.loads((tdir / "failure-report.json").read_text()), schema("failure-report"))
    assert [(s["name"], s["status"]) for s in metrics["build_metrics"]["build_stages"]] == [
        ("download", "success"),
        ("build", "incomplete"),
    ]
    assert report.analysis is not None
    assert (report.analysis.category, report.analysis.stage, report.analysis.exit_code) == (
        "dependency",
        "build",
        100,
    )
    assert report.analysis.reason == "E: Unable to locate package libfoo-dev"
    assert metrics["memory_metrics"]["peak_usage_mb"] >= 48
    assert metrics["memory_metrics"]["samples"]
    # The session's live sample log is kept, not replaced by ours.
    first = json.loads((tdir / "memory-samples.log").read_text().splitlines()[0])
    assert "tree_rss_mb" in first and first["memory_mb"] <= first["tree_rss_mb"]
    families = {f.name for f in text_string_to_metric_families((tdir / "metrics.prom").read_text())}
    assert {"build_duration_seconds", "peak_memory_mb"} <= families


def test_non_finite_figures_do_not_break_the_report(tmp_path: Path) -> None:
    from dataclasses import replace

    base = make_run()
    broken = replace(
        base,
        duration_seconds=float("nan"),
        memory=replace(base.memory, peak_mb=float("inf"), system_used_peak_mb=float("nan")),
    )
    report = write_all(broken, telemetry_dir=tmp_path, packages_built=1, packages_failed=0)
    assert "metrics_json" in report.paths, report.warnings
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    jsonschema.validate(metrics, schema("metrics"))
    assert metrics["memory_metrics"]["peak_usage_mb"] == 0
