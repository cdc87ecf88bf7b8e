"""R-TEAM-2/3 through the real app: a team plan's steps use the designated agent's credits, resolved when each step
runs, and what comes back goes to that agent and answers the right enrollment."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.api.enums.v1 import EventType

from db.models import Message, Task, TimelineEvent
from tests.api.conftest import Api, Team, answered
from tests.api.test_enrollments import Handle, enroll
from tests.api.test_webhooks import CONTACT_PHONE, SECRET, client_for, inbound_email, text_in
from tests.factories import email, eventually, next_local, task, text

SID = "AC" + "2" * 32
TOKEN = "team-twilio-token"
MEMBER_NUMBER, RAINMAKER_NUMBER = "+15125550111", "+15125550100"


async def team_with_twilio(api: Api, *, member_twilio: bool = True, **defaults: str) -> Team:
    """A team whose Rainmaker (and member, unless said) set up Twilio, with the given team defaults."""
    team = await api.team()
    settings = [(team.rainmaker, RAINMAKER_NUMBER)] + ([(team.member, MEMBER_NUMBER)] if member_twilio else [])
    for headers, number in settings:
        answer = await api.client.patch("/settings", headers=headers, json={
            "twilio_account_sid": SID, "twilio_auth_token": TOKEN, "twilio_from_number": number})
        assert answer.status_code == 200, answer.text
    if defaults:
        answer = await api.client.patch("/settings", headers=team.rainmaker, json=defaults)
        assert answer.status_code == 200, answer.text
    return team


async def team_plan(api: Api, team: Team, *days: tuple[int, list[dict[str, Any]]], name: str = "Team plan",
                    **rules: bool) -> str:
    answer = await api.client.post("/plans", headers=team.rainmaker, json={
        "name": name, "team_plan": True, "days": [{"delay_days": d, "steps": s} for d, s in days]})
    assert answer.status_code == 201, answer.text
    plan_id: str = answer.json()["id"]
    if rules:
        answer = await api.client.put(f"/plans/{plan_id}/removal-rules", headers=team.rainmaker,
                                      json={"on_email_reply": False, "on_text_reply": False, **rules})
        assert answer.status_code == 200, answer.text
    return plan_id


async def contact(api: Api, team: Team, assignee_id: str | None) -> str:
    answer = await api.client.post("/contacts", headers=team.rainmaker, json={
        "first_name": "Dana", "last_name": "Smith", "email": "dana@example.com", "phone": CONTACT_PHONE,
        "assignee_id": assignee_id})
    assert answer.status_code == 201, answer.text
    contact_id: str = answer.json()["id"]
    return contact_id


async def rainmaker_texts(api: Api, delay_days: int) -> tuple[Team, str, str]:
    """A team whose texts go from the Rainmaker (who has no Twilio), its plan texting "from {agent.first.name}" on a
    day `delay_days` after enrollment, and a contact assigned to the member: (team, plan id, contact id)."""
    team = await api.team()
    answered(await api.client.patch("/settings", headers=team.rainmaker,
                                    json={"default_text_sender": "rainmaker"}), 200)
    plan_id = await team_plan(api, team, (delay_days, [text("Team hi {contact.first.name} from {agent.first.name}",
                                                            id="X")]))
    return team, plan_id, await contact(api, team, team.member_id)


async def enroll_at_eleven(api: Api, team: Team, plan_id: str, contact_id: str) -> tuple[str, Handle]:
    await api.harness.advance_to(await next_local(api.harness, 11))
    return await enroll(api, team.member, plan_id, contact_id)


def senders(messages: list[Message]) -> list[tuple[str | None, str, str]]:
    return [(m.step_id, m.agent_id or "", m.from_address) for m in messages]


class TestRTeam3DesignatedAgent:
    async def test_each_step_uses_the_assignee_the_contact_has_when_the_step_runs(self, api: Api) -> None:
        team = await team_with_twilio(api, default_task_assignee="contact_assignee",
                                      default_email_sender="contact_assignee", default_text_sender="contact_assignee")
        plan_id = await team_plan(api, team, (0, [email(id="E1"), text(id="X1"), task(id="T1")]),
                                  (2, [email(id="E2"), text(id="X2"), task(id="T2")]))
        contact_id = await contact(api, team, team.member_id)
        _, handle = await enroll_at_eleven(api, team, plan_id, contact_id)
        h = api.harness
        await eventually(lambda: h.has(Task, 1))
        await eventually(lambda: h.has(Message, 2, direction="outbound"))
        member_email = (await api.client.get("/me", headers=team.member)).json()["agent"]["email"]
        rainmaker_email = (await api.client.get("/me", headers=team.rainmaker)).json()["agent"]["email"]
        # Mid-plan, the contact goes to the Rainmaker: day 3's steps follow the new assignee.
        moved = await api.client.patch(f"/contacts/{contact_id}", headers=team.rainmaker,
                                       json={"assignee_id": team.rainmaker_id})
        assert moved.status_code == 200, moved.text
        assert (await h.finish(handle)).reason == "completed"
        assert senders(await h.rows(Message, direction="outbound")) == [
            ("E1", team.member_id, member_email), ("X1", team.member_id, MEMBER_NUMBER),
            ("E2", team.rainmaker_id, rainmaker_email), ("X2", team.rainmaker_id, RAINMAKER_NUMBER)]
        assert [(t.step_id, t.assignee_id) for t in await h.rows(Task)] == [
            ("T1", team.member_id), ("T2", team.rainmaker_id)]
        tasks = (await api.client.get("/tasks", headers=team.member, params={"assignee_id": team.member_id})).json()
        assert [t["step_id"] for t in tasks] == ["T1"]

    async def test_a_steps_own_setting_overrides_the_team_default(self, api: Api) -> None:
        team = await team_with_twilio(api, default_text_sender="contact_assignee")
        plan_id = await team_plan(api, team, (0, [text("From the lead", id="X", assignee="rainmaker"),
                                                  text("From the assignee", id="Y")]))
        contact_id = await contact(api, team, team.member_id)
        _, handle = await enroll_at_eleven(api, team, plan_id, contact_id)
        await api.harness.finish(handle)
        assert senders(await api.harness.rows(Message, direction="outbound")) == [
            ("X", team.rainmaker_id, RAINMAKER_NUMBER), ("Y", team.member_id, MEMBER_NUMBER)]

    async def test_a_contact_with_no_assignee_falls_back_to_the_rainmaker_with_a_timeline_note(self, api: Api) -> None:
        team = await team_with_twilio(api, default_task_assignee="contact_assignee")
        plan_id = await team_plan(api, team, (0, [task("Call {contact.first.name}", id="T")]))
        contact_id = await contact(api, team, None)
        _, handle = await enroll_at_eleven(api, team, plan_id, contact_id)
        assert (await api.harness.finish(handle)).reason == "completed"
        (created,) = await api.harness.rows(Task)
        assert created.assignee_id == team.rainmaker_id
        (note,) = await api.harness.rows(TimelineEvent, kind="assignee_fallback")
        assert (note.plan_id, note.step_id) == (plan_id, "T")
        assert note.detail == ("Dana Smith has no assigned agent: the task 'Call Dana' goes to the Rainmaker, "
                               "Rita Agent")
        timeline = (await api.client.get(f"/contacts/{contact_id}/timeline", headers=team.member)).json()
        assert "assignee_fallback" in [event["kind"] for event in timeline]

    async def test_a_designated_agent_without_twilio_gets_a_text_task_instead(self, api: Api) -> None:
        """R-TXT-5 on a team plan: the member has no Twilio; the Rainmaker's number is not used in their place."""
        team = await team_with_twilio(api, member_twilio=False, default_text_sender="contact_assignee")
        plan_id = await team_plan(api, team, (0, [text("Hi {contact.first.name}", id="X")]))
        contact_id = await contact(api, team, team.member_id)
        _, handle = await enroll_at_eleven(api, team, plan_id, contact_id)
        assert (await api.harness.finish(handle)).reason == "completed"
        assert await api.harness.rows(Message, direction="outbound") == []
        (created,) = await api.harness.rows(Task)
        assert (created.kind, created.assignee_id, created.step_id) == ("text", team.member_id, "X")
        assert (created.name, created.description) == ("Text Dana Smith", "Hi Dana")


class TestRTeam3RepliesGoToTheDesignatedAgent:
    async def test_a_reply_to_the_assignees_number_is_theirs_and_removes_only_the_plan_that_texted_from_it(
            self, api: Api) -> None:
        team = await team_with_twilio(api, default_text_sender="contact_assignee")
        theirs = await team_plan(api, team, (0, [text("From Alex", id="A1")]), (5, [text("Later", id="A2")]),
                                 name="Assignee texts", on_text_reply=True)
        leads = await team_plan(api, team, (0, [text("From Rita", id="B1", assignee="rainmaker")]),
                                (5, [text("Later", id="B2", assignee="rainmaker")]),
                                name="Rainmaker texts", on_text_reply=True)
        contact_id = await contact(api, team, team.member_id)
        removed_id, removed = await enroll_at_eleven(api, team, theirs, contact_id)
        kept_id, kept = await enroll(api, team.member, leads, contact_id)
        h = api.harness
        await eventually(lambda: h.has(Message, 2, direction="outbound"))
        reply = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": SID, "From": CONTACT_PHONE,
                 "To": MEMBER_NUMBER, "Body": "Yes, call me", "NumMedia": "0"}
        assert (await text_in(api.client, reply, token=TOKEN)).status_code == 200
        assert (await removed.result()).reason == "replied_text"
        (inbound,) = await h.rows(Message, direction="inbound")
        assert (inbound.agent_id, inbound.contact_id) == (team.member_id, contact_id)
        events = (await api.client.get(f"/contacts/{contact_id}/timeline", headers=team.member)).json()
        assert {"removed", "reply_received"} <= {e["kind"] for e in events}
        # The Rainmaker's plan never texted from Alex's number: the reply is not one to it.
        assert (await api.client.get(f"/enrollments/{kept_id}", headers=team.member)).json()["status"] == "active"
        history = [e.event_type for e in (await kept.fetch_history()).events]
        assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED not in history
        assert (await api.client.get(f"/enrollments/{removed_id}", headers=team.member)).json()["status"] == "removed"

    async def test_an_email_reply_to_the_assignee_is_theirs_and_removes_the_plan_that_emailed_from_them(
            self, api: Api) -> None:
        team = await team_with_twilio(api, default_email_sender="contact_assignee")
        theirs = await team_plan(api, team, (0, [email(id="A1")]), (5, [email(id="A2")]),
                                 name="Assignee emails", on_email_reply=True)
        leads = await team_plan(api, team, (0, [email(id="B1", assignee="rainmaker")]),
                                (5, [email(id="B2", assignee="rainmaker")]), name="Rainmaker emails",
                                on_email_reply=True)
        contact_id = await contact(api, team, team.member_id)
        _, removed = await enroll_at_eleven(api, team, theirs, contact_id)
        kept_id, _ = await enroll(api, team.member, leads, contact_id)
        h = api.harness
        await eventually(lambda: h.has(Message, 2, direction="outbound"))
        member = (await api.client.get("/me", headers=team.member)).json()["agent"]
        async with client_for(api, sendgrid_inbound_secret=SECRET) as client:
            answer = await client.post(f"/webhooks/sendgrid/inbound?secret={SECRET}",
                                       **inbound_email(to=f"Alex Agent <{member['email']}>"))
        assert answer.status_code == 200, answer.text
        assert (await removed.result()).reason == "replied_email"
        (inbound,) = await h.rows(Message, direction="inbound")
        assert (inbound.agent_id, inbound.contact_id) == (team.member_id, contact_id)
        assert (await api.client.get(f"/enrollments/{kept_id}", headers=team.member)).json()["status"] == "active"


class TestRTeam2LabelsNameTheDesignatedAgent:
    """R-TEAM-2/3 with R-MERGE-1: a step with no `assignee` is the team default's for its kind, and what a person
    reads about it (progress, the preview) names that agent, as the message or task itself does."""

    async def test_a_text_for_the_rainmaker_reads_and_becomes_rita_s_text_task_though_alex_is_assigned(
            self, api: Api) -> None:
        team, plan_id, contact_id = await rainmaker_texts(api, 1)
        enrollment_id, handle = await enroll_at_eleven(api, team, plan_id, contact_id)
        before = (await api.client.get(f"/enrollments/{enrollment_id}", headers=team.member)).json()
        assert before["next_step_label"] == "text 'Team hi Dana from Rita'"
        (planned,) = answered(await api.client.post(f"/plans/{plan_id}/preview", headers=team.member, json={
            "start_at": before["started_at"], "contact_id": contact_id}), 200)
        assert planned["label"] == "text task for text 'Team hi Dana from Rita'"
        assert (await api.harness.finish(handle)).reason == "completed"
        (created,) = await api.harness.rows(Task)
        assert (created.kind, created.assignee_id, created.description) == ("text", team.rainmaker_id,
                                                                            "Team hi Dana from Rita")

    async def test_each_step_reads_for_its_own_agent_and_sends_from_them(self, api: Api) -> None:
        team = await team_with_twilio(api, default_text_sender="rainmaker", default_task_assignee="contact_assignee")
        plan_id = await team_plan(api, team, (1, [
            text("Hi {contact.first.name}, {agent.first.name} here", id="X"),
            task("Call {contact.first.name} ({agent.first.name})", id="T"),
            text("{agent.first.name} again", id="Y", assignee="contact_assignee")]))
        contact_id = await contact(api, team, team.member_id)
        enrollment_id, handle = await enroll_at_eleven(api, team, plan_id, contact_id)
        started_at = (await api.client.get(f"/enrollments/{enrollment_id}", headers=team.member)).json()["started_at"]
        planned = answered(await api.client.post(f"/plans/{plan_id}/preview", headers=team.member, json={
            "start_at": started_at, "contact_id": contact_id}), 200)
        assert [s["label"] for s in planned] == ["text 'Hi Dana, Rita here'", "task 'Call Dana (Alex)'",
                                                 "text 'Alex again'"]
        live = (await api.client.get(f"/enrollments/{enrollment_id}", headers=team.member)).json()
        assert live["next_step_label"] == "text 'Hi Dana, Rita here'"
        assert (await api.harness.finish(handle)).reason == "completed"
        sent = await api.harness.rows(Message, direction="outbound")
        assert [(m.step_id, m.agent_id, m.body) for m in sent] == [
            ("X", team.rainmaker_id, "Hi Dana, Rita here"), ("Y", team.member_id, "Alex again")]
        (created,) = await api.harness.rows(Task)
        assert (created.assignee_id, created.name) == (team.member_id, "Call Dana (Alex)")
