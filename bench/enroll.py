"""Enrollments per second through the API, one at a time and in batches, against starting the same enrollment
workflows directly, with the same worker running them, on one Temporal dev server (issue 11, items 1 and 2).

An enrollment is a database row plus a workflow start; the worker then runs the workflow's first task, whose context
load confirms the row. "Direct" is the floor the API is measured against: the rows are written to the database
beforehand (untimed), then `client.start_workflow(EnrollmentWorkflow.run, …)` is called for each with exactly the
options the API uses (`services.enrollments.start_workflow`), so the worker does the same work for them as for the
API's. Three ways, on fresh contacts of one plan:

* direct: `start_workflow` for pre-written rows, C in flight;
* api: `POST /plans/{id}/enrollments`, C in flight, through the real app called in-process as a server calls it
  (`bench.asgi_client`: no sockets, no uvicorn, no client library; this measures the application, not the HTTP
  server or the client; `--client httpx` goes through httpx's ASGI transport instead);
* batch: `POST /plans/{id}/enrollments/batch` with up to B contacts per request (default 1,000), one at a time;

then a one-line workflow's starts (its own in-process worker) as the server's ceiling. The enrollment worker runs in
its own process (`python worker.py`), as `make dev` and docker-compose run it (`--in-process-worker` puts it here).
Each way is timed to its last answer (the figure of merit: the rate a client enrolls at) and to the moment every row
is confirmed (the worker caught up: the rate enrollments run at, printed as the "(running)" ratios). After an
untimed warm-up of each, R rounds of the three take turns, each round starting with the next way. `--batch-10k`
then enrolls 10,000 more contacts in one plan with ten batch requests (aim on PostgreSQL: under a minute). See
bench/README.md for why.

Run with `python -m bench.enroll [--count N] [--database sqlite|postgresql] [--batch-10k] [--client asgi|httpx]`.
Prints a table, the running ratios, then `ratio batch/direct` (aim: at least 0.9) and, as its last line,
`ratio api/direct` (aim: at least 0.8), both of answered calls. Figures only; there is no pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from bench.asgi_client import CLIENTS, AsgiClient, HttpxClient, bench_client
from bench.harness import bench_stack
from bench.stack import ADMIN_KEY, add_contacts, add_team, worker_process
from config import Settings
from db.models import Enrollment, Plan
from db.session import session_scope
from domain.ids import new_id
from gc_tuning import settle_collector
from services.enrollments import START_CONCURRENCY, start_workflow
from tests.dbtools import DatabaseKind
from tests.factories import World, add_plan, plan_doc, running_worker, task
from workflows.types import enrollment_workflow_id

# httpx's ASGI transport tries `import sniffio` on every request; where it is not installed, each failed import
# searches sys.path again. Marked absent once, the bench's client stays out of the API's figures.
if importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

WARMUP = 20
BATCH_LIMIT = 1000
TEN_THOUSAND = 10_000
CATCH_UP_LIMIT = 600.0  # seconds the worker may take to confirm a phase's rows before the bench gives up


@workflow.defn(sandboxed=False)  # this module imports httpx and the app, which the sandbox would re-import
class BareWorkflow:
    """The cheapest workflow there is: the ceiling any enrollment start is measured against."""

    @workflow.run
    async def run(self, value: int) -> int:
        return value


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


async def timed(count: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> Rate:
    """Run `one(0..count-1)` with at most `concurrency` in flight; the wall time of the whole batch."""
    gate = asyncio.Semaphore(concurrency)

    async def gated(index: int) -> None:
        async with gate:
            await one(index)

    started = time.perf_counter()
    await asyncio.gather(*(gated(i) for i in range(count)))
    return Rate(count, time.perf_counter() - started)


@asynccontextmanager
async def enrollment_worker(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], database_url: str,
                            in_process: bool, log_path: Path) -> AsyncIterator[str]:
    """The task queue enrollments go to, with a worker on it: in this process, or in its own (the default)."""
    if in_process:
        async with running_worker(env, sessions) as harness:
            yield harness.task_queue
        return
    queue = f"bench-enroll-{uuid.uuid4()}"
    async with worker_process(env, database_url, queue, log_path):
        yield queue


@dataclass
class Scene:
    """One team, one agent, one plan (its first step a week away: each workflow starts, loads its context and
    sleeps), and the app in front of them."""

    api: AsgiClient | HttpxClient  # the caller's key in its headers
    sessions: async_sessionmaker[AsyncSession]
    client: Client
    task_queue: str
    plan: Plan
    contacts: list[str]

    def take(self, count: int) -> list[str]:
        taken, self.contacts = self.contacts[:count], self.contacts[count:]
        return taken

    async def caught_up(self) -> float:
        """Seconds until every active row is confirmed by its workflow's first activity (the worker's backlog)."""
        started = time.perf_counter()
        while True:
            async with self.sessions() as session:
                waiting = await session.scalar(select(func.count()).select_from(Enrollment).where(
                    Enrollment.status == "active", Enrollment.confirmed_at.is_(None)))
            if not waiting:
                return time.perf_counter() - started
            if time.perf_counter() - started > CATCH_UP_LIMIT:
                raise RuntimeError(f"{waiting} enrollments still unconfirmed after {CATCH_UP_LIMIT:.0f} s")
            await asyncio.sleep(0.2)


@dataclass
class Tally:
    """One way of enrolling, over all rounds: answered is first call → last answer; running adds the time until every
    row is confirmed by its workflow's first activity (the worker caught up), the rate an enrollment is live at."""

    count: int = 0
    answered: float = 0.0
    running: float = 0.0

    def add(self, count: int, answered: float, lag: float) -> None:
        self.count += count
        self.answered += answered
        self.running += answered + lag

    def rate(self, running: bool = True) -> float:
        return self.count / (self.running if running else self.answered)


async def direct(scene: Scene, contact_ids: Sequence[str], concurrency: int) -> float:
    """The rows written first (untimed), then only the workflow starts: what an enrollment costs Temporal and the
    worker, with no API in front."""
    return await start_rows(scene, await write_rows(scene, contact_ids), concurrency)


async def write_rows(scene: Scene, contact_ids: Sequence[str]) -> list[Enrollment]:
    """Enrollment rows for `contact_ids`, committed as the API would have committed them (no timeline event)."""
    plan, now = scene.plan, datetime.now(UTC)
    rows = [Enrollment(id=new_id("en"), team_id=plan.team_id, plan_id=plan.id, contact_id=contact_id,
                       plan_version=plan.current_version, workflow_id=enrollment_workflow_id(plan.id, contact_id),
                       status="active", source="manual", started_at=now) for contact_id in contact_ids]
    async with session_scope(scene.sessions) as session:
        session.add_all(rows)
    return rows


async def start_rows(scene: Scene, rows: Sequence[Enrollment], concurrency: int) -> float:
    """The written rows' workflows started with the API's own options; the seconds that took."""
    plan = scene.plan

    async def start(index: int) -> None:
        await start_workflow(scene.client, scene.task_queue, rows[index], plan, f"Bench{index} Contact")

    return (await timed(len(rows), concurrency, start)).seconds


async def one_by_one(scene: Scene, contact_ids: Sequence[str], concurrency: int) -> float:
    async def enroll(index: int) -> None:
        response = await scene.api.post(f"/plans/{scene.plan.id}/enrollments", {"contact_id": contact_ids[index]})
        if response.status_code != 201:
            raise RuntimeError(f"enrollment {index}: {response.status_code} {response.text}")

    return (await timed(len(contact_ids), concurrency, enroll)).seconds


async def batched(scene: Scene, contact_ids: Sequence[str], batch_size: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(contact_ids), batch_size):
        chunk = contact_ids[start:start + batch_size]
        response = await scene.api.post(f"/plans/{scene.plan.id}/enrollments/batch", {"contact_ids": chunk})
        outcomes = response.json() if response.status_code == 200 else []
        enrolled = sum(1 for outcome in outcomes if outcome["outcome"] == "enrolled")
        if enrolled != len(chunk):
            raise RuntimeError(f"batch at {start}: {response.status_code}, {enrolled} of {len(chunk)} enrolled: "
                               f"{response.text[:500]}")
    return time.perf_counter() - started


async def trivial(client: Client, count: int, concurrency: int) -> Rate:
    queue = f"bench-bare-{uuid.uuid4()}"
    run_id = uuid.uuid4().hex[:8]

    async def start(index: int) -> None:
        await client.start_workflow(BareWorkflow.run, index, id=f"bare-{run_id}-{index}", task_queue=queue)

    async with Worker(client, task_queue=queue, workflows=[BareWorkflow]):
        await timed(WARMUP, concurrency, lambda i: start(count + i))
        return await timed(count, concurrency, start)


@asynccontextmanager
async def scene_for(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], task_queue: str,
                    contacts: int, client: str = "asgi") -> AsyncIterator[Scene]:
    settings = Settings(environment="test", smartplans_admin_key=ADMIN_KEY, temporal_task_queue=task_queue)
    app = create_app(settings, temporal=env.client, sessions=sessions)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=300) as http:
        settle_collector(settings.process_gc_threshold)  # this process plays the API's, started: as it does
        team_id, agent = await add_team(http)
        plan_id = await add_plan(sessions, World(team_id, agent["id"], agent["id"], ""),
                                 plan_doc((7, [task("Call {contact.first.name}")]), name="Bench plan"))
        async with sessions() as session:
            plan = await session.get(Plan, plan_id)
        assert plan is not None
        auth = {"Authorization": f"Bearer {agent['api_key']}"}
        yield Scene(bench_client(client, app, http, auth), sessions, env.client, task_queue, plan,
                    await add_contacts(sessions, team_id, agent["id"], contacts))


@dataclass(frozen=True)
class Options:
    count: int
    concurrency: int
    batch_size: int
    rounds: int
    database: DatabaseKind
    in_process: bool
    ten_thousand: bool
    client: str


DIRECT, ONE_BY_ONE, BATCH = "direct start_workflow", "API, one per request", "API batch"


async def compare(scene: Scene, options: Options) -> dict[str, Tally]:
    """Each way once untimed (warm-up), then `rounds` rounds of the three in turn, each round starting with the next
    way, so a change in the machine's load during the run, and the worker's workflow cache filling up (past 1,000
    cached runs each new one evicts one), weigh on all three alike."""
    ways: dict[str, Callable[[Sequence[str]], Awaitable[float]]] = {
        DIRECT: lambda ids: direct(scene, ids, options.concurrency),
        ONE_BY_ONE: lambda ids: one_by_one(scene, ids, options.concurrency),
        BATCH: lambda ids: batched(scene, ids, options.batch_size),
    }
    tallies = {name: Tally() for name in ways}
    for way in ways.values():
        await way(scene.take(WARMUP))
        await scene.caught_up()
    names = list(ways)
    for round_ in range(options.rounds):
        share = options.count // options.rounds + (1 if round_ < options.count % options.rounds else 0)
        for name in names[round_ % 3:] + names[:round_ % 3]:
            answered = await ways[name](scene.take(share))
            tallies[name].add(share, answered, await scene.caught_up())
    return tallies


async def bench(options: Options) -> None:
    rows: list[tuple[str, str]] = [
        ("database", options.database),
        ("enrollment worker", "in this process" if options.in_process else "own process (python worker.py)"),
        ("count / concurrency / batch size / rounds",
         f"{options.count} / {options.concurrency} / {options.batch_size} / {options.rounds} "
         f"(+{WARMUP} warm-up each, not timed)"),
        ("cores", f"{os.cpu_count()}"),
        ("the API's client", "the ASGI call alone (bench.asgi_client)" if options.client == "asgi"
         else "httpx's ASGI transport"),
    ]
    async with bench_stack(options.database) as stack:
        env, sessions = stack.env, stack.sessions
        needed = 3 * (options.count + WARMUP) + (TEN_THOUSAND if options.ten_thousand else 0)
        async with enrollment_worker(env, sessions, stack.url, options.in_process, stack.tmp / "worker.log") as queue, \
                scene_for(env, sessions, queue, needed, options.client) as scene:
            tallies = await compare(scene, options)
            for name, tally in tallies.items():
                rows += [(f"{name}: per second answered", f"{tally.rate(running=False):.1f}"),
                         (f"{name}: per second running (worker caught up)", f"{tally.rate():.1f}")]
            if options.ten_thousand:
                answered = await batched(scene, scene.take(TEN_THOUSAND), BATCH_LIMIT)
                lag = await scene.caught_up()
                rows += [("10,000 in one plan via batch: seconds answered", f"{answered:.1f}"),
                         ("10,000 in one plan via batch: seconds running", f"{answered + lag:.1f}")]
        ceiling = await trivial(env.client, options.count, options.concurrency)
        rows += [("trivial workflow start (ceiling): per second", f"{ceiling.per_second:.1f}")]
    width = max(len(label) for label, _ in rows)
    print("\nEnrollments through the API vs starting their workflows directly (Temporal dev server)")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    for running in (True, False):  # the figure of merit, last: rates of answered calls
        floor = tallies[DIRECT].rate(running)
        suffix = " (running)" if running else ""
        print(f"ratio batch/direct{suffix}: {tallies[BATCH].rate(running) / floor:.2f}")
        print(f"ratio api/direct{suffix}: {tallies[ONE_BY_ONE].rate(running) / floor:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=1000, help="enrollments per phase (default 1000)")
    parser.add_argument("--concurrency", type=int, default=START_CONCURRENCY,
                        help=f"starts or requests in flight (default {START_CONCURRENCY}, as a batch starts them)")
    parser.add_argument("--batch-size", type=int, default=BATCH_LIMIT, choices=range(1, BATCH_LIMIT + 1),
                        metavar=f"1..{BATCH_LIMIT}", help=f"contacts per batch request (default {BATCH_LIMIT})")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three ways, taking turns (default 3)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="sqlite (a temporary file) or postgresql (127.0.0.1:5432, as make test-postgres)")
    parser.add_argument("--in-process-worker", action="store_true",
                        help="run the enrollment worker in the bench's process (default: its own, as deployed)")
    parser.add_argument("--batch-10k", action="store_true",
                        help="then enroll 10,000 more contacts in the plan through ten batch requests")
    parser.add_argument("--client", choices=CLIENTS, default="asgi",
                        help="how the requests reach the app: the ASGI call alone (default) or httpx's ASGI transport")
    args = parser.parse_args()
    asyncio.run(bench(Options(args.count, args.concurrency, args.batch_size, args.rounds, args.database,
                              args.in_process_worker, args.batch_10k, args.client)))


if __name__ == "__main__":
    main()
