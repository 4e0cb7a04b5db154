"""Payload staging: which files of an extracted release go where in the package.

Default mode: the executables go to ``/usr/bin``. They are the files matched by the
``binary_path`` globs (renamed by ``binary_rename``), or, without globs, every ELF executable in
the archive. ``install`` adds man pages (gzipped -9n into ``/usr/share/man/manN``), shell
completions (bash: ``/usr/share/bash-completion/completions/<cmd>``, zsh:
``/usr/share/zsh/vendor-completions/_<cmd>``, fish: ``/usr/share/fish/vendor_completions.d/<cmd>.fish``)
and docs (``/usr/share/doc/<package>/``, gzipped above 4 KiB as dh_compress does).

Bundle mode keeps the upstream tree intact under ``/usr/lib/<package>`` (programs that find
their runtime files relative to themselves, like neovim) and symlinks its executables into
``/usr/bin`` with relative links.

Every ELF file that ends up in the package is checked against the target architecture
(``elf.verify_arch``), modes are normalised (0755 for executables and directories, 0644 for
everything else; the tar writer makes every owner root:root), and md5 sums are computed once here
so the suites that share this payload do not hash it again.

Globs match whole paths relative to the archive root: ``*`` and ``?`` stay within one path
component, ``**`` spans any number, ``[...]`` is a character class. A leading ``./`` is ignored.

API summary::

    stage_payload(extraction, spec, *, package, arch, asset="") -> StagedPayload
    StagedPayload(entries, md5, binaries, commands, manpages)
    glob_match(pattern, path) -> bool
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from multiarch.debian import gzip_n
from multiarch.debwriter import DataEntry
from multiarch.elf import ArchTarget, ElfInfo, read_elf, verify_arch
from multiarch.errors import PackagingError
from multiarch.extract import ExtractedEntry, Extraction

DOC_COMPRESS_THRESHOLD = 4096
_SHARED_LIB = re.compile(r"\.so(\.[0-9]+)*$")
_MAN_NAME = re.compile(r"^(?P<name>.+)\.(?P<section>[1-9][a-z0-9]*)(?P<gz>\.gz)?$")


class InstallLike(Protocol):
    @property
    def man(self) -> tuple[str, ...]: ...
    @property
    def bash_completion(self) -> tuple[str, ...]: ...
    @property
    def zsh_completion(self) -> tuple[str, ...]: ...
    @property
    def fish_completion(self) -> tuple[str, ...]: ...
    @property
    def docs(self) -> tuple[str, ...]: ...


class StageSpec(Protocol):
    """The parts of ``config.ArchSpec`` (already expanded for the tag) that staging reads."""

    @property
    def binary_paths(self) -> tuple[str, ...]: ...
    @property
    def bundle(self) -> bool: ...
    @property
    def bundle_root(self) -> str | None: ...
    @property
    def install(self) -> InstallLike: ...

    def installed_name(self, found: str, count: int = 1) -> str: ...


@dataclass(frozen=True)
class StagedBinary:
    path: str  # where it is installed (usr/bin/uv, usr/lib/neovim/bin/nvim)
    source: str  # path inside the archive
    elf: ElfInfo | None  # None for scripts


@dataclass(frozen=True)
class StagedPayload:
    """The upstream part of a package, shared by every suite built for one arch."""

    entries: tuple[DataEntry, ...]
    md5: tuple[tuple[str, str], ...]  # (package path, md5 hex) for every regular file
    binaries: tuple[StagedBinary, ...]  # ELF objects and scripts that were checked/installed
    commands: tuple[str, ...]  # names under /usr/bin
    manpages: tuple[str, ...]  # "name.section" of the man pages shipped

    def md5_map(self) -> dict[str, str]:
        return dict(self.md5)

    def elf_infos(self) -> tuple[ElfInfo, ...]:
        return tuple(b.elf for b in self.binaries if b.elf is not None)


@functools.lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    pattern = pattern.removeprefix("./")
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(c))
                i += 1
                continue
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out))


def glob_match(pattern: str, path: str) -> bool:
    return _glob_regex(pattern).fullmatch(path.removeprefix("./")) is not None


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


class _Builder:
    def __init__(self, extraction: Extraction, package: str, arch: ArchTarget, asset: str) -> None:
        self.x = extraction
        self.package = package
        self.arch = arch
        self.asset = asset or extraction.asset
        self.by_path = {e.path: e for e in extraction.entries}
        self.entries: dict[str, DataEntry] = {}
        self.md5: dict[str, str] = {}
        self.binaries: list[StagedBinary] = []
        self.commands: list[str] = []
        self.manpages: list[str] = []

    # -- helpers

    def fail(self, message: str) -> PackagingError:
        return PackagingError(f"{self.asset}: {message}")

    def resolve(self, rel: str) -> ExtractedEntry:
        """Follow symlinks inside the extraction to the regular file they name."""
        seen = 0
        entry = self.by_path.get(rel)
        while entry is not None and entry.kind == "symlink" and seen < 32:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), entry.link_target))
            entry = self.by_path.get(target)
            seen += 1
        if entry is None or entry.kind != "file":
            raise self.fail(f"{rel} is not a regular file (or a link to one) in the archive")
        return entry

    def matches(self, pattern: str, *, field: str, kinds: tuple[str, ...] = ("file", "symlink")) -> list[str]:
        found = [e.path for e in self.x.entries if e.kind in kinds and glob_match(pattern, e.path)]
        if not found:
            sample = ", ".join(e.path for e in self.x.files()[:8])
            raise self.fail(
                f"{field} {pattern!r} matches nothing in the archive (it holds: {sample or 'no files'})"
            )
        return sorted(found)

    def add_file(self, dest: str, source_rel: str, mode: int) -> None:
        if dest in self.entries:
            raise self.fail(f"two files would be installed as /{dest}")
        entry = self.resolve(source_rel)
        src = self.x.root / entry.path
        self.entries[dest] = DataEntry.file(dest, src, mode)
        self.md5[dest] = _md5(src)

    def add_blob(self, dest: str, data: bytes, mode: int = 0o644) -> None:
        if dest in self.entries:
            raise self.fail(f"two files would be installed as /{dest}")
        self.entries[dest] = DataEntry.blob(dest, data, mode)
        self.md5[dest] = hashlib.md5(data, usedforsecurity=False).hexdigest()

    def check_elf(self, rel: str, dest: str, *, require_executable: bool) -> ElfInfo | None:
        entry = self.resolve(rel)
        info = read_elf(self.x.root / entry.path)
        if info is None:
            if require_executable:
                with open(self.x.root / entry.path, "rb") as fh:
                    if fh.read(2) != b"#!":
                        raise self.fail(f"{rel} is neither an ELF executable nor a script")
            return None
        verify_arch(info, self.arch, path=rel, asset=self.asset)
        if require_executable and not info.is_executable:
            raise self.fail(f"{rel} is an ELF shared object, not an executable")
        self.binaries.append(StagedBinary(path=dest, source=rel, elf=info))
        return info

    def elf_executables(self, under: str = "") -> list[str]:
        found = []
        prefix = under + "/" if under else ""
        for entry in self.x.files():
            if not entry.path.startswith(prefix) or _SHARED_LIB.search(entry.path):
                continue
            info = read_elf(self.x.root / entry.path)
            if info is not None and info.is_executable:
                found.append(entry.path)
        return found

    # -- default mode

    def stage_binaries(self, spec: StageSpec) -> None:
        if spec.binary_paths:
            chosen: list[str] = []
            for pattern in spec.binary_paths:
                chosen.extend(p for p in self.matches(pattern, field="binary_path") if p not in chosen)
        else:
            chosen = self.elf_executables()
            if not chosen:
                raise self.fail("no ELF executable found in the archive; set binary_path")
        names = [posixpath.basename(p) for p in chosen]
        for rel, base in zip(chosen, names, strict=True):
            name = spec.installed_name(base, len(chosen))
            if "/" in name or name in ("", ".", ".."):
                raise self.fail(f"invalid installed name {name!r} for {rel}")
            dest = f"usr/bin/{name}"
            self.check_elf(rel, dest, require_executable=True)
            self.add_file(dest, rel, 0o755)
            self.commands.append(name)

    # -- bundle mode

    def bundle_root(self, spec: StageSpec) -> str:
        if spec.bundle_root:
            dirs = self.matches(spec.bundle_root, field="bundle_root", kinds=("dir",))
            if len(dirs) > 1:
                raise self.fail(
                    f"bundle_root {spec.bundle_root!r} matches several directories: {', '.join(dirs)}"
                )
            return dirs[0]
        tops = {e.path.split("/", 1)[0] for e in self.x.entries}
        if len(tops) == 1:
            only = next(iter(tops))
            if self.by_path.get(only, ExtractedEntry(only, "file")).kind == "dir":
                return only
        return ""

    def stage_bundle(self, spec: StageSpec) -> None:
        root = self.bundle_root(spec)
        prefix = root + "/" if root else ""
        base = f"usr/lib/{self.package}"
        for entry in self.x.entries:
            if root and not entry.path.startswith(prefix):
                continue
            rel = entry.path[len(prefix) :]
            dest = f"{base}/{rel}"
            if entry.kind == "dir":
                self.entries[dest] = DataEntry.directory(dest)
            elif entry.kind == "symlink":
                target = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), entry.link_target))
                if root and not (target == root or target.startswith(prefix)):
                    raise self.fail(
                        f"{entry.path}: symlink to {entry.link_target!r} leaves the bundle root {root}"
                    )
                self.entries[dest] = DataEntry.symlink(dest, entry.link_target)
            else:
                info = self.check_elf(entry.path, dest, require_executable=False)
                executable = bool(entry.mode & 0o111) and not _SHARED_LIB.search(entry.path)
                if info is not None and info.is_executable and not _SHARED_LIB.search(entry.path):
                    executable = True
                self.add_file(dest, entry.path, 0o755 if executable else 0o644)
        if spec.binary_paths:
            chosen: list[str] = []
            for pattern in spec.binary_paths:
                chosen.extend(p for p in self.matches(pattern, field="binary_path") if p not in chosen)
        else:
            chosen = self.elf_executables(root + "/bin" if root else "bin") or self.elf_executables(root)
            if not chosen:
                raise self.fail("no ELF executable found in the bundle; set binary_path")
        for rel in chosen:
            if root and not rel.startswith(prefix):
                raise self.fail(f"binary_path match {rel} is outside the bundle root {root}")
            name = spec.installed_name(posixpath.basename(rel), len(chosen))
            link = f"usr/bin/{name}"
            if link in self.entries:
                raise self.fail(f"two executables would be linked as /{link}")
            inside = f"{base}/{rel[len(prefix) :]}"
            staged = self.entries.get(inside)
            if staged is None or staged.kind == "dir" or (staged.kind == "file" and not staged.mode & 0o111):
                raise self.fail(f"{rel} is not an executable file in the bundle")
            # Relative, so the package works under any root (lintian: symlink-should-be-relative).
            self.entries[link] = DataEntry.symlink(link, posixpath.relpath(inside, "usr/bin"))
            self.commands.append(name)

    # -- install entries

    def stage_install(self, install: InstallLike) -> None:
        for pattern in install.man:
            for rel in self.matches(pattern, field="install.man"):
                base = posixpath.basename(rel)
                m = _MAN_NAME.match(base)
                if m is None:
                    raise self.fail(f"install.man: cannot tell the manual section of {rel}")
                data = (self.x.root / self.resolve(rel).path).read_bytes()
                if m.group("gz"):
                    data = gzip.decompress(data)
                section = m.group("section")
                dest = f"usr/share/man/man{section[0]}/{m.group('name')}.{section}.gz"
                self.add_blob(dest, gzip_n(data))
                self.manpages.append(f"{m.group('name')}.{section}")
        for pattern in install.bash_completion:
            for rel in self.matches(pattern, field="install.bash_completion"):
                name = _strip_suffix(posixpath.basename(rel), (".bash", ".bash-completion", ".sh"))
                self.add_file(f"usr/share/bash-completion/completions/{name}", rel, 0o644)
        for pattern in install.zsh_completion:
            for rel in self.matches(pattern, field="install.zsh_completion"):
                name = _strip_suffix(posixpath.basename(rel), (".zsh",))
                self.add_file(
                    f"usr/share/zsh/vendor-completions/{'' if name.startswith('_') else '_'}{name}",
                    rel,
                    0o644,
                )
        for pattern in install.fish_completion:
            for rel in self.matches(pattern, field="install.fish_completion"):
                name = _strip_suffix(posixpath.basename(rel), (".fish",))
                self.add_file(f"usr/share/fish/vendor_completions.d/{name}.fish", rel, 0o644)
        for pattern in install.docs:
            for rel in self.matches(pattern, field="install.docs"):
                base = posixpath.basename(rel)
                entry = self.resolve(rel)
                dest = f"usr/share/doc/{self.package}/{base}"
                if entry.size > DOC_COMPRESS_THRESHOLD and not base.endswith((".gz", ".html", ".pdf")):
                    self.add_blob(dest + ".gz", gzip_n((self.x.root / entry.path).read_bytes()))
                else:
                    self.add_file(dest, rel, 0o644)

    def result(self) -> StagedPayload:
        ordered = tuple(sorted(self.entries.values(), key=lambda e: e.path))
        return StagedPayload(
            entries=ordered,
            md5=tuple(sorted(self.md5.items())),
            binaries=tuple(self.binaries),
            commands=tuple(self.commands),
            manpages=tuple(self.manpages),
        )


def _strip_suffix(name: str, suffixes: Sequence[str]) -> str:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def stage_payload(
    extraction: Extraction, spec: StageSpec, *, package: str, arch: ArchTarget, asset: str = ""
) -> StagedPayload:
    """Decide the package layout of one extracted asset; checks every ELF file's architecture."""
    builder = _Builder(extraction, package, arch, asset)
    if spec.bundle:
        builder.stage_bundle(spec)
    else:
        builder.stage_binaries(spec)
    builder.stage_install(spec.install)
    return builder.result()
