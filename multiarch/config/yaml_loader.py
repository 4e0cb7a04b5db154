"""Reading package.yaml safely: size and encoding limits, then ruamel.yaml with line numbers.

Before any object is built, the parser's event stream is scanned for what a config never
needs (alias bombs, deep nesting, several documents, custom tags), so hostile input fails
with a ConfigError instead of exhausting memory or constructing arbitrary types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.reader import ReaderError

from multiarch.config.fields import PathKey, format_path, line_for
from multiarch.errors import ConfigError

MAX_FILE_BYTES = 1024 * 1024
# A real config uses a handful of anchors for shared defaults; a "billion laughs" needs many
# aliases or a huge expansion. Both limits are far above honest use.
MAX_ALIASES = 64
MAX_EXPANDED_NODES = 20_000
MAX_DEPTH = 32

# The scalar types a document holds, with the words errors use for them; bool before int,
# since a bool is also an int.
_SCALAR_KINDS: tuple[tuple[type[Any], str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
)


def _read_text(path: Path) -> str:
    file = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            "file not found", file=file, remediation=("Set config-file to the path of your package.yaml.",)
        ) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a file", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=file) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(
            f"file is larger than {MAX_FILE_BYTES // 1024} KiB; refusing to parse it", file=file
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})", file=file, line=line
        ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ConfigError("file is empty", file=file, line=1)
    return text


_CORE_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}


def _yaml_error(exc: Exception, file: str, text: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    position = getattr(exc, "position", None)
    if isinstance(exc, ReaderError) and isinstance(position, int):
        # The reader reports a character offset, not a mark.
        line = text.count("\n", 0, position) + 1
        return ConfigError(
            f"character U+{exc.character:04X} is not allowed in YAML ({exc.reason})", file=file, line=line
        )
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    context = getattr(exc, "context", None)
    duplicate = re.match(r'found duplicate key "([^"]*)"', str(problem))
    if duplicate:
        # Only top-level keys can be named reliably here; nested ones keep the line alone.
        key = duplicate.group(1)
        return ConfigError(
            f"duplicate key {key!r} (the first one is earlier in the file)",
            file=file,
            line=line,
            field=key if mark is not None and _is_top_level_key(text, mark.line, key) else None,
        )
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context and context != problem else "")
    return ConfigError(message, file=file, line=line)


def _check_tag(event: NodeEvent, file: str, line: int | None) -> None:
    tag = getattr(event, "tag", None)
    tag_text = None if tag is None else str(getattr(tag, "value", tag))
    if tag_text is not None and tag_text not in _CORE_TAGS and tag_text != "!":
        raise ConfigError(f"YAML tag {tag_text!r} is not allowed here", file=file, line=line)


def _is_top_level_key(text: str, line_index: int, key: str) -> bool:
    lines = text.splitlines()
    return 0 <= line_index < len(lines) and re.match(rf"{re.escape(key)}\s*:", lines[line_index]) is not None


def _check_events(yaml: YAML, text: str, file: str) -> None:
    """Reject what a config never needs, before building any object: alias bombs, deep
    nesting, several documents, custom tags (which could construct arbitrary types)."""
    sizes: dict[str, int] = {}
    stack: list[tuple[str | None, list[int]]] = []
    aliases = 0
    documents = 0
    total = 0
    for event in yaml.parse(text):
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise ConfigError(
                    "only one YAML document is allowed (found a second '---')", file=file, line=line
                )
            continue
        if isinstance(event, NodeEvent) and not isinstance(event, AliasEvent):
            _check_tag(event, file, line)
        if isinstance(event, CollectionStartEvent):
            stack.append((event.anchor, [1]))
            if len(stack) > MAX_DEPTH:
                raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", file=file, line=line)
            continue
        if isinstance(event, CollectionEndEvent):
            anchor, counter = stack.pop()
            size = counter[0]
            if anchor:
                sizes[anchor] = size
        elif isinstance(event, AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise ConfigError(
                    f"more than {MAX_ALIASES} YAML aliases; refusing to expand them", file=file, line=line
                )
            size = sizes.get(str(event.anchor), 1)
        elif isinstance(event, ScalarEvent):
            size = 1
            if event.anchor:
                sizes[event.anchor] = 1
        else:
            continue
        if stack:
            stack[-1][1][0] += size
            current = stack[-1][1][0]
        else:
            total += size
            current = total
        if current > MAX_EXPANDED_NODES:
            raise ConfigError(
                f"document expands to more than {MAX_EXPANDED_NODES} nodes (YAML alias bomb?)",
                file=file,
                line=line,
            )


def _plain(node: Any, path: PathKey, lines: dict[PathKey, int], file: str) -> Any:
    """ruamel's round-trip objects -> JSON-like values, recording the line of every key/item."""
    if len(path) > MAX_DEPTH:
        # The event scan already bounds nesting; this also bounds self-referencing aliases.
        raise ConfigError(
            f"nested deeper than {MAX_DEPTH} levels",
            file=file,
            line=line_for(path, lines),
            field=format_path(path),
        )
    if isinstance(node, Mapping):
        return _plain_mapping(node, path, lines, file)
    if isinstance(node, list):
        return _plain_list(node, path, lines, file)
    return _plain_scalar(node)


def _recorded_line(node: Any, locate: str, where: str | int) -> int | None:
    """The 1-based line ruamel recorded for a key or item of ``node`` (``locate``: "key"/"item")."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        line: int = getattr(lc, locate)(where)[0] + 1
    except (KeyError, TypeError, AttributeError, IndexError):
        return None  # merged ('<<') keys have no position of their own
    return line


def _plain_mapping(
    node: Mapping[Any, Any], path: PathKey, lines: dict[PathKey, int], file: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        key_line = _recorded_line(node, "key", key)
        if key_line is None:
            key_line = lines.get(path)
        if not isinstance(key, str):
            raise ConfigError(
                f"mapping keys must be strings, not {yaml_type(key)} {key!r}",
                file=file,
                line=key_line,
                field=format_path(path) or None,
            )
        sub = (*path, str(key))
        if key_line is not None:
            lines[sub] = key_line
        out[str(key)] = _plain(value, sub, lines, file)
    return out


def _plain_list(node: list[Any], path: PathKey, lines: dict[PathKey, int], file: str) -> list[Any]:
    items = []
    for index, value in enumerate(node):
        item_line = _recorded_line(node, "item", index)
        if item_line is None:
            item_line = lines.get(path)
        sub = (*path, index)
        if item_line is not None:
            lines[sub] = item_line
        items.append(_plain(value, sub, lines, file))
    return items


def _plain_scalar(node: Any) -> Any:
    if node is None:
        return None
    for kind, _ in _SCALAR_KINDS:
        if isinstance(node, kind):
            return kind(node)  # ruamel's subclasses (ScalarFloat, ...) -> the plain type
    if isinstance(node, datetime | date):
        # An unquoted date such as 2024-01-01 is a timestamp in YAML; as a string it is
        # what the user wrote, and the schema decides whether a string fits.
        return node.isoformat()
    return node


def yaml_type(value: Any) -> str:
    """How an error names the kind of a loaded value ("a string", "a list", ...)."""
    if value is None:
        return "null"
    for kind, name in _SCALAR_KINDS:
        if isinstance(value, kind):
            return name
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def load_yaml(path: Path) -> tuple[dict[str, Any], dict[PathKey, int]]:
    """The document as plain JSON-like values, and the line of every key and list item."""
    file = str(path)
    text = _read_text(path)
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        _check_events(yaml, text, file)
        document = yaml.load(text)
    except ConfigError:
        raise
    except YAMLError as exc:
        raise _yaml_error(exc, file, text) from None
    except RecursionError:
        raise ConfigError("nested too deeply", file=file) from None
    except Exception as exc:
        # ruamel raises a few non-YAMLError types on hostile input (e.g. ValueError from a
        # constructor); none of them may escape as a traceback.
        raise ConfigError(f"cannot parse YAML: {type(exc).__name__}: {exc}", file=file) from None
    if document is None:
        raise ConfigError("file contains no settings", file=file, line=1)
    if not isinstance(document, Mapping):
        raise ConfigError(
            f"the top level must be a mapping of settings, not {yaml_type(document)}", file=file, line=1
        )
    lines: dict[PathKey, int] = {}
    plain = _plain(document, (), lines, file)
    return cast(dict[str, Any], plain), lines
