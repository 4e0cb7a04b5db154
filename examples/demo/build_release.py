#!/usr/bin/env python3
"""Rebuild the demo's release folder from src/hello-demo.c (provenance of the committed assets).

The committed files in ``release/`` were produced by this script; ``make demo``
does not run it (a fresh machine has no cross compilers). To reproduce them on
Debian/Ubuntu::

    apt-get install gcc gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf
    python3 examples/demo/build_release.py

The archives are packed deterministically (fixed mtimes, root ownership, gzip
header without a timestamp) so that the same compiler gives byte-identical
assets and checksums.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "src" / "hello-demo.c"
RELEASE = HERE / "release"
VERSION = "1.0.0"
# 2025-01-01T00:00:00Z: a fixed timestamp keeps the archives reproducible.
EPOCH = 1735689600

# Upstream target triple (as Rust-style release assets name them) -> C compiler.
TARGETS = {
    "x86_64-unknown-linux-gnu": "x86_64-linux-gnu-gcc",
    "aarch64-unknown-linux-gnu": "aarch64-linux-gnu-gcc",
    "armv7-unknown-linux-gnueabihf": "arm-linux-gnueabihf-gcc",
}

CFLAGS = [
    "-Os",
    "-static",
    "-nostdlib",
    "-ffreestanding",
    "-fno-stack-protector",
    "-fno-asynchronous-unwind-tables",
    "-fno-ident",  # no .comment section (lintian: binary-has-unneeded-section)
    "-Wl,--build-id=none",
    "-s",
    f'-DDEMO_VERSION="{VERSION}"',
]


def compile_for(triple: str, compiler: str, workdir: Path) -> bytes:
    out = workdir / f"hello-demo-{triple}"
    subprocess.run([compiler, *CFLAGS, "-o", str(out), str(SOURCE)], check=True)
    return out.read_bytes()


def pack(triple: str, binary: bytes) -> tuple[str, bytes]:
    name = f"hello-demo-{triple}"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        folder = tarfile.TarInfo(name)
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o755
        folder.mtime = EPOCH
        folder.uname = folder.gname = "root"
        tar.addfile(folder)
        member = tarfile.TarInfo(f"{name}/hello-demo")
        member.size = len(binary)
        member.mode = 0o755
        member.mtime = EPOCH
        member.uname = member.gname = "root"
        tar.addfile(member, io.BytesIO(binary))
    # mtime=0 in the gzip header: the archive's bytes depend only on its contents.
    return f"{name}.tar.gz", gzip.compress(buf.getvalue(), compresslevel=9, mtime=0)


def main() -> int:
    RELEASE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for triple, compiler in TARGETS.items():
            asset, data = pack(triple, compile_for(triple, compiler, Path(tmp)))
            (RELEASE / asset).write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            (RELEASE / f"{asset}.sha256").write_text(f"{digest}  {asset}\n")
            print(f"{asset}  {len(data)} bytes  sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
