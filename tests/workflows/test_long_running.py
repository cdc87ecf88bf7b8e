"""An unlimited plan runs for years: continue-as-new at each repeat and on large histories keeps every run small."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from db.models import Message, Task
from tests.factories import add_plan, email, next_local, plan_doc, run_histories, running_worker, seed, task
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import RemoveRequest

Sessions = async_sessionmaker[AsyncSession]
HISTORY_LIMIT = 4096


class TestRPlan7UnlimitedForYears:
    async def test_a_365_day_plan_repeating_without_end_runs_three_years_with_small_histories(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        days = [(0, [email("Day 1")])] + [(1, [task(f"Day {n}") if n % 2 else email(f"Day {n}")])
                                         for n in range(2, 366)]
        plan_id = await add_plan(sessions, world, plan_doc(*days, repeat={"times": "unlimited", "delay_days": 0}))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 9)
            await h.advance_to(start)
            handle = await h.enroll(plan_id, world.contact_id)
            while await env.get_current_time() < start + timedelta(days=3 * 365 + 1):
                await env.sleep(timedelta(days=30))
            progress = await handle.query(EnrollmentWorkflow.progress)
            await handle.signal(EnrollmentWorkflow.remove, RemoveRequest())
            result = await h.finish(handle)

            assert result.status == "removed"
            assert progress.repeat == 3  # passes 1–3 done, the fourth under way
            assert result.steps_done_total >= 3 * 365
            assert len(await h.rows(Task)) + len(await h.rows(Message)) == result.steps_done_total

            sizes = [len(history.events) for history in await run_histories(env, handle.id)]
            assert len(sizes) >= 4  # at least one run per pass
            assert max(sizes) < HISTORY_LIMIT, sizes
