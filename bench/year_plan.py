"""Years of one enrollment in a step-a-day plan on the time-skipping test server, with the real worker, activities,
outbox providers and a migrated SQLite database.

It answers what an unlimited plan costs Temporal over its lifetime: how many runs continue-as-new chains, how long
their histories grow, how many workflow tasks a simulated day takes, and how fast the whole stack gets through it.

Run with `python -m bench.year_plan [--years N]` (or `make bench`). Prints figures only; there is no pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config import venv_binary
from db.models import Message, Task
from db.session import create_engine_for, create_session_factory, session_scope
from tests.dbtools import make_database
from tests.factories import add_plan, email, plan_doc, running_worker, seed, task, text
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import EnrollmentResult, RemoveRequest

PLAN_DAYS = 365
# The clock moves in explicit sleeps this long: each one lets every timer and activity in it run before returning.
STRIDE = timedelta(days=30)
PROGRESS_EVERY = 6  # strides between progress lines, so a slow machine shows it is moving


@dataclass(frozen=True)
class RunHistory:
    run_id: str
    events: int
    workflow_tasks: int


def year_plan_steps() -> list[tuple[int, list[dict[str, Any]]]]:
    """One step a day, cycling email → task → text so every kind of step activity runs all year."""
    kinds = (email, task, text)
    return [(0 if day == 0 else 1, [kinds[day % len(kinds)]()]) for day in range(PLAN_DAYS)]


async def run_chain(client: Client, workflow_id: str, first_run_id: str) -> list[RunHistory]:
    """Every run of the enrollment, oldest first, following each continue-as-new to the run it started."""
    runs: list[RunHistory] = []
    run_id: str | None = first_run_id
    while run_id is not None:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        completed = sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
        runs.append(RunHistory(run_id, len(history.events), completed))
        last = history.events[-1]
        run_id = None
        if last.HasField("workflow_execution_continued_as_new_event_attributes"):
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return runs


async def bench(years: int) -> None:
    started_wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smartplans-bench-") as tmp:
        url, cleanup = make_database("sqlite", Path(tmp))
        engine = create_engine_for(url)
        sessions = create_session_factory(engine)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter)
        try:
            world = await seed(sessions)
            definition = plan_doc(*year_plan_steps(), repeat={"times": "unlimited", "delay_days": 0},
                                  name="A step a day")
            plan_id = await add_plan(sessions, world, definition)
            async with running_worker(env, sessions) as harness:
                sim_start = await env.get_current_time()
                handle = await harness.enroll(plan_id, world.contact_id)
                first_run_id = (await handle.describe()).run_id  # no continue-as-new can have happened yet
                target = sim_start + timedelta(days=round(365.25 * years))
                driving_started = time.perf_counter()
                now = sim_start
                strides = 0
                while now < target:
                    await env.sleep(min(STRIDE, target - now))
                    now = await env.get_current_time()
                    strides += 1
                    if strides % PROGRESS_EVERY == 0 or now >= target:
                        elapsed = time.perf_counter() - started_wall
                        print(f"  simulated {(now - sim_start).days:>5} days after {elapsed:7.1f} s", flush=True)
                driving_seconds = time.perf_counter() - driving_started
                await handle.signal(EnrollmentWorkflow.remove, RemoveRequest())
                result = await harness.finish(handle)
                # Not the server's clock: once nothing is left to wait for, the test server skips it ahead to its
                # own housekeeping timers (years on), so the last run's close is the end of the simulation.
                sim_end = (await handle.describe()).close_time or now
                runs = await run_chain(env.client, handle.id, first_run_id)
            async with session_scope(sessions) as session:
                messages = await session.scalar(select(func.count()).select_from(Message)) or 0
                tasks = await session.scalar(select(func.count()).select_from(Task)) or 0
        finally:
            await env.shutdown()
            await engine.dispose()
            cleanup()
    report(years=years, wall=time.perf_counter() - started_wall, driving=driving_seconds, sim_start=sim_start,
           sim_end=sim_end, result=result, runs=runs, messages=messages, tasks=tasks)


def report(*, years: int, wall: float, driving: float, sim_start: datetime, sim_end: datetime,
           result: EnrollmentResult, runs: list[RunHistory], messages: int, tasks: int) -> None:
    sim_days = (sim_end - sim_start).total_seconds() / 86400
    events = [run.events for run in runs]
    workflow_tasks = sum(run.workflow_tasks for run in runs)
    rows: list[tuple[str, str]] = [
        ("wall seconds (total, incl. server start and DB)", f"{wall:.1f}"),
        ("wall seconds driving the clock", f"{driving:.1f}"),
        ("wall seconds per simulated year", f"{driving / (sim_days / 365.25):.1f}"),
        ("simulated years (requested)", f"{sim_days / 365.25:.2f} ({years})"),
        ("result", f"{result.status}/{result.reason}, pass {result.repeat + 1}"),
        ("runs (continue-as-new chain)", f"{len(runs)}"),
        ("steps executed: messages + tasks rows", f"{messages + tasks} ({messages} messages, {tasks} tasks)"),
        ("steps executed: result.steps_done_total", f"{result.steps_done_total}"),
        ("workflow tasks completed (all runs)", f"{workflow_tasks}"),
        ("history events per run: max / mean", f"{max(events)} / {statistics.mean(events):.0f}"),
        ("history events (all runs)", f"{sum(events)}"),
        ("workflow tasks per simulated day", f"{workflow_tasks / sim_days:.2f}"),
        ("steps per wall second", f"{result.steps_done_total / driving:.1f}"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"\n{PLAN_DAYS}-day plan, one step a day, repeating without end")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--years", type=int, default=3, help="simulated years to run (default 3)")
    args = parser.parse_args()
    asyncio.run(bench(args.years))


if __name__ == "__main__":
    main()
