"""The uv release folder built from PyPI wheels looks like the GitHub release it stands in for."""

from __future__ import annotations

import hashlib
import struct
import tarfile
from pathlib import Path

from tests.support.uv_release import UV_LINUX_TARGETS, uv_release

# e_machine and EI_DATA per Debian arch (what the real binaries must carry).
MACHINES = {"amd64": 62, "arm64": 183, "armhf": 40, "i386": 3, "ppc64el": 21, "s390x": 22}


def test_real_uv_assets(uv_release_dir: Path) -> None:
    names = {p.name for p in uv_release_dir.iterdir() if not p.name.startswith(".")}
    for arch, target in UV_LINUX_TARGETS.items():
        asset = f"uv-{target}.tar.gz"
        assert asset in names and f"{asset}.sha256" in names
        digest = hashlib.sha256((uv_release_dir / asset).read_bytes()).hexdigest()
        assert (uv_release_dir / f"{asset}.sha256").read_text() == f"{digest}  {asset}\n"
        with tarfile.open(uv_release_dir / asset) as tar:
            member = tar.getmember(f"uv-{target}/uv")
            assert member.mode == 0o755 and member.uid == 0
            fh = tar.extractfile(member)
            assert fh is not None
            head = fh.read(20)
        assert head[:4] == b"\x7fELF"
        endian = "<" if head[5] == 1 else ">"
        assert struct.unpack(endian + "H", head[18:20])[0] == MACHINES[arch], arch
    assert "uv-x86_64-unknown-linux-musl.tar.gz" in names
    assert {"source.tar.gz", "dist-manifest.json", "sha256.sum"} <= names


def test_cache_is_reused(uv_release_dir: Path) -> None:
    # A second call finds the published folder and returns at once (no rebuild, no download).
    assert uv_release("0.5.11") == uv_release_dir
