"""The worker as docker-compose deploys it (issue 11): workflows outside the SDK's sandbox. The rest of the suite runs
the workflows sandboxed, which is what catches a non-deterministic call; this proves the same plan runs the same way
without it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from config import Settings
from db.models import Enrollment, Message, Task, TimelineEvent
from tests.factories import add_plan, email, next_local, plan_doc, running_worker, seed, task, text


async def test_an_unsandboxed_worker_runs_a_whole_plan_to_its_end(
        env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]) -> None:
    world = await seed(sessions)
    plan_id = await add_plan(sessions, world, plan_doc((0, [text("hello"), email()]), (2, [task()])))
    settings = Settings(environment="test", worker_workflow_sandbox=False)
    async with running_worker(env, sessions, settings=settings) as h:
        start = await next_local(h, 11)
        await h.advance_to(start)
        handle = await h.enroll(plan_id, world.contact_id)
        result = await h.finish(handle)
        assert (result.status, result.reason, result.steps_done_total) == ("completed", "completed", 3)
        assert sorted(m.channel for m in await h.rows(Message)) == ["email", "sms"]
        (created,) = await h.rows(Task)
        assert created.created_at >= start + timedelta(days=2)
        (row,) = await h.rows(Enrollment)
        assert (row.status, row.end_reason) == ("completed", "completed")
        (ended,) = await h.rows(TimelineEvent, kind="completed")
        assert ended.detail.endswith("'Test Plan'")
        history = await handle.fetch_history()
    scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events
                 if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    # Each step an activity of its own, then the end; the run's first context load is a local one (a marker).
    assert scheduled == ["send_text", "send_email", "create_task", "finish_enrollment"]
    markers = [e.marker_recorded_event_attributes.marker_name for e in history.events
               if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    assert markers.count("core_local_activity") == 1, markers
