"""Schema validation of package.yaml, with jsonschema's errors rewritten for people.

Each message names the file, the line and the dotted field, and offers a "did you mean" hint
where a close match exists. Of several problems, the one nearest the top of the file is shown.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

import jsonschema
from jsonschema.exceptions import ValidationError

from contracts.schema_files import schema_path
from multiarch.config.fields import PathKey, format_path, line_for
from multiarch.config.yaml_loader import yaml_type
from multiarch.errors import ConfigError

SCHEMA_FILE = schema_path("package.schema.json")

_TYPE_NAMES = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "null": "empty",
}
_MAX_MESSAGE = 200


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    hint = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {hint[0]!r}?" if hint else ""


def _unknown_key(
    path: PathKey,
    schema: Mapping[str, Any],
    instance: Mapping[str, Any],
    lines: Mapping[PathKey, int],
    file: str,
) -> ConfigError:
    known = list(schema.get("properties", {}))
    extras = [k for k in instance if k not in known]
    key = sorted(extras, key=lambda k: lines.get((*path, k), 0))[0] if extras else "?"
    message = f"unknown key {key!r}"
    hint = _did_you_mean(key, known)
    if hint:
        message += hint
    elif known:
        message += f" (allowed here: {', '.join(known)})"
    path = (*path, key)
    return ConfigError(message, file=file, line=line_for(path, lines), field=format_path(path) or None)


def _missing_setting(
    error: ValidationError, path: PathKey, lines: Mapping[PathKey, int], file: str
) -> ConfigError:
    required: list[Any] = list(cast(Sequence[Any], error.validator_value))
    missing = str(required[0]) if required else "?"
    for name in required:
        if isinstance(error.instance, Mapping) and name not in error.instance:
            missing = str(name)
            break
    # A key missing from the top level points at the first setting, where the mapping
    # begins: an annotation without a line would not show up in the file at all.
    top = min((n for p, n in lines.items() if len(p) == 1), default=1)
    line = lines.get(path) if path else top
    return ConfigError(
        "required setting is missing", file=file, line=line, field=format_path((*path, missing))
    )


def _expected_type(schema: Mapping[str, Any]) -> str:
    expected = schema.get("x-expected")
    if expected:
        return str(expected)
    types = schema["type"]
    return " or ".join(_TYPE_NAMES.get(t, t) for t in ([types] if isinstance(types, str) else types))


def _describe(error: ValidationError, schema: Mapping[str, Any]) -> str:
    """The message for a problem with a value (not a key that is unknown or missing)."""
    instance = error.instance
    validator = error.validator
    if validator == "propertyNames" or "propertyNames" in error.relative_schema_path:
        # jsonschema reports the offending key as the instance, with the parent's path; the
        # failing keyword is the one inside propertyNames (pattern, enum ...), not propertyNames.
        return f"{str(instance)!r} {schema.get('x-message', 'is not allowed as a key here')}"
    if validator == "type":
        return f"must be {_expected_type(schema)}, not {yaml_type(instance)}"
    if validator == "pattern" and "x-message" in schema:
        return f"{_short(instance)} {schema['x-message']}"
    if validator == "enum":
        options = [str(o) for o in cast(Sequence[Any], error.validator_value)]
        message = f"{_short(instance)} is not one of: {', '.join(options)}"
        return message + (_did_you_mean(instance, options) if isinstance(instance, str) else "")
    if validator in ("minLength", "minItems", "minProperties") and not instance:
        return "must not be empty"
    if validator == "uniqueItems":
        return "contains duplicate entries"
    message = error.message
    return message[: _MAX_MESSAGE - 3] + "..." if len(message) > _MAX_MESSAGE else message


def _schema_error(error: ValidationError, lines: Mapping[PathKey, int], file: str) -> ConfigError:
    path: PathKey = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        return _unknown_key(path, schema, error.instance, lines, file)
    if error.validator == "required":
        return _missing_setting(error, path, lines, file)
    if error.validator == "propertyNames" or "propertyNames" in error.relative_schema_path:
        path = (*path, str(error.instance))
    message = _describe(error, schema)
    return ConfigError(message, file=file, line=line_for(path, lines), field=format_path(path) or None)


def validate_schema(document: dict[str, Any], lines: Mapping[PathKey, int], file: str) -> None:
    """Raise the ConfigError for the first problem the schema finds, if any."""
    errors = [
        (_schema_error(e, lines, file), e.validator == "required", len(e.absolute_path))
        for e in _validator().iter_errors(document)
    ]
    if not errors:
        return

    def position(item: tuple[ConfigError, bool, int]) -> tuple[bool, float, int]:
        # Report the problem nearest the top of the file first; missing settings last, since
        # a misspelt key (reported with a hint) is the usual reason a setting is missing;
        # deeper errors first on the same line: they are more specific.
        err, missing, depth = item
        return (missing, err.line if err.line is not None else float("inf"), -depth)

    raise min(errors, key=position)[0]
