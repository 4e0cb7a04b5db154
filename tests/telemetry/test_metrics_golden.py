"""The telemetry folder's files, byte for byte, for fixed runs; and metrics.json read back.

The expected files under ``golden/`` were written before metrics.json became a typed document,
so they pin the exact bytes (keys, order, rounding, nulls) every later change must keep.
After an intended change of a format: ``UPDATE_GOLDEN=1 pytest tests/telemetry/test_metrics_golden.py``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from telemetry.metrics_doc import MetricsDocument
from telemetry.model import (
    CpuResult,
    DiskResult,
    FailureEvent,
    MemoryResult,
    NetworkResult,
    PeakFigure,
    ProcessOutcome,
    RunData,
)
from telemetry.publish_files import write_all
from tests.telemetry.factories import T0, make_run

GOLDEN = Path(__file__).parent / "golden"
FILES = (
    "metrics.json",
    "metrics.prom",
    "build-telemetry.log",
    "build-stages.log",
    "failure-report.json",
    "memory-samples.log",
    "network-samples.log",
    "baseline.json",
)


def _empty() -> RunData:
    base = make_run(stages=())
    return RunData(
        T0,
        T0 + 0.2,
        0.2,
        base.system,
        MemoryResult(0.0, "none", (), 0.0, ()),
        CpuResult(0.0, 0.0, float("nan"), 0.0, 0.0, ()),
        NetworkResult(0, 0, "unknown", {}, 0, ()),
        DiskResult(0, 0, "/", 0, 0, "unavailable", ()),
        (),
        (),
        ProcessOutcome(0, None, False, False),
        sampler_errors=("network: PermissionError(13, 'Permission denied')",),
    )


def _runs() -> dict[str, RunData]:
    base = make_run()
    return {
        "success": base,
        "failure": make_run(
            failures=(
                FailureEvent(
                    "architecture_arm64", "sha256 mismatch\nsecond line", "", T0 + 200, category="security"
                ),
                FailureEvent(
                    "download_amd64",
                    "timeout",
                    "",
                    T0 + 100,
                    category="network",
                    transient=True,
                    remediation=("retry",),
                ),
            ),
            outcome=ProcessOutcome(
                1, None, False, False, ("checksum mismatch for uv.tar.gz", "\x1b[31mred\x1b[0m")
            ),
            network=replace(base.network, interface_shared=True, builder_downloaded_bytes=12345),
            memory=replace(
                base.memory,
                layout="dedicated",
                figures=(*base.memory.figures, PeakFigure("cgroup_peak_with_page_cache", 3000.25)),
            ),
        ),
        "cancelled": make_run(
            outcome=ProcessOutcome(None, signal.SIGTERM, True, False, ("Terminated",)),
            network=replace(base.network, interface="lo", interface_shared=False),
        ),
        "empty": _empty(),
    }


@pytest.fixture(autouse=True)
def _india_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Timestamps are local time with an offset: pin the zone (a half-hour offset, as in the guide).
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("case", sorted(_runs()))
def test_files_are_byte_identical(case: str, tmp_path: Path) -> None:
    write_all(_runs()[case], telemetry_dir=tmp_path, packages_built=3, packages_failed=1, save_baseline=True)
    expected_dir = GOLDEN / case
    for name in FILES:
        got = tmp_path / name
        expected = expected_dir / name
        if os.environ.get("UPDATE_GOLDEN"):
            expected_dir.mkdir(parents=True, exist_ok=True)
            expected.unlink(missing_ok=True)
            if got.exists():
                expected.write_bytes(got.read_bytes())
        assert got.exists() == expected.exists(), name
        if expected.exists():
            assert got.read_bytes() == expected.read_bytes(), name


@pytest.mark.parametrize("case", sorted(_runs()))
def test_metrics_json_reads_back_to_the_same_document(case: str, tmp_path: Path) -> None:
    report = write_all(_runs()[case], telemetry_dir=tmp_path, packages_built=3, packages_failed=1)
    parsed = MetricsDocument.from_json(json.loads((tmp_path / "metrics.json").read_text()))
    assert parsed == report.document
    assert parsed.to_json() == report.document.to_json()


def test_an_older_or_hand_made_file_still_reads(tmp_path: Path) -> None:
    """Only the figures a baseline needs: the rest is empty, the exact figures fall back."""
    parsed = MetricsDocument.from_json(
        {"build_session": {"duration_seconds": 420}, "memory_metrics": {"peak_usage_mb": 2048}}
    )
    assert parsed.build_session.duration_seconds_exact == 420
    assert parsed.memory_metrics.peak_usage_mb_exact == 2048
    assert parsed.build_metrics.status == "success"
    assert parsed.failure_analysis is None and parsed.memory_metrics.samples == ()
