"""A burst of due steps: N enrollments whose first email falls due at one instant, drained by the real worker,
against N bare workflows sleeping to one instant and then running one trivial activity (issue 11, item 3).

How every first email falls due at the same instant T: the team's zone is UTC and its "morning" slot is set to T
(a whole minute, HH:MM, chosen far enough ahead for all the enrollments to start before it); the plan is one day
with delay 0 holding one `morning` email, so each enrollment's first step is due at the morning slot of its start
date, i.e. at T (domain/schedule.py rules 1–2). The enrollments are written and started with
`services.enrollments.enroll` (row, timeline event, workflow start), C at a time, while the real worker
(`python worker.py`, MESSAGING_PROVIDER=outbox) runs in its own process; their workflows load their context and
sleep until T. The drain is T → the last email's message row turning `recorded` (its `updated_at`).

The baseline, on the same dev server: N `SleepThenActWorkflow`s (bench/bare_worker.py, run as its own process with
the same WORKER_MAX_… settings) sleeping to T2 and then running one activity that returns the time it ran; the
drain is T2 → the latest of those times. Each worker's RSS is sampled from /proc while it runs.

Run with `python -m bench.burst [--count N] [--database sqlite|postgresql] [--max-activities A]
[--max-workflow-tasks W] [--max-cached K] [--pool-size P]`. Prints a table; the last line is the ratio of the
drain rates. Figures only, no pass/fail (aims: ratio ≥ 0.7, worker peak RSS < 500 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from bench.bare_worker import SleepThenActWorkflow, WakeAt
from bench.enroll import timed
from bench.harness import bench_stack
from bench.rss import sampled
from bench.stack import ADMIN_KEY, add_contacts, add_team, worker_process
from config import Settings
from db.models import Agent, Message, Team
from db.session import session_scope
from services.enrollments import enroll
from tests.dbtools import DatabaseKind
from tests.factories import World, add_plan, email, plan_doc

WARMUP = 100  # enrollments into a week-away plan first: untimed, they measure how fast enrolling goes
HEADROOM = 1.5  # T is this many times the expected enrolling time ahead (plus a margin), then rounded up a minute
MARGIN = timedelta(seconds=15)


@dataclass(frozen=True)
class Drain:
    count: int
    start_seconds: float  # starting the N workflows (enrollments: row + workflow start)
    seconds: float  # the due instant → the last step done
    first_seconds: float  # the due instant → the first step done
    peak_rss_mb: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


def due_instant(now: datetime, count: int, rate: float, whole_minute: bool) -> datetime:
    """Far enough ahead for `count` starts at `rate` per second, with headroom; a slot time is a whole minute."""
    at = now + timedelta(seconds=count / rate * HEADROOM) + MARGIN
    if whole_minute:
        at = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return at


def aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


async def until_recorded(sessions: async_sessionmaker[AsyncSession], count: int,
                         limit: float) -> tuple[int, datetime | None, datetime | None]:
    """Poll the messages table until `count` emails are recorded (or `limit` seconds pass)."""
    deadline = time.monotonic() + limit
    while True:
        async with session_scope(sessions) as session:
            done, first, last = (await session.execute(
                select(func.count(), func.min(Message.updated_at), func.max(Message.updated_at))
                .where(Message.channel == "email", Message.status == "recorded"))).one()
        if done >= count or time.monotonic() > deadline:
            return done, first, last
        await asyncio.sleep(0.5)


async def bench_burst(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], url: str, tmp: Path,
                      count: int, concurrency: int, tuning: dict[str, str]) -> Drain:
    queue = f"bench-burst-{uuid.uuid4()}"
    settings = Settings(environment="test", smartplans_admin_key=ADMIN_KEY, temporal_task_queue=queue)
    app = create_app(settings, temporal=env.client, sessions=sessions)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60) as http:
        team_id, agent = await add_team(http)
    world = World(team_id, agent["id"], agent["id"], "")
    async with session_scope(sessions) as session:
        row = await session.get(Agent, agent["id"])
        assert row is not None
        row.email_quota_monthly = count + WARMUP  # the default monthly quota (5,000) would refuse the last ones
    contacts = await add_contacts(sessions, team_id, agent["id"], count + WARMUP, with_email=True)
    warm_plan = await add_plan(sessions, world, plan_doc((7, [email()]), name="Warm-up plan"))
    plan_id = await add_plan(sessions, world, plan_doc((0, [email(slot="morning")]), name="Burst plan"))

    async def one(plan: str, contact: str) -> None:
        await enroll(sessions, env.client, queue, plan_id=plan, contact_id=contact, source="manual",
                     at=datetime.now(UTC))

    async with worker_process(env, url, queue, tmp / "burst-worker.log", extra_env=tuning) as process, \
            sampled(process) as rss:
        warm = await timed(WARMUP, concurrency, lambda i: one(warm_plan, contacts[count + i]))
        due = due_instant(datetime.now(UTC), count, warm.per_second, whole_minute=True)
        async with session_scope(sessions) as session:
            team = await session.get(Team, team_id)
            assert team is not None
            team.time_zone, team.slot_times = "UTC", {"morning": due.strftime("%H:%M")}
        started = await timed(count, concurrency, lambda i: one(plan_id, contacts[i]))
        if datetime.now(UTC) >= due:
            raise RuntimeError(f"enrolling took {started.seconds:.0f} s and passed the due instant {due:%H:%M}")
        limit = (due - datetime.now(UTC)).total_seconds() + 600
        done, first, last = await until_recorded(sessions, count, limit)
    if done < count or first is None or last is None:
        raise RuntimeError(f"only {done} of {count} emails were recorded; see {tmp / 'burst-worker.log'}")
    return Drain(count, started.seconds, (aware(last) - due).total_seconds(), (aware(first) - due).total_seconds(),
                 rss.peak_kb / 1024)


async def bench_bare(env: WorkflowEnvironment, url: str, tmp: Path, count: int, concurrency: int,
                     tuning: dict[str, str]) -> Drain:
    queue = f"bench-bare-burst-{uuid.uuid4()}"
    client: Client = env.client
    run_id = uuid.uuid4().hex[:8]
    async with worker_process(env, url, queue, tmp / "bare-worker.log", argv=("-m", "bench.bare_worker"),
                              extra_env=tuning) as process, sampled(process) as rss:
        probe = WakeAt(at=datetime.now(UTC))
        warm = await timed(WARMUP, concurrency, lambda i: start(client, queue, f"bare-{run_id}-w{i}", probe))
        wake = WakeAt(at=due_instant(datetime.now(UTC), count, warm.per_second, whole_minute=False))
        started = await timed(count, concurrency, lambda i: start(client, queue, f"bare-{run_id}-{i}", wake))
        gate = asyncio.Semaphore(concurrency)

        async def result(index: int) -> float:
            async with gate:
                handle = client.get_workflow_handle_for(SleepThenActWorkflow.run, f"bare-{run_id}-{index}")
                return await handle.result()

        ran = await asyncio.gather(*(result(i) for i in range(count)))
    moment = wake.at.timestamp()
    return Drain(count, started.seconds, max(ran) - moment, min(ran) - moment, rss.peak_kb / 1024)


async def start(client: Client, queue: str, workflow_id: str, wake: WakeAt) -> None:
    await client.start_workflow(SleepThenActWorkflow.run, wake, id=workflow_id, task_queue=queue,
                                static_summary="bare: sleep to the burst instant, then one activity")


async def bench(count: int, concurrency: int, database: DatabaseKind, tuning: dict[str, str]) -> None:
    async with bench_stack(database) as stack:
        burst = await bench_burst(stack.env, stack.sessions, stack.url, stack.tmp, count, concurrency, tuning)
        bare = await bench_bare(stack.env, stack.url, stack.tmp, count, concurrency, tuning)
    print_table(count, concurrency, database, tuning, burst, bare)


def print_table(count: int, concurrency: int, database: str, tuning: dict[str, str], burst: Drain,
                bare: Drain) -> None:
    print("\nA burst of due steps: first emails of N enrollments vs N bare sleep-then-activity workflows")
    print(f"database {database}; N {count}; starts in flight {concurrency}; worker settings "
          f"{', '.join(f'{k}={v}' for k, v in tuning.items()) or 'defaults (config.Settings)'}")
    print(f"{'':<34}{'start s':>9}{'first s':>9}{'drain s':>9}{'per s':>9}{'peak RSS MB':>13}")
    for label, drain in (("burst (enrollments, first email)", burst), ("bare (sleep, one activity)", bare)):
        print(f"{label:<34}{drain.start_seconds:>9.1f}{drain.first_seconds:>9.2f}{drain.seconds:>9.2f}"
              f"{drain.per_second:>9.1f}{drain.peak_rss_mb:>13.0f}")
    print(f"peak worker RSS MB: burst {burst.peak_rss_mb:.0f}, bare {bare.peak_rss_mb:.0f}")
    print(f"ratio burst/bare: {burst.per_second / bare.per_second:.2f}")


TUNING_OPTIONS = (("max_activities", "WORKER_MAX_CONCURRENT_ACTIVITIES"),
                  ("max_workflow_tasks", "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS"),
                  ("max_cached", "WORKER_MAX_CACHED_WORKFLOWS"),
                  ("pool_size", "WORKER_DATABASE_POOL_SIZE"),
                  ("max_overflow", "WORKER_DATABASE_MAX_OVERFLOW"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=5000, help="enrollments and bare workflows (default 5000)")
    parser.add_argument("--concurrency", type=int, default=20, help="starts in flight (default 20)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="sqlite (a temporary file) or postgresql (127.0.0.1:5432, as make test-postgres)")
    for option, variable in TUNING_OPTIONS:
        parser.add_argument(f"--{option.replace('_', '-')}", type=int, help=f"both workers' {variable}")
    args = parser.parse_args()
    tuning = {variable: str(getattr(args, option)) for option, variable in TUNING_OPTIONS
              if getattr(args, option) is not None}
    asyncio.run(bench(args.count, args.concurrency, args.database, tuning))


if __name__ == "__main__":
    main()
