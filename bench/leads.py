"""Speed to lead: how soon an agent sees a new lead's offer, and how soon the next agent sees it after a deadline,
against a bare Temporal workflow doing the same timer-and-query hand-off on the same dev server.

* (a) `POST /leads` returning → the first agent's `GET /offers` listing it, for N leads through a 3-agent round-robin
  route (the real app in-process over ASGI; the worker in its own process, as deployed);
* (b) the first offer's deadline (10 s, the shortest a route allows) → the second agent's `GET /offers` listing it;
* bare (a): `start_workflow` returning → a query seeing the workflow's first state; bare (b): a 10 s timer's
  deadline → a query seeing the state after it.

Run with `python -m bench.leads [--count N] [--deadline-count M] [--concurrency C]`. Prints medians, 95th
percentiles and their ratios to the bare figures; no pass/fail (aims: (a) p95 under 150 ms, (b) p95 under 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from bench.harness import bench_stack
from bench.stack import ADMIN_KEY, worker_process
from config import Settings
from gc_tuning import settle_collector

POLL = 0.01
CLAIM_SECONDS = 10


@workflow.defn(sandboxed=False)
class BareHandOff:
    """A timer-and-query hand-off: "offered to 0" at once, "offered to 1" when a 10 s timer fires."""

    def __init__(self) -> None:
        self._holder = -1

    @workflow.run
    async def run(self, seconds: int) -> int:
        self._holder = 0
        await workflow.sleep(seconds)
        self._holder = 1
        await workflow.sleep(seconds)
        return self._holder

    @workflow.query
    def holder(self) -> int:
        return self._holder


async def until(check: Callable[[], Awaitable[bool]], limit: float = 60.0) -> float:
    """Poll until `check` holds; the monotonic instant it first did."""
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError("condition not met in time")
        await asyncio.sleep(POLL)
    return time.monotonic()


def figures(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


async def gathered(count: int, concurrency: int, one: Callable[[int], Awaitable[float]]) -> list[float]:
    gate = asyncio.Semaphore(concurrency)

    async def gated(index: int) -> float:
        async with gate:
            return await one(index)

    return list(await asyncio.gather(*(gated(i) for i in range(count))))


async def bench_leads(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], queue: str, count: int,
                      deadline_count: int, concurrency: int) -> tuple[list[float], list[float]]:
    settings = Settings(environment="test", smartplans_admin_key=ADMIN_KEY, temporal_task_queue=queue)
    app = create_app(settings, temporal=env.client, sessions=sessions)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60) as http:
        settle_collector(settings.process_gc_threshold)  # this process plays the API's, started: as it does
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        team = (await http.post("/teams", json={"name": "Bench Realty"}, headers=admin)).json()["id"]
        keys: list[dict[str, str]] = []
        ids: list[str] = []
        for index, role in enumerate(("rainmaker", "member", "member")):
            agent = (await http.post(f"/teams/{team}/agents", headers=admin, json={
                "first_name": f"Agent{index}", "last_name": "Bench", "email": f"a{index}@example.com",
                "role": role, "permission": "unlimited"})).json()
            keys.append({"Authorization": f"Bearer {agent['api_key']}"})
            ids.append(agent["id"])
        # (a) with a long deadline, so no offer expires while it is being looked for; (b) with the shortest.
        rule = {"title": "Everything", "days_of_week": list(range(7)), "start_time": "00:00", "end_time": "00:00",
                "sources": ["bench"], "strategy": "round_robin", "agent_ids": ids, "claim_seconds": 3600}
        route = await http.post("/routes", headers=keys[0], json=rule)
        assert route.status_code == 201, route.text

        async def offered(lead_id: str, headers: dict[str, str]) -> bool:
            # Each agent holds about a third of `count` open offers here: more than the default page of 100.
            page = await http.get("/offers", headers=headers, params={"limit": 500})
            return any(o["lead_id"] == lead_id for o in page.json())

        async def holder_of(lead_id: str) -> dict[str, str]:
            lead = (await http.get(f"/leads/{lead_id}", headers=keys[0])).json()
            return keys[ids.index(lead["offers"][-1]["agent_id"])]

        async def first_offer(index: int) -> float:
            created = await http.post("/leads", headers=keys[0], json={
                "source": "bench", "contact": {"first_name": f"Lead{index}", "email": f"l{index}@example.com"}})
            returned = time.monotonic()
            lead_id = created.json()["id"]
            await until(lambda: _has_offers(http, keys[0], lead_id))
            headers = await holder_of(lead_id)
            return await until(lambda: offered(lead_id, headers)) - returned

        first = await gathered(count, concurrency, first_offer)

        async def next_offer(index: int) -> float:
            created = await http.post("/leads", headers=keys[0], json={
                "source": "bench", "contact": {"first_name": f"Late{index}", "email": f"d{index}@example.com"}})
            lead_id = created.json()["id"]
            await until(lambda: _has_offers(http, keys[0], lead_id))
            lead = (await http.get(f"/leads/{lead_id}", headers=keys[0])).json()
            deadline = datetime.fromisoformat(lead["offers"][0]["deadline"])
            await until(lambda: _offers_count(http, keys[0], lead_id, 2), limit=CLAIM_SECONDS + 30)
            headers = await holder_of(lead_id)
            seen = await until(lambda: offered(lead_id, headers))
            return seen - time.monotonic() + (datetime.now(UTC) - deadline).total_seconds()

        short = await http.put(f"/routes/{route.json()['id']}", headers=keys[0],
                               json={**rule, "claim_seconds": CLAIM_SECONDS})
        assert short.status_code == 200, short.text
        later = await gathered(deadline_count, deadline_count, next_offer)
    return first, later


async def _has_offers(http: httpx.AsyncClient, headers: dict[str, str], lead_id: str) -> bool:
    return await _offers_count(http, headers, lead_id, 1)


async def _offers_count(http: httpx.AsyncClient, headers: dict[str, str], lead_id: str, at_least: int) -> bool:
    return len((await http.get(f"/leads/{lead_id}", headers=headers)).json()["offers"]) >= at_least


async def bench_bare(client: Client, count: int, deadline_count: int,
                     concurrency: int) -> tuple[list[float], list[float]]:
    queue, tag = f"bench-bare-{uuid.uuid4()}", uuid.uuid4().hex[:6]

    async def first(index: int) -> float:
        handle = await client.start_workflow(BareHandOff.run, CLAIM_SECONDS, id=f"bare-{tag}-a{index}",
                                             task_queue=queue)
        returned = time.monotonic()
        return await until(lambda: _holder_is(handle, 0)) - returned

    async def later(index: int) -> float:
        started = datetime.now(UTC)
        handle = await client.start_workflow(BareHandOff.run, CLAIM_SECONDS, id=f"bare-{tag}-b{index}",
                                             task_queue=queue)
        await until(lambda: _holder_is(handle, 0))
        seen = await until(lambda: _holder_is(handle, 1), limit=CLAIM_SECONDS + 30)
        deadline = started + timedelta(seconds=CLAIM_SECONDS)
        return seen - time.monotonic() + (datetime.now(UTC) - deadline).total_seconds()

    async with Worker(client, task_queue=queue, workflows=[BareHandOff]):
        a = await gathered(count, concurrency, first)
        b = await gathered(deadline_count, deadline_count, later)
    return a, b


async def _holder_is(handle: object, value: int) -> bool:
    return bool(await handle.query(BareHandOff.holder) == value)  # type: ignore[attr-defined]


async def bench(count: int, deadline_count: int, concurrency: int) -> None:
    async with bench_stack("sqlite") as stack:
        queue = f"bench-leads-{uuid.uuid4()}"
        async with worker_process(stack.env, stack.url, queue, stack.tmp / "worker.log"):
            first, later = await bench_leads(stack.env, stack.sessions, queue, count, deadline_count, concurrency)
        bare_first, bare_later = await bench_bare(stack.env.client, count, deadline_count, concurrency)
    (a50, a95), (b50, b95) = figures(first), figures(later)
    (ba50, ba95), (bb50, bb95) = figures(bare_first), figures(bare_later)
    print(f"\nSpeed to lead: {count} leads (a), {deadline_count} deadlines (b), 3-agent round robin, "
          f"concurrency {concurrency}, worker in its own process, Temporal dev server, SQLite")
    print(f"{'measure':<52}{'median ms':>11}{'p95 ms':>10}")
    for label, median, p95 in (("(a) POST /leads → first offer in GET /offers", a50, a95),
                               ("    bare: start_workflow → first state by query", ba50, ba95),
                               ("(b) deadline → next agent's offer in GET /offers", b50, b95),
                               ("    bare: timer deadline → next state by query", bb50, bb95)):
        print(f"{label:<52}{median * 1000:>11.1f}{p95 * 1000:>10.1f}")
    print(f"ratio (a) p95 / bare p95: {a95 / ba95:.2f}; (b) p95 / bare p95: {b95 / bb95:.2f}")
    print(f"figure of merit: (a) p95 {a95 * 1000:.0f} ms (aim < 150), (b) p95 {b95 * 1000:.0f} ms (aim < 1000)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=500, help="leads timed for (a) (default 500)")
    parser.add_argument("--deadline-count", type=int, default=50, help="leads timed for (b) (default 50)")
    parser.add_argument("--concurrency", type=int, default=10, help="leads in flight for (a) (default 10)")
    args = parser.parse_args()
    asyncio.run(bench(args.count, args.deadline_count, args.concurrency))


if __name__ == "__main__":
    main()
