"""Inputs: INPUT_* with hyphens, defaults, validation, env fallbacks, the token and the builder argv."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from action.builder_args import builder_argv, child_environment, invocation
from action.inputs import (
    INPUT_DEFAULTS,
    ActionInputs,
    InputError,
    KnownNames,
    load_known_names,
    mask_token,
    read_inputs,
)

KNOWN = KnownNames(
    architectures=("amd64", "arm64", "armel", "armhf", "i386", "ppc64el", "riscv64", "s390x"),
    suites=("bullseye", "bookworm", "trixie", "forky", "sid"),
)
TOKEN = "ghs_TESTtoken0123456789abcdefSECRET"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    ws = tmp_path / "ws"
    ws.mkdir()
    for key in list(os.environ):
        if key.startswith("INPUT_") or key in ("TELEMETRY_ENABLED", "SAVE_BASELINE", "TELEMETRY_DIR"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(ws))
    monkeypatch.chdir(ws)
    yield ws.resolve()


def set_inputs(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"INPUT_{name.replace('_', '-').upper()}", value)


def read(monkeypatch: pytest.MonkeyPatch, **values: str) -> ActionInputs:
    set_inputs(monkeypatch, **values)
    return read_inputs("", KNOWN)


def problems(monkeypatch: pytest.MonkeyPatch, **values: str) -> dict[str, str]:
    set_inputs(monkeypatch, **values)
    with pytest.raises(InputError) as caught:
        read_inputs("", KNOWN)
    return {p.name: p.message for p in caught.value.problems}


def test_defaults_apply_to_empty_inputs(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = read(monkeypatch, version="v1.2.3")
    assert inputs.config_file.relative == "package.yaml"
    assert inputs.build_version == "1"
    assert inputs.architectures == ()
    assert inputs.distributions == ()
    assert inputs.max_parallel is None
    assert inputs.lintian_check is False
    assert inputs.output_dir.relative == "." and inputs.output_dir.absolute == workspace
    assert inputs.assets_dir is None and inputs.pinned_metadata is None
    assert inputs.telemetry_enabled is True
    assert inputs.telemetry_dir.relative == ".telemetry"
    assert inputs.sample_interval == 1.0
    assert inputs.regression_threshold == 20.0
    assert inputs.job_summary is True and inputs.fail_on_regression is False and inputs.save_baseline is False


def test_hyphenated_names_are_read_as_the_runner_passes_them(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workspace / "assets").mkdir()
    monkeypatch.setenv("INPUT_CONFIG-FILE", "pkg/package.yaml")
    monkeypatch.setenv("INPUT_VERSION", "v0.44.1")
    monkeypatch.setenv("INPUT_BUILD-VERSION", "3")
    monkeypatch.setenv("INPUT_MAX-PARALLEL", "4")
    monkeypatch.setenv("INPUT_LINTIAN-CHECK", "true")
    monkeypatch.setenv("INPUT_ASSETS-DIR", "assets")
    monkeypatch.setenv("INPUT_ARCHITECTURE", " amd64 , arm64,amd64 ")
    monkeypatch.setenv("INPUT_DISTRIBUTIONS", "bookworm,trixie")
    monkeypatch.setenv("INPUT_REGRESSION-THRESHOLD", "25%")
    inputs = read_inputs("", KNOWN)
    assert inputs.config_file.relative == "pkg/package.yaml"
    assert inputs.version == "v0.44.1"
    assert inputs.build_version == "3"
    assert inputs.max_parallel == 4
    assert inputs.lintian_check is True
    assert inputs.assets_dir is not None and inputs.assets_dir.absolute == workspace / "assets"
    assert inputs.architectures == ("amd64", "arm64")
    assert inputs.distributions == ("bookworm", "trixie")
    assert inputs.regression_threshold == 25.0


@pytest.mark.parametrize("value", ["abc", "0", "-1", "2.5", "99999", "four"])
def test_max_parallel_must_be_auto_or_a_positive_number(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    found = problems(monkeypatch, version="v1", max_parallel=value)
    assert "max-parallel" in found
    assert "auto" in found["max-parallel"]


def test_max_parallel_auto_is_case_insensitive(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert read(monkeypatch, version="v1", max_parallel="AUTO").max_parallel is None


def test_unknown_architecture_is_an_error_with_a_hint(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = problems(monkeypatch, version="v1", architecture="amd64,arm46")
    assert "unknown architecture 'arm46'" in found["architecture"]
    assert "did you mean 'arm64'" in found["architecture"]


def test_architecture_all_and_lists(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert read(monkeypatch, version="v1", architecture="ALL").architectures == ()
    assert read(monkeypatch, version="v1", architecture="riscv64").architectures == ("riscv64",)
    assert read(monkeypatch, version="v1", architecture="amd64 arm64\n").architectures == ("amd64", "arm64")
    assert "architecture" in problems(monkeypatch, version="v1", architecture=" , ")


def test_unknown_suite_is_an_error(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = problems(monkeypatch, version="v1", distributions="bookwrom")
    assert "did you mean 'bookworm'" in found["distributions"]


def test_known_names_come_from_the_builders_table() -> None:
    names = load_known_names()
    assert {"amd64", "arm64", "armhf"} <= set(names.architectures)
    assert {"bookworm", "trixie"} <= set(names.suites)


def test_version_is_required_unless_command(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "version" in problems(monkeypatch)
    assert read(monkeypatch, command="make").version == ""


def test_version_with_shell_metacharacters_is_plain_data(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = "v1.0;rm -rf /tmp/x$(touch pwned)`id`|&>"
    inputs = read(monkeypatch, version=hostile)
    argv = builder_argv(inputs, workspace / "result.json", python="python3")
    assert f"--version={hostile}" in argv  # one element, verbatim: no shell ever sees it
    assert not (workspace / "pwned").exists()


def test_version_starting_with_a_dash_stays_an_option_value(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = builder_argv(read(monkeypatch, version="--help"), workspace / "r.json", python="python3")
    assert "--version=--help" in argv and "--help" not in argv


def test_version_with_a_newline_is_rejected(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "version" in problems(monkeypatch, version="v1\nv2")


@pytest.mark.parametrize("name", ["config_file", "output_dir", "telemetry_dir", "pinned_metadata"])
@pytest.mark.parametrize("value", ["../outside", "/etc", "a/../../outside", "/"])
def test_paths_that_leave_the_workspace_are_errors(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    found = problems(monkeypatch, version="v1", **{name: value})
    assert "outside the workspace" in found[name.replace("_", "-")]


def test_a_symlink_out_of_the_workspace_is_an_error(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workspace / "escape").symlink_to(tmp_path)
    found = problems(monkeypatch, version="v1", output_dir="escape/dist")
    assert "outside the workspace" in found["output-dir"]


def test_absolute_paths_inside_the_workspace_are_fine(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = read(monkeypatch, version="v1", output_dir=str(workspace / "dist"), telemetry_dir="./a/../tele")
    assert inputs.output_dir.relative == "dist"
    assert inputs.telemetry_dir.relative == "tele"


def test_assets_dir_must_be_a_folder(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "assets-dir" in problems(monkeypatch, version="v1", assets_dir="missing")


@pytest.mark.parametrize("value", ["tru", "y", "2", "maybe", "true false"])
def test_a_boolean_input_that_is_no_known_spelling_is_an_error(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    assert "lintian-check" in problems(monkeypatch, version="v1", lintian_check=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("On", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("no", False),
        ("off", False),
        ("0", False),
    ],
)
def test_boolean_inputs_and_variables_follow_one_rule(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    # The same spelling means the same thing as an input, as an environment variable the
    # entrypoint falls back to, and to the telemetry CLI (contracts.vocabulary.parse_bool).
    assert read(monkeypatch, version="v1", lintian_check=value).lintian_check is expected
    monkeypatch.setenv("INPUT_TELEMETRY-ENABLED", "")
    monkeypatch.setenv("TELEMETRY_ENABLED", value)
    assert read(monkeypatch, version="v1").telemetry_enabled is expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sample_interval", "0"),
        ("sample_interval", "x"),
        ("regression_threshold", "-5"),
        ("regression_threshold", "nan"),
    ],
)
def test_numbers_are_checked(workspace: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    assert name.replace("_", "-") in problems(monkeypatch, version="v1", **{name: value})


def test_every_problem_is_reported_at_once(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = problems(
        monkeypatch, max_parallel="many", architecture="x86", output_dir="../o", lintian_check="y"
    )
    assert set(found) == {"version", "max-parallel", "architecture", "output-dir", "lintian-check"}


def test_environment_fallbacks_apply_only_without_an_input(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEMETRY_ENABLED", "false")
    monkeypatch.setenv("SAVE_BASELINE", "true")
    monkeypatch.setenv("TELEMETRY_DIR", "metrics")
    inputs = read(monkeypatch, version="v1")
    assert inputs.telemetry_enabled is False
    assert inputs.save_baseline is True
    assert inputs.telemetry_dir.relative == "metrics"
    explicit = read(
        monkeypatch, version="v1", telemetry_enabled="true", save_baseline="false", telemetry_dir="t"
    )
    assert explicit.telemetry_enabled is True
    assert explicit.save_baseline is False
    assert explicit.telemetry_dir.relative == "t"


def test_defaults_registry_has_every_input() -> None:
    assert len(INPUT_DEFAULTS) == 26


# ---------------------------------------------------------------- the token


def test_token_is_masked_first_and_removed_from_the_environment(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INPUT_GITHUB-TOKEN", TOKEN)
    token = mask_token()
    assert token == TOKEN
    assert capsys.readouterr().out == f"::add-mask::{TOKEN}\n"
    assert "INPUT_GITHUB-TOKEN" not in os.environ


def test_token_falls_back_to_github_token_env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    assert mask_token() == TOKEN


def test_no_token_prints_no_mask(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    assert mask_token() == ""
    assert capsys.readouterr().out == ""


def test_token_goes_only_into_the_childs_github_token(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_inputs(monkeypatch, version="v1")
    inputs = read_inputs(TOKEN, KNOWN)
    assert TOKEN not in repr(inputs)
    base = {"PATH": "/usr/bin", "INPUT_GITHUB-TOKEN": TOKEN, "HOME": "/root"}
    env = child_environment(inputs, base)
    assert env["GITHUB_TOKEN"] == TOKEN
    assert "INPUT_GITHUB-TOKEN" not in env
    assert [k for k, v in env.items() if TOKEN in v] == ["GITHUB_TOKEN"]
    build = invocation(inputs, tmp_path / "scratch", base)
    assert build.argv is not None
    assert not any(TOKEN in a for a in build.argv)
    assert TOKEN not in build.display()


# ---------------------------------------------------------------- the builder's argv


def test_builder_argv_follows_the_cli_contract(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workspace / "rel").mkdir()
    (workspace / "pins.json").write_text("{}")
    inputs = read(
        monkeypatch,
        config_file="cfg/package.yaml",
        version="v2.0.0",
        build_version="2",
        architecture="amd64,arm64",
        distributions="trixie",
        max_parallel="3",
        lintian_check="true",
        output_dir="dist",
        assets_dir="rel",
        pinned_metadata="pins.json",
    )
    argv = builder_argv(inputs, Path("/tmp/r.json"), python="py")
    assert argv[:5] == ["py", "-P", "-m", "multiarch", "build"]
    assert argv[5:] == [
        "--config=cfg/package.yaml",
        "--version=v2.0.0",
        "--build-version=2",
        "--output-dir=dist",
        "--max-parallel=3",
        "--result-file=/tmp/r.json",
        "--arch=amd64,arm64",
        "--distributions=trixie",
        "--assets-dir=rel",
        "--pinned-metadata=pins.json",
        "--lintian",
    ]


def test_auto_parallelism_is_the_usable_cores(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = builder_argv(read(monkeypatch, version="v1"), Path("/r.json"), python="py")
    cores = len(os.sched_getaffinity(0))
    assert f"--max-parallel={cores}" in argv
    assert not any(a.startswith(("--arch", "--distributions", "--assets-dir", "--lintian")) for a in argv)


def test_command_mode_runs_the_command_with_python_on_path(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    inputs = read(monkeypatch, command="python -m telemetry stage-start x")
    build = invocation(inputs, tmp_path / "scratch", {"PATH": "/usr/bin"})
    assert build.argv is None and build.shell_command == "python -m telemetry stage-start x"
    assert build.result_file is None
    first = build.env["PATH"].split(os.pathsep)[0]
    assert (Path(first) / "python").is_file() and os.access(Path(first) / "python", os.X_OK)
    assert Path(build.env["PYTHONPATH"].split(os.pathsep)[0], "telemetry").is_dir()
