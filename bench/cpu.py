"""CPU seconds of this process and of its child processes (the Temporal server a bench starts), read while they run.

On a shared machine wall time swings with the load of other work; CPU seconds say how much work a run took, so a
bench prints both. Linux only (children are read from /proc); elsewhere the children count as 0.
"""

from __future__ import annotations

import math
import os
import resource
from collections.abc import Iterator
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


def _name_and_stat(pid: str | int) -> tuple[str, list[str]] | None:
    """A process's command name and its /proc stat fields after it (the name may hold spaces): ppid is [1], utime
    [11], stime [12]; None when it is gone or there is no /proc."""
    try:
        head, _, rest = Path(f"/proc/{pid}/stat").read_text().rpartition(")")
    except OSError:
        return None
    return head.partition("(")[2], rest.split()


def _live_processes() -> Iterator[tuple[str, list[str]]]:
    """Every live process's command name and stat fields; none where there is no /proc."""
    proc = Path("/proc")
    if proc.is_dir():
        yield from (found for entry in proc.iterdir()
                    if entry.name.isdigit() and (found := _name_and_stat(entry.name)) is not None)


def _seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux `/proc`; NaN elsewhere)."""
    found = _name_and_stat(pid)
    return math.nan if found is None else _seconds(found[1])


def _children_cpu() -> float:
    """User + system seconds of the live children (`RUSAGE_CHILDREN` counts only children already waited for)."""
    me = str(os.getpid())
    return sum(_seconds(fields) for _, fields in _live_processes() if fields[1] == me)


def named_cpu(prefix: str) -> float:
    """User + system seconds of every live process whose command name starts with `prefix` (PostgreSQL's server
    and backends: not this process's children, so `cpu_now` misses them); 0 where there is no /proc."""
    return sum(_seconds(fields) for name, fields in _live_processes() if name.startswith(prefix))
