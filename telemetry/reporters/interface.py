"""What every telemetry file writer is: a ``Reporter`` reading one ``ReportInput``.

``telemetry.reporters.registry.REPORTERS`` lists them in the order they are written;
``telemetry.publish_files.write_all`` runs each one on its own, so a file that cannot be
written becomes a warning and the others are still written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from telemetry.failures import FailureAnalysis
from telemetry.metrics_doc import MetricsDocument
from telemetry.model import RunData


@dataclass(frozen=True)
class ReportInput:
    """A finished run as the reporters see it: measured, analysed, and put into the document."""

    document: MetricsDocument  # what metrics.json holds; every derived file reads its figures here
    run: RunData  # for what the document leaves out (sample series as measured, output tail)
    analyses: tuple[FailureAnalysis, ...]  # every failure, the primary one first


class Reporter(Protocol):
    """One kind of file in the telemetry folder."""

    @property
    def file_name(self) -> str:
        """The file a warning names when writing fails."""
        ...

    def write(self, report: ReportInput, directory: Path) -> Mapping[str, Path]:
        """Write into ``directory``; returns the files there now by role (``TelemetryReport.paths``)."""
        ...
