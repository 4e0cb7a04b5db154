"""Every jq and shell snippet of the guide, run UNCHANGED with bash against our files.

The snippets are extracted from the guide itself: ../shared/telemetry-guide.md
(the original, when this checkout sits beside it) or the verbatim copy in
``docs/telemetry-guide.md`` (checked identical to the original when both exist),
so a snippet added to the guide is picked up, and one we cannot run fails
``test_every_snippet_is_covered``.

The one change: the "send telemetry to an external monitoring service" snippet
posts to https://monitoring.example.com, which cannot be reached from tests; its
URL is replaced with a loopback HTTP server (the only substitution), and the
test checks that the server received metrics.json byte for byte.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from telemetry.publish_files import write_all
from tests.conftest import require_tool, skip_or_fail
from tests.telemetry.factories import make_run

ROOT = Path(__file__).resolve().parents[2]
GUIDE_CANDIDATES = (ROOT.parent / "shared" / "telemetry-guide.md", ROOT / "docs" / "telemetry-guide.md")
SCHEMAS = ROOT / "schemas"
BASELINE_SNIPPET = "# Manually save current build as baseline"


def _guide() -> str:
    for path in GUIDE_CANDIDATES:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    skip_or_fail("telemetry-guide.md not found")
    raise AssertionError("unreachable")


def _blocks(lang: str) -> list[str]:
    return [m.group(1) for m in re.finditer(rf"```{lang}\n(.*?)```", _guide(), re.S)]


def _yaml_runs() -> list[str]:
    runs: list[str] = []
    for block in _blocks("yaml"):
        doc = YAML(typ="safe").load(io.StringIO(block))
        steps: list[Any] = []
        if isinstance(doc, list):
            steps = doc
        elif isinstance(doc, dict):
            for job in (doc.get("jobs") or {}).values():
                steps.extend(job.get("steps", []))
        runs.extend(str(step["run"]) for step in steps if isinstance(step, dict) and "run" in step)
    return runs


def _bash_snippets() -> list[str]:
    return _blocks("bash")


def _find(snippets: list[str], needle: str) -> str:
    matches = [s for s in snippets if needle in s]
    assert len(matches) == 1, f"expected one snippet containing {needle!r}, found {len(matches)}"
    return matches[0]


def _run_step(script: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # GitHub runs `run:` steps as `bash --noprofile --norc -eo pipefail {0}`.
    path = cwd / "step.sh"
    path.write_text(script)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEMETRY_", "SAVE_BASELINE"))}
    env["PYTHONPATH"] = str(ROOT)
    env["TELEMETRY_PYTHON"] = sys.executable
    env.update(extra)
    return env


def _workspace(tmp: Path, **run_kwargs: Any) -> Path:
    """A workspace as the action leaves it: build-summary.json and .telemetry/."""
    report = write_all(
        make_run(**run_kwargs), telemetry_dir=tmp / ".telemetry", packages_built=12, packages_failed=0
    )
    summary = {
        "package": "example-package",
        "version": "1.0.0",
        "status": "success",
        "packages": [],
        "failed": [],
        "skipped": [],
        "error": None,
        "telemetry": report.summary_block.to_json(),
    }
    jsonschema.validate(summary, json.loads((SCHEMAS / "build-summary.schema.json").read_text()))
    (tmp / "build-summary.json").write_text(json.dumps(summary, indent=2))
    return tmp


# The one correction in our copy: upload-artifact (v4.4 and later) skips a hidden folder such as
# .telemetry/ unless told otherwise, and the telemetry of a failed build matters most.
GUIDE_CORRECTIONS = (
    (
        "          path: .telemetry/\n```",
        "          path: .telemetry/\n          include-hidden-files: true\n```",
    ),
    (
        "      - name: Upload telemetry data\n        uses:",
        "      - name: Upload telemetry data\n        if: always()\n        uses:",
    ),
)


def test_docs_copy_of_the_guide_is_verbatim_but_for_the_upload_step() -> None:
    original, copy = GUIDE_CANDIDATES
    assert copy.is_file()
    text = copy.read_text(encoding="utf-8")
    for _wrong, right in GUIDE_CORRECTIONS:
        assert text.count(right) == 1
    if original.is_file():
        expected = original.read_text(encoding="utf-8")
        for wrong, right in GUIDE_CORRECTIONS:
            expected = expected.replace(wrong, right)
        assert text == expected


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("jq", "numfmt", "bash", "awk")


# ----------------------------------------------------------------- inventory


def test_every_snippet_is_covered() -> None:
    """The guide has exactly the snippets this file runs; a new one must get a test."""
    bash = _bash_snippets()
    runs = _yaml_runs()
    assert len(runs) == 2, runs
    assert len(bash) == 5, bash
    for needle in (
        BASELINE_SNIPPET,
        "jq '.memory_metrics.peak_usage_mb'",
        "# Export to Prometheus",
        "curl -X POST",
    ):
        _find(bash, needle)
    _find(bash, "# Initialize telemetry system")


# ----------------------------------------------------------------- JSON shapes


def _paths(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, f"{prefix}.{key}")
    elif isinstance(value, list) and value:
        yield prefix, value
        yield from _paths(value[0], f"{prefix}[0]")
    else:
        yield prefix, value


def _get(doc: Any, path: str) -> Any:
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        doc = doc[part[0]] if part[0] else doc[int(part[1])]
    return doc


def _json_type(value: Any) -> str:
    # JSON's types: an integer is a number. Where the guide's snippets need an
    # integer (`[ "$X" -gt N ]`) the tests below and test_reporters check it.
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def test_guide_json_examples_have_the_same_paths_and_types(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, failures=())
    metrics = json.loads((ws / ".telemetry/metrics.json").read_text())
    summary = json.loads((ws / "build-summary.json").read_text())
    # performance_metrics only has regressions with a baseline: make one.
    write_all(
        make_run(duration=300.0, peak_mb=1700.0),
        telemetry_dir=tmp_path / "b",
        packages_built=1,
        packages_failed=0,
        save_baseline=True,
    )
    with_baseline = write_all(
        make_run(), telemetry_dir=tmp_path / "b", packages_built=1, packages_failed=0
    ).document.to_json()
    checked = 0
    for block in _blocks("json"):
        example = json.loads(block)
        target = summary if "telemetry" in example else metrics
        if "performance_metrics" in example:
            target = json.loads(json.dumps(with_baseline))
        for path, value in _paths(example):
            ours = _get(target, path)
            assert _json_type(ours) == _json_type(value), f"{path}: guide {value!r}, ours {ours!r}"
            checked += 1
    assert checked >= 38  # every leaf of the six examples
    for path in (
        ".build_session.duration_seconds",
        ".memory_metrics.peak_usage_mb",
        ".build_session.cpu_cores",
    ):
        assert type(_get(metrics, path)) is int, path
    for key in (
        "build_duration_seconds",
        "peak_memory_mb",
        "network_downloaded_bytes",
        "network_uploaded_bytes",
    ):
        assert type(summary["telemetry"][key]) is int, key
    # The guide's example numbers, reproduced from the guide's run values.
    assert metrics["build_session"]["duration_seconds"] == 420
    assert metrics["memory_metrics"]["peak_usage_mb"] == 2048
    assert with_baseline["performance_metrics"]["regressions_detected"] == [
        "Build duration increased by 40%",
        "Memory usage increased by 20%",
    ]
    assert with_baseline["performance_metrics"]["baseline_comparison"] == {
        "duration_diff_percent": 40,
        "memory_diff_percent": 20,
    }
    assert with_baseline["performance_metrics"]["performance_score"] == 60


# ----------------------------------------------------------------- workflow run: steps


def test_check_for_regressions_step(tmp_path: Path) -> None:
    step = _find(_yaml_runs(), "performance_regressions | length > 0")
    clean = _run_step(step, _workspace(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.strip() == "false"  # jq -e prints the boolean

    ws = tmp_path / "slow"
    ws.mkdir()
    write_all(
        make_run(duration=300.0),
        telemetry_dir=ws / ".telemetry",
        packages_built=1,
        packages_failed=0,
        save_baseline=True,
    )
    _workspace(ws)  # 420 s against a 300 s baseline
    found = _run_step(step, ws)
    assert found.returncode == 1
    assert found.stdout.splitlines() == [
        "true",
        "Performance regressions detected:",
        "Build duration increased by 40%",
    ]


def test_process_telemetry_data_step(tmp_path: Path) -> None:
    step = _find(_yaml_runs(), "BUILD_TIME=$(jq")
    normal = _run_step(step, _workspace(tmp_path / "a"))
    assert normal.returncode == 0, normal.stderr
    assert normal.stdout.splitlines() == [
        "Build completed in 420s",
        "Peak memory usage: 2048MB",
        "Data downloaded: 50M",
    ]
    high = _run_step(step, _workspace(tmp_path / "b", peak_mb=5000.4))
    assert high.returncode == 0, high.stderr
    assert "::warning::High memory usage detected: 5000MB" in high.stdout.splitlines()
    assert "integer expression expected" not in high.stderr


# ----------------------------------------------------------------- bash snippets


def test_custom_processing_awk_snippet(tmp_path: Path) -> None:
    snippet = _find(_bash_snippets(), "jq '.memory_metrics.peak_usage_mb'")
    quiet = _run_step(snippet, _workspace(tmp_path / "a"))
    assert quiet.returncode == 0 and quiet.stdout == ""
    loud = _run_step(snippet, _workspace(tmp_path / "b", peak_mb=3000.0))
    assert loud.stdout.strip() == "High memory usage: 3000MB"


def test_prometheus_export_snippet(tmp_path: Path) -> None:
    snippet = _find(_bash_snippets(), "# Export to Prometheus")
    done = _run_step(snippet, _workspace(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["build_duration_seconds 420", "peak_memory_mb 2048"]
    samples = {f.name: f.samples[0].value for f in text_string_to_metric_families(done.stdout)}
    assert samples == {"build_duration_seconds": 420.0, "peak_memory_mb": 2048.0}
    # Our own metrics.prom carries the same names.
    ours = {
        f.name for f in text_string_to_metric_families((tmp_path / ".telemetry/metrics.prom").read_text())
    }
    assert {"build_duration_seconds", "peak_memory_mb"} <= ours


class _Collector(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []  # noqa: RUF012 - per-test server class, see _serve

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_send_to_monitoring_service_snippet(tmp_path: Path) -> None:
    require_tool("curl")
    snippet = _find(_bash_snippets(), "curl -X POST")
    handler = type("Collector", (_Collector,), {"received": []})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # The only change to any snippet: the unreachable host becomes loopback.
        local = snippet.replace("https://monitoring.example.com", f"http://127.0.0.1:{server.server_port}")
        assert local != snippet
        ws = _workspace(tmp_path)
        done = _run_step(local, ws)
        assert done.returncode == 0, done.stderr
    finally:
        server.shutdown()
        thread.join()
    ((path, content_type, body),) = handler.received
    assert (path, content_type) == ("/api/metrics", "application/json")
    # curl -d @file strips newlines; the JSON is still the same document.
    assert json.loads(body) == json.loads((ws / ".telemetry/metrics.json").read_text())


def test_baseline_management_snippet(tmp_path: Path) -> None:
    snippet = _find(_bash_snippets(), BASELINE_SNIPPET)
    ws = _workspace(tmp_path)
    script = 'eval "$("$TELEMETRY_PYTHON" -m telemetry shell-functions)"\n' + snippet
    done = _run_step(script, ws)
    assert done.returncode == 0, done.stderr
    assert (ws / ".telemetry/baseline.json").is_file()
    assert "No performance regressions" in done.stdout


def test_api_reference_snippet(tmp_path: Path) -> None:
    """The API reference block, run as written with the guide's function names.

    Its status argument "success|failure|warning" is the list of choices, not a
    status: the CLI rejects it (exit 2, usage on stderr) and the script goes on.
    The failure it records makes the run a failure, so save_as_baseline refuses
    (exit 3): only successful builds become baselines.
    """
    snippet = _find(_bash_snippets(), "# Initialize telemetry system")
    script = 'eval "$("$TELEMETRY_PYTHON" -m telemetry shell-functions)"\n' + snippet
    path = tmp_path / "api.sh"
    path.write_text(script)
    done = subprocess.run(
        ["bash", str(path)], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60
    )
    assert "invalid choice: 'success|failure|warning'" in done.stderr
    assert "only successful runs become baselines" in done.stderr
    metrics = json.loads((tmp_path / ".telemetry/metrics.json").read_text())
    assert [(s["name"], s["status"]) for s in metrics["build_metrics"]["build_stages"]] == [
        ("stage_name", "incomplete")
    ]
    assert metrics["build_metrics"]["failure_stage"] == "stage"
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    assert summary["failure_category"] == metrics["build_metrics"]["failure_category"]


def test_snippets_against_a_real_standalone_run(tmp_path: Path) -> None:
    """The same snippets on files from a real CLI run (not constructed values)."""
    script = """
    set -e
    eval "$("$TELEMETRY_PYTHON" -m telemetry shell-functions)"
    init_telemetry
    record_build_stage "architecture_amd64"
    head -c 3000000 /dev/zero | gzip > /dev/null
    record_build_stage_complete "architecture_amd64" "success" "built"
    finalize_telemetry --packages-built 1
    """
    done = _run_step(script, tmp_path)
    assert done.returncode == 0, done.stderr
    summary = {
        "package": "p",
        "version": "1",
        "status": "success",
        "packages": [],
        "failed": [],
        "skipped": [],
        "error": None,
        "telemetry": json.loads(
            _run_step(
                'eval "$("$TELEMETRY_PYTHON" -m telemetry shell-functions)"\nget_telemetry_summary', tmp_path
            ).stdout
        ),
    }
    (tmp_path / "build-summary.json").write_text(json.dumps(summary))
    for step in _yaml_runs():
        result = _run_step(step, tmp_path)
        assert result.returncode == 0, (step, result.stderr)
        assert "integer expression expected" not in result.stderr
    prom = _run_step(_find(_bash_snippets(), "# Export to Prometheus"), tmp_path)
    assert [line.split()[0] for line in prom.stdout.splitlines()] == [
        "build_duration_seconds",
        "peak_memory_mb",
    ]
    assert all(re.fullmatch(r"\S+ \d+", line) for line in prom.stdout.splitlines())
