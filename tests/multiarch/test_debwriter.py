"""The deterministic .deb writer, checked with the real dpkg-deb, xz and gzip."""

from __future__ import annotations

import gzip
import io
import lzma
import os
import random
import subprocess
import tarfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multiarch import debwriter
from multiarch.debwriter import (
    BlockCompressor,
    DataEntry,
    InlineSegment,
    Piece,
    assemble_gzip,
    assemble_xz,
    complete_tree,
    crc32_combine,
    tar_bytes,
    write_deb,
    xz_stream_blocks,
)
from multiarch.errors import PackagingError
from tests.conftest import require_tool

MTIME = 1734653444
CONTROL = (
    b"Package: tool\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: T <t@example.org>\n"
    b"Description: a tool\n more\n"
)


def _random_bytes(n: int, seed: int = 1) -> bytes:
    # Compressible but not trivially: random words from a small alphabet.
    rnd = random.Random(seed)
    words = [bytes(rnd.choices(range(97, 123), k=rnd.randint(2, 9))) for _ in range(500)]
    out = bytearray()
    while len(out) < n:
        out += rnd.choice(words) + b" "
    return bytes(out[:n])


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Force several chunks per file without multi-megabyte test data.
    monkeypatch.setattr(debwriter, "CHUNK_LIMIT", 256 * 1024)
    monkeypatch.setattr(debwriter, "BIG_FILE_THRESHOLD", 16 * 1024)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_crc32_combine_matches_zlib(a: bytes, b: bytes) -> None:
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def _xz_piece(data: bytes) -> Piece:
    return debwriter._xz_piece(data, 1)


def test_xz_blocks_assemble_into_one_valid_stream(tmp_path: Path) -> None:
    require_tool("xz")
    parts = [_random_bytes(50_000, i) for i in range(5)] + [b"tail"]
    stream = b"".join(assemble_xz([_xz_piece(p) for p in parts]))
    assert lzma.decompress(stream) == b"".join(parts)
    path = tmp_path / "s.xz"
    path.write_bytes(stream)
    subprocess.run(["xz", "-t", str(path)], check=True)
    robot = subprocess.run(
        ["xz", "-l", "--robot", str(path)], check=True, capture_output=True, text=True
    ).stdout
    totals = next(line.split("\t") for line in robot.splitlines() if line.startswith("totals"))
    assert totals[1] == "1" and totals[2] == str(len(parts))  # one stream, six blocks
    # And the split is exact: reading the stream back gives the same blocks.
    check, blocks = xz_stream_blocks(stream)
    assert check == lzma.CHECK_CRC64 and len(blocks) == len(parts)


def test_gzip_runs_assemble_into_one_member(tmp_path: Path) -> None:
    require_tool("gzip")
    parts = [_random_bytes(40_000, i) for i in range(4)]
    data = b"".join(assemble_gzip([debwriter._gzip_piece(p) for p in parts]))
    assert gzip.decompress(data) == b"".join(parts)
    path = tmp_path / "s.gz"
    path.write_bytes(data)
    subprocess.run(["gzip", "-t", str(path)], check=True)


def test_malformed_xz_is_rejected() -> None:
    with pytest.raises(PackagingError):
        xz_stream_blocks(b"not xz at all, not even close to it")
    good = lzma.compress(b"x" * 100, format=lzma.FORMAT_XZ)
    with pytest.raises(PackagingError):
        xz_stream_blocks(good[:12] + good[20:])


def test_complete_tree_adds_parents_and_refuses_duplicates() -> None:
    tree = complete_tree([DataEntry.blob("usr/share/doc/tool/README", b"x")])
    assert [e.path for e in tree] == [
        "",
        "usr",
        "usr/share",
        "usr/share/doc",
        "usr/share/doc/tool",
        "usr/share/doc/tool/README",
    ]
    with pytest.raises(PackagingError, match="two entries"):
        complete_tree([DataEntry.blob("a", b"1"), DataEntry.blob("a", b"2")])
    with pytest.raises(PackagingError):
        DataEntry.blob("../etc/passwd", b"x")


def test_tar_looks_like_dpkg_debs() -> None:
    entries = complete_tree(
        [
            DataEntry.blob("usr/bin/tool", b"#!/bin/sh\n", 0o755),
            DataEntry.symlink("usr/bin/t", "tool"),
            DataEntry.blob("usr/share/doc/tool/" + "n" * 120, b"long name"),
        ]
    )
    raw = tar_bytes(entries, MTIME)
    assert len(raw) % debwriter.TAR_RECORD == 0
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        members = tf.getmembers()
        names = [m.name for m in members]
        assert raw[:3] == b"./\x00"  # tarfile strips the slash when reading; the header has it
        assert names[0] == "."
        assert "./usr/bin/tool" in names and "./usr/share/doc/tool/" + "n" * 120 in names
        for m in members:
            assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "root", "root", MTIME)
        assert tf.getmember("./usr/bin/t").linkname == "tool"
    # GNU format like dpkg-deb's tar: "ustar  \0" magic.
    assert raw[257:265] == b"ustar  \x00"


def _deb(
    tmp: Path, name: str, entries: list[DataEntry], compression: debwriter.Compression, comp: BlockCompressor
) -> Path:
    written = write_deb(
        tmp / name,
        [DataEntry.blob("control", CONTROL)],
        entries,
        compression=compression,
        mtime=MTIME,
        compressor=comp,
    )
    assert written.size == written.path.stat().st_size
    return written.path


@pytest.mark.parametrize("compression", ["xz", "gzip", "zstd"])
def test_dpkg_deb_reads_what_we_write(
    tmp_path: Path, small_chunks: None, compression: debwriter.Compression
) -> None:
    require_tool("dpkg-deb", "xz")
    big = _random_bytes(900_000, 7)  # four chunks of the big file
    src = tmp_path / "big.bin"
    src.write_bytes(big)
    entries = [
        DataEntry.file("usr/bin/tool", src, 0o755),
        DataEntry.blob("usr/share/doc/tool/copyright", b"free\n"),
        DataEntry.symlink("usr/bin/tool-alias", "tool"),
    ]
    with BlockCompressor(2, xz_preset=1) as comp:
        deb = _deb(tmp_path, "tool_1.0-1_amd64.deb", entries, compression, comp)
    info = subprocess.run(["dpkg-deb", "--info", str(deb)], check=True, capture_output=True, text=True).stdout
    assert "Package: tool" in info and "Version: 1.0-1" in info
    contents = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], check=True, capture_output=True, text=True
    ).stdout
    lines = contents.splitlines()
    assert lines[0].startswith("drwxr-xr-x root/root") and lines[0].endswith(" ./")
    assert any(line.startswith("-rwxr-xr-x root/root") and line.endswith(" ./usr/bin/tool") for line in lines)
    assert any(line.endswith("./usr/bin/tool-alias -> tool") for line in lines)
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        extracted = tf.extractfile("./usr/bin/tool")
        assert extracted is not None and extracted.read() == big
    members = subprocess.run(["ar", "t", str(deb)], check=True, capture_output=True, text=True).stdout.split()
    ext = {"xz": "xz", "gzip": "gz", "zstd": "zst"}[compression]
    assert members == ["debian-binary", f"control.tar.{ext}", f"data.tar.{ext}"]
    if compression == "xz":
        subprocess.run(["ar", "x", str(deb), "data.tar.xz"], check=True, cwd=tmp_path)
        subprocess.run(["xz", "-t", str(tmp_path / "data.tar.xz")], check=True)


def test_same_inputs_same_bytes_whatever_the_threads(tmp_path: Path, small_chunks: None) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(_random_bytes(700_000, 3))
    entries = [DataEntry.file("usr/bin/tool", src, 0o755), DataEntry.blob("usr/share/doc/tool/x", b"x")]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with BlockCompressor(1, xz_preset=1) as one, BlockCompressor(4, xz_preset=1) as four:
        a = _deb(tmp_path / "a", "t.deb", entries, "xz", one)
        b = _deb(tmp_path / "b", "t.deb", entries, "xz", four)
    assert a.read_bytes() == b.read_bytes()


def test_big_file_blocks_are_compressed_once_and_shared(
    tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = debwriter._xz_piece

    def counting(data: bytes, preset: int) -> Piece:
        calls.append(len(data))
        return real(data, preset)

    monkeypatch.setattr(debwriter, "_xz_piece", counting)
    src = tmp_path / "big.bin"
    src.write_bytes(_random_bytes(600_000, 5))
    with BlockCompressor(2, xz_preset=1) as comp:
        comp.prefetch([DataEntry.file("usr/bin/tool", src, 0o755)], "xz")
        for suite in ("bookworm", "trixie", "forky", "sid"):
            entries = [
                DataEntry.file("usr/bin/tool", src, 0o755),
                DataEntry.blob("usr/share/doc/tool/changelog", suite.encode()),
            ]
            _deb(tmp_path, f"t_{suite}.deb", entries, "xz", comp)
    big_blocks = [n for n in calls if n >= 100_000]
    assert len(big_blocks) == len(debwriter.chunk_bounds(600_000))  # once, not four times


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: BlockCompressor, compression: str, segments: list[InlineSegment]) -> list[bytes]:
        raise PackagingError("compression failed")

    monkeypatch.setattr(BlockCompressor, "compress_stream", broken)
    with BlockCompressor(1) as comp, pytest.raises(PackagingError):
        _deb(tmp_path, "t.deb", [DataEntry.blob("usr/bin/x", b"x")], "xz", comp)
    assert os.listdir(tmp_path) == []


def test_write_failure_leaves_no_temp_file(tmp_path: Path) -> None:
    with BlockCompressor(1) as comp, pytest.raises(PackagingError):
        _deb(tmp_path / "missing-dir", "t.deb", [DataEntry.blob("usr/bin/x", b"x")], "xz", comp)
