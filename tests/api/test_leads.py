"""Leads through the API (R-ROUTE-5..7, R-OFFER-1/2, R-POOL-1): intake routes a lead once and says where it went,
the offered agent sees the offer and claims it, the Rainmaker reads the routing record, and the pool gives each lead
one owner even when agents claim it at the same instant."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from db.models import Contact
from db.session import session_scope
from tests.api.conftest import Api, Team
from tests.factories import eventually

EVERY_DAY = list(range(7))


async def add_route(api: Api, team: Team, agent_ids: list[str], **fields: Any) -> str:
    body = {"title": "Everything", "days_of_week": EVERY_DAY, "start_time": "00:00", "end_time": "00:00",
            "sources": ["zillow"], "strategy": "round_robin", "agent_ids": agent_ids, "claim_seconds": 600, **fields}
    created = await api.client.post("/routes", headers=team.rainmaker, json=body)
    assert created.status_code == 201, created.text
    route_id: str = created.json()["id"]
    return route_id


async def new_lead(api: Api, team: Team, source: str | None = "zillow", **fields: Any) -> dict[str, Any]:
    body = {"source": source, "contact": {"first_name": "Lee", "last_name": "Buyer", "email": "lee@example.com"},
            **fields}
    created = await api.client.post("/leads", headers=team.member, json=body)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


async def lead(api: Api, headers: dict[str, str], lead_id: str) -> dict[str, Any]:
    answer = await api.client.get(f"/leads/{lead_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


class TestRRoute5WhereALeadGoesWithoutARoute:
    async def test_no_route_sends_it_to_the_pool_and_no_source_leaves_it_unrouted(self, api: Api) -> None:
        team = await api.team()
        pooled = await new_lead(api, team)
        assert (pooled["status"], pooled["route_id"]) == ("pool", None)
        unrouted = await new_lead(api, team, source=None)
        assert unrouted["status"] == "not_routed"
        record = (await lead(api, team.rainmaker, pooled["id"]))["routing_record"]
        assert [entry["kind"] for entry in record] == ["routes", "pool"]
        assert (await lead(api, team.member, pooled["id"]))["routing_record"] is None  # the Rainmaker's to read
        listed = (await api.client.get("/pool", headers=team.member)).json()
        assert [item["id"] for item in listed] == [pooled["id"]]

    async def test_an_arrival_later_than_now_is_a_422_naming_received_at_and_nothing_is_routed(self,
                                                                                               api: Api) -> None:
        team = await api.team()
        now = await api.harness.env.get_current_time()
        refused = await api.client.post("/leads", headers=team.member, json={
            "source": "zillow", "received_at": (now + timedelta(days=30)).isoformat(),
            "contact": {"first_name": "Lee"}})
        skewed = await new_lead(api, team, received_at=(now + timedelta(minutes=2)).isoformat())

        assert refused.status_code == 422, refused.text
        assert [(e["loc"], e["rule"]) for e in refused.json()["detail"]] == [(["body", "received_at"], "R-ROUTE-2")]
        assert skewed["status"] == "pool"  # a lead source's clock a little ahead is still now
        listed = (await api.client.get("/leads", headers=team.rainmaker)).json()
        assert [lead["id"] for lead in listed] == [skewed["id"]]

    async def test_an_arrival_at_the_ends_of_the_calendar_is_a_422_naming_received_at(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/leads", headers=team.member, json={
            "source": "zillow", "received_at": "9999-12-31T23:00:00-14:00", "contact": {"first_name": "Lee"}})
        assert refused.status_code == 422
        assert [d["loc"] for d in refused.json()["detail"]] == [["body", "received_at"]]
        assert (await api.client.get("/leads", headers=team.rainmaker)).json() == []

    async def test_a_lead_from_an_agents_own_site_goes_to_that_agent(self, api: Api) -> None:
        team = await api.team()
        mine = await new_lead(api, team, source="agent_site", owner_agent_id=team.member_id)
        assert (mine["status"], mine["owner_agent_id"]) == ("assigned", team.member_id)

    async def test_an_owner_with_another_source_is_not_used_and_the_record_says_so(self, api: Api) -> None:
        team = await api.team()
        pooled = await new_lead(api, team, source="zillow", owner_agent_id=team.member_id)
        assert (pooled["status"], pooled["owner_agent_id"]) == ("pool", None)
        record = (await lead(api, team.rainmaker, pooled["id"]))["routing_record"]
        assert [entry["kind"] for entry in record] == ["routes", "owner", "pool"]
        assert record[1]["detail"] == (f"owner_agent_id {team.member_id} not used: only a lead from an agent's own "
                                       "app or site (source agent_app or agent_site) goes to that agent (R-ROUTE-5)")

    async def test_an_owner_of_another_team_is_a_422_naming_the_field_and_nothing_is_saved(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Jones Team")
        refused = await api.client.post("/leads", headers=team.member, json={
            "source": "agent_app", "owner_agent_id": other.member_id, "contact": {"first_name": "Lee"}})
        assert refused.status_code == 422, refused.text
        assert [(e["loc"], e["rule"]) for e in refused.json()["detail"]] == [(["body", "owner_agent_id"],
                                                                              "team_agent")]
        assert (await api.client.get("/leads", headers=team.rainmaker)).json() == []


DANA = {"first_name": "Dana", "last_name": "Smith", "email": "dana@example.com", "phone": "+15125550199"}


async def offered_to(api: Api, headers: dict[str, str], lead_id: str) -> bool:
    return [o["lead_id"] for o in (await api.client.get("/offers", headers=headers)).json()] == [lead_id]


async def buyer_plan(api: Api, team: Team) -> tuple[str, str]:
    """A tag and the member's plan it triggers: (tag id, plan id)."""
    tag_id = (await api.client.post("/tags", headers=team.member, json={"name": "Buyer"})).json()["id"]
    plan = await api.client.post("/plans", headers=team.member, json={"name": "New buyer", "days": [
        {"delay_days": 2, "steps": [{"kind": "task", "name": "Call", "priority": "high", "due_in_days": 1}]}]})
    plan_id: str = plan.json()["id"]
    assert (await api.client.put(f"/plans/{plan_id}/triggers", headers=team.member,
                                 json={"tag_ids": [tag_id]})).status_code == 200
    return tag_id, plan_id


class TestRRoute5AnExistingContactIsNotRoutedAgain:
    async def test_a_lead_for_a_contact_an_agent_claimed_goes_to_that_agent_without_an_offer(self, api: Api) -> None:
        team = await api.team()
        await add_route(api, team, [team.member_id, team.rainmaker_id])
        first = await new_lead(api, team, contact=DANA)
        await eventually(lambda: offered_to(api, team.member, first["id"]))
        assert (await api.client.post(f"/leads/{first['id']}/claim", headers=team.member)).status_code == 200
        contact_id = (await lead(api, team.rainmaker, first["id"]))["contact_id"]
        tag_id, plan_id = await buyer_plan(api, team)
        # The same person again, known by phone alone: next in the rotation is Rita, who must not be offered it.
        again = await new_lead(api, team, contact={"first_name": "Dana", "phone": DANA["phone"]}, tag_ids=[tag_id])
        assert (again["status"], again["owner_agent_id"], again["route_id"]) == ("assigned", team.member_id, None)
        read = await lead(api, team.rainmaker, again["id"])
        assert (read["contact_id"], read["offers"]) == (contact_id, [])
        assert [(e["kind"], e["detail"]) for e in read["routing_record"]] == [
            ("existing_contact", "Dana Smith is already Alex Agent's contact: not routed again (R-ROUTE-5)"),
            ("owned", "Alex Agent owns it (the contact is theirs)")]
        assert (await api.client.get("/offers", headers=team.rainmaker)).json() == []
        async with session_scope(api.harness.sessions) as session:
            contact = await session.get(Contact, contact_id)
            assert contact is not None
            assert contact.assignee_id == team.member_id
        entered = (await api.client.get(f"/contacts/{contact_id}/enrollments", headers=team.member)).json()
        assert [e["plan_id"] for e in entered] == [plan_id]  # its tags fired, as for any lead with an owner

    async def test_a_lead_for_an_agents_own_contact_goes_to_them_and_leaves_the_contact_unassigned(
            self, api: Api) -> None:
        team = await api.team()
        await add_route(api, team, [team.rainmaker_id], strategy="assign_to_agent")
        created = await api.client.post("/contacts", headers=team.member, json=DANA)
        assert created.status_code == 201, created.text
        arrived = await new_lead(api, team, contact=DANA)
        assert (arrived["status"], arrived["owner_agent_id"]) == ("assigned", team.member_id)
        async with session_scope(api.harness.sessions) as session:
            contact = await session.get(Contact, created.json()["id"])
            assert contact is not None
            assert (contact.owner_agent_id, contact.assignee_id) == (team.member_id, None)

    async def test_the_same_email_in_another_case_is_the_same_person(self, api: Api) -> None:
        team = await api.team()
        created = await api.client.post("/contacts", headers=team.member, json=DANA)
        assert created.status_code == 201, created.text
        shouted = {"first_name": "Dana", "email": DANA["email"].upper()}
        arrived = await new_lead(api, team, contact=shouted)
        assert (arrived["status"], arrived["owner_agent_id"]) == ("assigned", team.member_id)
        assert (await lead(api, team.rainmaker, arrived["id"]))["contact_id"] == created.json()["id"]

    async def test_a_lead_for_a_contact_whose_earlier_lead_is_offered_or_pooled_is_not_routed(self, api: Api) -> None:
        team = await api.team()
        pooled = await new_lead(api, team, contact=DANA)
        behind_pooled = await new_lead(api, team, contact=DANA)
        await add_route(api, team, [team.member_id, team.rainmaker_id])
        offered = await new_lead(api, team)
        behind_offered = await new_lead(api, team)
        assert [lead["status"] for lead in (pooled, behind_pooled, offered, behind_offered)] == [
            "pool", "not_routed", "offered", "not_routed"]
        for earlier, later, where in ((pooled, behind_pooled, "in the unassigned pool"),
                                      (offered, behind_offered, "being offered")):
            read = await lead(api, team.rainmaker, later["id"])
            assert (read["offers"], read["owner_agent_id"]) == ([], None)
            name = "Dana Smith" if earlier is pooled else "Lee Buyer"
            assert [(e["kind"], e["detail"], e["lead_id"]) for e in read["routing_record"]] == [
                ("existing_contact", f"{name} already has lead {earlier['id']}, {where}: not routed again "
                 "(R-ROUTE-5)", earlier["id"])]
        await eventually(lambda: offered_to(api, team.member, offered["id"]))  # the earlier lead's offer, alone
        assert [item["id"] for item in (await api.client.get("/pool", headers=team.member)).json()] == [pooled["id"]]

    async def test_a_contact_with_no_agent_and_no_open_lead_is_routed(self, api: Api) -> None:
        team = await api.team()
        unrouted = await new_lead(api, team, source=None)
        routed = await new_lead(api, team)
        assert (unrouted["status"], routed["status"]) == ("not_routed", "pool")
        read = await lead(api, team.rainmaker, routed["id"])
        assert read["contact_id"] == (await lead(api, team.rainmaker, unrouted["id"]))["contact_id"]
        assert [e["kind"] for e in read["routing_record"]] == ["routes", "pool"]

    async def test_two_leads_for_one_contact_arriving_at_once_are_routed_once(self, api: Api) -> None:
        team = await api.team()
        for i in range(20):
            person = {"first_name": "Lee", "email": f"lee{i}@example.com"}
            await new_lead(api, team, source=None, contact=person)  # a known contact, with no agent and no lead open
            both = await asyncio.gather(new_lead(api, team, contact=person), new_lead(api, team, contact=person))
            assert sorted(arrived["status"] for arrived in both) == ["not_routed", "pool"]


class TestROffer1OfferedAndClaimed:
    async def test_the_first_agent_in_line_sees_the_offer_and_claiming_it_makes_the_lead_theirs(
            self, api: Api) -> None:
        team = await api.team()
        route_id = await add_route(api, team, [team.member_id, team.rainmaker_id])
        created = await new_lead(api, team)
        assert (created["status"], created["route_id"]) == ("offered", route_id)

        async def offered_to_member() -> bool:
            offers = (await api.client.get("/offers", headers=team.member)).json()
            return [o["lead_id"] for o in offers] == [created["id"]]

        await eventually(offered_to_member)
        (offer,) = (await api.client.get("/offers", headers=team.member)).json()
        assert 0 < offer["seconds_left"] <= 600
        stranger = await api.client.post(f"/leads/{created['id']}/claim", headers=team.rainmaker)
        assert stranger.status_code == 409
        won = await api.client.post(f"/leads/{created['id']}/claim", headers=team.member)
        assert won.status_code == 200, won.text
        assert (won.json()["status"], won.json()["owner_agent_id"]) == ("claimed", team.member_id)
        after = await lead(api, team.rainmaker, created["id"])
        assert (after["status"], after["owner_agent_id"]) == ("claimed", team.member_id)
        assert [(o["agent_id"], o["outcome"]) for o in after["offers"]] == [(team.member_id, "claimed")]
        assert {"routes", "line", "offered", "owned"} <= {entry["kind"] for entry in after["routing_record"]}
        async with session_scope(api.harness.sessions) as session:
            contact = await session.get(Contact, after["contact_id"])
            assert contact is not None
            assert contact.assignee_id == team.member_id  # the lead is the agent's contact now
        again = await api.client.post(f"/leads/{created['id']}/claim", headers=team.member)
        assert (again.status_code, again.json()["detail"]) == (409, "this lead already belongs to you")

    async def test_an_assign_to_agent_route_assigns_at_once(self, api: Api) -> None:
        team = await api.team()
        await add_route(api, team, [team.rainmaker_id], strategy="assign_to_agent")
        created = await new_lead(api, team)
        assert (created["status"], created["owner_agent_id"]) == ("assigned", team.rainmaker_id)


class TestROffer3TheLimitHoldsAtTheClaim:
    async def test_an_offer_made_under_the_limit_cannot_be_claimed_past_it_nor_a_pool_lead(self, api: Api) -> None:
        team = await api.team()
        await add_route(api, team, [team.member_id])
        offered = await new_lead(api, team, contact={"first_name": "Kim", "email": "kim@example.com"})
        await eventually(lambda: offered_to(api, team.member, offered["id"]))
        pooled = await new_lead(api, team, source="open_house", contact={"first_name": "Pat", "phone": "+15125550142"})
        assert pooled["status"] == "pool"
        limited = await api.client.patch(f"/agents/{team.member_id}/routing", headers=team.rainmaker,
                                         json={"lead_limit": 1})
        assert limited.status_code == 200, limited.text
        own = await new_lead(api, team, source="agent_site", owner_agent_id=team.member_id,
                             contact={"first_name": "Lou", "email": "lou@example.com"})
        assert (own["status"], own["owner_agent_id"]) == ("assigned", team.member_id)  # the one lead of the month
        for path in (f"/leads/{offered['id']}/claim", f"/pool/{pooled['id']}/claim"):
            refused = await api.client.post(path, headers=team.member)
            assert refused.status_code == 409, refused.text
            assert refused.json()["detail"].startswith("you have reached your monthly limit of 1 lead (1 this month)")
        assert [lead["id"] for lead in (await api.client.get("/leads", params={"agent_id": team.member_id},
                                                             headers=team.rainmaker)).json()] == [own["id"]]
        # The Rainmaker may still hand it over (R-POOL-1): the limit holds the agent's own claims.
        assigned = await api.client.post(f"/pool/{pooled['id']}/assign", headers=team.rainmaker,
                                         json={"agent_id": team.member_id})
        assert assigned.status_code == 200, assigned.text


class TestRPool1OneOwner:
    async def test_two_agents_claiming_a_pool_lead_at_once_leave_one_owner_every_time(self, api: Api) -> None:
        team = await api.team()
        for i in range(100):
            pooled = await new_lead(api, team, contact={"first_name": "Lee", "email": f"lee{i}@example.com"})
            answers = await asyncio.gather(
                api.client.post(f"/pool/{pooled['id']}/claim", headers=team.member),
                api.client.post(f"/pool/{pooled['id']}/claim", headers=team.rainmaker))
            assert sorted(a.status_code for a in answers) == [200, 409]
            winner = next(a for a in answers if a.status_code == 200).json()["owner_agent_id"]
            assert (await lead(api, team.rainmaker, pooled["id"]))["owner_agent_id"] == winner

    async def test_assigning_to_an_agent_of_another_team_is_a_422_naming_the_field(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Jones Team")
        pooled = await new_lead(api, team)
        for agent_id in (other.member_id, "ag_nobody"):
            refused = await api.client.post(f"/pool/{pooled['id']}/assign", headers=team.rainmaker,
                                            json={"agent_id": agent_id})
            assert refused.status_code == 422, refused.text
            assert [(e["loc"], e["rule"]) for e in refused.json()["detail"]] == [(["body", "agent_id"], "team_agent")]
        assert (await lead(api, team.rainmaker, pooled["id"]))["status"] == "pool"

    async def test_only_the_rainmaker_assigns_from_the_pool(self, api: Api) -> None:
        team = await api.team()
        pooled = await new_lead(api, team)
        refused = await api.client.post(f"/pool/{pooled['id']}/assign", headers=team.member,
                                        json={"agent_id": team.member_id})
        assert refused.status_code == 403
        assigned = await api.client.post(f"/pool/{pooled['id']}/assign", headers=team.rainmaker,
                                         json={"agent_id": team.member_id})
        assert (assigned.status_code, assigned.json()["owner_agent_id"]) == (200, team.member_id)
        assert (await lead(api, team.member, pooled["id"]))["status"] == "assigned"


    async def test_a_lead_no_route_took_is_the_rainmakers_to_assign_not_an_agents_to_claim(self, api: Api) -> None:
        team = await api.team()
        unrouted = await new_lead(api, team, source=None)

        claimed = await api.client.post(f"/pool/{unrouted['id']}/claim", headers=team.member)
        assigned = await api.client.post(f"/pool/{unrouted['id']}/assign", headers=team.rainmaker,
                                         json={"agent_id": team.member_id})

        assert claimed.status_code == 409
        assert claimed.json()["detail"] == ("this lead is not in the pool: no route took it; the Rainmaker can assign "
                                            f"it (POST /pool/{unrouted['id']}/assign)")
        assert (assigned.status_code, assigned.json()["owner_agent_id"]) == (200, team.member_id)
        after = await lead(api, team.member, unrouted["id"])
        assert (after["status"], after["owner_agent_id"]) == ("assigned", team.member_id)


class TestLeadTagsFireOnceOwned:
    async def test_a_leads_tags_enroll_it_in_its_new_owners_triggered_plan_when_claimed(self, api: Api) -> None:
        team = await api.team()
        tag_id, plan_id = await buyer_plan(api, team)
        pooled = await new_lead(api, team, tag_ids=[tag_id])
        assert pooled["status"] == "pool"
        enrollments = f"/contacts/{(await lead(api, team.member, pooled['id']))['contact_id']}/enrollments"
        assert (await api.client.get(enrollments, headers=team.member)).json() == []  # no owner yet: no trigger
        claimed = await api.client.post(f"/pool/{pooled['id']}/claim", headers=team.member)
        assert claimed.status_code == 200, claimed.text
        entered = (await api.client.get(enrollments, headers=team.member)).json()
        assert [e["plan_id"] for e in entered] == [plan_id]
