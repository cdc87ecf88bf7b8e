"""Each step kind, run by the real workflow on the time-skipping server, judged by what a user would see:
tasks with due date and assignee, messages in the outbox, timeline events, exact instants."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from db.models import Agent, Design, Enrollment, Message, Task, Team, TimelineEvent
from db.session import session_scope
from domain.windows import spread_offset
from services.enrollments import ENROLLMENT_MEMO
from tests.factories import (
    CT,
    add_plan,
    email,
    eventually,
    fires_next_at,
    next_local,
    plan_doc,
    running_worker,
    seed,
    task,
    text,
)
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import RemoveRequest

Sessions = async_sessionmaker[AsyncSession]


class TestRTask1TaskCreatedWhenReached:
    async def test_the_task_appears_on_its_day_with_due_date_and_assignee(self, env: WorkflowEnvironment,
                                                                         sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc(
            (0, [email()]),
            (3, [task("Call {contact.first.name}", slot="morning", due_in_days=2, due_time="15:30",
                      description="Ask about {contact.email}", link="https://kw.com/x")])))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 9)
            await h.advance_to(start)
            handle = await h.enroll(plan_id, world.contact_id)
            await eventually(lambda: fires_next_at(handle, start + timedelta(days=3, hours=1)))
            assert len(await h.rows(Message)) == 1
            assert await h.rows(Task) == []  # not at enrollment
            await h.finish(handle)
            (created,) = await h.rows(Task)
            assert created.created_at == start + timedelta(days=3, hours=1)  # day 4, 10:00
            assert created.due_at.astimezone(CT) == (start + timedelta(days=5)).replace(hour=15, minute=30)
            assert (created.name, created.description) == ("Call Dana", "Ask about dana@example.com")
            assert (created.assignee_id, created.priority, created.link) == (world.agent_id, "high",
                                                                             "https://kw.com/x")
            events = [e.detail for e in await h.rows(TimelineEvent, kind="step_executed")]
            assert "Task 'Call Dana' created for Alex Agent" in events


class TestRTask2TaskWindow:
    async def test_a_task_reached_at_20_is_created_at_8_next_morning(self, env: WorkflowEnvironment,
                                                                   sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [task(due_in_days=0)])))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 20)
            await h.advance_to(start)
            await h.finish(await h.enroll(plan_id, world.contact_id))
            (created,) = await h.rows(Task)
            assert created.created_at.astimezone(CT) == (start + timedelta(days=1)).replace(hour=8)
            assert created.due_at.astimezone(CT) == (start + timedelta(days=1)).replace(hour=23, minute=59)


class TestRCall1AndRTxt1TaskKinds:
    async def test_call_and_text_task_steps_create_tasks_of_their_kind(self, env: WorkflowEnvironment,
                                                                      sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [
            task("Call {contact.first.name}", kind="call"),
            {"kind": "text", "mode": "task", "name": "Text {contact.first.name}", "priority": "low"}])))
        async with running_worker(env, sessions) as h:
            await h.run(plan_id, world.contact_id)
            assert [(t.kind, t.name) for t in await h.rows(Task)] == [("call", "Call Dana"), ("text", "Text Dana")]
            assert await h.rows(Message) == []


class TestRTxt3SmsWindow:
    async def test_a_text_due_at_20_central_goes_out_next_day_between_10_and_14(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("Hi {contact.first.name}!")])))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 20)
            await h.advance_to(start)
            handle = await h.enroll(plan_id, world.contact_id)
            expected = (start + timedelta(days=1)).replace(hour=10) + spread_offset(handle.id)
            assert 10 <= expected.hour < 14
            await eventually(lambda: fires_next_at(handle, expected))
            await h.advance_to(expected - timedelta(minutes=1))
            assert await h.rows(Message) == []  # held: nothing at 20:00, nothing before its slot
            await h.finish(handle)
            (sent,) = await h.rows(Message)
            assert (sent.created_at, sent.body, sent.to_address) == (expected, "Hi Dana!", "+15125550199")


class TestRComp1TheWindowHoldsWhateverTheSlots:
    async def test_an_evening_slot_moved_to_22_does_not_carry_a_text_out_of_the_window(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions, agent={"slot_times": {"evening": "22:00"}})
        plan_id = await add_plan(sessions, world, plan_doc((0, [email("At 22", slot="evening"),
                                                               text("Hi", slot="evening")])))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 9)
            await h.advance_to(start)
            await h.finish(await h.enroll(plan_id, world.contact_id))
            email_sent, text_sent = await h.rows(Message)
            assert email_sent.created_at.astimezone(CT).hour == 22  # the slot moved; an email follows it (R-EMAIL-2)
            next_day = start + timedelta(days=1)
            assert next_day.replace(hour=10) <= text_sent.created_at.astimezone(CT) < next_day.replace(hour=14)


class TestRTxt2DynamicTexts:
    async def test_each_repeat_sends_the_next_message(self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        dynamic = text(message_type="dynamic", messages=["one {contact.first.name}", "two", "three"])
        static = text("same every time")
        plan_id = await add_plan(sessions, world, plan_doc((0, [dynamic, static]),
                                                           repeat={"times": 3, "delay_days": 1}))
        async with running_worker(env, sessions) as h:
            result = await h.run(plan_id, world.contact_id)
            bodies = [m.body for m in await h.rows(Message)]
            assert bodies == ["one Dana", "same every time", "two", "same every time", "three", "same every time",
                              "one Dana", "same every time"]
            assert (result.status, result.repeat) == ("completed", 3)


class TestREmail1And4Emails:
    async def test_a_simple_email_carries_unsubscribe_link_and_postal_address(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [email("Hi {contact.first.name}")])))
        async with running_worker(env, sessions) as h:
            await h.run(plan_id, world.contact_id)
            (sent,) = await h.rows(Message)
            assert (sent.channel, sent.subject, sent.status, sent.from_address) == (
                "email", "Hi Dana", "recorded", "alex@example.com")
            assert "Hi Dana, it's Alex." in sent.body
            assert "1 Main St, Austin TX 78701" in sent.body
            assert f"/unsubscribe/{world.contact_id}." in sent.body

    async def test_a_step_saved_without_a_copy_sends_the_library_design_with_fields_filled(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        async with session_scope(sessions) as session:
            session.add(Design(id="ds_1", team_id=world.team_id, name="Market", subject="Market",
                               html="<h1>Hello {contact.first.name}</h1><p>Prices rose.</p>"))
        step = {"kind": "email", "mode": "design", "subject": "Market news", "design_id": "ds_1"}
        plan_id = await add_plan(sessions, world, plan_doc((0, [step])))
        async with running_worker(env, sessions) as h:
            await h.run(plan_id, world.contact_id)
            (sent,) = await h.rows(Message)
            assert sent.body.startswith("Hello Dana\nPrices rose.")

    async def test_a_step_saved_without_a_copy_whose_design_is_gone_fails_and_the_plan_moves_on(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        step = {"kind": "email", "mode": "design", "subject": "Market news", "design_id": "ds_gone"}
        plan_id = await add_plan(sessions, world, plan_doc((0, [step, task()])))
        async with running_worker(env, sessions) as h:
            result = await h.run(plan_id, world.contact_id)
            assert await h.rows(Message) == []
            (failed,) = await h.rows(TimelineEvent, kind="step_failed")
            assert failed.detail == "Email not sent: design ds_gone no longer exists"
            assert (len(await h.rows(Task)), result.status) == (1, "completed")

    async def test_an_unsubscribed_contact_gets_no_plan_email(self, env: WorkflowEnvironment,
                                                             sessions: Sessions) -> None:
        world = await seed(sessions, contact={"unsubscribed": True})
        plan_id = await add_plan(sessions, world, plan_doc((0, [email(), task()])))
        async with running_worker(env, sessions) as h:
            await h.run(plan_id, world.contact_id)
            assert await h.rows(Message) == []
            (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
            assert skipped.detail == "Email not sent: the contact unsubscribed from plan email"
            assert len(await h.rows(Task)) == 1  # the plan moved on


class TestREmail4PostalAddress:
    async def test_without_an_address_the_email_fails_with_the_fix_not_retried_and_the_plan_moves_on(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions, team={"postal_address": None}, agent={"postal_address": "   "})
        design = {"kind": "email", "mode": "design", "subject": "Market", "html": "<p>Hi {contact.first.name}</p>"}
        plan_id = await add_plan(sessions, world, plan_doc((0, [email(), design, task()])))
        async with running_worker(env, sessions) as h:
            await h.advance_to(await next_local(h, 11))
            handle = await h.enroll(plan_id, world.contact_id)
            result = await h.finish(handle)
            assert await h.rows(Message) == []  # neither the simple nor the design email went out
            failed = await h.rows(TimelineEvent, kind="step_failed")
            reason = ("Email not sent: neither Alex Agent nor the team has a postal address, which every email must "
                      "carry (R-EMAIL-4); set one with PATCH /settings (postal_address, or team_postal_address for "
                      "the whole team); it will not be retried")
            assert [(e.detail, (e.data or {}).get("error")) for e in failed] == [(reason, "PostalAddressMissing")] * 2
            assert (len(await h.rows(Task)), result.status) == (1, "completed")  # the next step ran
            history = await handle.fetch_history()
            assert [e for e in history.events if e.HasField("activity_task_started_event_attributes")
                    and e.activity_task_started_event_attributes.attempt > 1] == []  # not retried

    async def test_the_agents_own_address_wins_over_the_teams(self, env: WorkflowEnvironment,
                                                             sessions: Sessions) -> None:
        world = await seed(sessions, agent={"postal_address": "9 Oak Ave, Austin TX 78702"})
        plan_id = await add_plan(sessions, world, plan_doc((0, [email()])))
        async with running_worker(env, sessions) as h:
            await h.run(plan_id, world.contact_id)
            (sent,) = await h.rows(Message)
            assert "9 Oak Ave, Austin TX 78702" in sent.body
            assert "1 Main St" not in sent.body


class TestREmail2NoSendWindow:
    async def test_an_email_due_at_22_30_goes_at_once_while_the_text_beside_it_waits_for_morning(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc(
            (0, [email("Tonight"), text("Hi {contact.first.name}")]), (1, [email("Next evening", slot="evening")])))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 22, 30)
            await h.advance_to(start)
            await h.finish(await h.enroll(plan_id, world.contact_id))
            # To the minute: an email goes when its step is reached, a few milliseconds of real time after.
            sent = [(m.channel, m.subject, m.created_at.astimezone(CT).replace(second=0, microsecond=0))
                    for m in await h.rows(Message)]
            next_day = start + timedelta(days=1)
            assert sent[0] == ("email", "Tonight", start)  # not held to any window
            assert sent[1][0] == "sms"
            assert next_day.replace(hour=10, minute=0) <= sent[1][2] < next_day.replace(hour=14, minute=0)  # it waited
            assert sent[2] == ("email", "Next evening", next_day.replace(hour=17, minute=0))  # its slot, no later
            assert await h.rows(TimelineEvent, kind="step_skipped") == []

    async def test_the_contacts_quiet_hours_hold_texts_not_emails(self, env: WorkflowEnvironment,
                                                                  sessions: Sessions) -> None:
        world = await seed(sessions, contact={"time_zone": "Asia/Tokyo"})  # 11:00 Central is 02:00 in Tokyo
        plan_id = await add_plan(sessions, world, plan_doc((0, [email("Now"), text("Later")])))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 11)
            await h.advance_to(start)
            await h.finish(await h.enroll(plan_id, world.contact_id))
            email_sent, text_sent = await h.rows(Message)
            assert email_sent.channel == "email"
            assert timedelta(0) <= email_sent.created_at - start < timedelta(seconds=5)  # at once: no window
            assert text_sent.channel == "sms"
            assert text_sent.created_at.astimezone(ZoneInfo("Asia/Tokyo")).hour >= 8  # held to the contact's morning


class TestREmail3Quota:
    async def test_over_quota_the_failure_is_on_the_timeline_not_retried_and_the_plan_moves_on(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions, agent={"email_quota_monthly": 1})
        plan_id = await add_plan(sessions, world, plan_doc((0, [email("First"), email("Second"), task()])))
        async with running_worker(env, sessions) as h:
            await h.advance_to(await next_local(h, 11))
            handle = await h.enroll(plan_id, world.contact_id)
            result = await h.finish(handle)
            assert [m.subject for m in await h.rows(Message)] == ["First"]
            (failed,) = await h.rows(TimelineEvent, kind="step_failed")
            assert "reached the monthly limit of 1 emails" in failed.detail
            assert len(await h.rows(Task)) == 1
            assert result.status == "completed"
            history = await handle.fetch_history()
            attempts = [e for e in history.events if e.HasField("activity_task_started_event_attributes")
                        and e.activity_task_started_event_attributes.attempt > 1]
            assert attempts == []  # not retried


class TestRTxt5NoTwilio:
    async def test_a_personal_plan_without_twilio_skips_the_text(self, env: WorkflowEnvironment,
                                                                sessions: Sessions) -> None:
        world = await seed(sessions, agent_twilio=False)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text()])))
        async with running_worker(env, sessions) as h:
            await h.run(plan_id, world.contact_id)
            assert await h.rows(Message) == []
            (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
            assert skipped.detail == "Text not sent: Alex Agent has no Twilio setup"

    async def test_a_team_plan_whose_sender_has_no_twilio_creates_a_text_task_for_them(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        async with session_scope(sessions) as session:  # the team sends texts from the contact's assignee
            team = await session.get(Team, world.team_id)
            assert team is not None
            team.default_text_sender = "contact_assignee"
            agent = await session.get(Agent, world.agent_id)
            assert agent is not None
            agent.twilio_from_number = None
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("Hello")]), team_plan=True))
        async with running_worker(env, sessions) as h:
            await h.run(plan_id, world.contact_id)
            assert await h.rows(Message) == []
            (created,) = await h.rows(Task)
            assert (created.kind, created.assignee_id) == ("text", world.agent_id)


class TestRAdd1AddToPlan:
    async def test_the_contact_is_enrolled_in_the_target_plan_at_the_steps_slot(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        target = await add_plan(sessions, world, plan_doc((0, [task("From the target plan")]), name="Target"))
        source = await add_plan(sessions, world, plan_doc(
            (0, [{"kind": "add_to_plan", "time_of_day": "afternoon", "target_plan_id": target}])))
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 9)
            await h.advance_to(start)
            await h.finish(await h.enroll(source, world.contact_id))
            (enrolled,) = await h.rows(Enrollment, plan_id=target)
            assert (enrolled.source, enrolled.started_at) == ("add_to_plan", start.replace(hour=13))
            await h.finish(h.env.client.get_workflow_handle_for(EnrollmentWorkflow.run, enrolled.workflow_id))
            assert [t.name for t in await h.rows(Task)] == ["From the target plan"]

    async def test_a_contact_already_in_the_target_plan_gets_only_a_timeline_event(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        target = await add_plan(sessions, world, plan_doc((0, [task()]), (30, [task()])), name="Target")
        source = await add_plan(sessions, world, plan_doc((1, [{"kind": "add_to_plan", "target_plan_id": target}])))
        async with running_worker(env, sessions) as h:
            await h.advance_to(await next_local(h, 9))
            await h.enroll(target, world.contact_id)
            await h.finish(await h.enroll(source, world.contact_id))
            assert len(await h.rows(Enrollment, plan_id=target)) == 1
            (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
            assert skipped.detail == "Not added to another plan: Dana Smith is already in plan 'Target'"

    async def test_an_earlier_enrollment_still_closing_is_waited_for_then_the_contact_is_added(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        """The contact's earlier enrollment in the target has written its end but its run has not closed (the
        workflow id is the same): the step tries again until it has, then adds the contact with a run of its own,
        instead of calling the closing run the new one's and leaving the new row without a workflow."""
        world = await seed(sessions)
        target = await add_plan(sessions, world, plan_doc((0, [task()]), (30, [task()])), name="Target")
        source = await add_plan(sessions, world, plan_doc((1, [{"kind": "add_to_plan", "target_plan_id": target}])))
        async with running_worker(env, sessions) as h:
            await h.advance_to(await next_local(h, 9))
            earlier = await h.enroll(target, world.contact_id)
            await eventually(lambda: h.has(Task))  # its day-1 task made, it waits for day 30
            async with session_scope(sessions) as session:  # its end written, its run still open
                (row,) = (await session.scalars(select(Enrollment).where(Enrollment.plan_id == target))).all()
                row.status, row.end_reason = "completed", "completed"
            adding = await h.enroll(source, world.contact_id)
            await h.env.sleep(timedelta(days=1, minutes=5))  # the add step has tried, and waits to try again
            await earlier.signal(EnrollmentWorkflow.remove, RemoveRequest(reason="removed"))
            await h.finish(earlier)
            await h.finish(adding)
            rows = await h.rows(Enrollment, plan_id=target)
            assert sorted((r.source, r.status) for r in rows) == [("add_to_plan", "active"), ("manual", "completed")]
            added = next(r for r in rows if r.source == "add_to_plan")
            run = await h.env.client.get_workflow_handle(added.workflow_id).describe()
            assert (await run.memo())[ENROLLMENT_MEMO] == added.id
            (executed,) = [e for e in await h.rows(TimelineEvent, kind="step_executed") if e.plan_id == source]
            assert executed.detail == "Added to plan 'Target'"
