"""Naming a place in package.yaml: key paths, their dotted form, and the line they sit on.

A path is the chain of mapping keys and list indexes from the top of the document, e.g.
``("architectures", "amd64", "asset")`` or ``("install", "man", 1)``. Errors name it dotted,
with list indexes and unusual keys in brackets: ``architectures.amd64.asset``, ``install.man[1]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final

PathKey = tuple[str | int, ...]

# Keys of package.yaml that more than one module of this package names.
ARCHITECTURES_KEY: Final = "architectures"
DISTRIBUTIONS_KEY: Final = "debian_distributions"

# Errors about the builder's overrides (``--arch``, ``--distributions``) name the action input
# each comes from, so the annotation points at the workflow's setting, not at package.yaml.
ARCH_OVERRIDE_FIELD: Final = "architecture"
SUITE_OVERRIDE_FIELD: Final = "distributions"

_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_+-]+$")


def format_path(path: PathKey) -> str:
    """The dotted name of ``path`` ("" for the document itself)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_SEGMENT.match(part):
            out += ("." if out else "") + part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def line_for(path: PathKey, lines: Mapping[PathKey, int]) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        path = path[:-1]
