"""ELF parsing and architecture verification against the suite table."""

from __future__ import annotations

import contextlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multiarch.elf import ElfInfo, parse_elf, read_elf, shlib_depends, verify_arch
from multiarch.errors import ArchitectureError, PackagingError
from multiarch.extract import extract_asset
from multiarch.suites import default_table, get_arch
from tests.support.uv_release import minimal_elf


def _write(tmp: Path, data: bytes, name: str = "bin") -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _elf_for(arch: str, *, flags: int | None = None) -> bytes:
    info = get_arch(arch)
    if flags is None:
        flags = (
            0x05000400 if info.arm_float_abi == "hard" else 0x05000200 if info.arm_float_abi == "soft" else 0
        )
    return minimal_elf(info.elf_ei_class, info.elf_ei_data, info.e_machine, flags)


@pytest.mark.parametrize("arch", default_table().supported_arches())
def test_every_table_arch_accepts_its_own_binaries(tmp_path: Path, arch: str) -> None:
    info = read_elf(_write(tmp_path, _elf_for(arch)))
    assert info is not None
    verify_arch(info, get_arch(arch), path="usr/bin/tool")
    assert info.is_executable and info.is_static


def test_x86_64_binary_offered_as_i386_is_refused(tmp_path: Path) -> None:
    info = read_elf(_write(tmp_path, _elf_for("amd64")))
    assert info is not None
    with pytest.raises(ArchitectureError) as exc:
        verify_arch(info, get_arch("i386"), path="tool-1.0/tool", asset="tool-i686-linux.tar.gz")
    assert exc.value.category == "architecture"
    message = str(exc.value)
    assert "x86-64" in message and "offered as i386" in message
    assert "tool-i686-linux.tar.gz" in message and "tool-1.0/tool" in message
    assert exc.value.remediation


@pytest.mark.parametrize(
    ("have", "want"),
    [("amd64", "arm64"), ("arm64", "amd64"), ("i386", "amd64"), ("s390x", "ppc64el"), ("armhf", "arm64")],
)
def test_machine_class_or_byte_order_mismatch(tmp_path: Path, have: str, want: str) -> None:
    info = read_elf(_write(tmp_path, _elf_for(have)))
    assert info is not None
    with pytest.raises(ArchitectureError, match=f"offered as {want}"):
        verify_arch(info, get_arch(want), path="x")


def test_big_endian_ppc64_is_not_ppc64el(tmp_path: Path) -> None:
    info = read_elf(_write(tmp_path, minimal_elf(2, 2, 21)))
    assert info is not None
    with pytest.raises(ArchitectureError, match="big-endian"):
        verify_arch(info, get_arch("ppc64el"), path="x")


def test_arm_float_abi_and_eabi(tmp_path: Path) -> None:
    soft = read_elf(_write(tmp_path, minimal_elf(1, 1, 40, 0x05000200), "soft"))
    hard = read_elf(_write(tmp_path, minimal_elf(1, 1, 40, 0x05000400), "hard"))
    oabi = read_elf(_write(tmp_path, minimal_elf(1, 1, 40, 0), "oabi"))
    assert soft is not None and hard is not None and oabi is not None
    verify_arch(hard, get_arch("armhf"), path="x")
    verify_arch(soft, get_arch("armel"), path="x")
    with pytest.raises(ArchitectureError, match=r"soft-float \(armel\) binary offered as armhf"):
        verify_arch(soft, get_arch("armhf"), path="x")
    with pytest.raises(ArchitectureError, match=r"hard-float \(armhf\) binary offered as armel"):
        verify_arch(hard, get_arch("armel"), path="x")
    with pytest.raises(ArchitectureError, match="EABI"):
        verify_arch(oabi, get_arch("armhf"), path="x")


def test_foreign_os_abi_is_refused(tmp_path: Path) -> None:
    data = bytearray(_elf_for("amd64"))
    data[7] = 9  # ELFOSABI_FREEBSD
    info = read_elf(_write(tmp_path, bytes(data)))
    assert info is not None
    with pytest.raises(ArchitectureError, match="FreeBSD"):
        verify_arch(info, get_arch("amd64"), path="x")


def test_not_elf_and_truncated(tmp_path: Path) -> None:
    assert read_elf(_write(tmp_path, b"#!/bin/sh\necho hi\n")) is None
    with pytest.raises(PackagingError, match="truncated"):
        read_elf(_write(tmp_path, b"\x7fELF\x02\x01\x01", "short"))


def test_dynamic_section_of_a_real_host_binary() -> None:
    info = read_elf(Path("/bin/ls"))
    assert info is not None
    assert info.interpreter and "ld-linux" in info.interpreter
    assert "libc.so.6" in info.needed
    assert info.glibc_versions and info.glibc_versions[-1] >= (2, 17)
    deps = shlib_depends([info])
    assert deps[0].startswith("libc6 (>= 2.")
    readelf = shutil.which("readelf")
    if readelf:
        out = subprocess.run([readelf, "-d", "/bin/ls"], capture_output=True, text=True, check=True).stdout
        needed = [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]
        assert list(info.needed) == needed


@pytest.fixture(scope="module")
def uv_binaries(uv_release_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ElfInfo]:
    out: dict[str, ElfInfo] = {}
    for arch, target in (("amd64", "x86_64-unknown-linux-gnu"), ("arm64", "aarch64-unknown-linux-gnu")):
        asset = uv_release_dir / f"uv-{target}.tar.gz"
        root = tmp_path_factory.mktemp(arch)
        extract_asset(asset, root / "x")
        info = read_elf(root / "x" / f"uv-{target}" / "uv")
        assert info is not None
        out[arch] = info
    return out


def test_real_uv_binaries(uv_binaries: dict[str, ElfInfo]) -> None:
    amd64, arm64 = uv_binaries["amd64"], uv_binaries["arm64"]
    verify_arch(amd64, get_arch("amd64"), path="uv")
    verify_arch(arm64, get_arch("arm64"), path="uv")
    assert shlib_depends([amd64]) == ("libc6 (>= 2.16)", "libgcc-s1")
    # uv's aarch64 "gnu" build is really a static musl binary: no libc dependency to declare.
    assert arm64.is_static and shlib_depends([arm64]) == ()
    with pytest.raises(ArchitectureError, match="offered as i386"):
        verify_arch(amd64, get_arch("i386"), path="uv")


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=400), st.sampled_from([1, 2]), st.sampled_from([1, 2]))
def test_parser_never_crashes_on_garbage(tail: bytes, ei_class: int, ei_data: int) -> None:
    data = b"\x7fELF" + bytes([ei_class, ei_data, 1, 0]) + bytes(8) + tail

    def read(offset: int, size: int) -> bytes:
        return data[offset : offset + size] if offset >= 0 and size >= 0 else b""

    with contextlib.suppress(PackagingError):
        parse_elf(read)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**64 - 1),
    st.binary(min_size=0, max_size=200),
)
def test_parser_survives_hostile_table_offsets(phnum: int, shnum: int, phoff: int, tail: bytes) -> None:
    ident = b"\x7fELF\x02\x01\x01\x00" + bytes(8)
    header = struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, phoff, 64, 0, 64, 56, phnum, 64, shnum, 0)
    data = ident + header + tail

    def read(offset: int, size: int) -> bytes:
        return data[offset : offset + size] if offset >= 0 and size >= 0 else b""

    info = parse_elf(read)
    assert info.machine == 62
