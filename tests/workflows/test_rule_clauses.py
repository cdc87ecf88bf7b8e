"""Clauses of the step and team rules run by the real enrollment workflow on the time-skipping server: an add-to-plan
step aimed at an inactive plan (R-PLAN-8), a task's contact flag and due time in another zone (R-TASK-1), the
sender's own postal address (R-EMAIL-4), a contact zone that is not a zone (R-TXT-3), every merge field (R-MERGE-1),
and who sends a team plan's steps and through which Twilio account (R-TEAM-2, R-TEAM-3)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.testing import WorkflowEnvironment

from db.models import Agent, Enrollment, Message, Task, TimelineEvent
from db.session import session_scope
from tests.factories import TWILIO_SID, add_plan, email, live_worker, plan_doc, running_worker, seed, task, text
from tests.fakes import FakeTwilio
from tests.workflows.test_attempts import Sessions, at_central

NY = ZoneInfo("America/New_York")
RITA_SID, RITA_TOKEN, RITA_NUMBER = "AC" + "2" * 32, "rita-token", "+15125550122"


async def give_rita_twilio(sessions: Sessions, rainmaker_id: str) -> None:
    """The Rainmaker's own Twilio account, distinct from the agent's (`TWILIO_SID`)."""
    async with session_scope(sessions) as session:
        rita = await session.get(Agent, rainmaker_id)
        assert rita is not None
        rita.twilio_account_sid, rita.twilio_auth_token, rita.twilio_from_number = RITA_SID, RITA_TOKEN, RITA_NUMBER


class TestRPlan8AnInactiveTargetPlan:
    async def test_an_add_to_plan_step_whose_target_is_inactive_enrolls_nothing_and_the_plan_goes_on(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        target = await add_plan(sessions, world, plan_doc((0, [task("From the target")]), name="Target"),
                                active=False)
        source = await add_plan(sessions, world, plan_doc(
            (0, [{"kind": "add_to_plan", "target_plan_id": target}, task("After the add")])))
        async with running_worker(env, sessions) as h:
            result = await h.run(source, world.contact_id)
            assert await h.rows(Enrollment, plan_id=target) == []
            (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
            assert skipped.detail == ("Not added to another plan: plan 'Target' is inactive; "
                                      "activate it to enroll contacts")
            assert [t.name for t in await h.rows(Task)] == ["After the add"]
            assert result.status == "completed"


class TestRTask1ContactTaskAndDueTimeInTheAccountZone:
    async def test_the_contact_task_flag_reaches_the_task_and_1530_is_read_in_new_york(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions, agent={"time_zone": "America/New_York"})
        plan_id = await add_plan(sessions, world, plan_doc((0, [
            task("Send {contact.first.name} the CMA", contact_task=True, due_in_days=1, due_time="15:30"),
            task("Internal note", due_in_days=0)])))
        async with running_worker(env, sessions) as h:
            chicago_ten = await at_central(h, 2027, 2, 3, 10)  # 11:00 in New York: inside the task window
            await h.finish(await h.enroll(plan_id, world.contact_id))
            by_name = {t.name: t for t in await h.rows(Task)}
            flagged, plain = by_name["Send Dana the CMA"], by_name["Internal note"]
            assert (flagged.name, flagged.contact_task, plain.contact_task) == ("Send Dana the CMA", True, False)
            created = flagged.created_at.astimezone(NY)
            assert timedelta(0) <= created - chicago_ten < timedelta(seconds=5)  # when reached: 11:00 New York
            day = created.date() + timedelta(days=1)
            assert flagged.due_at.astimezone(NY) == datetime(day.year, day.month, day.day, 15, 30, tzinfo=NY)
            assert plain.due_at.astimezone(NY) == created.replace(hour=23, minute=59, second=0, microsecond=0)


class TestREmail4TheSendersOwnPostalAddress:
    async def test_the_senders_address_is_printed_instead_of_the_teams(self, env: WorkflowEnvironment,
                                                                       sessions: Sessions) -> None:
        world = await seed(sessions, agent={"postal_address": "9 Elm St, Dallas TX 75201"})
        plan_id = await add_plan(sessions, world, plan_doc((0, [email("Hi")])))
        async with running_worker(env, sessions) as h:
            await h.run(plan_id, world.contact_id)
            (sent,) = await h.rows(Message)
            assert "9 Elm St, Dallas TX 75201" in sent.body
            assert "1 Main St" not in sent.body  # the team's address, set on the seeded team, is not used
            assert f"/unsubscribe/{world.contact_id}." in sent.body


class TestRTxt3AContactZoneThatIsNoZone:
    async def test_mars_olympus_costs_the_text_with_the_reason_and_the_email_and_plan_go_on(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions, contact={"time_zone": "Mars/Olympus"})  # stored before any validation
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("Hi", id="T"), email("Next")]),
                                                           (1, [task("Day 2")])))
        async with running_worker(env, sessions) as h:
            result = await h.run(plan_id, world.contact_id)
            assert result.status == "completed"
            events = await h.rows(TimelineEvent, contact_id=world.contact_id)
            (not_sent,) = [e for e in events if e.kind in ("step_skipped", "step_failed")]
            assert (not_sent.kind, not_sent.step_id, not_sent.detail) == (
                "step_failed", "T",
                "Step could not be scheduled: the contact's time zone 'Mars/Olympus' is not an IANA time zone")
            assert [(m.channel, m.subject) for m in await h.rows(Message)] == [("email", "Next")]
            assert [t.name for t in await h.rows(Task)] == ["Day 2"]


EVERY_FIELD = ("{contact.first.name}|{contact.last.name}|{contact.full.name}|{contact.email}|{contact.phone}|"
               "{agent.first.name}|{agent.last.name}|{agent.full.name}|{agent.email}|{agent.phone}")
EVERY_VALUE = ("Dana|Smith|Dana Smith|dana@example.com|+15125550199|"
               "Alex|Agent|Alex Agent|alex@example.com|+15125550101")


class TestRMerge1EveryField:
    async def test_each_merge_field_renders_its_value_in_an_email_and_a_text(self, env: WorkflowEnvironment,
                                                                            sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [
            email(EVERY_FIELD, body=f"Fields: {EVERY_FIELD}"), text(EVERY_FIELD)])))
        async with running_worker(env, sessions) as h:
            await h.run(plan_id, world.contact_id)
            (sent_email,), (sent_text,) = await h.rows(Message, channel="email"), await h.rows(Message, channel="sms")
            assert sent_email.subject == EVERY_VALUE
            assert f"Fields: {EVERY_VALUE}" in sent_email.body
            assert sent_text.body == EVERY_VALUE
            assert "{" not in sent_email.body + sent_text.body


def team_steps(assignee: str | None = None) -> list[dict[str, Any]]:
    """A task, a call, an email and a text, each naming who it is for in its own words."""
    who = {"assignee": assignee} if assignee else {}
    tag = assignee or "default"
    return [task(f"Task {tag}", **who), task(f"Call {tag}", kind="call", **who), email(f"Email {tag}", **who),
            text(f"Text {tag}", **who)]


class TestRTeam2WhoATeamPlanStepIsFor:
    async def test_untouched_defaults_mean_the_rainmaker_and_a_step_override_means_the_contacts_assignee(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        await give_rita_twilio(sessions, world.rainmaker_id)
        plan_id = await add_plan(sessions, world, plan_doc(
            (0, team_steps() + team_steps("contact_assignee")), team_plan=True))
        async with running_worker(env, sessions) as h:
            await h.run(plan_id, world.contact_id)
            # Sorted: steps of one instant may share a creation time.
            tasks = sorted((t.name, t.kind, t.assignee_id) for t in await h.rows(Task))
            assert tasks == [("Call contact_assignee", "call", world.agent_id),
                             ("Call default", "call", world.rainmaker_id),
                             ("Task contact_assignee", "task", world.agent_id),
                             ("Task default", "task", world.rainmaker_id)]
            sent = sorted((m.subject or m.body, m.channel, m.agent_id, m.from_address) for m in await h.rows(Message))
            assert sent == [("Email contact_assignee", "email", world.agent_id, "alex@example.com"),
                            ("Email default", "email", world.rainmaker_id, "rita@example.com"),
                            ("Text contact_assignee", "sms", world.agent_id, "+15125550111"),
                            ("Text default", "sms", world.rainmaker_id, RITA_NUMBER)]


class TestRTeam3TextsGoThroughTheDesignatedAgentsTwilioAccount:
    async def test_each_text_is_created_on_its_senders_own_account(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio) -> None:
        world = await seed(sessions)
        await give_rita_twilio(sessions, world.rainmaker_id)
        twilio.add_account(RITA_SID, RITA_TOKEN)
        plan_id = await add_plan(sessions, world, plan_doc(
            (0, [text("From Rita"), text("From Alex", assignee="contact_assignee")]), team_plan=True))
        async with live_worker(env, sessions, twilio) as h:
            await at_central(h, 2027, 2, 3, 11)
            assert (await h.finish(await h.enroll(plan_id, world.contact_id))).status == "completed"
        assert [(m["account_sid"], m["from"], m["to"], m["body"]) for m in twilio.messages] == [
            (RITA_SID, RITA_NUMBER, "+15125550199", "From Rita"),
            (TWILIO_SID, "+15125550111", "+15125550199", "From Alex")]
        assert sorted((m.body, m.agent_id, m.provider_id) for m in await h.rows(Message)) == [
            ("From Alex", world.agent_id, twilio.messages[1]["sid"]),
            ("From Rita", world.rainmaker_id, twilio.messages[0]["sid"])]
