"""The cgroup v2 tests, run for real in a qemu VM (tools/cgroup2-vm/setup.sh, tests/cgroup2/vm.py).

The tests in ``tests/cgroup2/inside/`` only run inside that VM (they rearrange the cgroup tree).
One VM boot runs all of them, writing a JUnit XML file into a folder shared with the VM; each of
their test functions then becomes one test here (its ids read from the files, so a new inside
test needs nothing here), which passes when every case of it passed there and shows the failure
text otherwise. An inside test marked xfail is reported as xfail here.

With ``CI=true``, or as root, a VM that cannot be set up fails these tests with the reason;
otherwise (not root: setup.sh cannot install qemu) they skip and say why.
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest

from tests.cgroup2.vm import REPO_ROOT, VM_FAILED, VmUnavailable, ensure_vm, run_in_vm, vm_env
from tests.conftest import IN_CI

pytestmark = [pytest.mark.cgroup2, pytest.mark.slow]

INSIDE_DIR: Final = Path(__file__).resolve().parent / "inside"
INNER_TIMEOUT: Final = 420.0  # the whole inner run, boot included (about 80 s here)
INNER_TEST_TIMEOUT: Final = 180  # one inner test (pytest-timeout, inside the VM)


def _test_names(body: list[ast.stmt], prefix: str) -> list[str]:
    names: list[str] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            names.append(f"{prefix}::{node.name}")
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names.extend(_test_names(node.body, f"{prefix}::{node.name}"))
    return names


def inner_test_ids() -> list[str]:
    """``file::function`` (or ``file::Class::method``) of every test in the inside folder."""
    ids: list[str] = []
    for path in sorted(INSIDE_DIR.glob("test_*.py")):
        ids.extend(_test_names(ast.parse(path.read_text(encoding="utf-8")).body, path.name))
    return ids


@dataclass(frozen=True)
class CaseResult:
    name: str  # with its parameters, e.g. test_x[podman]
    outcome: str  # passed, failed, error, skipped, xfailed
    message: str = ""
    text: str = ""


@dataclass
class InnerRun:
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    cases: dict[str, list[CaseResult]] = field(default_factory=dict)  # by inner_test_ids() id

    def output_tail(self, lines: int = 40) -> str:
        out = "\n".join(self.stdout.rstrip().splitlines()[-lines:])
        err = "\n".join(self.stderr.rstrip().splitlines()[-lines:])
        head = f"inner pytest exit {self.returncode} after {self.seconds:.0f} s"
        return f"{head}\nstdout:\n{out}\nstderr:\n{err}"


def _case_id(classname: str, name: str) -> str:
    parts = classname.split(".")
    modules = [i for i, part in enumerate(parts) if part.startswith("test_")]
    if not modules:
        return f"{classname}::{name}"
    i = modules[-1]
    return "::".join([f"{parts[i]}.py", *parts[i + 1 :], name.split("[", 1)[0]])


def parse_junit(path: Path) -> dict[str, list[CaseResult]]:
    cases: dict[str, list[CaseResult]] = {}
    for case in ET.parse(path).iter("testcase"):
        name = case.get("name", "")
        outcome, message, text = "passed", "", ""
        for child in case:  # a failure or error (setup, call or teardown) outranks a skip
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
                message, text = child.get("message", ""), child.text or ""
                break
            if child.tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                message, text = child.get("message", ""), child.text or ""
        result = CaseResult(name, outcome, message, text)
        cases.setdefault(_case_id(case.get("classname", ""), name), []).append(result)
    return cases


@pytest.fixture(scope="module")
def inner_run(tmp_path_factory: pytest.TempPathFactory) -> InnerRun:
    unavailable = None
    try:
        ensure_vm()
    except VmUnavailable as exc:
        unavailable = f"the cgroup v2 VM cannot be set up: {exc}"
    if unavailable is not None:
        if IN_CI or os.geteuid() == 0:
            pytest.fail(unavailable, pytrace=False)
        pytest.skip(f"{unavailable} (as root, make vm installs what it needs)")
    shared = tmp_path_factory.mktemp("cgroup2-vm")  # the VM's only writable host folder
    junit = shared / "inner-junit.xml"
    command = " ".join(
        [
            f"cd {shlex.quote(str(REPO_ROOT))} &&",
            shlex.quote(sys.executable),
            "-m pytest -q -p no:cacheprovider",
            f"-o timeout={INNER_TEST_TIMEOUT}",
            shlex.quote(str(INSIDE_DIR.relative_to(REPO_ROOT))),
            f"--junitxml={shlex.quote(str(junit))}",
        ]
    )
    start = time.monotonic()
    timed_out: str | None = None
    try:
        proc = run_in_vm(command, shared, vm_env({"CG2_INSIDE": "1"}), timeout=INNER_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        timed_out = exc.output if isinstance(exc.output, str) else ""
    if timed_out is not None:
        pytest.fail(f"the VM run took over {INNER_TIMEOUT:.0f} s:\n{timed_out[-4000:]}", pytrace=False)
    run = InnerRun(proc.returncode, time.monotonic() - start, proc.stdout, proc.stderr)
    if proc.returncode == VM_FAILED:
        pytest.fail(f"the VM failed (its console follows)\n{run.output_tail()}", pytrace=False)
    if proc.returncode not in (0, 1) or not junit.is_file():
        pytest.fail(f"the inner test run did not complete\n{run.output_tail()}", pytrace=False)
    run.cases = parse_junit(junit)
    return run


@pytest.mark.parametrize("case", inner_test_ids())
def test_in_vm(case: str, inner_run: InnerRun) -> None:
    results = inner_run.cases.get(case)
    if not results:
        pytest.fail(f"{case} did not run in the VM\n{inner_run.output_tail()}", pytrace=False)
    bad = [r for r in results if r.outcome in ("failed", "error")]
    if bad:
        report = "\n\n".join(f"--- {r.name} ({r.outcome}): {r.message}\n{r.text}" for r in bad)
        pytest.fail(f"in the VM:\n{report}", pytrace=False)
    skipped = [r for r in results if r.outcome == "skipped"]
    if skipped:
        pytest.skip("in the VM: " + "; ".join(f"{r.name}: {r.message}" for r in skipped))
    xfailed = [r for r in results if r.outcome == "xfailed"]
    if xfailed:
        pytest.xfail("in the VM: " + "; ".join(sorted({r.message for r in xfailed})))


def test_every_case_in_the_vm_is_known(inner_run: InnerRun) -> None:
    """Cases the VM ran that no test here reports (collection errors land here too)."""
    unknown = sorted(set(inner_run.cases) - set(inner_test_ids()))
    assert not unknown, f"unreported inner cases: {unknown}\n{inner_run.output_tail()}"
