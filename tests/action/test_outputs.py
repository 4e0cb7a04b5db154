"""Outputs: every name, the values' formats, and the file read back the way the runner parses it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from action.outcome import ActionOutcome, FailureInfo, ProducedPackage, TelemetryFigures
from action.outputs import OUTPUT_NAMES, output_values, parse_output_file, write_outputs
from contracts.builder_result import BuilderResult, JobResult, LintianCounts, SkippedArch


def figures(**overrides: object) -> TelemetryFigures:
    values: dict[str, object] = {
        "directory": ".telemetry",
        "duration_seconds": 12.3456,
        "peak_memory_mb": 187.25,
        "peak_memory_source": "cgroup_resident",
        "network_downloaded_bytes": 52_428_800,
        "network_uploaded_bytes": 1_048_576,
        "network_interface": "eth0",
        "cpu_user_seconds": 3.0,
        "cpu_system_seconds": 1.0,
        "cpu_average_percent": 95.0,
        "disk_read_bytes": 10,
        "disk_write_bytes": 20,
        "regressions": (),
        "baseline_comparison": {},
        "performance_score": 100.0,
        "has_baseline": False,
        "baseline_saved": False,
    }
    values.update(overrides)
    return TelemetryFigures(**values)  # type: ignore[arg-type]


def package(path: str, arch: str = "amd64", suite: str = "trixie") -> ProducedPackage:
    return ProducedPackage(
        path, arch, suite, "1.0.0-1+deb13", 1234, "ab" * 32, LintianCounts(0, 0, 1, ("x",))
    )


def outcome(**overrides: object) -> ActionOutcome:
    values: dict[str, object] = {
        "status": "success",
        "mode": "builder",
        "package": "hello-demo",
        "version": "1.0.0",
        "packages": (package("dist/a b_1.0_amd64.deb"), package("dist/hello_1.0_arm64.deb", "arm64")),
        "result": None,
        "failure": None,
        "telemetry": figures(),
        "duration_seconds": 12.0,
        "exit_code": 0,
    }
    values.update(overrides)
    return ActionOutcome(**values)  # type: ignore[arg-type]


def test_every_output_has_a_value() -> None:
    values = output_values(outcome(), "dist/build-summary.json")
    assert tuple(values) == OUTPUT_NAMES
    assert values["packages"] == "dist/a b_1.0_amd64.deb dist/hello_1.0_arm64.deb"
    assert json.loads(values["packages-json"]) == ["dist/a b_1.0_amd64.deb", "dist/hello_1.0_arm64.deb"]
    assert values["build-summary"] == "dist/build-summary.json"
    assert values["build-status"] == "success"
    assert values["telemetry-dir"] == ".telemetry"
    assert values["build-duration-seconds"] == "12.35"
    assert values["peak-memory-mb"] == "187.2" or values["peak-memory-mb"] == "187.3"
    assert values["network-downloaded-bytes"] == "52428800"
    assert values["network-uploaded-bytes"] == "1048576"
    assert values["failure-category"] == ""
    assert json.loads(values["performance-regressions"]) == []
    assert values["regression-detected"] == "false"
    assert values["performance-score"] == "100"


def test_regressions_are_a_json_array_and_detected_is_true() -> None:
    messages = ("Build duration increased by 25%", 'Memory usage increased by 40% "quoted"')
    values = output_values(outcome(telemetry=figures(regressions=messages, performance_score=60.0)), "s.json")
    assert json.loads(values["performance-regressions"]) == list(messages)
    assert values["regression-detected"] == "true"
    assert values["performance-score"] == "60"


def test_failure_category_is_empty_on_success_and_cancel_and_set_on_failure() -> None:
    failure = FailureInfo(category="network", reason="HTTP 503")
    assert output_values(outcome(status="failure", failure=failure), "s")["failure-category"] == "network"
    assert output_values(outcome(status="cancelled", failure=failure), "s")["failure-category"] == ""
    assert output_values(outcome(status="partial", failure=failure), "s")["failure-category"] == "network"


def test_without_telemetry_the_figures_are_empty_but_present() -> None:
    values = output_values(outcome(telemetry=None, duration_seconds=3.14159), "s")
    assert values["telemetry-dir"] == ""
    assert values["build-duration-seconds"] == "3.14"
    assert values["peak-memory-mb"] == ""
    assert values["regression-detected"] == "false"
    assert values["performance-regressions"] == "[]"


def test_written_file_parses_back_like_the_runner_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "file_commands" / "set_output_1"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    values = output_values(outcome(), "dist/build-summary.json")
    # A value with newlines and a line that looks like a delimiter must survive intact.
    tricky = dict(values, packages="first\nEOF\nghadelimiter_x\nlast")
    assert write_outputs(tricky) == out
    text = out.read_text()
    delimiters = re.findall(r"^[a-z-]+<<(ghadelimiter_[0-9a-f-]{36})$", text, flags=re.M)
    assert len(delimiters) == len(OUTPUT_NAMES) and len(set(delimiters)) == len(delimiters)
    assert parse_output_file(text) == tricky


def test_outputs_are_appended_after_earlier_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.write_text("earlier=value\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    write_outputs({"build-status": "failure"})
    assert parse_output_file(out.read_text()) == {"earlier": "value", "build-status": "failure"}


def test_no_output_file_means_nothing_is_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert write_outputs({"build-status": "success"}) is None
    assert capsys.readouterr().out == ""  # no retired ::set-output command


def test_parser_rejects_an_unterminated_block() -> None:
    with pytest.raises(ValueError, match="delimiter"):
        parse_output_file("name<<EOF\nvalue\n")


def test_partial_build_lists_only_the_packages_it_produced(tmp_path: Path) -> None:
    from action.outcome import produced_packages

    (tmp_path / "dist").mkdir()
    deb = tmp_path / "dist" / "p_1.0-1+deb13_amd64.deb"
    deb.write_bytes(b"!<arch>\n")
    (tmp_path / "dist" / "stale_0.9-1_amd64.deb").write_bytes(b"old")
    result = BuilderResult(
        package="p",
        tag="v1.0",
        upstream_version="1.0",
        build_version="1",
        status="partial",
        jobs=(
            JobResult("amd64", "trixie", "success", "1.0-1+deb13", str(deb), 8, "00", "", None, None, 1.0),
            JobResult("arm64", "trixie", "failure", "", "", 0, "", "no asset", "packaging", None, 0.5),
        ),
        skipped=(SkippedArch("riscv64", "no release asset matches riscv64"),),
        error=None,
    )
    produced = produced_packages(result, tmp_path)
    assert [p.path for p in produced] == ["dist/p_1.0-1+deb13_amd64.deb"]
