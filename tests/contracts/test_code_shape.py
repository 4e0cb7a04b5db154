"""The product code keeps to two rules a reviewer would otherwise check by hand.

- A failure category or status word is spelled only in contracts/vocabulary.py: elsewhere the
  code names the enum member, so a renamed or added word cannot be missed in one place.
- No function of the product is longer than 80 lines (split by phase instead).

Both read the source with ``ast``; strings inside f-strings and docstrings are not literals of
a word (they are prose), only a whole string constant equal to the word is.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from contracts import vocabulary as v

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("contracts", "multiarch", "telemetry", "action", "entrypoint.py")
MAX_FUNCTION_LINES = 80

WORDS = {
    m.value
    for enum in (v.FailureCategory, v.JobStatus, v.BuildStatus, v.ActionStatus, v.RunStatus, v.StageStatus)
    for m in enum
}

# Where one of the words means something else; each with the reason.
OTHER_MEANINGS: dict[tuple[str, str], str] = {
    ("action/inputs.py", "architecture"): "the name of the action input `architecture`",
    ("multiarch/config/fields.py", "architecture"): "the `--arch` override's field, named as the input",
    ("multiarch/suites.py", "architecture"): "the noun in messages and error fields",
    ("multiarch/discovery.py", "unknown"): "an archive format or C library the asset name does not tell",
    ("telemetry/api.py", "unknown"): "a network interface that cannot be told",
}


def _sources() -> Iterator[Path]:
    for entry in PRODUCT:
        path = ROOT / entry
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _in_fstring(tree: ast.AST) -> set[int]:
    return {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}


def test_category_and_status_words_are_spelled_only_in_the_vocabulary() -> None:
    found: list[str] = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        if rel == "contracts/vocabulary.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree) | _in_fstring(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in WORDS
                and id(node) not in skip
                and (rel, node.value) not in OTHER_MEANINGS
            ):
                found.append(f"{rel}:{node.lineno} {node.value!r}")
    assert found == []


def test_no_product_function_is_longer_than_the_limit() -> None:
    long: list[str] = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []
