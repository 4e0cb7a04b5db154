"""Annotations and log groups: the workflow commands the runner turns into the Checks UI."""

from __future__ import annotations

from pathlib import Path

import pytest

from action.annotations import annotate, annotate_outcome, group
from action.builder_result import BuilderResult, EarlyFailure, JobResult, LintianCounts
from action.outcome import ActionOutcome, FailureInfo, ProducedPackage


def outcome(**overrides: object) -> ActionOutcome:
    values: dict[str, object] = {
        "status": "failure",
        "mode": "builder",
        "package": "p",
        "version": "1.0",
        "packages": (),
        "result": None,
        "failure": None,
        "telemetry": None,
        "duration_seconds": 1.0,
        "exit_code": 1,
    }
    values.update(overrides)
    return ActionOutcome(**values)  # type: ignore[arg-type]


def test_annotation_with_file_and_line_comes_first(capsys: pytest.CaptureFixture[str]) -> None:
    annotate("error", "unknown key 'sectoin'", file="package.yaml", line=12, title="Configuration error")
    assert capsys.readouterr().out == (
        "::error file=package.yaml,line=12,title=Configuration error::unknown key 'sectoin'\n"
    )


def test_properties_and_message_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    annotate("warning", "50% done\nnext line", title="a: b, c")
    assert capsys.readouterr().out == "::warning title=a%3A b%2C c::50%25 done%0Anext line\n"


def test_empty_properties_are_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    annotate("error", "boom")
    assert capsys.readouterr().out == "::error::boom\n"


def test_group_wraps_output(capsys: pytest.CaptureFixture[str]) -> None:
    with group("Build log"):
        print("inside")
    assert capsys.readouterr().out == "::group::Build log\ninside\n::endgroup::\n"


def test_group_closes_on_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), group("x"):
        raise RuntimeError
    assert capsys.readouterr().out.endswith("::endgroup::\n")


def test_configuration_error_points_at_the_file_relative_to_the_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = EarlyFailure(
        "configuration", "bad", str(tmp_path / "cfg" / "package.yaml"), 4, "architectures", False, ()
    )
    failure = FailureInfo("configuration", "bad value", file=error.file, line=4, field="architectures")
    res = BuilderResult("", "v1", "", "1", "failure", (), (), error)
    annotate_outcome(outcome(result=res, failure=failure), tmp_path)
    assert capsys.readouterr().out == (
        "::error file=cfg/package.yaml,line=4,title=Configuration error in 'architectures'::bad value\n"
    )


def test_failed_jobs_and_lintian_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = (
        JobResult(
            "amd64",
            "trixie",
            "success",
            "1",
            "/x.deb",
            1,
            "a" * 64,
            "",
            None,
            LintianCounts(1, 2, 0, ("t1",)),
            1,
        ),
        JobResult("arm64", "trixie", "failure", "", "", 0, "", "ELF is x86-64", "architecture", None, 1),
    )
    res = BuilderResult("p", "v1", "1", "1", "partial", jobs, (), None)
    pkg = ProducedPackage("x.deb", "amd64", "trixie", "1", 1, "a" * 64, LintianCounts(1, 2, 0, ("t1",)))
    failure = FailureInfo("architecture", "arm64/trixie: ELF is x86-64")
    annotate_outcome(outcome(status="partial", result=res, packages=(pkg,), failure=failure), tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "::error title=arm64/trixie failed (architecture)::ELF is x86-64",
        "::warning title=lintian amd64/trixie::1 error(s), 2 warning(s): t1",
    ]


def test_invalid_inputs_each_get_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problems = (("max-parallel", "'x' is not auto"), ("version", "required"))
    failure = FailureInfo("configuration", "inputs")
    annotate_outcome(outcome(input_problems=problems, failure=failure), tmp_path)
    assert capsys.readouterr().out.splitlines() == [
        "::error title=Invalid input 'max-parallel'::'x' is not auto",
        "::error title=Invalid input 'version'::required",
    ]


def test_cancelled_is_a_warning_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotate_outcome(outcome(status="cancelled", failure=FailureInfo("unknown", "x")), tmp_path)
    out = capsys.readouterr().out
    assert out.startswith("::warning::The build was cancelled") and "::error" not in out
