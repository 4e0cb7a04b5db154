"""The stage channel read incrementally, and events turned into stage records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry import events
from telemetry.stages import EventTail, StageTracker, read_events_file


def _line(event: dict[str, object]) -> bytes:
    return (json.dumps(event) + "\n").encode()


def test_tail_waits_for_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    line = _line({"type": "stage_start", "name": "a", "time": 1.0})
    path.write_bytes(line[:10])
    tail = EventTail(str(path))
    assert tail.read_new() == []
    with path.open("ab") as handle:
        handle.write(line[10:])
    assert tail.read_new() == [{"type": "stage_start", "name": "a", "time": 1.0}]
    assert tail.read_new() == []


def test_tail_skips_malformed_lines_and_reads_an_unterminated_last_line_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b'{"type": "counter", "name": "x", "value": 2}\nnot json\n[1, 2]\n{"type": "counter", "name": "x"}'
    )
    tail = EventTail(str(path))
    assert len(tail.read_new()) == 1
    assert tail.malformed == 2
    rest = tail.read_rest()
    assert rest == [{"type": "counter", "name": "x"}]


def test_missing_file_reads_as_empty(tmp_path: Path) -> None:
    assert EventTail(str(tmp_path / "nope")).read_new() == []
    assert read_events_file(str(tmp_path / "nope")) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=8), max_size=4), max_size=12
    ),
    st.lists(st.integers(min_value=1, max_value=40), max_size=30),
)
def test_any_chunking_yields_the_same_events(objs: list[dict[str, object]], cuts: list[int]) -> None:
    import tempfile

    data = b"".join(_line(o) for o in objs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        path.write_bytes(b"")
        tail = EventTail(str(path))
        got: list[dict[str, object]] = []
        pos = 0
        for cut in cuts:
            with path.open("ab") as handle:
                handle.write(data[pos : pos + cut])
            pos += cut
            got.extend(tail.read_new())
        with path.open("ab") as handle:
            handle.write(data[pos:])
        got.extend(tail.read_rest())
    assert got == objs


def test_concurrent_writers_never_interleave_inside_a_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    code = (
        "import sys\nfrom telemetry import events\n"
        "for i in range(200):\n"
        "    events.counter('n', 1, path=sys.argv[1])\n"
        "    events.stage_start('s' * 300, path=sys.argv[1])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], env=env) for _ in range(4)]
    for p in procs:
        assert p.wait() == 0
    tail = EventTail(str(path))
    got = tail.read_rest()
    assert tail.malformed == 0
    assert len(got) == 1600
    tracker = StageTracker(0.0)
    tracker.feed(got)
    assert tracker.counters() == {"n": 800.0}


def test_stages_get_duration_peak_memory_and_interpolated_cpu() -> None:
    tracker = StageTracker(100.0)
    tracker.tick(101.0, cpu_seconds=1.0, interval_peak_mb=50.0)
    tracker.feed([{"type": "stage_start", "name": "download", "time": 100.5, "pid": 7}])
    tracker.tick(102.0, cpu_seconds=3.0, interval_peak_mb=400.0)  # a spike while downloading
    tracker.tick(103.0, cpu_seconds=3.5, interval_peak_mb=60.0)
    tracker.feed(
        [{"type": "stage_complete", "name": "download", "status": "success", "time": 102.5, "pid": 7}]
    )
    tracker.tick(104.0, cpu_seconds=3.5, interval_peak_mb=20.0)
    (stage,) = tracker.stages()
    assert stage.name == "download" and stage.status == "success"
    assert stage.duration_seconds == 2.0
    assert stage.peak_memory_mb == 400.0
    # CPU at 100.5 is interpolated within (100, 101] only as far as known ticks allow:
    # the start was read at tick 101 (cpu 1.0 over 100..101), so 0.5; end 3.25 -> 2.75 s.
    assert abs(stage.cpu_seconds - 2.75) < 1e-6
    assert abs(stage.average_cpu_percent - 137.5) < 0.1


def test_parallel_stages_with_the_same_name_match_by_pid_then_name() -> None:
    tracker = StageTracker(0.0)
    tracker.tick(1.0, 0.0, 10.0)
    tracker.feed(
        [
            {"type": "stage_start", "name": "package", "time": 0.1, "pid": 1},
            {"type": "stage_start", "name": "package", "time": 0.2, "pid": 2},
            {"type": "stage_start", "name": "outer", "time": 0.05, "pid": 3},
        ]
    )
    tracker.tick(2.0, 0.0, 30.0)
    tracker.feed(
        [
            {
                "type": "stage_complete",
                "name": "package",
                "status": "failure",
                "message": "boom",
                "time": 1.5,
                "pid": 2,
            },
            {"type": "stage_complete", "name": "package", "status": "success", "time": 1.7, "pid": 99},
        ]
    )
    tracker.close(5.0)
    stages = tracker.stages()
    by_start = {s.start_time: s for s in stages}
    assert by_start[0.2].status == "failure" and by_start[0.2].message == "boom"
    assert by_start[0.1].status == "success"  # matched by name: the CLI writes from another pid
    assert by_start[0.05].status == "incomplete" and by_start[0.05].end_time == 5.0
    assert [s.start_time for s in stages] == [0.05, 0.1, 0.2]


def test_completion_without_start_failures_and_odd_values() -> None:
    tracker = StageTracker(0.0)
    tracker.feed(
        [
            {"type": "stage_complete", "name": "lone", "status": "bogus", "time": 3.0},
            {
                "type": "failure",
                "stage": "download",
                "reason": "HTTP 503",
                "code": 22,
                "category": "network",
                "transient": True,
                "remediation": ["retry", 5],
                "time": 2.0,
            },
            {"type": "counter", "name": "download_retries", "value": True},
            {"type": "what"},
        ]
    )
    (lone,) = tracker.stages()
    assert lone.duration_seconds == 0.0 and lone.status == "warning"
    (failure,) = tracker.failures()
    assert (failure.stage, failure.code, failure.category, failure.transient) == (
        "download",
        "22",
        "network",
        True,
    )
    assert failure.remediation == ("retry",)
    assert tracker.counters() == {"download_retries": 1.0}
    assert tracker.unknown_events == 1


def test_events_module_writes_what_the_tracker_reads(tmp_path: Path) -> None:
    path = str(tmp_path / "events.jsonl")
    events.stage_start("verify", path=path)
    events.stage_complete("verify", "warning", "1 lintian warning", path=path)
    events.failure("verify", "checksum mismatch", "sha256", category="security", path=path)
    tracker = StageTracker(0.0)
    tracker.feed(read_events_file(path))
    (stage,) = tracker.stages()
    assert stage.status == "warning" and stage.message == "1 lintian warning"
    assert tracker.failures()[0].category == "security"
