"""The stage event channel: a dependency-free writer any build can use.

A monitored build finds the channel's path in ``TELEMETRY_EVENTS_FILE``. Each
event is one JSON object on one line, appended with a single ``write`` on an
``O_APPEND`` descriptor, so concurrent writers (parallel package jobs, shell
scripts calling the CLI) never interleave inside a line. Without the variable
every call is a no-op, so the builder runs the same way unmonitored.

Event shapes (``time`` is a Unix timestamp, float seconds):

- ``{"type": "stage_start", "name": str, "time": float, "pid": int}``
- ``{"type": "stage_complete", "name": str, "status": "success"|"failure"|"warning",
  "message": str, "time": float, "pid": int}``
- ``{"type": "failure", "stage": str, "reason": str, "code": str, "category": str|null,
  "transient": bool|null, "remediation": [str], "time": float, "pid": int}``
- ``{"type": "counter", "name": str, "value": int|float, "time": float, "pid": int}``
  (adds ``value`` to a named counter, e.g. ``download_retries``; ``BUILDER_DOWNLOADED_BYTES``
  is the one the network figures read)

This module must stay stdlib-only (``contracts.vocabulary``, where its words are spelled, is too):
the builder subprocess and users' scripts import it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Final

from contracts.vocabulary import ENV_EVENTS_FILE, REPORTED_STAGE_STATUSES, EventType, FailureCategory

ENV_VAR: Final = ENV_EVENTS_FILE

# The guide's failure categories, in the guide's order (plain strings: argparse choices, messages).
CATEGORIES: Final[tuple[str, ...]] = tuple(category.value for category in FailureCategory)

# What a writer may report as a stage's status.
STAGE_STATUSES: Final[tuple[str, ...]] = tuple(status.value for status in REPORTED_STAGE_STATUSES)

# The counter a build adds the bytes it downloaded itself to (response bodies as they came over
# the wire, every attempt included). The built-in builder reports it, starting at 0; the network
# figures carry it beside the interface's counters, which may include other traffic.
BUILDER_DOWNLOADED_BYTES: Final = "builder_downloaded_bytes"


def channel_path(environ: Mapping[str, str] | None = None) -> str | None:
    """The event file of the enclosing telemetry session, if any."""
    env = os.environ if environ is None else environ
    path = env.get(ENV_VAR, "").strip()
    return path or None


def emit(event: Mapping[str, object], path: str | None = None) -> bool:
    """Append one event; returns False (and never raises) when there is no channel.

    Telemetry must never fail a build, so I/O errors are swallowed here.
    """
    target = path if path is not None else channel_path()
    if target is None:
        return False
    record = dict(event)
    record.setdefault("time", time.time())
    record.setdefault("pid", os.getpid())
    line = (json.dumps(record, separators=(",", ":"), ensure_ascii=True) + "\n").encode()
    try:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        return False
    try:
        os.write(fd, line)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def stage_start(name: str, path: str | None = None) -> bool:
    return emit({"type": EventType.STAGE_START, "name": name}, path)


def check_stage_status(status: str) -> None:
    """A writer's mistake is an error at once, not a stage that silently never completes."""
    if status not in STAGE_STATUSES:
        raise ValueError(f"stage status must be one of {', '.join(STAGE_STATUSES)}, not {status!r}")


def stage_complete(name: str, status: str, message: str = "", path: str | None = None) -> bool:
    check_stage_status(status)
    return emit({"type": EventType.STAGE_COMPLETE, "name": name, "status": status, "message": message}, path)


def failure(
    stage: str,
    reason: str,
    code: str = "",
    *,
    category: str | None = None,
    transient: bool | None = None,
    remediation: tuple[str, ...] = (),
    path: str | None = None,
) -> bool:
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"unknown failure category {category!r}")
    return emit(
        {
            "type": EventType.FAILURE,
            "stage": stage,
            "reason": reason,
            "code": code,
            "category": category,
            "transient": transient,
            "remediation": list(remediation),
        },
        path,
    )


def counter(name: str, value: float = 1, path: str | None = None) -> bool:
    return emit({"type": EventType.COUNTER, "name": name, "value": value}, path)
