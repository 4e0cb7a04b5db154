"""action.yml, the README's tables and the entrypoint's code name the same inputs and outputs.

Three independent sources are parsed: action.yml (YAML), README.md (the Markdown
tables under "## Inputs" and "## Outputs"), and the code (the names the
``action`` package reads and writes, found by walking its syntax tree, plus
the registries ``INPUT_DEFAULTS`` and ``OUTPUT_NAMES``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from action.inputs import INPUT_DEFAULTS
from action.outputs import OUTPUT_NAMES

ROOT = Path(__file__).resolve().parents[2]

SPEC_INPUTS = (
    "config-file",
    "version",
    "build-version",
    "architecture",
    "distributions",
    "max-parallel",
    "lintian-check",
    "output-dir",
    "assets-dir",
    "pinned-metadata",
    "github-token",
    "telemetry-enabled",
    "telemetry-dir",
    "sample-interval",
    "save-baseline",
    "regression-threshold",
    "fail-on-regression",
    "command",
    "job-summary",
    "baseline-source",
    "history-artifact",
    "history-size",
    "pr-comment",
    "mode",
    "aggregate-dir",
    "expected-legs",
)
SPEC_OUTPUTS = (
    "packages",
    "packages-json",
    "build-summary",
    "build-status",
    "telemetry-dir",
    "build-duration-seconds",
    "peak-memory-mb",
    "network-downloaded-bytes",
    "network-uploaded-bytes",
    "failure-category",
    "performance-regressions",
    "regression-detected",
    "performance-score",
    "history-artifact",
    "baseline-runs",
)


def _action_yml() -> dict[str, Any]:
    data = YAML(typ="safe").load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _readme_table(heading: str) -> list[list[str]]:
    """Rows (cells stripped) of the first table after ``## heading``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(heading)}\s*$", text, flags=re.M)
    assert match, f"README.md has no '## {heading}' section"
    rows: list[list[str]] = []
    started = False
    for line in text[match.end() :].splitlines():
        if line.startswith("|"):
            started = True
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                rows.append(cells)
        elif started:
            break
    assert rows, f"no table under '## {heading}'"
    return rows[1:]  # without the header row


def _unquote(cell: str) -> str:
    return "" if cell == "(empty)" else cell.strip("`")


def _code_literals(function_names: set[str]) -> set[str]:
    """String literals passed as the first argument to the named functions/methods in action/."""
    found: set[str] = set()
    for path in (ROOT / "action").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            first = node.args[0]
            if name in function_names and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def test_action_yml_inputs_are_the_spec_inputs() -> None:
    assert list(_action_yml()["inputs"]) == list(SPEC_INPUTS)


def test_action_yml_outputs_are_the_spec_outputs() -> None:
    assert list(_action_yml()["outputs"]) == list(SPEC_OUTPUTS)


def test_every_input_and_output_has_a_description() -> None:
    data = _action_yml()
    for section in ("inputs", "outputs"):
        for name, spec in data[section].items():
            assert str(spec.get("description", "")).strip(), f"{section}.{name} has no description"


def test_action_yml_defaults_match_the_entrypoint() -> None:
    inputs = _action_yml()["inputs"]
    for name, spec in inputs.items():
        default = str(spec.get("default", ""))
        if name == "github-token":
            assert default == "${{ github.token }}"
            continue
        assert default == INPUT_DEFAULTS[name], name
        assert spec.get("required", False) is False, f"{name}: the entrypoint applies defaults itself"


def test_action_yml_runs_the_dockerfile_and_has_branding() -> None:
    data = _action_yml()
    assert data["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert data["branding"]["icon"] and data["branding"]["color"]
    assert data["name"] and data["description"]


def test_readme_inputs_table_matches_action_yml() -> None:
    rows = _readme_table("Inputs")
    names = [_unquote(r[0]) for r in rows]
    assert names == list(SPEC_INPUTS)
    inputs = _action_yml()["inputs"]
    for row in rows:
        name, default = _unquote(row[0]), row[1]
        declared = str(inputs[name].get("default", ""))
        if name == "version":
            assert "required" in default
        else:
            assert _unquote(default) == declared, f"README default of {name}: {default!r} vs {declared!r}"
        assert row[2], f"README has no description for {name}"


def test_readme_outputs_table_matches_action_yml() -> None:
    rows = _readme_table("Outputs")
    assert [_unquote(r[0]) for r in rows] == list(SPEC_OUTPUTS)
    assert all(r[-1] for r in rows)


def test_code_input_registry_matches_action_yml() -> None:
    assert list(INPUT_DEFAULTS) == list(SPEC_INPUTS)


def test_code_reads_exactly_the_declared_inputs() -> None:
    # Every name the inputs module reads goes through one of these helpers.
    read = _code_literals(
        {"_raw", "boolean", "number", "path", "names", "_get_input", "choice", "whole", "artifact_name"}
    )
    read.add("github-token")  # read through the TOKEN_INPUT constant
    assert read == set(SPEC_INPUTS)


def test_code_writes_exactly_the_declared_outputs() -> None:
    assert list(OUTPUT_NAMES) == list(SPEC_OUTPUTS)
    tree = ast.parse((ROOT / "action" / "outputs.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "output_values":
            dicts = [n for n in ast.walk(node) if isinstance(n, ast.Dict)]
            keys = [k.value for d in dicts for k in d.keys if isinstance(k, ast.Constant)]
            assert keys == list(SPEC_OUTPUTS)
            return
    pytest.fail("output_values not found")


def test_readme_documents_the_developer_commands_and_config_link() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
    assert "docs/configuration.md" in text
    assert re.search(r"uses: OWNER/REPO@v1", text)
