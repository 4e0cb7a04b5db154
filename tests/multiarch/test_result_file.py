"""The builder's real result files match schemas/builder-result.schema.json and read back exactly.

Each case is a real build of the tiny stub release (about a second): every package built, some,
none, a configuration error, a usage error, and a build cancelled before its jobs ran. The file
is validated with jsonschema, read through ``contracts.builder_result`` and written back, which
must give the same document and the same bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import jsonschema

from contracts.builder_result import BuilderResult
from multiarch.build import BuildOptions, build_packages, write_result
from tests.conftest import ROOT, require_tool
from tests.support.uv_release import tiny_release

UV_CONFIG = ROOT / "examples" / "uv" / "package.yaml"
SCHEMA = json.loads((ROOT / "schemas" / "builder-result.schema.json").read_text(encoding="utf-8"))
S390X = ("uv-s390x-unknown-linux-gnu.tar.gz", "uv-s390x-unknown-linux-gnu.tar.gz.sha256")


def run_builder(tmp_path: Path, *args: str) -> tuple[int, Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "TELEMETRY_"))}
    env.update({"PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": "1734653444", "MULTIARCH_XZ_PRESET": "0"})
    result_file = tmp_path / "result.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "multiarch",
            *args,
            f"--output-dir={tmp_path / 'out'}",
            f"--result-file={result_file}",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result_file.is_file(), proc.stdout + proc.stderr
    return proc.returncode, result_file


def build_tiny(
    tmp_path: Path, *extra: str, config: Path = UV_CONFIG, drop: tuple[str, ...] = ()
) -> tuple[int, Path]:
    release = tiny_release(tmp_path / "release")
    for name in drop:
        (release / name).unlink()
    return run_builder(
        tmp_path,
        "build",
        f"--config={config}",
        "--version=0.5.11",
        "--distributions=bookworm,trixie",
        f"--assets-dir={release}",
        f"--cache-dir={tmp_path / 'cache'}",
        *extra,
    )


def check_file(path: Path) -> dict[str, Any]:
    """Valid against the schema, and read-then-written gives the same document and bytes."""
    raw = path.read_text(encoding="utf-8")
    document = json.loads(raw)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    result = BuilderResult.from_document(document)
    assert result is not None
    again = result.to_document()
    assert again == document
    assert json.dumps(again, indent=2) + "\n" == raw
    return dict(document)


def test_every_package_built(tmp_path: Path) -> None:
    code, path = build_tiny(tmp_path, "--arch=amd64,arm64")
    doc = check_file(path)
    assert code == 0 and doc["status"] == "success" and len(doc["jobs"]) == 4


def test_lintian_counts(tmp_path: Path) -> None:
    require_tool("lintian")
    code, path = build_tiny(tmp_path, "--arch=amd64", "--lintian")
    doc = check_file(path)
    assert code == 0 and all(job["lintian"] is not None for job in doc["jobs"])


def test_some_packages_built(tmp_path: Path) -> None:
    code, path = build_tiny(tmp_path, drop=S390X)
    doc = check_file(path)
    assert code == 1 and doc["status"] == "partial"
    assert {j["failure_category"] for j in doc["jobs"] if j["status"] == "failure"} == {"dependency"}
    assert all("remediation" in j for j in doc["jobs"] if j["status"] == "failure")


def test_no_package_built(tmp_path: Path) -> None:
    code, path = build_tiny(tmp_path, "--arch=s390x", drop=S390X)
    doc = check_file(path)
    assert code == 1 and doc["status"] == "failure" and doc["error"] is None and doc["jobs"]


def test_a_suite_without_the_port_is_skipped_with_its_name(tmp_path: Path) -> None:
    config = tmp_path / "package.yaml"
    config.write_text(
        UV_CONFIG.read_text().replace(
            "architectures: [amd64, arm64, armhf, i386, ppc64el, s390x]", "architectures: [amd64, riscv64]"
        )
    )
    code, path = build_tiny(tmp_path, config=config)
    doc = check_file(path)
    assert code == 1 and doc["status"] == "partial"
    assert {"arch": "riscv64", "reason": "bookworm has no riscv64 port", "suite": "bookworm"} in doc[
        "skipped"
    ]


def test_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "package.yaml"
    config.write_text(UV_CONFIG.read_text().replace("section: python", "section: pythn"))
    code, path = build_tiny(tmp_path, config=config)
    doc = check_file(path)
    assert code == 2 and doc["error"]["category"] == "configuration" and doc["error"]["line"]


def test_usage_error(tmp_path: Path) -> None:
    code, path = run_builder(tmp_path, "build", "--version=0.5.11")
    doc = check_file(path)
    assert code == 2 and doc["error"]["field"] == "arguments" and doc["error"]["file"] is None


def test_cancelled_build(tmp_path: Path) -> None:
    release = tiny_release(tmp_path / "release")
    options = BuildOptions(
        config=UV_CONFIG,
        tag="0.5.11",
        distributions=("trixie",),
        assets_dir=release,
        output_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        source_date_epoch=1734653444,
        xz_preset=0,
    )
    cancel = threading.Event()
    cancel.set()  # as if SIGTERM arrived right after planning
    result = build_packages(options, cancel=cancel)
    path = tmp_path / "result.json"
    write_result(result, path)
    doc = check_file(path)
    assert doc["cancelled"] is True and doc["status"] == "failure"
    assert all(j["failure_category"] is None and j["reason"].startswith("cancelled") for j in doc["jobs"])
