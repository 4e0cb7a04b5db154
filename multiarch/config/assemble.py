"""A schema-valid document -> PackageConfig, phase by phase, checking what the schema cannot.

The phases run in a fixed order (arch defaults, architectures, suites, section, compression,
checksums, source, relations, description, ignored assets, lintian overrides), so of several problems the same
one is always reported first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from multiarch import suites as suite_table
from multiarch.config.checks import Checker
from multiarch.config.fields import ARCHITECTURES_KEY, DISTRIBUTIONS_KEY, PathKey, format_path, line_for
from multiarch.config.model import (
    RELATION_FIELDS,
    ArchitectureMode,
    ArchSpec,
    ChecksumSpec,
    InstallSpec,
    PackageConfig,
)
from multiarch.config.templates import ASSET_PLACEHOLDERS


def _arch_spec(
    checker: Checker,
    arch: str,
    entry: Mapping[str, Any] | None,
    defaults: ArchSpec,
    path: PathKey,
) -> ArchSpec:
    """One entry of the mapping form of ``architectures``; what it leaves out comes from ``defaults``."""
    info = checker.arch(arch, path)
    entry = entry or {}
    asset = checker.template_in(entry, "asset", path)
    pattern = checker.template_in(entry, "release_pattern", path)
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
    bundle_root = checker.template_in(entry, "bundle_root", path, defaults.bundle_root)
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
        line=line_for(path, checker.lines),
    )
    _check_spec(checker, spec, rename_path, path)
    return spec


def _check_spec(checker: Checker, spec: ArchSpec, rename_path: PathKey, path: PathKey) -> None:
    if spec.binary_rename is not None and len(spec.binary_paths) > 1:
        raise checker.error(
            rename_path,
            "a single binary_rename needs a single binary_path; use a mapping {found name: new name}",
        )
    if spec.bundle_root is not None and not spec.bundle:
        where = (*path, "bundle_root") if (*path, "bundle_root") in checker.lines else ("bundle_root",)
        raise checker.error(where, "bundle_root only applies with bundle: true")


def _defaults(checker: Checker, doc: Mapping[str, Any]) -> ArchSpec:
    """The top-level arch settings: the template every architecture starts from."""
    rename, renames = checker.rename(doc.get("binary_rename"), ("binary_rename",))
    spec = ArchSpec(
        arch="",
        upstream_token="",
        asset=None,
        release_pattern=checker.template_in(doc, "release_pattern", ()),
        binary_paths=checker.paths(doc.get("binary_path"), ("binary_path",)),
        binary_rename=rename,
        binary_renames=renames,
        bundle=bool(doc.get("bundle", False)),
        bundle_root=checker.template_in(doc, "bundle_root", ()),
        install=checker.install(doc.get("install"), ("install",)) or InstallSpec(),
        line=None,
    )
    _check_spec(checker, spec, ("binary_rename",), ())
    return spec


def _architectures(
    checker: Checker, raw: Any, defaults: ArchSpec
) -> tuple[ArchitectureMode, tuple[ArchSpec, ...]]:
    """``architectures``: absent (every arch), a list of names, or a mapping name -> settings."""
    if raw is None:
        return "all", ()
    if isinstance(raw, list):
        specs: list[ArchSpec] = []
        for i, name in enumerate(raw):
            path: PathKey = (ARCHITECTURES_KEY, i)
            info = checker.arch(name, path)
            line = line_for(path, checker.lines)
            specs.append(
                dataclasses.replace(defaults, arch=info.name, upstream_token=info.primary_token, line=line)
            )
        return "list", tuple(specs)
    return "manual", tuple(
        _arch_spec(checker, name, entry, defaults, (ARCHITECTURES_KEY, name)) for name, entry in raw.items()
    )


def _distributions(checker: Checker, doc: Mapping[str, Any]) -> tuple[str, ...] | None:
    if DISTRIBUTIONS_KEY not in doc:
        return None
    for i, name in enumerate(doc[DISTRIBUTIONS_KEY]):
        checker.suite(name, (DISTRIBUTIONS_KEY, i))
    return tuple(doc[DISTRIBUTIONS_KEY])


def _compression(checker: Checker, doc: Mapping[str, Any], distributions: tuple[str, ...] | None) -> str:
    """The package compression, which every chosen suite's dpkg must be able to read."""
    compression: str = doc.get("compression", "xz")
    if compression != "xz" and distributions is not None:
        for i, name in enumerate(distributions):
            if not suite_table.get_suite(name).supports_compression(compression):
                raise checker.error(
                    ("compression",),
                    f"{name}'s dpkg cannot read {compression}-compressed packages "
                    f"({DISTRIBUTIONS_KEY}[{i}]); use xz or drop {name}",
                )
    return compression


def _checksums(checker: Checker, doc: Mapping[str, Any]) -> ChecksumSpec:
    checks = doc.get("checksums") or {}
    raw_files = checks.get("files")
    files: tuple[str, ...] = ()
    if isinstance(raw_files, str):
        files = (checker.template(raw_files, ("checksums", "files"), ASSET_PLACEHOLDERS),)
    elif raw_files is not None:
        files = tuple(
            checker.template(v, ("checksums", "files", i), ASSET_PLACEHOLDERS)
            for i, v in enumerate(raw_files)
        )
    return ChecksumSpec(
        files=files,
        hashes_order=checker.template_in(checks, "hashes_order", ("checksums",)),
        required=bool(checks.get("required", False)),
    )


def build_config(path: Path, doc: dict[str, Any], lines: Mapping[PathKey, int]) -> PackageConfig:
    """The PackageConfig for a document that passed the schema; ConfigError for what else is wrong."""
    checker = Checker(str(path), lines)
    defaults = _defaults(checker, doc)
    mode, specs = _architectures(checker, doc.get(ARCHITECTURES_KEY), defaults)
    distributions = _distributions(checker, doc)
    section = checker.section(doc.get("section", "utils"))
    compression = _compression(checker, doc, distributions)
    checksums = _checksums(checker, doc)
    assets_dir = checker.template_in(doc.get("source") or {}, "assets_dir", ("source",))
    relations = {key: checker.relations(key, doc.get(key)) for key in RELATION_FIELDS}
    description = checker.description(doc["description"], doc["package_name"])
    ignore_assets = tuple(
        checker.template(v, ("ignore_assets", i)) for i, v in enumerate(doc.get("ignore_assets", ()))
    )
    overrides = checker.lintian_overrides(doc.get("lintian_overrides"), doc["package_name"])
    repo = doc.get("github_repo")
    return PackageConfig(
        path=path,
        package_name=doc["package_name"],
        github_repo=repo,
        description=description,
        maintainer=doc["maintainer"],
        homepage=doc.get("homepage") or (f"https://github.com/{repo}" if repo else None),
        section=section,
        priority=doc.get("priority", "optional"),
        license=doc.get("license"),
        epoch=int(doc.get("epoch", 0)),
        architecture_mode=mode,
        architectures=specs,
        defaults=defaults,
        debian_distributions=distributions,
        prefer_musl=bool(doc.get("prefer_musl", False)),
        ignore_assets=ignore_assets,
        checksums=checksums,
        assets_dir=assets_dir,
        compression=compression,
        field_lines=tuple((format_path(p), n) for p, n in lines.items()),
        lintian_overrides=overrides,
        notes=tuple(checker.notes),
        **relations,  # the relation keys of package.yaml are also the field names
    )
