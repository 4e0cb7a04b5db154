"""Read the builder's result file (architecture.md, "multiarch/") into frozen dataclasses.

The file is the builder's machine-readable answer; the entrypoint never parses its log. The
model and its tolerant reading rules live in ``contracts.builder_result``, shared with the
builder that writes the file; this module is the action's door to it. A file that is missing
or not JSON gives ``None`` and the caller reports from the exit status and telemetry.
"""

from __future__ import annotations

from pathlib import Path

from contracts.builder_result import (
    BuilderResult,
    EarlyFailure,
    JobResult,
    LintianCounts,
    SkippedArch,
    read_builder_result,
)

__all__ = [
    "BuilderResult",
    "EarlyFailure",
    "JobResult",
    "LintianCounts",
    "SkippedArch",
    "parse_error",
    "parse_result",
    "read_result",
]


def parse_error(value: object) -> EarlyFailure | None:
    return EarlyFailure.from_document(value)


def parse_result(document: object) -> BuilderResult | None:
    return BuilderResult.from_document(document)


def read_result(path: Path | None) -> BuilderResult | None:
    """The result file at ``path``, or None when there is none (crash, command mode)."""
    if path is None:
        return None
    return read_builder_result(path)
