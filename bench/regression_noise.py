"""False alarms and detection of the regression rules, replayed on noise measured here.

    .venv/bin/python bench/regression_noise.py               # 30 measured runs (~4 min), then replay
    .venv/bin/python bench/regression_noise.py --runs 12 --load   # measured under stress-ng load

1. Measure: the same build (xz -6 of a 24 MB payload, ``--payload-mb``, made of this machine's
   binaries: the work a package build is made of) runs ``--runs`` times under
   ``telemetry.session.Session``; each run's duration and peak memory, divided by their median,
   is one sample of run-to-run noise.
   ``--load`` runs ``stress-ng`` beside it (a busy shared runner).
2. Replay: histories are drawn from those ratios at a nominal 60 s / 400 MB build (so the 5 s and
   16 MB floors are not what decides): ``--refs`` reference runs (saved baselines) and one new run,
   (a) with no real change and (b) with the new run's duration +30 %. Printed side by side: the
   single-baseline rule (``telemetry.baseline.compare`` against the latest reference run) and the
   history rule (``telemetry.history``: median and MAD of the reference runs).

Targets for the history rule: at most 2 % false alarms in (a), at least 95 % detection in (b).
Exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telemetry.baseline import Baseline, Noise, Thresholds, compare  # noqa: E402
from telemetry.history import (  # noqa: E402
    MAD_TO_SIGMA,
    HistoryEntry,
    compare_with_history,
    reference_of,
)
from telemetry.session import Session, SessionOptions  # noqa: E402

NOMINAL_SECONDS = 60.0
NOMINAL_MB = 400.0


@dataclass(frozen=True)
class Measured:
    duration: float
    peak_mb: float


def _payload(folder: Path, size: int) -> Path:
    """Real binaries (compress like a release's): /usr/bin's files, concatenated up to the size."""
    out = folder / "payload"
    written = 0
    with out.open("wb") as sink:
        for path in sorted(Path("/usr/bin").iterdir()):
            if written >= size:
                break
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()[: size - written]
                sink.write(data)
                written += len(data)
    return out


def measure(runs: int, load: bool, payload_mb: int) -> list[Measured]:
    stress = None
    if load:
        if shutil.which("stress-ng") is None:
            raise SystemExit("--load needs stress-ng (apt-get install stress-ng)")
        stress = subprocess.Popen(
            ["stress-ng", "--cpu", "2", "--io", "1", "--vm", "1", "--vm-bytes", "256M", "--quiet"]
        )
    try:
        with tempfile.TemporaryDirectory(prefix="regression-noise-") as tmp:
            payload = _payload(Path(tmp), payload_mb * 1024 * 1024)
            found: list[Measured] = []
            for index in range(runs):
                options = SessionOptions(
                    telemetry_dir=Path(tmp) / f"t{index}", sample_interval=1.0, env={}, output_path=tmp
                )
                argv = ["xz", "-T1", "-6", "-c", str(payload)]
                run = Session(options, output=io.BytesIO()).run(argv=argv)
                found.append(Measured(run.duration_seconds, run.memory.peak_mb))
                print(
                    f"  run {index + 1:2d}: {found[-1].duration:6.2f} s  {found[-1].peak_mb:6.1f} MB",
                    flush=True,
                )
            return found
    finally:
        if stress is not None:
            stress.terminate()
            stress.wait()


def _entry(index: int, duration: float, memory: float) -> HistoryEntry:
    return HistoryEntry(
        run_id=str(index),
        time="2026-01-01T00:00:00Z",
        status="success",
        duration_seconds=duration,
        peak_memory_mb=memory,
        baseline=True,
    )


def _mads(references: list[HistoryEntry], mads: float) -> Noise:
    """An allowance of ``mads`` scaled MADs, without the highest-reference term."""

    def allowance(values: list[float]) -> float:
        median = statistics.median(values)
        return mads * MAD_TO_SIGMA * statistics.median(abs(v - median) for v in values)

    return Noise(
        allowance([r.duration_seconds for r in references]), allowance([r.peak_memory_mb for r in references])
    )


# "median only" has no noise allowance: the most any allowance can detect at this threshold.
RULES = ("single baseline", "median only", "median + 3 MAD", "history rule")


def replay(
    ratios: list[tuple[float, float]], refs: int, change: float, trials: int, seed: int
) -> list[float]:
    """For each of RULES, the share of new runs flagged as a regression."""
    rng = random.Random(seed)
    thresholds = Thresholds()
    flagged = [0] * len(RULES)
    for _ in range(trials):
        picks = [rng.choice(ratios) for _ in range(refs + 1)]
        references = [_entry(i, NOMINAL_SECONDS * d, NOMINAL_MB * m) for i, (d, m) in enumerate(picks[:-1])]
        new_d, new_m = picks[-1]
        duration, memory = NOMINAL_SECONDS * new_d * change, NOMINAL_MB * new_m
        latest = references[-1]
        reference = reference_of(references)
        assert reference is not None
        medians = Baseline(reference.duration_seconds, reference.peak_memory_mb, "")
        verdicts = (
            compare(
                duration, memory, Baseline(latest.duration_seconds, latest.peak_memory_mb, ""), thresholds
            ),
            compare(duration, memory, medians, thresholds),
            compare(duration, memory, medians, thresholds, noise=_mads(references, 3.0)),
            compare_with_history(duration, memory, reference, thresholds),
        )
        for index, verdict in enumerate(verdicts):
            flagged[index] += bool(verdict.regressions)
    return [count / trials for count in flagged]


def _measured(args: argparse.Namespace) -> list[Measured]:
    if args.replay_file:
        return [Measured(d, m) for d, m in json.loads(Path(args.replay_file).read_text())]
    print(f"measuring {args.runs} runs of the same build{' under load' if args.load else ''}:")
    runs = measure(args.runs, args.load, args.payload_mb)
    if args.save:
        Path(args.save).write_text(json.dumps([[r.duration, r.peak_mb] for r in runs]))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--refs", type=int, default=7, help="reference runs in a history")
    parser.add_argument("--trials", type=int, default=20000)
    parser.add_argument("--load", action="store_true")
    parser.add_argument("--payload-mb", type=int, default=24, help="size of the payload xz compresses")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", help="write the measured runs to this JSON file")
    parser.add_argument("--replay-file", help="replay runs measured earlier (--save) instead of measuring")
    args = parser.parse_args()

    runs = _measured(args)
    d_med = statistics.median(r.duration for r in runs)
    m_med = statistics.median(r.peak_mb for r in runs)
    ratios = [(r.duration / d_med, r.peak_mb / m_med) for r in runs]
    d_cv = statistics.pstdev(d for d, _ in ratios)
    m_cv = statistics.pstdev(m for _, m in ratios)
    low, high = (100 * (f(d for d, _ in ratios) - 1) for f in (min, max))
    print(
        f"noise of {len(runs)} runs: duration median {d_med:.2f} s, spread {100 * d_cv:.1f} % (sd/median), "
        f"range {low:+.1f} % .. {high:+.1f} %; peak memory median {m_med:.1f} MB, spread {100 * m_cv:.1f} %"
    )
    print(
        f"\nreplay: {args.trials} histories of {args.refs} reference runs at {NOMINAL_SECONDS:.0f} s / "
        f"{NOMINAL_MB:.0f} MB, threshold {Thresholds().regression_percent:g} %"
    )
    quiet = replay(ratios, args.refs, 1.0, args.trials, args.seed)
    slower = replay(ratios, args.refs, 1.3, args.trials, args.seed + 1)
    print(f"{'':30s}" + "".join(f"{name:>17s}" for name in RULES) + "   target (history rule)")
    print(f"{'(a) no change: false alarms':30s}" + "".join(f"{100 * v:16.2f}%" for v in quiet) + "   <= 2 %")
    print(
        f"{'(b) duration +30 %: detected':30s}" + "".join(f"{100 * v:16.2f}%" for v in slower) + "   >= 95 %"
    )
    ok = quiet[-1] <= 0.02 and slower[-1] >= 0.95
    print("targets:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
