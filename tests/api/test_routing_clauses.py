"""Lead routing clauses through `POST /leads` and the offer endpoints of the real app: a route's hours read in the
team's zone at the lead's arrival (R-ROUTE-1/2), round robin across leads (R-ROUTE-6), passing down the line to the
pool (R-OFFER-2), each offer's text and email, and an alert that fails (R-OFFER-4), a claimed pool lead leaving the
pool (R-POOL-1)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from db.models import Message
from tests.api.conftest import ADMIN, Api, Team, answered
from tests.api.test_leads import add_route, lead, new_lead
from tests.api.test_routes import add_agent
from tests.api.test_webhooks import client_for
from tests.factories import CT, TWILIO_SID, TWILIO_TOKEN, eventually, live_worker
from tests.fakes import FakeSendGrid, FakeTwilio

TOKYO = ZoneInfo("Asia/Tokyo")
RITA_NUMBER = "+15125550122"
SAM_PHONE = "+15125550177"


async def first_offer(api: Api, team: Team, lead_id: str) -> str:
    """The agent the lead was offered to first (once the offer workflow has opened it)."""
    async def opened() -> bool:
        return bool((await lead(api, team.rainmaker, lead_id))["offers"])

    await eventually(opened)
    agent_id: str = (await lead(api, team.rainmaker, lead_id))["offers"][0]["agent_id"]
    return agent_id


async def offered_to(api: Api, headers: dict[str, str], lead_id: str) -> bool:
    return lead_id in [o["lead_id"] for o in (await api.client.get("/offers", headers=headers)).json()]


async def give_rita_twilio(api: Api, team: Team) -> None:
    answered(await api.client.patch("/settings", headers=team.rainmaker, json={
        "twilio_account_sid": TWILIO_SID, "twilio_auth_token": TWILIO_TOKEN, "twilio_from_number": RITA_NUMBER}), 200)


async def sam_with_a_phone(api: Api, team: Team) -> tuple[str, dict[str, str]]:
    """A third agent with a phone: (id, Authorization headers)."""
    created = answered(await api.client.post(f"/teams/{team.id}/agents", headers=ADMIN, json={
        "first_name": "Sam", "last_name": "Agent", "phone": SAM_PHONE, "email": "sam@example.com"}), 201)
    return created["id"], {"Authorization": f"Bearer {created['api_key']}"}


class TestRRoute1And2HoursInTheTeamsZone:
    async def test_a_tokyo_route_from_9_to_17_offers_a_lead_arriving_at_10_tokyo_and_pools_one_at_20(
            self, api: Api) -> None:
        team = await api.team()
        answered(await api.client.patch("/settings", headers=team.rainmaker, json={"team_time_zone": "Asia/Tokyo"}),
                 200)
        route_id = await add_route(api, team, [team.member_id], start_time="09:00", end_time="17:00")
        h = api.harness
        day = (await h.env.get_current_time()).astimezone(TOKYO).date() + timedelta(days=2)

        async def lead_at(hour: int, **fields: Any) -> tuple[dict[str, Any], datetime]:
            await h.advance_to(datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO))
            arrived = await h.env.get_current_time()
            # A person each: a second lead for a contact the team has is not routed again (R-ROUTE-5).
            person = {"first_name": "Lee", "email": f"lee.{hour}.{len(fields)}@example.com"}
            created = await new_lead(api, team, contact=person, **fields)
            return created, arrived

        # 01:00 Tokyo is 10:00 in Chicago and 16:00 UTC: inside 09:00-17:00 anywhere but Tokyo.
        night, night_at = await lead_at(1)
        morning, morning_at = await lead_at(10)
        yesterday_evening = datetime(day.year, day.month, day.day, 20, tzinfo=TOKYO) - timedelta(days=1)
        late, _ = await lead_at(10, received_at=yesterday_evening.isoformat())  # posted now, arrived last night
        evening, evening_at = await lead_at(20)
        assert [(x["status"], x["route_id"]) for x in (night, morning, late, evening)] == [
            ("pool", None), ("offered", route_id), ("pool", None), ("pool", None)]
        for created, arrived in ((night, night_at), (morning, morning_at), (late, yesterday_evening),
                                 (evening, evening_at)):
            received = datetime.fromisoformat((await lead(api, team.rainmaker, created["id"]))["received_at"])
            assert timedelta(0) <= received - arrived < timedelta(seconds=5)  # the arrival time, as routing read it


class TestRRoute6RoundRobinAcrossLeads:
    async def test_each_new_lead_is_first_offered_to_the_agent_after_the_last_leads_first(self, api: Api) -> None:
        team = await api.team()
        sam, _ = await add_agent(api, team)
        line = [team.member_id, team.rainmaker_id, sam]
        await add_route(api, team, line)
        firsts = []
        for name in ("Ann", "Ben", "Cal", "Dee", "Eve"):
            created = await new_lead(api, team, contact={"first_name": name, "email": f"{name.lower()}@example.com"})
            firsts.append(await first_offer(api, team, created["id"]))
        assert firsts == [*line, team.member_id, team.rainmaker_id]


class TestROffer2PassingDownTheLine:
    async def test_a_pass_moves_the_lead_to_the_next_agent_and_the_last_pass_sends_it_to_the_pool(
            self, api: Api) -> None:
        team = await api.team()
        await add_route(api, team, [team.member_id, team.rainmaker_id])
        created = await new_lead(api, team)
        lead_id = created["id"]
        await eventually(lambda: offered_to(api, team.member, lead_id))
        passed = answered(await api.client.post(f"/leads/{lead_id}/pass", headers=team.member), 200)
        assert (passed["status"], passed["owner_agent_id"]) == ("offered", None)
        await eventually(lambda: offered_to(api, team.rainmaker, lead_id))
        assert not await offered_to(api, team.member, lead_id)
        last = answered(await api.client.post(f"/leads/{lead_id}/pass", headers=team.rainmaker), 200)
        assert (last["status"], last["detail"]) == (
            "pool", "passed; no one is left in line, so the lead goes to the unassigned pool")

        async def pooled() -> bool:
            return bool((await lead(api, team.rainmaker, lead_id))["status"] == "pool")

        await eventually(pooled)
        after = await lead(api, team.rainmaker, lead_id)
        assert [(o["agent_id"], o["outcome"]) for o in after["offers"]] == [
            (team.member_id, "passed"), (team.rainmaker_id, "passed")]
        assert after["owner_agent_id"] is None
        assert [item["id"] for item in (await api.client.get("/pool", headers=team.member)).json()] == [lead_id]


class TestROffer4Alerts:
    async def test_each_offer_texts_and_emails_the_agent_the_leads_name_source_and_how_to_claim(
            self, api: Api) -> None:
        team = await api.team()
        await give_rita_twilio(api, team)
        sam, _ = await sam_with_a_phone(api, team)
        await add_route(api, team, [sam])
        lead_id = (await new_lead(api, team))["id"]
        await eventually(lambda: api.harness.has(Message, 2, direction="outbound"))
        alerts = {m.channel: m for m in await api.harness.rows(Message, direction="outbound")}
        assert (alerts["sms"].from_address, alerts["sms"].to_address) == (RITA_NUMBER, SAM_PHONE)
        assert (alerts["email"].to_address, alerts["email"].subject) == ("sam@example.com",
                                                                                  "New lead to claim: Lee Buyer")
        (offer,) = (await lead(api, team.rainmaker, lead_id))["offers"]
        by = datetime.fromisoformat(offer["deadline"]).astimezone(CT)
        for alert in alerts.values():  # the name, the source, the time left and how to claim
            assert re.fullmatch(rf"New lead: Lee Buyer \(zillow\)\. Claim it by {by:%a %H:%M %Z} \(about \d+ minutes? "
                                rf"left\): POST \S+/leads/{lead_id}/claim", alert.body), alert.body

    async def test_a_text_alert_that_fails_does_not_stop_the_offer_and_the_claim_wins(
            self, api: Api, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        team = await api.team()
        await give_rita_twilio(api, team)
        sam, sam_key = await sam_with_a_phone(api, team)
        twilio.go_down(500)
        async with live_worker(api.harness.env, api.harness.sessions, twilio, sendgrid) as h, \
                client_for(api, temporal_task_queue=h.task_queue) as client:
            await add_route(api, team, [sam])
            created = answered(await client.post("/leads", headers=team.member, json={
                "source": "zillow", "contact": {"first_name": "Lee", "last_name": "Buyer"}}), 201)
            lead_id = created["id"]

            async def alerted() -> bool:
                record = (await lead(api, team.rainmaker, lead_id))["routing_record"]
                return any(entry["kind"] == "alerted" for entry in record)

            await eventually(alerted)
            record = (await lead(api, team.rainmaker, lead_id))["routing_record"]
            (entry,) = [e for e in record if e["kind"] == "alerted"]
            assert entry["detail"].startswith("Sam Agent: sms may have failed: ")  # a 5xx: it may have reached Twilio
            assert entry["detail"].endswith("; email sent")
            assert twilio.messages == []
            assert [e["personalizations"][0]["to"][0]["email"] for e in sendgrid.emails] == ["sam@example.com"]
            won = answered(await client.post(f"/leads/{lead_id}/claim", headers=sam_key), 200)
            assert (won["status"], won["owner_agent_id"]) == ("claimed", sam)
        after = await lead(api, team.rainmaker, lead_id)
        assert (after["status"], after["owner_agent_id"]) == ("claimed", sam)


class TestRPool1AClaimedLeadLeavesThePool:
    async def test_a_lead_claimed_from_the_pool_is_no_longer_listed(self, api: Api) -> None:
        team = await api.team()
        kept = (await new_lead(api, team, contact={"first_name": "Kim", "email": "kim@example.com"}))["id"]
        claimed = (await new_lead(api, team, contact={"first_name": "Cy", "email": "cy@example.com"}))["id"]
        for headers in (team.member, team.rainmaker):
            assert [i["id"] for i in (await api.client.get("/pool", headers=headers)).json()] == [kept, claimed]
        won = answered(await api.client.post(f"/pool/{claimed}/claim", headers=team.member), 200)
        assert won["owner_agent_id"] == team.member_id
        for headers in (team.member, team.rainmaker):
            assert [i["id"] for i in (await api.client.get("/pool", headers=headers)).json()] == [kept]
        assert (await lead(api, team.rainmaker, claimed))["status"] == "claimed"
