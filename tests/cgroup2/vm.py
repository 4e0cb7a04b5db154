"""Run commands in the cgroup v2 VM that ``tools/cgroup2-vm/setup.sh`` builds.

The machines this project is developed and tested on may have cgroup v1, while GitHub's
runners (and the Docker containers an action runs in) have unified cgroup v2. The kit boots
Debian's 6.12 kernel in qemu with cgroup v2 only; the host's ``/`` is the VM's root (read-only,
with a RAM overlay for writes) and the folder a command runs from is shared read-write, so
the checkout and its ``.venv`` work unchanged inside.

- ``ensure_vm()`` runs setup.sh once per process (it is idempotent and quick when the kit
  exists) and returns the kit's directory; ``VmUnavailable`` says why when it cannot.
- ``run_in_vm(command, cwd, env, timeout)`` boots the VM, runs ``command`` with bash from
  ``cwd`` and returns its status (``VM_FAILED`` when the VM itself failed), stdout and stderr.
  A boot costs about 5 s; code in the VM runs roughly 15 times slower than on the host (qemu
  emulates the CPU: this machine's KVM cannot run stock kernels).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
SETUP_SCRIPT: Final = REPO_ROOT / "tools" / "cgroup2-vm" / "setup.sh"
VM_FAILED: Final = 125  # vmrun's status when the VM did not report the command's own
SETUP_TIMEOUT: Final = 900.0

# Variables of the calling pytest that would confuse a pytest inside the VM.
_DROPPED_ENV_PREFIXES: Final = ("PYTEST_", "COV_CORE_", "_PYTEST")


class VmUnavailable(RuntimeError):
    """The VM kit could not be built here (the message says why)."""


_lock = threading.Lock()
_kit: Path | None = None
_failure: str | None = None


def ensure_vm() -> Path:
    """The kit's directory, built by setup.sh on first use (once per process)."""
    global _kit, _failure
    with _lock:
        if _kit is not None:
            return _kit
        if _failure is not None:
            raise VmUnavailable(_failure)
        try:
            proc = subprocess.run(
                ["bash", str(SETUP_SCRIPT)],
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=SETUP_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            _failure = f"{SETUP_SCRIPT.relative_to(REPO_ROOT)}: {exc}"
            raise VmUnavailable(_failure) from exc
        lines = proc.stdout.strip().splitlines()
        kit = Path(lines[-1]) if lines else None
        if proc.returncode != 0 or kit is None or not (kit / "vmrun").is_file():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            _failure = f"{SETUP_SCRIPT.relative_to(REPO_ROOT)} failed (exit {proc.returncode}):\n{tail}"
            raise VmUnavailable(_failure)
        _kit = kit
        return kit


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def vm_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without pytest's own variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_ENV_PREFIXES)}
    env.update(extra or {})
    return env


def run_in_vm(
    command: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (bash) in a fresh VM from ``cwd``, which is the only folder it can change.

    ``env`` (default: ``vm_env()``) is the command's environment; it is carried into the VM
    as exported variables. Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds, with
    the VM stopped.
    """
    kit = ensure_vm()
    proc = subprocess.Popen(
        [str(kit / "vmrun"), command],
        cwd=cwd,
        env=dict(env) if env is not None else vm_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # qemu and vmrun's readers share this group: one kill stops all
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # TERM first so vmrun removes its temporary folder; KILL what is left.
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            stdout, stderr = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
        raise subprocess.TimeoutExpired(proc.args, timeout, output=stdout, stderr=stderr) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
