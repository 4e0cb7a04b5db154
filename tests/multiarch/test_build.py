"""End to end with real tools: the uv matrix from the loopback GitHub API, then dpkg, lintian, qemu.

One matrix (6 arches x bookworm, trixie, with lintian) is built once per module through the CLI
and shared by the tests. ``MULTIARCH_XZ_PRESET=0`` keeps it fast: the preset changes only the
ratio, never the layout or the checks. The failure paths use the tiny stub release (header-only
ELF files with each arch's real class, byte order and machine), which builds in about a second.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, require_root, require_tool
from tests.support.fake_github import FakeGitHub
from tests.support.uv_release import minimal_elf, tiny_release

UV_CONFIG = ROOT / "examples" / "uv" / "package.yaml"
ARCHES = ("amd64", "arm64", "armhf", "i386", "ppc64el", "s390x")
SUITES = ("bookworm", "trixie")
EPOCH = "1734653444"
TOKEN = "ghp_FAKEtoken0123456789abcdefghijklmnopqr"


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300, check: bool = False
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "TELEMETRY_"))}
    full_env.update({"PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": EPOCH, "MULTIARCH_XZ_PRESET": "0"})
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "multiarch", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def github(uv_release_dir: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as gh:
        gh.add_repo(
            "astral-sh/uv", license_spdx="MIT", description="An extremely fast Python package manager."
        )
        gh.add_release_from_dir("astral-sh/uv", "0.5.11", uv_release_dir)
        yield gh


@pytest.fixture(scope="module")
def matrix(github: FakeGitHub, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_tool("dpkg-deb", "lintian")
    work = tmp_path_factory.mktemp("matrix")
    events = work / "events.jsonl"
    env = {**github.env(), "TELEMETRY_EVENTS_FILE": str(events)}
    proc = run_cli(
        "build",
        f"--config={UV_CONFIG}",
        "--version=0.5.11",
        f"--distributions={','.join(SUITES)}",
        f"--output-dir={work / 'out'}",
        f"--cache-dir={work / 'cache'}",
        env=env,
        check=True,
    )
    result = json.loads((work / "out" / ".multiarch-result.json").read_text())
    return {"work": work, "result": result, "stdout": proc.stdout, "events": events}


def jobs(matrix: dict[str, Any]) -> list[dict[str, Any]]:
    return list(matrix["result"]["jobs"])


def deb_for(matrix: dict[str, Any], arch: str, suite: str) -> Path:
    job = next(j for j in jobs(matrix) if j["arch"] == arch and j["suite"] == suite)
    return Path(job["package_path"])


def test_every_package_of_the_matrix_is_built(matrix: dict[str, Any]) -> None:
    result = matrix["result"]
    assert result["status"] == "success" and result["error"] is None
    assert (result["package"], result["tag"], result["upstream_version"]) == ("uv", "0.5.11", "0.5.11")
    assert sorted((j["arch"], j["suite"]) for j in jobs(matrix)) == sorted(
        (a, s) for a in ARCHES for s in SUITES
    )
    import hashlib

    for job in jobs(matrix):
        path = Path(job["package_path"])
        assert path.is_absolute() and path.name == f"uv_{job['version']}_{job['arch']}.deb"
        data = path.read_bytes()
        assert job["size"] == len(data) and job["sha256"] == hashlib.sha256(data).hexdigest()
        assert job["failure_category"] is None and job["reason"] == ""
    # No half-written packages under any name.
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("arch", ARCHES)
def test_dpkg_deb_info_and_contents(matrix: dict[str, Any], arch: str) -> None:
    deb = deb_for(matrix, arch, "trixie")
    fields = {}
    for name in ("Package", "Version", "Architecture", "Maintainer", "Installed-Size", "Depends", "Section"):
        out = subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True)
        fields[name] = out.stdout.strip()
    assert (
        fields["Package"] == "uv" and fields["Version"] == "0.5.11-1+deb13" and fields["Architecture"] == arch
    )
    assert int(fields["Installed-Size"]) > 25_000
    if arch == "arm64":
        assert fields["Depends"] == ""  # a static build needs no libc
    else:
        assert fields["Depends"].startswith("libc6 (>= 2.1") and "libgcc-s1" in fields["Depends"]
    info = subprocess.run(["dpkg-deb", "--info", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "new Debian package, version 2.0." in info and "md5sums" in info
    contents = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    )
    listing = {
        line.split()[-1] if "->" not in line else line.split()[-3]: line
        for line in contents.stdout.splitlines()
    }
    for path in (
        "./usr/bin/uv",
        "./usr/bin/uvx",
        "./usr/share/doc/uv/copyright",
        "./usr/share/doc/uv/changelog.Debian.gz",
        "./usr/share/man/man1/uv.1.gz",
        "./usr/share/man/man1/uvx.1.gz",
    ):
        assert path in listing, path
        assert " root/root " in listing[path]
    assert listing["./usr/bin/uv"].startswith("-rwxr-xr-x")
    assert listing["./usr/share/doc/uv/copyright"].startswith("-rw-r--r--")
    # Every package overrides embedded-library for its upstream ELF files; only the static
    # arm64 build needs statically-linked-binary as well.
    assert "./usr/share/lintian/overrides/uv" in listing


def test_lintian_finds_no_errors_or_warnings(matrix: dict[str, Any]) -> None:
    # One package per arch, alternating suites: lintian takes seconds per package, and the
    # suites differ only in version and changelog.
    from concurrent.futures import ThreadPoolExecutor

    from multiarch.lintian import run_lintian

    debs = [deb_for(matrix, arch, SUITES[i % len(SUITES)]) for i, arch in enumerate(ARCHES)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run_lintian, debs))
    for deb, lint in zip(debs, results, strict=True):
        assert (lint.counts.errors, lint.counts.warnings) == (0, 0), (deb.name, [str(t) for t in lint.tags])
    # The static arm64 build needs its override, and it is used (not reported as unused).
    arm64 = results[ARCHES.index("arm64")]
    assert any(t.severity == "O" and t.tag == "statically-linked-binary" for t in arm64.tags)
    assert not any(t.tag == "mismatched-override" for r in results for t in r.tags)
    # The blanket embedded-library override of upstream's ELF files may go unused (an info tag);
    # the per-file ones must all be used.
    unused = [t for r in results for t in r.tags if t.tag == "unused-override"]
    assert all("embedded-library" in t.detail for t in unused), [str(t) for t in unused]


def test_lintian_counts_in_the_result(tiny: Path, tmp_path: Path) -> None:
    require_tool("lintian")
    events = tmp_path / "events.jsonl"
    code, result, output = build_tiny(
        tiny,
        tmp_path / "out",
        "--arch=amd64",
        "--distributions=trixie",
        "--lintian",
        env={"TELEMETRY_EVENTS_FILE": str(events)},
    )
    assert code == 0, output
    (job,) = result["jobs"]
    assert set(job["lintian"]) >= {"errors", "warnings", "info", "tags"}
    names = [json.loads(line).get("name") for line in events.read_text().splitlines()]
    assert "lintian_amd64_trixie" in names


def test_changelog_matches_version_and_suite(matrix: dict[str, Any], tmp_path: Path) -> None:
    import gzip

    from debian.changelog import Changelog

    deb = deb_for(matrix, "i386", "bookworm")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    log = Changelog(
        gzip.decompress((tmp_path / "usr/share/doc/uv/changelog.Debian.gz").read_bytes()).decode()
    )
    assert (str(log.version), log.distributions) == ("0.5.11-1+deb12", "bookworm")


def test_amd64_package_installs_and_runs(matrix: dict[str, Any], tmp_path: Path) -> None:
    require_root()
    require_tool("dpkg")
    root = tmp_path / "root"
    for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates"):
        (root / sub).mkdir(parents=True)
    for name in ("status", "available"):
        (root / "var/lib/dpkg" / name).touch()
    deb = deb_for(matrix, "amd64", "bookworm")
    # libc6 and libgcc-s1 come from the host here: the throwaway root has no package database.
    subprocess.run(
        ["dpkg", f"--root={root}", "--force-depends", "-i", str(deb)], check=True, capture_output=True
    )
    status = subprocess.run(
        ["dpkg", f"--root={root}", "-s", "uv"], check=True, capture_output=True, text=True
    )
    assert "Status: install ok installed" in status.stdout
    out = subprocess.run([str(root / "usr/bin/uv"), "--version"], check=True, capture_output=True, text=True)
    assert out.stdout.strip().startswith("uv 0.5.11")


def test_arm64_binary_runs_under_qemu(matrix: dict[str, Any], tmp_path: Path) -> None:
    require_tool("qemu-aarch64-static")
    subprocess.run(["dpkg-deb", "-x", str(deb_for(matrix, "arm64", "trixie")), str(tmp_path)], check=True)
    out = subprocess.run(
        ["qemu-aarch64-static", str(tmp_path / "usr/bin/uv"), "--version"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip().startswith("uv 0.5.11")


def test_versions_order_by_suite(matrix: dict[str, Any]) -> None:
    require_tool("dpkg")
    for arch in ARCHES:
        old = next(j["version"] for j in jobs(matrix) if j["arch"] == arch and j["suite"] == "bookworm")
        new = next(j["version"] for j in jobs(matrix) if j["arch"] == arch and j["suite"] == "trixie")
        subprocess.run(["dpkg", "--compare-versions", old, "lt", new], check=True)
    subprocess.run(["dpkg", "--compare-versions", "0.5.11-1+deb13", "lt", "0.5.11-1+deb14"], check=True)
    subprocess.run(["dpkg", "--compare-versions", "0.5.11-1+deb14", "lt", "0.5.11-1+sid"], check=True)


def test_same_inputs_give_byte_identical_packages(
    matrix: dict[str, Any], github: FakeGitHub, tmp_path: Path
) -> None:
    run_cli(
        "build",
        f"--config={UV_CONFIG}",
        "--version=0.5.11",
        "--arch=arm64",
        "--distributions=bookworm",
        f"--output-dir={tmp_path}",
        f"--cache-dir={matrix['work'] / 'cache'}",
        "--max-parallel=1",  # a different schedule must not change a byte
        env=github.env(),
        check=True,
    )
    for arch in ("arm64",):
        first = deb_for(matrix, arch, "bookworm")
        assert (tmp_path / first.name).read_bytes() == first.read_bytes(), arch


def test_stage_events_per_job_and_step(matrix: dict[str, Any]) -> None:
    events = [json.loads(line) for line in matrix["events"].read_text().splitlines()]
    started = {e["name"] for e in events if e["type"] == "stage_start"}
    completed = {e["name"]: e["status"] for e in events if e["type"] == "stage_complete"}
    for arch in ARCHES:
        for step in ("download", "verify", "extract"):
            assert completed[f"{step}_{arch}"] == "success"
        for suite in SUITES:
            for stage in (
                f"architecture_{arch}_{suite}",
                f"package_{arch}_{suite}",
            ):
                assert stage in started and completed[stage] == "success"
    assert not [e for e in events if e["type"] == "failure"]


# ----------------------------------------------------------------------------- failures


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return tiny_release(tmp_path / "release")


def build_tiny(
    release: Path, out: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    proc = run_cli(
        "build",
        f"--config={UV_CONFIG}",
        "--version=0.5.11",
        "--distributions=bookworm,trixie",
        f"--assets-dir={release}",
        f"--output-dir={out}",
        f"--cache-dir={out.parent / 'cache'}",
        *extra,
        env=env,
    )
    result = json.loads((out / ".multiarch-result.json").read_text())
    return proc.returncode, result, proc.stdout + proc.stderr


def test_one_missing_asset_leaves_the_others_built(tiny: Path, tmp_path: Path) -> None:
    for name in ("uv-s390x-unknown-linux-gnu.tar.gz", "uv-s390x-unknown-linux-gnu.tar.gz.sha256"):
        (tiny / name).unlink()
    code, result, _ = build_tiny(tiny, tmp_path / "out")
    assert code == 1 and result["status"] == "partial"
    failed = [j for j in result["jobs"] if j["status"] == "failure"]
    built = [j for j in result["jobs"] if j["status"] == "success"]
    assert {(j["arch"], j["suite"]) for j in failed} == {("s390x", "bookworm"), ("s390x", "trixie")}
    assert all(j["failure_category"] == "dependency" and "s390x" in j["reason"] for j in failed)
    assert len(built) == 10 and all(Path(j["package_path"]).is_file() for j in built)


def test_x86_64_binary_offered_as_i386_is_refused(tiny: Path, tmp_path: Path) -> None:
    # Repack the i686 asset around the x86-64 stub (keeping its name and a valid checksum).
    stem = "uv-i686-unknown-linux-gnu"
    asset = tiny / f"{stem}.tar.gz"
    elf = minimal_elf(2, 1, 62)
    staging = tmp_path / "staging"
    (staging / stem).mkdir(parents=True)
    for name in ("uv", "uvx"):
        (staging / stem / name).write_bytes(elf)
        (staging / stem / name).chmod(0o755)
    with tarfile.open(asset, "w:gz") as tf:
        tf.add(staging / stem, arcname=stem)
    import hashlib

    digest = hashlib.sha256(asset.read_bytes()).hexdigest()
    (tiny / f"{stem}.tar.gz.sha256").write_text(f"{digest}  {stem}.tar.gz\n")
    sums = tiny / "sha256.sum"  # the release-wide sums file must agree too (every digest is checked)
    lines = [
        f"{digest}  {stem}.tar.gz" if line.endswith(f"{stem}.tar.gz") else line
        for line in sums.read_text().splitlines()
    ]
    sums.write_text("\n".join(lines) + "\n")
    events = tmp_path / "events.jsonl"
    code, result, _output = build_tiny(tiny, tmp_path / "out", env={"TELEMETRY_EVENTS_FILE": str(events)})
    assert code == 1 and result["status"] == "partial"
    refused = [j for j in result["jobs"] if j["arch"] == "i386"]
    assert len(refused) == 2, result
    for job in refused:
        assert (job["status"], job["failure_category"]) == ("failure", "architecture"), job["reason"]
    assert "x86-64" in refused[0]["reason"] and "offered as i386" in refused[0]["reason"]
    assert all(j["status"] == "success" for j in result["jobs"] if j["arch"] != "i386")
    failures = [json.loads(line) for line in events.read_text().splitlines() if '"failure"' in line]
    assert any(
        f["type"] == "failure" and f["category"] == "architecture" and f["stage"] == "extract_i386"
        for f in failures
    )


def test_config_error_names_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "package.yaml"
    config.write_text(UV_CONFIG.read_text().replace("section: python", "section: pythn"))
    out = tmp_path / "out"
    proc = run_cli("build", f"--config={config}", "--version=0.5.11", f"--output-dir={out}")
    assert proc.returncode == 2
    line = next(i for i, text in enumerate(config.read_text().splitlines(), 1) if text.startswith("section:"))
    assert f"{config}:{line}: section: " in proc.stderr
    error = json.loads((out / ".multiarch-result.json").read_text())["error"]
    assert (error["category"], error["file"], error["line"], error["field"]) == (
        "configuration",
        str(config),
        line,
        "section",
    )


def test_usage_error_exits_2(tmp_path: Path) -> None:
    proc = run_cli("build", "--version=0.5.11", f"--output-dir={tmp_path}")
    assert proc.returncode == 2 and "--config" in proc.stderr


def test_zstd_refused_where_dpkg_cannot_read_it(tiny: Path, tmp_path: Path) -> None:
    proc = run_cli(
        "plan",
        f"--config={UV_CONFIG}",
        "--version=0.5.11",
        f"--assets-dir={tiny}",
        "--compression=zstd",
        "--distributions=bullseye",
    )
    assert proc.returncode == 2 and "bullseye" in proc.stderr and "zstd" in proc.stderr


def test_zstd_and_gzip_packages_for_newer_suites(tiny: Path, tmp_path: Path) -> None:
    for compression, member in (("zstd", "data.tar.zst"), ("gzip", "data.tar.gz")):
        out = tmp_path / compression
        code, result, _ = build_tiny(tiny, out, "--arch=amd64", f"--compression={compression}")
        assert code == 0, result
        deb = Path(result["jobs"][0]["package_path"])
        assert (
            member in subprocess.run(["ar", "t", str(deb)], capture_output=True, text=True, check=True).stdout
        )
        subprocess.run(["dpkg-deb", "--contents", str(deb)], check=True, capture_output=True)


def test_plan_prints_the_matrix_and_skips(tiny: Path, tmp_path: Path) -> None:
    config = tmp_path / "package.yaml"
    text = UV_CONFIG.read_text().replace("architectures: [amd64, arm64, armhf, i386, ppc64el, s390x]\n", "")
    config.write_text(text)
    proc = run_cli(
        "plan",
        f"--config={config}",
        "--version=0.5.11",
        f"--assets-dir={tiny}",
        "--distributions=bookworm,trixie",
    )
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    chosen = {a["arch"]: a for a in plan["architectures"] if a.get("asset")}
    assert chosen["amd64"]["asset"] == "uv-x86_64-unknown-linux-gnu.tar.gz"
    assert "uv-x86_64-unknown-linux-musl.tar.gz" in chosen["amd64"]["alternatives"]
    assert len(plan["matrix"]) == 12
    skipped = {(s["arch"], s.get("suite")) for s in plan["skipped"]}
    assert ("riscv64", None) in skipped or ("riscv64", "bookworm") in skipped
    assert any(r["name"] == "uv-x86_64-unknown-linux-musl.tar.gz" for r in plan["rejected_assets"])
    assert not list(tmp_path.glob("**/*.deb"))


def test_sigterm_stops_the_build_and_writes_the_result(uv_release_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "TELEMETRY_"))}
    env.update({"PYTHONPATH": str(ROOT), "MULTIARCH_XZ_PRESET": "6"})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "multiarch",
            "build",
            f"--config={UV_CONFIG}",
            "--version=0.5.11",
            f"--assets-dir={uv_release_dir}",
            f"--output-dir={out}",
            f"--cache-dir={tmp_path / 'cache'}",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (out.exists() and shutil.disk_usage(out)) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    start = time.monotonic()
    proc.wait(timeout=60)
    assert proc.returncode == 143
    assert time.monotonic() - start < 30
    result = json.loads((out / ".multiarch-result.json").read_text())
    assert result.get("cancelled") is True
    assert result["status"] in ("failure", "partial")
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_checksum_file_named_in_package_yaml_is_required_and_checked(tiny: Path, tmp_path: Path) -> None:
    # Only package.yaml knows "release-digests.list" holds the checksums: with `required: true`
    # every asset must be covered by it, and a wrong line in it fails that arch as `security`.
    import hashlib

    lines = []
    for asset in sorted(tiny.iterdir()):
        if asset.name.endswith((".sha256", ".sum")):
            asset.unlink()
        elif asset.name.endswith(".tar.gz"):
            digest = hashlib.sha256(asset.read_bytes()).hexdigest()
            if "s390x" in asset.name:
                digest = "0" * 64
            lines.append(f"{digest}  {asset.name}")
    (tiny / "release-digests.list").write_text("\n".join(lines) + "\n")
    config = tmp_path / "package.yaml"
    text = UV_CONFIG.read_text()
    assert 'files: ["{asset}.sha256"]' in text
    config.write_text(text.replace('files: ["{asset}.sha256"]', "files: [release-digests.list]"))
    out = tmp_path / "out"
    proc = run_cli(
        "build",
        f"--config={config}",
        "--version=0.5.11",
        "--distributions=bookworm",
        f"--assets-dir={tiny}",
        f"--output-dir={out}",
        f"--cache-dir={tmp_path / 'cache'}",
    )
    result = json.loads((out / ".multiarch-result.json").read_text())
    assert proc.returncode == 1 and result["status"] == "partial", proc.stderr
    by_arch = {j["arch"]: j for j in result["jobs"]}
    assert by_arch["s390x"]["failure_category"] == "security"
    assert "release-digests.list" in by_arch["s390x"]["reason"]
    assert all(j["status"] == "success" for arch, j in by_arch.items() if arch != "s390x"), by_arch


# ----------------------------------------------------------------------------- telemetry


def _served_bytes(gh: FakeGitHub, release: Path) -> int:
    """What the loopback server sent as asset bodies, from the release files' own sizes."""
    import urllib.parse

    total = 0
    for request in gh.requests_matching("/objects/*"):
        size = (release / urllib.parse.unquote(request.path.rsplit("/", 1)[1])).stat().st_size
        wanted = request.header("Range")
        start = int(wanted.removeprefix("bytes=").split("-")[0]) if wanted else 0
        body = size - start
        # A truncated response stops after half its body (Fault.truncated's default fraction).
        total += int(body * 0.5) if request.fault == "truncate" else body
    return total


def test_builder_reports_the_bytes_it_downloaded(
    fake_github: FakeGitHub, uv_release_dir: Path, tmp_path: Path
) -> None:
    # Under a telemetry session, as the action runs it: every asset and checksum file comes from
    # the loopback server, the amd64 archive is cut short once and resumed with a range request.
    from telemetry.events import BUILDER_DOWNLOADED_BYTES
    from telemetry.session import Session, SessionOptions
    from tests.support.fake_github import Fault

    fake_github.add_release_from_dir("astral-sh/uv", "0.5.11", uv_release_dir)
    fake_github.add_fault(Fault.truncated("/objects/*/uv-x86_64-unknown-linux-gnu.tar.gz"))
    out = tmp_path / "out"
    options = SessionOptions(
        telemetry_dir=tmp_path / "telemetry",
        sample_interval=0.2,
        env={
            **fake_github.env(),
            "PYTHONPATH": str(ROOT),
            "SOURCE_DATE_EPOCH": EPOCH,
            "MULTIARCH_XZ_PRESET": "0",
        },
        cwd=str(ROOT),
        output_path=str(tmp_path),
        echo_output=False,
    )
    argv = [sys.executable, "-m", "multiarch", "build", f"--config={UV_CONFIG}", "--version=0.5.11"]
    argv += ["--arch=amd64", "--distributions=trixie", f"--output-dir={out}", f"--cache-dir={tmp_path / 'c'}"]
    run = Session(options).run(argv=argv)

    assert run.outcome.exit_code == 0, run.outcome.output_tail
    assert [r.fault for r in fake_github.requests_matching("/objects/*")].count("truncate") == 1
    resumed = [r for r in fake_github.requests_matching("/objects/*") if r.header("Range")]
    assert len(resumed) == 1  # the cut-short archive continued where it stopped
    truth = _served_bytes(fake_github, uv_release_dir)
    archive = (uv_release_dir / "uv-x86_64-unknown-linux-gnu.tar.gz").stat().st_size
    assert truth > archive  # the archive, part of it twice over, and its checksum files
    assert run.counters[BUILDER_DOWNLOADED_BYTES] == truth
    assert run.network.builder_downloaded_bytes == truth


def test_builder_from_a_local_folder_reports_zero_downloaded(tiny: Path, tmp_path: Path) -> None:
    from telemetry.events import BUILDER_DOWNLOADED_BYTES

    events = tmp_path / "events.jsonl"
    code, _, output = build_tiny(
        tiny, tmp_path / "out", "--arch=amd64", env={"TELEMETRY_EVENTS_FILE": str(events)}
    )
    assert code == 0, output
    reported = [
        e["value"]
        for e in map(json.loads, events.read_text().splitlines())
        if e["type"] == "counter" and e["name"] == BUILDER_DOWNLOADED_BYTES
    ]
    assert reported == [0]  # reported, and nothing came over the network
