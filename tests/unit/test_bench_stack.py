"""The benchmarks' child processes (bench/stack.py): whatever a benchmark starts is gone when it ends, pass or fail,
grandchildren included (issue 10: the load bench kills every process it starts)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bench.cpu import cpu_seconds, named_cpu
from bench.load import percentile
from bench.stack import child_process
from tests.e2e.devstack import alive

# A child that starts a grandchild in the background and then ignores SIGTERM, as a stuck server might.
STUBBORN = ("import signal, subprocess, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
            "print(grandchild.pid, flush=True)\n"
            "time.sleep(600)\n")


async def _grandchild_pid(log: Path) -> int:
    for _ in range(200):
        text = log.read_text().strip()
        if text:
            return int(text)
        await asyncio.sleep(0.05)
    raise AssertionError("the child never started its grandchild")


async def test_a_failing_benchmark_kills_its_child_and_grandchild_even_when_sigterm_is_ignored(
        tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    pids: list[int] = []

    async def failing_benchmark() -> None:
        async with child_process([sys.executable, "-c", STUBBORN], dict(os.environ), log, grace=0.5) as process:
            pids.extend([process.pid, await _grandchild_pid(log)])
            raise RuntimeError("benchmark failed")

    with pytest.raises(RuntimeError, match="benchmark failed"):
        await failing_benchmark()
    await asyncio.sleep(0.2)  # the grandchild is reparented to init, which reaps it
    assert len(pids) == 2
    assert [pid for pid in pids if alive(pid)] == []


async def test_a_process_cpu_time_only_grows() -> None:
    before = cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))
    assert cpu_seconds(os.getpid()) >= before > 0


def test_cpu_by_command_name_counts_every_process_of_that_name() -> None:
    """bench.enroll_cpu charges PostgreSQL's backends by their command name; here the name is this process's own,
    so the sum holds at least this process's CPU, and a name nothing has counts nothing."""
    own_name = Path("/proc/self/comm").read_text().strip()
    sum(i * i for i in range(300_000))
    own = cpu_seconds(os.getpid())  # read first: the time only grows
    assert named_cpu(own_name) >= own > 0
    assert named_cpu("no-such-command-name") == 0.0


def test_percentiles_are_nearest_rank() -> None:
    """p50 of 1..100 is 50, p95 is 95, p99 is 99; one sample is every percentile of itself."""
    ordered = [float(n) for n in range(1, 101)]
    assert [percentile(ordered, f) for f in (0.50, 0.95, 0.99)] == [50.0, 95.0, 99.0]
    assert percentile([7.0], 0.99) == 7.0
