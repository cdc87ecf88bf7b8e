"""An enrollment's life: removal, opt-out, deactivation, edits, replies, progress — each taking effect at once."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.models import Contact, Enrollment, Message, Plan, Task, TimelineEvent
from db.session import session_scope
from domain.plan import PlanDefinition
from services.enrollments import EnrollmentRefused, request_removal
from services.plans import save_version
from tests.factories import (
    CT,
    Harness,
    add_plan,
    email,
    eventually,
    next_local,
    plan_doc,
    running_worker,
    seed,
    task,
    text,
    waiting_for,
)
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import EnrollmentResult, MarkedRemoval, PlanChanged, RemoveRequest, ReplyReceived

Handle = WorkflowHandle[EnrollmentWorkflow, EnrollmentResult]

Sessions = async_sessionmaker[AsyncSession]


class TestREnr2RemovalMidDelay:
    async def test_a_removed_contact_gets_nothing_more_and_the_enrollment_ends_at_once(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("first")]), (7, [text("second")])))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 11)
            await h.advance_to(start)
            handle = await h.enroll(plan_id, world.contact_id)
            await eventually(lambda: h.has(Message))
            await h.advance_to(start + timedelta(days=3))
            await handle.signal(EnrollmentWorkflow.remove, RemoveRequest(detail="by Alex"))
            result = await h.finish(handle)
            assert (result.status, result.reason) == ("removed", "removed")
            closed = (await handle.describe()).close_time
            assert closed is not None
            assert closed < start + timedelta(days=3, minutes=1)  # ended at once, not at the day-8 wake-up
            assert [m.body for m in await h.rows(Message)] == ["first"]
            (row,) = await h.rows(Enrollment)
            assert (row.status, row.end_reason) == ("removed", "removed")
            (event,) = await h.rows(TimelineEvent, kind="removed")
            assert event.detail == "Dana Smith was removed from the plan 'Test Plan' (by Alex)"


class TestRTxt4OptOut:
    async def test_an_opted_out_contact_gets_no_further_texts_from_any_plan(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        first = await add_plan(sessions, world, plan_doc((0, [text("A1")]), (2, [text("A2")]), name="A"))
        second = await add_plan(sessions, world, plan_doc((0, [text("B1")]), (2, [text("B2"), email()]), name="B"))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 11)
            await h.advance_to(start)
            handles = [await h.enroll(first, world.contact_id), await h.enroll(second, world.contact_id)]
            await eventually(lambda: h.has(Message, 2))
            async with session_scope(sessions) as session:  # the contact replied STOP (the webhook's job)
                contact = await session.get(Contact, world.contact_id)
                assert contact is not None
                contact.opted_out = True
            for handle in handles:
                await h.finish(handle)
            assert sorted(m.body for m in await h.rows(Message) if m.channel == "sms") == ["A1", "B1"]
            skipped = await h.rows(TimelineEvent, kind="step_skipped")
            assert [e.detail for e in skipped] == ["Text not sent: the contact opted out of texts"] * 2
            assert len([m for m in await h.rows(Message) if m.channel == "email"]) == 1  # email is unaffected

    async def test_a_contact_on_the_do_not_call_list_is_never_texted(self, env: WorkflowEnvironment,
                                                                    sessions: Sessions) -> None:
        world = await seed(sessions, contact={"do_not_call": True})
        plan_id = await add_plan(sessions, world, plan_doc((0, [text()])))
        async with running_worker(env, sessions) as h:
            await h.run(plan_id, world.contact_id)
            assert await h.rows(Message) == []
            (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
            assert skipped.detail == "Text not sent: the contact is on the Do-Not-Call list"


class TestRPlan8Deactivation:
    async def test_deactivating_ends_the_enrollment_with_a_timeline_event(self, env: WorkflowEnvironment,
                                                                         sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [task()]), (5, [task()])))
        async with running_worker(env, sessions) as h:
            await h.advance_to(await next_local(h, 11))
            handle = await h.enroll(plan_id, world.contact_id)
            await handle.signal(EnrollmentWorkflow.remove, RemoveRequest(reason="plan_deactivated"))
            result = await h.finish(handle)
            assert result.reason == "plan_deactivated"
            (event,) = await h.rows(TimelineEvent, kind="removed")
            assert event.detail == "Dana Smith left the plan 'Test Plan' because it was deactivated"

    async def test_a_missed_deactivation_still_ends_the_enrollment_at_its_next_run(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [task()]), repeat={"times": "unlimited",
                                                                                  "delay_days": 1}))
        async with running_worker(env, sessions) as h:
            await h.advance_to(await next_local(h, 11))
            handle = await h.enroll(plan_id, world.contact_id)
            await eventually(lambda: h.has(Task))
            async with session_scope(sessions) as session:  # deactivated, but no signal reaches the workflow
                plan = await session.get(Plan, plan_id)
                assert plan is not None
                plan.active = False
            result = await h.finish(handle)
            assert result.reason == "plan_deactivated"
            assert len(await h.rows(Task)) <= 2  # at most the pass already under way when it was deactivated


class TestRPlan9EditedPlan:
    async def test_an_enrolled_contact_follows_the_new_version_from_the_next_step(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        def doc(*days: tuple[int, str, str]) -> PlanDefinition:
            return plan_doc(*((delay, [text(body, slot="morning", id=sid)]) for delay, body, sid in days))

        plan_id = await add_plan(sessions, world, doc((0, "a", "A"), (3, "b", "B"), (3, "c", "C")))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 10)
            await h.advance_to(start - timedelta(hours=1))
            handle = await h.enroll(plan_id, world.contact_id)
            await h.advance_to(start + timedelta(days=1))
            await eventually(lambda: waiting_for(handle, "B"))
            # v2: B's text and delay change (its wait already began: the delay no longer moves it), C is deleted,
            # D is new.
            v2 = doc((0, "a", "A"), (5, "b2", "B"), (7, "d", "D"))
            async with session_scope(sessions) as session:
                plan = await session.get(Plan, plan_id)
                assert plan is not None
                await save_version(session, plan, v2)
            await handle.signal(EnrollmentWorkflow.plan_changed, PlanChanged(version=2))
            await h.finish(handle)
            sent = [(m.body, m.created_at) for m in await h.rows(Message)]
            assert sent == [("a", start), ("b2", start + timedelta(days=3)), ("d", start + timedelta(days=10))]


class TestRRule5ReplyRemoval:
    async def test_only_a_reply_to_this_plans_text_removes_the_contact(self, env: WorkflowEnvironment,
                                                                      sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [task()]), (1, [text("first")]), (4, [text("2nd")])),
                                 on_text_reply=True)
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 11)
            await h.advance_to(start)
            handle = await h.enroll(plan_id, world.contact_id)
            await handle.signal(EnrollmentWorkflow.contact_replied, ReplyReceived(channel="sms"))
            await handle.signal(EnrollmentWorkflow.contact_replied, ReplyReceived(channel="email"))
            await h.advance_to(start + timedelta(days=1, hours=1))
            await eventually(lambda: h.has(Message))
            assert (await handle.query(EnrollmentWorkflow.progress)).status == "active"  # a text before ours
            await handle.signal(EnrollmentWorkflow.contact_replied, ReplyReceived(channel="sms"))
            result = await h.finish(handle)
            assert result.reason == "replied_text"
            assert [m.body for m in await h.rows(Message)] == ["first"]
            (event,) = await h.rows(TimelineEvent, kind="removed")
            assert event.detail == "Dana Smith was removed from the plan 'Test Plan' after replying to its text"

    async def test_without_the_rule_a_reply_changes_nothing(self, env: WorkflowEnvironment,
                                                            sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("first")]), (4, [text("2nd")])))
        async with running_worker(env, sessions) as h:
            await h.advance_to(await next_local(h, 11))
            handle = await h.enroll(plan_id, world.contact_id)
            await eventually(lambda: h.has(Message))
            await handle.signal(EnrollmentWorkflow.contact_replied, ReplyReceived(channel="sms"))
            assert (await h.finish(handle)).reason == "completed"
            assert len(await h.rows(Message)) == 2


class TestREnr4Progress:
    async def test_progress_shows_the_day_the_next_step_its_time_and_what_ran(self, env: WorkflowEnvironment,
                                                                              sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [email("Welcome", id="W")]),
                                                           (7, [task("Follow up", slot="morning", id="F")])))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 11)
            await h.advance_to(start)
            handle = await h.enroll(plan_id, world.contact_id)
            await eventually(lambda: waiting_for(handle, "F"))
            progress = await handle.query(EnrollmentWorkflow.progress)
            assert (progress.status, progress.repeat, progress.day, progress.plan_version) == ("active", 0, 8, 1)
            assert (progress.next_step_id, progress.next_step_kind) == ("F", "task")
            assert progress.next_step_label == "task 'Follow up'"
            # R-PLAN-4: "day 8, morning" is 10:00 on day 8, though the contact was enrolled at 11:00.
            assert progress.next_fire_at == (start + timedelta(days=7)).replace(hour=10)
            assert [(d.step_id, d.outcome) for d in progress.steps_done] == [("W", "executed")]


class TestREnr1OnceAtATime:
    async def test_a_second_enrollment_is_refused_until_the_first_ends(self, env: WorkflowEnvironment,
                                                                      sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [task()])))
        async with running_worker(env, sessions) as h:
            handle = await h.enroll(plan_id, world.contact_id)
            with pytest.raises(EnrollmentRefused, match="Dana Smith is already in plan 'Test Plan'"):
                await h.enroll(plan_id, world.contact_id)
            await h.finish(handle)
            again = await h.enroll(plan_id, world.contact_id)  # the same workflow id, a new enrollment
            assert (await h.finish(again)).status == "completed"
            assert [e.status for e in await h.rows(Enrollment)] == ["completed", "completed"]
            # The second enrollment runs its steps: nothing of the first one's is mistaken for them.
            assert len(await h.rows(Task)) == 2
            assert len(await h.rows(TimelineEvent, kind="completed")) == 2


class TestRPlan4DaylightSaving:
    async def test_ten_oclock_steps_fire_at_ten_local_on_both_sides_of_the_november_change(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc(
            (0, [email("d1", slot="morning")]), (1, [email("d2", slot="morning")]),
            (1, [email("d3", slot="morning")]), (1, [email("d4", slot="morning")])))
        async with running_worker(env, sessions) as h:
            now = (await env.get_current_time()).astimezone(CT)
            year = now.year if (now.month, now.day) < (11, 1) else now.year + 1
            first_sunday = next(datetime(year, 11, d, tzinfo=CT) for d in range(1, 8)
                                if datetime(year, 11, d).weekday() == 6)
            await h.advance_to((first_sunday - timedelta(days=2)).replace(hour=8))
            await h.finish(await h.enroll(plan_id, world.contact_id))
            fired = [m.created_at.astimezone(CT) for m in await h.rows(Message)]
            assert [f.time() for f in fired] == [time(10)] * 4
            assert [f.utcoffset() for f in fired] == [timedelta(hours=-5)] * 2 + [timedelta(hours=-6)] * 2


async def welcomed_then_marked(h: Harness, mark: MarkedRemoval,
                               *later: tuple[int, list[dict[str, Any]]]) -> tuple[datetime, Handle]:
    """Enrolled at 11:00 in a plan that emails at once and again on day 3 (then `later`); once the welcome is out,
    the row is marked as the API marks it, and the workflow is not told."""
    world = await seed(h.sessions)
    plan_id = await add_plan(h.sessions, world, plan_doc((0, [email("Welcome")]), (3, [email("Follow-up")]), *later))
    start = await next_local(h, 11)
    await h.advance_to(start)
    handle = await h.enroll(plan_id, world.contact_id)
    await eventually(lambda: h.has(Message))
    async with session_scope(h.sessions) as session:
        await request_removal(session, mark, Enrollment.contact_id == world.contact_id)
    return start, handle


class TestREnr2AMarkWithoutItsSignalStillEnds:
    """A removal or a reply is marked on the row before the workflow is told; when the telling never arrives (the
    API could not reach Temporal), the next step finds the mark, sends nothing and the enrollment ends for it."""

    @pytest.mark.parametrize(("mark", "detail"), [
        ("replied_email", "Dana Smith was removed from the plan 'Test Plan' after replying to its email"),
        ("removed", "Dana Smith was removed from the plan 'Test Plan'"),
    ])
    async def test_the_next_step_skips_and_the_enrollment_ends_with_the_marks_reason(
            self, env: WorkflowEnvironment, sessions: Sessions, mark: MarkedRemoval, detail: str) -> None:
        async with running_worker(env, sessions) as h:
            start, handle = await welcomed_then_marked(h, mark, (5, [task("Call")]))
            await h.advance_to(start + timedelta(days=3, hours=1))
            result = await h.finish(handle)
            assert (result.status, result.reason) == ("removed", mark)
        assert [m.subject for m in await h.rows(Message)] == ["Welcome"]
        (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
        assert skipped.detail == f"Email not sent: the contact left the plan ({mark})"
        (row,) = await h.rows(Enrollment)
        assert (row.status, row.end_reason) == ("removed", mark)
        (event,) = await h.rows(TimelineEvent, kind="removed")
        assert event.detail == detail
        assert await h.rows(Task) == []  # the day-5 task never came

    async def test_a_removal_by_hand_found_by_a_step_first_still_says_who_removed_the_contact(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        """The step finds the mark, then the removal's own request comes: the end waits for it and names the
        person, instead of ending nameless in the moment between the mark and the request."""
        async with running_worker(env, sessions) as h:
            _, handle = await welcomed_then_marked(h, "removed")
            follow_up = (await handle.query(EnrollmentWorkflow.progress)).next_fire_at
            assert follow_up is not None
            await h.advance_to(follow_up)  # no further: the wait for the request runs on the clock from here
            await eventually(lambda: h.has(TimelineEvent, kind="step_skipped"))
            await handle.signal(EnrollmentWorkflow.remove, RemoveRequest(detail="by Alex"))
            result = await h.finish(handle)
            assert (result.status, result.reason) == ("removed", "removed")
        (event,) = await h.rows(TimelineEvent, kind="removed")
        assert event.detail == "Dana Smith was removed from the plan 'Test Plan' (by Alex)"
        assert [m.subject for m in await h.rows(Message)] == ["Welcome"]
