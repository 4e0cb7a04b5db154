"""package.yaml: load, validate, and turn into frozen dataclasses.

API summary::

    load_config(path: Path) -> PackageConfig           # every problem is a ConfigError
    expand(template: str, *, tag: str, arch: str, package_name: str,
           upstream_token: str | None = None) -> str   # fills {version} {tag} {arch} {debarch} {package_name}
    tag_version(tag: str) -> str                       # "v0.44.1" -> "0.44.1" (for {version})

    PackageConfig
        path, package_name, github_repo, description, synopsis, extended_description, maintainer,
        homepage, section, priority, license, epoch, depends/recommends/suggests/conflicts/breaks/
        replaces/provides (tuples of relation strings), architecture_mode ("manual"|"list"|"all"),
        architectures (tuple[ArchSpec, ...], the configured ones; empty for "all"),
        debian_distributions (tuple[str, ...] | None), prefer_musl, ignore_assets, checksums
        (ChecksumSpec), assets_dir (str | None, a template relative to the config's folder),
        compression ("xz"|"gzip"|"zstd")
        .arch_specs(arches=None, *, tag=None) -> tuple[ArchSpec, ...]   # expanded when tag given
        .suites(override=None) -> tuple[Suite, ...]
        .configured_arches() -> tuple[str, ...]
        .relation_fields() -> dict[str, str]            # {"Depends": "a, b | c", ...}
        .control_description() -> str                   # Description field value, policy-formatted
        .resolve_assets_dir(tag: str) -> Path | None
        .debian_version(tag, build_version, suite) -> str  # versioning.debian_version + epoch
        .line_of(field: str) -> int | None              # where a dotted field sits in the file
    ArchSpec
        arch, upstream_token, asset, release_pattern, binary_paths, binary_rename, binary_renames,
        bundle, bundle_root, install (InstallSpec), line; .auto (no asset and no pattern: discover);
        .expand(*, tag, package_name) -> ArchSpec; .installed_name(found_basename, count) -> str
    InstallSpec: man, bash_completion, zsh_completion, fish_completion, docs (tuples of globs)
    ChecksumSpec: files, hashes_order, required

Field paths in errors are dotted with list indexes in brackets: ``architectures.amd64.asset``,
``install.man[1]``. Lines are 1-based; whole-file problems (size, encoding, empty) have no field.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, cast

import jsonschema
from jsonschema.exceptions import ValidationError
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

from multiarch import suites as suite_table
from multiarch import versioning
from multiarch.errors import ConfigError
from multiarch.suites import ArchInfo, Suite

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schemas" / "package.schema.json"

MAX_FILE_BYTES = 1024 * 1024
# A real config uses a handful of anchors for shared defaults; a "billion laughs" needs many
# aliases or a huge expansion. Both limits are far above honest use.
MAX_ALIASES = 64
MAX_EXPANDED_NODES = 20_000
MAX_DEPTH = 32
MAX_SYNOPSIS = 80  # lintian warns above this, and default packages must be lintian-clean

PLACEHOLDERS = ("version", "tag", "arch", "debarch", "package_name")
_ASSET_PLACEHOLDERS = (*PLACEHOLDERS, "asset")

ArchitectureMode = Literal["manual", "list", "all"]
PathKey = tuple[str | int, ...]

# Debian archive sections (policy 2.4), so a typo gets a hint instead of a lintian warning later.
_SECTIONS_TEXT = (
    "admin cli-mono comm database debian-installer debug devel doc editors education electronics "
    "embedded fonts games gnome gnu-r gnustep graphics hamradio haskell httpd interpreters "
    "introspection java javascript kde kernel libdevel libs lisp localization mail math metapackages "
    "misc net news ocaml oldlibs otherosfs perl php python ruby rust science shells sound tasks tex "
    "text utils vcs video web x11 xfce zope"
)
SECTIONS = tuple(_SECTIONS_TEXT.split())

_PKG = r"[a-z0-9][a-z0-9+.-]+"
_RELATION = re.compile(
    rf"^{_PKG}(?::[a-z0-9-]+)?"
    r"(?:\s*\(\s*(?P<op><<|<=|=|>=|>>)\s*(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*\s*\))?"
    r"(?:\s*\[\s*!?[a-z0-9-]+(?:\s+!?[a-z0-9-]+)*\s*\])?"
    r"(?:\s*<\s*!?[a-z0-9.-]+(?:\s+!?[a-z0-9.-]+)*\s*>)*$"
)
# Policy 7.1: alternatives only make sense where something must be satisfied.
_RELATION_FIELDS = {
    "depends": ("Depends", True),
    "recommends": ("Recommends", True),
    "suggests": ("Suggests", True),
    "conflicts": ("Conflicts", False),
    "breaks": ("Breaks", False),
    "replaces": ("Replaces", False),
    "provides": ("Provides", False),
}
_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_+-]+$")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class InstallSpec:
    """Extra files to take from the archive (globs relative to the archive root)."""

    man: tuple[str, ...] = ()
    bash_completion: tuple[str, ...] = ()
    zsh_completion: tuple[str, ...] = ()
    fish_completion: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not any(dataclasses.astuple(self))

    def map(self, fn: Callable[[str], str]) -> InstallSpec:
        return InstallSpec(
            **{f.name: tuple(fn(p) for p in getattr(self, f.name)) for f in dataclasses.fields(self)}
        )


@dataclass(frozen=True)
class ChecksumSpec:
    """Release assets that hold checksums; ``{asset}`` names the asset being verified."""

    files: tuple[str, ...] = ()
    hashes_order: str | None = None
    required: bool = False


@dataclass(frozen=True)
class ArchSpec:
    """Everything the builder needs to know about one Debian architecture.

    Paths are globs relative to the extracted archive's root. An empty ``binary_paths`` means
    "every ELF executable in the archive". ``auto`` specs carry no asset name: discovery
    picks one by the arch's upstream tokens.
    """

    arch: str
    upstream_token: str
    asset: str | None
    release_pattern: str | None
    binary_paths: tuple[str, ...]
    binary_rename: str | None
    binary_renames: tuple[tuple[str, str], ...]
    bundle: bool
    bundle_root: str | None
    install: InstallSpec
    line: int | None = None

    @property
    def auto(self) -> bool:
        """True when discovery must find the asset (no ``asset`` and no ``release_pattern``)."""
        return self.asset is None and self.release_pattern is None

    def expand(self, *, tag: str, package_name: str) -> ArchSpec:
        def fill(template: str) -> str:
            return expand(
                template,
                tag=tag,
                arch=self.arch,
                package_name=package_name,
                upstream_token=self.upstream_token,
            )

        def fill_opt(template: str | None) -> str | None:
            return None if template is None else fill(template)

        return dataclasses.replace(
            self,
            asset=fill_opt(self.asset),
            release_pattern=fill_opt(self.release_pattern),
            binary_paths=tuple(fill(p) for p in self.binary_paths),
            binary_rename=fill_opt(self.binary_rename),
            binary_renames=tuple((k, fill(v)) for k, v in self.binary_renames),
            bundle_root=fill_opt(self.bundle_root),
            install=self.install.map(fill),
        )

    def installed_name(self, found: str, count: int = 1) -> str:
        """The name under /usr/bin for a binary found as ``found`` (a base name)."""
        for source, target in self.binary_renames:
            if source == found:
                return target
        if self.binary_rename is not None and count == 1:
            return self.binary_rename
        return found


@dataclass(frozen=True)
class PackageConfig:
    """A validated package.yaml. ``description`` is the synopsis line, a newline, the body."""

    path: Path
    package_name: str
    github_repo: str | None
    description: str
    maintainer: str
    homepage: str | None
    section: str
    priority: str
    license: str | None
    epoch: int
    depends: tuple[str, ...]
    recommends: tuple[str, ...]
    suggests: tuple[str, ...]
    conflicts: tuple[str, ...]
    breaks: tuple[str, ...]
    replaces: tuple[str, ...]
    provides: tuple[str, ...]
    architecture_mode: ArchitectureMode
    architectures: tuple[ArchSpec, ...]
    defaults: ArchSpec  # top-level settings; arch "" — the template for unlisted arches
    debian_distributions: tuple[str, ...] | None
    prefer_musl: bool
    ignore_assets: tuple[str, ...]
    checksums: ChecksumSpec
    assets_dir: str | None
    compression: str
    field_lines: tuple[tuple[str, int], ...] = ()

    @property
    def synopsis(self) -> str:
        return self.description.split("\n", 1)[0].strip()

    @property
    def extended_description(self) -> str:
        _, _, rest = self.description.partition("\n")
        return rest.strip("\n")

    def line_of(self, field: str) -> int | None:
        for name, line in self.field_lines:
            if name == field:
                return line
        return None

    def configured_arches(self) -> tuple[str, ...]:
        if self.architecture_mode == "all":
            return suite_table.supported_arches()
        return tuple(spec.arch for spec in self.architectures)

    def arch_specs(
        self, arches: Sequence[str] | None = None, *, tag: str | None = None
    ) -> tuple[ArchSpec, ...]:
        """Per-arch settings, in table order; expanded when ``tag`` is given.

        ``arches`` (the CLI's ``--arch``) narrows the configured set; naming an arch the table
        does not know, or one a manual/list config leaves out, is a ConfigError.
        """
        configured = {spec.arch: spec for spec in self.architectures}
        if self.architecture_mode == "all":
            configured = {a: self._default_spec(a) for a in suite_table.supported_arches()}
        if arches is None:
            chosen = list(configured)
        else:
            chosen = []
            for name in arches:
                suite_table.get_arch(name, field="architecture")
                if name not in configured:
                    raise ConfigError(
                        f"architecture {name!r} is not configured (configured: {', '.join(configured)})",
                        file=str(self.path),
                        line=self.line_of("architectures"),
                        field="architectures",
                    )
                chosen.append(name)
        order = {a: i for i, a in enumerate(suite_table.supported_arches())}
        specs = sorted((configured[a] for a in dict.fromkeys(chosen)), key=lambda s: order[s.arch])
        if tag is None:
            return tuple(specs)
        return tuple(s.expand(tag=tag, package_name=self.package_name) for s in specs)

    def _default_spec(self, arch: str) -> ArchSpec:
        return dataclasses.replace(
            self.defaults, arch=arch, upstream_token=suite_table.get_arch(arch).primary_token
        )

    def suites(self, override: Sequence[str] | None = None) -> tuple[Suite, ...]:
        """The suites to build: ``override`` (CLI) wins over the config, which wins over the table."""
        if override is not None:
            return suite_table.resolve_suites(override, field="distributions")
        return suite_table.resolve_suites(
            self.debian_distributions,
            file=str(self.path),
            line=self.line_of("debian_distributions"),
        )

    def relation_fields(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, (control_name, _) in _RELATION_FIELDS.items():
            values: tuple[str, ...] = getattr(self, key)
            if values:
                out[control_name] = ", ".join(values)
        return out

    def control_description(self) -> str:
        """Synopsis, then the extended text with policy 5.6.13 continuation lines."""
        lines = [self.synopsis]
        for raw in self.extended_description.splitlines():
            text = raw.rstrip()
            lines.append(" ." if not text else " " + text)
        return "\n".join(lines)

    def debian_version(self, tag: str, build_version: str, suite: Suite | str | None) -> str:
        """The package version for one suite, with this config's epoch."""
        return versioning.debian_version(tag, build_version, suite, epoch=self.epoch)

    def resolve_assets_dir(self, tag: str) -> Path | None:
        if self.assets_dir is None:
            return None
        filled = expand(self.assets_dir, tag=tag, arch="", package_name=self.package_name, upstream_token="")
        return (self.path.parent / filled).resolve()


# --------------------------------------------------------------------------- placeholders


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


# --------------------------------------------------------------------------- reading


def _format_path(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_SEGMENT.match(part):
            out += ("." if out else "") + part
        else:
            out += f"[{json.dumps(part)}]"
    return out


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
            tag = getattr(event, "tag", None)
            tag_text = None if tag is None else str(getattr(tag, "value", tag))
            if tag_text is not None and tag_text not in _CORE_TAGS and tag_text != "!":
                raise ConfigError(f"YAML tag {tag_text!r} is not allowed here", file=file, line=line)
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
            line=_line_for(path, lines),
            field=_format_path(path),
        )
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        lc = getattr(node, "lc", None)
        for key, value in node.items():
            try:
                key_line: int | None = lc.key(key)[0] + 1 if lc is not None else None
            except (KeyError, TypeError, AttributeError):
                key_line = None  # merged ('<<') keys have no position of their own
            if key_line is None:
                key_line = lines.get(path)
            if not isinstance(key, str):
                raise ConfigError(
                    f"mapping keys must be strings, not {_yaml_type(key)} {key!r}",
                    file=file,
                    line=key_line,
                    field=_format_path(path) or None,
                )
            sub = (*path, str(key))
            if key_line is not None:
                lines[sub] = key_line
            out[str(key)] = _plain(value, sub, lines, file)
        return out
    if isinstance(node, list):
        items = []
        lc = getattr(node, "lc", None)
        for index, value in enumerate(node):
            try:
                item_line: int | None = lc.item(index)[0] + 1 if lc is not None else None
            except (KeyError, TypeError, AttributeError, IndexError):
                item_line = None
            sub = (*path, index)
            if item_line is None:
                item_line = lines.get(path)
            if item_line is not None:
                lines[sub] = item_line
            items.append(_plain(value, sub, lines, file))
        return items
    if node is None or isinstance(node, bool):
        return node if node is None else bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, datetime | date):
        # An unquoted date such as 2024-01-01 is a timestamp in YAML; as a string it is
        # what the user wrote, and the schema decides whether a string fits.
        return node.isoformat()
    return node


def _yaml_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _load_yaml(path: Path) -> tuple[dict[str, Any], dict[PathKey, int]]:
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
            f"the top level must be a mapping of settings, not {_yaml_type(document)}", file=file, line=1
        )
    lines: dict[PathKey, int] = {}
    plain = _plain(document, (), lines, file)
    return cast(dict[str, Any], plain), lines


# --------------------------------------------------------------------------- schema


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _line_for(path: PathKey, lines: Mapping[PathKey, int]) -> int | None:
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        path = path[:-1]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_error(error: ValidationError, lines: Mapping[PathKey, int], file: str) -> ConfigError:
    path: PathKey = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    instance = error.instance
    validator = error.validator
    message = error.message
    if validator == "additionalProperties" and isinstance(instance, Mapping):
        known = list(schema.get("properties", {}))
        extras = [k for k in instance if k not in known]
        key = sorted(extras, key=lambda k: lines.get((*path, k), 0))[0] if extras else "?"
        message = f"unknown key {key!r}"
        hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if hint:
            message += f"; did you mean {hint[0]!r}?"
        elif known:
            message += f" (allowed here: {', '.join(known)})"
        path = (*path, key)
        return ConfigError(message, file=file, line=_line_for(path, lines), field=_format_path(path) or None)
    if validator == "required":
        required: list[Any] = list(cast(Sequence[Any], error.validator_value))
        missing = str(required[0]) if required else "?"
        for name in required:
            if isinstance(instance, Mapping) and name not in instance:
                missing = str(name)
                break
        # A key missing from the top level points at the first setting, where the mapping
        # begins: an annotation without a line would not show up in the file at all.
        top = min((n for p, n in lines.items() if len(p) == 1), default=1)
        line = lines.get(path) if path else top
        return ConfigError(
            "required setting is missing", file=file, line=line, field=_format_path((*path, missing))
        )
    if validator == "propertyNames" or "propertyNames" in error.relative_schema_path:
        # jsonschema reports the offending key as the instance, with the parent's path; the
        # failing keyword is the one inside propertyNames (pattern, enum ...), not propertyNames.
        key = str(instance)
        path = (*path, key)
        message = f"{key!r} {schema.get('x-message', 'is not allowed as a key here')}"
    elif validator == "type":
        expected = schema.get("x-expected") or " or ".join(
            _TYPE_NAMES.get(t, t)
            for t in ([schema["type"]] if isinstance(schema["type"], str) else schema["type"])
        )
        message = f"must be {expected}, not {_yaml_type(instance)}"
    elif validator == "pattern" and "x-message" in schema:
        message = f"{_short(instance)} {schema['x-message']}"
    elif validator == "enum":
        options = [str(o) for o in cast(Sequence[Any], error.validator_value)]
        message = f"{_short(instance)} is not one of: {', '.join(options)}"
        if isinstance(instance, str):
            hint = difflib.get_close_matches(instance, options, n=1, cutoff=0.6)
            if hint:
                message += f"; did you mean {hint[0]!r}?"
    elif validator in ("minLength", "minItems", "minProperties") and not instance:
        message = "must not be empty"
    elif validator == "uniqueItems":
        message = "contains duplicate entries"
    elif len(message) > 200:
        message = message[:197] + "..."
    return ConfigError(message, file=file, line=_line_for(path, lines), field=_format_path(path) or None)


_TYPE_NAMES = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "null": "empty",
}


def _validate_schema(document: dict[str, Any], lines: Mapping[PathKey, int], file: str) -> None:
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


# --------------------------------------------------------------------------- semantics


class _Checker:
    """Semantic checks after the schema, with file/line/field for every error."""

    def __init__(self, file: str, lines: Mapping[PathKey, int]) -> None:
        self.file = file
        self.lines = lines

    def error(self, path: PathKey, message: str) -> ConfigError:
        return ConfigError(
            message, file=self.file, line=_line_for(path, self.lines), field=_format_path(path)
        )

    def template(self, value: str, path: PathKey, allowed: Sequence[str] = PLACEHOLDERS) -> str:
        check_template(
            value, field=_format_path(path), file=self.file, line=_line_for(path, self.lines), allowed=allowed
        )
        return value

    def paths(self, value: Any, path: PathKey) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (self.template(value, path),)
        return tuple(self.template(v, (*path, i)) for i, v in enumerate(value))

    def arch(self, name: str, path: PathKey) -> ArchInfo:
        try:
            return suite_table.get_arch(name)
        except ConfigError as exc:
            raise self.error(path, exc.detail) from None

    def relations(self, key: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        allow_alternatives = _RELATION_FIELDS[key][1]
        items: list[tuple[PathKey, str]] = (
            [((key,), value)] if isinstance(value, str) else [((key, i), v) for i, v in enumerate(value)]
        )
        out: list[str] = []
        for path, text in items:
            for relation in text.split(","):
                relation = " ".join(relation.split())
                if not relation:
                    if isinstance(value, str) and not text.strip():
                        continue
                    raise self.error(path, f"empty relation in {text!r}")
                alternatives = [a.strip() for a in relation.split("|")]
                if len(alternatives) > 1 and not allow_alternatives:
                    raise self.error(path, f"alternatives ('|') are not allowed in {key}: {relation!r}")
                for alternative in alternatives:
                    match = _RELATION.match(alternative)
                    if not match:
                        raise self.error(
                            path,
                            f"{alternative!r} is not a Debian relation (expected e.g. 'libc6 (>= 2.31)')",
                        )
                    if key == "provides" and match.group("op") not in (None, "="):
                        raise self.error(path, f"provides allows only '=' versions: {alternative!r}")
                out.append(" | ".join(alternatives))
        return tuple(out)

    def rename(self, value: Any, path: PathKey) -> tuple[str | None, tuple[tuple[str, str], ...]]:
        if value is None:
            return None, ()
        if isinstance(value, str):
            return self.template(value, path), ()
        return None, tuple((str(k), self.template(v, (*path, str(k)))) for k, v in value.items())

    def install(self, value: Any, path: PathKey) -> InstallSpec | None:
        if value is None:
            return None
        return InstallSpec(**{k: self.paths(v, (*path, k)) for k, v in value.items()})


def _arch_spec(
    checker: _Checker,
    arch: str,
    entry: Mapping[str, Any] | None,
    defaults: ArchSpec,
    path: PathKey,
) -> ArchSpec:
    info = checker.arch(arch, path)
    entry = entry or {}
    asset = checker.template(entry["asset"], (*path, "asset")) if "asset" in entry else None
    pattern = (
        checker.template(entry["release_pattern"], (*path, "release_pattern"))
        if "release_pattern" in entry
        else None
    )
    if asset is not None and pattern is not None:
        raise checker.error((*path, "release_pattern"), "give either asset or release_pattern, not both")
    if asset is None and pattern is None:
        pattern = defaults.release_pattern
    binary_paths = checker.paths(entry.get("binary_path"), (*path, "binary_path")) or defaults.binary_paths
    if "binary_rename" in entry:
        rename, renames = checker.rename(entry["binary_rename"], (*path, "binary_rename"))
        rename_path: PathKey = (*path, "binary_rename")
    else:
        rename, renames = defaults.binary_rename, defaults.binary_renames
        rename_path = ("binary_rename",)
    bundle = bool(entry["bundle"]) if "bundle" in entry else defaults.bundle
    bundle_root = (
        checker.template(entry["bundle_root"], (*path, "bundle_root"))
        if "bundle_root" in entry
        else defaults.bundle_root
    )
    install = checker.install(entry.get("install"), (*path, "install")) or defaults.install
    spec = ArchSpec(
        arch=arch,
        upstream_token=info.primary_token,
        asset=asset,
        release_pattern=pattern,
        binary_paths=binary_paths,
        binary_rename=rename,
        binary_renames=renames,
        bundle=bundle,
        bundle_root=bundle_root,
        install=install,
        line=_line_for(path, checker.lines),
    )
    _check_spec(checker, spec, rename_path, path)
    return spec


def _check_spec(checker: _Checker, spec: ArchSpec, rename_path: PathKey, path: PathKey) -> None:
    if spec.binary_rename is not None and len(spec.binary_paths) > 1:
        raise checker.error(
            rename_path,
            "a single binary_rename needs a single binary_path; use a mapping {found name: new name}",
        )
    if spec.bundle_root is not None and not spec.bundle:
        where = (*path, "bundle_root") if (*path, "bundle_root") in checker.lines else ("bundle_root",)
        raise checker.error(where, "bundle_root only applies with bundle: true")


def _defaults(checker: _Checker, doc: Mapping[str, Any]) -> ArchSpec:
    rename, renames = checker.rename(doc.get("binary_rename"), ("binary_rename",))
    spec = ArchSpec(
        arch="",
        upstream_token="",
        asset=None,
        release_pattern=(
            checker.template(doc["release_pattern"], ("release_pattern",))
            if "release_pattern" in doc
            else None
        ),
        binary_paths=checker.paths(doc.get("binary_path"), ("binary_path",)),
        binary_rename=rename,
        binary_renames=renames,
        bundle=bool(doc.get("bundle", False)),
        bundle_root=checker.template(doc["bundle_root"], ("bundle_root",)) if "bundle_root" in doc else None,
        install=checker.install(doc.get("install"), ("install",)) or InstallSpec(),
        line=None,
    )
    _check_spec(checker, spec, ("binary_rename",), ())
    return spec


def _description(checker: _Checker, text: str) -> str:
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    synopsis = lines[0].strip() if lines else ""
    if not synopsis:
        raise checker.error(("description",), "the first line (the synopsis) must not be empty")
    if len(synopsis) > MAX_SYNOPSIS:
        raise checker.error(
            ("description",),
            f"the first line (the synopsis) is {len(synopsis)} characters; keep it at most {MAX_SYNOPSIS} "
            "and put the rest on the following lines",
        )
    body = "\n".join(lines[1:]).strip("\n")
    return synopsis + ("\n" + body if body else "")


def _build(path: Path, doc: dict[str, Any], lines: Mapping[PathKey, int]) -> PackageConfig:
    file = str(path)
    checker = _Checker(file, lines)
    defaults = _defaults(checker, doc)

    raw_arches = doc.get("architectures")
    specs: list[ArchSpec] = []
    mode: ArchitectureMode
    if raw_arches is None:
        mode = "all"
    elif isinstance(raw_arches, list):
        mode = "list"
        for i, name in enumerate(raw_arches):
            info = checker.arch(name, ("architectures", i))
            specs.append(
                dataclasses.replace(
                    defaults,
                    arch=info.name,
                    upstream_token=info.primary_token,
                    line=_line_for(("architectures", i), lines),
                )
            )
    else:
        mode = "manual"
        for name, entry in raw_arches.items():
            specs.append(_arch_spec(checker, name, entry, defaults, ("architectures", name)))

    distributions: tuple[str, ...] | None = None
    if "debian_distributions" in doc:
        for i, name in enumerate(doc["debian_distributions"]):
            try:
                suite_table.get_suite(name)
            except ConfigError as exc:
                raise checker.error(("debian_distributions", i), exc.detail) from None
        distributions = tuple(doc["debian_distributions"])

    section = doc.get("section", "utils")
    base_section = section.rsplit("/", 1)[-1]
    if base_section not in SECTIONS:
        hint = difflib.get_close_matches(base_section, SECTIONS, n=1)
        raise checker.error(
            ("section",),
            f"unknown Debian section {section!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""),
        )

    compression = doc.get("compression", "xz")
    if compression != "xz" and distributions is not None:
        for i, name in enumerate(distributions):
            if not suite_table.get_suite(name).supports_compression(compression):
                raise checker.error(
                    ("compression",),
                    f"{name}'s dpkg cannot read {compression}-compressed packages "
                    f"(debian_distributions[{i}]); use xz or drop {name}",
                )

    checks = doc.get("checksums") or {}
    checksum_files: tuple[str, ...] = ()
    raw_files = checks.get("files")
    if raw_files is not None:
        items = [raw_files] if isinstance(raw_files, str) else list(raw_files)
        checksum_files = tuple(
            checker.template(
                v,
                ("checksums", "files") if isinstance(raw_files, str) else ("checksums", "files", i),
                _ASSET_PLACEHOLDERS,
            )
            for i, v in enumerate(items)
        )
    checksums = ChecksumSpec(
        files=checksum_files,
        hashes_order=(
            checker.template(checks["hashes_order"], ("checksums", "hashes_order"))
            if "hashes_order" in checks
            else None
        ),
        required=bool(checks.get("required", False)),
    )

    source = doc.get("source") or {}
    assets_dir = (
        checker.template(source["assets_dir"], ("source", "assets_dir")) if "assets_dir" in source else None
    )

    relations = {key: checker.relations(key, doc.get(key)) for key in _RELATION_FIELDS}
    repo = doc.get("github_repo")
    homepage = doc.get("homepage") or (f"https://github.com/{repo}" if repo else None)

    return PackageConfig(
        path=path,
        package_name=doc["package_name"],
        github_repo=repo,
        description=_description(checker, doc["description"]),
        maintainer=doc["maintainer"],
        homepage=homepage,
        section=section,
        priority=doc.get("priority", "optional"),
        license=doc.get("license"),
        epoch=int(doc.get("epoch", 0)),
        depends=relations["depends"],
        recommends=relations["recommends"],
        suggests=relations["suggests"],
        conflicts=relations["conflicts"],
        breaks=relations["breaks"],
        replaces=relations["replaces"],
        provides=relations["provides"],
        architecture_mode=mode,
        architectures=tuple(specs),
        defaults=defaults,
        debian_distributions=distributions,
        prefer_musl=bool(doc.get("prefer_musl", False)),
        ignore_assets=tuple(
            checker.template(v, ("ignore_assets", i)) for i, v in enumerate(doc.get("ignore_assets", ()))
        ),
        checksums=checksums,
        assets_dir=assets_dir,
        compression=compression,
        field_lines=tuple((_format_path(p), n) for p, n in lines.items()),
    )


def load_config(path: Path | str) -> PackageConfig:
    """Load ``package.yaml``. Raises only ConfigError (with file, and line/field when known)."""
    path = Path(path)
    doc, lines = _load_yaml(path)
    _validate_schema(doc, lines, str(path))
    return _build(path, doc, lines)
