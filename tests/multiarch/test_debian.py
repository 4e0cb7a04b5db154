"""Package metadata: control, md5sums, changelog, DEP-5 copyright, man pages."""

from __future__ import annotations

import gzip
import hashlib
import struct
import subprocess
from pathlib import Path

import pytest
from debian import deb822
from debian.changelog import Changelog

from multiarch.debian import (
    PackageMeta,
    changelog_gz,
    control_bytes,
    copyright_text,
    dep5_license,
    doc_entries,
    format_description,
    gzip_n,
    installed_size_kib,
    manpage_text,
    md5sums_bytes,
    merge_relations,
)
from multiarch.debwriter import DataEntry, complete_tree
from multiarch.errors import PackagingError
from tests.conftest import require_tool

DATE = 1734653444  # 2024-12-20


def meta(**overrides: object) -> PackageMeta:
    base: dict[str, object] = {
        "package": "uv",
        "version": "0.5.11-1+deb12",
        "upstream_version": "0.5.11",
        "architecture": "amd64",
        "suite": "bookworm",
        "maintainer": "Debian Multiarch Builder <packages@example.org>",
        "synopsis": "Extremely fast Python package and project manager",
        "extended_description": "uv replaces pip and more.\n\nIt is written in Rust.",
        "section": "python",
        "homepage": "https://docs.astral.sh/uv/",
        "relations": (("Depends", "libc6 (>= 2.16), libgcc-s1"),),
        "license": "MIT OR Apache-2.0",
        "source_url": "https://github.com/astral-sh/uv",
        "date": DATE,
    }
    base.update(overrides)
    return PackageMeta(**base)  # type: ignore[arg-type]


def test_control_fields_in_order() -> None:
    text = control_bytes(meta(), 35500).decode()
    para = deb822.Deb822(text)
    assert list(para.keys()) == [
        "Package",
        "Version",
        "Architecture",
        "Maintainer",
        "Installed-Size",
        "Depends",
        "Section",
        "Priority",
        "Homepage",
        "Description",
    ]
    assert para["Installed-Size"] == "35500"
    assert para["Description"].splitlines() == [
        "Extremely fast Python package and project manager",
        " uv replaces pip and more.",
        " .",
        " It is written in Rust.",
    ]


def test_empty_extended_description_gets_one() -> None:
    para = deb822.Deb822(control_bytes(meta(extended_description=""), 1).decode())
    lines = para["Description"].splitlines()
    assert len(lines) >= 2  # lintian: extended-description-is-empty is an error
    assert all(len(line) <= 80 for line in lines)  # extended-description-line-too-long
    with pytest.raises(PackagingError):
        format_description("", "x")


def test_installed_size_counts_like_dpkg_gencontrol(tmp_path: Path) -> None:
    tree = complete_tree(
        [
            DataEntry.blob("usr/bin/a", b"x" * 1025),
            DataEntry.blob("usr/bin/b", b""),
            DataEntry.symlink("usr/bin/c", "a"),
        ]
    )
    # ./, usr, usr/bin = 3 dirs; a = 2 KiB; b = 0; c = 1
    assert installed_size_kib(tree) == 3 + 2 + 0 + 1


def test_md5sums(tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"hello")
    tree = complete_tree([DataEntry.file("usr/bin/f", src), DataEntry.blob("usr/share/doc/x/y", b"y")])
    lines = md5sums_bytes(tree).decode().splitlines()
    assert lines == [
        f"{hashlib.md5(b'hello').hexdigest()}  usr/bin/f",
        f"{hashlib.md5(b'y').hexdigest()}  usr/share/doc/x/y",
    ]
    assert md5sums_bytes(tree, {"usr/bin/f": "0" * 32}).decode().startswith("0" * 32)


def test_merge_relations() -> None:
    merged = merge_relations(
        [("Depends", "libc6 (>= 2.16), libgcc-s1")], [("Depends", "libgcc-s1, git"), ("Conflicts", "x")]
    )
    assert merged == (("Depends", "libc6 (>= 2.16), libgcc-s1, git"), ("Conflicts", "x"))


def test_changelog_entry_matches_version_and_suite() -> None:
    raw = changelog_gz(meta(version="0.5.11-1+deb13", suite="trixie"))
    # gzip -n: no file name flag, mtime = SOURCE_DATE_EPOCH, max compression
    assert raw[:4] == b"\x1f\x8b\x08\x00"
    assert struct.unpack("<I", raw[4:8])[0] == DATE
    assert raw[8] == 2
    log = Changelog(gzip.decompress(raw).decode())
    assert str(log.version) == "0.5.11-1+deb13"
    assert log.distributions == "trixie"
    assert log.package == "uv"
    assert log.date == "Fri, 20 Dec 2024 00:10:44 +0000"
    assert changelog_gz(meta()) == changelog_gz(meta())  # deterministic


def test_gzip_n_round_trips() -> None:
    assert gzip.decompress(gzip_n(b"abc" * 1000)) == b"abc" * 1000


@pytest.mark.parametrize(
    ("spdx", "value", "names"),
    [
        ("MIT", "Expat", ("Expat",)),
        ("MIT OR Apache-2.0", "Expat or Apache-2.0", ("Expat", "Apache-2.0")),
        ("GPL-3.0-or-later", "GPL-3+", ("GPL-3+",)),
        (
            "Apache-2.0 AND (MIT OR BSD-3-Clause)",
            "Apache-2.0 and (Expat or BSD-3-clause)",
            ("Apache-2.0", "Expat", "BSD-3-clause"),
        ),
        (None, "other", ("other",)),
    ],
)
def test_spdx_to_dep5(spdx: str | None, value: str, names: tuple[str, ...]) -> None:
    assert dep5_license(spdx) == (value, names)


def test_copyright_is_dep5_with_the_real_license() -> None:
    text = copyright_text(meta())
    paragraphs = list(deb822.Deb822.iter_paragraphs(text))
    header, files, *licenses = paragraphs
    assert header["Format"].startswith("https://www.debian.org/doc/packaging-manuals/copyright-format/1.0")
    assert header["Upstream-Name"] == "uv" and header["Source"] == "https://github.com/astral-sh/uv"
    assert files["Files"] == "*" and files["License"] == "Expat or Apache-2.0"
    assert files["Copyright"].startswith("2024 ")
    by_name = {p["License"].splitlines()[0]: p["License"] for p in licenses}
    # MIT travels in full; Apache-2.0 points at base-files' copy (lintian refuses a copied text).
    assert "Permission is hereby granted, free of charge" in by_name["Expat"]
    assert "/usr/share/common-licenses/Apache-2.0" in by_name["Apache-2.0"]
    assert "Apache License" in Path("/usr/share/common-licenses/Apache-2.0").read_text()


def test_copyright_gpl_later_mentions_the_version() -> None:
    text = copyright_text(meta(license="GPL-2.0-or-later"))
    assert "either version 2 of the License, or (at your option) any later version" in text.replace(
        "\n ", " "
    )
    assert "/usr/share/common-licenses/GPL-2" in text


def test_doc_entries() -> None:
    entries = doc_entries(meta())
    assert [e.path for e in entries] == ["usr/share/doc/uv/changelog.Debian.gz", "usr/share/doc/uv/copyright"]


def test_man_page_is_valid_roff(tmp_path: Path) -> None:
    text = manpage_text("uv", meta(extended_description=".dot at the start\nback\\slash"))
    assert text.startswith('.TH "UV" "1" "2024-12-20"')
    assert "\\&.dot" in text and "back\\eslash" in text
    require_tool("man")
    page = tmp_path / "uv.1"
    page.write_text(text)
    proc = subprocess.run(
        ["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", str(page)],
        capture_output=True,
        text=True,
        env={"LC_ALL": "C.UTF-8", "MANROFFSEQ": "", "MANWIDTH": "80", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 0 and proc.stderr == ""


def test_long_extended_lines_are_folded_at_80_columns_and_verbatim_lines_kept() -> None:
    prose = "word " * 40
    verbatim = "  " + "x" * 100
    text = format_description("Tool", f"{prose}\n\n{verbatim}")
    lines = text.splitlines()
    assert lines[0] == "Tool"
    assert " ." in lines
    assert f" {verbatim}" in lines  # two leading spaces: displayed verbatim, never folded
    assert all(len(line) <= 80 for line in lines if line != f" {verbatim}")
    assert " ".join(line.strip() for line in lines[1 : lines.index(" .")]) == prose.strip()
