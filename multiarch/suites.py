"""The one authoritative suite × architecture table.

API summary (everything returns frozen dataclasses; unknown names raise ``ConfigError``
with a "did you mean" hint)::

    get_suite(name: str, *, field: str | None = None) -> Suite
    get_arch(name: str, *, field: str | None = None) -> ArchInfo
    supported_arches() -> tuple[str, ...]        # every Debian arch the builder targets
    all_suites() -> tuple[Suite, ...]            # oldest first: bullseye … sid
    default_suites() -> tuple[Suite, ...]        # what a config without debian_distributions gets
    resolve_suites(names: Sequence[str] | None, *, field=..., file=..., line=...) -> tuple[Suite, ...]
    suites_for_arch(arch: str) -> tuple[Suite, ...]
    arch_for_token(token: str) -> ArchInfo | None  # exact, case-insensitive upstream token lookup
    load_table(path: Path | None = None) -> SuiteTable   # a validated table from another file
    default_table() -> SuiteTable                # the bundled table, loaded once

    Suite: name, version, version_suffix ("+deb12"), dpkg_version, deb_compressors,
           default, architectures, note, order; supports_arch(a), supports_compression(c),
           dpkg_reads_zstd
    ArchInfo: name, elf_class (32|64), endianness ("little"|"big"), e_machine,
              arm_float_abi ("hard"|"soft"|None), gnu_triplet, multiarch_tuple, qemu_user,
              upstream_tokens (most specific first), primary_token (what ``{arch}`` expands to),
              elf_ei_class (1|2), elf_ei_data (1|2)

The data lives in ``multiarch/data/suites.json`` and is validated against
``schemas/suites.schema.json`` plus cross-checks a schema cannot express (every suite
architecture exists, tokens are unambiguous, version suffixes sort in suite order under
Debian's version comparison).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, cast

import jsonschema
from debian.debian_support import version_compare

from contracts.schema_files import schema_path
from multiarch.errors import ConfigError

_HERE = Path(__file__).resolve().parent
DATA_FILE = _HERE / "data" / "suites.json"
SCHEMA_FILE = schema_path("suites.schema.json")

Endianness = Literal["little", "big"]
FloatAbi = Literal["hard", "soft"]

# The word for an architecture in messages and in the ``field`` of their errors (not the
# failure category of the same spelling).
ARCHITECTURE_WORD: Final = "architecture"


@dataclass(frozen=True)
class ArchInfo:
    """A Debian architecture: how its binaries look and how upstreams name it."""

    name: str
    elf_class: int
    endianness: Endianness
    e_machine: int
    arm_float_abi: FloatAbi | None
    gnu_triplet: str
    multiarch_tuple: str
    qemu_user: str
    upstream_tokens: tuple[str, ...]

    @property
    def primary_token(self) -> str:
        """The token ``{arch}`` expands to (Rust/GNU style: x86_64, aarch64, …)."""
        return self.upstream_tokens[0]

    @property
    def elf_ei_class(self) -> int:
        """The ELF header's EI_CLASS byte: 1 = ELFCLASS32, 2 = ELFCLASS64."""
        return 1 if self.elf_class == 32 else 2

    @property
    def elf_ei_data(self) -> int:
        """The ELF header's EI_DATA byte: 1 = little-endian, 2 = big-endian."""
        return 1 if self.endianness == "little" else 2


@dataclass(frozen=True)
class Suite:
    """A Debian suite and what its dpkg can do."""

    name: str
    version: str
    version_suffix: str
    dpkg_version: str
    deb_compressors: tuple[str, ...]
    default: bool
    architectures: tuple[str, ...]
    note: str
    order: int  # 0 = oldest; suffixes sort in this order

    def supports_arch(self, arch: str) -> bool:
        return arch in self.architectures

    def supports_compression(self, compression: str) -> bool:
        return compression in self.deb_compressors

    @property
    def dpkg_reads_zstd(self) -> bool:
        return "zstd" in self.deb_compressors


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    known = list(known)
    hint = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    msg = f"unknown {kind} {name!r}"
    if hint:
        msg += f"; did you mean {hint[0]!r}?"
    return msg + f" (known: {', '.join(known)})"


_Named = TypeVar("_Named", Suite, ArchInfo)


def _named(
    items: Sequence[_Named], name: str, kind: str, *, file: str | None, line: int | None, field: str | None
) -> _Named:
    """The item called ``name``, or a configuration error that lists the known names."""
    for item in items:
        if item.name == name:
            return item
    raise ConfigError(_unknown(kind, str(name), [i.name for i in items]), file=file, line=line, field=field)


@dataclass(frozen=True)
class SuiteTable:
    """A validated table; lookups are by name, order is the file's (oldest suite first)."""

    suites: tuple[Suite, ...]
    arches: tuple[ArchInfo, ...]
    source: str

    def suite_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.suites)

    def supported_arches(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arches)

    def get_suite(
        self, name: str, *, field: str | None = None, file: str | None = None, line: int | None = None
    ) -> Suite:
        return _named(self.suites, name, "suite", file=file, line=line, field=field)

    def get_arch(
        self, name: str, *, field: str | None = None, file: str | None = None, line: int | None = None
    ) -> ArchInfo:
        return _named(self.arches, name, ARCHITECTURE_WORD, file=file, line=line, field=field)

    def default_suites(self) -> tuple[Suite, ...]:
        return tuple(s for s in self.suites if s.default)

    def suites_for_arch(self, arch: str) -> tuple[Suite, ...]:
        return tuple(s for s in self.suites if arch in s.architectures)

    def arch_for_token(self, token: str) -> ArchInfo | None:
        wanted = token.lower()
        for arch in self.arches:
            if wanted in (t.lower() for t in arch.upstream_tokens):
                return arch
        return None

    def resolve_suites(
        self,
        names: Sequence[str] | None,
        *,
        field: str | None = "debian_distributions",
        file: str | None = None,
        line: int | None = None,
    ) -> tuple[Suite, ...]:
        """Suites for ``names`` (or the defaults for None), deduplicated, oldest first."""
        if names is None:
            return self.default_suites()
        wanted = {self.get_suite(n, field=field, file=file, line=line).name for n in names}
        return tuple(s for s in self.suites if s.name in wanted)


def _schema_errors(document: Any, schema_path: Path, file: str) -> None:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or None
        raise ConfigError(f"suite table does not match its schema: {first.message}", file=file, field=where)


def _cross_check(table: SuiteTable) -> None:
    """Invariants the JSON Schema cannot express."""
    file = table.source
    arch_names = table.supported_arches()
    for kind, names in (("suite", table.suite_names()), (ARCHITECTURE_WORD, arch_names)):
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"duplicate {kind} names: {', '.join(dupes)}", file=file)
    for i, suite in enumerate(table.suites):
        for arch in suite.architectures:
            if arch not in arch_names:
                raise ConfigError(
                    _unknown(ARCHITECTURE_WORD, arch, arch_names),
                    file=file,
                    field=f"suites.{i}.architectures",
                )
    # A token claimed by two arches would make discovery's answer depend on lookup order.
    seen: dict[str, str] = {}
    for info in table.arches:
        for token in info.upstream_tokens:
            other = seen.setdefault(token.lower(), info.name)
            if other != info.name:
                raise ConfigError(
                    f"upstream token {token!r} is claimed by both {other} and {info.name}", file=file
                )
    # The whole point of per-suite suffixes: the same release must upgrade cleanly from an
    # older suite's build to a newer one's. Check with Debian's own comparison algorithm.
    for older, newer in zip(table.suites, table.suites[1:], strict=False):
        a, b = f"1.0-1{older.version_suffix}", f"1.0-1{newer.version_suffix}"
        if version_compare(a, b) >= 0:
            raise ConfigError(
                f"version suffix of {newer.name!r} ({newer.version_suffix}) must sort above "
                f"{older.name!r} ({older.version_suffix})",
                file=file,
                field="suites",
            )


def load_table(path: Path | None = None, *, schema_path: Path = SCHEMA_FILE) -> SuiteTable:
    """Load and validate a suite table (the bundled one by default)."""
    path = path or DATA_FILE
    file = str(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read suite table: {exc}", file=file) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"suite table is not valid JSON: {exc.msg}", file=file, line=exc.lineno) from exc
    _schema_errors(document, schema_path, file)
    doc = cast(dict[str, Any], document)
    # The schema has checked every row, and its keys are the dataclasses' field names.
    suites = tuple(_from_row(Suite, s, note=s.get("note", ""), order=i) for i, s in enumerate(doc["suites"]))
    arches = tuple(_from_row(ArchInfo, a) for a in doc["architectures"])
    table = SuiteTable(suites=suites, arches=arches, source=file)
    _cross_check(table)
    return table


_Row = TypeVar("_Row", Suite, ArchInfo)


def _from_row(cls: type[_Row], row: Mapping[str, Any], **given: object) -> _Row:
    """A table row as its dataclass: each field from the key of its name, JSON lists as tuples."""
    values: dict[str, object] = {}
    for item in dataclasses.fields(cls):
        value = given[item.name] if item.name in given else row[item.name]
        values[item.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)  # type: ignore[arg-type]


@functools.cache
def default_table() -> SuiteTable:
    """The bundled table. Cached: the result is immutable, so sharing it is safe."""
    return load_table()


def get_suite(name: str, *, field: str | None = None) -> Suite:
    return default_table().get_suite(name, field=field)


def get_arch(name: str, *, field: str | None = None) -> ArchInfo:
    return default_table().get_arch(name, field=field)


def supported_arches() -> tuple[str, ...]:
    return default_table().supported_arches()


def all_suites() -> tuple[Suite, ...]:
    return default_table().suites


def default_suites() -> tuple[Suite, ...]:
    return default_table().default_suites()


def suites_for_arch(arch: str) -> tuple[Suite, ...]:
    return default_table().suites_for_arch(arch)


def arch_for_token(token: str) -> ArchInfo | None:
    return default_table().arch_for_token(token)


def resolve_suites(
    names: Sequence[str] | None,
    *,
    field: str | None = "debian_distributions",
    file: str | None = None,
    line: int | None = None,
) -> tuple[Suite, ...]:
    return default_table().resolve_suites(names, field=field, file=file, line=line)
