"""The tests in this folder run only inside the cgroup v2 VM.

They change the machine's cgroup tree (move processes into the root cgroup, create and remove
cgroups at the top level), so a normal run never collects them: tests/cgroup2/test_cgroup2_vm.py
boots the VM once, runs this folder there with ``CG2_INSIDE=1`` and reports each case.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cgroup2.inside.layouts import DelegatedParent, delegated_parent, in_root_cgroup, in_vm

INSIDE = os.environ.get("CG2_INSIDE") == "1"

if not INSIDE:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session", autouse=True)
def _only_in_the_vm() -> None:
    if not INSIDE:  # named explicitly on a command line, which bypasses collect_ignore_glob
        pytest.skip("runs only in the cgroup v2 VM: run tests/cgroup2/test_cgroup2_vm.py")
    if not in_vm():
        pytest.fail("CG2_INSIDE=1 outside the cgroup v2 VM: these tests rearrange the machine's cgroups")


@pytest.fixture
def delegated() -> Iterator[DelegatedParent]:
    """This test process in ``<parent>/self``; ``<parent>`` enables memory for its children."""
    with delegated_parent() as parent:
        yield parent


@pytest.fixture
def root_cgroup() -> Iterator[Path]:
    """This test process in the root cgroup (moved back to ``/job`` afterwards)."""
    with in_root_cgroup() as root:
        yield root
