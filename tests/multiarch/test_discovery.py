"""Asset name -> Debian arch, on real release asset lists and the classic mistakes."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multiarch.discovery import ArchiveKind, classify, detect_kind, discover
from multiarch.errors import ConfigError
from tests.support.uv_release import minimal_elf

# -- real release asset lists (as published) -----------------------------------------------------

UV_0_5_11 = [
    "dist-manifest.json", "sha256.sum", "source.tar.gz", "source.tar.gz.sha256",
    "uv-aarch64-apple-darwin.tar.gz", "uv-aarch64-apple-darwin.tar.gz.sha256",
    "uv-aarch64-pc-windows-msvc.zip", "uv-aarch64-pc-windows-msvc.zip.sha256",
    "uv-aarch64-unknown-linux-gnu.tar.gz", "uv-aarch64-unknown-linux-gnu.tar.gz.sha256",
    "uv-aarch64-unknown-linux-musl.tar.gz", "uv-aarch64-unknown-linux-musl.tar.gz.sha256",
    "uv-arm-unknown-linux-musleabihf.tar.gz", "uv-arm-unknown-linux-musleabihf.tar.gz.sha256",
    "uv-armv7-unknown-linux-gnueabihf.tar.gz", "uv-armv7-unknown-linux-gnueabihf.tar.gz.sha256",
    "uv-armv7-unknown-linux-musleabihf.tar.gz", "uv-armv7-unknown-linux-musleabihf.tar.gz.sha256",
    "uv-i686-pc-windows-msvc.zip", "uv-i686-pc-windows-msvc.zip.sha256",
    "uv-i686-unknown-linux-gnu.tar.gz", "uv-i686-unknown-linux-gnu.tar.gz.sha256",
    "uv-i686-unknown-linux-musl.tar.gz", "uv-i686-unknown-linux-musl.tar.gz.sha256",
    "uv-installer.ps1", "uv-installer.sh",
    "uv-powerpc64-unknown-linux-gnu.tar.gz", "uv-powerpc64-unknown-linux-gnu.tar.gz.sha256",
    "uv-powerpc64le-unknown-linux-gnu.tar.gz", "uv-powerpc64le-unknown-linux-gnu.tar.gz.sha256",
    "uv-s390x-unknown-linux-gnu.tar.gz", "uv-s390x-unknown-linux-gnu.tar.gz.sha256",
    "uv-x86_64-apple-darwin.tar.gz", "uv-x86_64-apple-darwin.tar.gz.sha256",
    "uv-x86_64-pc-windows-msvc.zip", "uv-x86_64-pc-windows-msvc.zip.sha256",
    "uv-x86_64-unknown-linux-gnu.tar.gz", "uv-x86_64-unknown-linux-gnu.tar.gz.sha256",
    "uv-x86_64-unknown-linux-musl.tar.gz", "uv-x86_64-unknown-linux-musl.tar.gz.sha256",
]  # fmt: skip

EZA_0_20_10 = [
    "completions-0.20.10.tar.gz", "man-0.20.10.tar.gz",
    "eza_aarch64-unknown-linux-gnu.tar.gz", "eza_aarch64-unknown-linux-gnu.zip",
    "eza_arm-unknown-linux-gnueabihf.tar.gz", "eza_arm-unknown-linux-gnueabihf.zip",
    "eza_x86_64-pc-windows-gnu.tar.gz", "eza_x86_64-pc-windows-gnu.zip",
    "eza_x86_64-unknown-linux-gnu.tar.gz", "eza_x86_64-unknown-linux-gnu.zip",
    "eza_x86_64-unknown-linux-musl.tar.gz", "eza_x86_64-unknown-linux-musl.zip",
]  # fmt: skip

LAZYGIT_0_44_1 = [
    "checksums.txt",
    "lazygit_0.44.1_Darwin_arm64.tar.gz", "lazygit_0.44.1_Darwin_x86_64.tar.gz",
    "lazygit_0.44.1_Freebsd_32-bit.tar.gz", "lazygit_0.44.1_Freebsd_arm64.tar.gz",
    "lazygit_0.44.1_Freebsd_armv6.tar.gz", "lazygit_0.44.1_Freebsd_x86_64.tar.gz",
    "lazygit_0.44.1_Linux_32-bit.tar.gz", "lazygit_0.44.1_Linux_arm64.tar.gz",
    "lazygit_0.44.1_Linux_armv6.tar.gz", "lazygit_0.44.1_Linux_x86_64.tar.gz",
    "lazygit_0.44.1_Windows_32-bit.zip", "lazygit_0.44.1_Windows_arm64.zip",
    "lazygit_0.44.1_Windows_armv6.zip", "lazygit_0.44.1_Windows_x86_64.zip",
]  # fmt: skip

YQ_4_44_3 = [
    "checksums", "checksums-bsd", "checksums_hashes_order", "extract-checksum.sh",
    "yq_darwin_amd64", "yq_darwin_amd64.tar.gz", "yq_darwin_arm64", "yq_darwin_arm64.tar.gz",
    "yq_freebsd_386", "yq_freebsd_386.tar.gz", "yq_freebsd_amd64", "yq_freebsd_amd64.tar.gz",
    "yq_freebsd_arm", "yq_freebsd_arm.tar.gz",
    "yq_linux_386", "yq_linux_386.tar.gz", "yq_linux_amd64", "yq_linux_amd64.tar.gz",
    "yq_linux_arm", "yq_linux_arm.tar.gz", "yq_linux_arm64", "yq_linux_arm64.tar.gz",
    "yq_linux_mips", "yq_linux_mips.tar.gz", "yq_linux_mips64", "yq_linux_mips64.tar.gz",
    "yq_linux_mips64le", "yq_linux_mips64le.tar.gz", "yq_linux_mipsle", "yq_linux_mipsle.tar.gz",
    "yq_linux_ppc64", "yq_linux_ppc64.tar.gz", "yq_linux_ppc64le", "yq_linux_ppc64le.tar.gz",
    "yq_linux_riscv64", "yq_linux_riscv64.tar.gz", "yq_linux_s390x", "yq_linux_s390x.tar.gz",
    "yq_man_page_only.tar.gz",
    "yq_netbsd_386", "yq_netbsd_386.tar.gz", "yq_netbsd_amd64", "yq_netbsd_amd64.tar.gz",
    "yq_openbsd_386", "yq_openbsd_386.tar.gz", "yq_openbsd_amd64", "yq_openbsd_amd64.tar.gz",
    "yq_windows_386.exe", "yq_windows_386.zip", "yq_windows_amd64.exe", "yq_windows_amd64.zip",
]  # fmt: skip

RIPGREP_14_1_1 = [
    "ripgrep-14.1.1-aarch64-apple-darwin.tar.gz", "ripgrep-14.1.1-aarch64-apple-darwin.tar.gz.sha256",
    "ripgrep-14.1.1-aarch64-unknown-linux-gnu.tar.gz",
    "ripgrep-14.1.1-aarch64-unknown-linux-gnu.tar.gz.sha256",
    "ripgrep-14.1.1-armv7-unknown-linux-gnueabihf.tar.gz",
    "ripgrep-14.1.1-armv7-unknown-linux-gnueabihf.tar.gz.sha256",
    "ripgrep-14.1.1-armv7-unknown-linux-musleabi.tar.gz",
    "ripgrep-14.1.1-armv7-unknown-linux-musleabi.tar.gz.sha256",
    "ripgrep-14.1.1-armv7-unknown-linux-musleabihf.tar.gz",
    "ripgrep-14.1.1-armv7-unknown-linux-musleabihf.tar.gz.sha256",
    "ripgrep-14.1.1-i686-pc-windows-msvc.zip", "ripgrep-14.1.1-i686-pc-windows-msvc.zip.sha256",
    "ripgrep-14.1.1-i686-unknown-linux-gnu.tar.gz", "ripgrep-14.1.1-i686-unknown-linux-gnu.tar.gz.sha256",
    "ripgrep-14.1.1-powerpc64-unknown-linux-gnu.tar.gz",
    "ripgrep-14.1.1-powerpc64-unknown-linux-gnu.tar.gz.sha256",
    "ripgrep-14.1.1-s390x-unknown-linux-gnu.tar.gz", "ripgrep-14.1.1-s390x-unknown-linux-gnu.tar.gz.sha256",
    "ripgrep-14.1.1-x86_64-apple-darwin.tar.gz", "ripgrep-14.1.1-x86_64-apple-darwin.tar.gz.sha256",
    "ripgrep-14.1.1-x86_64-pc-windows-gnu.zip", "ripgrep-14.1.1-x86_64-pc-windows-gnu.zip.sha256",
    "ripgrep-14.1.1-x86_64-pc-windows-msvc.zip", "ripgrep-14.1.1-x86_64-pc-windows-msvc.zip.sha256",
    "ripgrep-14.1.1-x86_64-unknown-linux-musl.tar.gz",
    "ripgrep-14.1.1-x86_64-unknown-linux-musl.tar.gz.sha256",
    "ripgrep_14.1.1-1_amd64.deb", "ripgrep_14.1.1-1_amd64.deb.sha256",
]  # fmt: skip

NEOVIM_0_10_3 = [
    "nvim-linux64.tar.gz", "nvim-linux64.tar.gz.sha256sum",
    "nvim-macos-arm64.tar.gz", "nvim-macos-arm64.tar.gz.sha256sum",
    "nvim-macos-x86_64.tar.gz", "nvim-macos-x86_64.tar.gz.sha256sum",
    "nvim-win64.msi", "nvim-win64.msi.sha256sum", "nvim-win64.zip", "nvim-win64.zip.sha256sum",
    "nvim.appimage", "nvim.appimage.sha256sum", "nvim.appimage.zsync", "nvim.appimage.zsync.sha256sum",
]  # fmt: skip

NEOVIM_0_11_0 = [
    "nvim-linux-arm64.appimage", "nvim-linux-arm64.appimage.zsync", "nvim-linux-arm64.tar.gz",
    "nvim-linux-x86_64.appimage", "nvim-linux-x86_64.appimage.zsync", "nvim-linux-x86_64.tar.gz",
    "nvim-macos-arm64.tar.gz", "nvim-macos-x86_64.tar.gz", "nvim-win64.msi", "nvim-win64.zip", "shasum.txt",
]  # fmt: skip


# What discovery must pick from uv's release, whether from the API listing or the real folder.
UV_CHOSEN = {
    "amd64": "uv-x86_64-unknown-linux-gnu.tar.gz",
    "arm64": "uv-aarch64-unknown-linux-gnu.tar.gz",
    "armhf": "uv-armv7-unknown-linux-gnueabihf.tar.gz",
    "i386": "uv-i686-unknown-linux-gnu.tar.gz",
    "ppc64el": "uv-powerpc64le-unknown-linux-gnu.tar.gz",
    "s390x": "uv-s390x-unknown-linux-gnu.tar.gz",
}


def test_uv_release_every_arch_with_reasons() -> None:
    d = discover(UV_0_5_11)
    assert d.as_mapping() == UV_CHOSEN
    assert {s.arch for s in d.skipped} == {"armel", "riscv64", "loong64"}
    assert all(s.reason for s in d.skipped)
    # musl lost to gnu, and says so; big-endian ppc64 is not ppc64el.
    assert "gnu is preferred" in (d.rejection("uv-x86_64-unknown-linux-musl.tar.gz") or "")
    assert "big-endian" in (d.rejection("uv-powerpc64-unknown-linux-gnu.tar.gz") or "")
    assert d.rejection("uv-installer.sh") == "an installer script"
    assert d.rejection("sha256.sum") == "checksum file"
    assert d.rejection("source.tar.gz") == "source archive"
    assert "macOS" in (d.rejection("uv-x86_64-apple-darwin.tar.gz") or "")
    chosen_or_rejected = {c.asset for c in d.chosen} | {r.name for r in d.rejected}
    assert chosen_or_rejected == set(UV_0_5_11)  # every asset is accounted for
    amd64 = d.choice("amd64")
    assert amd64 is not None and amd64.kind is ArchiveKind.TAR_GZ and amd64.libc == "gnu"
    assert "uv-x86_64-unknown-linux-musl.tar.gz" in amd64.alternatives


def test_uv_release_folder_from_wheels(uv_release_dir: Path) -> None:
    names = [p.name for p in uv_release_dir.iterdir() if not p.name.startswith(".")]
    d = discover(names)
    assert d.as_mapping() == UV_CHOSEN
    assert [s.arch for s in d.skipped] == ["armel", "riscv64", "loong64"]
    assert "musl" in (d.rejection("uv-x86_64-unknown-linux-musl.tar.gz") or "")
    assert d.rejection("uv-0.5.11.cdx.json") == "SBOM"
    assert d.rejection("uv-x86_64-unknown-linux-gnu.tar.gz.sig") == "signature or attestation"
    assert d.rejection("dist-manifest.json") == "metadata"


def test_eza() -> None:
    d = discover(EZA_0_20_10)
    assert d.as_mapping() == {
        "amd64": "eza_x86_64-unknown-linux-gnu.tar.gz",
        "arm64": "eza_aarch64-unknown-linux-gnu.tar.gz",
        "armhf": "eza_arm-unknown-linux-gnueabihf.tar.gz",  # ARMv6 hard-float runs on armhf
    }
    assert "zip format" in (d.rejection("eza_x86_64-unknown-linux-gnu.zip") or "")
    assert "completion" in (d.rejection("completions-0.20.10.tar.gz") or "")
    assert "man page" in (d.rejection("man-0.20.10.tar.gz") or "")
    assert "Windows" in (d.rejection("eza_x86_64-pc-windows-gnu.tar.gz") or "")


def test_lazygit() -> None:
    d = discover(LAZYGIT_0_44_1)
    assert d.as_mapping() == {
        "amd64": "lazygit_0.44.1_Linux_x86_64.tar.gz",
        "arm64": "lazygit_0.44.1_Linux_arm64.tar.gz",
        "armel": "lazygit_0.44.1_Linux_armv6.tar.gz",
        "i386": "lazygit_0.44.1_Linux_32-bit.tar.gz",
    }
    armhf = d.skip_reason("armhf") or ""
    assert "soft-float" in armhf and "lazygit_0.44.1_Linux_armv6.tar.gz" in armhf
    assert "FreeBSD" in (d.rejection("lazygit_0.44.1_Freebsd_x86_64.tar.gz") or "")
    assert d.rejection("checksums.txt") == "checksum file"


def test_yq() -> None:
    d = discover(YQ_4_44_3)
    assert d.as_mapping() == {
        "amd64": "yq_linux_amd64.tar.gz",
        "arm64": "yq_linux_arm64.tar.gz",
        "armel": "yq_linux_arm.tar.gz",
        "i386": "yq_linux_386.tar.gz",
        "ppc64el": "yq_linux_ppc64le.tar.gz",
        "s390x": "yq_linux_s390x.tar.gz",
        "riscv64": "yq_linux_riscv64.tar.gz",
    }
    assert "binary format" in (d.rejection("yq_linux_amd64") or "")
    assert "big-endian" in (d.rejection("yq_linux_ppc64.tar.gz") or "")
    assert "mips" in (d.rejection("yq_linux_mips64le") or "")
    for name in ("checksums", "checksums-bsd", "checksums_hashes_order"):
        assert d.rejection(name) == "checksum file", name
    assert d.rejection("yq_man_page_only.tar.gz") is not None
    assert d.rejection("yq_windows_amd64.exe") is not None
    assert d.choice("amd64").kind is ArchiveKind.TAR_GZ  # type: ignore[union-attr]


def test_ripgrep_musl_only_amd64_and_soft_float_armv7() -> None:
    d = discover(RIPGREP_14_1_1)
    assert d.as_mapping() == {
        "amd64": "ripgrep-14.1.1-x86_64-unknown-linux-musl.tar.gz",
        "arm64": "ripgrep-14.1.1-aarch64-unknown-linux-gnu.tar.gz",
        "armhf": "ripgrep-14.1.1-armv7-unknown-linux-gnueabihf.tar.gz",
        "armel": "ripgrep-14.1.1-armv7-unknown-linux-musleabi.tar.gz",  # soft-float armv7 is armel
        "i386": "ripgrep-14.1.1-i686-unknown-linux-gnu.tar.gz",
        "s390x": "ripgrep-14.1.1-s390x-unknown-linux-gnu.tar.gz",
    }
    assert "no gnu build" in d.choice("amd64").reason  # type: ignore[union-attr]
    assert "soft-float" in d.choice("armel").reason  # type: ignore[union-attr]
    assert "big-endian" in (d.skip_reason("ppc64el") or "")
    assert "Debian package" in (d.rejection("ripgrep_14.1.1-1_amd64.deb") or "")
    # Forbidding musl leaves amd64 without an asset, and the reason names the musl build.
    strict = discover(RIPGREP_14_1_1, ["amd64"], allow_musl=False)
    assert strict.chosen == ()
    assert "musl" in (strict.skip_reason("amd64") or "")


FZF_0_57_0 = [
    "fzf-0.57.0-darwin_amd64.tar.gz", "fzf-0.57.0-darwin_arm64.tar.gz",
    "fzf-0.57.0-linux_amd64.tar.gz", "fzf-0.57.0-linux_arm64.tar.gz",
    "fzf-0.57.0-linux_armv5.tar.gz", "fzf-0.57.0-linux_armv6.tar.gz", "fzf-0.57.0-linux_armv7.tar.gz",
    "fzf-0.57.0-linux_loong64.tar.gz", "fzf-0.57.0-linux_ppc64le.tar.gz", "fzf-0.57.0-linux_riscv64.tar.gz",
    "fzf-0.57.0-linux_s390x.tar.gz", "fzf-0.57.0-windows_amd64.zip", "fzf-0.57.0-windows_arm64.zip",
    "fzf_0.57.0_checksums.txt",
]  # fmt: skip


def test_fzf_armel_baseline_and_loong64() -> None:
    d = discover(FZF_0_57_0, project="fzf")
    assert d.as_mapping() == {
        "amd64": "fzf-0.57.0-linux_amd64.tar.gz",
        "arm64": "fzf-0.57.0-linux_arm64.tar.gz",
        "armhf": "fzf-0.57.0-linux_armv7.tar.gz",
        "armel": "fzf-0.57.0-linux_armv5.tar.gz",  # ARMv5TE is armel's baseline; armv6 is a fallback
        "ppc64el": "fzf-0.57.0-linux_ppc64le.tar.gz",
        "s390x": "fzf-0.57.0-linux_s390x.tar.gz",
        "riscv64": "fzf-0.57.0-linux_riscv64.tar.gz",
        "loong64": "fzf-0.57.0-linux_loong64.tar.gz",
    }
    assert "i386" in [s.arch for s in d.skipped]
    assert "less exact" in (d.rejection("fzf-0.57.0-linux_armv6.tar.gz") or "")


def test_neovim_legacy_and_new_names() -> None:
    old = discover(NEOVIM_0_10_3)
    assert old.as_mapping() == {"amd64": "nvim-linux64.tar.gz"}
    assert "AppImage" in (old.rejection("nvim.appimage") or "")
    assert old.rejection("nvim.appimage.zsync.sha256sum") == "checksum file"
    new = discover(NEOVIM_0_11_0)
    assert new.as_mapping() == {"amd64": "nvim-linux-x86_64.tar.gz", "arm64": "nvim-linux-arm64.tar.gz"}
    assert new.rejection("shasum.txt") == "checksum file"


# -- the classic mistakes, one name at a time ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arch"),
    [
        ("tool-x86-64-linux.tar.gz", "amd64"),
        ("tool_linux_x86_64.tar.gz", "amd64"),
        ("tool-linux-x64.tar.gz", "amd64"),
        ("tool-linux-amd64", "amd64"),
        ("tool-Linux-64bit.tar.gz", "amd64"),
        ("tool-linux-x86.tar.gz", "i386"),
        ("tool-i686-unknown-linux-gnu.tar.gz", "i386"),
        ("tool_Linux_32-bit.tar.gz", "i386"),
        ("tool-linux-386.tar.gz", "i386"),
        ("tool-i386-linux.tar.xz", "i386"),
        ("tool-aarch64-unknown-linux-gnu.tar.gz", "arm64"),
        ("tool_linux_arm64.tar.gz", "arm64"),
        ("tool-arm-unknown-linux-gnueabihf.tar.gz", "armhf"),
        ("tool-armv7-unknown-linux-gnueabihf.tar.gz", "armhf"),
        ("tool-linux-armhf.tar.gz", "armhf"),
        ("tool-linux-armv7.tar.gz", "armhf"),
        ("tool-armv7l-linux.tar.gz", "armhf"),
        ("tool-arm-unknown-linux-gnueabi.tar.gz", "armel"),
        ("tool-armv7-unknown-linux-musleabi.tar.gz", "armel"),
        ("tool_linux_armv6.tar.gz", "armel"),
        ("tool-linux-armv5.tar.gz", "armel"),
        ("tool-linux-armel.tar.gz", "armel"),
        ("tool-riscv64gc-unknown-linux-gnu.tar.gz", "riscv64"),
        ("tool-linux-riscv64.tar.gz", "riscv64"),
        ("tool-loongarch64-unknown-linux-gnu.tar.gz", "loong64"),
        ("tool-linux-loong64.tar.gz", "loong64"),
        ("tool-powerpc64le-unknown-linux-gnu.tar.gz", "ppc64el"),
        ("tool_linux_ppc64le.tar.gz", "ppc64el"),
        ("tool-s390x-unknown-linux-gnu.tar.zst", "s390x"),
        ("universal-ctags-2024.01.01-linux-x86_64.tar.xz", "amd64"),
    ],
)
def test_arch_tokens(name: str, arch: str) -> None:
    read = classify(name)
    assert read.arch == arch, read.reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("tool-powerpc64-unknown-linux-gnu.tar.gz", "big-endian"),
        ("tool_linux_ppc64", "big-endian"),
        ("tool-aarch64_be-unknown-linux-gnu.tar.gz", "big-endian"),
        ("tool-x86_64-unknown-linux-gnux32.tar.gz", "x32"),
        ("tool-mips64el-unknown-linux-gnuabi64.tar.gz", "mips64el"),
        ("tool-aarch64-linux-android.tar.gz", "Android"),
        ("tool-x86_64-unknown-freebsd.tar.gz", "FreeBSD"),
        ("tool-x86_64-pc-windows-gnu.zip", "Windows"),
        ("tool-x86_64-apple-darwin.tar.gz", "macOS"),
        ("tool-wasm32-wasi.tar.gz", "WebAssembly"),
        ("tool.tar.gz.sha256", "checksum"),
        ("tool.tar.gz.sha512", "checksum"),
        ("SHA256SUMS", "checksum"),
        ("SHA512SUMS.txt", "checksum"),
        ("checksums.txt", "checksum"),
        ("tool_1.0.0_checksums.txt", "checksum"),
        ("tool-linux-amd64.tar.gz.sig", "signature"),
        ("tool-linux-amd64.tar.gz.asc", "signature"),
        ("tool-linux-amd64.tar.gz.minisig", "signature"),
        ("tool-linux-amd64.pem", "signature"),
        ("tool-linux-amd64.sbom", "SBOM"),
        ("tool-1.0.spdx.json", "SBOM"),
        ("tool-1.0.cdx.json", "SBOM"),
        ("tool-1.0-src.tar.gz", "source"),
        ("source.tar.gz", "source"),
        ("tool_1.0_amd64.deb", "Debian package"),
        ("tool-1.0.x86_64.rpm", "RPM"),
        ("tool-x86_64.AppImage", "AppImage"),
        ("tool-1.0-1-x86_64.pkg.tar.zst", "Arch Linux"),
        ("tool-linux-amd64.7z", "does not unpack"),
        ("tool-linux-amd64.tar.lz", "does not unpack"),
        ("checksums.txt.bundle", "signature"),
        ("tool-linux-amd64-debug.tar.gz", "debug"),
        ("README.md", "metadata"),
        ("tool.tar.gz", "no known architecture"),
    ],
)
def test_rejections(name: str, reason: str) -> None:
    read = classify(name)
    assert read.arch is None
    assert reason in read.reason


def test_project_name_is_not_read_as_tokens() -> None:
    assert classify("arm-tools-x86_64-unknown-linux-gnu.tar.gz").arch is None  # ambiguous without it
    assert classify("arm-tools-x86_64-unknown-linux-gnu.tar.gz", project="arm-tools").arch == "amd64"
    d = discover(["pdb-linux-amd64.tar.gz"], ["amd64"], project="pdb")
    assert d.asset_for("amd64") == "pdb-linux-amd64.tar.gz"


def test_microarch_variant_is_a_fallback() -> None:
    d = discover(["tool-x86_64_v3-linux.tar.gz", "tool-x86_64-linux.tar.gz"], ["amd64"])
    assert d.asset_for("amd64") == "tool-x86_64-linux.tar.gz"
    assert "microarchitecture" in (d.rejection("tool-x86_64_v3-linux.tar.gz") or "")


def test_prefer_musl() -> None:
    d = discover(UV_0_5_11, ["amd64", "arm64"], prefer_libc="musl")
    assert d.as_mapping() == {
        "amd64": "uv-x86_64-unknown-linux-musl.tar.gz",
        "arm64": "uv-aarch64-unknown-linux-musl.tar.gz",
    }
    with pytest.raises(ConfigError):
        discover(UV_0_5_11, prefer_libc="glibc")


def test_unrequested_arches_are_reported() -> None:
    d = discover(UV_0_5_11, ["amd64"])
    assert d.arches == ("amd64",)
    assert "not requested" in (d.rejection("uv-s390x-unknown-linux-gnu.tar.gz") or "")


# -- manual patterns -----------------------------------------------------------------------------


def test_manual_glob_overrides_and_drops_checksums() -> None:
    d = discover(YQ_4_44_3, ["armhf", "amd64"], manual={"armhf": "yq_linux_arm.tar.gz*"})
    choice = d.choice("armhf")
    assert choice is not None and choice.manual
    assert choice.asset == "yq_linux_arm.tar.gz"
    assert "armel" in choice.reason  # the name suggests another arch: said, not overridden
    assert d.asset_for("amd64") == "yq_linux_amd64.tar.gz"


def test_manual_regex_and_several_matches() -> None:
    d = discover(
        RIPGREP_14_1_1,
        ["armhf", "amd64"],
        manual={
            "armhf": r"re:ripgrep-[\d.]+-armv7-unknown-linux-musleabihf\.tar\.gz",
            "amd64": "ripgrep*amd64*",
        },
    )
    assert d.asset_for("armhf") == "ripgrep-14.1.1-armv7-unknown-linux-musleabihf.tar.gz"
    amd64 = d.choice("amd64")
    assert amd64 is not None and amd64.asset == "ripgrep_14.1.1-1_amd64.deb"  # the user asked for it
    assert amd64.alternatives == ()  # the .deb.sha256 matched the glob but is never a binary


def test_manual_pattern_without_match() -> None:
    d = discover(LAZYGIT_0_44_1, ["armhf"], manual={"armhf": "lazygit_*_Linux_armv7.tar.gz"})
    reason = d.skip_reason("armhf") or ""
    assert "matched no release asset" in reason and "lazygit_0.44.1_Linux_armv6.tar.gz" in reason
    with pytest.raises(ConfigError):
        discover(LAZYGIT_0_44_1, ["amd64"], manual={"amd64": "re:("})


# -- archive kinds -------------------------------------------------------------------------------


def _tar_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = minimal_elf(2, 1, 62)
        info = tarfile.TarInfo("tool/tool")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tool", minimal_elf(2, 1, 62))
    return buf.getvalue()


ELF = minimal_elf(2, 1, 62)


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("t.tar.gz", gzip.compress(_tar_bytes()), ArchiveKind.TAR_GZ),
        ("t.tgz", gzip.compress(_tar_bytes()), ArchiveKind.TAR_GZ),
        ("t-linux-amd64", gzip.compress(_tar_bytes()), ArchiveKind.TAR_GZ),  # no suffix: bytes decide
        ("t.tar.xz", lzma.compress(_tar_bytes()), ArchiveKind.TAR_XZ),
        ("t.txz", lzma.compress(_tar_bytes()), ArchiveKind.TAR_XZ),
        ("t.tar.bz2", bz2.compress(_tar_bytes()), ArchiveKind.TAR_BZ2),
        ("t.tar", _tar_bytes(), ArchiveKind.TAR),
        ("t.zip", _zip_bytes(), ArchiveKind.ZIP),
        ("t_linux_amd64", ELF, ArchiveKind.BINARY),
        ("t.tar.gz", ELF, ArchiveKind.BINARY),  # the bytes win over a wrong name
        ("t-linux-amd64.gz", gzip.compress(ELF), ArchiveKind.GZIP),
        ("t.tar.gz", gzip.compress(ELF), ArchiveKind.GZIP),
        ("t-linux-amd64.xz", lzma.compress(ELF), ArchiveKind.XZ),
        ("t.tar.zst", b"\x28\xb5\x2f\xfd" + bytes(20), ArchiveKind.TAR_ZST),
        ("t.zst", b"\x28\xb5\x2f\xfd" + bytes(20), ArchiveKind.ZSTD),
        ("install", b"#!/bin/sh\necho hi\n", ArchiveKind.BINARY),
        ("t.bin", b"\x00\x01garbage", ArchiveKind.UNKNOWN),
    ],
)
def test_detect_kind_from_bytes(name: str, data: bytes, kind: ArchiveKind) -> None:
    assert detect_kind(name, data[:4096]) is kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.tar.gz", ArchiveKind.TAR_GZ),
        ("a.TGZ", ArchiveKind.TAR_GZ),
        ("a.tar.xz", ArchiveKind.TAR_XZ),
        ("a.tar.bz2", ArchiveKind.TAR_BZ2),
        ("a.tar.zst", ArchiveKind.TAR_ZST),
        ("a.zip", ArchiveKind.ZIP),
        ("a.gz", ArchiveKind.GZIP),
        ("yq_linux_amd64", ArchiveKind.BINARY),
        ("tool-1.2.3-linux-amd64", ArchiveKind.BINARY),
    ],
)
def test_detect_kind_from_name(name: str, kind: ArchiveKind) -> None:
    assert detect_kind(name) is kind


def test_detect_kind_real_uv_asset(tiny_release_dir: Path) -> None:
    asset = tiny_release_dir / "uv-s390x-unknown-linux-gnu.tar.gz"
    assert detect_kind(asset.name, asset.read_bytes()[:512]) is ArchiveKind.TAR_GZ


# -- properties ----------------------------------------------------------------------------------

_word = st.text(alphabet="abcdefghklnopqrtuvwyz", min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(prefix=_word, token=st.sampled_from(["x86_64", "x86-64", "amd64", "x64"]), sep=st.sampled_from("-_."))
def test_64bit_x86_is_never_i386(prefix: str, token: str, sep: str) -> None:
    # The project name is stripped first: "pdb", "ppc", "debug" are fine project names.
    read = classify(f"{prefix}{sep}linux{sep}{token}.tar.gz", project=prefix)
    assert read.arch == "amd64", read.reason


@settings(max_examples=300, deadline=None)
@given(name=st.text(min_size=0, max_size=60))
def test_classify_never_crashes(name: str) -> None:
    read = classify(name)
    assert (read.arch is None) == bool(read.arch is None and read.reason)


def test_manual_exact_name_with_glob_characters() -> None:
    names = ["tool[linux]-amd64.tar.gz", "toolx-amd64.tar.gz"]
    d = discover(names, ["amd64"], manual={"amd64": "tool[linux]-amd64.tar.gz"})
    assert d.asset_for("amd64") == "tool[linux]-amd64.tar.gz"


# --------------------------------------------------------------------------- Node names, ELF decides

NODE_RELEASE = [f"tool-1.0.0-linux-{a}.tar.gz" for a in ("x64", "ia32", "arm", "arm64", "ppc64", "s390x")]


def test_node_words_propose_debian_arches() -> None:
    from multiarch.discovery import uses_node_names

    assert uses_node_names(NODE_RELEASE)
    assert not uses_node_names(["tool-linux-arm.tar.gz", "tool-linux-amd64.tar.gz"])
    d = discover(NODE_RELEASE, ["amd64", "i386", "armhf", "armel", "arm64", "ppc64el", "s390x"])
    assert d.as_mapping() == {
        "amd64": "tool-1.0.0-linux-x64.tar.gz",
        "i386": "tool-1.0.0-linux-ia32.tar.gz",
        "armhf": "tool-1.0.0-linux-arm.tar.gz",  # Node's arm is ARMv7 hard-float
        "arm64": "tool-1.0.0-linux-arm64.tar.gz",
        "ppc64el": "tool-1.0.0-linux-ppc64.tar.gz",  # Node's ppc64 is little-endian
        "s390x": "tool-1.0.0-linux-s390x.tar.gz",
    }
    assert d.choice("armhf").elf_decides == ("armel", "armhf")  # type: ignore[union-attr]
    assert d.choice("ppc64el").elf_decides == ("ppc64el",)  # type: ignore[union-attr]
    assert d.choice("amd64").elf_decides == ()  # type: ignore[union-attr]


def test_outside_node_names_ppc64_stays_big_endian_and_arm_armel() -> None:
    d = discover(["tool_linux_arm.tar.gz", "tool_linux_ppc64.tar.gz", "tool_linux_amd64.tar.gz"])
    assert d.asset_for("armel") == "tool_linux_arm.tar.gz"
    assert d.asset_for("ppc64el") is None
    assert "big-endian" in (d.rejection("tool_linux_ppc64.tar.gz") or "")


def _elf_info(machine: int, elf_class: int, endian: str, flags: int = 0) -> Any:
    from multiarch.elf import ElfInfo

    return ElfInfo(elf_class, endian, 0, 2, machine, flags, None, (), None, False, False, ())


def test_elf_header_moves_a_soft_float_arm_build_to_armel() -> None:
    from multiarch.discovery import settle_with_elf

    wanted = ["armhf", "armel"]
    d = discover(NODE_RELEASE, wanted)
    soft = _elf_info(40, 32, "little", 0x05000200)  # EABI5, soft-float
    settled = settle_with_elf(d, wanted, lambda name: [soft])
    assert settled.as_mapping() == {"armel": "tool-1.0.0-linux-arm.tar.gz"}
    assert "decides armel" in settled.choice("armel").reason  # type: ignore[union-attr]
    assert "ELF header" in (settled.skip_reason("armhf") or "")
    assert all(c.elf_decides == () for c in settled.chosen)


def test_elf_header_without_float_abi_keeps_the_names_reading() -> None:
    from multiarch.discovery import settle_with_elf

    d = discover(NODE_RELEASE, ["armhf", "armel"])
    static_go = _elf_info(40, 32, "little", 0x05000002)  # EABI5, float ABI not recorded
    settled = settle_with_elf(d, ["armhf", "armel"], lambda name: [static_go])
    assert settled.asset_for("armhf") == "tool-1.0.0-linux-arm.tar.gz"
    assert "fits armhf and armel; kept" in settled.choice("armhf").reason  # type: ignore[union-attr]


def test_elf_header_rejects_a_big_endian_ppc64_build() -> None:
    from multiarch.discovery import settle_with_elf

    d = discover(NODE_RELEASE, ["ppc64el"])
    settled = settle_with_elf(d, ["ppc64el"], lambda name: [_elf_info(21, 64, "big")])
    assert settled.asset_for("ppc64el") is None
    assert "big-endian" in (settled.rejection("tool-1.0.0-linux-ppc64.tar.gz") or "")
    assert "ELF header" in (settled.skip_reason("ppc64el") or "")


def test_elf_header_decides_a_bare_x86_name() -> None:
    from multiarch.discovery import settle_with_elf

    d = discover(["tool-linux-x86.tar.gz"], ["amd64", "i386"])
    assert d.asset_for("i386") == "tool-linux-x86.tar.gz"
    settled = settle_with_elf(d, ["amd64", "i386"], lambda name: [_elf_info(62, 64, "little")])
    assert settled.as_mapping() == {"amd64": "tool-linux-x86.tar.gz"}
