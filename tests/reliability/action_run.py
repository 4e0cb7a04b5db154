"""Run ``python entrypoint.py`` the way the runner does, in a throw-away workspace.

The runner hands a container step its inputs as ``INPUT_<NAME>`` variables (hyphens kept) plus
``GITHUB_WORKSPACE``, ``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY``; the entrypoint reads
nothing else, so running it as a subprocess with exactly that environment is the action minus
the container. The file-command files live *outside* the workspace, as on a runner, so a scan
of the workspace for leaked secrets does not trip over them (they are scanned separately).

Everything the run leaves is collected in ``ActionRun``: exit status, stdout/stderr, parsed
outputs, ``build-summary.json`` (validated against its schema by ``check_summary``), the
telemetry folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from tests.e2e.image import parse_file_commands, parse_workflow_commands

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "entrypoint.py"
DEMO = ROOT / "examples" / "demo"


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def validate(document: object, schema: str) -> None:
    """Raise on the first schema violation (with jsonschema's pointer to it)."""
    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(document))
    if error is not None:
        raise AssertionError(f"{schema}: {error.message} at {list(error.absolute_path)}")


def json_lines_valid_to_the_end(path: Path, *, allow_torn_tail: bool = False) -> int:
    """Every line of an append-only JSON-lines file parses; returns how many.

    ``allow_torn_tail``: after a kill -9 the *last* line may be cut short (the writer died
    mid-append) but only that one; every complete line before it must still parse.
    """
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    for number, line in enumerate(complete, 1):
        try:
            json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"{path.name}:{number} is not JSON: {line[:120]!r}") from exc
    if tail:
        if not allow_torn_tail:
            raise AssertionError(f"{path.name}: last line has no newline: {tail[:120]!r}")
        # A torn final append is the one thing a crash may leave, so the tail may not parse.
        with contextlib.suppress(ValueError):
            json.loads(tail)
    return len(complete)


@dataclass
class Workspace:
    root: Path  # GITHUB_WORKSPACE
    runner: Path  # the runner's own files (outputs, summary, HOME, caches): not in the workspace

    @classmethod
    def create(cls, base: Path) -> Workspace:
        ws = cls(base / "workspace", base / "runner")
        ws.root.mkdir(parents=True)
        for sub in ("home", "temp", "cache"):
            (ws.runner / sub).mkdir(parents=True)
        return ws

    @property
    def output_file(self) -> Path:
        return self.runner / "github_output"

    @property
    def summary_file(self) -> Path:
        return self.runner / "step_summary.md"

    def add_demo(self, *, config: bytes | None = None) -> None:
        """The repo's demo package: its release folder and (or a replacement for) its config."""
        shutil.copytree(DEMO / "release", self.root / "release")
        target = self.root / "package.yaml"
        if config is None:
            shutil.copy(DEMO / "package.yaml", target)
        else:
            target.write_bytes(config)

    def env(self, inputs: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.runner / "home"),
            "XDG_CACHE_HOME": str(self.runner / "cache"),
            "RUNNER_TEMP": str(self.runner / "temp"),
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.root),
            "GITHUB_OUTPUT": str(self.output_file),
            "GITHUB_STEP_SUMMARY": str(self.summary_file),
            "SOURCE_DATE_EPOCH": "1700000000",
        }
        for name, value in inputs.items():
            env[f"INPUT_{name.upper()}"] = value
        env.update(extra or {})
        return env

    def start(
        self,
        inputs: Mapping[str, str],
        extra: Mapping[str, str] | None = None,
        *,
        cgroup_procs: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """``cgroup_procs``: a ``cgroup.procs`` file the entrypoint joins before it starts."""
        preexec = None
        if cgroup_procs is not None:
            target = cgroup_procs

            def preexec() -> None:
                target.write_text(str(os.getpid()))

        self.output_file.touch()
        self.summary_file.touch()
        return subprocess.Popen(
            [sys.executable, str(ENTRYPOINT)],
            cwd=self.root,
            env=self.env(inputs, extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Own session: the test can signal the entrypoint alone, and still clean up the lot.
            start_new_session=True,
            preexec_fn=preexec,
        )

    def run(
        self,
        inputs: Mapping[str, str],
        extra: Mapping[str, str] | None = None,
        *,
        timeout: float = 120,
        cgroup_procs: Path | None = None,
    ) -> ActionRun:
        proc = self.start(inputs, extra, cgroup_procs=cgroup_procs)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            out, err = proc.communicate()
            raise AssertionError(
                f"entrypoint still running after {timeout}s:\n{out.decode()}\n{err.decode()}"
            ) from None
        return self.collect(proc.returncode, out, err)

    def collect(self, returncode: int, out: bytes, err: bytes) -> ActionRun:
        outputs = parse_file_commands(self.output_file.read_text(encoding="utf-8"))
        return ActionRun(
            self, returncode, out.decode(errors="replace"), err.decode(errors="replace"), outputs
        )


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass
class ActionRun:
    ws: Workspace
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    _summary: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def summary_path(self) -> Path:
        name = self.outputs.get("build-summary", "build-summary.json")
        path = Path(name)
        return path if path.is_absolute() else self.ws.root / path

    @property
    def summary(self) -> dict[str, Any]:
        if self._summary is None:
            self._summary = json.loads(self.summary_path.read_text(encoding="utf-8"))
        return self._summary

    @property
    def telemetry_dir(self) -> Path:
        name = self.outputs.get("telemetry-dir", ".telemetry")
        path = Path(name)
        return path if path.is_absolute() else self.ws.root / path

    def annotations(self, kind: str = "error") -> list[Any]:
        return [c for c in parse_workflow_commands(self.stdout) if c.name == kind]

    def check_no_traceback(self) -> None:
        for stream, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            assert "Traceback (most recent call last)" not in text, f"traceback on {stream}:\n{text[-3000:]}"

    def check_summary(self) -> dict[str, Any]:
        """build-summary.json exists, parses and matches its schema; returns it."""
        assert self.summary_path.is_file(), f"no {self.summary_path}\n{self.stdout[-2000:]}"
        validate(self.summary, "build-summary")
        return self.summary

    def log(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"


def wait_for(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


# --------------------------------------------------------------------------- process trees


def _stat(pid: int) -> tuple[int, str] | None:
    """(ppid, state) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain anything; fields follow the last ')'.
    rest = text[text.rindex(")") + 2 :].split()
    return int(rest[1]), rest[0]


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (by parent links, across sessions and groups)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        info = _stat(int(name))
        if info is not None:
            children.setdefault(info[0], []).append(int(name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """The pids still running (a zombie has stopped: it only waits to be reaped)."""
    out = set()
    for pid in pids:
        info = _stat(pid)
        if info is not None and info[1] != "Z":
            out.add(pid)
    return out


def events(ws_root: Path, telemetry: str = ".telemetry") -> list[dict[str, Any]]:
    path = ws_root / telemetry / "events.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def stage_started(ws_root: Path, prefix: str) -> bool:
    return any(
        e.get("type") == "stage_start" and str(e.get("name", "")).startswith(prefix) for e in events(ws_root)
    )


def sample_logs(telemetry_dir: Path) -> list[Path]:
    return sorted(telemetry_dir.glob("*-samples.log"))


def debs_are_whole(folder: Path) -> list[str]:
    """Problems with any ``*.deb`` under its final name (each must be a complete package)."""
    problems = []
    for deb in sorted(folder.glob("*.deb")):
        info = subprocess.run(["dpkg-deb", "--info", str(deb)], capture_output=True, check=False)
        contents = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True, check=False)
        if info.returncode or contents.returncode:
            problems.append(
                f"{deb.name}: {(info.stderr or contents.stderr).decode(errors='replace').strip()}"
            )
    return problems


def release_copy(src: Path, dest: Path) -> Path:
    """A release folder inside a workspace: hardlinks where possible (the uv one is ~100 MB)."""
    dest.mkdir(parents=True)
    for item in src.iterdir():
        if item.is_file():
            try:
                os.link(item, dest / item.name)
            except OSError:
                shutil.copy2(item, dest / item.name)
    return dest


def obeyed_commands(stdout: str) -> list[str]:
    """The workflow command lines a runner would act on, honouring ``::stop-commands::``."""
    obeyed = []
    resume: str | None = None
    for raw in stdout.splitlines():
        line = raw.strip()
        if resume is not None:
            if line == f"::{resume}::":
                resume = None
            continue
        if line.startswith("::stop-commands::"):
            resume = line.removeprefix("::stop-commands::")
            continue
        if line.startswith("::"):
            obeyed.append(line)
    return obeyed


def kill_all(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    """Signal every pid that still exists (any of them may exit between listing and killing)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
