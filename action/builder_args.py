"""Turn validated inputs into the build subprocess: its argv (never a shell string) and environment.

Every option is passed as one ``--name=value`` element, so a value that starts
with ``-`` or contains shell metacharacters stays data. The only thing that
ever runs through a shell is the user's own ``command`` input.

The interpreter runs with ``-P`` (don't put the working directory on
``sys.path``): the build runs in the user's workspace, and a ``multiarch/`` or
``telemetry/`` folder there must not shadow the action's own packages.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from action.inputs import TOKEN_INPUT, ActionInputs
from contracts.vocabulary import ENV_TELEMETRY_DIR, ENV_TELEMETRY_ENABLED

# The folder holding entrypoint.py, multiarch/ and telemetry/.
ACTION_ROOT: Final = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BuildInvocation:
    """What to run: exactly one of ``argv`` and ``shell_command`` is set."""

    argv: tuple[str, ...] | None
    shell_command: str | None
    env: Mapping[str, str]
    cwd: Path
    result_file: Path | None  # where the built-in builder writes its result; None in command mode

    def display(self) -> str:
        """A one-line description for the log (the token is never part of argv)."""
        if self.argv is not None:
            return " ".join(self.argv)
        return f"run: {self.shell_command}"


def usable_cores() -> int:
    # Affinity, not os.cpu_count(): a container may be pinned to fewer cores than the host has.
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def builder_argv(inputs: ActionInputs, result_file: Path, python: str = sys.executable) -> list[str]:
    """``python -m multiarch build …`` for these inputs (architecture.md, "CLI")."""
    argv = [
        python,
        "-P",
        "-m",
        "multiarch",
        "build",
        f"--config={inputs.config_file.relative}",
        f"--version={inputs.version}",
        f"--build-version={inputs.build_version}",
        f"--output-dir={inputs.output_dir.relative}",
        f"--max-parallel={inputs.max_parallel or usable_cores()}",
        f"--result-file={result_file}",
    ]
    if inputs.architectures:
        argv.append(f"--arch={','.join(inputs.architectures)}")
    if inputs.distributions:
        argv.append(f"--distributions={','.join(inputs.distributions)}")
    if inputs.assets_dir is not None:
        argv.append(f"--assets-dir={inputs.assets_dir.relative}")
    if inputs.pinned_metadata is not None:
        argv.append(f"--pinned-metadata={inputs.pinned_metadata.relative}")
    if inputs.lintian_strict:
        argv.append("--lintian=strict")
    elif inputs.lintian_check:
        argv.append("--lintian")
    return argv


def child_environment(
    inputs: ActionInputs, base: Mapping[str, str], shim_dir: Path | None = None
) -> dict[str, str]:
    """The build's environment: the step's, with the token only as ``GITHUB_TOKEN``.

    ``shim_dir`` (command mode) is put first on PATH; it holds ``python`` and
    ``python3`` links to this interpreter so that a shell build can call
    ``python -m telemetry stage-start …`` on images that ship only ``python3``.
    """
    env = {k: v for k, v in base.items() if k != f"INPUT_{TOKEN_INPUT.upper()}"}
    if inputs.github_token:
        env["GITHUB_TOKEN"] = inputs.github_token
    python_path = [str(ACTION_ROOT)]
    if env.get("PYTHONPATH"):
        python_path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(python_path)
    if inputs.telemetry_enabled:
        env[ENV_TELEMETRY_DIR] = str(inputs.telemetry_dir.absolute)
    env[ENV_TELEMETRY_ENABLED] = "true" if inputs.telemetry_enabled else "false"
    # The builder keeps paths from package.yaml (source.assets_dir) inside it too.
    env["MULTIARCH_WORKSPACE"] = str(inputs.workspace)
    if shim_dir is not None:
        env["PATH"] = os.pathsep.join([str(shim_dir), env.get("PATH", os.defpath)])
    return env


def make_python_shim(directory: Path, python: str = sys.executable) -> Path:
    """``directory/python`` and ``python3`` that run this interpreter; returns ``directory``.

    Small scripts rather than symlinks: a virtualenv is recognised from the
    path the interpreter was started by, so a symlink elsewhere would lose the
    environment's packages.
    """
    directory.mkdir(parents=True, exist_ok=True)
    quoted = shlex.quote(python)
    for name in ("python", "python3"):
        shim = directory / name
        shim.write_text(f'#!/bin/sh\nexec {quoted} "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
    return directory


def invocation(inputs: ActionInputs, scratch: Path, base_env: Mapping[str, str]) -> BuildInvocation:
    """The build for these inputs; ``scratch`` is a private folder outside the workspace."""
    if inputs.command:
        shim = make_python_shim(scratch / "bin")
        return BuildInvocation(
            argv=None,
            shell_command=inputs.command,
            env=child_environment(inputs, base_env, shim),
            cwd=inputs.workspace,
            result_file=None,
        )
    # The result file lives outside the workspace so it can't be committed, uploaded or stale.
    result_file = scratch / "multiarch-result.json"
    return BuildInvocation(
        argv=tuple(builder_argv(inputs, result_file)),
        shell_command=None,
        env=child_environment(inputs, base_env),
        cwd=inputs.workspace,
        result_file=result_file,
    )
