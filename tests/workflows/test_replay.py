"""Determinism: recorded histories (signals, an edit, continue-as-new) replay through the current workflow code."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from db.models import Message, Plan
from db.session import session_scope
from services.plans import save_version
from tests.factories import (
    add_plan,
    email,
    eventually,
    next_local,
    plan_doc,
    run_histories,
    running_worker,
    seed,
    task,
    text,
)
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import PlanChanged, RemoveRequest, ReplyReceived


async def test_every_run_of_an_edited_repeating_enrollment_replays(
        env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]) -> None:
    world = await seed(sessions)
    plan_id = await add_plan(sessions, world, plan_doc((0, [text("a", id="A"), email(id="E")]), (2, [task(id="T")]),
                                                       repeat={"times": "unlimited", "delay_days": 1}))
    async with running_worker(env, sessions) as h:
        start = await next_local(h, 11)
        await h.advance_to(start)
        handle = await h.enroll(plan_id, world.contact_id)
        await eventually(lambda: h.has(Message, 2))
        async with session_scope(sessions) as session:
            plan = await session.get(Plan, plan_id)
            assert plan is not None
            await save_version(session, plan, plan_doc((0, [text("a", id="A"), email(id="E")]), (3, [task(id="T")]),
                                                       repeat={"times": "unlimited", "delay_days": 1}))
        await handle.signal(EnrollmentWorkflow.plan_changed, PlanChanged(version=2))
        await handle.signal(EnrollmentWorkflow.contact_replied, ReplyReceived(channel="email"))
        await env.sleep(timedelta(days=12))
        await handle.signal(EnrollmentWorkflow.remove, RemoveRequest())
        result = await h.finish(handle)
        assert result.repeat >= 2

        replayer = Replayer(workflows=[EnrollmentWorkflow], data_converter=pydantic_data_converter)
        histories = await run_histories(env, handle.id)
        for history in histories:
            await replayer.replay_workflow(history)
        assert len(histories) >= 3
