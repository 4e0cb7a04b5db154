"""``pip install`` of the project into a fresh venv: the console scripts, the data files and the
schemas arrive, and the telemetry CLI wraps a shell build on the host the way docs/telemetry.md
shows ("From shell build scripts").

The install uses this machine's pip configuration (index, certificates) and builds the wheel in
pip's isolated build environment, as ``pip install "git+https://…"`` does on a runner. It installs
from a copy of the files the distribution is made of, so that the build's by-products (``build/``,
``*.egg-info``) never land in the working tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION_FILES = ("pyproject.toml", "README.md", "LICENSE")
DISTRIBUTION_DIRS = ("contracts", "multiarch", "telemetry", "action", "schemas")
INSTALL_TIMEOUT = 300

SHELL_BUILD = """\
set -euo pipefail
build-telemetry init
build-telemetry stage-start compile
python3 -c 'b = bytearray(32 * 1024 * 1024); b[::4096] = b"x" * len(b[::4096]); import time; time.sleep(0.3)'
build-telemetry stage-complete compile success "compiled"
build-telemetry counter builder_downloaded_bytes 2048
build-telemetry finalize --packages-built 1
build-telemetry summary > summary.json
build-telemetry save-baseline
build-telemetry check-regressions
"""

GUIDE_FUNCTIONS = """\
set -euo pipefail
eval "$(build-telemetry shell-functions)"
init_telemetry
record_build_stage "architecture_amd64"
true || record_build_failure "architecture_amd64" "make failed" "$?"
record_build_stage_complete "architecture_amd64" "success" "built"
finalize_telemetry --packages-built 1
get_telemetry_summary > summary.json
"""


def test_the_distribution_lists_every_package_and_data_file() -> None:
    """A new subpackage or data file must not be left out of the wheel silently."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = sorted(
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("contracts", "multiarch", "telemetry", "action")
        for init in (ROOT / top).rglob("__init__.py")
    )
    assert sorted(p for p in setuptools["packages"] if p != "contracts.schemas") == on_disk
    assert setuptools["package-dir"] == {"contracts.schemas": "schemas"}
    data = setuptools["package-data"]
    for package, folder in (("multiarch", "multiarch/data"), ("telemetry", "telemetry/data")):
        for path in (ROOT / folder).iterdir():
            assert any(path.match(f"{package}/{pattern}") for pattern in data[package]), path
    assert data["contracts.schemas"] == ["*.schema.json"]
    assert sorted(p.name for p in (ROOT / "schemas").iterdir()) == sorted(
        p.name for p in (ROOT / "schemas").glob("*.schema.json")
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the project installed by pip, from a copy of its distribution files."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    source.mkdir()
    for name in DISTRIBUTION_FILES:
        shutil.copy2(ROOT / name, source / name)
    for name in DISTRIBUTION_DIRS:
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = _clean_env()
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True, env=env)
    python = work / "venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-input", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=INSTALL_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return work / "venv"


def _clean_env(venv: Path | None = None) -> dict[str, str]:
    """The environment without this checkout on the path and without a telemetry session."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not key.startswith("TELEMETRY_")
    }
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
    return env


def _run(venv: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_clean_env(venv), capture_output=True, text=True, timeout=120)


def _schema(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((ROOT / "schemas" / name).read_text(encoding="utf-8"))
    return loaded


@pytest.mark.slow
@pytest.mark.parametrize("script", ["multiarch-builder", "build-telemetry"])
def test_console_scripts_answer_help(venv: Path, tmp_path: Path, script: str) -> None:
    done = _run(venv, [str(venv / "bin" / script), "--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    # The usage line names the command the user typed, not ``python -m …``.
    assert done.stdout.startswith(f"usage: {script} "), done.stdout[:200]
    assert "python -m" not in done.stdout.split("\n\n")[0]


@pytest.mark.slow
def test_installed_code_finds_its_data_files_and_schemas(venv: Path, tmp_path: Path) -> None:
    probe = textwrap.dedent(
        """
        import json, sys
        import contracts.schema_files as s, multiarch.suites as m, telemetry.failures as f
        import telemetry.baseline as b, telemetry.history as h
        files = [s.schema_path("metrics.schema.json"), m.SCHEMA_FILE, m.DATA_FILE, b.SCHEMA_PATH,
                 h.SCHEMA_PATH, f.RULES_SCHEMA_PATH]
        print(json.dumps({"dir": str(s.SCHEMA_DIR), "missing": [str(p) for p in files if not p.is_file()],
                          "suites": len(m.load_table().suites)}))
        """
    )
    done = _run(venv, [str(venv / "bin" / "python"), "-c", probe], tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["missing"] == []
    assert "site-packages" in found["dir"] and found["dir"].endswith("contracts/schemas")
    assert found["suites"] > 0
    installed = Path(found["dir"])
    assert sorted(p.name for p in installed.glob("*.schema.json")) == sorted(
        p.name for p in (ROOT / "schemas").glob("*.schema.json")
    )


@pytest.mark.slow
def test_telemetry_cli_wraps_a_shell_build_on_the_host(venv: Path, tmp_path: Path) -> None:
    done = _run(venv, ["bash", "-c", SHELL_BUILD], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    tdir = tmp_path / ".telemetry"
    for name in (
        "metrics.json",
        "metrics.prom",
        "build-telemetry.log",
        "build-stages.log",
        "memory-samples.log",
        "network-samples.log",
        "baseline.json",
    ):
        assert (tdir / name).is_file(), name
    metrics = json.loads((tdir / "metrics.json").read_text(encoding="utf-8"))
    jsonschema.validate(metrics, _schema("metrics.schema.json"))
    jsonschema.validate(json.loads((tdir / "baseline.json").read_text()), _schema("baseline.schema.json"))
    build = metrics["build_metrics"]
    assert build["status"] == "success" and build["packages_built"] == 1
    assert [(s["name"], s["status"]) for s in build["build_stages"]] == [("compile", "success")]
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    doc = {"package": "x", "version": "1", "status": "success", "packages": [], "failed": [], "skipped": []}
    jsonschema.validate({**doc, "error": None, "telemetry": summary}, _schema("build-summary.schema.json"))
    assert "No performance regressions" in done.stdout


@pytest.mark.slow
def test_guide_shell_functions_run_through_the_installed_interpreter(venv: Path, tmp_path: Path) -> None:
    done = _run(venv, ["bash", "-c", GUIDE_FUNCTIONS], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    metrics = json.loads((tmp_path / ".telemetry" / "metrics.json").read_text(encoding="utf-8"))
    jsonschema.validate(metrics, _schema("metrics.schema.json"))
    stages = metrics["build_metrics"]["build_stages"]
    assert [(s["name"], s["status"]) for s in stages] == [("architecture_amd64", "success")]
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_installed_builder_plans_the_demo_release(venv: Path, tmp_path: Path) -> None:
    demo = ROOT / "examples" / "demo"
    done = _run(
        venv,
        [
            str(venv / "bin" / "multiarch-builder"),
            "plan",
            "--config",
            str(demo / "package.yaml"),
            "--version",
            "v1.0.0",
            "--assets-dir",
            str(demo / "release"),
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads(done.stdout)
    assert plan["architectures"]
