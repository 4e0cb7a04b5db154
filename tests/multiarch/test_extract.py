"""Safe extraction: every archive kind, every escape, bombs, and broken archives."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from multiarch.discovery import ArchiveKind
from multiarch.errors import PackagingError, SecurityError
from multiarch.extract import ExtractLimits, extract_asset

ELF = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00" + bytes(100)

Member = tuple[str, str, bytes | str, int]  # (name, type, data or link target, mode)


def tar_bytes(members: list[Member]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, kind, payload, mode in members:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if kind == "file":
                assert isinstance(payload, bytes)
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "sym": tarfile.SYMTYPE,
                "hard": tarfile.LNKTYPE,
                "chr": tarfile.CHRTYPE,
                "blk": tarfile.BLKTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[kind]
            if kind in ("sym", "hard"):
                assert isinstance(payload, str)
                info.linkname = payload
            tf.addfile(info)
    return raw.getvalue()


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "tar.gz": lambda d: gzip.compress(d, mtime=0),
    "tgz": lambda d: gzip.compress(d, mtime=0),
    "tar.xz": lzma.compress,
    "tar.bz2": bz2.compress,
    "tar.zst": lambda d: zstandard.ZstdCompressor().compress(d),
    "tar": lambda d: d,
}


def write_tar(tmp: Path, members: list[Member], suffix: str = "tar.gz", name: str = "tool") -> Path:
    path = tmp / f"{name}.{suffix}"
    path.write_bytes(COMPRESSORS[suffix](tar_bytes(members)))
    return path


def extract(path: Path, tmp: Path, **kwargs: object) -> tuple[Path, object]:
    dest = tmp / "out"
    return dest, extract_asset(path, dest, **kwargs)  # type: ignore[arg-type]


def everything_inside(root: Path, outside: Path) -> None:
    """Nothing was created next to the extraction root."""
    assert sorted(p.name for p in outside.iterdir()) == sorted(
        ["out", *[p.name for p in outside.iterdir() if p.name != "out"]]
    )


BASIC: list[Member] = [
    ("tool-1.0/", "dir", b"", 0o755),
    ("tool-1.0/bin/tool", "file", ELF, 0o755),
    ("tool-1.0/README.md", "file", b"# tool\n", 0o644),
    ("tool-1.0/bin/t", "sym", "tool", 0o777),
]


@pytest.mark.parametrize("suffix", list(COMPRESSORS))
def test_every_tar_kind(tmp_path: Path, suffix: str) -> None:
    asset = write_tar(tmp_path, BASIC, suffix)
    dest, result = extract(asset, tmp_path)
    assert (dest / "tool-1.0/bin/tool").read_bytes() == ELF
    assert os.readlink(dest / "tool-1.0/bin/t") == "tool"
    assert stat.S_IMODE((dest / "tool-1.0/bin/tool").stat().st_mode) == 0o755
    kinds = {e.path: e.kind for e in result.entries}  # type: ignore[attr-defined]
    assert kinds["tool-1.0/bin/t"] == "symlink"
    assert result.kind.value == ("tar.gz" if suffix == "tgz" else suffix)  # type: ignore[attr-defined]


def test_zip_with_symlink_and_modes(tmp_path: Path) -> None:
    path = tmp_path / "tool.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("tool/tool")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        info.create_system = 3
        zf.writestr(info, ELF)
        link = zipfile.ZipInfo("tool/link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        link.create_system = 3
        zf.writestr(link, "tool")
        zf.writestr("tool/doc/", b"")
    dest, result = extract(path, tmp_path)
    assert (dest / "tool/tool").read_bytes() == ELF
    assert os.access(dest / "tool/tool", os.X_OK)
    assert os.readlink(dest / "tool/link") == "tool"
    assert result.kind is ArchiveKind.ZIP  # type: ignore[attr-defined]


def test_bare_binary_and_single_file_gz(tmp_path: Path) -> None:
    bare = tmp_path / "yq_linux_amd64"
    bare.write_bytes(ELF)
    dest, result = extract(bare, tmp_path)
    assert (dest / "yq_linux_amd64").read_bytes() == ELF
    assert os.access(dest / "yq_linux_amd64", os.X_OK)
    assert result.kind is ArchiveKind.BINARY  # type: ignore[attr-defined]

    gz = tmp_path / "tool-linux-amd64.gz"
    gz.write_bytes(gzip.compress(ELF))
    dest2 = tmp_path / "gzout"
    res2 = extract_asset(gz, dest2)
    assert (dest2 / "tool-linux-amd64").read_bytes() == ELF
    assert os.access(dest2 / "tool-linux-amd64", os.X_OK)
    assert res2.kind is ArchiveKind.GZIP


def test_kind_comes_from_magic_when_the_name_lies(tmp_path: Path) -> None:
    # Named .tar.gz, really an xz tarball: the bytes decide.
    path = tmp_path / "tool.tar.gz"
    path.write_bytes(lzma.compress(tar_bytes(BASIC)))
    dest, result = extract(path, tmp_path)
    assert result.kind is ArchiveKind.TAR_XZ  # type: ignore[attr-defined]
    assert (dest / "tool-1.0/bin/tool").exists()


def test_error_page_named_like_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "tool.tar.gz"
    path.write_bytes(b"<html><body>404 Not Found</body></html>")
    with pytest.raises(PackagingError, match=r"tool\.tar\.gz"):
        extract(path, tmp_path)


@pytest.mark.parametrize("suffix", ["tar.gz", "tar.xz", "tar.bz2", "tar.zst"])
def test_truncated_archive_names_asset_and_entry(tmp_path: Path, suffix: str) -> None:
    # Several bzip2 blocks (900 kB each), so the first ones decode before the cut.
    big = os.urandom(2_500_000)
    data = COMPRESSORS[suffix](tar_bytes([("tool/big.bin", "file", big, 0o644)]))
    path = tmp_path / f"tool.{suffix}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(PackagingError) as info:
        extract(path, tmp_path)
    assert "tool." in str(info.value)
    assert "tool/big.bin" in str(info.value)


def test_truncated_zip(tmp_path: Path) -> None:
    path = tmp_path / "tool.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("tool/big.bin", os.urandom(100_000))
    path.write_bytes(path.read_bytes()[:50_000])
    with pytest.raises(PackagingError, match=r"tool\.zip"):
        extract(path, tmp_path)


# ----------------------------------------------------------------------------- hostile entries


@pytest.mark.parametrize(
    ("members", "needle"),
    [
        ([("../evil", "file", b"x", 0o644)], "'..'"),
        ([("a/../../evil", "file", b"x", 0o644)], "'..'"),
        ([("/etc/evil", "file", b"x", 0o644)], "absolute"),
        ([("link", "sym", "/etc", 0o777)], "absolute symlink"),
        ([("link", "sym", "../outside", 0o777)], "escapes"),
        ([("a/link", "sym", "../../x", 0o777)], "escapes"),
        ([("hard", "hard", "../outside", 0o644)], "hardlink"),
        ([("hard", "hard", "/etc/passwd", 0o644)], "hardlink"),
        ([("hard", "hard", "not-extracted", 0o644)], "hardlink"),
        ([("dev", "chr", b"", 0o644)], "device"),
        ([("dev", "blk", b"", 0o644)], "device"),
        ([("fifo", "fifo", b"", 0o644)], "FIFO"),
        # Write through a link planted earlier in the same archive.
        ([("d", "sym", ".", 0o777), ("d/x", "file", b"x", 0o644)], "symlink"),
        (
            [("sub/", "dir", b"", 0o755), ("sub/l", "sym", "..", 0o777), ("sub/l/x", "file", b"x", 0o644)],
            "symlink",
        ),
        # A chain whose parts look harmless on their own: d/b -> .. is the root, a -> d/b/.. is above it.
        ([("d/", "dir", b"", 0o755), ("d/b", "sym", "..", 0o777), ("a", "sym", "d/b/..", 0o777)], "outside"),
        ([("x", "sym", "y", 0o777), ("x/", "dir", b"", 0o755)], "symlink"),
    ],
)
def test_hostile_tar_entries_are_refused(tmp_path: Path, members: list[Member], needle: str) -> None:
    asset = write_tar(tmp_path, members)
    with pytest.raises(SecurityError) as info:
        extract(asset, tmp_path)
    assert "tool.tar.gz" in str(info.value)
    assert needle.lower() in str(info.value).lower()
    assert info.value.category == "security"
    assert not (tmp_path / "evil").exists() and not (tmp_path / "outside").exists()


def test_setuid_setgid_sticky_are_dropped(tmp_path: Path) -> None:
    asset = write_tar(tmp_path, [("tool", "file", ELF, 0o6755), ("dir/", "dir", b"", 0o1777)])
    dest, _ = extract(asset, tmp_path)
    mode = stat.S_IMODE((dest / "tool").stat().st_mode)
    assert mode == 0o755
    assert not stat.S_IMODE((dest / "dir").stat().st_mode) & 0o7000


def test_duplicate_entries_last_wins_and_never_writes_through_an_earlier_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    asset = write_tar(
        tmp_path,
        [
            ("tool", "file", b"first", 0o644),
            ("tool", "file", b"second", 0o644),
            ("l", "sym", "tool", 0o777),
            ("l", "file", b"replaced the link", 0o644),
        ],
    )
    dest, _ = extract(asset, tmp_path)
    assert (dest / "tool").read_bytes() == b"second"
    assert not (dest / "l").is_symlink()
    assert (dest / "l").read_bytes() == b"replaced the link"
    assert victim.read_text() == "keep"


def test_a_file_never_replaces_a_directory(tmp_path: Path) -> None:
    asset = write_tar(
        tmp_path, [("d/", "dir", b"", 0o755), ("d/x", "file", b"x", 0o644), ("d", "file", b"y", 0o644)]
    )
    with pytest.raises(PackagingError, match="replaces a directory"):
        extract(asset, tmp_path)


def test_internal_links_are_kept(tmp_path: Path) -> None:
    asset = write_tar(
        tmp_path,
        [
            ("t/bin/tool", "file", ELF, 0o755),
            ("t/bin/alias", "sym", "tool", 0o777),
            ("t/lib/l", "sym", "../bin/tool", 0o777),
            ("t/bin/hard", "hard", "t/bin/tool", 0o755),
        ],
    )
    dest, _ = extract(asset, tmp_path)
    assert (dest / "t/lib/l").resolve() == (dest / "t/bin/tool").resolve()
    assert (dest / "t/bin/hard").read_bytes() == ELF


@pytest.mark.parametrize(
    ("name", "needle"),
    [("../evil", "'..'"), ("/abs/evil", "absolute"), ("C:/evil", "drive"), ("..\\evil", "'..'")],
)
def test_hostile_zip_names(tmp_path: Path, name: str, needle: str) -> None:
    path = tmp_path / "tool.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name, b"x")
    with pytest.raises(SecurityError, match=needle):
        extract(path, tmp_path)


def test_zip_symlink_escape(tmp_path: Path) -> None:
    path = tmp_path / "tool.zip"
    with zipfile.ZipFile(path, "w") as zf:
        link = zipfile.ZipInfo("link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        link.create_system = 3
        zf.writestr(link, "../../etc")
    with pytest.raises(SecurityError, match="escapes"):
        extract(path, tmp_path)


# ----------------------------------------------------------------------------- bombs


def test_ratio_bomb_is_stopped_while_streaming(tmp_path: Path) -> None:
    # 64 MiB of zeros compress ~1000x; the declared size is honest, the ratio is not.
    zeros = bytes(64 * 1024 * 1024)
    asset = write_tar(tmp_path, [("bomb", "file", zeros, 0o644)])
    with pytest.raises(SecurityError, match="ratio"):
        extract(asset, tmp_path)


def test_total_size_and_entry_limits(tmp_path: Path) -> None:
    asset = write_tar(tmp_path, [(f"f{i}", "file", os.urandom(1000), 0o644) for i in range(20)])
    with pytest.raises(SecurityError, match="entries"):
        extract_asset(asset, tmp_path / "a", limits=ExtractLimits(max_entries=10))
    with pytest.raises(SecurityError, match="exceed"):
        extract_asset(asset, tmp_path / "b", limits=ExtractLimits(max_total_bytes=5000))


def test_zip_bomb_ratio(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb", bytes(32 * 1024 * 1024))
    with pytest.raises(SecurityError, match="ratio"):
        extract(path, tmp_path)


def test_single_file_gz_bomb(tmp_path: Path) -> None:
    path = tmp_path / "tool.gz"
    path.write_bytes(gzip.compress(bytes(64 * 1024 * 1024)))
    with pytest.raises(SecurityError, match="ratio"):
        extract(path, tmp_path)


def test_destination_must_be_empty(tmp_path: Path) -> None:
    asset = write_tar(tmp_path, BASIC)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x")
    with pytest.raises(PackagingError, match="not empty"):
        extract(asset, tmp_path)


# ----------------------------------------------------------------------------- property


_segment = st.sampled_from(["a", "b", "..", ".", "", "/", "c d", "lnk"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    entries=st.lists(
        st.tuples(
            st.lists(_segment, min_size=1, max_size=4).map("/".join),
            st.sampled_from(["file", "dir", "sym", "hard"]),
            st.lists(_segment, min_size=1, max_size=4).map("/".join),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_nothing_ever_lands_outside_the_root(
    tmp_path_factory: pytest.TempPathFactory, entries: list[tuple[str, str, str]]
) -> None:
    base = tmp_path_factory.mktemp("prop")
    sandbox = base / "sandbox"
    sandbox.mkdir()
    members: list[Member] = []
    for name, kind, target in entries:
        if not name.strip("/"):
            continue
        if kind == "file":
            members.append((name, "file", b"data", 0o644))
        elif kind == "dir":
            members.append((name, "dir", b"", 0o755))
        else:
            members.append((name, kind, target or ".", 0o777))
    if not members:
        return
    asset = base / "p.tar"
    asset.write_bytes(tar_bytes(members))
    root = sandbox / "root"
    with contextlib.suppress(SecurityError, PackagingError):
        extract_asset(asset, root)
    # Only the root itself may have appeared in the sandbox, and nothing in it resolves outside.
    assert [p.name for p in sandbox.iterdir()] == ["root"]
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for item in dirnames + filenames:
            path = os.path.join(dirpath, item)
            if os.path.islink(path):
                assert (
                    os.path.realpath(path).startswith(real_root + os.sep)
                    or os.path.realpath(path) == real_root
                )
