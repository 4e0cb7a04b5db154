"""A matrix fanned out over containers and joined by ``mode: aggregate``, in the real image.

Three legs (amd64, arm64, armhf of a release served by the loopback GitHub API) run as three
concurrent container steps, each in its own runner workspace, as a matrix's jobs do. Two more legs
run beside them: the amd64 leg of the next release (a leg of another version) and a ``command``
leg that is cancelled mid-build. Their output and telemetry folders are then laid out the way
``actions/download-artifact`` writes them (one folder per artifact) and the aggregate container
joins them. What the join reports is checked against the legs' own files, read here directly.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.e2e import test_container as container_tests
from tests.e2e.image import ActionRun, ImageBuild, RunnerDirs, RunningAction, run_action, start_action
from tests.support.fake_github import FakeGitHub
from tests.support.fixtures import FAKE_TOKEN
from tests.support.uv_release import tiny_release

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# The session's one image build, shared with the other container tests.
action_image = container_tests.action_image

ROOT = Path(__file__).resolve().parents[2]
REPO = "octo-org/tiny"
ARCHES = ("amd64", "arm64", "armhf")
SUITES = ("bookworm", "trixie")
LEGS = tuple(f"debs-{arch}" for arch in ARCHES)
CONFIG = (
    (ROOT / "examples" / "uv" / "package.yaml")
    .read_text(encoding="utf-8")
    .replace("github_repo: astral-sh/uv", f"github_repo: {REPO}")
    .replace("package_name: uv", "package_name: tiny-uv")
)
CANCEL_COMMAND = "touch .build-started\nsleep 300"


@dataclass(frozen=True)
class Matrix:
    legs: dict[str, ActionRun]  # by artifact name
    other_version: ActionRun
    cancelled: ActionRun
    gh: FakeGitHub
    image: ImageBuild


@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGitHub]:
    tiny = tiny_release(tmp_path_factory.mktemp("tiny-release"), version="1.2.3", name="uv")
    assets = {p.name: p for p in sorted(tiny.iterdir()) if p.is_file() and not p.name.startswith(".")}
    with FakeGitHub(token=FAKE_TOKEN, require_token=True) as gh:
        gh.add_repo(REPO, license_spdx="MIT")
        gh.add_release(REPO, "v1.2.3", assets)
        gh.add_release(REPO, "v1.2.4", assets)
        yield gh


def _start(
    image: ImageBuild, gh: FakeGitHub, tmp: pytest.TempPathFactory, name: str, inputs: dict[str, str]
) -> RunningAction:
    dirs = RunnerDirs.create(tmp.mktemp(name))
    (dirs.workspace / "package.yaml").write_text(CONFIG, encoding="utf-8")
    return start_action(
        image.tag,
        dirs,
        inputs={
            "github-token": FAKE_TOKEN,
            "output-dir": "dist",
            "distributions": ",".join(SUITES),
            "sample-interval": "0.2",
            **inputs,
        },
        api_url=gh.api_url,
        env={"GITHUB_SERVER_URL": gh.server_url, "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64"},
        token=FAKE_TOKEN,
    )


def _cancel(running: RunningAction) -> ActionRun:
    marker = running.dirs.workspace / ".build-started"
    deadline = time.monotonic() + 180
    while not marker.exists():
        assert running.proc.poll() is None, running.wait(10).describe()
        assert time.monotonic() < deadline, "the cancelled leg never started"
        time.sleep(0.1)
    running.send_signal(signal.SIGINT)
    return running.wait(timeout=120)


@pytest.fixture(scope="module")
def matrix(action_image: ImageBuild, github: FakeGitHub, tmp_path_factory: pytest.TempPathFactory) -> Matrix:
    """Every leg started at once, as the matrix's jobs start; then each waited for."""
    started = {
        name: _start(
            action_image, github, tmp_path_factory, name, {"version": "v1.2.3", "architecture": arch}
        )
        for name, arch in zip(LEGS, ARCHES, strict=True)
    }
    other = _start(
        action_image, github, tmp_path_factory, "other", {"version": "v1.2.4", "architecture": "amd64"}
    )
    cancel = _start(action_image, github, tmp_path_factory, "cancel", {"command": CANCEL_COMMAND})
    cancelled = _cancel(cancel)
    legs = {name: running.wait(timeout=600) for name, running in started.items()}
    for run in legs.values():
        assert run.returncode == 0, run.describe()
    return Matrix(legs, other.wait(timeout=600), cancelled, github, action_image)


def _artifact(run: ActionRun, target: Path) -> None:
    """upload-artifact of `dist` and `.telemetry`, then download-artifact into its own folder."""
    for part in ("dist", ".telemetry"):
        if (run.dirs.workspace / part).is_dir():
            shutil.copytree(run.dirs.workspace / part, target / part)


def _join(
    m: Matrix, tmp: pytest.TempPathFactory, name: str, legs: dict[str, ActionRun], **inputs: str
) -> ActionRun:
    dirs = RunnerDirs.create(tmp.mktemp(name))
    for leg, run in legs.items():
        _artifact(run, dirs.workspace / "legs" / leg)
    return _join_dirs(m, dirs, **inputs)


def _join_dirs(m: Matrix, dirs: RunnerDirs, **inputs: str) -> ActionRun:
    return run_action(
        m.image.tag,
        dirs,
        inputs={"mode": "aggregate", "aggregate-dir": "legs", "github-token": FAKE_TOKEN, **inputs},
        api_url=m.gh.api_url,
        token=FAKE_TOKEN,
    )


def _document(run: ActionRun, rel: str, schema: str) -> dict[str, Any]:
    document = json.loads((run.dirs.workspace / rel).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(json.loads((ROOT / "schemas" / schema).read_text())).validate(document)
    assert isinstance(document, dict)
    return document


def _leg(summary: dict[str, Any], name: str) -> dict[str, Any]:
    return next(leg for leg in summary["legs"] if leg["name"] == name)


def test_three_concurrent_legs_join_into_one_result(
    matrix: Matrix, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = _join(matrix, tmp_path_factory, "join", matrix.legs, **{"expected-legs": ",".join(LEGS)})
    assert run.returncode == 0, run.describe()
    out = run.outputs
    assert out["build-status"] == "success"
    packages = json.loads(out["packages-json"])
    assert len(packages) == 6 and out["packages"].split() == packages
    for path in packages:
        assert (run.dirs.workspace / path).is_file(), path
    summary = _document(run, out["build-summary"], "build-summary.schema.json")
    assert {(p["arch"], p["suite"]): p["leg"] for p in summary["packages"]} == {
        (a, s): f"debs-{a}" for a in ARCHES for s in SUITES
    }
    metrics = _document(run, f"{out['telemetry-dir']}/metrics.json", "metrics.schema.json")
    # The legs ran at the same time: the join's wall time is their span, read from their own files.
    own = [
        json.loads((leg.dirs.workspace / ".telemetry" / "metrics.json").read_text())
        for leg in matrix.legs.values()
    ]
    span = max(m["build_session"]["end_timestamp"] for m in own) - min(
        m["build_session"]["start_timestamp"] for m in own
    )
    assert metrics["build_session"]["duration_seconds_exact"] == pytest.approx(span, abs=0.002)
    assert metrics["memory_metrics"]["peak_usage_mb_exact"] == max(
        m["memory_metrics"]["peak_usage_mb_exact"] for m in own
    )
    for leg in summary["legs"]:
        assert leg["runner"]["os"] == "Linux" and leg["runner"]["machine"]
    # The job summary: the whole grid, each cell naming its leg; the legs' timeline.
    text = run.summary
    for leg in LEGS:
        assert text.count(f"✅ {leg}") == len(SUITES), leg
    assert "gantt" in text


def test_a_missing_leg_is_partial_and_named(matrix: Matrix, tmp_path_factory: pytest.TempPathFactory) -> None:
    present = {name: run for name, run in matrix.legs.items() if name != "debs-armhf"}
    run = _join(matrix, tmp_path_factory, "join-missing", present, **{"expected-legs": ",".join(LEGS)})
    assert run.outputs["build-status"] == "partial", run.describe()
    assert run.returncode == 1
    summary = _document(run, run.outputs["build-summary"], "build-summary.schema.json")
    assert _leg(summary, "debs-armhf")["problem"] == "missing"
    assert "debs-armhf" in run.summary


def test_a_leg_of_another_version_is_refused(
    matrix: Matrix, tmp_path_factory: pytest.TempPathFactory
) -> None:
    legs = {**matrix.legs, "debs-amd64-next": matrix.other_version}
    run = _join(matrix, tmp_path_factory, "join-foreign", legs, version="v1.2.3")
    assert run.outputs["build-status"] == "partial", run.describe()
    summary = _document(run, run.outputs["build-summary"], "build-summary.schema.json")
    foreign = _leg(summary, "debs-amd64-next")
    assert foreign["problem"] == "foreign" and "1.2.4" in foreign["detail"]
    assert len(json.loads(run.outputs["packages-json"])) == 6
    assert "debs-amd64-next" in run.summary


def test_a_truncated_summary_is_named_without_a_crash(
    matrix: Matrix, tmp_path_factory: pytest.TempPathFactory
) -> None:
    dirs = RunnerDirs.create(tmp_path_factory.mktemp("join-truncated"))
    for leg, run in matrix.legs.items():
        _artifact(run, dirs.workspace / "legs" / leg)
    damaged = dirs.workspace / "legs" / "debs-arm64" / "dist" / "build-summary.json"
    damaged.write_bytes(damaged.read_bytes()[:200])
    run = _join_dirs(matrix, dirs)
    assert run.outputs["build-status"] == "partial", run.describe()
    assert "Traceback" not in run.stdout + run.stderr
    summary = _document(run, run.outputs["build-summary"], "build-summary.schema.json")
    assert _leg(summary, "debs-arm64")["problem"] == "unreadable"
    assert len(json.loads(run.outputs["packages-json"])) == 4


def test_a_cancelled_leg_is_shown_as_cancelled(
    matrix: Matrix, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert matrix.cancelled.outputs["build-status"] == "cancelled", matrix.cancelled.describe()
    legs = {**matrix.legs, "debs-cancelled": matrix.cancelled}
    run = _join(matrix, tmp_path_factory, "join-cancelled", legs)
    assert run.outputs["build-status"] == "partial", run.describe()
    summary = _document(run, run.outputs["build-summary"], "build-summary.schema.json")
    assert _leg(summary, "debs-cancelled")["status"] == "cancelled"
    assert "⏹️" in run.summary and "debs-cancelled" in run.summary
