"""The validated package.yaml as frozen dataclasses, and what the builder asks of it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from multiarch import suites as suite_table
from multiarch import versioning
from multiarch.config.fields import (
    ARCH_OVERRIDE_FIELD,
    ARCHITECTURES_KEY,
    DISTRIBUTIONS_KEY,
    SUITE_OVERRIDE_FIELD,
)
from multiarch.config.templates import expand
from multiarch.debian import wrap_extended
from multiarch.errors import ConfigError
from multiarch.suites import Suite

ArchitectureMode = Literal["manual", "list", "all"]

# package.yaml key -> (control field, whether alternatives ('|') are allowed). Policy 7.1:
# alternatives only make sense where something must be satisfied.
RELATION_FIELDS = {
    "depends": ("Depends", True),
    "recommends": ("Recommends", True),
    "suggests": ("Suggests", True),
    "conflicts": ("Conflicts", False),
    "breaks": ("Breaks", False),
    "replaces": ("Replaces", False),
    "provides": ("Provides", False),
}


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
    # package.yaml's lintian_overrides: ("tag [context]" without the package prefix, reason).
    lintian_overrides: tuple[tuple[str, str], ...] = ()
    # What loading changed on the user's behalf (e.g. a synopsis article dropped), for the log.
    notes: tuple[str, ...] = ()

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
                suite_table.get_arch(name, field=ARCH_OVERRIDE_FIELD)
                if name not in configured:
                    raise ConfigError(
                        f"architecture {name!r} is not configured (configured: {', '.join(configured)})",
                        file=str(self.path),
                        line=self.line_of(ARCHITECTURES_KEY),
                        field=ARCHITECTURES_KEY,
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
            return suite_table.resolve_suites(override, field=SUITE_OVERRIDE_FIELD)
        return suite_table.resolve_suites(
            self.debian_distributions,
            file=str(self.path),
            line=self.line_of(DISTRIBUTIONS_KEY),
        )

    def relation_fields(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, (control_name, _) in RELATION_FIELDS.items():
            values: tuple[str, ...] = getattr(self, key)
            if values:
                out[control_name] = ", ".join(values)
        return out

    def control_description(self) -> str:
        """Synopsis, then the extended text with policy 5.6.13 continuation lines."""
        lines = [self.synopsis]
        for raw in wrap_extended(self.extended_description).splitlines():
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
