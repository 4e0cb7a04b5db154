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

Modules: ``model`` (the dataclasses), ``yaml_loader`` (safe reading with line numbers),
``messages`` (schema validation and its messages), ``checks`` and ``assemble`` (what the schema
cannot check, and building the model), ``templates`` (placeholders), ``fields`` (field paths).

Field paths in errors are dotted with list indexes in brackets: ``architectures.amd64.asset``,
``install.man[1]``. Lines are 1-based; whole-file problems (size, encoding, empty) have no field.
"""

from __future__ import annotations

from pathlib import Path

from multiarch.config.assemble import build_config
from multiarch.config.checks import MAX_SYNOPSIS, SECTIONS
from multiarch.config.fields import PathKey
from multiarch.config.messages import SCHEMA_FILE, validate_schema
from multiarch.config.model import ArchitectureMode, ArchSpec, ChecksumSpec, InstallSpec, PackageConfig
from multiarch.config.templates import PLACEHOLDERS, check_template, expand, tag_version
from multiarch.config.yaml_loader import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    MAX_FILE_BYTES,
    load_yaml,
)

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "MAX_FILE_BYTES",
    "MAX_SYNOPSIS",
    "PLACEHOLDERS",
    "SCHEMA_FILE",
    "SECTIONS",
    "ArchSpec",
    "ArchitectureMode",
    "ChecksumSpec",
    "InstallSpec",
    "PackageConfig",
    "PathKey",
    "check_template",
    "expand",
    "load_config",
    "tag_version",
]


def load_config(path: Path | str) -> PackageConfig:
    """Load ``package.yaml``. Raises only ConfigError (with file, and line/field when known)."""
    path = Path(path)
    doc, lines = load_yaml(path)
    validate_schema(doc, lines, str(path))
    return build_config(path, doc, lines)
