"""The step's outputs, written to ``$GITHUB_OUTPUT``.

actions-toolkit's ``core.set_output`` writes each value as a
``name<<ghadelimiter_<uuid4>`` block, so a value can hold newlines or
anything else without ending the block early; the runner parses exactly that.

Every output is always written, also on failure and cancellation, so a later
step can test ``steps.<id>.outputs.build-status`` without guarding against a
missing value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from actions_toolkit import core

from action.outcome import ActionOutcome

OUTPUT_NAMES: Final = (
    "packages",
    "packages-json",
    "build-summary",
    "build-status",
    "telemetry-dir",
    "build-duration-seconds",
    "peak-memory-mb",
    "network-downloaded-bytes",
    "network-uploaded-bytes",
    "failure-category",
    "performance-regressions",
    "regression-detected",
    "performance-score",
    "history-artifact",
    "baseline-runs",
)


def _number(value: float, digits: int) -> str:
    """Plain decimal text a shell or jq can compare: no exponent, no trailing zeros."""
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def output_values(outcome: ActionOutcome, build_summary: str) -> dict[str, str]:
    """Every output as the string the next step will read. ``build_summary`` is workspace-relative."""
    paths = [p.path for p in outcome.packages]
    telemetry = outcome.telemetry
    values = {
        "packages": " ".join(paths),
        "packages-json": json.dumps(paths),
        "build-summary": build_summary,
        "build-status": outcome.status,
        "telemetry-dir": telemetry.directory if telemetry else "",
        "build-duration-seconds": _number(
            telemetry.duration_seconds if telemetry else outcome.duration_seconds, 2
        ),
        "peak-memory-mb": _number(telemetry.peak_memory_mb, 1) if telemetry else "",
        "network-downloaded-bytes": str(telemetry.network_downloaded_bytes) if telemetry else "",
        "network-uploaded-bytes": str(telemetry.network_uploaded_bytes) if telemetry else "",
        "failure-category": outcome.failure_category,
        "performance-regressions": json.dumps(list(telemetry.regressions) if telemetry else []),
        "regression-detected": "true" if telemetry and telemetry.regression_detected else "false",
        "performance-score": _number(telemetry.performance_score, 0) if telemetry else "",
        "history-artifact": outcome.history.artifact if outcome.history else "",
        "baseline-runs": str(telemetry.baseline_runs) if telemetry else "0",
    }
    assert tuple(values) == OUTPUT_NAMES, "output_values and OUTPUT_NAMES must list the same names"
    return values


def write_outputs(values: Mapping[str, str], environ: Mapping[str, str] | None = None) -> Path | None:
    """Append the outputs to ``$GITHUB_OUTPUT``; returns the file, or None when there is none.

    Without ``GITHUB_OUTPUT`` (a run by hand) nothing is written: the toolkit
    would fall back to the ``::set-output`` command GitHub has retired.
    """
    env = os.environ if environ is None else environ
    target = env.get("GITHUB_OUTPUT", "")
    if not target:
        return None
    path = Path(target)
    # The runner creates the file; by hand it may not exist yet and the toolkit refuses a missing one.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)
    for name, value in values.items():
        core.set_output(name, value)
    return path


def parse_output_file(text: str) -> dict[str, str]:
    """Parse a ``$GITHUB_OUTPUT`` file the way the runner does (``name=value`` and ``name<<DELIM``).

    Used by tests and the demo to read back what a later step would see.
    """
    values: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        eq = line.find("=")
        heredoc = line.find("<<")
        if heredoc > 0 and (eq < 0 or heredoc < eq):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            if not name or not delimiter:
                raise ValueError(f"invalid output line {line!r}")
            body: list[str] = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError(f"output {name!r}: delimiter {delimiter!r} not found")
            i += 1  # the closing delimiter
            values[name] = "\n".join(body)
        elif eq > 0:
            values[line[:eq]] = line[eq + 1 :]
        else:
            raise ValueError(f"invalid output line {line!r}")
    return values
