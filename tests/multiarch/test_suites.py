"""The suite × architecture table: schema, invariants, lookups."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest

from multiarch import suites
from multiarch.errors import ConfigError
from tests.conftest import require_tool


def test_bundled_table_loads_and_is_ordered_oldest_first() -> None:
    names = [s.name for s in suites.all_suites()]
    assert names == ["bullseye", "bookworm", "trixie", "forky", "sid"]
    assert [s.order for s in suites.all_suites()] == list(range(5))


@pytest.mark.parametrize(
    ("suite", "zstd"),
    [("bullseye", False), ("bookworm", True), ("trixie", True), ("forky", True), ("sid", True)],
)
def test_zstd_capability_follows_dpkg(suite: str, zstd: bool) -> None:
    # dpkg learned to read zstd .deb members in 1.21.18; bullseye ships 1.20.
    info = suites.get_suite(suite)
    assert info.dpkg_reads_zstd is zstd
    assert info.supports_compression("xz")
    assert info.supports_compression("zstd") is zstd


def test_architecture_availability_per_suite() -> None:
    assert [s.name for s in suites.suites_for_arch("loong64")] == ["forky", "sid"]
    assert [s.name for s in suites.suites_for_arch("riscv64")] == ["trixie", "forky", "sid"]
    assert "armel" not in suites.get_suite("forky").architectures
    for name in ("amd64", "arm64", "armhf", "i386", "ppc64el", "s390x"):
        assert len(suites.suites_for_arch(name)) == 5, name


@pytest.mark.parametrize(
    ("arch", "elf_class", "endian", "machine", "token", "qemu", "triplet"),
    [
        ("amd64", 64, "little", 62, "x86_64", "qemu-x86_64-static", "x86_64-linux-gnu"),
        ("arm64", 64, "little", 183, "aarch64", "qemu-aarch64-static", "aarch64-linux-gnu"),
        ("armhf", 32, "little", 40, "armv7", "qemu-arm-static", "arm-linux-gnueabihf"),
        ("armel", 32, "little", 40, "arm", "qemu-arm-static", "arm-linux-gnueabi"),
        ("i386", 32, "little", 3, "i686", "qemu-i386-static", "i686-linux-gnu"),
        ("ppc64el", 64, "little", 21, "powerpc64le", "qemu-ppc64le-static", "powerpc64le-linux-gnu"),
        ("s390x", 64, "big", 22, "s390x", "qemu-s390x-static", "s390x-linux-gnu"),
        ("riscv64", 64, "little", 243, "riscv64gc", "qemu-riscv64-static", "riscv64-linux-gnu"),
        ("loong64", 64, "little", 258, "loongarch64", "qemu-loongarch64-static", "loongarch64-linux-gnu"),
    ],
)
def test_arch_table(
    arch: str, elf_class: int, endian: str, machine: int, token: str, qemu: str, triplet: str
) -> None:
    info = suites.get_arch(arch)
    assert (info.elf_class, info.endianness, info.e_machine) == (elf_class, endian, machine)
    assert info.primary_token == token
    assert info.qemu_user == qemu
    assert info.gnu_triplet == triplet
    assert info.elf_ei_class == (1 if elf_class == 32 else 2)
    assert info.elf_ei_data == (1 if endian == "little" else 2)


def test_arm_float_abi_expectations() -> None:
    assert suites.get_arch("armhf").arm_float_abi == "hard"
    assert suites.get_arch("armel").arm_float_abi == "soft"
    assert suites.get_arch("arm64").arm_float_abi is None


@pytest.mark.parametrize(
    ("token", "arch"),
    [
        ("x86_64", "amd64"),
        ("x86-64", "amd64"),  # the classic mistake is reading this as i386
        ("X64", "amd64"),
        ("aarch64", "arm64"),
        ("gnueabihf", "armhf"),
        ("armv7", "armhf"),
        ("gnueabi", "armel"),
        ("armv6", "armel"),
        ("i686", "i386"),
        ("386", "i386"),
        ("powerpc64le", "ppc64el"),
        ("riscv64gc", "riscv64"),
        ("loongarch64", "loong64"),
        ("s390x", "s390x"),
    ],
)
def test_tokens(token: str, arch: str) -> None:
    found = suites.arch_for_token(token)
    assert found is not None and found.name == arch


def test_unknown_token_and_ppc64_big_endian_is_not_ppc64el() -> None:
    assert suites.arch_for_token("powerpc64") is None
    assert suites.arch_for_token("mips") is None


def test_unknown_names_give_hints() -> None:
    with pytest.raises(ConfigError, match="did you mean 'bookworm'") as exc:
        suites.get_suite("bookwrm", field="debian_distributions")
    assert exc.value.field == "debian_distributions"
    with pytest.raises(ConfigError, match="did you mean 'arm64'"):
        suites.get_arch("arm46")


def test_resolve_suites() -> None:
    assert [s.name for s in suites.resolve_suites(None)] == [s.name for s in suites.default_suites()]
    # Deduplicated and in table order whatever the request order.
    assert [s.name for s in suites.resolve_suites(["sid", "bookworm", "sid"])] == ["bookworm", "sid"]


def test_suffixes_sort_in_suite_order_with_real_dpkg() -> None:
    require_tool("dpkg")
    table = suites.all_suites()
    for older, newer in itertools.pairwise(table):
        a, b = f"1.0-1{older.version_suffix}", f"1.0-1{newer.version_suffix}"
        assert subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False).returncode == 0, (a, b)


def _write_table(tmp_path: Path, mutate: object) -> Path:
    doc = json.loads(suites.DATA_FILE.read_text())
    assert callable(mutate)
    mutate(doc)
    path = tmp_path / "suites.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def test_schema_violation_is_a_config_error(tmp_path: Path) -> None:
    path = _write_table(tmp_path, lambda d: d["architectures"][0].__setitem__("elf_class", 16))
    with pytest.raises(ConfigError) as exc:
        suites.load_table(path)
    assert exc.value.file == str(path)
    assert exc.value.field == "architectures.0.elf_class"


def test_cross_checks(tmp_path: Path) -> None:
    # A suffix that sorts wrongly (the upstream codename style) is refused.
    def codenames(d: dict[str, list[dict[str, str]]]) -> None:
        for s in d["suites"]:
            s["version_suffix"] = "+" + s["name"]

    with pytest.raises(ConfigError, match="must sort above"):
        suites.load_table(_write_table(tmp_path, codenames))

    def shared_token(d: dict[str, list[dict[str, list[str]]]]) -> None:
        d["architectures"][1]["upstream_tokens"].append("x86_64")

    with pytest.raises(ConfigError, match="claimed by both"):
        suites.load_table(_write_table(tmp_path, shared_token))

    def unknown_arch(d: dict[str, list[dict[str, list[str]]]]) -> None:
        d["suites"][0]["architectures"].append("mips")

    with pytest.raises(ConfigError, match="unknown architecture 'mips'"):
        suites.load_table(_write_table(tmp_path, unknown_arch))


def test_broken_json(tmp_path: Path) -> None:
    path = tmp_path / "suites.json"
    path.write_text('{\n  "schema": 1,\n  oops\n}')
    with pytest.raises(ConfigError) as exc:
        suites.load_table(path)
    assert exc.value.line == 3


def test_values_are_frozen() -> None:
    info = suites.get_arch("amd64")
    with pytest.raises(AttributeError):
        info.name = "x"  # type: ignore[misc]
