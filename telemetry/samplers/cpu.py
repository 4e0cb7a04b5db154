"""CPU: the tree's user/system seconds and utilisation, and the whole system's.

Tree seconds come from the walk's cumulative figures (finished processes
included, see ``proctree``); at the end the exact ``os.wait4`` rusage of the
build root (and of orphans the session reaped) is used when it is larger.
System utilisation comes from ``/proc/stat`` deltas.
"""

from __future__ import annotations

from contracts.vocabulary import CPU_SAMPLES_FILE, SamplerName
from telemetry.model import CpuResult, CpuSample
from telemetry.proctree import TreeSnapshot
from telemetry.samplers.interface import (
    BoundedSeries,
    FinalFacts,
    Sampler,
    SampleRecord,
    SamplingContext,
)


def read_system_times(path: str = "/proc/stat") -> tuple[float, float]:
    """(busy, total) jiffies over all CPUs; iowait counts as idle."""
    with open(path, encoding="ascii") as handle:
        first = handle.readline().split()
    values = [float(v) for v in first[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice; guest is inside user.
    total = sum(values[:8])
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)
    return total - idle, total


# The kernel counts CPU time in clock ticks (10 ms at USER_HZ 100): over a shorter window than
# this one tick is a large share of the rate (a 2 ms window read one tick as 500 %), so a tick
# that comes sooner than this after the last point (the exit tick, say) is rated over the window
# back to the newest point at least this old, or else since the start.
MIN_RATE_WINDOW_SECONDS = 0.25


def _keep_busier(a: CpuSample, b: CpuSample) -> CpuSample:
    return a if a.tree_percent > b.tree_percent else b


class CpuSampler(Sampler[CpuResult]):
    name = SamplerName.CPU
    log_file = CPU_SAMPLES_FILE
    carries_telemetry_cost = True

    def __init__(self, *, capacity: int = 720, stat_path: str = "/proc/stat") -> None:
        self._stat_path = stat_path
        self._series: BoundedSeries[CpuSample] = BoundedSeries(capacity, _keep_busier)
        self._start_time: float | None = None
        self._end_time: float | None = None
        self._start_system: tuple[float, float] | None = None
        self._prev_system: tuple[float, float] | None = None
        self._end_system: tuple[float, float] | None = None
        # The last two rating points (monotonic, tree cpu seconds), at least the window apart.
        self._prev: tuple[float, float] | None = None
        self._before_prev: tuple[float, float] | None = None
        self._user = 0.0
        self._system = 0.0
        self._peak_percent = 0.0
        self._last_wall: float | None = None

    def start(self, context: SamplingContext) -> None:
        self._start_time = context.start_time
        try:
            self._start_system = self._prev_system = read_system_times(self._stat_path)
        except (OSError, ValueError, IndexError):
            self._start_system = None

    def sample(self, tick: TreeSnapshot, now: float) -> SampleRecord | None:
        self._user = max(self._user, tick.cpu_user_seconds)
        self._system = max(self._system, tick.cpu_system_seconds)
        tree_percent = max(0.0, self._tree_percent(tick, now))
        if self._prev is None or tick.monotonic - self._prev[0] >= MIN_RATE_WINDOW_SECONDS:
            self._before_prev = self._prev
            self._prev = (tick.monotonic, tick.cpu_seconds)
        system_percent = 0.0
        try:
            current = read_system_times(self._stat_path)
        except (OSError, ValueError, IndexError):
            current = None
        if current is not None and self._prev_system is not None and current[1] > self._prev_system[1]:
            system_percent = 100.0 * (current[0] - self._prev_system[0]) / (current[1] - self._prev_system[1])
        if current is not None:
            self._prev_system = self._end_system = current
        self._peak_percent = max(self._peak_percent, tree_percent)
        self._last_wall = now
        self._series.append(CpuSample(now, round(tree_percent, 1), round(system_percent, 1)))
        return {
            "timestamp": round(now, 3),
            "tree_percent": round(tree_percent, 1),
            "system_percent": round(system_percent, 1),
            "user_seconds": round(tick.cpu_user_seconds, 2),
            "system_seconds": round(tick.cpu_system_seconds, 2),
        }

    def _tree_percent(self, tick: TreeSnapshot, now: float) -> float:
        """The tree's CPU rate over a window of at least MIN_RATE_WINDOW_SECONDS when there is one."""
        anchor = self._prev
        if anchor is not None and tick.monotonic - anchor[0] < MIN_RATE_WINDOW_SECONDS:
            anchor = self._before_prev
        if anchor is not None and tick.monotonic - anchor[0] >= MIN_RATE_WINDOW_SECONDS:
            return 100.0 * (tick.cpu_seconds - anchor[1]) / (tick.monotonic - anchor[0])
        if self._start_time is not None and now > self._start_time:
            return 100.0 * tick.cpu_seconds / (now - self._start_time)
        return 0.0

    def finish(self, facts: FinalFacts) -> None:
        self._end_time = facts.end_time
        usages = list(facts.adopted_rusage)
        if facts.build_rusage is not None:
            usages.append(facts.build_rusage)
        if usages:
            self._user = max(self._user, sum(u.ru_utime for u in usages))
            self._system = max(self._system, sum(u.ru_stime for u in usages))

    def result(self) -> CpuResult:
        duration = 0.0
        if self._start_time is not None:
            end = self._end_time if self._end_time is not None else self._last_wall
            duration = max(0.0, (end or self._start_time) - self._start_time)
        average = 100.0 * (self._user + self._system) / duration if duration > 0 else 0.0
        system_average = 0.0
        if self._start_system is not None and self._end_system is not None:
            busy = self._end_system[0] - self._start_system[0]
            total = self._end_system[1] - self._start_system[1]
            system_average = 100.0 * busy / total if total > 0 else 0.0
        return CpuResult(
            user_seconds=round(self._user, 3),
            system_seconds=round(self._system, 3),
            average_percent=round(average, 1),
            peak_percent=round(max(self._peak_percent, average), 1),
            system_average_percent=round(system_average, 1),
            samples=self._series.items(),
        )

    def empty_result(self) -> CpuResult:
        return CpuResult(0.0, 0.0, 0.0, 0.0, 0.0, ())
