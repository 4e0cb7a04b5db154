"""Staging rules: binaries, renames, man pages, completions, docs, bundle mode, arch checks."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from multiarch.config import ArchSpec, InstallSpec
from multiarch.errors import ArchitectureError, PackagingError
from multiarch.extract import extract_asset
from multiarch.payload import glob_match, stage_payload
from multiarch.suites import get_arch
from tests.support.uv_release import minimal_elf

AMD64_ELF = minimal_elf(2, 1, 62)
ARM64_ELF = minimal_elf(2, 1, 183)
# An ET_DYN object without an interpreter: a shared library (e_type lives at offset 16).
AMD64_SO = AMD64_ELF[:16] + b"\x03\x00" + AMD64_ELF[18:]


def spec(**kw: object) -> ArchSpec:
    base: dict[str, object] = {
        "arch": "amd64",
        "upstream_token": "x86_64",
        "asset": None,
        "release_pattern": None,
        "binary_paths": (),
        "binary_rename": None,
        "binary_renames": (),
        "bundle": False,
        "bundle_root": None,
        "install": InstallSpec(),
    }
    base.update(kw)
    return ArchSpec(**base)  # type: ignore[arg-type]


def archive(tmp: Path, files: dict[str, bytes | str], name: str = "tool.tar.gz") -> Path:
    path = tmp / name
    with tarfile.open(path, "w:gz") as tf:
        for member, content in files.items():
            info = tarfile.TarInfo(member)
            if isinstance(content, str):
                info.type = tarfile.SYMTYPE
                info.linkname = content
                tf.addfile(info)
                continue
            info.size = len(content)
            info.mode = 0o755 if content.startswith(b"\x7fELF") else 0o644
            tf.addfile(info, io.BytesIO(content))
    return path


def staged(tmp: Path, files: dict[str, bytes | str], s: ArchSpec, arch: str = "amd64", package: str = "tool"):  # type: ignore[no-untyped-def]
    asset = archive(tmp, files)
    extraction = extract_asset(asset, tmp / "x")
    return stage_payload(extraction, s, package=package, arch=get_arch(arch))


def test_glob_semantics() -> None:
    assert glob_match("uv-*/uv", "uv-x86_64-unknown-linux-gnu/uv")
    assert not glob_match("uv-*/uv", "a/uv-x/uv")
    assert not glob_match("*", "a/b")
    assert glob_match("**/rg", "a/b/rg") and glob_match("**/rg", "rg")
    assert glob_match("./bin/[ab]", "bin/a") and not glob_match("bin/[!ab]", "bin/a")


def test_all_elf_executables_by_default(tmp_path: Path) -> None:
    payload = staged(
        tmp_path,
        {"t/tool": AMD64_ELF, "t/helper": AMD64_ELF, "t/README": b"hi", "t/lib.so": AMD64_SO},
        spec(),
    )
    assert payload.commands == ("helper", "tool")
    paths = {e.path: e for e in payload.entries}
    assert set(paths) == {"usr/bin/helper", "usr/bin/tool"}
    assert paths["usr/bin/tool"].mode == 0o755
    assert dict(payload.md5)["usr/bin/tool"]


def test_ripgrep_layout(tmp_path: Path) -> None:
    top = "ripgrep-14.1.1-x86_64-unknown-linux-musl"
    faq = b"# FAQ\n" + b"question and answer\n" * 400
    install = InstallSpec(
        man=(f"{top}/doc/rg.1",),
        bash_completion=(f"{top}/complete/rg.bash",),
        zsh_completion=(f"{top}/complete/_rg",),
        fish_completion=(f"{top}/complete/rg.fish",),
        docs=(f"{top}/README.md", f"{top}/doc/FAQ.md"),
    )
    payload = staged(
        tmp_path,
        {
            f"{top}/rg": AMD64_ELF,
            f"{top}/doc/rg.1": b".TH RG 1\n",
            f"{top}/complete/rg.bash": b"complete -F _rg rg\n",
            f"{top}/complete/_rg": b"#compdef rg\n",
            f"{top}/complete/rg.fish": b"complete -c rg\n",
            f"{top}/README.md": b"# ripgrep\n",
            f"{top}/doc/FAQ.md": faq,
        },
        spec(binary_paths=(f"{top}/rg",), install=install),
        package="ripgrep",
    )
    entries = {e.path: e for e in payload.entries}
    assert set(entries) == {
        "usr/bin/rg",
        "usr/share/man/man1/rg.1.gz",
        "usr/share/bash-completion/completions/rg",
        "usr/share/zsh/vendor-completions/_rg",
        "usr/share/fish/vendor_completions.d/rg.fish",
        "usr/share/doc/ripgrep/README.md",
        "usr/share/doc/ripgrep/FAQ.md.gz",
    }
    man = entries["usr/share/man/man1/rg.1.gz"].data
    assert man is not None and gzip.decompress(man) == b".TH RG 1\n" and man[3] == 0  # no name in header
    faq_gz = entries["usr/share/doc/ripgrep/FAQ.md.gz"].data
    assert faq_gz is not None and gzip.decompress(faq_gz) == faq
    assert payload.manpages == ("rg.1",)
    assert all(e.mode == 0o644 for p, e in entries.items() if p != "usr/bin/rg")


def test_binary_rename(tmp_path: Path) -> None:
    payload = staged(
        tmp_path, {"yq_linux_amd64": AMD64_ELF}, spec(binary_paths=("yq_linux_*",), binary_rename="yq")
    )
    assert [e.path for e in payload.entries] == ["usr/bin/yq"]


def test_bundle_mode(tmp_path: Path) -> None:
    top = "nvim-linux-x86_64"
    payload = staged(
        tmp_path,
        {
            f"{top}/bin/nvim": AMD64_ELF,
            f"{top}/lib/nvim/parser/c.so": AMD64_SO,
            f"{top}/share/nvim/runtime/syntax.vim": b'" vim\n',
            f"{top}/share/nvim/runtime/current": "syntax.vim",
            f"{top}/share/man/man1/nvim.1": b".TH NVIM 1\n",
        },
        spec(bundle=True, install=InstallSpec(man=(f"{top}/share/man/man1/nvim.1",))),
        package="neovim",
    )
    entries = {e.path: e for e in payload.entries}
    assert entries["usr/lib/neovim/bin/nvim"].mode == 0o755
    assert entries["usr/lib/neovim/lib/nvim/parser/c.so"].mode == 0o644
    assert entries["usr/lib/neovim/share/nvim/runtime/current"].link_target == "syntax.vim"
    link = entries["usr/bin/nvim"]
    assert (link.kind, link.link_target) == ("symlink", "../lib/neovim/bin/nvim")
    assert "usr/share/man/man1/nvim.1.gz" in entries
    assert payload.commands == ("nvim",)


def test_wrong_arch_anywhere_in_a_bundle_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchitectureError, match="AArch64"):
        staged(tmp_path, {"t/bin/tool": AMD64_ELF, "t/lib/x.so": ARM64_ELF}, spec(bundle=True))


def test_wrong_arch_binary_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchitectureError, match="offered as i386"):
        staged(tmp_path, {"t/tool": AMD64_ELF}, spec(arch="i386"), arch="i386")


def test_unmatched_binary_path_lists_what_is_there(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match=r"matches nothing.*t/tool"):
        staged(tmp_path, {"t/tool": AMD64_ELF}, spec(binary_paths=("other/*",)))


def test_no_executable_at_all(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="no ELF executable"):
        staged(tmp_path, {"t/README": b"text"}, spec())


def test_two_binaries_one_name(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="two files"):
        staged(tmp_path, {"a/tool": AMD64_ELF, "b/tool": AMD64_ELF}, spec())
