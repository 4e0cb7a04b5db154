"""A realistic uv release folder, built from uv's PyPI wheels.

GitHub is not reachable from the test machines, but PyPI is, and uv's wheels carry the same
executables as its GitHub release tarballs. ``uv_release()`` downloads the wheels once, repacks
the executables under the release's real asset names and adds the sidecar ``.sha256`` files and
the kind of noise a real release has (musl build, source tarball, signature, manifest, installer,
darwin/windows builds), so discovery, checksums and packaging are tested against what upstream
really publishes.

Everything is cached under ``$XDG_CACHE_HOME/debian-multiarch-builder`` (or
``~/.cache/debian-multiarch-builder``), keyed by version; the tarballs are deterministic (fixed
mtime, owner and order) so their sha256 sums are the same on every machine and every run.
Concurrent builders (pytest-xdist workers, parallel CI jobs) serialise on a lock file and publish
the folder with an atomic rename.

``tiny_release()`` builds the same asset layout around minimal ELF stubs (correct class,
byte order and ``e_machine`` per arch, a few hundred bytes) for tests that must be fast and
offline.

Public API::

    uv_release(version="0.5.11", cache_dir=None) -> Path       # real executables (downloads once)
    tiny_release(dest, version="0.5.11", name="uv") -> Path     # stubs, no network
    UV_LINUX_TARGETS: dict[debian_arch, rust_target]            # what the folder provides
    cache_root() -> Path
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# A fixed timestamp (uv 0.5.11's release day) for every tar member and gzip header.
FIXED_MTIME = 1734653444


@dataclass(frozen=True)
class _Target:
    debian_arch: str
    rust_target: str  # the asset's name stem, e.g. "uv-x86_64-unknown-linux-gnu"
    wheel_platform: str  # pip --platform
    elf_class: int  # 1 = 32-bit, 2 = 64-bit
    elf_data: int  # 1 = little endian, 2 = big endian
    e_machine: int
    e_flags: int = 0


# The six gnu builds uv ships for Linux, and the musl one we add as noise.
_GNU_TARGETS = (
    _Target("amd64", "x86_64-unknown-linux-gnu", "manylinux_2_17_x86_64", 2, 1, 62),
    _Target("arm64", "aarch64-unknown-linux-gnu", "manylinux_2_17_aarch64", 2, 1, 183),
    # EF_ARM_ABI_VER5 | EF_ARM_ABI_FLOAT_HARD: what a gnueabihf binary carries.
    _Target("armhf", "armv7-unknown-linux-gnueabihf", "manylinux_2_17_armv7l", 1, 1, 40, 0x05000400),
    _Target("i386", "i686-unknown-linux-gnu", "manylinux_2_17_i686", 1, 1, 3),
    _Target("ppc64el", "powerpc64le-unknown-linux-gnu", "manylinux_2_17_ppc64le", 2, 1, 21, 2),
    _Target("s390x", "s390x-unknown-linux-gnu", "manylinux_2_17_s390x", 2, 2, 22),
)
_MUSL_TARGET = _Target("amd64", "x86_64-unknown-linux-musl", "musllinux_1_1_x86_64", 2, 1, 62)

UV_LINUX_TARGETS: dict[str, str] = {t.debian_arch: t.rust_target for t in _GNU_TARGETS}

# Placeholders for builds we cannot get from PyPI; discovery must ignore them anyway.
_FOREIGN_OS_ASSETS = (
    "{name}-x86_64-apple-darwin.tar.gz",
    "{name}-aarch64-apple-darwin.tar.gz",
    "{name}-x86_64-pc-windows-msvc.zip",
)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".cache"
    return root / "debian-multiarch-builder"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_sidecar(folder: Path, asset: str) -> None:
    # cargo-dist's format: "<hex>  <name>" (two spaces: text mode in sha256sum terms).
    (folder / f"{asset}.sha256").write_text(f"{_sha256(folder / asset)}  {asset}\n")


def _tar_gz(dest: Path, members: list[tuple[str, bytes, int]], top_dir: str | None) -> None:
    """Write a reproducible .tar.gz: fixed mtimes, root owner, members in the given order."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        if top_dir is not None:
            info = tarfile.TarInfo(top_dir)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = FIXED_MTIME
            tar.addfile(info)
        for name, data, mode in members:
            info = tarfile.TarInfo(f"{top_dir}/{name}" if top_dir else name)
            info.size = len(data)
            info.mode = mode
            info.mtime = FIXED_MTIME
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    with (
        open(dest, "wb") as fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=6) as gz,
    ):
        gz.write(raw.getvalue())


def _download_wheels(version: str, wheel_dir: Path) -> dict[str, Path]:
    """One wheel per platform tag; returns {platform: wheel path}. Missing platforms are left out.

    Each platform gets its own folder, so whatever compatible tag pip picks we find the wheel.
    """
    found: dict[str, Path] = {}
    for target in (*_GNU_TARGETS, _MUSL_TARGET):
        folder = wheel_dir / target.wheel_platform
        existing = sorted(folder.glob("*.whl"))
        if not existing:
            folder.mkdir(parents=True, exist_ok=True)
            cmd = [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--only-binary=:all:", "--platform", target.wheel_platform,
                "--python-version", "3.11", "--dest", str(folder), f"uv=={version}",
            ]  # fmt: skip
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                if target is _MUSL_TARGET:
                    continue  # noise only; the release is still useful without it
                raise RuntimeError(f"pip download for {target.wheel_platform} failed:\n{result.stderr}")
            existing = sorted(folder.glob("*.whl"))
        if existing:
            found[target.wheel_platform] = existing[0]
    return found


def _scripts_from_wheel(wheel: Path, version: str) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as zf:
        return {
            exe: zf.read(f"uv-{version}.data/scripts/{exe}")
            for exe in ("uv", "uvx")
            if f"uv-{version}.data/scripts/{exe}" in zf.namelist()
        }


def _add_noise(folder: Path, name: str, version: str, assets: list[str]) -> None:
    # The source tarball cargo-dist attaches, with its checksum.
    _tar_gz(
        folder / "source.tar.gz",
        [("README.md", f"# {name} {version}\n".encode(), 0o644), ("Cargo.toml", b"[package]\n", 0o644)],
        f"{name}-{version}",
    )
    _write_sidecar(folder, "source.tar.gz")
    for pattern in _FOREIGN_OS_ASSETS:
        asset = pattern.format(name=name)
        stem = asset.removesuffix(".tar.gz").removesuffix(".zip")
        if asset.endswith(".zip"):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                info = zipfile.ZipInfo(f"{name}.exe", date_time=(2024, 12, 20, 0, 0, 0))
                zf.writestr(info, b"MZ placeholder: not a Linux build\n")
            (folder / asset).write_bytes(buf.getvalue())
        else:
            _tar_gz(folder / asset, [(name, b"placeholder: not a Linux build\n", 0o755)], stem)
        _write_sidecar(folder, asset)
    (folder / f"{name}-installer.sh").write_text("#!/bin/sh\necho 'installer placeholder'\n")
    # A detached signature and an SBOM: both must be ignored by discovery.
    (folder / f"{name}-x86_64-unknown-linux-gnu.tar.gz.sig").write_bytes(b"-----BEGIN SIGNATURE-----\n")
    (folder / f"{name}-{version}.cdx.json").write_text(
        json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []})
    )
    every = sorted(p.name for p in folder.iterdir() if p.is_file())
    manifest = {
        "dist_version": "0.25.1",
        "announcement_tag": version,
        "releases": [{"app_name": name, "app_version": version, "artifacts": every}],
        "artifacts": {a: {"name": a, "kind": "executable-zip"} for a in assets},
    }
    (folder / "dist-manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    # cargo-dist's combined checksum file covering every archive.
    archives = [a for a in every if a.endswith((".tar.gz", ".zip"))]
    (folder / "sha256.sum").write_text("".join(f"{_sha256(folder / a)}  {a}\n" for a in archives))


def _publish(build: Callable[[Path], None], final: Path) -> Path:
    """Build into a temp folder next to ``final`` and rename it into place under a lock."""
    with _locked(final.parent / f".{final.name}.lock"):
        if (final / ".complete").exists():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            build(tmp)
            (tmp / ".complete").write_text("ok\n")
            tmp.chmod(0o755)  # mkdtemp's 0700 would hide the folder from a container's other user
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def uv_release(version: str = "0.5.11", cache_dir: Path | None = None) -> Path:
    """The release folder of uv ``version`` (downloads the wheels once, then reuses the cache).

    Assets: ``uv-<rust target>.tar.gz`` for the six gnu Linux targets (each holding
    ``uv-<rust target>/uv`` and ``uvx``), the musl x86_64 build, noise assets, and a
    ``<asset>.sha256`` for each archive. The ``.complete`` marker is not an asset: callers that
    list the folder should skip dotfiles (``FakeGitHub.add_release_from_dir`` does).
    """
    root = cache_dir if cache_dir is not None else cache_root()
    final = root / "releases" / f"uv-{version}"
    if (final / ".complete").exists():
        return final

    def build(tmp: Path) -> None:
        wheels = _download_wheels(version, root / "wheels" / f"uv-{version}")
        assets: list[str] = []
        for target in (*_GNU_TARGETS, _MUSL_TARGET):
            wheel = wheels.get(target.wheel_platform)
            if wheel is None:
                continue
            scripts = _scripts_from_wheel(wheel, version)
            stem = f"uv-{target.rust_target}"
            asset = f"{stem}.tar.gz"
            _tar_gz(tmp / asset, [(exe, data, 0o755) for exe, data in sorted(scripts.items())], stem)
            _write_sidecar(tmp, asset)
            assets.append(asset)
        _add_noise(tmp, "uv", version, assets)

    return _publish(build, final)


def minimal_elf(elf_class: int, elf_data: int, e_machine: int, e_flags: int = 0) -> bytes:
    """A header-only ELF executable: enough for ``file``, readelf and our ELF checks, not to run."""
    endian = "<" if elf_data == 1 else ">"
    ident = b"\x7fELF" + bytes([elf_class, elf_data, 1, 0]) + bytes(8)
    if elf_class == 2:
        header = struct.pack(
            endian + "HHIQQQIHHHHHH", 2, e_machine, 1, 0x400078, 64, 0, e_flags, 64, 56, 0, 64, 0, 0
        )
    else:
        header = struct.pack(
            endian + "HHIIIIIHHHHHH", 2, e_machine, 1, 0x8048054, 52, 0, e_flags, 52, 32, 0, 40, 0, 0
        )
    return ident + header + b"\0" * 64


def tiny_release(dest: Path, version: str = "0.5.11", name: str = "uv") -> Path:
    """The uv release layout around tiny ELF stubs, written to ``dest`` (no network).

    Same asset names, sidecars and noise as ``uv_release`` (with ``name`` instead of ``uv``);
    the executables ``<name>`` and ``<name>x`` carry each arch's real ELF class, byte order and
    machine, so architecture checks behave as with the real binaries.
    """
    dest.mkdir(parents=True, exist_ok=True)
    assets: list[str] = []
    for target in (*_GNU_TARGETS, _MUSL_TARGET):
        elf = minimal_elf(target.elf_class, target.elf_data, target.e_machine, target.e_flags)
        stem = f"{name}-{target.rust_target}"
        asset = f"{stem}.tar.gz"
        _tar_gz(dest / asset, [(name, elf, 0o755), (f"{name}x", elf, 0o755)], stem)
        _write_sidecar(dest, asset)
        assets.append(asset)
    _add_noise(dest, name, version, assets)
    return dest


if __name__ == "__main__":
    print(uv_release(sys.argv[1] if len(sys.argv) > 1 else "0.5.11"))
