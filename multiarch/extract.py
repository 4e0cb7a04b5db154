"""Safe extraction of release assets.

Release archives come from the internet, so extraction treats every entry as hostile. Nothing
may land outside the extraction root, and every check is explicit here rather than delegated to
``tarfile``'s filters (whose behaviour has changed between Python releases):

- names: no absolute paths, no ``..`` components, no NUL bytes (zip backslashes count as ``/``);
- no writing through a symlink: every parent directory of an entry is ``lstat``-checked, and
  files are opened with ``O_NOFOLLOW``, so a link planted earlier in the same archive cannot
  redirect a later entry;
- symlinks must stay inside the root (lexically when created, and by ``realpath`` once the whole
  tree exists, which catches chains like ``d/b -> ..`` + ``a -> d/b/..``); hardlinks may only
  point at regular files extracted earlier from the same archive;
- device nodes, FIFOs and sparse files are refused; setuid/setgid/sticky bits are dropped;
- duplicate entries: the later one replaces an earlier file or link (tar's semantics), but a
  directory never silently changes type;
- decompression bombs: limits on entry count, total size and compression ratio, enforced while
  streaming (not only from declared sizes, which can lie).

Unsafe entries raise ``SecurityError``; truncated, corrupt or mislabelled archives raise
``PackagingError``; both name the asset and the entry.

The archive kind comes from the asset's own name or its first bytes (``discovery.detect_kind``;
the bytes win when they disagree): tar.gz/tgz, tar.xz, tar.bz2, tar.zst, plain tar, zip, a
single compressed file (.gz/.xz/.bz2/.zst) and bare binaries.

API summary::

    extract_asset(asset_path, dest, *, asset_name=None, limits=ExtractLimits()) -> Extraction
    Extraction(asset, kind, root, entries: tuple[ExtractedEntry, ...], total_bytes)
    ExtractLimits(max_total_bytes, max_entries, max_ratio, ratio_grace_bytes)
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import lzma
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final, Literal

import zstandard

from multiarch.discovery import ArchiveKind, detect_kind
from multiarch.errors import PackagingError, ResourceError, SecurityError

EntryKind = Literal["file", "dir", "symlink"]

_COPY_CHUNK: Final = 1 << 20
_STREAM_BUFFER: Final = 64 * 1024
_HEAD_BYTES: Final = 4096
_MAX_LINK_TARGET: Final = 4096


@dataclass(frozen=True)
class ExtractLimits:
    """Bounds against decompression bombs. A real release archive is far inside all of them
    (uv: 7 files, 36 MB, ratio ~3; neovim: ~1,500 files, ~30 MB)."""

    max_total_bytes: int = 2 * 1024**3
    max_entries: int = 100_000
    # Executables compress 3-5x, text 10x; 200x is only reached by crafted or padding-only data.
    max_ratio: float = 200.0
    # Below this much output the ratio is not checked: a tiny tarball of zero-filled files
    # legitimately has a huge ratio and cannot hurt anyone.
    ratio_grace_bytes: int = 8 * 1024 * 1024


@dataclass(frozen=True)
class ExtractedEntry:
    path: str  # relative POSIX path under the root
    kind: EntryKind
    size: int = 0
    mode: int = 0o644  # sanitised permission bits (no setuid/setgid/sticky)
    link_target: str = ""


@dataclass(frozen=True)
class Extraction:
    asset: str
    kind: ArchiveKind
    root: Path
    entries: tuple[ExtractedEntry, ...]
    total_bytes: int

    def files(self) -> tuple[ExtractedEntry, ...]:
        return tuple(e for e in self.entries if e.kind == "file")


class _Budget:
    """Counts bytes in (compressed) and out (decompressed) and enforces the limits."""

    def __init__(self, asset: str, limits: ExtractLimits, compressed_size: int) -> None:
        self.asset = asset
        self.limits = limits
        self.compressed_size = max(1, compressed_size)
        self.stream_out = 0  # decompressed bytes seen (tar headers and padding included)
        self.content = 0  # bytes written to files
        self.entries = 0
        self.entry = ""

    def bomb(self, why: str) -> SecurityError:
        where = f"{self.asset}: {self.entry}" if self.entry else self.asset
        return SecurityError(
            f"{where}: refusing to extract: {why} (possible decompression bomb)",
            remediation=(
                "Check that the release asset is the expected archive.",
                "If it is genuinely this large, raise the extraction limits.",
            ),
        )

    def count_entry(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise self.bomb(f"more than {self.limits.max_entries} entries")

    def declare(self, size: int) -> None:
        if size < 0 or self.content + size > self.limits.max_total_bytes:
            raise self.bomb(f"contents exceed {self.limits.max_total_bytes} bytes")

    def wrote(self, n: int) -> None:
        self.content += n
        if self.content > self.limits.max_total_bytes:
            raise self.bomb(f"contents exceed {self.limits.max_total_bytes} bytes")

    def produced(self, n: int) -> None:
        self.stream_out += n
        # Tar headers and padding add at most ~1 KiB per entry on top of the contents.
        if self.stream_out > self.limits.max_total_bytes + 1024 * (self.entries + 16):
            raise self.bomb(f"archive stream exceeds {self.limits.max_total_bytes} bytes")
        if (
            self.stream_out > self.limits.ratio_grace_bytes
            and self.stream_out / self.compressed_size > self.limits.max_ratio
        ):
            raise self.bomb(f"compression ratio above {self.limits.max_ratio:g}")


class _MeteredReader(io.RawIOBase):
    """A decompressed stream that reports every byte it yields to the budget."""

    def __init__(self, inner: IO[bytes], budget: _Budget) -> None:
        self._inner = inner
        self._budget = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._budget.produced(n)
        return n


@dataclass
class _State:
    asset: str
    root: Path
    budget: _Budget
    entries: dict[str, ExtractedEntry] = field(default_factory=dict)

    def where(self, name: str) -> str:
        return f"{self.asset}: {name}"


# --------------------------------------------------------------------------- path checks


def _relpath(state: _State, name: str, *, zip_name: bool = False) -> str:
    """The normalised relative path of an archive entry ("" for the root); raises on escapes."""
    if "\0" in name:
        raise SecurityError(f"{state.where(name)!r}: entry name contains a NUL byte")
    if zip_name:
        # Zip files written on Windows may use backslashes as separators.
        name = name.replace("\\", "/")
        if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
            raise SecurityError(f"{state.where(name)}: absolute (drive-letter) path in archive")
    if name.startswith("/"):
        raise SecurityError(f"{state.where(name)}: absolute path in archive")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise SecurityError(f"{state.where(name)}: path with '..' escapes the extraction root")
    return "/".join(parts)


def _ensure_parents(state: _State, rel: str, name: str) -> Path:
    """Create the parent directories of ``rel``; refuse to go through symlinks. Returns the parent."""
    current = state.root
    parts = rel.split("/")[:-1]
    for i, part in enumerate(parts):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current, 0o755)
            sub = "/".join(parts[: i + 1])
            state.entries.setdefault(sub, ExtractedEntry(path=sub, kind="dir", mode=0o755))
            continue
        if stat.S_ISLNK(st.st_mode):
            raise SecurityError(
                f"{state.where(name)}: would be written through the symlink "
                f"{'/'.join(parts[: i + 1])!r} planted earlier in the archive"
            )
        if not stat.S_ISDIR(st.st_mode):
            raise PackagingError(
                f"{state.where(name)}: {'/'.join(parts[: i + 1])!r} is a file in the archive, not a directory"
            )
    return current


def _clear_final(state: _State, target: Path, name: str, new_kind: EntryKind) -> bool:
    """Make room for a duplicate entry. Returns True if a directory already exists there."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        if new_kind == "dir":
            return True
        raise PackagingError(f"{state.where(name)}: a {new_kind} entry replaces a directory of the same name")
    if new_kind == "dir" and stat.S_ISLNK(st.st_mode):
        raise SecurityError(f"{state.where(name)}: directory entry collides with a symlink planted earlier")
    if new_kind == "dir":
        raise PackagingError(f"{state.where(name)}: directory entry collides with a file of the same name")
    # A later duplicate file or link wins, as with tar; unlinking first means we never write
    # through a symlink that the earlier duplicate left here.
    os.unlink(target)
    return False


def _check_link_target(state: _State, rel: str, target: str, name: str) -> None:
    if not target or "\0" in target or len(target) > _MAX_LINK_TARGET:
        raise SecurityError(f"{state.where(name)}: invalid symlink target {target!r}")
    if target.startswith("/"):
        raise SecurityError(f"{state.where(name)}: absolute symlink to {target!r} leaves the extraction root")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    if joined == ".." or joined.startswith("../"):
        raise SecurityError(f"{state.where(name)}: symlink to {target!r} escapes the extraction root")


def _inside(root_real: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real + os.sep)


# --------------------------------------------------------------------------- entry writers


def _sanitise_mode(mode: int) -> int:
    # No setuid/setgid/sticky, no group/other write; the owner can always read and write.
    return (mode & 0o755) | 0o600


def _add_dir(state: _State, rel: str, name: str) -> None:
    if not rel:
        return
    _ensure_parents(state, rel, name)
    target = state.root / rel
    if not _clear_final(state, target, name, "dir"):
        os.mkdir(target, 0o755)
    state.entries[rel] = ExtractedEntry(path=rel, kind="dir", mode=0o755)


def _add_file(state: _State, rel: str, name: str, mode: int, size: int | None, src: IO[bytes]) -> None:
    if not rel:
        raise PackagingError(f"{state.where(name)}: a file entry without a name")
    if size is not None:
        state.budget.declare(size)
    _ensure_parents(state, rel, name)
    target = state.root / rel
    _clear_final(state, target, name, "file")
    clean_mode = _sanitise_mode(mode)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    written = 0
    with os.fdopen(fd, "wb") as out:
        while True:
            block = src.read(_COPY_CHUNK)
            if not block:
                break
            state.budget.wrote(len(block))
            written += len(block)
            out.write(block)
    if size is not None and written != size:
        raise PackagingError(f"{state.where(name)}: truncated entry ({written} of {size} bytes)")
    os.chmod(target, clean_mode)
    state.entries[rel] = ExtractedEntry(path=rel, kind="file", size=written, mode=clean_mode)


def _add_symlink(state: _State, rel: str, name: str, target: str) -> None:
    if not rel:
        raise SecurityError(f"{state.where(name)}: a symlink in place of the extraction root")
    _check_link_target(state, rel, target, name)
    parent = _ensure_parents(state, rel, name)
    path = state.root / rel
    _clear_final(state, path, name, "symlink")
    os.symlink(target, path)
    if not _inside(str(os.path.realpath(state.root)), str(parent / target)):
        os.unlink(path)
        raise SecurityError(
            f"{state.where(name)}: symlink to {target!r} resolves outside the extraction root"
        )
    state.entries[rel] = ExtractedEntry(path=rel, kind="symlink", mode=0o777, link_target=target)


def _add_hardlink(state: _State, rel: str, name: str, link_name: str) -> None:
    if not rel:
        raise SecurityError(f"{state.where(name)}: a hardlink in place of the extraction root")
    try:
        target_rel = _relpath(state, link_name)
    except SecurityError as exc:
        raise SecurityError(
            f"{state.where(name)}: hardlink to {link_name!r} escapes the extraction root"
        ) from exc
    existing = state.entries.get(target_rel)
    if existing is None or existing.kind != "file":
        raise SecurityError(
            f"{state.where(name)}: hardlink to {link_name!r}, which is not a regular file extracted "
            "earlier from this archive"
        )
    if target_rel == rel:
        return
    _ensure_parents(state, rel, name)
    path = state.root / rel
    _clear_final(state, path, name, "file")
    os.link(state.root / target_rel, path, follow_symlinks=False)
    state.entries[rel] = ExtractedEntry(path=rel, kind="file", size=existing.size, mode=existing.mode)


# --------------------------------------------------------------------------- formats


def _tar_members(state: _State, stream: IO[bytes]) -> None:
    # Small read-ahead, so a truncation surfaces while its entry is being read (and is named).
    with tarfile.open(fileobj=stream, mode="r|", bufsize=_STREAM_BUFFER) as tf:
        for member in tf:
            state.budget.entry = member.name
            state.budget.count_entry()
            rel = _relpath(state, member.name)
            if member.issparse():
                raise PackagingError(f"{state.where(member.name)}: sparse files are not supported")
            if member.isdir():
                _add_dir(state, rel, member.name)
            elif member.isreg():
                src = tf.extractfile(member)
                if src is None:  # pragma: no cover - isreg() members always have data
                    raise PackagingError(f"{state.where(member.name)}: unreadable entry")
                _add_file(state, rel, member.name, member.mode, member.size, src)
            elif member.issym():
                _add_symlink(state, rel, member.name, member.linkname)
            elif member.islnk():
                _add_hardlink(state, rel, member.name, member.linkname)
            elif member.ischr() or member.isblk():
                raise SecurityError(f"{state.where(member.name)}: device node in a release archive")
            elif member.isfifo():
                raise SecurityError(f"{state.where(member.name)}: FIFO in a release archive")
            else:
                raise SecurityError(f"{state.where(member.name)}: unsupported tar entry type {member.type!r}")


def _zip_members(state: _State, path: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > state.budget.limits.max_entries:
            state.budget.entries = len(infos)
            raise state.budget.bomb(f"{len(infos)} entries (limit {state.budget.limits.max_entries})")
        declared = sum(i.file_size for i in infos)
        state.budget.declare(declared)
        for info in infos:
            state.budget.entry = info.filename
            state.budget.count_entry()
            lim = state.budget.limits
            if info.file_size > lim.ratio_grace_bytes and info.file_size > lim.max_ratio * max(
                1, info.compress_size
            ):
                raise state.budget.bomb(f"entry compression ratio above {lim.max_ratio:g}")
            rel = _relpath(state, info.filename, zip_name=True)
            unix_mode = (info.external_attr >> 16) & 0xFFFF if info.create_system == 3 else 0
            ftype = stat.S_IFMT(unix_mode)
            if info.flag_bits & 0x1:
                raise PackagingError(f"{state.where(info.filename)}: encrypted zip entries are not supported")
            if info.is_dir() or ftype == stat.S_IFDIR:
                _add_dir(state, rel, info.filename)
            elif ftype == stat.S_IFLNK:
                if info.file_size > _MAX_LINK_TARGET:
                    raise SecurityError(f"{state.where(info.filename)}: oversized symlink target")
                target = zf.read(info).decode("utf-8", "surrogateescape")
                _add_symlink(state, rel, info.filename, target)
            elif ftype in (0, stat.S_IFREG):
                mode = unix_mode & 0o7777 if unix_mode else 0o644
                with zf.open(info) as src:
                    _add_file(state, rel, info.filename, mode, info.file_size, _metered(src, state.budget))
            else:
                raise SecurityError(
                    f"{state.where(info.filename)}: special file (mode {oct(unix_mode)}) in a zip"
                )


def _metered(src: IO[bytes], budget: _Budget) -> io.BufferedReader:
    return io.BufferedReader(_MeteredReader(src, budget), buffer_size=_STREAM_BUFFER)


def _decompressor(kind: ArchiveKind, raw: IO[bytes]) -> IO[bytes]:
    if kind in (ArchiveKind.TAR_GZ, ArchiveKind.GZIP):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if kind in (ArchiveKind.TAR_XZ, ArchiveKind.XZ):
        return lzma.LZMAFile(raw, mode="rb")
    if kind in (ArchiveKind.TAR_BZ2, ArchiveKind.BZIP2):
        return bz2.BZ2File(raw, mode="rb")
    if kind in (ArchiveKind.TAR_ZST, ArchiveKind.ZSTD):
        # read_across_frames: a multi-frame .zst is one file, as the zstd CLI treats it.
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return raw


_SINGLE_SUFFIXES: Final = (".gz", ".xz", ".bz2", ".zst", ".zstd")


def _single_file_name(asset: str) -> str:
    base = posixpath.basename(asset)
    lower = base.lower()
    for suffix in _SINGLE_SUFFIXES:
        if lower.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base


def _looks_executable(head: bytes) -> bool:
    return head.startswith(b"\x7fELF") or head.startswith(b"#!")


_CORRUPT: Final[tuple[type[BaseException], ...]] = (
    tarfile.TarError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zstandard.ZstdError,
    UnicodeError,
    gzip.BadGzipFile,
)


def extract_asset(
    asset_path: Path,
    dest: Path,
    *,
    asset_name: str | None = None,
    limits: ExtractLimits | None = None,
) -> Extraction:
    """Extract one downloaded asset into ``dest`` (created; must not exist or be empty)."""
    asset_path = Path(asset_path)
    asset = asset_name or asset_path.name
    limits = limits or ExtractLimits()
    base = posixpath.basename(asset)
    if base in ("", ".", "..") or "\0" in base:
        raise SecurityError(f"{asset!r}: unusable asset name")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise PackagingError(f"{asset}: extraction directory {dest} is not empty")
    try:
        size = asset_path.stat().st_size
        with open(asset_path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise PackagingError(f"{asset}: cannot read downloaded asset: {exc}") from exc
    kind = detect_kind(asset, head)
    if kind is ArchiveKind.UNKNOWN:
        raise PackagingError(
            f"{asset}: not a recognised archive or executable (first bytes {head[:8]!r}); "
            "the asset may be mislabelled or an error page",
        )
    state = _State(asset=asset, root=dest, budget=_Budget(asset, limits, size))
    try:
        _extract_kind(state, kind, asset_path, head)
        _verify_links(state)
    except (SecurityError, PackagingError):
        raise
    except _CORRUPT as exc:
        entry = state.budget.entry
        where = f"{asset}: {entry}" if entry else asset
        raise PackagingError(f"{where}: truncated or corrupt {kind.value} archive ({exc})") from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ResourceError(f"{asset}: no space left while extracting: {exc}") from exc
        entry = state.budget.entry
        where = f"{asset}: {entry}" if entry else asset
        raise PackagingError(f"{where}: cannot extract ({exc})") from exc
    entries = tuple(sorted(state.entries.values(), key=lambda e: e.path))
    return Extraction(asset=asset, kind=kind, root=dest, entries=entries, total_bytes=state.budget.content)


def _extract_kind(state: _State, kind: ArchiveKind, asset_path: Path, head: bytes) -> None:
    if kind is ArchiveKind.ZIP:
        _zip_members(state, asset_path)
        return
    with open(asset_path, "rb") as raw:
        if kind.is_tar:
            stream = _metered(_decompressor(kind, raw), state.budget)
            _tar_members(state, stream)
            return
        name = _single_file_name(state.asset)
        state.budget.entry = name
        state.budget.count_entry()
        rel = _relpath(state, name)
        if kind is ArchiveKind.BINARY:
            mode = 0o755 if _looks_executable(head) else 0o644
            _add_file(state, rel, name, mode, None, _metered(raw, state.budget))
            return
        src = _metered(_decompressor(kind, raw), state.budget)
        first = src.peek(4)[:4]
        mode = 0o755 if _looks_executable(first) else 0o644
        _add_file(state, rel, name, mode, None, src)


def _verify_links(state: _State) -> None:
    """Every symlink must still resolve inside the root now that the whole tree exists."""
    root_real = str(os.path.realpath(state.root))
    for entry in state.entries.values():
        if entry.kind == "symlink" and not _inside(root_real, str(state.root / entry.path)):
            raise SecurityError(
                f"{state.where(entry.path)}: symlink to {entry.link_target!r} resolves outside the "
                "extraction root through other links in the archive"
            )
