"""Scale: N sleeping enrollments (default 100,000) on one dev server and one worker (issue 11, item 5).

The app's database is PostgreSQL (127.0.0.1:5432, as `make test-postgres`; `--database sqlite` for a temporary
file); Temporal is the dev server persisting to its own SQLite file in a temporary folder; the worker is
`python worker.py` in its own process. Measured:
* time to enroll N contacts (written to the database beforehand) in a plan whose first step is a week away —
  through `POST /plans/{id}/enrollments/batch` (1,000 a request, C / 10 requests in flight);
* the worker's RSS once every workflow has loaded its context and sleeps (the NextStepAt search attribute is set
  on all N), and its peak;
* with them all active: `GET /enrollments/{id}` (a live progress query to the workflow, which replays from history
  when it is not in the worker's cache) for random enrollments, and `GET /plans`, one request at a time through the
  real app in-process over ASGI; median and p95.

Run with `python -m bench.scale [--count N] [--concurrency C] [--samples S] [--database postgresql|sqlite]`, or
`make bench-scale` for the full 100,000 (not part of `make bench`: enrolling 100,000 takes the better part of an
hour on a laptop). Figures only; the last line is the p95 of `GET /enrollments/{id}`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from bench.enroll import Rate, timed
from bench.harness import bench_stack
from bench.leads import figures
from bench.rss import sampled
from bench.stack import ADMIN_KEY, add_contacts, add_team, worker_process
from config import Settings
from db.models import Enrollment
from gc_tuning import settle_collector
from tests.dbtools import DatabaseKind
from tests.factories import World, add_plan, plan_doc, task

BATCH_SIZE = 1000
CONTACT_CHUNK = 5000
SETTLE_LIMIT = 3600.0


async def enroll_all(http: httpx.AsyncClient, auth: dict[str, str], plan_id: str, contacts: list[str],
                     concurrency: int) -> Rate:
    """Through `POST /plans/{id}/enrollments/batch`, 1,000 a request, `concurrency // 10` requests in flight."""
    chunks = [contacts[i:i + BATCH_SIZE] for i in range(0, len(contacts), BATCH_SIZE)]

    async def post(index: int) -> None:
        response = await http.post(f"/plans/{plan_id}/enrollments/batch", headers=auth,
                                   json={"contact_ids": chunks[index]})
        if response.status_code != 200:
            raise RuntimeError(f"batch {index}: {response.status_code} {response.text[:300]}")

    rate = await timed(len(chunks), max(1, concurrency // 10), post)
    return Rate(len(contacts), rate.seconds)


async def settled(env: WorkflowEnvironment, plan_id: str, count: int) -> float:
    """Wait until all `count` workflows show their next step (context loaded, asleep); the seconds it took."""
    started = time.monotonic()
    query = f"PlanId = '{plan_id}' AND NextStepAt IS NOT NULL"
    while time.monotonic() - started < SETTLE_LIMIT:
        try:
            if (await env.client.count_workflows(query)).count >= count:
                break
        except RPCError:
            pass
        await asyncio.sleep(2)
    return time.monotonic() - started


async def latencies(count: int, call: Callable[[int], Awaitable[httpx.Response]]) -> list[float]:
    """One request at a time: the latency a user sees, not the server's throughput."""
    samples = []
    for index in range(count):
        started = time.perf_counter()
        response = await call(index)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return samples


async def bench(count: int, concurrency: int, samples: int, database: DatabaseKind) -> None:
    async with bench_stack(database, temporal_file=True, pool_size=max(5, concurrency), max_overflow=10) as stack:
        env, sessions, tmp, url = stack.env, stack.sessions, stack.tmp, stack.url
        queue = f"bench-scale-{uuid.uuid4()}"
        settings = Settings(environment="test", smartplans_admin_key=ADMIN_KEY, temporal_task_queue=queue)
        app = create_app(settings, temporal=env.client, sessions=sessions)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120) as http, \
                worker_process(env, url, queue, tmp / "worker.log") as process, sampled(process) as rss:
            settle_collector(settings.process_gc_threshold)  # this process plays the API's, started: as it does
            team_id, agent = await add_team(http)
            auth = {"Authorization": f"Bearer {agent['api_key']}"}
            plan_id = await add_plan(sessions, World(team_id, agent["id"], agent["id"], ""),
                                     plan_doc((7, [task("Call {contact.first.name}")]), name="Scale plan"))
            contacts: list[str] = []
            for offset in range(0, count, CONTACT_CHUNK):
                contacts += await add_contacts(sessions, team_id, agent["id"], min(CONTACT_CHUNK, count - offset))
            rate = await enroll_all(http, auth, plan_id, contacts, concurrency)
            settle = await settled(env, plan_id, count)
            rss.sample()
            sleeping_mb = rss.last_kb / 1024
            ids = await enrollment_ids(sessions, plan_id)
            picks = random.Random(11).choices(ids, k=samples + 1)  # the first of each is an untimed warm-up
            await http.get(f"/enrollments/{picks[-1]}", headers=auth)
            await http.get("/plans", headers=auth)
            enrollment_ms = await latencies(samples, lambda i: http.get(f"/enrollments/{picks[i]}", headers=auth))
            plans_ms = await latencies(samples, lambda i: http.get("/plans", headers=auth))
    print_table(count, database, rate, settle, sleeping_mb, rss.peak_kb / 1024, samples, enrollment_ms,
                plans_ms)


async def enrollment_ids(sessions: async_sessionmaker[AsyncSession], plan_id: str) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(Enrollment.id).where(Enrollment.plan_id == plan_id))).all())


def print_table(count: int, database: str, rate: Rate, settle: float, sleeping_mb: float,
                peak_mb: float, samples: int, enrollment: list[float], plans: list[float]) -> None:
    e50, e95 = figures(enrollment)
    p50, p95 = figures(plans)
    rows = [
        ("enrollments (all active, first step a week away)", f"{count}"),
        ("app database / Temporal", f"{database} / dev server, SQLite file"),
        ("enrolled through", "POST /plans/{id}/enrollments/batch, 1,000 a request"),
        ("time to enroll: seconds", f"{rate.seconds:.1f}"),
        ("time to enroll: per second", f"{rate.per_second:.1f}"),
        ("then until all asleep: seconds", f"{settle:.1f}"),
        ("worker RSS once they sleep: MB", f"{sleeping_mb:.0f}"),
        ("worker peak RSS: MB", f"{peak_mb:.0f}"),
        (f"GET /enrollments/{{id}} ms, median / p95 ({samples} one at a time)", f"{e50 * 1000:.2f} / {e95 * 1000:.2f}"),
        (f"GET /plans ms, median / p95 ({samples} one at a time)", f"{p50 * 1000:.2f} / {p95 * 1000:.2f}"),
    ]
    width = max(len(label) for label, _ in rows)
    print("\nScale: sleeping enrollments on one dev server and one worker")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"p95 get enrollment ms: {e95 * 1000:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=100_000, help="enrollments (default 100000: takes long)")
    parser.add_argument("--concurrency", type=int, default=50, help="enrollments in flight (default 50)")
    parser.add_argument("--samples", type=int, default=200, help="requests timed per endpoint (default 200)")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql",
                        help="postgresql (127.0.0.1:5432, as make test-postgres; the default) or sqlite")
    args = parser.parse_args()
    asyncio.run(bench(args.count, args.concurrency, args.samples, args.database))


if __name__ == "__main__":
    main()
