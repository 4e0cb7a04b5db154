"""SOURCE_DATE_EPOCH by default: the newest date the release asset records, so rebuilds match."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from multiarch.build import UPSTREAM_EPOCH_FLOOR, BuildOptions, source_date_epoch, upstream_epoch
from tests.support.uv_release import FIXED_MTIME, minimal_elf, tiny_release

ROOT = Path(__file__).resolve().parents[2]
UV_CONFIG = ROOT / "examples" / "uv" / "package.yaml"


def test_tar_members_newest_mtime(tmp_path: Path) -> None:
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, mtime in (("a", 1_700_000_000), ("b", 1_700_000_500), ("c", 1_600_000_000)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = 1, mtime
            tar.addfile(info, io.BytesIO(b"x"))
    os.utime(path, (2_000_000_000, 2_000_000_000))  # the file's own mtime never counts
    assert upstream_epoch(path, path) == 1_700_000_500


def test_zip_dates_are_read_as_utc(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("tool", date_time=(2024, 12, 20, 0, 0, 0)), b"x")
    assert upstream_epoch(path) == 1734652800


def test_gzip_header_then_local_file_then_floor(tmp_path: Path) -> None:
    gz = tmp_path / "tool.gz"
    with open(gz, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=1_700_000_000) as out:
        out.write(b"\x7fELF")
    assert upstream_epoch(gz) == 1_700_000_000
    bare = tmp_path / "tool"
    bare.write_bytes(minimal_elf(2, 1, 62))
    os.utime(bare, (1_650_000_000, 1_650_000_000))
    assert upstream_epoch(bare, bare) == 1_650_000_000
    assert upstream_epoch(bare) == UPSTREAM_EPOCH_FLOOR


def test_an_explicit_date_wins_and_none_means_derive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "123")
    assert source_date_epoch(BuildOptions(config=Path("x"), tag="1", source_date_epoch=42)) == 42
    assert source_date_epoch(BuildOptions(config=Path("x"), tag="1")) == 123
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert source_date_epoch(BuildOptions(config=Path("x"), tag="1")) is None


def _build(release: Path, out: Path) -> dict[str, bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "TELEMETRY_", "SOURCE_DATE"))}
    env.update({"PYTHONPATH": str(ROOT), "MULTIARCH_XZ_PRESET": "0"})
    proc = subprocess.run(
        [sys.executable, "-m", "multiarch", "build", f"--config={UV_CONFIG}", "--version=0.5.11",
         "--distributions=trixie", "--arch=amd64,arm64", f"--assets-dir={release}", f"--output-dir={out}",
         f"--cache-dir={out.parent / 'cache'}"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((out / ".multiarch-result.json").read_text())
    return {Path(j["package_path"]).name: Path(j["package_path"]).read_bytes() for j in result["jobs"]}


def test_two_builds_at_different_times_are_byte_identical(tmp_path: Path) -> None:
    release = tiny_release(tmp_path / "release")
    first = _build(release, tmp_path / "one" / "out")
    time.sleep(2)
    for asset in release.iterdir():  # a fresh checkout or download: new file mtimes
        os.utime(asset)
    second = _build(release, tmp_path / "two" / "out")
    assert len(first) == 2 and first == second
    member = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(tmp_path / "one" / "out" / next(iter(first)))],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(member)) as tar:
        assert max(m.mtime for m in tar) == FIXED_MTIME  # the assets' own date, not the clock's
