"""Credits are visible (R-TEAM-4): the Rainmaker's report of each agent's email sends this month against their quota
and texts sent, and the quota the Rainmaker sets; counted as the send-time quota check counts (R-EMAIL-3) and
charged to the agent a team plan sends from (R-TEAM-3)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from api.app import create_app
from config import Settings
from db.models import Agent, Message, Task, TimelineEvent
from db.queries import emails_sent_in_month
from db.session import session_scope
from domain.credits import utc_month
from domain.ids import new_id
from tests.api.conftest import Api, Team
from tests.api.test_enrollments import Handle, enroll, make_contact, make_plan
from tests.factories import CT, email, eventually, task, text

AGENT_NUMBER = "+15125550111"


async def mid_month(api: Api) -> datetime:
    """11:00 Chicago on the 10th of next month, where the clock now stands: every send of a test falls in one month."""
    _, end = utc_month(await api.harness.env.get_current_time())
    instant = datetime(end.year, end.month, 10, 11, tzinfo=CT)
    await api.harness.advance_to(instant)
    return instant


async def credits(api: Api, headers: dict[str, str], **params: str) -> dict[str, Any]:
    answer = await api.client.get("/reports/credits", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def lines(api: Api, team: Team, **params: str) -> dict[str, dict[str, Any]]:
    """The report's lines by who they are: `rita` (the Rainmaker) and `alex` (the member)."""
    names = {team.rainmaker_id: "rita", team.member_id: "alex"}
    return {names[line["agent_id"]]: line for line in (await credits(api, team.rainmaker, **params))["agents"]}


def counts(line: dict[str, Any]) -> tuple[int, int, int]:
    return line["email_sends_this_month"], line["email_quota_monthly"], line["texts_sent_this_month"]


async def set_quota(api: Api, team: Team, agent_id: str, quota: Any) -> Any:
    answer = await api.client.patch(f"/agents/{agent_id}/credits", json={"email_quota_monthly": quota},
                                    headers=team.rainmaker)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def quotas(api: Api) -> dict[str, int]:
    return {agent.id: agent.email_quota_monthly for agent in await api.harness.rows(Agent)}


async def completed(api: Api, handle: Handle) -> None:
    """The plan ran to its end. Last in a test: waiting for the result lets the test server skip time, far."""
    assert (await api.harness.finish(handle)).status == "completed"


async def team_sends_from_the_contacts_assignee(api: Api, team: Team) -> None:
    """R-TEAM-2: the team's emails and texts go from the contact's assigned agent, who has a Twilio number."""
    defaults = await api.client.patch("/settings", headers=team.rainmaker, json={
        "default_email_sender": "contact_assignee", "default_text_sender": "contact_assignee"})
    assert defaults.status_code == 200, defaults.text
    number = await api.client.patch("/settings", headers=team.member, json={"twilio_from_number": AGENT_NUMBER})
    assert number.status_code == 200, number.text


async def write_messages(api: Api, team: Team, rows: list[tuple[str, str, str, str, datetime]]) -> None:
    """(agent id, channel, direction, status, created_at) rows, as the activities and webhooks write them."""
    async with session_scope(api.harness.sessions) as session:
        session.add_all(Message(id=new_id("msg"), team_id=team.id, agent_id=agent_id, channel=channel,
                                direction=direction, status=status, to_address="dana@example.com",
                                from_address="agent@example.com", body="Hi", provider="outbox", created_at=at)
                        for agent_id, channel, direction, status, at in rows)


class TestRTeam4TheReportCountsWhatEachAgentSent:
    async def test_a_team_plans_email_and_text_count_for_the_contacts_assignee_an_override_for_the_rainmaker(
            self, api: Api) -> None:
        team = await api.team()
        await team_sends_from_the_contacts_assignee(api, team)
        plan_id = await make_plan(api, team, (0, [email("For Alex"), text("Hi {contact.first.name}"),
                                                  email("From Rita", assignee="rainmaker")]),
                                  owner_id=team.rainmaker_id, team_plan=True)
        contact_id = await make_contact(api, team)  # assigned to Alex, the member
        assert {counts(line) for line in (await lines(api, team)).values()} == {(0, 5000, 0)}
        await mid_month(api)  # 11:00 Central: inside the text window
        _, handle = await enroll(api, team.member, plan_id, contact_id)
        await eventually(lambda: api.harness.has(TimelineEvent, 3, kind="step_executed"))

        report = await lines(api, team)
        assert counts(report["alex"]) == (1, 5000, 1)
        assert counts(report["rita"]) == (1, 5000, 0)
        sent = {(m.channel, m.subject): m.agent_id for m in await api.harness.rows(Message, direction="outbound")}
        assert sent == {("email", "For Alex"): team.member_id, ("sms", None): team.member_id,
                        ("email", "From Rita"): team.rainmaker_id}
        await completed(api, handle)

    async def test_the_counts_are_the_send_time_quota_counts_for_the_current_utc_month(self, api: Api) -> None:
        """Only outbound messages handed to a provider or the outbox, created this calendar month (UTC), count; the
        report's email figure is exactly what the quota check (`emails_sent_in_month`) finds at this instant."""
        team = await api.team()
        now = await mid_month(api)
        start, end = utc_month(now)
        alex, rita = team.member_id, team.rainmaker_id
        await write_messages(api, team, [
            (alex, "email", "outbound", "recorded", start),  # counts: the first instant of the month
            (alex, "email", "outbound", "sending", now),  # counts: handed to the provider, answer pending
            (alex, "email", "outbound", "queued", now),  # not handed over (an attempt that never reached it)
            (alex, "email", "outbound", "unconfirmed", now),  # counts: it may have gone
            (alex, "email", "outbound", "failed", now),  # refused by the provider: not sent
            (alex, "email", "outbound", "cancelled", now),  # stopped before the provider had it
            (alex, "email", "inbound", "received", now),  # a reply, not a send
            (alex, "email", "outbound", "sent", start - timedelta(microseconds=1)),  # last month
            (alex, "email", "outbound", "sent", end),  # next month
            (alex, "sms", "outbound", "delivered", now), (alex, "sms", "outbound", "sent", now),
            (alex, "sms", "outbound", "failed", now), (alex, "sms", "inbound", "received", now),
            (rita, "email", "outbound", "delivered", now), (rita, "sms", "outbound", "sent", start - timedelta(days=3)),
        ])
        body = await credits(api, team.rainmaker)
        assert (body["month"], body["from"], body["to"]) == (
            start.strftime("%Y-%m"), start.isoformat().replace("+00:00", "Z"), end.isoformat().replace("+00:00", "Z"))
        report = await lines(api, team)
        assert counts(report["alex"]) == (3, 5000, 2)
        assert counts(report["rita"]) == (1, 5000, 0)
        async with session_scope(api.harness.sessions) as session:
            for who, agent_id in (("alex", alex), ("rita", rita)):
                assert report[who]["email_sends_this_month"] == await emails_sent_in_month(session, agent_id, now)
        own = (await api.client.get("/settings", headers=team.member)).json()  # what Alex sees of it
        assert (own["emails_sent_this_month"], own["email_quota_monthly"]) == (3, 5000)

    async def test_an_earlier_month_on_request_and_a_month_not_written_yyyy_mm_is_422(self, api: Api) -> None:
        team = await api.team()
        start, _ = utc_month(await mid_month(api))
        last_month = start - timedelta(days=1)
        await write_messages(api, team, [(team.member_id, "email", "outbound", "sent", last_month),
                                         (team.member_id, "sms", "outbound", "sent", last_month)])
        earlier = await lines(api, team, month=last_month.strftime("%Y-%m"))
        assert counts(earlier["alex"]) == (1, 5000, 1)
        assert counts((await lines(api, team))["alex"]) == (0, 5000, 0)
        for bad in ("2027-13", "2027-2", "27-02", "2027-02-01", "0000-01", "9999-12", "last"):
            refused = await api.client.get("/reports/credits", params={"month": bad}, headers=team.rainmaker)
            assert refused.status_code == 422, bad
            assert [error["loc"] for error in refused.json()["detail"]] == [["query", "month"]]
            assert "YYYY-MM" in refused.json()["detail"][0]["msg"]


class TestRTeam4WhoIsAboutToRunOut:
    @pytest.mark.parametrize(("quota", "remaining", "percent", "status"), [
        (20, 11, 45.0, "ok"), (10, 1, 90.0, "near_limit"), (9, 0, 100.0, "exhausted"), (6, 0, 150.0, "exhausted"),
        (0, 0, 100.0, "exhausted")])
    async def test_near_limit_from_90_percent_exhausted_once_the_next_email_would_be_refused(
            self, api: Api, quota: int, remaining: int, percent: float, status: str) -> None:
        team = await api.team()
        now = await mid_month(api)
        sent = 0 if quota == 0 else 9
        await write_messages(api, team, [(team.member_id, "email", "outbound", "sent", now)] * sent)
        answer = await set_quota(api, team, team.member_id, quota)
        assert (answer["agent_id"], answer["email_sends_this_month"], answer["email_quota_monthly"]) == (
            team.member_id, sent, quota)
        assert (answer["email_remaining"], answer["email_used_percent"], answer["email_status"]) == (
            remaining, percent, status)
        assert (await lines(api, team))["alex"] == answer
        assert (await lines(api, team))["rita"]["email_status"] == "ok"


class TestRTeam4OnlyTheRainmaker:
    async def test_a_member_gets_403_naming_the_rule_on_both_and_changes_nothing(self, api: Api) -> None:
        team = await api.team()
        before = await quotas(api)
        report = await api.client.get("/reports/credits", headers=team.member)
        for agent_id in (team.member_id, team.rainmaker_id):
            change = await api.client.patch(f"/agents/{agent_id}/credits", json={"email_quota_monthly": 9},
                                             headers=team.member)
            assert change.status_code == 403
            assert "R-TEAM-4" in change.json()["detail"]
        assert report.status_code == 403
        assert "R-TEAM-4" in report.json()["detail"]
        assert await quotas(api) == before

    async def test_another_teams_or_an_unknown_agent_is_404_and_nothing_changes(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        before = await quotas(api)
        for agent_id in (other.member_id, other.rainmaker_id, "ag_nobody"):
            answer = await api.client.patch(f"/agents/{agent_id}/credits", json={"email_quota_monthly": 1},
                                            headers=team.rainmaker)
            assert (answer.status_code, answer.json()) == (404, {"detail": f"agent {agent_id} not found"})
        assert await quotas(api) == before
        assert set((await lines(api, team)).keys()) == {"rita", "alex"}  # the other team's agents are not listed

    async def test_the_rainmaker_sets_anyones_quota_their_own_included(self, api: Api) -> None:
        team = await api.team()
        await set_quota(api, team, team.member_id, 1_000_000)
        await set_quota(api, team, team.rainmaker_id, 0)
        assert await quotas(api) == {team.member_id: 1_000_000, team.rainmaker_id: 0}
        settings = (await api.client.get("/settings", headers=team.member)).json()
        assert settings["email_quota_monthly"] == 1_000_000


class TestRTeam4QuotaBounds:
    @pytest.mark.parametrize("body", [
        {"email_quota_monthly": -1}, {"email_quota_monthly": 1_000_001}, {"email_quota_monthly": "5000"},
        {"email_quota_monthly": 50.5}, {"email_quota_monthly": True}, {"email_quota_monthly": None}, {}])
    async def test_a_quota_that_is_not_a_whole_number_from_0_to_a_million_is_422_naming_the_field(
            self, api: Api, body: dict[str, Any]) -> None:
        team = await api.team()
        before = await quotas(api)
        answer = await api.client.patch(f"/agents/{team.member_id}/credits", json=body, headers=team.rainmaker)
        assert answer.status_code == 422
        (error,) = answer.json()["detail"]
        assert (error["loc"], error["rule"]) == (["body", "email_quota_monthly"], "R-TEAM-4")
        assert await quotas(api) == before

    async def test_an_unknown_field_is_422_naming_it(self, api: Api) -> None:
        team = await api.team()
        answer = await api.client.patch(f"/agents/{team.member_id}/credits", headers=team.rainmaker,
                                        json={"email_quota_monthly": 10, "text_quota": 5})
        assert answer.status_code == 422
        assert [error["loc"] for error in answer.json()["detail"]] == [["body", "text_quota"]]
        assert await quotas(api) == {team.member_id: 5000, team.rainmaker_id: 5000}

    def test_the_api_reference_states_the_bounds(self) -> None:
        schema = create_app(Settings(environment="test")).openapi()["components"]["schemas"]["CreditsUpdate"]
        field = schema["properties"]["email_quota_monthly"]
        assert (field["type"], field["minimum"], field["maximum"]) == ("integer", 0, 1_000_000)
        assert schema["required"] == ["email_quota_monthly"]


class TestREmail3TheDesignatedAgentsQuota:
    async def test_the_member_at_quota_gets_the_failure_while_the_rainmakers_email_goes(self, api: Api) -> None:
        team = await api.team()
        await team_sends_from_the_contacts_assignee(api, team)
        await set_quota(api, team, team.member_id, 0)
        plan_id = await make_plan(api, team, (0, [email("For Alex"), email("From Rita", assignee="rainmaker"),
                                                  task()]), owner_id=team.rainmaker_id, team_plan=True)
        contact_id = await make_contact(api, team)
        await mid_month(api)
        _, handle = await enroll(api, team.member, plan_id, contact_id)
        await eventually(lambda: api.harness.has(Task))  # the plan moved on past both emails

        (failed,) = await api.harness.rows(TimelineEvent, contact_id=contact_id, kind="step_failed")
        assert failed.detail == ("Email not sent: Alex Agent reached the monthly limit of 0 emails; "
                                 "it will not be retried")
        timeline = (await api.client.get(f"/contacts/{contact_id}/timeline", headers=team.member)).json()
        assert failed.detail in [event["detail"] for event in timeline]
        assert [m.subject for m in await api.harness.rows(Message, direction="outbound")] == ["From Rita"]
        report = await lines(api, team)
        assert (counts(report["alex"]), report["alex"]["email_status"]) == ((0, 0, 0), "exhausted")
        assert (counts(report["rita"]), report["rita"]["email_remaining"]) == ((1, 5000, 0), 4999)
        await completed(api, handle)

    async def test_raising_the_quota_lets_the_very_next_email_go(self, api: Api) -> None:
        """At quota the second email fails (not retried, the plan goes on); the Rainmaker raises the quota and the
        third email, the next send, goes out from the same agent."""
        team = await api.team()
        await team_sends_from_the_contacts_assignee(api, team)
        await set_quota(api, team, team.member_id, 1)
        plan_id = await make_plan(api, team, (0, [email("First")]), (1, [email("Second")]), (1, [email("Third")]),
                                  owner_id=team.rainmaker_id, team_plan=True)
        contact_id = await make_contact(api, team)
        h = api.harness
        start = await mid_month(api)
        _, handle = await enroll(api, team.member, plan_id, contact_id)
        await h.advance_to(start + timedelta(days=1, hours=1))
        await eventually(lambda: h.has(TimelineEvent, contact_id=contact_id, kind="step_failed"))  # the second
        assert (await lines(api, team))["alex"]["email_status"] == "exhausted"
        raised = await set_quota(api, team, team.member_id, 2)
        assert (raised["email_remaining"], raised["email_status"]) == (1, "ok")
        await h.advance_to(start + timedelta(days=2, hours=1))
        await eventually(lambda: h.has(TimelineEvent, 2, kind="step_executed"))

        sent = await h.rows(Message, direction="outbound")
        assert [(m.subject, m.agent_id) for m in sent] == [("First", team.member_id), ("Third", team.member_id)]
        (failed,) = await h.rows(TimelineEvent, kind="step_failed")
        assert "reached the monthly limit of 1 emails" in failed.detail
        assert counts((await lines(api, team))["alex"]) == (2, 2, 0)
        await completed(api, handle)
        history = await handle.fetch_history()
        assert not [e for e in history.events if e.HasField("activity_task_started_event_attributes")
                    and e.activity_task_started_event_attributes.attempt > 1]  # R-EMAIL-3: not retried
