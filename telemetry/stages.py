"""Stage events -> ``StageRecord``s, ``FailureEvent``s and counters.

``EventTail`` reads the event channel incrementally: each call returns the
complete lines appended since the last call; a partial last line (a writer in
the middle of its ``write``, or a crash) waits for the next call. Malformed
lines are counted and skipped, never fatal.

``StageTracker`` is fed the events and, at each tick, the tree's figures, so
every open stage keeps its own peak memory and the CPU time at its start in
O(open stages) memory, however long the build. Stage boundaries fall between
ticks: CPU seconds are interpolated linearly between the surrounding ticks, and
a stage's peak memory is the highest interval peak (``MemorySampler``'s
spike-aware estimate) of every tick interval it overlaps, so a stage shorter
than a tick still gets the figure of the interval it ran in.

Completions are matched to starts by name and writer pid first (parallel jobs
in one process tree may reuse stage names), then by name alone (oldest first:
the CLI runs as a new process for each event). Overlapping and nested stages
are fine; a completion without a start becomes a zero-length stage; a stage
never completed is reported ``incomplete`` up to the end of the run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from contracts.vocabulary import REPORTED_STAGE_STATUSES, EventType, StageStatus
from telemetry.model import FailureEvent, StageRecord

_UNNAMED = "unnamed"  # a stage event without a name


class EventTail:
    """Incremental reader of a JSON-lines file that other processes append to."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.malformed = 0

    def read_new(self) -> list[dict[str, object]]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return []
        if not data:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # b"" when the data ended with a newline
        events: list[dict[str, object]] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                self.malformed += 1
                continue
            if isinstance(event, dict):
                events.append(event)
            else:
                self.malformed += 1
        return events

    def read_rest(self) -> list[dict[str, object]]:
        """At the end: new lines plus a final line without newline, if it parses."""
        events = self.read_new()
        if self._partial.strip():
            try:
                event = json.loads(self._partial)
            except ValueError:
                self.malformed += 1
            else:
                if isinstance(event, dict):
                    events.append(event)
            self._partial = b""
        return events


def _float(value: object, default: float) -> float:
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return float(value)
    return default


def _str(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


@dataclass
class _OpenStage:
    name: str
    pid: int | None
    start_time: float
    start_cpu: float
    peak_mb: float


@dataclass(frozen=True)
class _Tick:
    wall_time: float
    cpu_seconds: float  # cumulative tree CPU
    interval_peak_mb: float  # peak estimate for the interval ending at this tick


class StageTracker:
    """Turns events into records; see the module docstring for the rules."""

    def __init__(self, start_time: float) -> None:
        self._open: list[_OpenStage] = []
        self._done: list[StageRecord] = []
        self._failures: list[FailureEvent] = []
        self._counters: dict[str, float] = {}
        self._prev_tick = _Tick(start_time, 0.0, 0.0)
        self._tick = self._prev_tick
        self.unknown_events = 0

    def _cpu_at(self, when: float) -> float:
        prev, cur = self._prev_tick, self._tick
        if cur.wall_time <= prev.wall_time or when >= cur.wall_time:
            return cur.cpu_seconds
        if when <= prev.wall_time:
            return prev.cpu_seconds
        share = (when - prev.wall_time) / (cur.wall_time - prev.wall_time)
        return prev.cpu_seconds + share * (cur.cpu_seconds - prev.cpu_seconds)

    def tick(self, wall_time: float, cpu_seconds: float, interval_peak_mb: float) -> None:
        """A new sample: every stage open during the interval sees its peak."""
        self._prev_tick, self._tick = self._tick, _Tick(wall_time, cpu_seconds, interval_peak_mb)
        for stage in self._open:
            stage.peak_mb = max(stage.peak_mb, interval_peak_mb)

    def feed(self, events: Iterable[Mapping[str, object]]) -> None:
        """Events read at the current tick (their times fall in the latest interval, mostly)."""
        for event in events:
            kind = event.get("type")
            when = _float(event.get("time"), self._tick.wall_time)
            raw_pid = event.get("pid")
            pid = raw_pid if isinstance(raw_pid, int) and not isinstance(raw_pid, bool) else None
            if kind == EventType.STAGE_START:
                self._open.append(
                    _OpenStage(
                        _str(event.get("name"), _UNNAMED), pid, when, self._cpu_at(when), self._tick_peak()
                    )
                )
            elif kind == EventType.STAGE_COMPLETE:
                self._complete(_str(event.get("name"), _UNNAMED), pid, when, event)
            elif kind == EventType.FAILURE:
                self._failures.append(_failure(event, when))
            elif kind == EventType.COUNTER:
                name = _str(event.get("name"))
                if name:
                    self._counters[name] = self._counters.get(name, 0.0) + _float(event.get("value"), 1.0)
            else:
                self.unknown_events += 1

    def _tick_peak(self) -> float:
        return self._tick.interval_peak_mb

    def _complete(self, name: str, pid: int | None, when: float, event: Mapping[str, object]) -> None:
        match = next((s for s in self._open if s.name == name and s.pid == pid), None)
        if match is None:
            match = next((s for s in self._open if s.name == name), None)
        status = _str(event.get("status"), StageStatus.SUCCESS)
        if status not in REPORTED_STAGE_STATUSES:
            status = StageStatus.WARNING
        message = _str(event.get("message"))
        if match is None:
            self._done.append(
                StageRecord(name, status, when, when, 0.0, message, self._tick_peak(), 0.0, 0.0)
            )
            return
        self._open.remove(match)
        self._done.append(self._record(match, status, when, message))

    def _record(self, stage: _OpenStage, status: str, end: float, message: str) -> StageRecord:
        end = max(end, stage.start_time)
        duration = end - stage.start_time
        cpu = max(0.0, self._cpu_at(end) - stage.start_cpu)
        return StageRecord(
            name=stage.name,
            status=status,
            start_time=stage.start_time,
            end_time=end,
            duration_seconds=round(duration, 3),
            message=message,
            peak_memory_mb=round(stage.peak_mb, 1),
            cpu_seconds=round(cpu, 3),
            average_cpu_percent=round(100.0 * cpu / duration, 1) if duration > 0 else 0.0,
        )

    def close(self, end_time: float) -> None:
        """End of run: stages never completed become ``incomplete``."""
        for stage in list(self._open):
            self._done.append(self._record(stage, StageStatus.INCOMPLETE, end_time, "never completed"))
        self._open.clear()

    def stages(self) -> tuple[StageRecord, ...]:
        return tuple(sorted(self._done, key=lambda s: (s.start_time, s.end_time)))

    def failures(self) -> tuple[FailureEvent, ...]:
        return tuple(self._failures)

    def counters(self) -> dict[str, float]:
        return dict(self._counters)


def _failure(event: Mapping[str, object], when: float) -> FailureEvent:
    category = event.get("category")
    transient = event.get("transient")
    remediation = event.get("remediation")
    code = event.get("code")
    return FailureEvent(
        stage=_str(event.get("stage")),
        reason=_str(event.get("reason")),
        code=str(code) if isinstance(code, str | int) and not isinstance(code, bool) else "",
        time=when,
        category=category if isinstance(category, str) else None,
        transient=transient if isinstance(transient, bool) else None,
        remediation=tuple(r for r in remediation if isinstance(r, str))
        if isinstance(remediation, list)
        else (),
    )


def read_events_file(path: str) -> list[dict[str, object]]:
    """Every event in a channel file (for tools that run after the build)."""
    if not os.path.exists(path):
        return []
    return EventTail(path).read_rest()
