"""Where an enrollment's CPU goes, process by process: what bounds `bench.enroll`'s api/direct ratio on a machine
whose cores every process shares (issue 11, item 1).

No worker runs, so only the enrolling itself is measured. Two ways on fresh contacts of one plan, C in flight, R
rounds taking turns after an untimed warm-up, as `bench.enroll` does them: *direct* (`start_workflow` for rows
written beforehand, outside the measurement) and *API* (`POST /plans/{id}/enrollments` through the app in this
process). For each it prints the milliseconds of CPU per enrollment of this process (the client, and for the API the
app), of the Temporal dev server (this process's child) and of PostgreSQL's processes (read by name from /proc, so
run it with nothing else using that server), and the answered rate. Then the ratio of the two ways' total CPU per
enrollment (direct over API: the answered ratio the machine allows when every core is busy, as on this 2-core
machine), the answered ratio measured here, and the seconds the run took. A diagnostic, not a figure of merit: not
part of `make bench`.

Run with `python -m bench.enroll_cpu [--count N] [--rounds R] [--concurrency C] [--database sqlite|postgresql]
[--client asgi|httpx]` (the API's client: the ASGI call alone, or httpx's ASGI transport; see `bench.asgi_client`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.asgi_client import CLIENTS
from bench.cpu import cpu_now, named_cpu
from bench.enroll import WARMUP, Scene, one_by_one, scene_for, start_rows, write_rows
from bench.harness import bench_stack
from services.enrollments import START_CONCURRENCY
from tests.dbtools import DatabaseKind

PARTS = ("this process (client, app)", "Temporal dev server", "PostgreSQL")


@dataclass
class Spent:
    """One way's totals over its rounds: enrollments, wall seconds and CPU seconds per process."""

    direct: bool  # start_workflow for rows written beforehand; otherwise POST /plans/{id}/enrollments
    count: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PARTS, 0.0))

    def per_enrollment_ms(self, part: str) -> float:
        return self.cpu[part] / self.count * 1000

    @property
    def total_ms(self) -> float:
        return sum(self.per_enrollment_ms(part) for part in PARTS)


def _cpu_by_part() -> dict[str, float]:
    now = cpu_now()
    return dict(zip(PARTS, (now.own, now.children, named_cpu("postgres")), strict=True))


async def _measured(scene: Scene, spent: Spent, ids: Sequence[str], concurrency: int) -> None:
    """One phase of one way, into `spent`: for direct, the rows are written before the measurement starts, so only
    their workflow starts are counted."""
    rows = await write_rows(scene, ids) if spent.direct else []
    before = _cpu_by_part()
    seconds = await (start_rows(scene, rows, concurrency) if spent.direct else one_by_one(scene, ids, concurrency))
    after = _cpu_by_part()
    spent.count += len(ids)
    spent.seconds += seconds
    for part in PARTS:
        spent.cpu[part] += after[part] - before[part]


async def bench(count: int, rounds: int, concurrency: int, database: DatabaseKind, client: str) -> None:
    async with bench_stack(database) as stack, \
            scene_for(stack.env, stack.sessions, f"bench-cpu-{uuid.uuid4()}", 2 * (WARMUP + count),
                      client) as scene:
        spent = {"direct start_workflow": Spent(direct=True), "API, one per request": Spent(direct=False)}
        for way in spent.values():
            await _measured(scene, Spent(direct=way.direct), scene.take(WARMUP), concurrency)  # warm-up, not kept
        names = list(spent)
        for round_ in range(rounds):
            share = count // rounds + (1 if round_ < count % rounds else 0)
            for name in names[round_ % 2:] + names[:round_ % 2]:
                await _measured(scene, spent[name], scene.take(share), concurrency)
    print(f"\nCPU per enrollment by process, no worker ({database}, {count} per way in {rounds} rounds, "
          f"{concurrency} in flight, {os.cpu_count()} cores, the API's client: {client})")
    width = max(len(part) for part in PARTS) + 4
    print(f"{'ms of CPU per enrollment':<{width}}" + "".join(f"{name:>24}" for name in names))
    for part in PARTS:
        print(f"{part:<{width}}" + "".join(f"{spent[name].per_enrollment_ms(part):>24.2f}" for name in names))
    print(f"{'all of them':<{width}}" + "".join(f"{spent[name].total_ms:>24.2f}" for name in names))
    print(f"{'answered per second':<{width}}"
          + "".join(f"{spent[name].count / spent[name].seconds:>24.1f}" for name in names))
    floor, api = (spent[name] for name in names)
    bound = floor.total_ms / api.total_ms
    print(f"ratio api/direct of CPU per enrollment (the bound with every core busy): {bound:.2f}")
    print(f"ratio api/direct answered, no worker: {(api.count / api.seconds) / (floor.count / floor.seconds):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=3000, help="enrollments per way (default 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the two ways, taking turns (default 3)")
    parser.add_argument("--concurrency", type=int, default=START_CONCURRENCY,
                        help=f"starts or requests in flight (default {START_CONCURRENCY}, as bench.enroll)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql",
                        help="postgresql (127.0.0.1:5432, the default: its processes' CPU is the point) or sqlite")
    parser.add_argument("--client", choices=CLIENTS, default="asgi",
                        help="how the requests reach the app: the ASGI call alone (default) or httpx's ASGI transport")
    args = parser.parse_args()
    started = time.perf_counter()
    asyncio.run(bench(args.count, args.rounds, args.concurrency, args.database, args.client))
    print(f"(took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
