"""A deterministic, fast ``.deb`` writer.

A ``.deb`` is an ``ar`` archive of ``debian-binary``, ``control.tar.<c>`` and ``data.tar.<c>``.
We write the tar streams ourselves (GNU format like ``dpkg-deb``: ``./`` prefixes, entries in
path order, ``root:root``, every mtime = ``SOURCE_DATE_EPOCH``) so that the same inputs always
give the same bytes.

Why not just call ``dpkg-deb --build``: one release is packaged for several suites whose packages
differ only in a few small files (version, changelog), while the upstream binaries, which are
almost all of the bytes, are identical. Compressing them again for every suite is the whole cost
of a build. So the data tar is laid out as a sequence of *segments*:

- *inline* segments: tar headers, small files and the end-of-archive blocks;
- *content chunks* of large files (their bytes plus the tar padding), split into equal pieces
  of at most ``CHUNK_LIMIT`` bytes so several cores can compress one file.

Each segment is compressed on its own (xz: one block; gzip: a byte-aligned deflate run) by a
shared ``BlockCompressor`` that caches the result by content, and the pieces are assembled into
ONE valid stream per package. dpkg reads only the first of several concatenated xz streams, so
for xz we write a single stream with many blocks, a fresh index and footer. zstd (fast anyway)
is one frame per package: dpkg stops after the first frame too, and zstd blocks cannot be moved
between frames.
Chunk boundaries depend only on file sizes (never on the number of cores), so the output is
byte-identical on every machine.

API summary::

    DataEntry.file(path, source=..., mode=...) / .blob(path, data, mode=...) / .directory(path)
        / .symlink(path, target)                      # what goes into a tar
    BlockCompressor(threads=None, xz_preset=6)        # shared pool + cache; a context manager
    BlockCompressor.prefetch(entries, compression)    # start compressing large files early
    write_deb(path, control_entries, data_entries, compression="xz", mtime=..., compressor=...)
        -> WrittenDeb(path, size, sha256)            # temp name in the same dir + atomic rename
    materialize(entries, root)                        # the same tree on disk (for dpkg-deb)
    xz_stream_blocks(data) / assemble_xz(...)         # the xz container pieces (tested directly)
    crc32_combine(crc1, crc2, len2)
"""

from __future__ import annotations

import hashlib
import lzma
import os
import posixpath
import stat
import struct
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import zstandard

from multiarch.errors import PackagingError, ResourceError

Compression = Literal["xz", "gzip", "zstd"]
COMPRESSIONS: Final[tuple[Compression, ...]] = ("xz", "gzip", "zstd")
EntryKind = Literal["file", "dir", "symlink"]

# Files at least this large get content chunks of their own, so they are compressed once per
# build however many suites reuse them. Smaller files ride in the (cheap) inline segments.
BIG_FILE_THRESHOLD: Final = 64 * 1024
# xz -6 uses an 8 MiB dictionary; blocks much smaller than twice that lose ratio (measured on
# uv: 24 MiB blocks 6.75 MB, 12 MiB +2.9 %, 8 MiB +4.5 %, 4 MiB +9 %), blocks much larger leave
# cores idle. Part of the output format: changing it changes the bytes of every package.
CHUNK_LIMIT: Final = 16 * 1024 * 1024
TAR_BLOCK: Final = 512
# GNU tar (and so dpkg-deb) pads archives to whole 10 KiB records.
TAR_RECORD: Final = 20 * TAR_BLOCK
DEFAULT_XZ_PRESET: Final = 6  # dpkg-deb's default
GZIP_LEVEL: Final = 9  # dpkg-deb's default for gzip
ZSTD_LEVEL: Final = 3  # libzstd's (and dpkg-deb's) default level

_XZ_MAGIC: Final = b"\xfd7zXZ\x00"
_XZ_FOOTER_MAGIC: Final = b"YZ"


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class DataEntry:
    """One member of a package's tar: a directory, a symlink or a file (from disk or memory).

    ``path`` is relative without ``./`` (``usr/bin/uv``; ``""`` is the root). ``key`` names the
    content for the compression cache; equal keys MUST mean equal bytes.
    """

    path: str
    kind: EntryKind
    mode: int = 0o644
    size: int = 0
    source: Path | None = None
    data: bytes | None = None
    link_target: str = ""
    key: str = ""

    @staticmethod
    def directory(path: str, mode: int = 0o755) -> DataEntry:
        return DataEntry(path=_clean_path(path), kind="dir", mode=mode)

    @staticmethod
    def symlink(path: str, target: str) -> DataEntry:
        if not target or "\0" in target:
            raise PackagingError(f"symlink {path!r} has an invalid target {target!r}")
        return DataEntry(path=_clean_path(path), kind="symlink", mode=0o777, link_target=target)

    @staticmethod
    def blob(path: str, data: bytes, mode: int = 0o644) -> DataEntry:
        return DataEntry(path=_clean_path(path), kind="file", mode=mode, size=len(data), data=data)

    @staticmethod
    def file(path: str, source: Path, mode: int = 0o644, key: str = "") -> DataEntry:
        st = os.stat(source)
        if not stat.S_ISREG(st.st_mode):
            raise PackagingError(f"{source} is not a regular file")
        # Identity of the bytes on disk: the same file staged for several suites shares its
        # compressed chunks. Paths are ours (extraction dirs), never rewritten during a build.
        ident = key or f"{os.path.abspath(source)}:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
        return DataEntry(
            path=_clean_path(path), kind="file", mode=mode, size=st.st_size, source=Path(source), key=ident
        )

    def blocks(self) -> Iterator[bytes]:
        """The content in blocks of at most 1 MiB, a file read as it goes (none for a dir or link)."""
        if self.data is not None:
            yield self.data
        elif self.source is not None:
            with open(self.source, "rb") as fh:
                while block := fh.read(1 << 20):
                    yield block

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.source is None:
            return b""
        with open(self.source, "rb") as fh:
            data = fh.read()
        if len(data) != self.size:
            raise PackagingError(f"{self.source} changed size while packaging")
        return data


def _clean_path(path: str) -> str:
    p = path.strip("/")
    if p.startswith("./"):
        p = p[2:]
    if p in ("", "."):
        return ""
    parts = p.split("/")
    if any(part in ("", ".", "..") for part in parts) or "\0" in p:
        raise PackagingError(f"invalid path in package: {path!r}")
    return p


def _sort_key(path: str) -> tuple[bytes, ...]:
    # Component-wise so a directory's members are contiguous and follow it.
    return tuple(part.encode("utf-8", "surrogateescape") for part in path.split("/")) if path else ()


def complete_tree(entries: Iterable[DataEntry]) -> list[DataEntry]:
    """Entries sorted, with every missing parent directory (and ``./``) added as 0755 dirs.

    A path given twice is a bug in the caller (two files fighting for one name) and raises.
    """
    by_path: dict[str, DataEntry] = {}
    for entry in entries:
        if entry.path in by_path:
            raise PackagingError(f"two entries for the same path in a package: /{entry.path}")
        by_path[entry.path] = entry
    for path in list(by_path):
        parent = posixpath.dirname(path)
        while True:
            if parent not in by_path:
                by_path[parent] = DataEntry.directory(parent)
            elif by_path[parent].kind != "dir":
                raise PackagingError(f"/{parent} is both a directory and a {by_path[parent].kind}")
            if parent == "":
                break
            parent = posixpath.dirname(parent)
    if "" not in by_path:
        by_path[""] = DataEntry.directory("")
    return sorted(by_path.values(), key=lambda e: _sort_key(e.path))


# --------------------------------------------------------------------------- tar layout


@dataclass(frozen=True)
class InlineSegment:
    data: bytes


@dataclass(frozen=True)
class ChunkSegment:
    """``length`` bytes of ``source`` from ``offset``, then ``pad`` zero bytes."""

    source: Path
    offset: int
    length: int
    pad: int
    key: str

    def read(self) -> bytes:
        with open(self.source, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(self.length)
        if len(data) != self.length:
            raise PackagingError(f"{self.source} is shorter than when it was staged")
        return data + bytes(self.pad) if self.pad else data


Segment = InlineSegment | ChunkSegment


def tar_header(entry: DataEntry, mtime: int) -> bytes:
    """The GNU-format header block(s) for one entry, as dpkg-deb's tar would write them."""
    info = tarfile.TarInfo("./" + entry.path if entry.path else ".")
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
        info.mode = entry.mode & 0o7777
        if not entry.path:
            info.name = "./"
    elif entry.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.mode = 0o777
        info.linkname = entry.link_target
    else:
        info.type = tarfile.REGTYPE
        info.mode = entry.mode & 0o7777
        info.size = entry.size
    # GNU format: long names and link targets become ././@LongLink records, like GNU tar.
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")


def chunk_bounds(size: int) -> list[tuple[int, int]]:
    """Equal chunks of at most CHUNK_LIMIT: equal sizes keep the cores evenly loaded."""
    if size <= 0:
        return []
    count = -(-size // CHUNK_LIMIT)
    step = -(-size // count)
    return [(off, min(step, size - off)) for off in range(0, size, step)]


def _chunks_of(entry: DataEntry) -> list[ChunkSegment]:
    assert entry.source is not None
    pad = -entry.size % TAR_BLOCK
    bounds = chunk_bounds(entry.size)
    return [
        ChunkSegment(
            source=entry.source,
            offset=off,
            length=length,
            pad=pad if i == len(bounds) - 1 else 0,
            key=f"{entry.key}#{off}+{length}+{pad if i == len(bounds) - 1 else 0}",
        )
        for i, (off, length) in enumerate(bounds)
    ]


def _is_big(entry: DataEntry) -> bool:
    return entry.kind == "file" and entry.source is not None and entry.size >= BIG_FILE_THRESHOLD


def tar_segments(entries: Sequence[DataEntry], mtime: int) -> list[Segment]:
    """The tar stream of ``entries`` (already complete and sorted) as segments."""
    segments: list[Segment] = []
    buf = bytearray()
    total = 0
    for entry in entries:
        header = tar_header(entry, mtime)
        buf += header
        total += len(header)
        if entry.kind != "file":
            continue
        if _is_big(entry):
            segments.append(InlineSegment(bytes(buf)))
            buf.clear()
            chunks = _chunks_of(entry)
            segments.extend(chunks)
            total += sum(c.length + c.pad for c in chunks)
        else:
            content = entry.read()
            buf += content
            buf += bytes(-len(content) % TAR_BLOCK)
            total += len(content) + (-len(content) % TAR_BLOCK)
    end = 2 * TAR_BLOCK
    end += -(total + end) % TAR_RECORD
    buf += bytes(end)
    segments.append(InlineSegment(bytes(buf)))
    return [s for s in segments if not (isinstance(s, InlineSegment) and not s.data)]


def tar_bytes(entries: Sequence[DataEntry], mtime: int) -> bytes:
    """The whole uncompressed tar (for small archives and tests)."""
    return b"".join(
        s.data if isinstance(s, InlineSegment) else s.read() for s in tar_segments(entries, mtime)
    )


# --------------------------------------------------------------------------- compression pieces


@dataclass(frozen=True)
class Piece:
    """One compressed segment. ``unpadded`` is xz's Unpadded Size, ``crc32`` is of the raw bytes."""

    data: bytes
    raw_size: int
    unpadded: int = 0
    crc32: int = 0
    check: int = 0


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise PackagingError("malformed xz index")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def xz_stream_blocks(stream: bytes) -> tuple[int, list[tuple[bytes, int, int]]]:
    """Split a single xz stream into its check type and (block bytes, unpadded, uncompressed)."""
    if len(stream) < 24 or stream[:6] != _XZ_MAGIC or stream[-2:] != _XZ_FOOTER_MAGIC:
        raise PackagingError("not a single xz stream")
    check = stream[7] & 0x0F
    backward = (struct.unpack("<I", stream[-8:-4])[0] + 1) * 4
    index_start = len(stream) - 12 - backward
    index = stream[index_start : len(stream) - 12]
    if index_start < 12 or not index or index[0] != 0:
        raise PackagingError("malformed xz index")
    count, pos = _read_varint(index, 1)
    blocks: list[tuple[bytes, int, int]] = []
    offset = 12
    for _ in range(count):
        unpadded, pos = _read_varint(index, pos)
        uncompressed, pos = _read_varint(index, pos)
        padded = unpadded + (-unpadded % 4)
        blocks.append((stream[offset : offset + padded], unpadded, uncompressed))
        offset += padded
    if offset != index_start:
        raise PackagingError("xz stream has data outside its indexed blocks")
    return check, blocks


def _xz_piece(data: bytes, preset: int) -> Piece:
    stream = lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=preset)
    check, blocks = xz_stream_blocks(stream)
    if len(blocks) != 1:
        raise PackagingError(f"expected one xz block, liblzma wrote {len(blocks)}")
    block, unpadded, uncompressed = blocks[0]
    return Piece(data=block, raw_size=uncompressed, unpadded=unpadded, check=check)


def assemble_xz(pieces: Sequence[Piece]) -> list[bytes]:
    """One xz stream (header, blocks, index, footer) from independently compressed blocks."""
    check = pieces[0].check if pieces else lzma.CHECK_CRC64
    if any(p.check != check for p in pieces):
        raise PackagingError("xz blocks with different check types cannot share a stream")
    flags = bytes((0, check))
    header = _XZ_MAGIC + flags + struct.pack("<I", zlib.crc32(flags))
    index = bytearray(b"\x00")
    index += _varint(len(pieces))
    for p in pieces:
        index += _varint(p.unpadded)
        index += _varint(p.raw_size)
    index += bytes(-len(index) % 4)
    index += struct.pack("<I", zlib.crc32(index))
    backward = struct.pack("<I", len(index) // 4 - 1)
    footer = struct.pack("<I", zlib.crc32(backward + flags)) + backward + flags + _XZ_FOOTER_MAGIC
    return [header, *(p.data for p in pieces), bytes(index), footer]


def _gzip_piece(data: bytes) -> Piece:
    # Raw deflate ending in a sync flush: byte-aligned and not final, so runs from independent
    # compressors concatenate into one valid deflate stream (none refers back past its start).
    comp = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)
    body = comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)
    return Piece(data=body, raw_size=len(data), crc32=zlib.crc32(data))


def assemble_gzip(pieces: Sequence[Piece]) -> list[bytes]:
    """One gzip member: header like ``gzip -n -9`` (no name, mtime 0), pieces, final block, trailer."""
    header = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x02\x03"
    crc = 0
    size = 0
    for p in pieces:
        crc = crc32_combine(crc, p.crc32, p.raw_size)
        size += p.raw_size
    # An empty final fixed-Huffman block: BFINAL=1, BTYPE=01, end-of-block code.
    trailer = b"\x03\x00" + struct.pack("<II", crc, size & 0xFFFFFFFF)
    return [header, *(p.data for p in pieces), trailer]


def _zstd_stream(segments: Sequence[Segment]) -> bytes:
    # One frame per package. Concatenated frames are valid zstd, but dpkg-deb (1.21) stops after
    # the first one ("Unexpected EOF in archive"), and blocks cannot be moved between frames
    # (they inherit repeat offsets and entropy tables from their predecessors). zstd -3 is
    # fast enough that compressing every package in full costs little.
    total = sum(len(s.data) if isinstance(s, InlineSegment) else s.length + s.pad for s in segments)
    cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True, write_content_size=True)
    comp = cctx.compressobj(size=total)
    out = [comp.compress(s.data if isinstance(s, InlineSegment) else s.read()) for s in segments]
    out.append(comp.flush())
    return b"".join(out)


_CRC_POLY: Final = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    """a(x)·b(x) modulo the CRC-32 polynomial, bit-reflected (x^0 is bit 31)."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


def _x2n_table() -> list[int]:
    table = [1 << 30]  # x^1
    for _ in range(31):
        table.append(_multmodp(table[-1], table[-1]))
    return table


_X2N: Final = _x2n_table()


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B): crc(A)·x^(8·len2) + crc(B) mod P."""
    p = 1 << 31  # x^0
    n, k = len2, 3  # x^(len2 · 2^3)
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return _multmodp(p, crc1) ^ crc2


def _assemble(compression: Compression, pieces: Sequence[Piece]) -> list[bytes]:
    if compression == "xz":
        return assemble_xz(pieces)
    return assemble_gzip(pieces)


# --------------------------------------------------------------------------- shared compressor


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class BlockCompressor:
    """A pool of compression threads with a cache of pieces by content.

    liblzma, zlib and libzstd release the GIL, so threads use every core. Keys of file chunks
    come from ``DataEntry.key``; inline segments are keyed by their SHA-256, which also makes
    identical inline segments of sibling packages (e.g. the tar headers before a binary)
    compress once.
    """

    def __init__(self, threads: int | None = None, *, xz_preset: int = DEFAULT_XZ_PRESET) -> None:
        self.threads = max(1, threads if threads is not None else usable_cores())
        self.xz_preset = xz_preset
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="compress")
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], Future[Piece]] = {}

    def __enter__(self) -> BlockCompressor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, *, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)

    def _compress(self, compression: Compression, data: bytes) -> Piece:
        try:
            if compression == "xz":
                return _xz_piece(data, self.xz_preset)
            return _gzip_piece(data)
        except MemoryError as exc:
            raise ResourceError(f"out of memory compressing a {len(data)}-byte segment") from exc

    def piece(self, compression: Compression, segment: Segment) -> Future[Piece]:
        if isinstance(segment, InlineSegment):
            return self._inline(compression, segment.data)
        return self._submit((compression, segment.key), compression, segment.read)

    def _inline(self, compression: Compression, data: bytes) -> Future[Piece]:
        """Small segments are compressed in the calling (job) thread, not queued: behind the
        queue's big chunks they would hold every package back until all arches are compressed,
        and the writing of packages could no longer overlap the compression of others."""
        cache_key = (compression, hashlib.sha256(data).hexdigest())
        with self._lock:
            fut = self._cache.get(cache_key)
            if fut is not None:
                return fut
            fut = Future()
            self._cache[cache_key] = fut
        try:
            fut.set_result(self._compress(compression, data))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut

    def _submit(
        self, cache_key: tuple[str, str], compression: Compression, produce: Callable[[], bytes]
    ) -> Future[Piece]:
        with self._lock:
            fut = self._cache.get(cache_key)
            if fut is None:
                fut = self._pool.submit(lambda: self._compress(compression, produce()))
                self._cache[cache_key] = fut
            return fut

    def prefetch(self, entries: Iterable[DataEntry], compression: Compression) -> None:
        """Start compressing the large files of ``entries`` now (their chunks do not depend on the
        rest of the package, so a build can queue them as soon as they are extracted)."""
        if compression == "zstd":
            return
        for entry in entries:
            if _is_big(entry):
                for chunk in _chunks_of(entry):
                    self.piece(compression, chunk)

    def forget(self, key_prefix: str) -> None:
        """Drop cached pieces whose key starts with ``key_prefix`` (memory of finished arches)."""
        with self._lock:
            for k in [k for k in self._cache if k[1].startswith(key_prefix)]:
                del self._cache[k]

    def compress_stream(self, compression: Compression, segments: Sequence[Segment]) -> list[bytes]:
        if compression == "zstd":
            return [_zstd_stream(segments)]
        futures = [self.piece(compression, s) for s in segments]
        return _assemble(compression, [f.result() for f in futures])


def compress_bytes(compression: Compression, data: bytes, *, xz_preset: int = DEFAULT_XZ_PRESET) -> bytes:
    """One small stream compressed in the calling thread (control.tar, tests)."""
    if compression == "xz":
        pieces = [_xz_piece(data, xz_preset)] if data else []
        return b"".join(assemble_xz(pieces))
    if compression == "gzip":
        return b"".join(assemble_gzip([_gzip_piece(data)]))
    return _zstd_stream([InlineSegment(data)])


# --------------------------------------------------------------------------- ar + deb


@dataclass(frozen=True)
class WrittenDeb:
    path: Path
    size: int
    sha256: str


_EXTENSIONS: Final[dict[str, str]] = {"xz": ".xz", "gzip": ".gz", "zstd": ".zst"}


def _ar_header(name: str, size: int, mtime: int) -> bytes:
    # dpkg-deb's member headers: no trailing '/', owner 0:0, mode 100644.
    fields = (
        name.ljust(16),
        str(mtime).ljust(12),
        "0".ljust(6),
        "0".ljust(6),
        "100644".ljust(8),
        str(size).ljust(10),
    )
    header = "".join(fields).encode("ascii") + b"`\n"
    if len(header) != 60:
        raise PackagingError(f"ar member {name!r} does not fit an ar header")
    return header


def write_deb(
    path: Path,
    control_entries: Sequence[DataEntry],
    data_entries: Sequence[DataEntry],
    *,
    compression: Compression = "xz",
    mtime: int,
    compressor: BlockCompressor,
) -> WrittenDeb:
    """Write a .deb atomically: a temporary name in the same directory, then ``rename``."""
    if compression not in COMPRESSIONS:
        raise PackagingError(f"unknown compression {compression!r}")
    ext = _EXTENSIONS[compression]
    control_tar = tar_bytes(complete_tree(control_entries), mtime)
    control_parts = [compress_bytes(compression, control_tar, xz_preset=compressor.xz_preset)]
    data_parts = compressor.compress_stream(compression, tar_segments(complete_tree(data_entries), mtime))

    members: list[tuple[str, list[bytes]]] = [
        ("debian-binary", [b"2.0\n"]),
        ("control.tar" + ext, control_parts),
        ("data.tar" + ext, data_parts),
    ]
    path = Path(path)
    directory = path.parent
    tmp = directory / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    digest = hashlib.sha256()
    size = 0
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "wb") as out:

            def put(chunk: bytes) -> None:
                nonlocal size
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)

            put(b"!<arch>\n")
            for name, parts in members:
                length = sum(len(p) for p in parts)
                put(_ar_header(name, length, mtime))
                for part in parts:
                    put(part)
                if length % 2:
                    put(b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in (28, 122):  # ENOSPC, EDQUOT
            raise ResourceError(f"no space left writing {path}: {exc}") from exc
        raise PackagingError(f"cannot write {path}: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return WrittenDeb(path=path, size=size, sha256=digest.hexdigest())


def materialize(entries: Iterable[DataEntry], root: Path) -> None:
    """Write ``entries`` as a real tree under ``root`` (what ``dpkg-deb --build`` would read)."""
    for entry in complete_tree(entries):
        target = root / entry.path if entry.path else root
        if entry.kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
            os.chmod(target, entry.mode & 0o7777)
        elif entry.kind == "symlink":
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(entry.link_target, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                for block in entry.blocks():
                    fh.write(block)
            os.chmod(target, entry.mode & 0o7777)
