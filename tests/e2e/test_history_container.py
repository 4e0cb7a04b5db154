"""Regression history across workflow runs, inside the action's real image.

The same scenario as ``tests/action/test_history_flow.py``, but every run is a container step
started the way GitHub's runner starts it (``tests/e2e/image.py``): a fresh workspace per run,
its own ``GITHUB_RUN_ID``, the loopback GitHub API reached over ``--network host`` (artifact
listing on 127.0.0.1, the zip download redirected to the ``localhost`` objects host). This test
plays ``actions/upload-artifact`` between runs: it zips the run's ``telemetry-dir`` into the fake
API under the ``history-artifact`` output's name, for the next run to find.

1. push to main, ``save-baseline: true``: no history yet (a notice), ``baseline-runs`` 0;
2. push to main, same load, ``save-baseline: true``: compared with run 1, no regression;
3. push to main, a clearly heavier build: "Build duration increased by N%";
4. a pull request from ``feature`` into ``main`` (a newer, misleading history artifact lies on
   ``feature``): compared with main's history, the regression is found and reported in one
   pull-request comment; a second push to the pull request edits that comment in place.

The token travels only to the API: never to the objects host, a log line (but ``::add-mask::``),
the job summary or any file the runner's folders hold afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.e2e import test_container as container_tests
from tests.e2e.image import ActionRun, ImageBuild, RunnerDirs, files_containing, run_action
from tests.support.fake_github import FakeGitHub

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# The session's one image build, shared with the other container tests (not a second image).
action_image = container_tests.action_image

ROOT = Path(__file__).resolve().parents[2]
# Shaped like an installation token, so that any masking or scanning treats it as one.
TOKEN = "ghs_E2EhistoryTOKEN0123456789abcdefghijkl"
REPO = "octo-org/uv-debian"
PR_NUMBER = 7
# Duration makes the regression: 7 s against 0.3 s is far beyond the 5 s noise floor.
QUICK = "python3 -c 'import time; time.sleep(0.3)'"
# 9 s against ~0.5 s: far above the 5 s floor even when a loaded machine slows the quick runs.
SLOW = "python3 -c 'import time; time.sleep(9)'"
RUN_IDS = {
    "first": 9100000101,
    "second": 9100000102,
    "third": 9100000103,
    "pr": 9100000104,
    "pr_again": 9100000105,
}
MISLEADING_RUN_ID = 9100000150


@dataclass(frozen=True)
class HistoryRuns:
    first: ActionRun
    second: ActionRun
    third: ActionRun
    pr: ActionRun
    pr_again: ActionRun
    gh: FakeGitHub
    # What the fake API had stored for each upload, in upload order: (run id, branch, artifact id).
    uploads: tuple[tuple[int, str, int], ...]
    # The comments on the pull request right after its first run (before the second edited them).
    comments_after_pr: tuple[str, ...]

    @property
    def all(self) -> tuple[ActionRun, ...]:
        return (self.first, self.second, self.third, self.pr, self.pr_again)


def _event(run_id: int) -> dict[str, Any]:
    """The part of a pull_request event the action reads (plus enough to look real)."""
    return {
        "action": "synchronize",
        "number": PR_NUMBER,
        "pull_request": {
            "number": PR_NUMBER,
            "head": {"ref": "feature", "sha": f"{run_id:040x}"},
            "base": {"ref": "main"},
        },
        "repository": {"full_name": REPO},
    }


def _run(
    image: ImageBuild,
    gh: FakeGitHub,
    tmp: pytest.TempPathFactory,
    run_id: int,
    command: str,
    *,
    pull_request: bool = False,
    **inputs: str,
) -> ActionRun:
    """One workflow run's build step, in a fresh workspace (as on a hosted runner)."""
    dirs = RunnerDirs.create(tmp.mktemp(f"run-{run_id}"))
    env = {
        "GITHUB_SERVER_URL": gh.server_url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_RUN_ID": str(run_id),
        "GITHUB_RUN_NUMBER": str(run_id % 1000),
        "GITHUB_SHA": f"{run_id:040x}",
        "GITHUB_EVENT_NAME": "push",
    }
    if pull_request:
        # The runner writes the event payload to the workflow folder (mounted at /github/workflow,
        # where GITHUB_EVENT_PATH points).
        (dirs.workflow / "event.json").write_text(json.dumps(_event(run_id)))
        env.update(
            {
                "GITHUB_EVENT_NAME": "pull_request",
                "GITHUB_REF": f"refs/pull/{PR_NUMBER}/merge",
                "GITHUB_REF_NAME": f"{PR_NUMBER}/merge",
                "GITHUB_BASE_REF": "main",
                "GITHUB_HEAD_REF": "feature",
            }
        )
    return run_action(
        image.tag,
        dirs,
        inputs={
            "github-token": TOKEN,
            "command": command,
            "sample-interval": "0.2",
            **{k.replace("_", "-"): v for k, v in inputs.items()},
        },
        api_url=gh.api_url,
        env=env,
        token=TOKEN,
        timeout=180,
    )


def _telemetry_dir(run: ActionRun) -> Path:
    rel = run.outputs.get("telemetry-dir", "")
    assert rel, run.describe()
    rel = rel.removeprefix("/github/workspace/")
    assert not Path(rel).is_absolute(), rel
    return run.dirs.workspace / rel


def _upload(gh: FakeGitHub, run: ActionRun, run_id: int, branch: str) -> tuple[int, str, int]:
    """actions/upload-artifact with ``name: <history-artifact>``, ``path: <telemetry-dir>`` and
    ``include-hidden-files: true``: the folder's contents at the zip's root."""
    assert run.returncode == 0, run.describe()
    name = run.outputs.get("history-artifact", "")
    assert name, run.describe()
    folder = _telemetry_dir(run)
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert "history.json" in files, sorted(files)
    artifact = gh.add_artifact(
        REPO, name, files, run_id=run_id, head_branch=branch, head_sha=f"{run_id:040x}"
    )
    return run_id, branch, artifact.id


def _history(run: ActionRun) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((_telemetry_dir(run) / "history.json").read_text())
    jsonschema.validate(document, json.loads((ROOT / "schemas" / "history.schema.json").read_text()))
    return document


def _notices(run: ActionRun) -> list[str]:
    return [c.message for c in run.commands("notice")]


@pytest.fixture(scope="module")
def history_runs(action_image: ImageBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HistoryRuns]:
    # require_token: the listing and the download must carry the workflow's token.
    with FakeGitHub(token=TOKEN, require_token=True) as gh:
        gh.add_repo(REPO)
        uploads: list[tuple[int, str, int]] = []
        tmp = tmp_path_factory  # one fresh set of runner folders per run

        first = _run(action_image, gh, tmp, RUN_IDS["first"], QUICK, save_baseline="true")
        uploads.append(_upload(gh, first, RUN_IDS["first"], "main"))
        second = _run(action_image, gh, tmp, RUN_IDS["second"], QUICK, save_baseline="true")
        uploads.append(_upload(gh, second, RUN_IDS["second"], "main"))
        third = _run(action_image, gh, tmp, RUN_IDS["third"], SLOW)
        uploads.append(_upload(gh, third, RUN_IDS["third"], "main"))

        # The feature branch's own history is newer and would hide the regression (every run
        # there took 1000 s); a pull request must compare with its base branch's history.
        name = third.outputs["history-artifact"]
        fake = _history(third)
        for entry in fake["entries"]:
            entry["duration_seconds"] = 1000.0
        misleading = gh.add_artifact(
            REPO,
            name,
            {"history.json": json.dumps(fake).encode()},
            run_id=MISLEADING_RUN_ID,
            head_branch="feature",
        )
        uploads.append((MISLEADING_RUN_ID, "feature", misleading.id))
        gh.add_pull_request(REPO, PR_NUMBER, "feature", "main")

        pr = _run(action_image, gh, tmp, RUN_IDS["pr"], SLOW, pull_request=True, pr_comment="always")
        comments_after_pr = tuple(c.body for c in gh.comments(REPO, PR_NUMBER))
        # The pull request's workflow uploads its history too, on `feature`: newer still, and
        # still not what the next pull request run may compare with.
        uploads.append(_upload(gh, pr, RUN_IDS["pr"], "feature"))
        pr_again = _run(
            action_image, gh, tmp, RUN_IDS["pr_again"], QUICK, pull_request=True, pr_comment="always"
        )
        yield HistoryRuns(first, second, third, pr, pr_again, gh, tuple(uploads), comments_after_pr)


# --- the runs on main ---------------------------------------------------------------------------


def test_first_run_saves_a_baseline_without_history(history_runs: HistoryRuns) -> None:
    run = history_runs.first
    assert run.returncode == 0, run.describe()
    out = run.outputs
    assert out["build-status"] == "success"
    assert out["history-artifact"].startswith("telemetry-history-"), out
    assert out["baseline-runs"] == "0", run.describe()
    assert out["regression-detected"] == "false"
    # Not finding a history is a notice, never a failure.
    assert any("no history yet" in n for n in _notices(run)), run.describe()
    assert not run.commands("error") and not run.commands("warning"), run.describe()
    entries = _history(run)["entries"]
    assert [e["run_id"] for e in entries] == [str(RUN_IDS["first"])]
    assert entries[0]["baseline"] is True
    assert entries[0]["branch"] == "main" and entries[0]["event"] == "push"


def test_second_run_compares_with_the_first_and_finds_no_regression(history_runs: HistoryRuns) -> None:
    run = history_runs.second
    assert run.returncode == 0, run.describe()
    out = run.outputs
    assert out["history-artifact"] == history_runs.first.outputs["history-artifact"]
    assert out["regression-detected"] == "false", run.summary
    assert json.loads(out["performance-regressions"]) == []
    assert out["baseline-runs"] == "1", run.describe()
    assert "compared with the 1 baseline run on main" in run.summary, run.summary
    assert not any("no history yet" in n for n in _notices(run)), run.describe()
    entries = _history(run)["entries"]
    assert [e["run_id"] for e in entries] == [str(RUN_IDS["first"]), str(RUN_IDS["second"])]


def test_heavier_third_run_is_a_regression(history_runs: HistoryRuns) -> None:
    run = history_runs.third
    assert run.returncode == 0, run.describe()  # fail-on-regression is off: reported, not failed
    out = run.outputs
    assert out["build-status"] == "success"
    assert out["regression-detected"] == "true", run.summary
    regressions = json.loads(out["performance-regressions"])
    assert any(m.startswith("Build duration increased by ") and m.endswith("%") for m in regressions), (
        regressions
    )
    assert out["baseline-runs"] == "2"
    assert "median of 2 baseline runs on main" in run.summary, run.summary
    assert float(out["build-duration-seconds"]) >= 7
    entries = _history(run)["entries"]
    assert [e["run_id"] for e in entries] == [
        str(i) for i in (RUN_IDS["first"], RUN_IDS["second"], RUN_IDS["third"])
    ]
    assert [e["baseline"] for e in entries] == [True, True, False]
    assert "```mermaid\nxychart-beta" in run.summary and '"now"' in run.summary


def test_each_run_downloaded_the_previous_main_artifact(history_runs: HistoryRuns) -> None:
    """The zip requests went to the newest main artifact each time, through the redirect."""
    gh = history_runs.gh
    ids = {run_id: artifact_id for run_id, _, artifact_id in history_runs.uploads}
    downloads = [r.path for r in gh.requests_matching("/repos/*/actions/artifacts/*/zip")]
    expected = [ids[RUN_IDS["first"]], ids[RUN_IDS["second"]], ids[RUN_IDS["third"]], ids[RUN_IDS["third"]]]
    assert [int(p.split("/")[-2]) for p in downloads] == expected, downloads
    objects = gh.requests_matching("/objects/*")
    assert len(objects) == len(expected), [r.path for r in objects]
    # The storage host is another origin: the token must not follow the redirect.
    assert all(r.header("Authorization") is None for r in objects)
    assert all(not r.contains(TOKEN) for r in objects)


# --- the pull request -------------------------------------------------------------------------


def test_pull_request_compares_with_main_not_the_feature_branch(history_runs: HistoryRuns) -> None:
    run = history_runs.pr
    assert run.returncode == 0, run.describe()
    out = run.outputs
    name = history_runs.third.outputs["history-artifact"]
    assert out["history-artifact"] == name
    assert out["regression-detected"] == "true", run.summary
    assert any(
        m.startswith("Build duration increased by ") for m in json.loads(out["performance-regressions"])
    )
    assert out["baseline-runs"] == "2"
    summary = run.summary.replace("\\", "")
    assert f"found in artifact {name} of run {RUN_IDS['third']} on main" in summary, run.summary
    entries = _history(run)["entries"]
    # main's three runs plus this one, on its own branch; nothing of the misleading feature history.
    assert [e["run_id"] for e in entries] == [str(RUN_IDS[k]) for k in ("first", "second", "third", "pr")]
    assert str(MISLEADING_RUN_ID) not in json.dumps(entries)
    assert all(e["duration_seconds"] < 1000 for e in entries)
    assert entries[-1]["branch"] == "feature" and entries[-1]["event"] == "pull_request"


def test_two_pull_request_runs_leave_one_edited_comment(history_runs: HistoryRuns) -> None:
    gh = history_runs.gh
    after_pr = history_runs.comments_after_pr
    assert len(after_pr) == 1, after_pr
    assert "Build duration increased by" in after_pr[0], after_pr[0]
    assert "Compared with the median of 2 baseline runs on main." in after_pr[0], after_pr[0]

    again = history_runs.pr_again
    assert again.returncode == 0, again.describe()
    assert again.outputs["regression-detected"] == "false", again.summary
    comments = gh.comments(REPO, PR_NUMBER)
    assert len(comments) == 1, [c.body for c in comments]
    (comment,) = comments
    assert "no performance regression" in comment.body, comment.body
    assert "Build duration increased by" not in comment.body
    assert comment.user == "github-actions[bot]"
    # One POST (the first run) and one PATCH (the second) of that very comment.
    posts = [
        r for r in gh.requests if r.method == "POST" and r.path.endswith(f"/issues/{PR_NUMBER}/comments")
    ]
    patches = [r for r in gh.requests if r.method == "PATCH"]
    assert len(posts) == 1, [r.path for r in posts]
    assert [r.path.rsplit("/", 1)[-1] for r in patches] == [str(comment.id)]
    # The second pull request run still compared with main's newest history, not with the newer
    # one the first pull request run uploaded on feature.
    summary = again.summary.replace("\\", "")
    assert f"of run {RUN_IDS['third']} on main" in summary, again.summary


# --- the token ------------------------------------------------------------------------------------


def test_token_reaches_only_the_api(history_runs: HistoryRuns) -> None:
    needle = TOKEN.encode()
    for run in history_runs.all:
        leaked_files = [
            p
            for root in (run.dirs.workspace, run.dirs.file_commands, run.dirs.home, run.dirs.workflow)
            for p in files_containing(root, needle)
        ]
        assert leaked_files == []
        assert TOKEN not in run.summary
        # `::add-mask::<token>` is the one line that may carry it: the runner consumes it.
        leaked_lines = [
            line for line in run.lines if TOKEN in line and line.strip() != f"::add-mask::{TOKEN}"
        ]
        assert leaked_lines == []
    # Nor in what was posted to the pull request.
    assert all(TOKEN.encode() not in r.body for r in history_runs.gh.requests)
    assert all(TOKEN not in c.body for c in history_runs.gh.comments(REPO, PR_NUMBER))
    # The API calls did carry it (require_token would have refused them otherwise).
    api = [r for r in history_runs.gh.requests if not r.path.startswith("/objects/")]
    assert api and all(r.header("Authorization") for r in api)
