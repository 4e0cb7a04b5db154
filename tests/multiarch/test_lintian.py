"""lintian: the overrides shipped for unmodified upstream binaries, package.yaml's own, and strict mode."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from multiarch.elf import ElfInfo
from multiarch.lintian import LintianTag, override_entry, parse_lintian, strict_failure
from multiarch.payload import StagedBinary
from tests.conftest import require_tool
from tests.support.uv_release import minimal_elf

ROOT = Path(__file__).resolve().parents[2]

# What lintian's embedded-library check recognises as a compiled-in zlib.
ZLIB_BANNER = b"\0 deflate 1.2.13 Copyright 1995-2022 Jean-loup Gailly and Mark Adler \0"


def _elf(*, static: bool = False, symtab: bool = False) -> ElfInfo:
    return ElfInfo(
        elf_class=64, endianness="little", osabi=0, elf_type=3, machine=62, flags=0,
        interpreter=None if static else "/lib64/ld-linux-x86-64.so.2",
        needed=() if static else ("libc.so.6",),
        soname=None, is_pie=True, has_symtab=symtab, glibc_versions=(),
    )  # fmt: skip


def _override_text(package: str, binaries: list[StagedBinary], configured: Any = ()) -> str:
    entry = override_entry(package, binaries, configured)
    assert entry is not None
    assert entry.path == f"usr/share/lintian/overrides/{package}"
    return b"".join(entry.blocks()).decode()


def test_overrides_name_each_upstream_file_and_carry_their_reasons() -> None:
    text = _override_text(
        "tool",
        [
            StagedBinary("usr/bin/tool", "tool", _elf(static=True, symtab=True)),
            StagedBinary("usr/lib/tool/lib/libx.so", "lib/libx.so", _elf()),
            StagedBinary("usr/bin/helper", "helper.sh", None),  # a script: nothing to override
        ],
        (("national-encoding [usr/lib/tool/share/*]", "bundled Latin-1 docs"), ("foo-tag", "")),
    )
    lines = text.splitlines()
    assert "tool: statically-linked-binary [usr/bin/tool]" in lines
    assert "tool: unstripped-binary-or-object [usr/bin/tool]" in lines
    assert "tool: embedded-library * [usr/bin/tool]" in lines
    assert "tool: embedded-library * [usr/lib/tool/lib/libx.so]" in lines
    assert not any("helper" in line for line in lines)
    at = lines.index("tool: national-encoding [usr/lib/tool/share/*]")
    assert lines[at - 1] == "# bundled Latin-1 docs"
    assert lines[-1] == "tool: foo-tag" and lines[-2].startswith("# ")
    # Every override line is preceded by (or grouped under) a comment giving its reason.
    assert lines[0].startswith("# ")


def test_no_binaries_and_no_configured_overrides_ship_no_file() -> None:
    assert override_entry("tool", []) is None


def test_strict_failure_names_the_error_tags() -> None:
    result = parse_lintian(
        "E: tool: description-starts-with-package-name\n"
        "E: tool: embedded-library zlib [usr/bin/tool]\n"
        "W: tool: national-encoding [usr/share/x]\n"
        "O: tool: statically-linked-binary [usr/bin/tool]\n"
    )
    # Overridden findings are counted, but the result file lists only the others.
    assert (result.counts.errors, result.counts.warnings, result.counts.overridden) == (2, 1, 1)
    assert len(result.tags) == 4 and len(result.counts.tags) == 3
    assert not any("statically-linked-binary" in tag for tag in result.counts.tags)
    why = strict_failure(result)
    assert why is not None and why.startswith("lintian found 2 errors")
    assert "description-starts-with-package-name" in why and "embedded-library" in why
    warnings_only = parse_lintian("W: tool: national-encoding [usr/share/x]\n")
    assert strict_failure(warnings_only) is None
    assert LintianTag("E", "tool", "x") not in warnings_only.tags


# --------------------------------------------------------------------------- with lintian


def _tar_gz(dest: Path, top: str, members: dict[str, bytes]) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            mode = 0o755 if name.startswith("bin/") else 0o644
            info.size, info.mode, info.mtime = len(data), mode, 1734653444
            tar.addfile(info, io.BytesIO(data))
    dest.write_bytes(raw.getvalue())


def _config(tmp_path: Path, description: str, extra: str = "") -> Path:
    path = tmp_path / "package.yaml"
    path.write_text(
        "package_name: tool\n"
        f"description: {description}\n"
        "maintainer: Jane Doe <jane@example.org>\n"
        "homepage: https://example.org/tool\n"
        "license: MIT\n"
        "architectures: [amd64]\n"
        "debian_distributions: [trixie]\n" + extra
    )
    return path


def _build(config: Path, assets: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "TELEMETRY_"))}
    env.update({"PYTHONPATH": str(ROOT), "MULTIARCH_XZ_PRESET": "0"})
    proc = subprocess.run(
        [sys.executable, "-m", "multiarch", "build", f"--config={config}", "--version=1.0.0",
         f"--assets-dir={assets}", f"--output-dir={out}", f"--cache-dir={out.parent / 'cache'}", *extra],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    result = json.loads((out / ".multiarch-result.json").read_text())
    return proc.returncode, result, proc.stdout + proc.stderr


def _zlib_release(tmp_path: Path, extra: dict[str, bytes] | None = None) -> Path:
    assets = tmp_path / "assets"
    assets.mkdir()
    binary = minimal_elf(2, 1, 62) + ZLIB_BANNER
    members = {"bin/tool": binary, **(extra or {})}
    _tar_gz(assets / "tool-1.0.0-x86_64-unknown-linux-gnu.tar.gz", "tool-1.0.0", members)
    return assets


# A bundled tree with compiled Python caches: lintian's package-installs-python-pycache-dir is an
# error that no built-in override excuses.
PYCACHE = {"lib/__pycache__/helper.cpython-311.pyc": b"\xa7\r\r\n" + bytes(12)}
BUNDLE = "bundle: true\n"


def test_a_plain_config_with_an_article_and_an_embedded_zlib_is_lintian_clean(tmp_path: Path) -> None:
    require_tool("lintian")
    config = _config(tmp_path, "An utility that does things, described at length by its upstream authors")
    code, result, output = _build(config, _zlib_release(tmp_path), tmp_path / "out", "--lintian")
    assert code == 0, output
    assert "note:" in output and "description-synopsis-starts-with-article" in output
    (job,) = result["jobs"]
    lint = job["lintian"]
    assert (lint["errors"], lint["warnings"]) == (0, 0), lint["tags"]
    assert lint["overridden"] >= 1  # the embedded zlib, overridden for the upstream binary


def test_strict_fails_a_package_with_lintian_errors_and_removes_it(tmp_path: Path) -> None:
    require_tool("lintian")
    config = _config(tmp_path, "Helper for doing things", BUNDLE)
    assets = _zlib_release(tmp_path, PYCACHE)
    code, result, output = _build(config, assets, tmp_path / "strict", "--lintian", "strict")
    assert code == 1, output
    (job,) = result["jobs"]
    assert job["status"] == "failure" and job["failure_category"] == "packaging"
    assert "package-installs-python-pycache-dir" in job["reason"] and "strict" in job["reason"]
    assert job["lintian"]["errors"] >= 1
    assert not list((tmp_path / "strict").glob("*.deb"))
    # Without strict the same package is built and its errors are only reported.
    code, result, output = _build(config, assets, tmp_path / "report", "--lintian")
    assert code == 0, output
    assert result["jobs"][0]["lintian"]["errors"] >= 1


def test_configured_overrides_reach_the_package(tmp_path: Path) -> None:
    require_tool("lintian", "dpkg-deb")
    extra = BUNDLE + (
        "lintian_overrides:\n"
        "  - override: package-installs-python-pycache-dir [usr/lib/tool/lib/__pycache__/]\n"
        "    reason: upstream ships its caches\n"
    )
    config = _config(tmp_path, "Helper for doing things", extra)
    assets = _zlib_release(tmp_path, PYCACHE)
    code, result, output = _build(config, assets, tmp_path / "out", "--lintian=strict")
    assert code == 0, output
    (job,) = result["jobs"]
    assert (job["lintian"]["errors"], job["lintian"]["warnings"]) == (0, 0), job["lintian"]["tags"]
    shipped = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", job["package_path"]], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(shipped)) as tar:
        member = tar.extractfile("./usr/share/lintian/overrides/tool")
        assert member is not None
        text = member.read().decode()
    reason = "# upstream ships its caches\n"
    assert reason + "tool: package-installs-python-pycache-dir [usr/lib/tool/lib/__pycache__/]\n" in text


# --------------------------------------------------------------------------- the action's input


@pytest.mark.parametrize(
    ("value", "check", "strict", "flag"),
    [
        ("strict", True, True, "--lintian=strict"),
        ("true", True, False, "--lintian"),
        ("false", False, False, None),
    ],
)
def test_lintian_check_input_takes_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, check: bool, strict: bool, flag: str | None
) -> None:
    from action.builder_args import builder_argv
    from action.inputs import KnownNames, read_inputs

    for key in list(os.environ):
        if key.startswith("INPUT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INPUT_VERSION", "v1")
    monkeypatch.setenv("INPUT_LINTIAN-CHECK", value)
    inputs = read_inputs("", KnownNames(architectures=("amd64",), suites=("trixie",)))
    assert (inputs.lintian_check, inputs.lintian_strict) == (check, strict)
    argv = [a for a in builder_argv(inputs, tmp_path / "r.json") if a.startswith("--lintian")]
    assert argv == ([flag] if flag else [])
