"""Every place that repeats a word of the vocabulary spells it as contracts.vocabulary does.

The schemas, action.yml, the README's tables and the failure rules are read as their own
formats (JSON, YAML, Markdown), never through the code under test, and compared with the enums.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from contracts import vocabulary as v
from multiarch import errors
from telemetry import events

ROOT = Path(__file__).resolve().parents[2]


def _schema(name: str) -> Any:
    return json.loads((ROOT / "schemas" / name).read_text(encoding="utf-8"))


def _at(document: Any, pointer: str) -> Any:
    node = document
    for part in pointer.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _enum_under(node: Any) -> list[object]:
    """The ``enum`` of a property, also when it sits in one branch of an ``anyOf`` (nullable)."""
    if "enum" in node:
        return list(node["enum"])
    for branch in node.get("anyOf", ()):
        if "enum" in branch:
            return list(branch["enum"])
    raise AssertionError(f"no enum at {node}")


CATEGORIES = [c.value for c in v.FailureCategory]

# (schema, JSON pointer to the property, the values it must list, in this order)
SCHEMA_ENUMS: list[tuple[str, str, list[str]]] = [
    ("build-summary.schema.json", "/properties/status", [s.value for s in v.ActionStatus]),
    (
        "build-summary.schema.json",
        "/properties/legs/items/properties/status",
        [s.value for s in v.ActionStatus],
    ),
    (
        "build-summary.schema.json",
        "/properties/legs/items/properties/problem",
        [s.value for s in v.LegProblem],
    ),
    ("build-summary.schema.json", "/properties/failed/items/properties/failure_category", CATEGORIES),
    ("build-summary.schema.json", "/properties/error/anyOf/0/properties/category", CATEGORIES),
    (
        "build-summary.schema.json",
        "/properties/telemetry/anyOf/0/properties/failure_category",
        ["", *CATEGORIES],
    ),
    (
        "build-summary.schema.json",
        "/properties/telemetry/anyOf/0/properties/status",
        [s.value for s in v.RunStatus],
    ),
    (
        "failure-report.schema.json",
        "/properties/status",
        [v.RunStatus.FAILURE.value, v.RunStatus.CANCELLED.value],
    ),
    ("failure-report.schema.json", "/properties/primary/anyOf/0/properties/category", CATEGORIES),
    ("failure-report.schema.json", "/properties/failures/items/properties/category", CATEGORIES),
    ("metrics.schema.json", "/properties/build_metrics/properties/status", [s.value for s in v.RunStatus]),
    ("metrics.schema.json", "/properties/build_metrics/properties/failure_category", ["", *CATEGORIES]),
    (
        "metrics.schema.json",
        "/properties/build_metrics/properties/build_stages/items/properties/status",
        [s.value for s in v.StageStatus],
    ),
    ("metrics.schema.json", "/properties/failure_analysis/anyOf/0/properties/category", CATEGORIES),
    (
        "metrics.schema.json",
        "/properties/memory_metrics/properties/layout",
        [m.value for m in v.MemoryLayout],
    ),
    ("builder-result.schema.json", "/properties/status", [s.value for s in v.BuildStatus]),
    ("builder-result.schema.json", "/$defs/job/properties/status", [s.value for s in v.JobStatus]),
    ("builder-result.schema.json", "/$defs/job/properties/failure_category", CATEGORIES),
    ("builder-result.schema.json", "/$defs/error/properties/category", CATEGORIES),
    ("history.schema.json", "/$defs/entry/properties/status", [s.value for s in v.ActionStatus]),
]


@pytest.mark.parametrize(("schema", "pointer", "expected"), SCHEMA_ENUMS, ids=lambda x: str(x)[:40])
def test_schema_enums_are_the_vocabulary(schema: str, pointer: str, expected: list[str]) -> None:
    assert _enum_under(_at(_schema(schema), pointer)) == expected


def _all_enums(node: Any) -> list[list[object]]:
    found: list[list[object]] = []
    if isinstance(node, dict):
        if "enum" in node:
            found.append(list(node["enum"]))
        for child in node.values():
            found += _all_enums(child)
    elif isinstance(node, list):
        for child in node:
            found += _all_enums(child)
    return found


def test_no_schema_lists_categories_or_statuses_this_test_does_not_check() -> None:
    # A new enum of categories or statuses in any schema must be added to SCHEMA_ENUMS above.
    words = {c for c in CATEGORIES} | {s.value for e in (v.ActionStatus, v.StageStatus) for s in e}
    checked: dict[str, int] = {}
    for schema, _pointer, expected in SCHEMA_ENUMS:
        if words & set(expected):
            checked[schema] = checked.get(schema, 0) + 1
    for path in sorted((ROOT / "schemas").glob("*.schema.json")):
        relevant = [e for e in _all_enums(json.loads(path.read_text())) if words & {str(x) for x in e}]
        assert len(relevant) == checked.get(path.name, 0), path.name


def _action_yml() -> Any:
    return YAML(typ="safe").load((ROOT / "action.yml").read_text(encoding="utf-8"))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.split(";")[0])


def test_action_yml_describes_the_vocabulary_and_its_defaults() -> None:
    action = _action_yml()
    outputs = action["outputs"]
    assert [w for w in _words(outputs["build-status"]["description"]) if w != "or"] == [
        s.value for s in v.ActionStatus
    ]
    assert [w for w in _words(outputs["failure-category"]["description"]) if w != "or"] == CATEGORIES
    inputs = action["inputs"]
    assert inputs["telemetry-dir"]["default"] == v.DEFAULT_TELEMETRY_DIR
    assert float(inputs["regression-threshold"]["default"]) == v.DEFAULT_REGRESSION_THRESHOLD_PERCENT


def _readme_table(heading: str) -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(heading)
    rows: list[list[str]] = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not set(line) <= set("|-: "):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # the header row


def _code_words(cells: list[list[str]]) -> list[str]:
    return [row[0].strip("`") for row in cells]


def test_readme_tables_list_the_vocabulary() -> None:
    assert _code_words(_readme_table("### Failure categories")) == CATEGORIES
    assert _code_words(_readme_table("### Exit status")) == [s.value for s in v.ActionStatus]
    outputs = {row[0].strip("`"): row[1] for row in _readme_table("## Outputs")}
    assert re.findall(r"`([a-z]+)`", outputs["build-status"]) == [s.value for s in v.ActionStatus]


def test_failure_rules_and_the_event_channel_know_the_same_categories() -> None:
    rules = json.loads((ROOT / "telemetry" / "data" / "failure_rules.json").read_text(encoding="utf-8"))
    assert list(rules["categories"]) == CATEGORIES
    assert list(events.CATEGORIES) == CATEGORIES
    assert list(events.STAGE_STATUSES) == [s.value for s in v.REPORTED_STAGE_STATUSES]
    assert events.ENV_VAR == v.ENV_EVENTS_FILE


def _error_classes() -> list[type[errors.MultiarchError]]:
    found: list[type[errors.MultiarchError]] = []
    pending: list[type[errors.MultiarchError]] = [errors.MultiarchError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending += cls.__subclasses__()
    return found


def test_every_builder_error_carries_a_vocabulary_category() -> None:
    for cls in _error_classes():
        assert cls.category in set(v.FailureCategory), cls


@pytest.mark.parametrize(
    "enum",
    [v.FailureCategory, v.JobStatus, v.BuildStatus, v.ActionStatus, v.RunStatus, v.StageStatus, v.EventType],
)
def test_enum_members_serialise_as_their_plain_words(enum: type[StrEnum]) -> None:
    for member in enum:
        assert json.dumps(member) == json.dumps(member.value)
        assert f"{member}" == member.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        (" TRUE ", True),
        ("Yes", True),
        ("on", True),
        ("1", True),
        ("enabled", True),
        ("false", False),
        ("No", False),
        ("OFF", False),
        ("0", False),
        ("disabled", False),
        ("", None),
        ("tru", None),
        ("2", None),
        ("y", None),
    ],
)
def test_one_boolean_rule(text: str, expected: bool | None) -> None:
    assert v.parse_bool(text) is expected
