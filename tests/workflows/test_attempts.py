"""Every attempt to send re-checks the rules (R-TXT-3, R-TXT-4, R-ENR-2, R-TXT-5): a retry outside the window
waits for the next opening; STOP or a removal during a retry means nothing is sent; texts whose windows never
meet are skipped with the reason and the plan goes on. Run by the real workflow against a loopback Twilio."""

from __future__ import annotations

import copy
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.models import Agent, Contact, Message, PlanVersion, Task, Team, TimelineEvent
from db.queries import emails_sent_in_month
from db.session import session_scope
from tests.factories import (
    CT,
    Harness,
    World,
    add_plan,
    email,
    eventually,
    live_worker,
    plan_doc,
    running_worker,
    seed,
    task,
    text,
)
from tests.fakes import FakeSendGrid, FakeTwilio
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import EnrollmentResult, RemoveRequest

Sessions = async_sessionmaker[AsyncSession]
Handle = WorkflowHandle[EnrollmentWorkflow, EnrollmentResult]


async def at_central(h: Harness, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    instant = datetime(year, month, day, hour, minute, tzinfo=CT)
    await h.advance_to(instant)
    return instant


async def seed_team_sender_without_twilio(sessions: Sessions) -> World:
    """A team whose texts go from the contact's assignee, who has no Twilio number: R-TXT-5's text task case."""
    world = await seed(sessions)
    async with session_scope(sessions) as session:
        team = await session.get(Team, world.team_id)
        agent = await session.get(Agent, world.agent_id)
        assert team is not None
        assert agent is not None
        team.default_text_sender, agent.twilio_from_number = "contact_assignee", None
    return world


async def attempts_failed(handle: Handle) -> int:
    history = await handle.fetch_history()
    return sum(1 for e in history.events if e.HasField("activity_task_failed_event_attributes"))


class TestRTxt3RetryInsideTheWindow:
    async def test_a_text_due_1850_whose_provider_is_down_until_1905_goes_out_in_the_next_days_window(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("Evening check-in")])))
        twilio.go_down(500)
        async with live_worker(env, sessions, twilio) as h:
            start = await at_central(h, 2027, 2, 3, 18, 50)
            handle = await h.enroll(plan_id, world.contact_id)
            await env.sleep(timedelta(minutes=15))  # 19:05: every attempt so far met the outage
            assert await attempts_failed(handle) >= 3
            progress = await handle.query(EnrollmentWorkflow.progress)
            assert progress.next_fire_at is not None
            held = progress.next_fire_at.astimezone(CT)
            assert held.date() == (start + timedelta(days=1)).date()
            assert time(10) <= held.time() < time(14)
            twilio.come_back()
            await h.finish(handle)
        assert [m["body"] for m in twilio.messages] == ["Evening check-in"]
        (sent,) = await h.rows(TimelineEvent, kind="step_executed")
        assert sent.at.astimezone(CT) == held  # sent at the held instant of the next day's window, not 19:05


class TestRTxt4StopDuringARetry:
    async def test_a_contact_who_texts_stop_while_the_send_is_retried_is_not_texted(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("Are you still looking?"), task("Call back")])))
        twilio.go_down(503)
        async with live_worker(env, sessions, twilio) as h:
            await at_central(h, 2027, 2, 3, 11)
            handle = await h.enroll(plan_id, world.contact_id)
            await env.sleep(timedelta(seconds=40))  # attempts at 0, 2, 6, 14 and 30 s: the opt-out comes between two
            assert await attempts_failed(handle) >= 2
            async with session_scope(sessions) as session:  # what the STOP webhook writes
                contact = await session.get(Contact, world.contact_id)
                assert contact is not None
                contact.opted_out = True
            twilio.come_back()
            assert (await h.finish(handle)).status == "completed"
        assert twilio.messages == []
        (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
        assert skipped.detail == "Text not sent: the contact opted out of texts"
        text_row = next(m for m in await h.rows(Message) if m.channel == "sms")
        assert text_row.status == "cancelled"
        assert [t.name for t in await h.rows(Task)] == ["Call back"]  # the plan went on


class TestREnr2RemovalDuringARetry:
    async def test_a_contact_removed_while_the_send_is_retried_gets_nothing(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("One more thing")])))
        twilio.go_down(500)
        async with live_worker(env, sessions, twilio) as h:
            await at_central(h, 2027, 2, 3, 11)
            handle = await h.enroll(plan_id, world.contact_id)
            await env.sleep(timedelta(seconds=40))  # attempts at 0, 2, 6, 14 and 30 s: the removal comes between two
            assert await attempts_failed(handle) >= 2
            done = await handle.execute_update(EnrollmentWorkflow.remove_now, RemoveRequest(detail="by Alex"))
            assert (done.status, done.reason) == ("removed", "removed")
            twilio.come_back()
            await env.sleep(timedelta(hours=2))
            assert (await h.finish(handle)).status == "removed"
        assert twilio.messages == []
        assert await h.rows(TimelineEvent, kind="step_executed") == []


    async def test_a_removal_while_the_provider_already_has_the_text_records_it_once_and_ends(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("In flight"), task("After")])))
        twilio.delay_next_response(2.0)  # Twilio has accepted the message; its answer is slow
        async with live_worker(env, sessions, twilio, timeout=10.0) as h:
            await at_central(h, 2027, 2, 3, 11)
            handle = await h.enroll(plan_id, world.contact_id)
            await eventually(lambda: _has_post(twilio))
            done = await handle.execute_update(EnrollmentWorkflow.remove_now, RemoveRequest(detail="by Alex"))
            assert (done.status, done.reason) == ("removed", "removed")
        assert [m["body"] for m in twilio.messages] == ["In flight"]
        (row,) = await h.rows(Message)
        assert (row.status, row.provider_id) == ("sent", twilio.messages[0]["sid"])  # recorded, never sent again
        assert await h.rows(Task) == []  # nothing after the removal


async def _has_post(twilio: FakeTwilio) -> bool:
    return any(method == "POST" for method, _ in twilio.requests)


class TestREmail3AnEmailGivenUpIsNotCounted:
    async def test_an_email_sendgrid_never_received_in_a_day_of_attempts_fails_and_leaves_the_quota_alone(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [email("Never"), task("After")])))
        sendgrid.close()  # refuses connections: no attempt ever reaches it
        async with live_worker(env, sessions, twilio, sendgrid) as h:
            start = await at_central(h, 2027, 2, 3, 11)
            assert (await h.finish(await h.enroll(plan_id, world.contact_id))).status == "completed"
        (failed,) = await h.rows(TimelineEvent, kind="step_failed")
        assert failed.detail.startswith("Email 'Never' failed after a day of attempts: Email provider unavailable: "
                                        "sendgrid unreachable")
        (row,) = await h.rows(Message)
        assert row.status == "queued"  # never handed over
        async with session_scope(sessions) as session:
            assert await emails_sent_in_month(session, world.agent_id, start) == 0  # R-EMAIL-3, R-TEAM-4
        assert [t.name for t in await h.rows(Task)] == ["After"]  # the plan moved on


class TestRTxt3ContactsWhoseWindowsNeverMeet:
    async def test_kolkata_and_dhaka_in_january_skip_the_text_with_the_reason_and_the_plan_goes_on(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        worlds = {zone_name: await seed(sessions, contact={"time_zone": zone_name})
                  for zone_name in ("Asia/Kolkata", "Asia/Dhaka")}
        async with running_worker(env, sessions) as h:
            await at_central(h, 2027, 1, 12, 11)
            for zone_name, world in worlds.items():
                plan_id = await add_plan(sessions, world, plan_doc((0, [text("Hi"), email("Next")]),
                                                                   (1, [text("Bye")])))
                assert (await h.finish(await h.enroll(plan_id, world.contact_id))).status == "completed"
                events = await h.rows(TimelineEvent, contact_id=world.contact_id)
                skipped = [e.detail for e in events if e.kind == "step_skipped"]
                assert len(skipped) == 2
                assert all(zone_name in d and "do not overlap" in d for d in skipped)
                assert [m.channel for m in await h.rows(Message, contact_id=world.contact_id)] == ["email"]

    async def test_kolkata_in_july_is_texted_inside_both_windows_and_dhaka_is_skipped(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        kolkata = await seed(sessions, contact={"time_zone": "Asia/Kolkata"})
        dhaka = await seed(sessions, contact={"time_zone": "Asia/Dhaka"})
        async with running_worker(env, sessions) as h:
            await at_central(h, 2027, 7, 13, 15)
            for world in (kolkata, dhaka):
                plan_id = await add_plan(sessions, world, plan_doc((0, [text("Namaste"), email("After")])))
                assert (await h.finish(await h.enroll(plan_id, world.contact_id))).status == "completed"
            (sent,) = await h.rows(Message, contact_id=kolkata.contact_id, channel="sms")
            local = sent.created_at.astimezone(ZoneInfo("Asia/Kolkata"))
            assert (local.date().day, time(20, 30) <= local.time() < time(21)) == (14, True)
            assert await h.rows(Message, contact_id=dhaka.contact_id, channel="sms") == []
            assert len(await h.rows(Message, contact_id=dhaka.contact_id, channel="email")) == 1


class TestRTxt5TextTaskInTheTaskWindow:
    async def test_a_team_text_whose_sender_has_no_twilio_becomes_a_task_at_8_next_morning_not_at_18(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed_team_sender_without_twilio(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("Hello")]), team_plan=True))
        async with running_worker(env, sessions) as h:
            start = await at_central(h, 2027, 2, 3, 18)  # inside the SMS window, after the 17:00 task window
            await h.finish(await h.enroll(plan_id, world.contact_id))
            (created,) = await h.rows(Task)
            assert (created.kind, created.assignee_id) == ("text", world.agent_id)
            assert created.created_at.astimezone(CT) == (start + timedelta(days=1)).replace(hour=8)
            (event,) = await h.rows(TimelineEvent, kind="step_executed")
            assert event.detail.endswith("(Alex Agent has no Twilio number)")



class TestRTask1StepsSavedWithBadTaskFields:
    async def test_a_text_task_saved_with_due_time_99_99_fails_at_once_with_the_reason_and_the_plan_moves_on(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        """R-TXT-5's fallback text task of an automated text saved before its task fields were checked (R-TASK-1):
        no task with a due date that cannot be read or a script link, no day of retries."""
        world = await seed_team_sender_without_twilio(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("Hello"), task("Call {contact.first.name}")]),
                                                           team_plan=True))
        async with session_scope(sessions) as session:  # as an older version of the API saved it
            (version,) = (await session.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan_id))).all()
            definition = copy.deepcopy(version.definition)
            definition["days"][0]["steps"][0].update(due_time="99:99", link="javascript:alert(1)")
            version.definition = definition
        async with running_worker(env, sessions) as h:
            await at_central(h, 2027, 2, 3, 11)
            handle = await h.enroll(plan_id, world.contact_id)
            result = await h.finish(handle)
            assert [t.name for t in await h.rows(Task)] == ["Call Dana"]  # only the next step's task
            (failed,) = await h.rows(TimelineEvent, kind="step_failed")
            assert failed.detail == (
                "Text task not created: the step was saved with link: a link must be an http:// or https:// address "
                "(got scheme 'javascript') (R-TASK-1); due_time: a time of day as HH:MM, 00:00 to 23:59 (got '99:99') "
                "(R-TASK-1); correct the step in the plan and save it")
            assert (failed.data or {}).get("error") == "StepInvalid"
            assert result.status == "completed"
            history = await handle.fetch_history()
            assert [e for e in history.events if e.HasField("activity_task_started_event_attributes")
                    and e.activity_task_started_event_attributes.attempt > 1] == []  # failed at once, not retried
            assert sum(e.HasField("activity_task_failed_event_attributes") for e in history.events) == 1
