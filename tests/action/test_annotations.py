"""Annotations and log groups: the workflow commands the runner turns into the Checks UI."""

from __future__ import annotations

from pathlib import Path

import pytest

from action.annotations import (
    MAX_ANNOTATIONS_PER_LEVEL,
    annotate,
    annotate_outcome,
    flush_annotations,
    group,
)
from action.outcome import ActionOutcome, FailureInfo, ProducedPackage
from contracts.builder_result import BuilderResult, EarlyFailure, JobResult, LintianCounts
from contracts.vocabulary import AnnotationLevel


@pytest.fixture(autouse=True)
def fresh_budget(capsys: pytest.CaptureFixture[str]) -> None:
    """Each test is a step of its own: no annotation budget left over from another test."""
    flush_annotations()
    capsys.readouterr()


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


def failed_jobs(count: int) -> BuilderResult:
    jobs = tuple(
        JobResult(f"arch{i}", "trixie", "failure", "", "", 0, "", f"reason {i}", "dependency", None, 1)
        for i in range(count)
    )
    return BuilderResult("p", "v1", "1", "1", "failure", jobs, (), None)


def error_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("::error")]


def test_25_failed_jobs_show_9_annotations_and_one_that_counts_the_other_16(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failure = FailureInfo("dependency", "25 jobs failed")
    annotate_outcome(outcome(result=failed_jobs(25), failure=failure), tmp_path)
    out = capsys.readouterr().out
    errors = error_lines(out)
    assert len(errors) == MAX_ANNOTATIONS_PER_LEVEL == 10
    assert errors[:9] == [f"::error title=arch{i}/trixie failed (dependency)::reason {i}" for i in range(9)]
    assert errors[9].startswith("::error title=16 more errors::GitHub shows 10 errors per step; the other 16")
    assert "job summary lists every failed job" in errors[9]
    # Nothing is lost: the jobs past the budget are plain lines of the log, in order.
    plain = [line for line in out.splitlines() if line.startswith("[error]")]
    assert plain == [f"[error] arch{i}/trixie failed (dependency): reason {i}" for i in range(9, 25)]


def test_exactly_10_failed_jobs_are_all_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotate_outcome(outcome(result=failed_jobs(10), failure=FailureInfo("dependency", "x")), tmp_path)
    out = capsys.readouterr().out
    assert error_lines(out) == [
        f"::error title=arch{i}/trixie failed (dependency)::reason {i}" for i in range(10)
    ]
    assert "[error]" not in out


def test_11_failed_jobs_show_9_and_a_count_of_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotate_outcome(outcome(result=failed_jobs(11), failure=FailureInfo("dependency", "x")), tmp_path)
    errors = error_lines(capsys.readouterr().out)
    assert len(errors) == 10
    assert errors[-1].startswith("::error title=2 more errors::")


def test_the_budget_counts_earlier_annotations_of_the_step_and_each_level_has_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(12):
        annotate(AnnotationLevel.WARNING, f"telemetry warning {i}", title="Telemetry")
    annotate(AnnotationLevel.ERROR, "reporting failed", title="Action reporting")
    annotate_outcome(outcome(result=failed_jobs(12), failure=FailureInfo("dependency", "x")), tmp_path)
    out = capsys.readouterr().out.splitlines()
    errors = [line for line in out if line.startswith("::error")]
    warnings = [line for line in out if line.startswith("::warning")]
    assert len(errors) == 10 and errors[0] == "::error title=Action reporting::reporting failed"
    assert errors[-1].startswith("::error title=4 more errors::")
    assert len(warnings) == 10 and warnings[-1].startswith("::warning title=3 more warnings::")
    assert "[warning] Telemetry: telemetry warning 11" in out


def test_a_new_step_starts_with_a_fresh_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotate_outcome(outcome(result=failed_jobs(25), failure=FailureInfo("dependency", "x")), tmp_path)
    capsys.readouterr()
    annotate(AnnotationLevel.ERROR, "boom")
    assert capsys.readouterr().out == "::error::boom\n"


def test_an_annotation_past_the_budget_keeps_its_file_and_line_in_the_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for i in range(11):
        annotate(AnnotationLevel.ERROR, f"bad {i}", file="package.yaml", line=i + 1, title="Config error")
    flush_annotations()
    out = capsys.readouterr().out.splitlines()
    assert "[error] package.yaml:10 Config error: bad 9" in out
    assert "[error] package.yaml:11 Config error: bad 10" in out
    assert out[-1].startswith("::error title=2 more errors::")
