"""Pytest fixtures over the test-support servers and release folders.

Registered for the whole suite by ``pytest_plugins`` in ``tests/conftest.py``:

- ``uv_release_dir`` (session): the real uv 0.5.11 release folder (``uv_release()``; downloads
  the wheels once per machine, then reuses ``~/.cache/debian-multiarch-builder``).
- ``tiny_release_dir`` (session): the same layout around tiny ELF stubs, no network.
- ``fake_github`` (function): a started ``FakeGitHub`` with token ``FAKE_TOKEN`` and the
  ``astral-sh/uv`` repository (MIT) but no releases; add them per test.
- ``github_env`` (function): ``fake_github`` plus ``GITHUB_API_URL``/``GITHUB_SERVER_URL``/
  ``GITHUB_TOKEN`` set in ``os.environ`` for the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_github import FakeGitHub
from tests.support.uv_release import tiny_release, uv_release

# Looks like a token so scanners and maskers treat it as one; never valid anywhere.
FAKE_TOKEN = "ghp_FAKEtoken0123456789abcdefghijklmnopqr"


@pytest.fixture(scope="session")
def uv_release_dir() -> Path:
    try:
        return uv_release("0.5.11")
    except (RuntimeError, OSError) as exc:  # PyPI unreachable on a first run: no cache to use
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the uv release could not be built: {exc}")
        pytest.skip(f"uv 0.5.11 wheels not cached and PyPI unreachable: {exc}")


@pytest.fixture(scope="session")
def tiny_release_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_release(tmp_path_factory.mktemp("tiny-release"))


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=FAKE_TOKEN) as gh:
        gh.add_repo(
            "astral-sh/uv", license_spdx="MIT", description="An extremely fast Python package manager."
        )
        yield gh


@pytest.fixture
def github_env(fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    for key, value in fake_github.env().items():
        monkeypatch.setenv(key, value)
    return fake_github
