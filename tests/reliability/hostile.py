"""Hostile release archives, generated in memory.

Each case is a small archive that a careless extractor would let write outside its extraction
root, or that tries to exhaust disk/memory, or that is simply broken. The cases are built per
test from a *sandbox* layout, because absolute-path and link attacks must aim at a real place
the test can scan afterwards::

    sandbox/
      victim.txt           an existing file outside the root (hardlink / overwrite target)
      outside/             an existing directory outside the root (write-through target)
      deep/root/           the extraction root handed to the extractor

Relative attacks climb ``../../..`` from an entry inside ``pkg/`` so they land in ``sandbox/``
(inside the area the test scans) rather than somewhere unknown on the machine.

Nothing here touches the disk except ``HostileCase.write``; all archives are built in memory.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import random
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Category = Literal["security", "packaging"]

# Fixed mtime so generated archives are byte-identical between runs (easier to bisect a failure).
MTIME = 1_700_000_000
VICTIM_TEXT = b"original victim content\n"
PAYLOAD = b"#!/bin/sh\necho pwned\n"


@dataclass(frozen=True)
class Sandbox:
    base: Path

    @property
    def root(self) -> Path:
        return self.base / "deep" / "root"

    @property
    def victim(self) -> Path:
        return self.base / "victim.txt"

    @property
    def outside(self) -> Path:
        return self.base / "outside"

    @classmethod
    def create(cls, base: Path) -> Sandbox:
        box = cls(base)
        box.root.mkdir(parents=True)
        box.outside.mkdir()
        box.victim.write_bytes(VICTIM_TEXT)
        return box

    def snapshot(self) -> dict[str, tuple[int, int, int]]:
        """Every path under the sandbox except the extraction root, with (mode, size, nlink).

        lstat, so a planted symlink shows up as itself; the root's own subtree is the
        extractor's business and is checked separately.
        """
        seen: dict[str, tuple[int, int, int]] = {}
        root = str(self.root)
        for dirpath, dirnames, filenames in os.walk(self.base, followlinks=False):
            if dirpath == root or dirpath.startswith(root + os.sep):
                dirnames[:] = []
                continue
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                if path == root:
                    continue
                st = os.lstat(path)
                seen[os.path.relpath(path, self.base)] = (st.st_mode, st.st_size, st.st_nlink)
        return seen


@dataclass(frozen=True)
class HostileCase:
    kind: str
    asset_name: str
    data: bytes
    expect: tuple[Category, ...]  # acceptable failure categories, the preferred one first
    entry: str | None  # the entry the error message must name (None: whole-archive problems)
    # Also acceptable instead of an error: extraction succeeds, nothing escapes and the
    # dangerous property is gone (e.g. setuid bits stripped). Name of the check, or None.
    may_sanitise: str | None = None

    def write(self, folder: Path) -> Path:
        path = folder / self.asset_name
        path.write_bytes(self.data)
        return path


# --------------------------------------------------------------------------- tar helpers


def _info(name: str, *, kind: bytes = tarfile.REGTYPE, size: int = 0, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = mode
    info.mtime = MTIME
    info.uname = info.gname = "root"
    return info


TarMember = tuple[tarfile.TarInfo, bytes | None]


def _file(name: str, data: bytes = PAYLOAD, mode: int = 0o755) -> TarMember:
    return _info(name, size=len(data), mode=mode), data


def _dir(name: str) -> TarMember:
    return _info(name, kind=tarfile.DIRTYPE, mode=0o755), None


def _symlink(name: str, target: str) -> TarMember:
    info = _info(name, kind=tarfile.SYMTYPE, mode=0o777)
    info.linkname = target
    return info, None


def _hardlink(name: str, target: str) -> TarMember:
    info = _info(name, kind=tarfile.LNKTYPE)
    info.linkname = target
    return info, None


def _device(name: str, kind: bytes, major: int = 1, minor: int = 3) -> TarMember:
    info = _info(name, kind=kind, mode=0o666)
    info.devmajor, info.devminor = major, minor
    return info, None


def tar_bytes(members: list[TarMember], compression: str = "gz", fmt: int = tarfile.GNU_FORMAT) -> bytes:
    """An archive of exactly these members, in this order (duplicates and all)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return compress(raw.getvalue(), compression)


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gz":
        return gzip.compress(data, mtime=MTIME)
    if compression == "xz":
        return lzma.compress(data)
    if compression == "bz2":
        return bz2.compress(data)
    if compression == "":
        return data
    raise ValueError(compression)


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, streamed, so a bomb's payload never sits in memory whole."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def tar_gz_bomb(name: str, expanded: int) -> bytes:
    """One member of ``expanded`` zero bytes, gzip'd (deflate tops out near 1000:1 on zeros)."""
    out = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=out, mode="wb", mtime=MTIME, compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        tar.addfile(_info(name, size=expanded), _Zeros(expanded))
    return out.getvalue()


def tar_declared_huge(name: str, declared: int) -> bytes:
    """A header that announces ``declared`` bytes, followed by a few real ones: an extractor
    must refuse from the header, before it writes (or allocates) anything of that size."""
    header = _info(name, size=declared).tobuf(format=tarfile.GNU_FORMAT)
    return gzip.compress(header + bytes(4096), mtime=MTIME)


# --------------------------------------------------------------------------- zip helpers


ZipMember = tuple[zipfile.ZipInfo, bytes]


def _zinfo(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2023, 11, 14, 22, 13, 20))
    info.create_system = 3  # Unix: external_attr's high word is st_mode
    info.external_attr = (mode & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _zfile(name: str, data: bytes = PAYLOAD, mode: int = 0o100755) -> ZipMember:
    return _zinfo(name, mode), data


def _zsymlink(name: str, target: str) -> ZipMember:
    # Info-ZIP's convention: a symlink is an entry with S_IFLNK whose content is the target.
    return _zinfo(name, stat.S_IFLNK | 0o777), target.encode()


def zip_bytes(members: list[ZipMember]) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        for info, data in members:
            if archive.NameToInfo.get(info.filename) is not None:
                # zipfile warns on duplicates but writes them; that is exactly the case we want.
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    archive.writestr(info, data)
            else:
                archive.writestr(info, data)
    return raw.getvalue()


def zip_bomb(name: str, expanded: int) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        info = _zinfo(name, 0o100644)
        with archive.open(info, "w", force_zip64=expanded > 0x7FFFFFFF) as sink:
            chunk = bytes(1 << 20)
            left = expanded
            while left > 0:
                n = min(left, len(chunk))
                sink.write(chunk[:n])
                left -= n
    return raw.getvalue()


def zip_size_lie(name: str, real: int, declared: int) -> bytes:
    """Local and central headers claim ``declared`` bytes; the deflate stream holds ``real``.

    Patching both headers by hand is the trick behind "zip bombs that lie": an extractor that
    trusts ``file_size`` for its size checks must still stop at the real output."""
    data = zip_bytes([(_zinfo(name, 0o100644), bytes(real))])
    real_le = real.to_bytes(4, "little")
    declared_le = declared.to_bytes(4, "little")
    # The uncompressed size sits at offset 22 of the local header and 24 of the central header;
    # both carry the same 4 bytes, so replace every occurrence next to the name's header fields.
    patched = bytearray(data)
    local = patched.find(b"PK\x03\x04")
    central = patched.find(b"PK\x01\x02")
    assert patched[local + 22 : local + 26] == real_le
    assert patched[central + 24 : central + 28] == real_le
    patched[local + 22 : local + 26] = declared_le
    patched[central + 24 : central + 28] = declared_le
    return bytes(patched)


# --------------------------------------------------------------------------- the catalogue


def _tool() -> TarMember:
    # Every archive carries an honest executable too, so "nothing extracted" is not how it passes.
    return _file("pkg/tool")


Builder = Callable[[Sandbox], HostileCase]
CASES: dict[str, Builder] = {}


def case(kind: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        CASES[kind] = fn
        return fn

    return register


@case("tar-dotdot")
def _tar_dotdot(box: Sandbox) -> HostileCase:
    entry = "pkg/../../../escaped-dotdot"
    return HostileCase(
        "tar-dotdot",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes([_tool(), _file(entry)]),
        ("security",),
        entry,
    )


@case("tar-absolute")
def _tar_absolute(box: Sandbox) -> HostileCase:
    entry = str(box.base / "escaped-absolute")
    return HostileCase(
        "tar-absolute",
        "tool-x86_64-unknown-linux-gnu.tar.xz",
        tar_bytes([_tool(), _file(entry)], "xz"),
        ("security",),
        entry.lstrip("/"),
    )


@case("tar-pax-path-override")
def _tar_pax(box: Sandbox) -> HostileCase:
    # The ustar name looks harmless; the pax extended header replaces it with a traversal.
    info, data = _file("pkg/harmless")
    info.pax_headers = {"path": "pkg/../../../escaped-pax"}
    return HostileCase(
        "tar-pax-path-override",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes([_tool(), (info, data)], fmt=tarfile.PAX_FORMAT),
        ("security",),
        "escaped-pax",
    )


@case("tar-gnu-longname-dotdot")
def _tar_longname(box: Sandbox) -> HostileCase:
    entry = "pkg/" + "a" * 120 + "/../../../../escaped-longname"
    return HostileCase(
        "tar-gnu-longname-dotdot",
        "tool-x86_64-unknown-linux-gnu.tar.bz2",
        tar_bytes([_tool(), _file(entry)], "bz2"),
        ("security",),
        "escaped-longname",
    )


@case("tar-symlink-escape")
def _tar_symlink_escape(box: Sandbox) -> HostileCase:
    return HostileCase(
        "tar-symlink-escape",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes([_tool(), _symlink("pkg/escape", "../../../victim.txt")]),
        ("security",),
        "pkg/escape",
    )


@case("tar-symlink-absolute")
def _tar_symlink_absolute(box: Sandbox) -> HostileCase:
    return HostileCase(
        "tar-symlink-absolute",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes([_tool(), _symlink("pkg/passwd", "/etc/passwd")]),
        ("security",),
        "pkg/passwd",
    )


@case("tar-hardlink-escape")
def _tar_hardlink_escape(box: Sandbox) -> HostileCase:
    # A hardlink to a file outside would let a later entry (or the packager) read/modify it.
    return HostileCase(
        "tar-hardlink-escape",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes([_tool(), _hardlink("pkg/hard", "../../../victim.txt")]),
        ("security",),
        "pkg/hard",
    )


@case("tar-hardlink-absolute")
def _tar_hardlink_absolute(box: Sandbox) -> HostileCase:
    return HostileCase(
        "tar-hardlink-absolute",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes([_tool(), _hardlink("pkg/hard", str(box.victim))]),
        ("security",),
        "pkg/hard",
    )


@case("tar-write-through-symlink")
def _tar_write_through(box: Sandbox) -> HostileCase:
    # Plant a link to a directory outside, then write a file "inside" it.
    members = [_tool(), _symlink("pkg/plugins", str(box.outside)), _file("pkg/plugins/evil")]
    return HostileCase(
        "tar-write-through-symlink",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes(members),
        ("security",),
        "pkg/plugins",
    )


@case("tar-symlink-chain")
def _tar_symlink_chain(box: Sandbox) -> HostileCase:
    # Lexically "pkg/l2" -> "l1/../.." is pkg/.. = the root, which looks safe; resolved through
    # the first link it is root/.. . A check that normalises strings instead of resolving links
    # lets the following file out.
    members = [
        _tool(),
        _symlink("pkg/l1", "."),
        _symlink("pkg/sub/l2", "../l1/../.."),
        _file("pkg/sub/l2/escaped-chain"),
    ]
    return HostileCase(
        "tar-symlink-chain",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes(members),
        ("security",),
        "pkg/sub/l2",
    )


@case("tar-duplicate-symlink-then-file")
def _tar_dup_link_file(box: Sandbox) -> HostileCase:
    # The second entry has the same name; open(name, "w") would follow the first one's link
    # and overwrite the victim.
    members = [_tool(), _symlink("pkg/tool2", str(box.victim)), _file("pkg/tool2", b"overwritten\n")]
    return HostileCase(
        "tar-duplicate-symlink-then-file",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes(members),
        ("security",),
        "pkg/tool2",
    )


@case("tar-duplicate-entry")
def _tar_duplicate(box: Sandbox) -> HostileCase:
    # Two different contents under one name: which one gets packaged depends on the extractor.
    members = [_file("pkg/tool", b"\x7fELF first"), _file("pkg/tool", b"\x7fELF second")]
    return HostileCase(
        "tar-duplicate-entry",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes(members),
        ("security",),
        "pkg/tool",
        may_sanitise="later-duplicate-wins",
    )


@case("tar-char-device")
def _tar_chardev(box: Sandbox) -> HostileCase:
    return HostileCase(
        "tar-char-device",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes([_tool(), _device("pkg/mem", tarfile.CHRTYPE, 1, 1)]),
        ("security",),
        "pkg/mem",
    )


@case("tar-block-device")
def _tar_blockdev(box: Sandbox) -> HostileCase:
    return HostileCase(
        "tar-block-device",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes([_tool(), _device("pkg/sda", tarfile.BLKTYPE, 8, 0)]),
        ("security",),
        "pkg/sda",
    )


@case("tar-fifo")
def _tar_fifo(box: Sandbox) -> HostileCase:
    return HostileCase(
        "tar-fifo",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes([_tool(), _device("pkg/pipe", tarfile.FIFOTYPE, 0, 0)]),
        ("security",),
        "pkg/pipe",
    )


@case("tar-setuid")
def _tar_setuid(box: Sandbox) -> HostileCase:
    return HostileCase(
        "tar-setuid",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes([_file("pkg/tool", mode=0o4755)]),
        ("security",),
        "pkg/tool",
        may_sanitise="no-special-bits",
    )


@case("tar-setgid-sticky")
def _tar_setgid(box: Sandbox) -> HostileCase:
    return HostileCase(
        "tar-setgid-sticky",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes([_file("pkg/tool", mode=0o3755)]),
        ("security",),
        "pkg/tool",
        may_sanitise="no-special-bits",
    )


@case("tar-bomb-ratio")
def _tar_bomb_ratio(box: Sandbox) -> HostileCase:
    # 64 MiB of zeros in ~64 KiB: far past any sane ratio, small enough to build in a blink.
    return HostileCase(
        "tar-bomb-ratio",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_gz_bomb("pkg/zeros", 64 << 20),
        ("security",),
        "pkg/zeros",
    )


@case("tar-bomb-declared-size")
def _tar_bomb_declared(box: Sandbox) -> HostileCase:
    return HostileCase(
        "tar-bomb-declared-size",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_declared_huge("pkg/huge", 64 << 30),
        ("security", "packaging"),
        "pkg/huge",
    )


@case("tar-truncated")
def _tar_truncated(box: Sandbox) -> HostileCase:
    whole = tar_bytes([_tool(), _file("pkg/data", random.Random(1).randbytes(64 * 1024))])
    return HostileCase(
        "tar-truncated",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        whole[: len(whole) // 2],
        ("packaging",),
        None,
    )


@case("tar-not-an-archive")
def _tar_not_archive(box: Sandbox) -> HostileCase:
    # What a misconfigured mirror returns with status 200: an HTML page under the asset's name.
    html = b"<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>\n"
    return HostileCase(
        "tar-not-an-archive", "tool-x86_64-unknown-linux-gnu.tar.gz", html, ("packaging",), None
    )


@case("zip-dotdot")
def _zip_dotdot(box: Sandbox) -> HostileCase:
    entry = "pkg/../../../escaped-zip-dotdot"
    return HostileCase(
        "zip-dotdot",
        "tool-x86_64-unknown-linux-gnu.zip",
        zip_bytes([_zfile("pkg/tool"), _zfile(entry)]),
        ("security",),
        entry,
    )


@case("zip-absolute")
def _zip_absolute(box: Sandbox) -> HostileCase:
    entry = str(box.base / "escaped-zip-absolute")
    return HostileCase(
        "zip-absolute",
        "tool-x86_64-unknown-linux-gnu.zip",
        zip_bytes([_zfile("pkg/tool"), _zfile(entry)]),
        ("security",),
        entry.lstrip("/"),
    )


@case("zip-symlink-escape")
def _zip_symlink(box: Sandbox) -> HostileCase:
    members = [_zfile("pkg/tool"), _zsymlink("pkg/escape", "../../../victim.txt")]
    return HostileCase(
        "zip-symlink-escape",
        "tool-x86_64-unknown-linux-gnu.zip",
        zip_bytes(members),
        ("security",),
        "pkg/escape",
    )


@case("zip-write-through-symlink")
def _zip_write_through(box: Sandbox) -> HostileCase:
    members = [_zfile("pkg/tool"), _zsymlink("pkg/plugins", str(box.outside)), _zfile("pkg/plugins/evil")]
    return HostileCase(
        "zip-write-through-symlink",
        "tool-x86_64-unknown-linux-gnu.zip",
        zip_bytes(members),
        ("security",),
        "pkg/plugins",
    )


@case("zip-setuid")
def _zip_setuid(box: Sandbox) -> HostileCase:
    return HostileCase(
        "zip-setuid",
        "tool-x86_64-unknown-linux-gnu.zip",
        zip_bytes([_zfile("pkg/tool", mode=0o106755)]),
        ("security",),
        "pkg/tool",
        may_sanitise="no-special-bits",
    )


@case("zip-duplicate-entry")
def _zip_duplicate(box: Sandbox) -> HostileCase:
    members = [_zfile("pkg/tool", b"\x7fELF first"), _zfile("pkg/tool", b"\x7fELF second")]
    return HostileCase(
        "zip-duplicate-entry",
        "tool-x86_64-unknown-linux-gnu.zip",
        zip_bytes(members),
        ("security",),
        "pkg/tool",
        may_sanitise="later-duplicate-wins",
    )


@case("zip-bomb-ratio")
def _zip_bomb(box: Sandbox) -> HostileCase:
    return HostileCase(
        "zip-bomb-ratio",
        "tool-x86_64-unknown-linux-gnu.zip",
        zip_bomb("pkg/zeros", 64 << 20),
        ("security",),
        "pkg/zeros",
    )


@case("zip-size-lie")
def _zip_size_lie(box: Sandbox) -> HostileCase:
    # Headers claim 1 KiB, the stream inflates to 32 MiB: size checks must count real bytes.
    return HostileCase(
        "zip-size-lie",
        "tool-x86_64-unknown-linux-gnu.zip",
        zip_size_lie("pkg/zeros", 32 << 20, 1024),
        ("security", "packaging"),
        "pkg/zeros",
    )


@case("zip-truncated")
def _zip_truncated(box: Sandbox) -> HostileCase:
    whole = zip_bytes([_zfile("pkg/tool"), _zfile("pkg/data", random.Random(2).randbytes(64 * 1024))])
    return HostileCase(
        "zip-truncated", "tool-x86_64-unknown-linux-gnu.zip", whole[: len(whole) // 2], ("packaging",), None
    )


@case("zip-is-really-gzip-garbage")
def _zip_not_zip(box: Sandbox) -> HostileCase:
    # Named .zip, starts like gzip, is not a valid anything after the magic.
    return HostileCase(
        "zip-is-really-gzip-garbage",
        "tool-x86_64-unknown-linux-gnu.zip",
        b"\x1f\x8b\x08\x00" + random.Random(3).randbytes(2048),
        ("packaging",),
        None,
    )


def all_kinds() -> Iterator[str]:
    return iter(CASES)


def build(kind: str, box: Sandbox) -> HostileCase:
    return CASES[kind](box)


@case("tar-duplicate-inside-link-then-file")
def _tar_dup_inside_link(box: Sandbox) -> HostileCase:
    # The link stays inside, so it is accepted; the file entry of the same name must replace
    # the link, not write through it into pkg/tool.
    members = [_tool(), _symlink("pkg/alias", "tool"), _file("pkg/alias", b"overwritten\n")]
    return HostileCase(
        "tar-duplicate-inside-link-then-file",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        tar_bytes(members),
        ("security",),
        "pkg/alias",
        may_sanitise="link-replaced-not-followed",
    )


@case("zip-backslash-dotdot")
def _zip_backslash(box: Sandbox) -> HostileCase:
    # Written on Windows: backslash separators; unzip tools on Linux treat them as separators too.
    entry = "pkg\\..\\..\\..\\escaped-backslash"
    return HostileCase(
        "zip-backslash-dotdot",
        "tool-x86_64-pc-windows-msvc.zip",
        zip_bytes([_zfile("pkg/tool"), _zfile(entry)]),
        ("security",),
        "escaped-backslash",
    )


@case("zip-drive-letter")
def _zip_drive(box: Sandbox) -> HostileCase:
    return HostileCase(
        "zip-drive-letter",
        "tool-x86_64-unknown-linux-gnu.zip",
        zip_bytes([_zfile("pkg/tool"), _zfile("C:/Windows/escaped-drive")]),
        ("security",),
        "escaped-drive",
    )


@case("targz-name-but-zip-content-dotdot")
def _mislabelled_hostile(box: Sandbox) -> HostileCase:
    # Not what its name says *and* hostile: the bytes decide the format, and the zip path
    # checks must still apply.
    entry = "pkg/../../../escaped-mislabelled"
    return HostileCase(
        "targz-name-but-zip-content-dotdot",
        "tool-x86_64-unknown-linux-gnu.tar.gz",
        zip_bytes([_zfile("pkg/tool"), _zfile(entry)]),
        ("security",),
        entry,
    )
