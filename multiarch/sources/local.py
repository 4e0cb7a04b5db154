"""Release assets from a local folder (``assets-dir``): files named like release assets.

Used when an earlier workflow step built the binaries, and by the demo and tests. Every regular,
non-hidden file in the folder is an asset (subfolders are not: a release is flat). A sidecar
``<asset>.sha256`` / ``.sha256sum`` gives the asset's ``digest_sha256``, as GitHub's ``digest``
does for a hosted release; the sidecars stay assets too, so checksum discovery treats both
sources alike.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import BinaryIO

from multiarch.errors import ConfigError, NetworkError, SecurityError
from multiarch.sources.interface import DownloadResult, Release, ReleaseAsset, ReleaseSource

_HEX64 = re.compile(r"\b([0-9a-fA-F]{64})\b")


def _sidecar_digest(folder: Path, name: str) -> str | None:
    for suffix in (".sha256", ".sha256sum"):
        sidecar = folder / f"{name}{suffix}"
        if not sidecar.is_file():
            continue
        for line in sidecar.read_text(errors="replace").splitlines():
            match = _HEX64.search(line)
            if not match:
                continue
            rest = line[match.end() :].strip().lstrip("*").strip()
            # "<hex>  <name>" must name this asset; a bare "<hex>" is taken as-is.
            if rest and Path(rest).name != name:
                continue
            return match.group(1).lower()
    return None


class LocalSource(ReleaseSource):
    def __init__(self, folder: Path, *, license_spdx: str | None = None) -> None:
        self.folder = folder
        self.license_spdx = license_spdx

    def describe(self) -> str:
        return f"local folder {self.folder}"

    def get_release(self, tag: str) -> Release:
        if not self.folder.is_dir():
            raise ConfigError(
                f"assets folder {self.folder} does not exist or is not a folder",
                field="assets-dir",
                remediation=("point assets-dir at the folder the earlier step wrote its release files to",),
            )
        files = sorted(p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith("."))
        root = self.folder.resolve()
        for path in files:
            # A link out of the folder would package (or leak into the cache and the logs) a
            # file from anywhere on the runner: only what is really in the folder is released.
            real = path.resolve()
            if root not in real.parents:
                raise SecurityError(
                    f"release asset {path.name} in {self.folder} is a link to {real}, outside the "
                    "assets folder",
                    remediation=("copy the file into the assets folder instead of linking to it",),
                )
        assets = tuple(
            ReleaseAsset(
                name=p.name,
                size=p.stat().st_size,
                download_ref=str(p.resolve()),
                digest_sha256=_sidecar_digest(self.folder, p.name),
            )
            for p in files
        )
        return Release(tag=tag, assets=assets, license_spdx=self.license_spdx, html_url="")

    def download(self, asset: ReleaseAsset, sink: BinaryIO) -> DownloadResult:
        sink.seek(0)
        sink.truncate()
        try:
            with open(asset.download_ref, "rb") as src:
                shutil.copyfileobj(src, sink, 1024 * 1024)
        except FileNotFoundError:
            raise NetworkError(f"asset {asset.name} vanished from {self.folder}", transient=False) from None
        sink.flush()
        return DownloadResult(bytes_written=sink.tell(), attempts=1)
