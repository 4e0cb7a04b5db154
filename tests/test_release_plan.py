"""tools/release_plan.py and the release workflow that runs it, without a registry or GitHub.

- the action.yml rewrite on the real file: exactly the image line changes, the result parses with
  ``runs.image`` pinned, a second digest replaces the first, line endings and quoting survive;
- the tag plans of a release, a pre-release, a major bump and a patch release of an older line;
- bad inputs refused with a message naming them;
- ``--write-outputs`` in the runner's ``name=value`` format;
- release.yml: per-job permissions, checkouts without persisted credentials, the repository's
  action SHAs, the smoke test by digest, and its tag-moving step run against a local bare repository.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import require_tool
from tools.release_plan import PlanError, main, pin_action_image, tag_plan

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "release_plan.py"
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "0123456789abcdef" * 4
REPOSITORY = "Some-Owner/Debian-Multiarch-Builder"
IMAGE = "ghcr.io/some-owner/debian-multiarch-builder"


def _yaml(text: str) -> Any:
    return YAML(typ="safe").load(io.StringIO(text))


def _run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=cwd,
    )


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


# --- the action.yml rewrite ----------------------------------------------------------------------


def test_rewrite_of_the_real_action_yml_changes_only_the_image_line(tmp_path: Path) -> None:
    action = tmp_path / "action.yml"
    shutil.copyfile(ROOT / "action.yml", action)
    before = action.read_bytes()

    done = _run(
        "--tag", "v1.4.2", "--repository", REPOSITORY, "--digest", DIGEST_A, "--action-yml", str(action)
    )
    assert done.returncode == 0, done.stderr
    after = action.read_bytes()

    changed = _changed_lines(before.decode(), after.decode())
    assert changed == [("  image: Dockerfile\n", f"  image: docker://{IMAGE}@{DIGEST_A}\n")]
    # Every other byte is the same: the file is the original with that one substitution.
    assert after == before.replace(b"image: Dockerfile\n", f"image: docker://{IMAGE}@{DIGEST_A}\n".encode())
    parsed, original = _yaml(after.decode()), _yaml(before.decode())
    assert parsed["runs"] == {"using": "docker", "image": f"docker://{IMAGE}@{DIGEST_A}"}
    original["runs"]["image"] = parsed["runs"]["image"]
    assert parsed == original
    assert json.loads(done.stdout)["action_yml_changed"] is True


def test_a_second_run_with_another_digest_replaces_the_pin(tmp_path: Path) -> None:
    action = tmp_path / "action.yml"
    shutil.copyfile(ROOT / "action.yml", action)
    for digest in (DIGEST_A, DIGEST_B):
        done = _run(
            "--tag", "v1.4.3", "--repository", REPOSITORY, "--digest", digest, "--action-yml", str(action)
        )
        assert done.returncode == 0, done.stderr
    text = action.read_text(encoding="utf-8")
    assert _changed_lines((ROOT / "action.yml").read_text(encoding="utf-8"), text) == [
        ("  image: Dockerfile\n", f"  image: docker://{IMAGE}@{DIGEST_B}\n")
    ]
    assert DIGEST_A not in text
    assert _yaml(text)["runs"]["image"] == f"docker://{IMAGE}@{DIGEST_B}"
    # The same digest again leaves the file as it is.
    again = _run(
        "--tag", "v1.4.3", "--repository", REPOSITORY, "--digest", DIGEST_B, "--action-yml", str(action)
    )
    assert json.loads(again.stdout)["action_yml_changed"] is False
    assert action.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  image: 'Dockerfile'  # built per job\r\n", "  image: '{ref}'  # built per job\r\n"),
        ('  "image": "Dockerfile"\r\n', '  "image": "{ref}"\r\n'),
        ("  image: Dockerfile # old", "  image: {ref} # old"),
        ("  image:    Dockerfile\n", "  image:    {ref}\n"),
    ],
)
def test_quoting_comments_and_line_endings_are_kept(line: str, expected: str) -> None:
    # image: under other keys (a comment, a step-like mapping) must not be the one touched.
    head = (
        "# image: not this one\nname: x\nimage: top-level\n"
        "runs:\n  using: docker\n  env:\n    image: nested\n"
    )
    text = head.replace("\n", "\r\n") if "\r\n" in line else head
    ref = f"docker://{IMAGE}@{DIGEST_A}"
    result = pin_action_image(text + line + "  args: [a]\n", ref)
    assert result == text + expected.format(ref=ref) + "  args: [a]\n"


def test_an_action_that_is_not_a_docker_action_is_refused() -> None:
    with pytest.raises(PlanError, match="not a Docker container action"):
        pin_action_image("runs:\n  using: node20\n  main: index.js\n", f"docker://{IMAGE}@{DIGEST_A}")
    with pytest.raises(PlanError, match="block scalar"):
        pin_action_image(
            "runs:\n  using: docker\n  image: >-\n    Dockerfile\n", f"docker://{IMAGE}@{DIGEST_A}"
        )


def test_a_value_spanning_lines_is_refused_not_half_rewritten() -> None:
    with pytest.raises(PlanError, match=r"changed more|did not become"):
        pin_action_image(
            "runs:\n  using: docker\n  image: Docker\n    file\n", f"docker://{IMAGE}@{DIGEST_A}"
        )


# --- the tag plan ---------------------------------------------------------------------------------


def test_plan_of_a_release() -> None:
    plan = tag_plan("v1.4.2", REPOSITORY, "ghcr.io", DIGEST_A)
    assert plan["version"] == "1.4.2"
    assert plan["prerelease"] is False
    assert plan["image"] == IMAGE
    assert plan["git_tags"] == [
        {"name": "v1.4.2", "commit": "release", "move": False},
        {"name": "v1.4", "commit": "pin", "move": True},
        {"name": "v1", "commit": "pin", "move": True},
    ]
    assert plan["moving_tags"] == ["v1.4", "v1"]
    assert plan["image_tags"] == [f"{IMAGE}:1.4.2", f"{IMAGE}:1.4", f"{IMAGE}:1"]
    assert plan["image_ref"] == f"{IMAGE}@{DIGEST_A}"
    assert plan["action_image"] == f"docker://{IMAGE}@{DIGEST_A}"


def test_a_prerelease_moves_nothing() -> None:
    plan = tag_plan("v2.0.0-rc.1", REPOSITORY, "ghcr.io", DIGEST_A, ["v1.4.2", "v1", "v1.4"])
    assert plan["prerelease"] is True
    assert plan["version"] == "2.0.0-rc.1"
    assert plan["git_tags"] == [{"name": "v2.0.0-rc.1", "commit": "release", "move": False}]
    assert plan["moving_tags"] == []
    assert plan["image_tags"] == [f"{IMAGE}:2.0.0-rc.1"]
    assert plan["image_ref"] == f"{IMAGE}@{DIGEST_A}"


def test_a_major_bump_starts_new_moving_tags_and_leaves_the_old_ones() -> None:
    existing = ["v1.4.2", "v1.4", "v1", "v2.0.0-rc.1"]
    plan = tag_plan("v2.0.0", REPOSITORY, "ghcr.io", DIGEST_A, existing)
    assert plan["moving_tags"] == ["v2.0", "v2"]
    assert plan["image_tags"] == [f"{IMAGE}:2.0.0", f"{IMAGE}:2.0", f"{IMAGE}:2"]
    assert not {"v1", "v1.4"} & {t["name"] for t in plan["git_tags"]}


def test_a_patch_of_an_older_line_does_not_move_the_major_tag_back() -> None:
    plan = tag_plan("v1.3.5", REPOSITORY, "ghcr.io", DIGEST_A, ["v1.3.4", "v1.4.2", "v1", "v1.4", "v1.3"])
    assert plan["moving_tags"] == ["v1.3"]
    assert plan["image_tags"] == [f"{IMAGE}:1.3.5", f"{IMAGE}:1.3"]
    # Publishing the newest release again moves both (the tag itself is among the existing ones).
    assert tag_plan("v1.4.2", REPOSITORY, "ghcr.io", None, ["v1.4.2", "v1.3.5"])["moving_tags"] == [
        "v1.4",
        "v1",
    ]


def test_without_a_digest_the_plan_has_no_image_reference_and_nothing_is_rewritten(tmp_path: Path) -> None:
    action = tmp_path / "action.yml"
    shutil.copyfile(ROOT / "action.yml", action)
    done = _run("--tag", "v1.0.0", "--repository", REPOSITORY, "--action-yml", str(action))
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["image_tags"] == [f"{IMAGE}:1.0.0", f"{IMAGE}:1.0", f"{IMAGE}:1"]
    assert "image_ref" not in plan and "digest" not in plan
    assert action.read_bytes() == (ROOT / "action.yml").read_bytes()


# --- refused inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--tag", "1.2"),
        ("--tag", "v1.2"),
        ("--tag", "v1.2.3; rm -rf /"),
        ("--tag", "v1.2.3\n"),
        ("--tag", "v01.2.3"),
        ("--tag", "v1.2.3-beta.1"),
        ("--tag", "v１.2.3"),  # a full-width digit
        ("--digest", "sha256:" + "g" * 64),
        ("--digest", "sha256:" + "A" * 64),
        ("--digest", "sha256:" + "a" * 63),
        ("--digest", "md5:" + "a" * 32),
        ("--repository", "owner/my repo"),
        ("--repository", "owner"),
        ("--repository", "owner/repo/extra"),
        ("--repository", "-owner/repo"),
        ("--repository", "owner/.github"),
        ("--registry", "ghcr.io/x"),
    ],
)
def test_bad_inputs_are_refused_naming_the_input(tmp_path: Path, option: str, value: str) -> None:
    action = tmp_path / "action.yml"
    shutil.copyfile(ROOT / "action.yml", action)
    args = {"--tag": "v1.2.3", "--repository": REPOSITORY, "--registry": "ghcr.io", "--digest": DIGEST_A}
    args[option] = value
    outputs = tmp_path / "github_output"
    env = {**os.environ, "GITHUB_OUTPUT": str(outputs)}
    done = _run(
        *[f"{k}={v}" for k, v in args.items()], "--action-yml", str(action), "--write-outputs", env=env
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert repr(value) in done.stderr
    assert option.removeprefix("--") in done.stderr
    # Nothing was written anywhere.
    assert action.read_bytes() == (ROOT / "action.yml").read_bytes()
    assert not outputs.exists()


def test_write_outputs_without_github_output_is_an_error() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_OUTPUT"}
    done = _run("--tag", "v1.2.3", "--repository", REPOSITORY, "--write-outputs", env=env)
    assert done.returncode == 2
    assert "GITHUB_OUTPUT" in done.stderr


# --- outputs --------------------------------------------------------------------------------------


def _parse_runner_outputs(text: str) -> dict[str, str]:
    """The runner's reading of a GITHUB_OUTPUT file: ``name=value`` lines (and ``name<<EOF`` blocks,
    which the script must not need)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        assert "<<" not in line.partition("=")[0], line
        name, equals, value = line.partition("=")
        assert equals, line
        found[name] = value
    return found


def test_write_outputs_appends_name_value_lines(tmp_path: Path) -> None:
    action = tmp_path / "action.yml"
    shutil.copyfile(ROOT / "action.yml", action)
    outputs = tmp_path / "github_output"
    outputs.write_text("earlier=kept\n", encoding="utf-8")
    env = {**os.environ, "GITHUB_OUTPUT": str(outputs)}
    done = _run(
        "--tag", "v1.4.2", "--repository", REPOSITORY, "--digest", DIGEST_A,
        "--action-yml", str(action), "--existing-tags", "v1.4.1\nv1.3.0 v1", "--write-outputs",
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = outputs.read_text(encoding="utf-8")
    assert text.startswith("earlier=kept\n") and text.endswith("\n")
    values = _parse_runner_outputs(text)
    assert values["earlier"] == "kept"
    assert values["tag"] == "v1.4.2"
    assert values["version"] == "1.4.2"
    assert values["prerelease"] == "false"
    assert values["image"] == IMAGE
    assert values["digest"] == DIGEST_A
    assert values["image-ref"] == f"{IMAGE}@{DIGEST_A}"
    assert values["action-image"] == f"docker://{IMAGE}@{DIGEST_A}"
    assert values["image-tags"] == f"{IMAGE}:1.4.2 {IMAGE}:1.4 {IMAGE}:1"
    assert values["moving-tags"] == "v1.4 v1"
    assert json.loads(values["plan"])["git_tags"] == json.loads(done.stdout)["git_tags"]


def test_main_in_process_prints_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--tag", "v0.1.0", "--repository", "o/r"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["moving_tags"] == ["v0.1", "v0"]
    assert plan["image"] == "ghcr.io/o/r"


# --- release.yml ----------------------------------------------------------------------------------


def _workflow() -> dict[str, Any]:
    data: dict[str, Any] = _yaml(WORKFLOW.read_text(encoding="utf-8"))
    return data


def test_release_workflow_permissions_are_minimal_per_job() -> None:
    workflow = _workflow()
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["plan"]["permissions"] == {"contents": "read"}
    assert jobs["image"]["permissions"] == {"contents": "read", "packages": "write"}
    assert jobs["tags"]["permissions"] == {"contents": "write"}


def test_release_workflow_checkouts_and_action_pins() -> None:
    others = "".join(
        p.read_text(encoding="utf-8") for p in (ROOT / ".github" / "workflows").glob("*.yml") if p != WORKFLOW
    )
    known = set(re.findall(r"uses: (\S+@[0-9a-f]{40})", others))
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            uses = step.get("uses")
            if uses is None:
                continue
            assert re.fullmatch(r"\S+@[0-9a-f]{40}", uses), uses
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            if not uses.startswith("docker/"):  # the docker actions are used by release.yml only
                assert uses in known, f"{uses} is pinned differently from the other workflows"


def test_release_workflow_smoke_tests_the_lower_cased_image_by_digest() -> None:
    image_job = _workflow()["jobs"]["image"]
    smoke = next(s for s in image_job["steps"] if s.get("name", "").startswith("Smoke-test"))
    assert smoke["env"]["IMAGE"] == "${{ needs.plan.outputs.image }}@${{ steps.build.outputs.digest }}"
    build = next(s for s in image_job["steps"] if s.get("id") == "build")
    assert "push-by-digest=true" in build["with"]["outputs"]
    # The repository's name is never used as an image name as it is (upper case is refused by
    # registries): the plan job's lower-cased image is.
    assert "${{ github.repository }}" not in WORKFLOW.read_text(encoding="utf-8")
    dispatch = _workflow()["on"]["workflow_dispatch"]
    assert dispatch["inputs"]["version"]["required"] is True


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def _tag_step_script() -> tuple[str, dict[str, str]]:
    steps = _workflow()["jobs"]["tags"]["steps"]
    step = next(s for s in steps if s.get("name", "").startswith("Commit the pinned action.yml"))
    return step["run"], step["env"]


def _run_tag_step(release: Path, remote: Path, tmp_path: Path, values: dict[str, str]) -> None:
    script, env_spec = _tag_step_script()
    assert set(env_spec) == set(values) | {"GH_TOKEN"}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GITHUB_SERVER_URL": f"file://{remote.parent.parent}",
        "GITHUB_REPOSITORY": f"{remote.parent.name}/{remote.name.removesuffix('.git')}",
        "GH_TOKEN": "not-a-real-token",
        **values,
    }
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=release,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_tag_step_pins_on_a_release_commit_and_moves_the_tags(tmp_path: Path) -> None:
    require_tool("git")
    remote = tmp_path / "srv" / "owner" / "repo.git"
    remote.parent.mkdir(parents=True)
    _git(tmp_path, "init", "--quiet", "--bare", str(remote))
    release = tmp_path / "release"
    release.mkdir()
    _git(release, "init", "--quiet")
    shutil.copyfile(ROOT / "action.yml", release / "action.yml")
    (release / "README.md").write_text("x\n", encoding="utf-8")
    for args in (
        ("config", "user.name", "dev"),
        ("config", "user.email", "dev@example.com"),
        ("add", "."),
        ("commit", "--quiet", "-m", "release"),
    ):
        _git(release, *args)
    first = _git(release, "rev-parse", "HEAD")
    _git(release, "push", "--quiet", str(remote), "HEAD:refs/heads/main")

    def release_with(tag: str, digest: str, tag_exists: bool) -> dict[str, str]:
        plan = tag_plan(tag, "owner/repo", "ghcr.io", digest, _git(release, "tag", "--list").split())
        (release / "action.yml").write_text(
            pin_action_image((release / "action.yml").read_text(encoding="utf-8"), plan["action_image"]),
            encoding="utf-8",
        )
        return {
            "TAG": tag,
            "TAG_EXISTS": "true" if tag_exists else "false",
            "RELEASE_COMMIT": _git(release, "rev-parse", "HEAD"),
            "MOVING_TAGS": " ".join(plan["moving_tags"]),
            "IMAGE_REF": plan["image_ref"],
        }

    # A new tag by hand (workflow_dispatch): the release tag is created on the release commit.
    _run_tag_step(release, remote, tmp_path, release_with("v1.4.2", DIGEST_A, tag_exists=False))
    assert _git(remote, "rev-parse", "v1.4.2^{commit}") == first
    pinned = _git(remote, "rev-parse", "v1^{commit}")
    assert pinned != first
    assert _git(remote, "rev-parse", "v1.4^{commit}") == pinned
    assert _git(remote, "rev-parse", f"{pinned}^") == first
    assert _git(remote, "diff", "--name-only", first, pinned) == "action.yml"
    assert _git(remote, "log", "-1", "--format=%an <%ae>", pinned) == (
        "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
    )
    shown = _git(remote, "show", f"{pinned}:action.yml")
    assert _yaml(shown)["runs"]["image"] == f"docker://ghcr.io/owner/repo@{DIGEST_A}"
    assert (
        _git(remote, "show", f"{first}:action.yml")
        == (ROOT / "action.yml").read_text(encoding="utf-8").strip()
    )

    # The next release (its tag pushed already, as on a tag push) moves v1 and v1.4 forward.
    _git(release, "checkout", "--quiet", first)
    (release / "README.md").write_text("y\n", encoding="utf-8")
    _git(release, "commit", "--quiet", "-am", "next")
    second = _git(release, "rev-parse", "HEAD")
    _git(release, "tag", "v1.4.3")
    _git(release, "push", "--quiet", str(remote), "v1.4.3")
    _run_tag_step(release, remote, tmp_path, release_with("v1.4.3", DIGEST_B, tag_exists=True))
    moved = _git(remote, "rev-parse", "v1^{commit}")
    assert _git(remote, "rev-parse", "v1.4.3^{commit}") == second
    assert _git(remote, "rev-parse", f"{moved}^") == second
    assert _git(remote, "rev-parse", "v1.4^{commit}") == moved
    assert _git(remote, "rev-parse", "v1.4.2^{commit}") == first
    assert DIGEST_B in _git(remote, "show", f"{moved}:action.yml")

    # A pre-release of an existing tag pushes nothing.
    before = _git(remote, "show-ref")
    _git(release, "tag", "v2.0.0-rc.1")
    _run_tag_step(release, remote, tmp_path, release_with("v2.0.0-rc.1", DIGEST_A, tag_exists=True))
    assert _git(remote, "show-ref") == before
