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
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.bare_chain import BareChainInput, BareChainWorkflow, bare_touch
from bench.cpu import CpuSeconds, cpu_now
from bench.stack import sandbox_as_deployed
from config import Settings, venv_binary
from db.models import Message, Task
from db.session import create_engine_for, create_session_factory, session_scope
from gc_tuning import settle_collector
from tests.dbtools import make_database
from tests.factories import add_plan, email, plan_doc, running_worker, seed, task, text
from worker import GRACEFUL_SHUTDOWN, worker_tuning
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import EnrollmentInput, EnrollmentResult, RemoveRequest

PLAN_DAYS = 365
# The clock moves in explicit sleeps this long: each one lets every timer and activity in it run before returning.
STRIDE = timedelta(days=30)
PROGRESS_EVERY = 6  # strides between progress lines, so a slow machine shows it is moving
# The bare chain continues as new at the history length the enrollment workflow does by default.
MAX_HISTORY_EVENTS: int = EnrollmentInput.model_fields["max_history_events"].default


@dataclass(frozen=True)
class RunHistory:
    run_id: str
    events: int
    workflow_tasks: int
    # From the events' times (the test server's clock runs in real time while work is outstanding): wall seconds
    # between each workflow task's start and completion, and each activity's start and end.
    workflow_task_seconds: float
    activity_seconds: float


def busy_seconds(events: Sequence[HistoryEvent]) -> tuple[float, float]:
    """Seconds spent in workflow tasks and in activities, summed over one run's history."""
    activity_started = {e.event_id: e.event_time.ToDatetime() for e in events
                        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED}
    task_started: datetime | None = None  # the test server leaves a completed task's started event id unset
    tasks = activities = 0.0
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            task_started = event.event_time.ToDatetime()
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and task_started is not None:
            tasks += (event.event_time.ToDatetime() - task_started).total_seconds()
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            begun = activity_started[event.activity_task_completed_event_attributes.started_event_id]
            activities += (event.event_time.ToDatetime() - begun).total_seconds()
    return tasks, activities


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
        runs.append(RunHistory(run_id, len(history.events), completed, *busy_seconds(history.events)))
        last = history.events[-1]
        run_id = None
        if last.HasField("workflow_execution_continued_as_new_event_attributes"):
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return runs


@dataclass(frozen=True)
class Drive:
    """Moving the clock `years` on: the simulated start, where the clock stopped, the wall and CPU seconds taken."""

    sim_start: datetime
    sim_end: datetime
    wall: float
    cpu: CpuSeconds


async def drive(env: WorkflowEnvironment, years: int, label: str, started_wall: float) -> Drive:
    sim_start = await env.get_current_time()
    cpu_started = cpu_now()
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
            print(f"  {label}: simulated {(now - sim_start).days:>5} days after {elapsed:7.1f} s", flush=True)
    return Drive(sim_start, now, time.perf_counter() - driving_started, cpu_now() - cpu_started)


@dataclass(frozen=True)
class BareFigures:
    driving: Drive
    days_run: int
    runs: list[RunHistory]


def deployed_settings() -> Settings:
    """The project's worker as the other benchmarks run it (`bench.stack.sandbox_as_deployed`)."""
    return Settings(environment="test", worker_workflow_sandbox=sandbox_as_deployed())


async def bare_chain(env: WorkflowEnvironment, years: int, started_wall: float) -> BareFigures:
    """The same years of a timer and a trivial activity a day, on the same server with a worker built alike (the
    same workflow runner: sandboxed or not as the project's)."""
    queue = f"bare-chain-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[BareChainWorkflow], activities=[bare_touch],
                      graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
                      workflow_runner=worker_tuning(deployed_settings())["workflow_runner"]):
        days = round(365.25 * years)
        handle = await env.client.start_workflow(
            BareChainWorkflow.run, BareChainInput(days=days, max_history_events=MAX_HISTORY_EVENTS),
            id=f"bare-chain-{uuid.uuid4()}", task_queue=queue)
        first_run_id = handle.first_execution_run_id or (await handle.describe()).run_id
        driving = await drive(env, years, "bare chain", started_wall)
        days_run = await handle.result()
        runs = await run_chain(env.client, handle.id, first_run_id)
    return BareFigures(driving=driving, days_run=days_run, runs=runs)


async def one_round(years: int) -> float:
    """The bare chain, then the project, on one fresh test server and database; prints the table and returns the
    round's ratio."""
    started_wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smartplans-bench-") as tmp:
        url, cleanup = make_database("sqlite", Path(tmp))
        engine = create_engine_for(url)
        sessions = create_session_factory(engine)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=venv_binary("temporal-test-server"), data_converter=pydantic_data_converter)
        try:
            # The bare chain first: if the server slows as its history store fills, the project pays for it.
            bare = await bare_chain(env, years, started_wall)
            world = await seed(sessions)
            definition = plan_doc(*year_plan_steps(), repeat={"times": "unlimited", "delay_days": 0},
                                  name="A step a day")
            plan_id = await add_plan(sessions, world, definition)
            async with running_worker(env, sessions, settings=deployed_settings()) as harness:
                handle = await harness.enroll(plan_id, world.contact_id)
                first_run_id = (await handle.describe()).run_id  # no continue-as-new can have happened yet
                driving = await drive(env, years, "project", started_wall)
                await handle.signal(EnrollmentWorkflow.remove, RemoveRequest())
                result = await harness.finish(handle)
                # Not the server's clock: once nothing is left to wait for, the test server skips it ahead to its
                # own housekeeping timers (years on), so the last run's close is the end of the simulation.
                sim_end = (await handle.describe()).close_time or driving.sim_end
                runs = await run_chain(env.client, handle.id, first_run_id)
            async with session_scope(sessions) as session:
                messages = await session.scalar(select(func.count()).select_from(Message)) or 0
                tasks = await session.scalar(select(func.count()).select_from(Task)) or 0
        finally:
            await env.shutdown()
            await engine.dispose()
            cleanup()
    return report(years=years, wall=time.perf_counter() - started_wall, driving=driving, sim_end=sim_end,
                  result=result, runs=runs, messages=messages, tasks=tasks, bare=bare)


async def bench(years: int, rounds: int) -> None:
    """`rounds` rounds, each side by side on a fresh server; the figure of merit is their median. One round's ratio
    swings by a tenth on this machine with nothing changed (docs/performance.md), more than most changes move it."""
    ratios = []
    for round_ in range(rounds):
        print(f"round {round_ + 1} of {rounds}", flush=True)
        ratios.append(await one_round(years))
    print(f"\nratio project/bare per round: {' '.join(f'{ratio:.2f}' for ratio in ratios)}")
    print(f"ratio project/bare: {statistics.median(ratios):.2f}")


def busy_per_day(runs: list[RunHistory], days: float) -> str:
    tasks = sum(run.workflow_task_seconds for run in runs) * 1000 / days
    activities = sum(run.activity_seconds for run in runs) * 1000 / days
    return f"{tasks:.1f} / {activities:.1f}"


def days_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400


def report(*, years: int, wall: float, driving: Drive, sim_end: datetime, result: EnrollmentResult,
           runs: list[RunHistory], messages: int, tasks: int, bare: BareFigures) -> float:
    sim_days = days_between(driving.sim_start, sim_end)
    bare_days = days_between(bare.driving.sim_start, bare.driving.sim_end)
    events = [run.events for run in runs]
    workflow_tasks = sum(run.workflow_tasks for run in runs)
    bare_events = [run.events for run in bare.runs]
    bare_tasks = sum(run.workflow_tasks for run in bare.runs)
    years_run, bare_years = sim_days / 365.25, bare_days / 365.25
    project_year, bare_year = driving.wall / years_run, bare.driving.wall / bare_years
    rows: list[tuple[str, str]] = [
        ("wall seconds (total, incl. server start, DB and bare chain)", f"{wall:.1f}"),
        ("wall seconds driving the clock", f"{driving.wall:.1f}"),
        ("wall seconds per simulated year", f"{project_year:.1f}"),
        ("CPU seconds per simulated year: bench process / test server",
         f"{driving.cpu.own / years_run:.1f} / {driving.cpu.children / years_run:.1f}"),
        ("simulated years (requested)", f"{years_run:.2f} ({years})"),
        ("result", f"{result.status}/{result.reason}, pass {result.repeat + 1}"),
        ("runs (continue-as-new chain)", f"{len(runs)}"),
        ("steps executed: messages + tasks rows", f"{messages + tasks} ({messages} messages, {tasks} tasks)"),
        ("steps executed: result.steps_done_total", f"{result.steps_done_total}"),
        ("workflow tasks completed (all runs)", f"{workflow_tasks}"),
        ("history events per run: max / mean", f"{max(events)} / {statistics.mean(events):.0f}"),
        ("history events (all runs)", f"{sum(events)}"),
        ("workflow tasks per simulated day", f"{workflow_tasks / sim_days:.2f}"),
        ("history events per simulated day", f"{sum(events) / sim_days:.2f}"),
        ("ms per simulated day in workflow tasks / activities", busy_per_day(runs, sim_days)),
        ("steps per wall second", f"{result.steps_done_total / driving.wall:.1f}"),
        ("bare chain: wall seconds driving the clock", f"{bare.driving.wall:.1f}"),
        ("bare chain: wall seconds per simulated year", f"{bare_year:.1f}"),
        ("bare chain: CPU seconds per simulated year: bench process / test server",
         f"{bare.driving.cpu.own / bare_years:.1f} / {bare.driving.cpu.children / bare_years:.1f}"),
        ("bare chain: days run / runs", f"{bare.days_run} / {len(bare.runs)}"),
        ("bare chain: history events per run: max / mean",
         f"{max(bare_events)} / {statistics.mean(bare_events):.0f}"),
        ("bare chain: workflow tasks per simulated day", f"{bare_tasks / bare_days:.2f}"),
        ("bare chain: history events per simulated day", f"{sum(bare_events) / bare_days:.2f}"),
        ("bare chain: ms per simulated day in workflow tasks / activities", busy_per_day(bare.runs, bare_days)),
        ("bare chain: steps per wall second", f"{bare.days_run / bare.driving.wall:.1f}"),
        # The same ratio in CPU seconds of both processes: less swayed than wall time by other work on the machine.
        ("ratio project/bare in CPU seconds (bench process + test server)",
         f"{(bare.driving.cpu.total / bare_years) / (driving.cpu.total / years_run):.2f}"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"\n{PLAN_DAYS}-day plan, one step a day, repeating without end; and a bare timer+activity chain")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    # Speed is simulated time per wall second: project/bare is the bare chain's seconds per year over the project's.
    print(f"{'ratio project/bare (this round)':<{width}}  {bare_year / project_year:.2f}")
    return bare_year / project_year


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--years", type=int, default=3, help="simulated years to run (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each on a fresh server (default 3)")
    args = parser.parse_args()
    # This process plays the worker's, for the bare chain and the project alike: its collector is settled as theirs.
    settle_collector(deployed_settings().process_gc_threshold)
    asyncio.run(bench(args.years, args.rounds))


if __name__ == "__main__":
    main()
