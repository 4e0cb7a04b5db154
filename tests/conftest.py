"""Shared test policy.

Tests that need a system tool call ``require_tool``. Outside CI a missing tool
skips with the reason; with ``CI=true`` nothing may be skipped, so a skip is
turned into a failure (a missing install step must not pass silently).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

IN_CI = os.environ.get("CI", "").lower() == "true"

# Shared fixtures: fake GitHub server, uv release folders (see tests/support/fixtures.py).
pytest_plugins = ["tests.support.fixtures"]


def skip_or_fail(reason: str) -> None:
    """Skip where the environment lacks something; under CI=true (which installs
    everything and runs as root) a missing prerequisite is a failure, never a silent skip."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def require_tool(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        msg = f"needs {', '.join(missing)} (make test installs it as root)"
        if IN_CI:
            pytest.fail(f"CI=true and {msg}")
        pytest.skip(msg)


def require_root() -> None:
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("CI=true and this test needs root")
        pytest.skip("needs root")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (nothing may be skipped): {report.longrepr}"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
