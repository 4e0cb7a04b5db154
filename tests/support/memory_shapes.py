"""Build shapes whose true peak memory is known by construction, for the peak-memory tests.

Each shape is a Python program (run with ``sys.executable -c CODE DIR``) and the band its
true peak lies in: the memory it touches on purpose, plus at most ``overhead_mb`` for the
interpreters themselves (a few MB of private memory each). RSS summed over the processes
lands far outside the band for the sharing shapes, so a regression to it fails.
"""

from __future__ import annotations

from dataclasses import dataclass

_TOUCH = (
    "def touch(mb):\n"
    "    b = bytearray(mb * 2**20)\n"
    "    for i in range(0, len(b), 4096):\n"
    "        b[i] = 1\n"
    "    return b\n"
)


@dataclass(frozen=True)
class Shape:
    name: str
    code: str
    touched_mb: float  # what the shape holds at once on purpose
    overhead_mb: float  # interpreters and buffers on top of it, at most
    rss_sum_mb: float  # at least what RSS summed over the processes reports (0: not a sharing shape)

    @property
    def band(self) -> tuple[float, float]:
        return self.touched_mb, self.touched_mb + self.overhead_mb


def cow_forks(mb: int = 120, forks: int = 3, hold: float = 2.5) -> Shape:
    code = _TOUCH + (
        "import os, time\n"
        f"b = touch({mb})\n"
        "kids = []\n"
        f"for _ in range({forks}):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        f"        time.sleep({hold})\n"
        "        os._exit(0)\n"
        "    kids.append(pid)\n"
        "for k in kids:\n"
        "    os.waitpid(k, 0)\n"
    )
    return Shape("copy-on-write forks", code, mb, 20, mb * (forks + 1))


def shared_file_readers(mb: int = 64, readers: int = 3, hold: float = 2.5) -> Shape:
    reader = (
        "import mmap, sys, time\n"
        "f = open(sys.argv[1], 'rb')\n"
        "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\n"
        "s = sum(m[i] for i in range(0, len(m), 4096))\n"
        f"time.sleep({hold})\n"
    )
    code = (
        "import os, subprocess, sys\n"
        "path = os.path.join(sys.argv[1], 'shared.bin')\n"
        "with open(path, 'wb') as f:\n"
        f"    for _ in range({mb}):\n"
        "        f.write(os.urandom(2**20))\n"
        f"procs = [subprocess.Popen([sys.executable, '-c', {reader!r}, path]) for _ in range({readers})]\n"
        "for p in procs:\n"
        "    p.wait()\n"
        "os.unlink(path)\n"
    )
    return Shape("readers of one shared mapping", code, mb, 10 + 8 * readers, mb * readers)


def file_io(mb: int = 512) -> Shape:
    code = (
        "import os, sys\n"
        "path = os.path.join(sys.argv[1], 'io.bin')\n"
        "chunk = b'x' * 2**20\n"
        "with open(path, 'wb') as f:\n"
        f"    for _ in range({mb}):\n"
        "        f.write(chunk)\n"
        "    f.flush()\n"
        "    os.fsync(f.fileno())\n"
        "with open(path, 'rb') as f:\n"
        "    while f.read(2**20):\n"
        "        pass\n"
        "os.unlink(path)\n"
    )
    return Shape("heavy file I/O, little memory", code, 0, 25, 0)


def grandchild_spike(mb: int = 150, hold: float = 0.1, start: float = 1.3) -> Shape:
    spike = _TOUCH + f"import time\nb = touch({mb})\ntime.sleep({hold})\n"
    child = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {spike!r}])\n"
    code = (
        "import subprocess, sys, time\n"
        f"time.sleep({start})\n"  # the spike falls between two 1 s samples
        f"subprocess.run([sys.executable, '-c', {child!r}])\n"
    )
    return Shape("short spike in a grandchild", code, mb, 30, 0)


def concurrent_workers(mb: int = 40, workers: int = 4, hold: float = 1.5) -> Shape:
    # Each worker holds its memory until every worker has touched its own (however slow the
    # machine), then for ``hold`` seconds: the peak is all of them at once by construction.
    worker = _TOUCH + (
        "import os, sys, time\n"
        f"b = touch({mb})\n"
        "ready = sys.argv[1]\n"
        "open(os.path.join(ready, str(os.getpid())), 'w').close()\n"
        "deadline = time.monotonic() + 120\n"
        f"while len(os.listdir(ready)) < {workers} and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
        f"time.sleep({hold})\n"
    )
    code = (
        "import os, subprocess, sys\n"
        "ready = os.path.join(sys.argv[1], 'ready')\n"
        "os.mkdir(ready)\n"
        f"procs = [subprocess.Popen([sys.executable, '-c', {worker!r}, ready]) for _ in range({workers})]\n"
        "for p in procs:\n"
        "    p.wait()\n"
    )
    return Shape("concurrent workers", code, mb * workers, 10 + 8 * workers, 0)


def one_after_another(mb: int = 40, count: int = 25, hold: float = 0.02) -> Shape:
    worker = _TOUCH + f"import time\nb = touch({mb})\ntime.sleep({hold})\n"
    code = (
        "import subprocess, sys\n"
        f"for _ in range({count}):\n"
        f"    subprocess.run([sys.executable, '-c', {worker!r}])\n"
    )
    # One at a time: the peak is one worker and the parent, never two workers.
    return Shape("short-lived processes one after another", code, mb, 25, 0)


def shapes() -> tuple[Shape, ...]:
    return (
        cow_forks(),
        shared_file_readers(),
        file_io(),
        grandchild_spike(),
        concurrent_workers(),
        one_after_another(),
    )
