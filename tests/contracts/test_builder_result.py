"""The builder's result file model: exact writing, tolerant reading, and the schema agree.

The builder's real output is checked in tests/multiarch/test_result_file.py; here the model is
exercised with hand-made documents, including malformed ones a crashed or foreign writer could
leave behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from contracts import vocabulary as v
from contracts.builder_result import (
    BuilderResult,
    EarlyFailure,
    JobResult,
    LintianCounts,
    SkippedArch,
    read_builder_result,
    status_of,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "builder-result.schema.json").read_text(encoding="utf-8"))


def validate(document: object) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(document)


def built(arch: str = "amd64", suite: str = "trixie", **overrides: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "arch": arch,
        "suite": suite,
        "status": "success",
        "version": "1.0-1+deb13",
        "package_path": f"/out/p_1.0-1+deb13_{arch}.deb",
        "size": 1234,
        "sha256": "ab" * 32,
        "reason": "",
        "failure_category": None,
        "lintian": {
            "errors": 0,
            "warnings": 1,
            "info": 2,
            "pedantic": 0,
            "overridden": 2,
            "tags": ["W: p: x"],
        },
        "duration_seconds": 1.234,
    }
    job.update(overrides)
    return job


def failed(arch: str = "arm64", suite: str = "trixie", **overrides: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "arch": arch,
        "suite": suite,
        "status": "failure",
        "version": "1.0-1+deb13",
        "package_path": "",
        "size": 0,
        "sha256": "",
        "reason": "download of x: timed out",
        "failure_category": "network",
        "lintian": None,
        "duration_seconds": 0.5,
    }
    job.update(overrides)
    return job


def document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": 1,
        "package": "p",
        "tag": "v1.0",
        "upstream_version": "1.0",
        "build_version": "1",
        "status": "partial",
        "jobs": [
            built(),
            failed(transient=True, remediation=["retry the build"]),
        ],
        "skipped": [
            {"arch": "riscv64", "reason": "no release asset names riscv64"},
            {"arch": "loong64", "reason": "bookworm has no loong64 port", "suite": "bookworm"},
        ],
        "error": None,
    }
    doc.update(overrides)
    return doc


EARLY_ERROR = {
    "category": "configuration",
    "message": "unknown key 'sectoin'",
    "file": "/w/package.yaml",
    "line": 7,
    "field": "sectoin",
    "transient": False,
    "remediation": [],
}

EXAMPLES = {
    "partial": document(),
    "success": document(status="success", jobs=[built(), built(suite="bookworm", lintian=None)], skipped=[]),
    "failure": document(status="failure", jobs=[failed(), failed(suite="bookworm")], skipped=[]),
    "early": document(status="failure", package="", jobs=[], skipped=[], error=EARLY_ERROR),
    "cancelled": document(
        status="failure",
        jobs=[failed(reason="cancelled before the package was written", failure_category=None)],
        cancelled=True,
    ),
    "interrupted before any job": document(status="failure", jobs=[], skipped=[], cancelled=True),
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_round_trip_is_exact(name: str) -> None:
    doc = EXAMPLES[name]
    result = BuilderResult.from_document(doc)
    assert result is not None
    again = result.to_document()
    assert again == doc
    # Same keys in the same order: the file reads the same, byte for byte.
    assert json.dumps(again, indent=2) == json.dumps(doc, indent=2)


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_match_the_schema(name: str) -> None:
    validate(EXAMPLES[name])


def test_the_model_reads_into_vocabulary_words() -> None:
    result = BuilderResult.from_document(document())
    assert result is not None
    assert result.status is v.BuildStatus.PARTIAL
    ok, bad = result.jobs
    assert ok.status is v.JobStatus.SUCCESS and ok.lintian == LintianCounts(0, 1, 2, ("W: p: x",), 0, 2)
    assert bad.failure_category is v.FailureCategory.NETWORK and bad.transient
    assert bad.remediation == ("retry the build",)
    assert result.succeeded == (ok,) and result.failed == (bad,)
    assert result.skipped[1] == SkippedArch("loong64", "bookworm has no loong64 port", "bookworm")
    early = BuilderResult.from_document(EXAMPLES["early"])
    assert early is not None and early.error == EarlyFailure(
        v.FailureCategory.CONFIGURATION, "unknown key 'sectoin'", "/w/package.yaml", 7, "sectoin"
    )


def test_optional_additions_appear_only_when_they_say_something() -> None:
    job = JobResult("amd64", "trixie", v.JobStatus.FAILURE, "1")
    assert "transient" not in job.to_document() and "remediation" not in job.to_document()
    assert list(SkippedArch("a", "r").to_document()) == ["arch", "reason"]
    result = BuilderResult("p", "t", "u", "1", v.BuildStatus.FAILURE, (job,), (), None)
    assert "cancelled" not in result.to_document()
    validate(result.to_document())


def test_durations_are_written_to_the_millisecond() -> None:
    job = JobResult("amd64", "trixie", v.JobStatus.SUCCESS, "1", duration_seconds=1.23456)
    assert job.to_document()["duration_seconds"] == 1.235


def test_status_of_jobs() -> None:
    ok = JobResult("a", "s", v.JobStatus.SUCCESS, "1")
    bad = JobResult("b", "s", v.JobStatus.FAILURE, "1")
    assert status_of([ok, ok]) is v.BuildStatus.SUCCESS
    assert status_of([ok, bad]) is v.BuildStatus.PARTIAL
    assert status_of([bad]) is v.BuildStatus.FAILURE
    assert status_of([]) is v.BuildStatus.FAILURE


# ----------------------------------------------------------------------------- tolerant reading


@pytest.mark.parametrize("doc", [None, [], "text", 3, True])
def test_a_document_that_is_not_an_object_reads_as_none(doc: object) -> None:
    assert BuilderResult.from_document(doc) is None


def test_wrong_types_become_empty_values() -> None:
    doc = {
        "package": 5,
        "tag": None,
        "status": "exploded",
        "jobs": [
            "not a job",
            {
                "arch": ["amd64"],
                "status": "maybe",
                "size": "12",
                "duration_seconds": True,
                "failure_category": "cosmic rays",
                "lintian": "clean",
                "transient": "yes",
                "remediation": "retry",
            },
            {"arch": "arm64", "status": "success", "size": True, "lintian": {"errors": "1", "tags": "x"}},
        ],
        "skipped": {"arch": "riscv64"},
        "error": {"category": 7, "line": True, "file": "", "remediation": [1, "two"]},
        "cancelled": "true",
    }
    result = BuilderResult.from_document(doc)
    assert result is not None
    assert (result.package, result.tag, result.status) == ("", "", v.BuildStatus.FAILURE)
    odd, ok = result.jobs
    assert (odd.arch, odd.status, odd.size, odd.duration_seconds) == ("", v.JobStatus.FAILURE, 0, 0.0)
    assert odd.failure_category is v.FailureCategory.UNKNOWN
    assert (odd.lintian, odd.transient, odd.remediation) == (None, False, ())
    assert ok.status is v.JobStatus.SUCCESS and ok.size == 0
    assert ok.lintian == LintianCounts(0, 0, 0, ())
    assert result.skipped == ()
    assert result.error == EarlyFailure(v.FailureCategory.UNKNOWN, "", None, None, None, False, ("1", "two"))
    assert result.cancelled is False


def test_missing_keys_read_as_empty_values() -> None:
    result = BuilderResult.from_document({"jobs": [{}], "skipped": [{}]})
    assert result is not None
    assert result.jobs == (JobResult("", "", v.JobStatus.FAILURE, ""),)
    assert result.skipped == (SkippedArch("", ""),)
    assert result.error is None and result.status is v.BuildStatus.FAILURE


@pytest.mark.parametrize("line", [0, -3, 2.5, "4"])
def test_an_error_line_that_is_no_line_number_is_none(line: object) -> None:
    error = EarlyFailure.from_document({**EARLY_ERROR, "line": line})
    assert error is not None and error.line is None


def test_reading_a_file(tmp_path: Path) -> None:
    path = tmp_path / ".multiarch-result.json"
    assert read_builder_result(path) is None  # missing
    path.write_text("{ not json", encoding="utf-8")
    assert read_builder_result(path) is None
    path.write_bytes(b"\xff\xfe")
    assert read_builder_result(path) is None
    path.write_text(json.dumps(document()), encoding="utf-8")
    result = read_builder_result(path)
    assert result is not None and result.to_document() == document()


# ----------------------------------------------------------------------------- the schema


def test_the_schema_is_valid_and_lists_the_vocabulary() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["properties"]["status"]["enum"] == [s.value for s in v.BuildStatus]
    job = SCHEMA["$defs"]["job"]["properties"]
    assert job["status"]["enum"] == [s.value for s in v.JobStatus]
    assert job["failure_category"]["anyOf"][0]["enum"] == [c.value for c in v.FailureCategory]
    assert SCHEMA["$defs"]["error"]["properties"]["category"]["enum"] == [c.value for c in v.FailureCategory]


@pytest.mark.parametrize(
    "broken",
    [
        document(status="cancelled"),
        document(jobs=[failed(failure_category="cosmic rays")]),
        document(jobs=[built(status="skipped")]),
        document(error={**EARLY_ERROR, "category": None}),
        {key: value for key, value in document().items() if key != "jobs"},
    ],
)
def test_the_schema_refuses_what_the_builder_never_writes(broken: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
