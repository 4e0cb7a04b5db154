"""The e2e harness's own parsers and runner environment (no container needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.e2e.image import (
    RunnerDirs,
    StepFiles,
    action_input_defaults,
    input_env_name,
    parse_file_commands,
    parse_go_time,
    parse_workflow_commands,
    runner_env,
)

ROOT = Path(__file__).resolve().parents[2]


def test_plain_and_delimited_values() -> None:
    text = (
        "build-status=success\n"
        "packages-json<<ghadelimiter_1\n"
        '["a.deb",\n'
        '"b.deb"]\n'
        "ghadelimiter_1\n"
        "\n"
        "empty=\n"
        "eq=a=b<<c\n"
        "build-status=partial\n"
    )
    assert parse_file_commands(text) == {
        "build-status": "partial",  # the last write wins, as on the runner
        "packages-json": '["a.deb",\n"b.deb"]',
        "empty": "",
        "eq": "a=b<<c",
    }


def test_crlf_and_a_value_that_looks_like_a_delimiter() -> None:
    text = "summary<<EOF\r\nline EOF\r\nEOF x\r\nEOF\r\n"
    assert parse_file_commands(text) == {"summary": "line EOF\nEOF x"}


@pytest.mark.parametrize(
    "text",
    ["no-separator\n", "=value\n", "name<<\nvalue\n", "name<<END\nnever closed\n"],
)
def test_what_fails_a_step_on_the_runner(text: str) -> None:
    with pytest.raises(ValueError):
        parse_file_commands(text)


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True),
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r"), max_size=40),
        max_size=6,
    )
)
def test_round_trip_with_delimiters(values: dict[str, str]) -> None:
    # What a correct writer does: a delimiter that occurs in no value.
    lines = []
    for name, value in values.items():
        lines += [f"{name}<<ghadelimiter_e2e", *value.split("\n"), "ghadelimiter_e2e"]
    assert parse_file_commands("\n".join(lines) + "\n") == values


def test_workflow_commands_unescape_properties_and_data() -> None:
    stdout = (
        "plain log line\n"
        "::error file=package.yaml,line=4,title=Config%3A bad%2C really::unknown key 'descriptoin'%0Ahint\n"
        "::add-mask::secret\n"
        "::group::Build log\n"
    )
    commands = parse_workflow_commands(stdout)
    assert [c.name for c in commands] == ["error", "add-mask", "group"]
    error = commands[0]
    assert error.properties == {"file": "package.yaml", "line": "4", "title": "Config: bad, really"}
    assert error.message == "unknown key 'descriptoin'\nhint"


def test_go_time() -> None:
    assert parse_go_time("2026-11-25 19:50:01.5 +0000 UTC") == pytest.approx(1795636201.5)
    assert parse_go_time("2026-11-25T19:50:01.250000000Z") == pytest.approx(1795636201.25)


def test_runner_environment(tmp_path: Path) -> None:
    dirs = RunnerDirs.create(tmp_path)
    step = StepFiles("abc", dirs)
    env = runner_env(step, api_url="http://127.0.0.1:1234")
    assert env["GITHUB_OUTPUT"] == "/github/file_commands/set_output_abc"
    assert env["GITHUB_STEP_SUMMARY"] == "/github/file_commands/step_summary_abc"
    assert env["GITHUB_WORKSPACE"] == "/github/workspace"
    assert env["GITHUB_SERVER_URL"] == "http://127.0.0.1:1234"
    assert (
        runner_env(step, api_url="https://ghe.example/api/v3")["GITHUB_SERVER_URL"] == "https://ghe.example"
    )
    assert input_env_name("config-file") == "INPUT_CONFIG-FILE"


def test_action_yml_defaults_are_filled_in() -> None:
    defaults = action_input_defaults(ROOT / "action.yml", token="tok")
    assert defaults["INPUT_CONFIG-FILE"] == "package.yaml"
    assert defaults["INPUT_GITHUB-TOKEN"] == "tok"
