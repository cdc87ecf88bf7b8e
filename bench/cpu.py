"""CPU seconds of this process and of its child processes (the Temporal server a bench starts), read while they run.

On a shared machine wall time swings with the load of other work; CPU seconds say how much work a run took, so a
bench prints both. Linux only (children are read from /proc); elsewhere the children count as 0.
"""

from __future__ import annotations

import math
import os
import resource
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CpuSeconds:
    own: float
    children: float

    @property
    def total(self) -> float:
        return self.own + self.children

    def __sub__(self, other: CpuSeconds) -> CpuSeconds:
        return CpuSeconds(self.own - other.own, self.children - other.children)


def cpu_now() -> CpuSeconds:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return CpuSeconds(usage.ru_utime + usage.ru_stime, _children_cpu())


def _stat(pid: str | int) -> list[str] | None:
    """A process's /proc stat fields after the command name (which may hold spaces): ppid is [1], utime [11],
    stime [12]; None when it is gone or there is no /proc."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux `/proc`; NaN elsewhere)."""
    fields = _stat(pid)
    return math.nan if fields is None else _seconds(fields)


def _children_cpu() -> float:
    """User + system seconds of the live children (`RUSAGE_CHILDREN` counts only children already waited for)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return 0.0
    me = str(os.getpid())
    children = (fields for entry in proc.iterdir() if entry.name.isdigit()
                if (fields := _stat(entry.name)) is not None and fields[1] == me)
    return sum(_seconds(fields) for fields in children)


def named_cpu(prefix: str) -> float:
    """User + system seconds of every live process whose command name starts with `prefix` (PostgreSQL's server
    and backends: not this process's children, so `cpu_now` misses them); 0 where there is no /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        return 0.0
    total = 0.0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if stat[stat.index("(") + 1:stat.rindex(")")].startswith(prefix):
            total += _seconds(stat.rsplit(")", 1)[1].split())
    return total
