"""package.yaml loading: examples, every error with file/line/field, and fuzzing."""

from __future__ import annotations

import fnmatch
import io
import json
import re
import string
import tarfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from multiarch import config as cfg
from multiarch import suites
from multiarch.config import ArchSpec, load_config
from multiarch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*/package.yaml"))
REAL_EXAMPLES = ("uv", "lazygit", "eza", "ripgrep", "neovim", "yq")

BASE = """\
package_name: foo
github_repo: owner/foo.rs
description: |
  Does foo things
  Foo does things, at length.

  Second paragraph.
maintainer: Jane Doe <jane@example.org>
"""


def write(tmp_path: Path, text: str | bytes, name: str = "package.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str | bytes) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.file == str(path)
    return exc.value


# --------------------------------------------------------------------------- examples


def test_all_real_examples_exist() -> None:
    names = {p.parent.name for p in EXAMPLES}
    assert set(REAL_EXAMPLES) <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_loads(path: Path) -> None:
    config = load_config(path)
    assert config.package_name
    assert config.synopsis and len(config.synopsis) <= 80
    specs = config.arch_specs(tag="v1.2.3")
    assert specs
    for spec in specs:
        assert "{" not in (spec.asset or "") + (spec.release_pattern or "") + "".join(spec.binary_paths)


def test_uv_example_is_a_list_with_two_binaries() -> None:
    config = load_config(ROOT / "examples/uv/package.yaml")
    assert config.architecture_mode == "list"
    specs = config.arch_specs()
    assert [s.arch for s in specs] == ["amd64", "arm64", "armhf", "i386", "ppc64el", "s390x"]
    assert all(s.auto for s in specs)
    assert specs[0].binary_paths == ("uv-*/uv", "uv-*/uvx")
    assert config.checksums.files == ("{asset}.sha256",) and config.checksums.required
    assert config.license == "MIT OR Apache-2.0"


def test_uv_example_matches_a_realistic_release(tmp_path: Path) -> None:
    # The repo's uv release folder has upstream's real asset names and layout.
    from tests.support.uv_release import tiny_release

    release = tiny_release(tmp_path)
    config = load_config(ROOT / "examples/uv/package.yaml")
    for spec in config.arch_specs(tag="0.5.11"):
        # The primary token is what uv itself uses, so {arch} would name every gnu asset.
        abi = "gnueabihf" if spec.arch == "armhf" else "gnu"
        asset = release / cfg.expand(
            f"uv-{{arch}}-unknown-linux-{abi}.tar.gz", tag="0.5.11", arch=spec.arch, package_name="uv"
        )
        assert asset.exists(), asset.name
        with tarfile.open(asset) as archive:
            members = archive.getnames()
        for pattern in spec.binary_paths:
            assert [m for m in members if fnmatch.fnmatchcase(m, pattern)], (pattern, members)
        assert (
            release
            / cfg.expand(
                config.checksums.files[0], tag="0.5.11", arch=spec.arch, package_name="uv", asset=asset.name
            )
        ).exists()


def test_lazygit_example_expands_version_without_v() -> None:
    config = load_config(ROOT / "examples/lazygit/package.yaml")
    amd64 = config.arch_specs(["amd64"], tag="v0.44.1")[0]
    assert amd64.asset == "lazygit_0.44.1_Linux_x86_64.tar.gz"
    assert config.relation_fields() == {"Depends": "git"}
    assert config.homepage == "https://github.com/jesseduffield/lazygit"


def test_eza_example_manual_map() -> None:
    config = load_config(ROOT / "examples/eza/package.yaml")
    assets = {s.arch: s.asset for s in config.arch_specs(tag="v0.20.14")}
    assert assets == {
        "amd64": "eza_x86_64-unknown-linux-gnu.tar.gz",
        "arm64": "eza_aarch64-unknown-linux-gnu.tar.gz",
        "armhf": "eza_arm-unknown-linux-gnueabihf.tar.gz",
    }
    assert config.license is None  # left to the GitHub license API


def test_ripgrep_example_install_and_arch_token() -> None:
    config = load_config(ROOT / "examples/ripgrep/package.yaml")
    amd64, arm64 = config.arch_specs(["arm64", "amd64"], tag="14.1.1")
    assert amd64.release_pattern == "ripgrep-14.1.1-x86_64-unknown-linux-musl.tar.gz"
    assert arm64.release_pattern == "ripgrep-14.1.1-aarch64-unknown-linux-gnu.tar.gz"
    assert amd64.binary_paths == ("ripgrep-14.1.1-*/rg",)
    assert amd64.install.man == ("ripgrep-14.1.1-*/doc/rg.1",)
    assert amd64.install.zsh_completion == ("ripgrep-14.1.1-*/complete/_rg",)
    assert len(amd64.install.docs) == 3


def test_neovim_example_is_a_bundle() -> None:
    config = load_config(ROOT / "examples/neovim/package.yaml")
    specs = config.arch_specs(tag="v0.10.4")
    assert [s.arch for s in specs] == ["amd64", "arm64"]
    assert all(s.bundle for s in specs)
    assert specs[1].bundle_root == "nvim-linux-arm64"
    assert specs[0].binary_paths == ("nvim-linux-*/bin/nvim",)
    assert config.relation_fields() == {"Conflicts": "neovim-runtime", "Replaces": "neovim-runtime"}


def test_yq_example_bare_binaries_renamed() -> None:
    config = load_config(ROOT / "examples/yq/package.yaml")
    specs = {s.arch: s for s in config.arch_specs(tag="v4.44.3")}
    assert specs["armhf"].asset == "yq_linux_arm"
    assert specs["i386"].asset == "yq_linux_386"
    assert specs["amd64"].installed_name("yq_linux_amd64") == "yq"
    assert config.checksums.hashes_order == "checksums_hashes_order"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_arch_is_built_for_some_suite(path: Path) -> None:
    config = load_config(path)
    names = {s.name for s in config.suites()}
    for spec in config.arch_specs():
        assert names & {s.name for s in suites.suites_for_arch(spec.arch)}, spec.arch


def test_docs_and_schema_agree() -> None:
    # Every key the schema accepts is documented, and the docs name no key the schema lacks.
    schema = json.loads(cfg.SCHEMA_FILE.read_text())
    docs = (ROOT / "docs" / "configuration.md").read_text()
    keys = set(schema["properties"]) | set(schema["$defs"]["archEntry"]["properties"])
    keys |= set(schema["$defs"]["install"]["properties"]) | set(
        schema["properties"]["checksums"]["properties"]
    )
    for key in sorted(keys):
        assert f"`{key}`" in docs or f"`checksums.{key}`" in docs or f"`source.{key}`" in docs, key
    for placeholder in cfg.PLACEHOLDERS:
        assert f"`{{{placeholder}}}`" in docs, placeholder


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("first", "packaged"),
    [("An extremely fast tool", "Extremely fast tool"), ("the tool", "Tool"), ("A  b", "B")],
)
def test_a_leading_article_is_dropped_and_noted(tmp_path: Path, first: str, packaged: str) -> None:
    path = write(tmp_path, BASE.replace("Does foo things", first))
    config = load_config(path)
    assert config.synopsis == packaged
    assert config.extended_description.startswith("Foo does things")
    (note,) = config.notes
    assert note.startswith(f"{path}:3: description:")
    assert "description-synopsis-starts-with-article" in note and repr(packaged) in note


def test_a_synopsis_that_merely_starts_with_an_a_word_is_kept(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE.replace("Does foo things", "Another tool; theme engine")))
    assert config.synopsis == "Another tool; theme engine"
    assert config.notes == ()


@pytest.mark.parametrize("first", ["foo for doing things", "The Foo toolchain", "FOO-based helper"])
def test_a_synopsis_starting_with_the_package_name_is_refused(tmp_path: Path, first: str) -> None:
    error = load_error(tmp_path, BASE.replace("Does foo things", first))
    assert (error.line, error.field) == (3, "description")
    assert "starts with the package name 'foo'" in str(error)


def test_lintian_overrides_strings_and_mappings(tmp_path: Path) -> None:
    text = BASE + (
        "lintian_overrides:\n"
        '  - "national-encoding [usr/lib/foo/share/*]"\n'
        "  - override: 'foo: embedded-library zlib [usr/lib/foo/bin/x]'\n"
        "    reason: upstream bundles zlib\n"
    )
    config = load_config(write(tmp_path, text))
    assert config.lintian_overrides == (
        ("national-encoding [usr/lib/foo/share/*]", ""),
        ("embedded-library zlib [usr/lib/foo/bin/x]", "upstream bundles zlib"),
    )


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ("'bar: national-encoding'", "lintian_overrides[0]", "names package 'bar'"),
        ("'Not A Tag'", "lintian_overrides[0]", "lintian override line"),
        ("{reason: why}", "lintian_overrides[0]", "override"),
    ],
)
def test_bad_lintian_overrides_name_the_line(tmp_path: Path, entry: str, field: str, words: str) -> None:
    error = load_error(tmp_path, BASE + f"lintian_overrides:\n  - {entry}\n")
    assert error.line == 10
    assert error.field is not None and error.field.startswith(field)
    assert words in str(error)


def test_defaults_and_description(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert config.architecture_mode == "all"
    assert config.configured_arches() == suites.supported_arches()
    assert config.section == "utils" and config.priority == "optional" and config.compression == "xz"
    assert config.homepage == "https://github.com/owner/foo.rs"
    assert config.synopsis == "Does foo things"
    assert (
        config.control_description()
        == "Does foo things\n Foo does things, at length.\n .\n Second paragraph."
    )
    assert [s.name for s in config.suites()] == [s.name for s in suites.default_suites()]
    assert [s.name for s in config.suites(["sid"])] == ["sid"]
    assert config.line_of("maintainer") == 8


def test_top_level_settings_are_per_arch_defaults(tmp_path: Path) -> None:
    text = BASE + (
        "binary_path: 'foo-{version}-{arch}/foo'\n"
        "binary_rename: foo-bin\n"
        "install:\n  man: [foo.1]\n"
        "architectures:\n"
        "  amd64:\n    asset: 'foo-{tag}-{arch}.tgz'\n"
        "  arm64:\n    release_pattern: 'foo-*-{debarch}.tgz'\n    binary_path: [a/foo, a/bar]\n"
        "    binary_rename: {foo: foo2}\n    install: {docs: README}\n"
        "  riscv64: {}\n"
    )
    config = load_config(write(tmp_path, text))
    amd64, arm64, riscv64 = config.arch_specs(tag="v1.0")
    assert amd64.asset == "foo-v1.0-x86_64.tgz"
    assert amd64.binary_paths == ("foo-1.0-x86_64/foo",)
    assert amd64.installed_name("foo") == "foo-bin"
    assert amd64.install.man == ("foo.1",)
    assert arm64.release_pattern == "foo-*-arm64.tgz"
    assert arm64.binary_paths == ("a/foo", "a/bar")
    assert arm64.installed_name("foo", 2) == "foo2" and arm64.installed_name("bar", 2) == "bar"
    assert arm64.install.docs == ("README",) and arm64.install.man == ()
    assert riscv64.auto and riscv64.binary_paths == ("foo-1.0-riscv64gc/foo",)
    assert riscv64.line == config.line_of("architectures.riscv64")


def test_arch_specs_filter(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE + "architectures: [arm64, amd64]\n"))
    assert [s.arch for s in config.arch_specs()] == ["amd64", "arm64"]
    assert [s.arch for s in config.arch_specs(["arm64"])] == ["arm64"]
    with pytest.raises(ConfigError, match="not configured") as exc:
        config.arch_specs(["riscv64"])
    assert exc.value.line == 9 and exc.value.field == "architectures"
    with pytest.raises(ConfigError, match="did you mean 'arm64'"):
        config.arch_specs(["arm46"])


def test_relations_normalised(tmp_path: Path) -> None:
    text = BASE + (
        "depends: 'libc6 (>= 2.31),  git | git-core , foo:any [amd64 arm64] <!nocheck>'\n"
        "recommends: [less, 'pager | more']\nprovides: 'editor, foo-api (= 1.0)'\n"
    )
    config = load_config(write(tmp_path, text))
    assert config.depends == ("libc6 (>= 2.31)", "git | git-core", "foo:any [amd64 arm64] <!nocheck>")
    assert config.relation_fields()["Recommends"] == "less, pager | more"
    assert config.provides == ("editor", "foo-api (= 1.0)")


def test_assets_dir_is_relative_to_the_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE + "source:\n  assets_dir: 'release/{version}'\n"))
    assert config.resolve_assets_dir("v2.0") == (tmp_path / "release" / "2.0").resolve()


def test_anchors_and_merge_keys_are_allowed_in_moderation(tmp_path: Path) -> None:
    text = BASE + (
        "architectures:\n"
        "  amd64: &common\n    binary_path: bin/foo\n    asset: foo-amd64.tgz\n"
        "  arm64:\n    <<: *common\n    asset: foo-arm64.tgz\n"
    )
    config = load_config(write(tmp_path, text))
    amd64, arm64 = config.arch_specs()
    assert amd64.asset == "foo-amd64.tgz"
    assert arm64.binary_paths == ("bin/foo",) and arm64.asset == "foo-arm64.tgz"


# --------------------------------------------------------------------------- placeholders


def test_expand() -> None:
    assert cfg.expand("{package_name}-{version}-{arch}", tag="v0.44.1", arch="amd64", package_name="lg") == (
        "lg-0.44.1-x86_64"
    )
    assert (
        cfg.expand("{tag}_{debarch}_{arch}", tag="v1", arch="arm64", package_name="x") == "v1_arm64_aarch64"
    )
    assert cfg.expand("{arch}", tag="1", arch="arm64", package_name="x", upstream_token="arm64") == "arm64"
    assert cfg.expand("{{literal}}-{version}", tag="release-1.2-rc1", arch="i386", package_name="x") == (
        "{literal}-1.2-rc1"
    )
    assert cfg.tag_version("v0.44.1") == "0.44.1" and cfg.tag_version("nightly") == "nightly"


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{verison}.tgz", "did you mean {version}"),
        ("{version.major}", "unknown placeholder"),
        ("{version!r}", "format spec"),
        ("{version:>9}", "format spec"),
        ("{version", "literal braces"),
        ("version}", "literal braces"),
        ("{}", "unknown placeholder {}"),
        ("{asset}.sha256", "unknown placeholder {asset}"),
    ],
)
def test_check_template(template: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)) as exc:
        cfg.check_template(template, field="binary_path")
    assert exc.value.field == "binary_path"


# --------------------------------------------------------------------------- errors

ERROR_CASES: list[tuple[str, str, int | None, str | None, str]] = [
    # (id, text appended to BASE, line, field, message fragment)
    ("unknown-top", "architecturs: [amd64]\n", 9, "architecturs", "did you mean 'architectures'?"),
    (
        "unknown-nested",
        "architectures:\n  amd64:\n    binary_pth: x\n",
        11,
        "architectures.amd64.binary_pth",
        "did you mean 'binary_path'?",
    ),
    ("unknown-install", "install:\n  mna: [x.1]\n", 10, "install.mna", "did you mean 'man'?"),
    ("unknown-source", "source:\n  assets-dir: x\n", 10, "source.assets-dir", "did you mean 'assets_dir'?"),
    (
        "bad-arch-map",
        "architectures:\n  amd46:\n    asset: x\n",
        10,
        "architectures.amd46",
        "did you mean 'amd64'?",
    ),
    ("bad-arch-list", "architectures: [amd64, arm46]\n", 9, "architectures[1]", "did you mean 'arm64'?"),
    (
        "bad-arch-list-multiline",
        "architectures:\n  - amd64\n  - i368\n",
        11,
        "architectures[1]",
        "did you mean 'i386'?",
    ),
    ("arch-shape", "architectures: [AMD64]\n", 9, "architectures[0]", "Debian architecture name"),
    (
        "arch-wrong-type",
        "architectures: amd64\n",
        9,
        "architectures",
        "a mapping of architecture settings or a list",
    ),
    ("arch-empty", "architectures: []\n", 9, "architectures", "must not be empty"),
    ("arch-dupe", "architectures: [amd64, amd64]\n", 9, "architectures", "duplicate"),
    ("arch-entry-type", "architectures:\n  amd64: [x]\n", 10, "architectures.amd64", "mapping of settings"),
    (
        "asset-and-pattern",
        "architectures:\n  amd64:\n    asset: a\n    release_pattern: b\n",
        12,
        "architectures.amd64.release_pattern",
        "not both",
    ),
    ("bundle-type", "bundle: yes\n", 9, "bundle", "must be true or false, not a string"),
    (
        "bundle-arch-type",
        "architectures:\n  arm64:\n    bundle: 1\n",
        11,
        "architectures.arm64.bundle",
        "true or false",
    ),
    ("bundle-root-without-bundle", "bundle_root: tree\n", 9, "bundle_root", "bundle: true"),
    ("binary-path-type", "binary_path: 7\n", 9, "binary_path", "a path (glob) or a list of paths"),
    ("binary-path-item", "binary_path: [a, 7]\n", 9, "binary_path[1]", "a string"),
    ("rename-with-two-paths", "binary_path: [a, b]\nbinary_rename: c\n", 10, "binary_rename", "mapping"),
    ("rename-slash", "binary_rename: bin/x\n", 9, "binary_rename", "plain file name"),
    ("placeholder", "binary_path: 'x-{verison}/x'\n", 9, "binary_path", "did you mean {version}?"),
    (
        "placeholder-arch",
        "architectures:\n  amd64:\n    asset: 'x-{Arch}.tgz'\n",
        11,
        "architectures.amd64.asset",
        "did you mean {arch}?",
    ),
    (
        "placeholder-install",
        "install:\n  man:\n    - ok.1\n    - '{pkg}.1'\n",
        12,
        "install.man[1]",
        "unknown placeholder",
    ),
    (
        "placeholder-checksums",
        "checksums:\n  files: ['{assets}.sha256']\n",
        10,
        "checksums.files[0]",
        "did you mean {asset}?",
    ),
    (
        "suite",
        "debian_distributions: [bookworm, trixy]\n",
        9,
        "debian_distributions[1]",
        "did you mean 'trixie'?",
    ),
    ("suite-shape", "debian_distributions: bookworm\n", 9, "debian_distributions", "must be a list"),
    ("compression-enum", "compression: zst\n", 9, "compression", "did you mean 'zstd'?"),
    (
        "compression-vs-suite",
        "compression: zstd\ndebian_distributions: [bullseye]\n",
        9,
        "compression",
        "bullseye's dpkg cannot read zstd",
    ),
    ("priority", "priority: extra\n", 9, "priority", "not one of"),
    ("section", "section: utlis\n", 9, "section", "did you mean 'utils'?"),
    ("license", "license: MIT/Apache-2.0\n", 9, "license", "SPDX"),
    ("homepage", "homepage: ftp://x\n", 9, "homepage", "http(s) URL"),
    ("epoch", "epoch: -1\n", 9, "epoch", "minimum"),
    ("relation", "depends: 'libc6 (>= 2.17), ((('\n", 9, "depends", "not a Debian relation"),
    ("relation-list", "depends:\n  - libc6\n  - 'bad name'\n", 11, "depends[1]", "not a Debian relation"),
    ("relation-op", "depends: 'libc6 (> 2.17)'\n", 9, "depends", "not a Debian relation"),
    ("relation-alternatives", "conflicts: 'a | b'\n", 9, "conflicts", "alternatives"),
    ("relation-empty", "depends: 'aa,,bb'\n", 9, "depends", "empty relation"),
    ("provides-op", "provides: 'ab (>= 1)'\n", 9, "provides", "only '='"),
    ("prefer-musl", "prefer_musl: 'no'\n", 9, "prefer_musl", "true or false"),
    ("checksums-unknown", "checksums:\n  file: x\n", 10, "checksums.file", "did you mean 'files'?"),
    ("source-required", "source: {}\n", 9, "source.assets_dir", "required"),
    ("int-key", "install:\n  1: x\n", 10, "install", "keys must be strings"),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_error_names_file_line_field(
    tmp_path: Path, text: str, line: int | None, field: str, fragment: str
) -> None:
    err = load_error(tmp_path, BASE + text)
    assert (err.line, err.field) == (line, field), err
    assert fragment in err.detail
    # The rendered message leads with file:line and the field, as annotations want it.
    assert str(err).startswith(f"{err.file}:{line}: field '{field}': ")


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"),
    [
        (
            BASE.replace("package_name: foo", "package_name: Foo_Bar"),
            1,
            "package_name",
            "Debian package name",
        ),
        (BASE.replace("package_name: foo", "package_name: f"), 1, "package_name", "at least two"),
        (
            BASE.replace("package_name: foo", "package_name: 12"),
            1,
            "package_name",
            "a string, not an integer",
        ),
        (BASE.replace("owner/foo.rs", "https://github.com/owner/foo"), 2, "github_repo", "owner/name"),
        (BASE.replace("Jane Doe <jane@example.org>", "jane@example.org"), 8, "maintainer", "Full Name <"),
        (BASE.replace("Does foo things", "x" * 81), 3, "description", "at most 80"),
        # A missing top-level key points at the first setting (line 1 here), so annotations show.
        (BASE.replace("package_name: foo\n", ""), 1, "package_name", "required"),
        (BASE.replace("description: |", "description: ''\nx: |"), 3, "description", "must not be empty"),
    ],
)
def test_top_level_field_errors(
    tmp_path: Path, text: str, line: int | None, field: str, fragment: str
) -> None:
    err = load_error(tmp_path, text)
    assert (err.line, err.field) == (line, field), err
    assert fragment in err.detail


# --------------------------------------------------------------------------- whole-file errors


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found") as exc:
        load_config(tmp_path / "nope.yaml")
    assert exc.value.file == str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="directory"):
        load_config(tmp_path)


@pytest.mark.parametrize("text", ["", "   \n\n", "\ufeff\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    err = load_error(tmp_path, text)
    assert err.line == 1 and "empty" in err.detail


def test_only_comments(tmp_path: Path) -> None:
    err = load_error(tmp_path, "# nothing here\n")
    assert err.line == 1 and "no settings" in err.detail


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "a list"), ("just a string\n", "a string"), ("42\n", "an integer")]
)
def test_top_level_not_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    err = load_error(tmp_path, text)
    assert err.line == 1 and f"not {kind}" in err.detail


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE.encode() + b"homepage: https://caf\xe9.example\n")
    assert err.line == 9 and "UTF-8" in err.detail and "0xe9" in err.detail


def test_bom_is_accepted(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, ("\ufeff" + BASE).encode())).package_name == "foo"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (BASE + "architectures: [amd64\n", 10),
        (BASE + "bundle: true\n  oops: 1\n", 10),
        (BASE + "foo: 'unterminated\n", 10),
        (BASE + "\tbundle: true\n", 9),
    ],
)
def test_yaml_syntax_error_has_line(tmp_path: Path, text: str, line: int) -> None:
    err = load_error(tmp_path, text)
    assert err.line == line, err
    assert "YAML syntax error" in err.detail


def test_duplicate_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "package_name: bar\n")
    assert err.line == 9 and "duplicate key" in err.detail and err.field == "package_name"
    err = load_error(tmp_path, BASE + "install:\n  man: a\n  man: b\n")
    assert err.line == 11 and "duplicate key 'man'" in err.detail


def test_debian_version_uses_the_epoch(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE + "epoch: 1\n"))
    assert config.debian_version("v2.0-rc1", "3", "trixie") == "1:2.0~rc1-3+deb13"


def test_alias_bomb_by_expansion(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    err = load_error(tmp_path, BASE + "\n".join(lines) + "\n")
    assert "alias bomb" in err.detail and err.line is not None


def test_alias_bomb_by_count(tmp_path: Path) -> None:
    text = BASE + "x: &x 1\nys: [" + ", ".join(["*x"] * (cfg.MAX_ALIASES + 1)) + "]\n"
    err = load_error(tmp_path, text)
    assert "aliases" in err.detail and err.line == 10


def test_deep_nesting(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "x: " + "[" * 200 + "]" * 200 + "\n")
    assert "nested deeper" in err.detail and err.line == 9


def test_file_size_limit(tmp_path: Path) -> None:
    text = BASE + "# " + "x" * cfg.MAX_FILE_BYTES + "\n"
    err = load_error(tmp_path, text)
    assert "larger than" in err.detail


def test_custom_tags_and_second_documents_refused(tmp_path: Path) -> None:
    err = load_error(tmp_path, BASE + "homepage: !!python/object/apply:os.system [id]\n")
    assert err.line == 9 and "tag" in err.detail
    err = load_error(tmp_path, BASE + "---\npackage_name: bar\n")
    assert err.line == 9 and "one YAML document" in err.detail


# --------------------------------------------------------------------------- fuzzing

REQUIRED = ("package_name", "description", "maintainer")
TOP_KEYS = (
    "package_name",
    "github_repo",
    "description",
    "maintainer",
    "homepage",
    "section",
    "priority",
    "license",
    "epoch",
    "depends",
    "recommends",
    "conflicts",
    "replaces",
    "provides",
    "architectures",
    "release_pattern",
    "binary_path",
    "binary_rename",
    "bundle",
    "bundle_root",
    "install",
    "debian_distributions",
    "prefer_musl",
    "ignore_assets",
    "checksums",
    "source",
    "compression",
)
ARCH_KEYS = ("asset", "release_pattern", "binary_path", "binary_rename", "bundle", "bundle_root", "install")
# Characters YAML can carry at all (it forbids most C0/C1 controls and surrogates): the fuzzer
# writes syntactically valid files, so every error must be about a field.
YAML_CHARS = st.characters(
    codec="utf-8", exclude_categories=["Cc", "Cs"], exclude_characters="\ufeff"
) | st.sampled_from("\t\n")
SAFE_KEY = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(YAML_CHARS, max_size=16)
    | st.sampled_from(
        ["{version}", "{nope}", "{", "amd64", "x86_64", "bookworm", "utils", "a | b", "A B <a@b>"]
    )
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SAFE_KEY, inner, max_size=3),
    max_leaves=6,
)
ARCH_NAME = st.sampled_from(
    ["amd64", "arm64", "armhf", "riscv64", "loong64", "amd46", "x86_64", "ARM64"]
) | st.text(alphabet=string.ascii_letters + string.digits + "-_ .", min_size=1, max_size=8)
# Values that fit some field, so the fuzzer also reaches the semantic checks after the schema.
PLAUSIBLE = st.booleans() | st.sampled_from(
    ["x-{version}-{arch}.tar.gz", "{tag}/bin", "bin/*", "tool", "{debarch}", "x{", "a/b", "{asset}"]
)
ARCH_ENTRY = (
    st.none()
    | st.dictionaries(st.sampled_from(ARCH_KEYS) | SAFE_KEY, JUNK, max_size=3)
    | st.dictionaries(st.sampled_from(ARCH_KEYS), PLAUSIBLE | st.lists(PLAUSIBLE, max_size=2), max_size=4)
    | JUNK
)
MUTATION = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(TOP_KEYS), JUNK),
    st.tuples(st.just("set"), SAFE_KEY, JUNK),  # mostly unknown keys
    st.tuples(st.just("del"), st.sampled_from(REQUIRED), st.none()),
    st.tuples(
        st.just("set"),
        st.just("architectures"),
        st.dictionaries(ARCH_NAME, ARCH_ENTRY, min_size=1, max_size=3),
    ),
    st.tuples(st.just("set"), st.just("architectures"), st.lists(ARCH_NAME, min_size=1, max_size=4)),
    st.tuples(st.just("set"), st.just("package_name"), st.text(YAML_CHARS, max_size=12)),
    st.tuples(
        st.just("set"),
        st.just("debian_distributions"),
        st.lists(st.sampled_from(["bullseye", "bookworm", "sid", "bookwrm", "Trixie", ""]), max_size=3),
    ),
    st.tuples(
        st.just("set"), st.just("install"), st.dictionaries(st.sampled_from(["man", "docs", "mna"]), JUNK)
    ),
)


def _base_doc() -> dict[str, Any]:
    return {
        "package_name": "foo",
        "github_repo": "owner/foo",
        "description": "Does foo\nAt length.\n",
        "maintainer": "Jane Doe <jane@example.org>",
        "binary_path": "foo-{version}/foo",
    }


_SEGMENT = re.compile(r'\.?([A-Za-z0-9_+-]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def _resolve(doc: Any, field: str) -> bool:
    """Does the dotted field path exist in the document?"""
    node = doc
    pos = 0
    while pos < len(field):
        m = _SEGMENT.match(field, pos)
        if m is None:
            return False
        pos = m.end()
        key: str | int = (
            m.group(1)
            if m.group(1) is not None
            else (int(m.group(2)) if m.group(2) is not None else json.loads(m.group(3)))
        )
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            node = node[key]
        elif isinstance(node, dict) and str(key) in node:
            node = node[str(key)]
        else:
            return False
    return True


def _dump(doc: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(doc, indent=2, ensure_ascii=False)
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(doc, stream)
    return stream.getvalue()


@settings(max_examples=320, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(MUTATION, min_size=1, max_size=4), as_json=st.booleans())
def test_fuzz_only_config_errors(
    tmp_path: Path, mutations: list[tuple[str, str, Any]], as_json: bool
) -> None:
    doc = _base_doc()
    for op, key, value in mutations:
        if op == "del":
            doc.pop(key, None)
        else:
            doc[key] = value
    path = tmp_path / "fuzz.yaml"
    path.write_text(_dump(doc, as_json), encoding="utf-8")
    try:
        config = load_config(path)
    except ConfigError as err:
        event("ConfigError")
        assert err.file == str(path)
        assert err.field, err
        if _resolve(doc, err.field):
            assert err.line is not None, err
        return
    event("loaded")
    # Whatever loads must be usable by the builder without surprises.
    assert isinstance(config.arch_specs(tag="v1.0.0"), tuple)
    assert all(isinstance(s, ArchSpec) for s in config.arch_specs())
    config.suites()
