"""Regression history across workflow runs, end to end: the entrypoint as a subprocess with the
runner's variables, the loopback GitHub API serving artifacts, and this test playing
upload-artifact (it zips the telemetry folder into the API between runs, as the workflow would)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from tests.action.test_entrypoint import Run, finish, runner_env
from tests.support.fake_github import FakeGitHub

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghs_HISTORYflowTOKEN_0123456789"
REPO = "acme/tool"
QUICK = "python3 -c 'import time; time.sleep(0.3)'"
# 9 s against ~0.5 s: far above the 5 s floor even when a loaded machine slows the quick runs.
SLOW = "python3 -c 'import time; time.sleep(9)'"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as server:
        server.add_repo(REPO)
        yield server


def _run(tmp: Path, gh: FakeGitHub, run_id: int, command: str, *, event: str = "push", **inputs: str) -> Run:
    workspace = tmp / f"run-{run_id}" / "workspace"  # a fresh workspace each time, as on GitHub
    workspace.mkdir(parents=True)
    values = {"command": command, "github-token": TOKEN, "sample-interval": "0.2", **inputs}
    files = workspace.parent / "file_commands"
    files.mkdir()
    (files / "set_output_1").write_text("")
    (files / "step_summary_1").write_text("")
    env = runner_env(workspace, {k.replace("_", "-"): v for k, v in values.items()}, files)
    env.update(
        {
            "GITHUB_API_URL": gh.api_url,
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_RUN_ID": str(run_id),
            "GITHUB_SHA": f"{run_id:040d}",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_REF_NAME": "main" if event == "push" else f"{run_id}/merge",
        }
    )
    if event == "pull_request":
        event_file = workspace.parent / "event.json"
        event_file.write_text(json.dumps({"number": 7, "pull_request": {"number": 7}}))
        env.update(
            {"GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "feature", "GITHUB_EVENT_PATH": str(event_file)}
        )
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "entrypoint.py")],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return finish(proc, files, workspace)


def _upload(gh: FakeGitHub, run: Run, run_id: int, branch: str) -> None:
    """What actions/upload-artifact does with `path: <telemetry-dir>` and include-hidden-files."""
    folder = run.workspace / run.outputs["telemetry-dir"]
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    gh.add_artifact(REPO, run.outputs["history-artifact"], files, run_id=run_id, head_branch=branch)


def _history(run: Run) -> dict[str, object]:
    path = run.workspace / run.outputs["telemetry-dir"] / "history.json"
    document = json.loads(path.read_text())
    jsonschema.validate(document, json.loads((ROOT / "schemas" / "history.schema.json").read_text()))
    assert isinstance(document, dict)
    return document


def test_four_runs_save_compare_detect_and_a_pull_request_uses_main(gh: FakeGitHub, tmp_path: Path) -> None:
    first = _run(tmp_path, gh, 101, QUICK, save_baseline="true")
    assert first.returncode == 0, first.stdout + first.stderr
    name = first.outputs["history-artifact"]
    assert name.startswith("telemetry-history-")
    assert first.outputs["baseline-runs"] == "0"
    assert "no history yet" in first.stdout  # a notice, not a failure
    assert [e["run_id"] for e in _history(first)["entries"]] == ["101"]  # type: ignore[index]
    _upload(gh, first, 101, "main")

    second = _run(tmp_path, gh, 102, QUICK, save_baseline="true")
    assert second.returncode == 0
    assert second.outputs["history-artifact"] == name
    assert second.outputs["regression-detected"] == "false"
    assert second.outputs["baseline-runs"] == "1"
    assert "compared with the 1 baseline run on main" in second.summary
    _upload(gh, second, 102, "main")

    third = _run(tmp_path, gh, 103, SLOW)
    assert third.returncode == 0
    assert third.outputs["regression-detected"] == "true", third.summary
    regressions = json.loads(third.outputs["performance-regressions"])
    assert any(m.startswith("Build duration increased by ") for m in regressions)
    assert third.outputs["baseline-runs"] == "2"
    assert "median of 2 baseline runs on main" in third.summary
    entries = _history(third)["entries"]
    assert [e["run_id"] for e in entries] == ["101", "102", "103"]  # type: ignore[index]
    assert [e["baseline"] for e in entries] == [True, True, False]  # type: ignore[index]
    assert "```mermaid\nxychart-beta" in third.summary and '"now"' in third.summary
    _upload(gh, third, 103, "main")

    # The feature branch's own (newer) history would hide the regression; the PR must use main's.
    fake = json.loads(json.dumps(_history(third)))
    for entry in fake["entries"]:
        entry["duration_seconds"] = 1000.0
    gh.add_artifact(
        REPO, name, {"history.json": json.dumps(fake).encode()}, run_id=150, head_branch="feature"
    )
    gh.add_pull_request(REPO, 7, "feature", "main")
    pr = _run(tmp_path, gh, 104, SLOW, event="pull_request", pr_comment="always")
    assert pr.returncode == 0
    assert pr.outputs["regression-detected"] == "true"
    assert "found in artifact " + name + " of run 103 on main" in pr.summary.replace("\\", "")
    comments = gh.comments(REPO, 7)
    assert len(comments) == 1 and "Build duration increased by" in comments[0].body

    again = _run(tmp_path, gh, 105, QUICK, event="pull_request", pr_comment="always")
    assert again.returncode == 0
    comments = gh.comments(REPO, 7)
    assert len(comments) == 1 and "no performance regression" in comments[0].body
    # The token went to the API and nowhere else.
    for run in (first, second, third, pr, again):
        logged = [line for line in run.stdout.splitlines() if not line.startswith("::add-mask::")]
        assert TOKEN not in "\n".join(logged) + run.stderr + run.summary
        for path in run.workspace.rglob("*"):
            assert not path.is_file() or TOKEN.encode() not in path.read_bytes(), path
    assert all(r.header("Authorization") is None for r in gh.requests_matching("/objects/*"))


def test_a_refusing_api_is_a_notice_and_the_build_result_stands(gh: FakeGitHub, tmp_path: Path) -> None:
    from tests.support.fake_github import Fault

    gh.add_fault(Fault.status_code("/repos/*/actions/artifacts", 403, times=None))
    run = _run(tmp_path, gh, 201, QUICK)
    assert run.returncode == 0
    assert run.outputs["build-status"] == "success"
    assert "::notice title=History::" in run.stdout and "actions: read" in run.stdout
    assert "actions: read" in run.summary
    assert _history(run)["entries"]
