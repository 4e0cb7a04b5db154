"""memory-samples.log and network-samples.log, when no sampler wrote them live.

The guide lists both files. A monitored session's samplers append to them as they
measure (they own the files); a run without samplers (standalone CLI use) has none,
and these reporters write what the run has, in the same JSON-lines shape, so the
guide's file set is always complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from contracts.fileio import atomic_write_text
from contracts.vocabulary import MEMORY_SAMPLES_FILE, NETWORK_SAMPLES_FILE
from telemetry.model import RunData
from telemetry.reporters.interface import ReportInput

Record = Mapping[str, float | int | str]


def _memory_records(run: RunData) -> list[Record]:
    return [
        {"timestamp": s.timestamp, "memory_mb": s.memory_mb, "system_used_mb": s.system_used_mb}
        for s in run.memory.samples
    ]


def _network_records(run: RunData) -> list[Record]:
    return [
        {
            "timestamp": s.timestamp,
            "interface": run.network.interface,
            "bytes_received": s.bytes_received,
            "bytes_sent": s.bytes_sent,
        }
        for s in run.network.samples
    ]


@dataclass(frozen=True)
class SampleLogReporter:
    role: str  # its key in TelemetryReport.paths
    file_name: str
    records: Callable[[RunData], list[Record]]

    def write(self, report: ReportInput, directory: Path) -> Mapping[str, Path]:
        path = directory / self.file_name
        if not path.exists():
            atomic_write_text(path, "".join(json.dumps(record) + "\n" for record in self.records(report.run)))
        return {self.role: path}


MEMORY_SAMPLES: Final = SampleLogReporter("memory_samples", MEMORY_SAMPLES_FILE, _memory_records)
NETWORK_SAMPLES: Final = SampleLogReporter("network_samples", NETWORK_SAMPLES_FILE, _network_records)
