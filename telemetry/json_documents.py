"""Reading a JSON document that an earlier run (or a person) wrote: parse and check it, never raise.

Files such as baseline.json and history.json come back from workspaces, caches and artifacts;
any of them may be truncated, hand-edited or from another version. The answer is the document,
or one sentence that names the file, what is wrong and where.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema


@cache
def _validator(path: Path) -> Any:
    """One checked validator per schema file: ``jsonschema.validate`` re-checks the schema itself on
    every call, which costs far more than validating a document (a matrix join reads a hundred)."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def parsed_json(data: bytes | str, origin: str) -> tuple[Any, str | None]:
    """(the parsed value, None), or (None, why) when ``data`` is not JSON (truncated, binary…)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{origin}: not valid JSON ({exc})"


def schema_problem(document: Any, schema_path: Path, origin: str) -> str | None:
    """Why ``schema_path`` refuses the parsed ``document`` (jsonschema's best match), or None."""
    error = jsonschema.exceptions.best_match(_validator(schema_path).iter_errors(document))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(top)"
    return f"{origin}: does not match {schema_path.name} at {where}: {error.message}"


def checked_document(data: bytes | str, schema_path: Path, origin: str) -> tuple[Any, str | None]:
    """(the document, None) when ``data`` is JSON that ``schema_path`` accepts, else (None, why)."""
    document, problem = parsed_json(data, origin)
    if problem is None:
        problem = schema_problem(document, schema_path, origin)
    return (None, problem) if problem is not None else (document, None)
