"""The figures the reliability suite measures, collected while it runs.

Each case wraps its checks in ``figures.case(row, name)``; the outcome it sets (``refused:
security``, ``retried 2x then built`` …) and whether every check held are recorded. At the end
of the session the table is printed (``-rA`` not needed) and written as JSON to
``build/reliability-figures.json`` (or ``$RELIABILITY_FIGURES``), which is where the numbers in
``docs/reliability.md`` come from.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The rows of the issue, in its order; the doc's table uses the same names.
ROWS = (
    "Hostile archives",
    "Network faults",
    "Bad configuration (generated)",
    "Bad configuration (hand-picked)",
    "Bad action inputs",
    "Cancellation and crashes",
    "Resource faults",
    "Secrets",
)


@dataclass
class Case:
    outcome: str = ""


@dataclass
class Row:
    tried: int = 0
    held: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    cases: dict[str, str] = field(default_factory=dict)


class Figures:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {name: Row() for name in ROWS}
        self._lock = threading.Lock()

    @contextmanager
    def case(self, row: str, name: str) -> Iterator[Case]:
        """Count one attempted case; it held only if the block finishes without raising.

        ``pytest.skip`` is not a case tried, so it is not counted at all.
        """
        if row not in self.rows:
            raise KeyError(f"unknown figures row {row!r}")
        current = Case()
        try:
            yield current
        except pytest.skip.Exception:
            raise
        except BaseException:
            with self._lock:
                entry = self.rows[row]
                entry.tried += 1
                entry.failed.append(name)
                entry.outcomes[current.outcome or "check failed"] += 1
                entry.cases[name] = f"FAILED ({current.outcome or 'check failed'})"
            raise
        with self._lock:
            entry = self.rows[row]
            entry.tried += 1
            entry.held += 1
            entry.outcomes[current.outcome or "held"] += 1
            if len(entry.cases) < 200:  # generated cases would swamp the file; counts suffice
                entry.cases[name] = current.outcome or "held"

    def as_json(self) -> dict[str, object]:
        return {
            name: {
                "tried": row.tried,
                "held": row.held,
                "outcomes": dict(sorted(row.outcomes.items())),
                "failed": row.failed,
                "cases": row.cases,
            }
            for name, row in self.rows.items()
            if row.tried
        }


_FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return _FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    data = _FIGURES.as_json()
    if not data:
        return
    terminalreporter.section("reliability figures")
    for name, row in data.items():
        assert isinstance(row, dict)
        terminalreporter.write_line(f"{name}: {row['held']}/{row['tried']} held")
        for outcome, count in row["outcomes"].items():
            terminalreporter.write_line(f"    {count:4d}  {outcome}")
    target = Path(os.environ.get("RELIABILITY_FIGURES", ROOT / "build" / "reliability-figures.json"))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:  # figures are a by-product; never fail the run over them
        terminalreporter.write_line(f"(could not write {target}: {exc})")
    else:
        terminalreporter.write_line(f"written to {target}")
