"""R-ENR-2 / R-PLAN-8 while a step's activity is under way: a database step (a task) cannot hear a cancellation, so
the removal waits for it to finish and then ends the enrollment, without asking the server to cancel it. Only a
send, which heartbeats before calling its provider, is cancelled (tests/workflows/test_attempts.py)."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from db.models import Enrollment, Task, TimelineEvent
from tests.factories import (
    HoldActivity,
    add_plan,
    eventually,
    next_local,
    plan_doc,
    replays,
    running_worker,
    seed,
    task,
)
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import RemoveRequest

Sessions = async_sessionmaker[AsyncSession]


class TestREnr2RemovalDuringADatabaseStep:
    async def test_the_step_under_way_finishes_then_the_enrollment_ends_without_a_cancellation(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [task("Call now")]), (5, [task("Call later")])))
        hold = HoldActivity("create_task")  # the first task step, held before it runs
        async with running_worker(env, sessions, client=hold.client(env)) as h:
            await h.advance_to(await next_local(h, 11))
            handle = await h.enroll(plan_id, world.contact_id)
            await asyncio.wait_for(hold.started.wait(), timeout=15)
            await handle.signal(EnrollmentWorkflow.remove, RemoveRequest(reason="plan_deactivated"))

            async def signal_handled() -> bool:
                kinds = [e.event_type async for e in handle.fetch_history_events()]
                signalled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
                return signalled in kinds and \
                    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in kinds[kinds.index(signalled):]

            await eventually(signal_handled)  # the workflow has decided what the removal means for the step
            hold.release.set()
            result = await h.finish(handle)

            assert (result.status, result.reason) == ("removed", "plan_deactivated")
            assert [t.name for t in await h.rows(Task)] == ["Call now"]  # the step under way, and nothing after
            (row,) = await h.rows(Enrollment)
            assert (row.status, row.end_reason) == ("removed", "plan_deactivated")
            (event,) = await h.rows(TimelineEvent, kind="removed")
            assert event.detail == "Dana Smith left the plan 'Test Plan' because it was deactivated"
            kinds = [e.event_type async for e in handle.fetch_history_events()]
            assert EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED not in kinds
            await replays(await handle.fetch_history())
