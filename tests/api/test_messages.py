"""Messages over HTTP: a contact's outbound and inbound texts and emails, with status and provider id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from db.models import Message
from db.session import session_scope
from domain.ids import new_id
from tests.api.conftest import Api, Team
from tests.api.test_enrollments import enroll, make_contact, make_plan
from tests.factories import email

AT = datetime(2030, 1, 7, 15, 0, tzinfo=UTC)


async def make_message(api: Api, team: Team, contact_id: str | None, body: str, *, minutes: int = 0,
                       **fields: Any) -> str:
    """An inbound text as the Twilio webhook records it, unless `fields` say otherwise."""
    values: dict[str, Any] = {"direction": "inbound", "channel": "sms", "to_address": "+15125550111",
                              "from_address": "+15125550199", "provider": "twilio", "status": "received",
                              "provider_id": "SM" + "0" * 32, **fields}
    async with session_scope(api.harness.sessions) as session:
        row = Message(id=new_id("ms"), team_id=team.id, contact_id=contact_id, body=body,
                      created_at=AT + timedelta(minutes=minutes), **values)
        session.add(row)
    return row.id


class TestMessageList:
    async def test_a_plan_email_and_the_contacts_reply_newest_first(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (0, [email("Hello {contact.first.name}", id="E")]))
        contact_id = await make_contact(api, team)
        _, handle = await enroll(api, team.member, plan_id, contact_id)
        await api.harness.finish(handle)
        (sent,) = await api.harness.rows(Message)
        reply = await make_message(api, team, contact_id, "Sounds good",
                                   minutes=int((sent.created_at - AT).total_seconds() // 60) + 5)
        await make_message(api, team, await make_contact(api, team, "Other"), "Not Dana's")
        listed = (await api.client.get("/messages", params={"contact_id": contact_id}, headers=team.member)).json()
        assert [m["id"] for m in listed] == [reply, sent.id]
        outbound = listed[1]
        assert {k: outbound[k] for k in ("channel", "direction", "status", "provider", "to_address", "subject",
                                         "plan_id", "step_id", "contact_id")} == {
            "channel": "email", "direction": "outbound", "status": "recorded", "provider": "outbox",
            "to_address": "dana@example.com", "subject": "Hello Dana", "plan_id": plan_id, "step_id": "E",
            "contact_id": contact_id}
        assert outbound["sent_at"] is None  # the outbox records, it sends nothing
        assert "Hi Dana" in outbound["body"]
        assert (listed[0]["direction"], listed[0]["provider_id"]) == ("inbound", "SM" + "0" * 32)

    async def test_the_team_list_is_newest_first_and_limited(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        contact_id = await make_contact(api, team)
        ids = [await make_message(api, team, contact_id, f"m{i}", minutes=i) for i in range(3)]
        await make_message(api, other, await make_contact(api, other), "theirs", minutes=10)
        everything = (await api.client.get("/messages", headers=team.member)).json()
        assert [m["id"] for m in everything] == ids[::-1]
        two = (await api.client.get("/messages", params={"limit": 2}, headers=team.member)).json()
        assert [m["id"] for m in two] == [ids[2], ids[1]]

    async def test_another_teams_contact_is_404_bad_limits_422_no_key_401(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        theirs = await make_contact(api, other)
        await make_message(api, other, theirs, "theirs")
        hidden = await api.client.get("/messages", params={"contact_id": theirs}, headers=team.rainmaker)
        assert (hidden.status_code, hidden.json()["detail"]) == (404, f"contact {theirs} not found")
        for limit in ("0", "501", "many"):
            answer = await api.client.get("/messages", params={"limit": limit}, headers=team.member)
            assert answer.status_code == 422, limit
        assert (await api.client.get("/messages")).status_code == 401
