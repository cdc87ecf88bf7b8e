"""What one plan step's activity costs, called directly: the email, task and text activities with the outbox
providers on a migrated SQLite database, outside Temporal. Each step is one database transaction that re-checks
the contact, the enrollment and the sender (R-COMP-1) and writes its record and timeline event.

`bench.year_plan` shows what a step costs inside the worker, among workflow tasks; this isolates the transaction,
and gives both wall milliseconds and the event loop thread's CPU milliseconds per step (the CPU figure moves far
less with the machine's load, so it tells a real change from noise). Each figure is the best of the rounds.

Run with `python -m bench.steps [--steps N] [--rounds R]` (or `make bench`). Prints figures only; no pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.messaging.activities import MessagingActivities
from activities.messaging.outbox import OutboxEmailProvider, OutboxSmsProvider
from activities.tasks import TaskActivities
from config import Settings
from db.models import Enrollment
from db.session import create_engine_for, create_session_factory, session_scope
from domain.ids import new_id
from domain.plan import PlanDefinition, Step
from tests.dbtools import make_database
from tests.factories import World, add_plan, email, plan_doc, seed, task, text
from workflows.types import StepInput, StepOutcome

# Noon in Chicago on a Monday: inside every window, so each text goes out rather than being held.
NOON = datetime(2026, 1, 5, 18, tzinfo=UTC)
WARM_UP = 20


def step_input(world: World, plan_id: str, enrollment_id: str, step: Step, n: int) -> StepInput:
    """The n-th pass of `step`: its own idempotency key, so every call is a first attempt that writes its rows."""
    at = NOON + timedelta(milliseconds=n)
    return StepInput(enrollment_id=enrollment_id, workflow_id=f"bench-{enrollment_id}", plan_id=plan_id,
                     plan_name="Bench", plan_version=1, team_plan=False, contact_id=world.contact_id,
                     team_id=world.team_id, agent_id=world.agent_id, repeat=n, day_number=0, step=step,
                     scheduled_for=at, time_zone="America/Chicago", attempt_at=at,
                     idempotency_key=f"{enrollment_id}:r{n}:{step.id}")


async def bench(steps: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="smartplans-bench-") as tmp:
        url, cleanup = make_database("sqlite", Path(tmp))
        engine = create_engine_for(url)
        sessions = create_session_factory(engine)
        try:
            world = await seed(sessions)
            definition = plan_doc((0, [email()]), (1, [task()]), (1, [text()]))
            plan_id = await add_plan(sessions, world, definition)
            enrollment_id = new_id("en")
            async with session_scope(sessions) as session:
                session.add(Enrollment(id=enrollment_id, team_id=world.team_id, plan_id=plan_id,
                                       contact_id=world.contact_id, plan_version=1, workflow_id="bench",
                                       status="active", source="manual"))
            plan = PlanDefinition.model_validate(definition)
            messaging = MessagingActivities(sessions, Settings(environment="test"), OutboxSmsProvider(),
                                            OutboxEmailProvider())
            kinds: list[tuple[str, Callable[[StepInput], Awaitable[StepOutcome]], Step]] = [
                ("email", messaging.send_email, plan.days[0].steps[0]),
                ("task", TaskActivities(sessions).create_task, plan.days[1].steps[0]),
                ("text", messaging.send_text, plan.days[2].steps[0])]
            env = ActivityEnvironment()
            passes = iter(range(10**9))
            for _, run, step in kinds:
                for _ in range(WARM_UP):
                    await env.run(run, step_input(world, plan_id, enrollment_id, step, next(passes)))
            best: dict[str, tuple[float, float]] = {}
            for _ in range(rounds):
                for name, run, step in kinds:
                    wall, cpu = time.perf_counter(), time.thread_time()
                    for _ in range(steps):
                        outcome = await env.run(run, step_input(world, plan_id, enrollment_id, step, next(passes)))
                        assert outcome.status == "executed", outcome
                    wall, cpu = (time.perf_counter() - wall) / steps * 1000, (time.thread_time() - cpu) / steps * 1000
                    earlier = best.get(name, (wall, cpu))
                    best[name] = (min(earlier[0], wall), min(earlier[1], cpu))
        finally:
            await engine.dispose()
            cleanup()
    print(f"\none step's activity called directly (SQLite, outbox): {steps} steps x {rounds} rounds, best round")
    for name, (wall, cpu) in best.items():
        print(f"{name + ': ms per step wall / event-loop CPU':<40}  {wall:.2f} / {cpu:.2f}")
    mean_wall = sum(wall for wall, _ in best.values()) / len(best)
    print(f"ms per step, mean of the three: {mean_wall:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=200, help="steps of each kind per round (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is reported (default 5)")
    args = parser.parse_args()
    asyncio.run(bench(args.steps, args.rounds))


if __name__ == "__main__":
    main()
