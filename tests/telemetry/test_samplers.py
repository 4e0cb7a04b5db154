"""Samplers fed synthetic ticks (exact arithmetic) and the real /proc (smoke)."""

from __future__ import annotations

import resource
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from telemetry.cgroup import CgroupReading
from telemetry.proctree import ProcessSnapshot, ProcessTree, TreeSnapshot
from telemetry.samplers.cpu import CpuSampler, read_system_times
from telemetry.samplers.disk import DiskSampler
from telemetry.samplers.interface import BoundedSeries, FinalFacts, SamplingContext
from telemetry.samplers.memory import MemorySampler, system_used_bytes
from telemetry.samplers.network import NetworkSampler, choose_interface, parse_net_dev
from telemetry.samplers.system import collect_system_info, existing_ancestor

MB = 1024 * 1024


def proc(
    pid: int,
    rss_mb: float,
    hwm_mb: float | None = None,
    *,
    anon_mb: float | None = None,
    file_mb: float = 0.0,
) -> ProcessSnapshot:
    return ProcessSnapshot(
        pid=pid,
        ppid=1,
        pgid=pid,
        sid=pid,
        name="p",
        state="S",
        start_time=0.0,
        rss_bytes=int(rss_mb * MB),
        hwm_bytes=int((hwm_mb if hwm_mb is not None else rss_mb) * MB),
        user_seconds=0.0,
        system_seconds=0.0,
        children_user_seconds=0.0,
        children_system_seconds=0.0,
        read_bytes=0,
        write_bytes=0,
        threads=1,
        anon_bytes=int((anon_mb if anon_mb is not None else rss_mb - file_mb) * MB),
        file_bytes=int(file_mb * MB),
    )


def tick(
    t: float,
    procs: list[ProcessSnapshot],
    *,
    cgroup: CgroupReading | None = None,
    cpu: tuple[float, float] = (0.0, 0.0),
    io: tuple[int, int] = (0, 0),
    unique_mb: float | None = None,
    quick_rise_mb: float | None = None,
    io_bound_mb: float = 0.0,
) -> TreeSnapshot:
    return TreeSnapshot(
        wall_time=t,
        monotonic=t,
        processes=tuple(procs),
        started=(),
        ended=(),
        cpu_user_seconds=cpu[0],
        cpu_system_seconds=cpu[1],
        io_read_bytes=io[0],
        io_write_bytes=io[1],
        rss_bytes=sum(p.rss_bytes for p in procs),
        hwm_bytes=sum(p.hwm_bytes for p in procs),
        cgroup=cgroup,
        walk_cpu_seconds=0.0,
        io_cache_bound_bytes=int(io_bound_mb * MB),
        unique_bytes=None if unique_mb is None else int(unique_mb * MB),
        quick_rise_bytes=None if quick_rise_mb is None else int(quick_rise_mb * MB),
    )


def cg(
    usage_mb: float,
    peak_mb: float,
    resident_mb: float,
    *,
    reset: bool = True,
    dedicated: bool = True,
) -> CgroupReading:
    """A reading whose charge is ``usage`` of which ``resident`` is anonymous + mapped."""
    return CgroupReading(
        1, dedicated, int(usage_mb * MB), int(peak_mb * MB), reset, 0, None, int(resident_mb * MB), 0
    )


def ctx(tmp_path: Path) -> SamplingContext:
    return SamplingContext(start_time=0.0, interval=1.0, output_path=str(tmp_path))


def rusage(maxrss_kb: int = 0, utime: float = 0.0, stime: float = 0.0) -> resource.struct_rusage:
    fields = [utime, stime, maxrss_kb] + [0] * 13
    return resource.struct_rusage(fields)


def test_level_is_the_cgroups_resident_memory_not_the_rss_sum(tmp_path: Path) -> None:
    """Four forks sharing 300 MB: RSS counts it five times, the cgroup once."""
    memory = MemorySampler(layout="dedicated")
    memory.start(ctx(tmp_path))
    forks = [proc(i, 300) for i in range(1, 6)]
    memory.sample(tick(1.0, forks, cgroup=cg(320, 320, 305)), 1.0)
    result = memory.result()
    assert result.peak_mb == 305 and result.peak_source == "cgroup_resident"
    assert {f.source: f.value_mb for f in result.figures}["tree_rss_sum"] == 1500


def test_cgroup_spike_between_ticks_counts_without_page_cache(tmp_path: Path) -> None:
    memory = MemorySampler(layout="dedicated")
    memory.start(ctx(tmp_path))
    # 100 MB of page cache (charge 115, resident 15) at both ends.
    memory.sample(tick(1.0, [proc(1, 20)], cgroup=cg(115, 115, 15)), 1.0)
    # Between ticks the charge reached 415 MB and no I/O happened: a 300 MB spike.
    memory.sample(tick(2.0, [proc(1, 20)], cgroup=cg(115, 415, 15)), 2.0)
    assert memory.last_interval_peak_mb == 315
    memory.sample(tick(3.0, [proc(1, 20)], cgroup=cg(115, 116, 15)), 3.0)
    result = memory.result()
    assert result.peak_mb == 315 and result.peak_source == "cgroup_interval_peak"
    figures = {f.source: f.value_mb for f in result.figures}
    assert figures["cgroup_resident"] == 15 and figures["cgroup_peak_with_page_cache"] == 415


def test_page_cache_written_and_deleted_between_ticks_is_not_a_spike(tmp_path: Path) -> None:
    """A 1 GB temporary file: the charge peaks at 1.1 GB, but the tree wrote 1 GB."""
    memory = MemorySampler(layout="dedicated")
    memory.start(ctx(tmp_path))
    memory.sample(tick(1.0, [proc(1, 20)], cgroup=cg(30, 30, 20)), 1.0)
    memory.sample(tick(2.0, [proc(1, 20)], cgroup=cg(30, 1054, 20), io_bound_mb=1024), 2.0)
    assert memory.result().peak_mb == 20


def test_steady_page_cache_is_not_a_spike(tmp_path: Path) -> None:
    memory = MemorySampler(layout="dedicated")
    memory.start(ctx(tmp_path))
    # The charge ramps with cached downloads; its peak is the end of the interval.
    memory.sample(tick(1.0, [proc(1, 50)], cgroup=cg(100, 100, 50)), 1.0)
    memory.sample(tick(2.0, [proc(1, 60)], cgroup=cg(900, 900, 60), io_bound_mb=800), 2.0)
    assert memory.result().peak_mb == 60


def test_container_cgroup_subtracts_the_session_and_counts_only_a_rise_of_its_peak(tmp_path: Path) -> None:
    """The entrypoint shares the container's read-only cgroup: 40 MB of it was there first."""
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nRssAnon:\t   30000 kB\n")
    memory = MemorySampler(layout="container", session_baseline_bytes=40 * MB, self_status_path=str(status))
    memory.start(ctx(tmp_path))
    memory.sample(tick(1.0, [proc(2, 12)], cgroup=cg(240, 1000, 50, reset=False, dedicated=False)), 1.0)
    memory.sample(tick(2.0, [proc(2, 12)], cgroup=cg(240, 1000, 50, reset=False, dedicated=False)), 2.0)
    assert memory.result().peak_mb == 10  # an old all-time peak says nothing about the build
    memory.sample(tick(3.0, [proc(2, 12)], cgroup=cg(240, 1500, 50, reset=False, dedicated=False)), 3.0)
    result = memory.result()
    assert result.peak_mb == 1270 and result.peak_source == "cgroup_interval_peak"  # 1500 - 190 - 40
    assert result.layout == "container"


def test_young_poll_and_hwm_rise_between_ticks_and_rusage_floor(tmp_path: Path) -> None:
    memory = MemorySampler(layout="none")
    memory.start(ctx(tmp_path))
    memory.sample(tick(1.0, [proc(1, 10), proc(2, 10)], unique_mb=18), 1.0)
    # A poll saw new processes 150 MB above the last tick; pid 2 peaked at 212 and freed.
    memory.sample(tick(2.0, [proc(1, 10), proc(2, 12, hwm_mb=212)], unique_mb=20, quick_rise_mb=150), 2.0)
    figures = {f.source: f.value_mb for f in memory.result().figures}
    assert figures["young_process_poll"] == 168 and figures["process_hwm_rise"] == 218  # 18 + 212 - 12
    memory.sample(tick(3.0, [proc(1, 10), proc(2, 12, hwm_mb=212)], unique_mb=20), 3.0)  # not again
    result = memory.result()
    assert result.peak_mb == 218 and result.peak_source == "process_hwm_rise"
    memory.finish(FinalFacts(4.0, rusage(maxrss_kb=500 * 1024), ()))
    result = memory.result()
    assert result.peak_mb == 500 and result.peak_source == "largest_process_rusage"


def test_a_process_unmapping_a_shared_file_is_not_a_spike(tmp_path: Path) -> None:
    """Its high-water mark holds a file others still map: what it unmapped is not freed."""
    memory = MemorySampler(layout="none")
    memory.start(ctx(tmp_path))
    readers = [proc(i, 266, file_mb=256) for i in (1, 2)]
    memory.sample(tick(1.0, readers, unique_mb=276), 1.0)
    memory.sample(tick(2.0, [proc(1, 10, hwm_mb=266, file_mb=0), readers[1]], unique_mb=276), 2.0)
    assert memory.result().peak_mb == 276


def test_rusage_inherited_from_the_spawner_is_not_evidence(tmp_path: Path) -> None:
    memory = MemorySampler(layout="none")
    memory.start(ctx(tmp_path))
    memory.sample(tick(1.0, [proc(1, 5)], unique_mb=5), 1.0)
    memory.finish(FinalFacts(2.0, rusage(maxrss_kb=300 * 1024), (), spawner_rss_bytes=300 * MB))
    assert memory.result().peak_mb == 5


def test_memory_result_without_samples() -> None:
    result = MemorySampler().result()
    assert result.peak_mb == 0 and result.samples == ()


def test_system_used_is_total_minus_available() -> None:
    text = "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 400 kB\n"
    assert system_used_bytes(text) == 600 * 1024
    assert (
        system_used_bytes("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 50 kB\n") == 800 * 1024
    )


def test_cpu_percent_and_totals(tmp_path: Path) -> None:
    cpu = CpuSampler()
    cpu.start(ctx(tmp_path))
    cpu.sample(tick(1.0, [], cpu=(0.5, 0.0)), 1.0)
    cpu.sample(tick(2.0, [], cpu=(1.5, 0.5)), 2.0)
    cpu.finish(FinalFacts(2.0, rusage(utime=1.6, stime=0.5), ()))
    result = cpu.result()
    assert [s.tree_percent for s in result.samples] == [50.0, 150.0]
    assert result.user_seconds == 1.6 and result.system_seconds == 0.5
    assert result.average_percent == 105.0 and result.peak_percent == 150.0
    busy, total = read_system_times()
    assert 0 <= busy <= total


def test_a_tick_right_after_the_last_is_rated_over_a_longer_window(tmp_path: Path) -> None:
    # One 10 ms clock tick of CPU time over a 2 ms window would read as 500 %.
    cpu = CpuSampler()
    cpu.start(ctx(tmp_path))
    cpu.sample(tick(1.0, [], cpu=(0.5, 0.0)), 1.0)
    cpu.sample(tick(2.0, [], cpu=(1.5, 0.0)), 2.0)
    cpu.sample(tick(2.002, [], cpu=(1.51, 0.0)), 2.002)  # rated from 1.0: 1.01 s over 1.002 s
    cpu.sample(tick(3.0, [], cpu=(2.0, 0.0)), 3.0)  # from 2.0, the last point a window apart
    result = cpu.result()
    assert [s.tree_percent for s in result.samples] == [50.0, 100.0, 100.8, 50.0]
    assert result.peak_percent == 100.8 and result.user_seconds == 2.0


def test_disk_io_and_free_space(tmp_path: Path) -> None:
    disk = DiskSampler()
    disk.start(SamplingContext(0.0, 1.0, str(tmp_path / "not" / "yet")))
    disk.sample(tick(1.0, [], io=(4096, 8192)), 1.0)
    disk.finish(FinalFacts(2.0, None, ()))
    result = disk.result()
    assert (result.read_bytes, result.write_bytes) == (4096, 8192)
    assert result.path == str(tmp_path) and result.free_before_bytes > 0 and result.free_after_bytes > 0
    assert existing_ancestor(str(tmp_path / "a" / "b")) == str(tmp_path)


NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop ...
    lo: {lo} 10 0 0 0 0 0 0 {lo} 10 0 0 0 0 0 0
  eth0: {eth} 10 0 0 0 0 0 0 {eth_tx} 10 0 0 0 0 0 0
"""


def test_net_dev_parsing_and_interface_choice() -> None:
    counters = parse_net_dev(NET_DEV.format(lo=100, eth=2000, eth_tx=30))
    assert counters == {"lo": (100, 100), "eth0": (2000, 30)}
    assert choose_interface({"lo": (0, 0), "eth0": (10_000_000, 5)}) == "eth0"
    assert choose_interface({"lo": (50_000_000, 50_000_000), "eth0": (300, 200)}) == "lo"  # noise on eth0
    assert choose_interface({"lo": (0, 0), "eth0": (0, 0), "wlan0": (0, 0)}, default="wlan0") == "wlan0"
    assert choose_interface({"lo": (0, 0), "eth0": (5_000_000, 0), "eth1": (9_000_000, 0)}) == "eth1"


def test_network_sampler_counts_deltas_from_start(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.write_text(NET_DEV.format(lo=100, eth=1000, eth_tx=10))
    network = NetworkSampler(net_dev_path=str(dev), proc=str(tmp_path))
    network.start(ctx(tmp_path))
    dev.write_text(NET_DEV.format(lo=100, eth=1000 + 5_000_000, eth_tx=10 + 70_000))
    record = network.sample(tick(1.0, []), 1.0)
    assert record is not None and record["interface"] == "eth0"
    network.finish(FinalFacts(2.0, None, ()))
    result = network.result()
    assert (result.bytes_downloaded, result.bytes_uploaded, result.interface) == (5_000_000, 70_000, "eth0")
    assert result.samples[0].bytes_received == 5_000_000


@given(
    st.integers(min_value=2, max_value=16), st.lists(st.integers(min_value=0, max_value=10**6), max_size=400)
)
def test_bounded_series_keeps_its_bound_and_the_peak(capacity: int, values: list[int]) -> None:
    series: BoundedSeries[int] = BoundedSeries(capacity, max)
    for v in values:
        series.append(v)
    items = series.items()
    assert len(items) <= capacity + 1  # the stored items plus one partial group
    if values:
        assert max(items) == max(values)


def test_bounded_series_keeps_order_of_time() -> None:
    series: BoundedSeries[int] = BoundedSeries(8, lambda a, b: b)
    for v in range(1000):
        series.append(v)
    items = series.items()
    assert list(items) == sorted(items) and items[-1] == 999 and len(items) <= 9


def test_system_info_is_plausible(tmp_path: Path) -> None:
    info = collect_system_info(str(tmp_path))
    assert info.hostname and info.os_info.startswith("Linux ")
    assert info.cpu_cores >= 1 and info.memory_total_mb > 100 and info.disk_available_gb > 0


def test_real_tree_tick_feeds_every_sampler(tmp_path: Path) -> None:
    import os

    tree = ProcessTree()
    tree.set_root(os.getppid())  # any live process will do for a smoke test
    snap = tree.walk()
    for sampler in (MemorySampler(), CpuSampler(), NetworkSampler(), DiskSampler()):
        sampler.start(ctx(tmp_path))
        assert sampler.sample(snap, snap.wall_time) is not None
        sampler.finish(FinalFacts(snap.wall_time, None, ()))
        sampler.result()


def test_cgroup_v2_files_of_a_read_only_container_view(tmp_path: Path) -> None:
    from telemetry.cgroup import CgroupView

    (tmp_path / "memory.current").write_text("104857600\n")
    (tmp_path / "memory.peak").write_text("209715200\n")
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
    (tmp_path / "cgroup.procs").write_text("12\n34\n")
    view = CgroupView(2, str(tmp_path), dedicated=False)
    reading = view.read()
    assert reading is not None
    assert (reading.usage_bytes, reading.peak_bytes, reading.oom_kills, reading.limit_bytes) == (
        100 * MB,
        200 * MB,
        1,
        None,
    )
    assert not reading.peak_was_reset  # a shared view is never reset
    assert (tmp_path / "memory.peak").read_text() == "209715200\n"
    assert view.pids() == [12, 34] and view.procs_bytes() == b"12\n34\n"


def test_cgroup_v1_files(tmp_path: Path) -> None:
    from telemetry.cgroup import CgroupView

    (tmp_path / "memory.usage_in_bytes").write_text("1048576\n")
    (tmp_path / "memory.max_usage_in_bytes").write_text("2097152\n")
    (tmp_path / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # "unlimited"
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    view = CgroupView(1, str(tmp_path), dedicated=False)
    reading = view.read()
    assert reading is not None and reading.peak_bytes == 2 * MB and reading.oom_kills == 2
    assert view.limit_bytes() is None
    (tmp_path / "memory.limit_in_bytes").write_text("536870912\n")
    assert view.limit_bytes() == 512 * MB
    assert CgroupView(1, str(tmp_path / "missing"), dedicated=False).read() is None
    assert CgroupView(1, str(tmp_path / "missing"), dedicated=False).pids() is None


def test_a_process_caught_exiting_is_not_counted_twice(tmp_path: Path) -> None:
    """Its pages still count in the level read a moment before its status shows them gone."""
    memory = MemorySampler(layout="none")
    memory.start(ctx(tmp_path))
    memory.sample(tick(1.0, [proc(1, 10)], unique_mb=8), 1.0)
    # A new worker: 40 MB at its peak, 5 MB left as it exits; the level still had all of it.
    memory.sample(tick(2.0, [proc(1, 10), proc(2, 5, hwm_mb=40)], unique_mb=40), 2.0)
    result = memory.result()
    assert result.peak_mb == 43  # 8 for the rest of the tree + 35 above the worker's ends
