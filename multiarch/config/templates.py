"""Placeholders in package.yaml patterns and paths: checking a template and filling it in."""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Sequence

from multiarch import suites as suite_table
from multiarch.errors import ConfigError

PLACEHOLDERS = ("version", "tag", "arch", "debarch", "package_name")
# Checksum file names may also name the asset being verified.
ASSET_PLACEHOLDERS = (*PLACEHOLDERS, "asset")


def tag_version(tag: str) -> str:
    """The tag with any leading non-digits removed: what ``{version}`` means in asset names."""
    match = re.search(r"[0-9]", tag)
    return tag[match.start() :] if match else tag


def _template_fields(template: str) -> list[str]:
    """Names used in ``template``; ValueError for broken brace syntax."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(f"placeholder {{{name}}} must not have a format spec or conversion")
        names.append(name)
    return names


def check_template(
    template: str,
    *,
    field: str,
    file: str | None = None,
    line: int | None = None,
    allowed: Sequence[str] = PLACEHOLDERS,
) -> None:
    """Raise ConfigError if ``template`` uses an unknown placeholder or has stray braces."""
    try:
        names = _template_fields(template)
    except ValueError as exc:
        raise ConfigError(
            f"{exc} in {template!r}; write {{{{ and }}}} for literal braces",
            file=file,
            line=line,
            field=field,
        ) from None
    for name in names:
        if name not in allowed:
            hint = difflib.get_close_matches(name, allowed, n=1)
            msg = f"unknown placeholder {{{name}}} in {template!r}"
            if hint:
                msg += f"; did you mean {{{hint[0]}}}?"
            msg += f" (known: {', '.join('{' + a + '}' for a in allowed)})"
            raise ConfigError(msg, file=file, line=line, field=field)


def expand(
    template: str,
    *,
    tag: str,
    arch: str,
    package_name: str,
    upstream_token: str | None = None,
    asset: str | None = None,
) -> str:
    """Fill a pattern or path.

    ``{arch}`` is ``upstream_token`` (default: the arch table's primary token for ``arch``,
    e.g. amd64 -> x86_64); ``{debarch}`` is the Debian name itself. ``{asset}`` is only
    available where an asset name is known (checksum file names).
    """
    if upstream_token is None:
        upstream_token = suite_table.get_arch(arch).primary_token if arch else ""
    values = {
        "version": tag_version(tag),
        "tag": tag,
        "arch": upstream_token,
        "debarch": arch,
        "package_name": package_name,
    }
    if asset is not None:
        values["asset"] = asset
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        raise ConfigError(f"cannot expand {template!r}: {exc}", field=None) from None
