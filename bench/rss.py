"""A worker process's memory as the benchmarks report it: resident set sampled while it runs, and its peak."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


class RssSampler:
    """A process's resident set, sampled every 0.2 s, with the kernel's own high-water mark at the end."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self.last_kb = 0

    def _field(self, name: str) -> int:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(name + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def sample(self) -> None:
        self.last_kb = self._field("VmRSS")
        self.peak_kb = max(self.peak_kb, self.last_kb, self._field("VmHWM"))

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.2)


@asynccontextmanager
async def sampled(pid: int) -> AsyncIterator[RssSampler]:
    sampler = RssSampler(pid)
    task = asyncio.create_task(sampler.run())
    try:
        yield sampler
    finally:
        sampler.sample()
        task.cancel()
