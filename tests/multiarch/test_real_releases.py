"""Real upstream releases of three shapes, packaged with plain configs, end to end.

- a single static binary (uv, from its PyPI wheels: ``tests/support/uv_release.py``);
- a bundled toolchain (Zig: one binary and thousands of library files, from the ``ziglang`` wheel);
- a release named with Node's arch words (esbuild's ``@esbuild/linux-<arch>`` npm packages).

Each package must install with dpkg, its binary must run (under qemu-user for foreign arches),
lintian must find no error and no warning (``--lintian strict`` fails the build otherwise), and
with no ``SOURCE_DATE_EPOCH`` set two builds a few seconds apart must give the same bytes.
The releases are downloaded once into ``~/.cache/debian-multiarch-builder``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from multiarch.suites import get_arch
from tests.conftest import require_root, require_tool, skip_or_fail
from tests.support.registry_releases import (
    ESBUILD_NODE_ARCHES,
    ESBUILD_VERSION,
    ZIG_VERSION,
    RegistryUnavailable,
    esbuild_release,
    ziglang_release,
)

ROOT = Path(__file__).resolve().parents[2]
MAINTAINER = "Jane Doe <jane@example.org>"
ESBUILD_ARCHES = tuple(a for a in ESBUILD_NODE_ARCHES.values() if a is not None)


def _release(fetch: Callable[[], Path]) -> Path:
    try:
        return fetch()
    except (RegistryUnavailable, OSError) as exc:
        skip_or_fail(f"the registry release could not be fetched and is not cached: {exc}")
        raise


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    # No SOURCE_DATE_EPOCH: the packages' date must come from the release itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "TELEMETRY_", "SOURCE_DATE"))}
    env.update({"PYTHONPATH": str(ROOT), "MULTIARCH_XZ_PRESET": "0"})
    return subprocess.run(
        [sys.executable, "-m", "multiarch", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800, check=False,
    )  # fmt: skip


def build(config: Path, assets: Path, out: Path, *extra: str) -> dict[str, Any]:
    proc = run_cli(
        "build", f"--config={config}", f"--assets-dir={assets}", f"--output-dir={out}",
        f"--cache-dir={out.parent / 'cache'}", "--lintian=strict", *extra,
    )  # fmt: skip
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    result: dict[str, Any] = json.loads((out / ".multiarch-result.json").read_text())
    result["log"] = proc.stdout + proc.stderr
    return result


def write_config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "package.yaml"
    path.write_text(text)
    return path


def assert_lintian_clean(result: dict[str, Any]) -> None:
    for job in result["jobs"]:
        assert job["status"] == "success", job
        lint = job["lintian"]
        assert (lint["errors"], lint["warnings"]) == (0, 0), (job["arch"], lint["tags"])


def install_and_run(deb: Path, package: str, arch: str, command: list[str], root: Path) -> str:
    """dpkg -i into a throwaway root (foreign arches forced), then run the installed binary."""
    require_root()
    require_tool("dpkg")
    for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name in ("status", "available"):
        (root / "var/lib/dpkg" / name).touch()
    subprocess.run(
        ["dpkg", f"--root={root}", "--force-depends", "--force-architecture", "-i", str(deb)],
        check=True, capture_output=True,
    )  # fmt: skip
    status = subprocess.run(
        ["dpkg", f"--root={root}", "-s", package], check=True, capture_output=True, text=True
    )
    assert "Status: install ok installed" in status.stdout
    exe = str(root / command[0])
    prefix: list[str] = []
    # The x86-64 kernel runs i386 binaries itself (qemu-i386 traps on Go's i386 runtime).
    if arch not in ("amd64", "i386"):
        qemu = get_arch(arch).qemu_user
        require_tool(qemu)
        prefix = [qemu]
    proc = subprocess.run(
        [*prefix, exe, *command[1:]], check=True, capture_output=True, text=True, timeout=120
    )
    return proc.stdout.strip()


def package_bytes(result: dict[str, Any]) -> dict[str, bytes]:
    return {Path(j["package_path"]).name: Path(j["package_path"]).read_bytes() for j in result["jobs"]}


# --------------------------------------------------------------------------- esbuild (Node names)


@pytest.fixture(scope="module")
def esbuild_dir() -> Path:
    return _release(esbuild_release)


@pytest.fixture(scope="module")
def esbuild_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The list form, as a user would write it; the description starts with an article.
    return write_config(
        tmp_path_factory.mktemp("esbuild-config"),
        "package_name: esbuild\n"
        "github_repo: evanw/esbuild\n"
        "description: An extremely fast bundler for the web\n"
        f"maintainer: {MAINTAINER}\n"
        "license: MIT\n"
        f"architectures: [{', '.join(ESBUILD_ARCHES)}]\n"
        "debian_distributions: [trixie]\n",
    )


@pytest.fixture(scope="module")
def esbuild_built(
    esbuild_dir: Path, esbuild_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    require_tool("dpkg-deb", "lintian")
    out = tmp_path_factory.mktemp("esbuild") / "out"
    return build(esbuild_config, esbuild_dir, out, f"--version=v{ESBUILD_VERSION}")


def test_node_named_release_plan_lets_the_elf_header_decide(esbuild_dir: Path, esbuild_config: Path) -> None:
    proc = run_cli(
        "plan", f"--config={esbuild_config}", f"--version=v{ESBUILD_VERSION}", f"--assets-dir={esbuild_dir}"
    )
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    chosen = {a["arch"]: a for a in plan["architectures"]}
    for node_arch, arch in ESBUILD_NODE_ARCHES.items():
        if arch is not None:
            assert chosen[arch]["asset"] == f"esbuild-{ESBUILD_VERSION}-linux-{node_arch}.tar.gz"
    assert "Node" in chosen["armhf"]["reason"] and "ELF header ARM" in chosen["armhf"]["reason"]
    assert "ELF header PowerPC64 (64-bit little-endian) confirms" in chosen["ppc64el"]["reason"]
    assert chosen["i386"]["reason"] == "ia32 is i386"
    assert any("description-synopsis-starts-with-article" in n for n in plan["notes"])


def test_node_named_release_builds_lintian_clean_installs_and_runs(
    esbuild_built: dict[str, Any], tmp_path: Path
) -> None:
    jobs = {j["arch"]: j for j in esbuild_built["jobs"]}
    # loong64 has no trixie port: skipped by suite, not for want of an asset.
    assert set(jobs) == set(ESBUILD_ARCHES) - {"loong64"}
    assert_lintian_clean(esbuild_built)
    for arch, job in jobs.items():
        version = install_and_run(
            Path(job["package_path"]), "esbuild", arch, ["usr/bin/esbuild", "--version"], tmp_path / arch
        )
        assert version == ESBUILD_VERSION, arch


def test_builds_without_source_date_epoch_are_byte_identical(
    esbuild_built: dict[str, Any], esbuild_dir: Path, esbuild_config: Path, tmp_path: Path
) -> None:
    time.sleep(2)  # a different wall clock for the second build
    again = build(
        esbuild_config, esbuild_dir, tmp_path / "again", f"--version=v{ESBUILD_VERSION}", "--arch=amd64,armhf"
    )
    first = package_bytes(esbuild_built)
    second = package_bytes(again)
    assert second and all(first[name] == data for name, data in second.items())


# --------------------------------------------------------------------------- uv (one static binary)


def test_single_binary_release_with_a_plain_config(uv_release_dir: Path, tmp_path: Path) -> None:
    require_tool("dpkg-deb", "lintian")
    config = write_config(
        tmp_path / "config",
        "package_name: uv\n"
        "github_repo: astral-sh/uv\n"
        "description: An extremely fast Python package and project manager, written in Rust\n"
        f"maintainer: {MAINTAINER}\n"
        "license: MIT OR Apache-2.0\n"
        "architectures: [amd64, arm64]\n"
        "debian_distributions: [bookworm]\n",
    )
    first = build(config, uv_release_dir, tmp_path / "one", "--version=0.5.11")
    assert_lintian_clean(first)
    time.sleep(2)
    second = build(config, uv_release_dir, tmp_path / "two", "--version=0.5.11")
    assert package_bytes(first) == package_bytes(second)
    for job in first["jobs"]:
        out = install_and_run(
            Path(job["package_path"]), "uv", job["arch"], ["usr/bin/uv", "--version"], tmp_path / job["arch"]
        )
        assert out.startswith("uv 0.5.11")


# --------------------------------------------------------------------------- zig (bundled toolchain)


def test_bundled_toolchain_with_a_plain_config(tmp_path: Path) -> None:
    require_tool("dpkg-deb", "lintian")
    zig = _release(ziglang_release)
    config = write_config(
        tmp_path / "config",
        "package_name: zig\n"
        "github_repo: ziglang/zig\n"
        "description: The general-purpose programming language and toolchain Zig\n"
        f"maintainer: {MAINTAINER}\n"
        "license: MIT\n"
        "architectures: [amd64]\n"
        "debian_distributions: [trixie]\n"
        "bundle: true\n"
        "binary_path: '*/zig'\n",
    )
    result = build(config, zig, tmp_path / "out", f"--version={ZIG_VERSION}")
    assert_lintian_clean(result)
    (job,) = result["jobs"]
    assert job["lintian"]["overridden"] >= 1  # bundled files in upstream's encodings
    version = install_and_run(
        Path(job["package_path"]), "zig", "amd64", ["usr/bin/zig", "version"], tmp_path / "root"
    )
    assert version == ZIG_VERSION
