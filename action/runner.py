"""Run the build subprocess: monitored by the telemetry session, or plainly when telemetry is off.

Cancellation (GitHub sends SIGINT, then SIGTERM, then kills): ``CancelState``
is installed first thing in the entrypoint. Before the build starts it only
records the signal (the build is then never started); while the telemetry
session runs, the session's own handlers forward the signal to the build's
process tree; in plain mode this module forwards it to the build's process
group and escalates to SIGKILL after ``KILL_GRACE_SECONDS``. Either way the
entrypoint goes on to write outputs and summaries with status ``cancelled``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from types import FrameType
from typing import Final

from action.builder_args import BuildInvocation

KILL_GRACE_SECONDS: Final = 5.0
_POLL_SECONDS: Final = 0.1
# How long a signal that arrived before the build started waits for the session's handlers.
_REDELIVER_SECONDS: Final = 30.0


class CancelState:
    """Remembers the first SIGINT/SIGTERM; optionally forwards signals to a child process group."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.first_signal_at: float | None = None
        self._child_pgid: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def forward_to(self, pgid: int | None) -> None:
        self._child_pgid = pgid

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            self.first_signal_at = time.monotonic()
        if self._child_pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._child_pgid, signum)
        else:
            # No child to forward to yet. If the telemetry session is about to install its own
            # handlers, it would never hear of this signal and its build would run to the end:
            # deliver it again once another handler has taken over.
            threading.Thread(target=self._redeliver, args=(signum,), daemon=True).start()

    def _redeliver(self, signum: int) -> None:
        deadline = time.monotonic() + _REDELIVER_SECONDS
        while time.monotonic() < deadline:
            handler = signal.getsignal(signum)
            # Only to a Python handler of someone else: never to SIG_DFL, which would kill us.
            if callable(handler) and handler != self._handle and handler is not signal.default_int_handler:
                with contextlib.suppress(OSError):
                    os.kill(os.getpid(), signum)
                return
            time.sleep(0.01)


@dataclass(frozen=True)
class PlainRun:
    """The build's end when no telemetry session watched it."""

    start_time: float
    end_time: float
    exit_code: int | None  # None when a signal ended it
    signal: int | None
    cancelled: bool
    spawn_error: str | None = None

    @property
    def duration_seconds(self) -> float:
        return max(0.0, self.end_time - self.start_time)


def shell_argv(command: str) -> list[str]:
    # Like a workflow's `run:` step, and the same as telemetry.session.shell_argv (not imported:
    # with telemetry off, the session module and its samplers are never loaded).
    bash = shutil.which("bash")
    if bash:
        return [bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", command]
    return ["/bin/sh", "-ec", command]


def run_plain(invocation: BuildInvocation, cancel: CancelState) -> PlainRun:
    """Run the build without samplers, forwarding SIGINT/SIGTERM to its process group."""
    if invocation.argv is not None:
        argv = list(invocation.argv)
    else:
        argv = shell_argv(invocation.shell_command or "")
    start = time.time()
    try:
        # A session of its own: a signal then reaches the whole build tree (make, tar, xz …).
        proc = subprocess.Popen(argv, env=dict(invocation.env), cwd=invocation.cwd, start_new_session=True)
    except OSError as exc:
        return PlainRun(start, time.time(), None, None, False, spawn_error=f"{type(exc).__name__}: {exc}")
    cancel.forward_to(proc.pid)
    if cancel.requested and cancel.signum is not None:
        os.killpg(proc.pid, cancel.signum)
    killed = False
    try:
        while True:
            try:
                code = proc.wait(timeout=_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            started = cancel.first_signal_at
            if not killed and started is not None and time.monotonic() - started > KILL_GRACE_SECONDS:
                killed = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
    finally:
        cancel.forward_to(None)
    end = time.time()
    if code < 0:
        return PlainRun(start, end, None, -code, cancel.requested)
    return PlainRun(start, end, code, None, cancel.requested)
