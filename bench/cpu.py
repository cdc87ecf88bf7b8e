"""CPU seconds of this process and of its child processes (the Temporal server a bench starts), read while they run.

On a shared machine wall time swings with the load of other work; CPU seconds say how much work a run took, so a
bench prints both. Linux only (children are read from /proc); elsewhere the children count as 0.
"""

from __future__ import annotations

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


def _children_cpu() -> float:
    """User + system seconds of the live children (`RUSAGE_CHILDREN` counts only children already waited for)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    total = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the command name (which may hold spaces) start at field 3: ppid is 4, utime 14, stime 15.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            total += int(fields[11]) + int(fields[12])
    return total / tick
