"""Determinism: recorded histories (signals, an edit, continue-as-new) replay through the current workflow code."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from db.models import Message, Plan
from db.session import session_scope
from services.plans import save_version
from tests.factories import (
    CT,
    add_plan,
    email,
    eventually,
    next_local,
    plan_doc,
    replays,
    run_histories,
    running_worker,
    seed,
    task,
    text,
)
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import EnrollmentInput, PlanChanged, RemoveRequest, ReplyReceived


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

        histories = await run_histories(env, handle.id)
        for history in histories:
            await replays(history)
        assert len(histories) >= 3


HISTORIES = Path(__file__).parent / "histories"


def recorded(name: str) -> WorkflowHistory:
    """A history recorded by earlier code, kept in `histories/` so later code must keep replaying it."""
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


async def test_a_run_started_before_the_first_load_became_local_still_replays() -> None:
    """Issue 11: a run's first context load is a local activity, behind a patch; a run recorded before (its first
    load an activity task) replays through the current code unchanged."""
    history = recorded("enrollment-before-issue-11")
    first_task = [e.event_type for e in history.events[:7]]
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED in first_task
    await replays(history)


async def test_a_run_that_cancelled_a_task_step_on_removal_still_replays() -> None:
    """A removal during a database step no longer asks the server to cancel it (behind a patch); a run recorded when
    it did (its history holds the cancellation request) replays through the current code unchanged."""
    history = recorded("enrollment-removal-cancelled-a-task")
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED in [e.event_type for e in history.events]
    await replays(history)


async def test_a_run_that_asked_for_the_first_load_patch_still_replays() -> None:
    """Runs started between the local first load and `first_load_local` asked `workflow.patched` (a marker and a
    `TemporalChangeVersion` upsert in their first task); with the input's flag unset they replay unchanged."""
    history = recorded("enrollment-first-load-patched")
    assert EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES in [e.event_type for e in history.events[:7]]
    await replays(history)


async def test_the_first_context_load_runs_inside_the_first_workflow_task(
        env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Issue 11: starting an enrollment costs the server one workflow task, which loads the context (a local activity,
    recorded as a marker) and starts the wait for the first step; no activity task, no second workflow task."""
    world = await seed(sessions)
    plan_id = await add_plan(sessions, world, plan_doc((7, [task()])))
    async with running_worker(env, sessions) as h:
        handle = await h.enroll(plan_id, world.contact_id)

        async def waiting() -> bool:
            events = [e.event_type for e in (await handle.fetch_history()).events]
            return EventType.EVENT_TYPE_TIMER_STARTED in events

        await eventually(waiting)
        history = (await handle.fetch_history()).events
        events = [e.event_type for e in history]
        assert events.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 1
        assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in events
        assert events.count(EventType.EVENT_TYPE_MARKER_RECORDED) == 1  # the local activity's; no patch marker
        upserted = [set(e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
                    for e in history if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES]
        assert upserted == [{"NextStep", "NextStepAt"}]  # the next step for the UI; no TemporalChangeVersion
        await replays(await handle.fetch_history())


async def test_a_repeat_recorded_when_a_held_step_moved_the_next_pass_still_replays() -> None:
    """R-PLAN-7: a pass's start no longer moves to the date its held last step went out. Earlier code recorded both
    runs of an enrollment enrolled at 20:00 in "email; a day later a text" repeating after 0 days: the first run's
    continue-as-new carries a cursor dated a day late, and the second run waits on timers computed from it. Neither
    replays differently: the new date reaches only the input of the continue-as-new, which replay does not compare,
    and a run started from an old input keeps the dates that input gives it."""
    first, second = (recorded(f"enrollment-repeat-after-held-text-pass-{n}") for n in (1, 2))
    boundary = first.events[-1]
    assert boundary.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    (carried,) = await pydantic_data_converter.decode(
        boundary.workflow_execution_continued_as_new_event_attributes.input.payloads, [EnrollmentInput])
    assert carried.cursor is not None
    # The old code's pass 2 started when the held text went (11:23 the next morning), not on day 2's date at 20:00.
    assert carried.cursor.pass_started_at == carried.cursor.floor
    assert carried.cursor.pass_started_at.astimezone(CT).time() != carried.cursor.wall_clock
    assert EventType.EVENT_TYPE_TIMER_STARTED in [e.event_type for e in second.events]
    await replays(first)
    await replays(second)
