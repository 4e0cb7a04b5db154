"""``mode: aggregate`` end to end outside the container: real legs, then the join.

Three legs (amd64, arm64, armhf of the demo release) run as the action does, each in its own
workspace; their output and telemetry folders are laid out the way ``actions/download-artifact``
writes them (one folder per artifact, or merged), and the entrypoint joins them. The expected
figures come from the legs' own files, read here with plain JSON, never through the join's code.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.action.test_entrypoint import DEMO, ROOT, Run, finish, run_action, start
from tests.conftest import require_tool

ARCHES = ("amd64", "arm64", "armhf")
SUITES = ("bookworm", "trixie")


def _leg(base: Path, arch: str, *, output_dir: str = "out", telemetry_dir: str = ".telemetry") -> Path:
    workspace = base / f"leg-{arch}-{output_dir.replace('/', '-')}" / "workspace"
    workspace.mkdir(parents=True)
    shutil.copy(DEMO / "package.yaml", workspace / "package.yaml")
    shutil.copytree(DEMO / "release", workspace / "release")
    run = run_action(
        workspace,
        version="v1.0.0",
        assets_dir="release",
        architecture=arch,
        output_dir=output_dir,
        telemetry_dir=telemetry_dir,
        sample_interval="0.2",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return workspace


@pytest.fixture(scope="module")
def legs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each leg's workspace after its run, by artifact name."""
    base = tmp_path_factory.mktemp("legs")
    return {f"debs-{arch}": _leg(base, arch) for arch in ARCHES}


def _download(legs: dict[str, Path], target: Path, names: tuple[str, ...] | None = None) -> None:
    """What upload-artifact (paths: out, .telemetry) and download-artifact leave: one folder each."""
    for name in names or tuple(legs):
        for part in ("out", ".telemetry"):
            shutil.copytree(legs[name] / part, target / name / part)


@pytest.fixture
def aggregate_ws(tmp_path: Path) -> Path:
    ws = tmp_path / "aggregate" / "workspace"
    ws.mkdir(parents=True)
    return ws


def _aggregate(ws: Path, **inputs: str) -> Run:
    return run_action(ws, mode="aggregate", aggregate_dir="legs", **inputs)


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _schema_valid(document: Any, schema: str) -> None:
    jsonschema.Draft202012Validator(_json(ROOT / "schemas" / schema)).validate(document)


def _edit_summary(ws: Path, leg: str, **fields: str) -> None:
    """Change top-level fields of a downloaded leg's build-summary.json."""
    path = ws / "legs" / leg / "out" / "build-summary.json"
    path.write_text(json.dumps({**_json(path), **fields}))


def _leg_by_name(summary: dict[str, Any], name: str) -> dict[str, Any]:
    return next(leg for leg in summary["legs"] if leg["name"] == name)


def test_three_legs_join_into_one_result(legs: dict[str, Path], aggregate_ws: Path) -> None:
    _download(legs, aggregate_ws / "legs")
    run = _aggregate(aggregate_ws, expected_legs="debs-amd64, debs-arm64\ndebs-armhf")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.outputs["build-status"] == "success"
    summary = run.build_summary()
    assert (summary["package"], summary["version"]) == ("hello-demo", "1.0.0")
    packages = json.loads(run.outputs["packages-json"])
    assert len(packages) == 6 and run.outputs["packages"].split() == packages
    for path in packages:
        assert (aggregate_ws / path).is_file() and path.startswith("legs/debs-")
    cells = {(p["arch"], p["suite"]): p["leg"] for p in summary["packages"]}
    assert cells == {(a, s): f"debs-{a}" for a in ARCHES for s in SUITES}
    assert [leg["name"] for leg in summary["legs"]] == sorted(legs)
    assert all(leg["status"] == "success" and leg["problem"] is None for leg in summary["legs"])

    # The combined figures against the legs' own metrics.json, read independently.
    own = [_json(legs[name] / ".telemetry" / "metrics.json") for name in sorted(legs)]
    metrics = _json(aggregate_ws / ".telemetry" / "metrics.json")
    _schema_valid(metrics, "metrics.schema.json")
    start = min(m["build_session"]["start_timestamp"] for m in own)
    end = max(m["build_session"]["end_timestamp"] for m in own)
    assert metrics["build_session"]["duration_seconds_exact"] == pytest.approx(end - start, abs=0.002)
    assert metrics["memory_metrics"]["peak_usage_mb_exact"] == max(
        m["memory_metrics"]["peak_usage_mb_exact"] for m in own
    )
    assert metrics["network_metrics"]["bytes_downloaded"] == sum(
        m["network_metrics"]["bytes_downloaded"] for m in own
    )
    cpu = sum(m["cpu_metrics"]["user_seconds"] for m in own)
    assert metrics["cpu_metrics"]["user_seconds"] == pytest.approx(cpu, abs=0.002)
    assert metrics["build_metrics"]["packages_built"] == 6
    stage_names = {s["name"] for s in metrics["build_metrics"]["build_stages"]}
    for name in legs:
        assert any(stage.startswith(f"{name}/") for stage in stage_names)
    assert "build_duration_seconds" in (aggregate_ws / ".telemetry" / "metrics.prom").read_text()
    assert float(run.outputs["peak-memory-mb"]) == pytest.approx(
        metrics["memory_metrics"]["peak_usage_mb_exact"], abs=0.05
    )

    # The guide's jq snippets, unchanged, on the combined build-summary.json.
    require_tool("jq")
    file = aggregate_ws / run.outputs["build-summary"]
    for query in (
        ".telemetry.build_duration_seconds",
        ".telemetry.peak_memory_mb",
        ".telemetry.network_downloaded_bytes",
    ):
        out = subprocess.run(["jq", "-r", query, str(file)], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == str(summary["telemetry"][query.split(".")[-1]])
    none = subprocess.run(
        ["jq", "-e", ".telemetry.performance_regressions | length > 0", str(file)],
        capture_output=True,
        check=False,
    )
    assert none.returncode == 1  # false: no regressions


def test_a_missing_leg_is_named_and_makes_it_partial(legs: dict[str, Path], aggregate_ws: Path) -> None:
    _download(legs, aggregate_ws / "legs", ("debs-amd64", "debs-arm64"))
    run = _aggregate(
        aggregate_ws, expected_legs="debs-amd64,debs-arm64,debs-armhf", architecture="amd64,arm64,armhf"
    )
    assert run.returncode == 1
    assert run.outputs["build-status"] == "partial"
    assert len(json.loads(run.outputs["packages-json"])) == 4
    summary = run.build_summary()
    missing = _leg_by_name(summary, "debs-armhf")
    assert missing["problem"] == "missing" and "debs-armhf" in missing["detail"]
    assert "debs-armhf" in run.summary
    # An error annotation names the leg; the cells it would have built are named too.
    assert "::error title=Leg debs-armhf%3A missing::debs-armhf" in run.stdout
    assert "armhf/trixie: no leg built or attempted it" in run.stdout


def test_a_leg_of_another_version_is_refused(legs: dict[str, Path], aggregate_ws: Path) -> None:
    _download(legs, aggregate_ws / "legs")
    _edit_summary(aggregate_ws, "debs-armhf", version="v0.9.0")
    run = _aggregate(aggregate_ws)
    assert run.outputs["build-status"] == "partial"
    summary = run.build_summary()
    foreign = _leg_by_name(summary, "debs-armhf")
    assert foreign["problem"] == "foreign" and "v0.9.0" in foreign["detail"]
    assert {p["leg"] for p in summary["packages"]} == {"debs-amd64", "debs-arm64"}
    assert "debs-armhf" in run.summary


def test_a_truncated_summary_is_named_without_a_crash(legs: dict[str, Path], aggregate_ws: Path) -> None:
    _download(legs, aggregate_ws / "legs")
    leg_summary = aggregate_ws / "legs" / "debs-arm64" / "out" / "build-summary.json"
    leg_summary.write_bytes(leg_summary.read_bytes()[:150])
    run = _aggregate(aggregate_ws)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert run.outputs["build-status"] == "partial"
    unreadable = _leg_by_name(run.build_summary(), "debs-arm64")
    assert unreadable["problem"] == "unreadable"
    assert "debs-arm64/out/build-summary.json" in unreadable["detail"]


def test_an_invalid_summary_is_named(legs: dict[str, Path], aggregate_ws: Path) -> None:
    _download(legs, aggregate_ws / "legs")
    _edit_summary(aggregate_ws, "debs-arm64", status="splendid")
    run = _aggregate(aggregate_ws)
    invalid = _leg_by_name(run.build_summary(), "debs-arm64")
    assert invalid["problem"] == "invalid" and "status" in invalid["detail"]
    assert run.outputs["build-status"] == "partial"


def _cancelled_leg(base: Path) -> Path:
    workspace = base / "cancelled" / "workspace"
    workspace.mkdir(parents=True)
    proc, files = start(
        workspace,
        {"command": "echo started > started.txt\nsleep 60", "output-dir": "out", "sample-interval": "0.2"},
    )
    deadline = time.monotonic() + 30
    while not (workspace / "started.txt").exists():
        assert time.monotonic() < deadline, "the leg never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    run = finish(proc, files, workspace, timeout=60)
    assert run.outputs["build-status"] == "cancelled"
    return workspace


def test_a_cancelled_leg_is_shown_as_cancelled(
    legs: dict[str, Path], aggregate_ws: Path, tmp_path: Path
) -> None:
    _download(legs, aggregate_ws / "legs")
    cancelled = _cancelled_leg(tmp_path)
    for part in ("out", ".telemetry"):
        shutil.copytree(cancelled / part, aggregate_ws / "legs" / "debs-riscv64" / part)
    run = _aggregate(aggregate_ws)
    assert run.outputs["build-status"] == "partial"
    leg = _leg_by_name(run.build_summary(), "debs-riscv64")
    assert leg["status"] == "cancelled" and leg["problem"] is None
    assert "cancelled" in run.summary


def test_merged_artifacts_are_told_apart(tmp_path: Path, aggregate_ws: Path) -> None:
    """``merge-multiple: true``: every leg used its own output and telemetry folder."""
    for arch in ("amd64", "arm64"):
        ws = _leg(tmp_path, arch, output_dir=f"out/{arch}", telemetry_dir=f".telemetry/{arch}")
        shutil.copytree(ws / "out", aggregate_ws / "legs" / "out", dirs_exist_ok=True)
        shutil.copytree(ws / ".telemetry", aggregate_ws / "legs" / ".telemetry", dirs_exist_ok=True)
    run = _aggregate(aggregate_ws)
    assert run.outputs["build-status"] == "success", run.stdout
    summary = run.build_summary()
    assert [leg["name"] for leg in summary["legs"]] == ["out/amd64", "out/arm64"]
    assert all(leg["duration_seconds"] for leg in summary["legs"])  # each found its own metrics.json
    assert len(summary["packages"]) == 4


def test_identical_and_conflicting_duplicates(legs: dict[str, Path], aggregate_ws: Path) -> None:
    _download(legs, aggregate_ws / "legs")
    shutil.copytree(aggregate_ws / "legs" / "debs-amd64", aggregate_ws / "legs" / "debs-amd64-again")
    run = _aggregate(aggregate_ws)
    assert run.outputs["build-status"] == "success"  # an identical copy is listed once
    assert len(json.loads(run.outputs["packages-json"])) == 6

    again = aggregate_ws / "legs" / "debs-amd64-again" / "out"
    deb = sorted(again.glob("*.deb"))[0]
    deb.write_bytes(deb.read_bytes() + b"x")
    document = _json(again / "build-summary.json")
    for package in document["packages"]:
        if package["path"].endswith(deb.name):
            package["size"] = deb.stat().st_size
            package["sha256"] = hashlib.sha256(deb.read_bytes()).hexdigest()
    (again / "build-summary.json").write_text(json.dumps(document))
    run = _aggregate(aggregate_ws)
    assert run.outputs["build-status"] == "partial"
    assert deb.name in run.summary


def test_no_legs_is_a_clear_failure(aggregate_ws: Path) -> None:
    run = _aggregate(aggregate_ws)
    assert run.returncode == 1
    assert run.outputs["build-status"] == "failure"
    assert run.outputs["failure-category"] == "configuration"
    assert "no build-summary.json under legs/" in run.build_summary()["error"]["message"]


def test_aggregate_mode_needs_its_folder(aggregate_ws: Path) -> None:
    run = run_action(aggregate_ws, mode="aggregate")
    assert run.returncode == 2
    assert "aggregate-dir" in run.build_summary()["error"]["message"]


def test_a_legs_regression_is_the_joins_and_can_fail_it(legs: dict[str, Path], aggregate_ws: Path) -> None:
    _download(legs, aggregate_ws / "legs")
    metrics_file = aggregate_ws / "legs" / "debs-arm64" / ".telemetry" / "metrics.json"
    metrics = _json(metrics_file)
    metrics["performance_metrics"]["regressions_detected"] = ["Build duration increased by 40%"]
    metrics_file.write_text(json.dumps(metrics))
    run = _aggregate(aggregate_ws, fail_on_regression="true")
    assert run.outputs["build-status"] == "success"
    assert run.outputs["regression-detected"] == "true"
    assert json.loads(run.outputs["performance-regressions"]) == [
        "debs-arm64: Build duration increased by 40%"
    ]
    assert run.returncode == 1
    regressions = run.summary.split("### Regressions", 1)[1].split("###", 1)[0]
    assert "**debs-arm64**: Build duration increased by 40%" in regressions


def test_the_join_never_writes_into_the_legs(legs: dict[str, Path], aggregate_ws: Path) -> None:
    _download(legs, aggregate_ws / "legs")
    before = {p: p.read_bytes() for p in (aggregate_ws / "legs").rglob("*") if p.is_file()}
    run = run_action(
        aggregate_ws, mode="aggregate", aggregate_dir="legs", telemetry_dir="legs/debs-amd64/.telemetry"
    )
    assert run.returncode == 2
    assert "telemetry-dir" in run.stdout and "inside aggregate-dir" in run.stdout
    after = {p: p.read_bytes() for p in (aggregate_ws / "legs").rglob("*") if p.is_file()}
    assert after == before
