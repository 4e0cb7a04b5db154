"""Facts about the machine, read once at the start of a run."""

from __future__ import annotations

import math
import os
import shutil
import socket

from telemetry.model import SystemInfo

_MB = 1024 * 1024


def existing_ancestor(path: str) -> str:
    """The path itself or its nearest existing parent (the output dir may not exist yet)."""
    current = os.path.abspath(path)
    while not os.path.exists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def free_bytes(path: str) -> int:
    """Space available to unprivileged writers on the filesystem holding ``path``."""
    try:
        return shutil.disk_usage(existing_ancestor(path)).free
    except OSError:
        return 0


def _meminfo_kb(key: str, text: str) -> int | None:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def _cgroup_cpu_limit() -> float | None:
    """Cores granted by a CPU quota (v2 cpu.max, v1 cfs quota), if any."""
    candidates = [
        ("/sys/fs/cgroup/cpu.max", None),
        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "cpu.cfs_period_us"),
    ]
    for path, period_name in candidates:
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read().split()
            if period_name is None:
                if text[0] == "max":
                    return None
                return int(text[0]) / int(text[1])
            quota = int(text[0])
            if quota <= 0:
                return None
            with open(os.path.join(os.path.dirname(path), period_name), encoding="ascii") as handle:
                return quota / int(handle.read())
        except (OSError, ValueError, IndexError):
            continue
    return None


def usable_cores() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_cpu_limit()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def memory_total_mb(cgroup_limit_bytes: int | None = None) -> float:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            total_kb = _meminfo_kb("MemTotal", handle.read()) or 0
    except OSError:
        total_kb = 0
    total = total_kb * 1024
    if cgroup_limit_bytes is not None and 0 < cgroup_limit_bytes < total:
        total = cgroup_limit_bytes  # a container's limit is what the build can really use
    return total / _MB


def collect_system_info(output_path: str, cgroup_limit_bytes: int | None = None) -> SystemInfo:
    uname = os.uname()
    return SystemInfo(
        hostname=socket.gethostname() or uname.nodename,
        os_info=f"{uname.sysname} {uname.release} {uname.version}",
        cpu_cores=usable_cores(),
        memory_total_mb=round(memory_total_mb(cgroup_limit_bytes), 1),
        disk_available_gb=round(free_bytes(output_path) / 1024**3, 2),
    )
