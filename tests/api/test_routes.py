"""Lead routes through the real app: every field saved and checked (R-ROUTE-1, R-ROUTE-6, R-OFFER-4), the priority
list, pausing and reactivating (R-ROUTE-4), replacing and deleting, and the row routing reads (`rule_of`)."""

from __future__ import annotations

import asyncio
from datetime import date, time
from typing import Any

import pytest

from db.models import Contact
from db.routing_models import Lead, Route
from db.session import session_scope
from domain.ids import new_id
from services.routes import rule_of, team_routes
from tests.api.conftest import ADMIN, Api, Team

THIRTY_DAYS = 30 * 24 * 3600


def route(team: Team, **fields: Any) -> dict[str, Any]:
    """A valid route body for `team`: its two agents, round robin, weekdays all day, a 5-minute deadline."""
    return {"title": "Weekdays", "days_of_week": [0, 1, 2, 3, 4], "start_time": "08:00", "end_time": "08:00",
            "sources": ["Zillow"], "strategy": "round_robin", "agent_ids": [team.member_id, team.rainmaker_id],
            "claim_seconds": 300, **fields}


async def post_route(api: Api, team: Team, **fields: Any) -> dict[str, Any]:
    created = await api.client.post("/routes", json=route(team, **fields), headers=team.rainmaker)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def listed(api: Api, team: Team) -> list[tuple[str, int, bool]]:
    """(title, position, active) of the team's routes as GET /routes lists them."""
    got = await api.client.get("/routes", headers=team.rainmaker)
    assert got.status_code == 200, got.text
    return [(r["title"], r["position"], r["active"]) for r in got.json()]


def refusals(answer: Any) -> list[tuple[str, str]]:
    """(field, rule) of each refusal in a 422."""
    assert answer.status_code == 422, answer.text
    return [(".".join(map(str, d["loc"][1:])), d.get("rule", "")) for d in answer.json()["detail"]]


async def add_agent(api: Api, team: Team, first: str = "Sam", permission: str = "basic") -> tuple[str, dict[str, str]]:
    created = await api.client.post(f"/teams/{team.id}/agents", headers=ADMIN, json={
        "first_name": first, "last_name": "Agent", "email": f"{first.lower()}.{team.id[-6:].lower()}@example.com",
        "permission": permission})
    assert created.status_code == 201, created.text
    return created.json()["id"], {"Authorization": f"Bearer {created.json()['api_key']}"}


async def stored(api: Api, route_id: str) -> Route:
    async with session_scope(api.harness.sessions) as session:
        row = await session.get(Route, route_id)
        assert row is not None
        return row


class TestRRoute1ARouteKeepsEveryField:
    async def test_a_route_is_saved_as_sent_and_read_back(self, api: Api) -> None:
        team = await api.team()
        sam, _ = await add_agent(api, team)
        created = await post_route(
            api, team, title="  Holiday weekend ", days_of_week=["sat", "Sunday", 6, 5], start_time="22:00",
            end_time="06:00", date_from="2027-12-24", date_to="2027-12-26", sources=[" Zillow ", "Realtor.com",
                                                                                      "Zillow"],
            strategy="weighted_random", agent_ids=[sam, team.member_id],
            weights={sam: 70, team.member_id: 30}, claim_seconds=None,
            claim_deadline={"days": 1, "hours": 2, "minutes": 90, "seconds": 5})
        expected = {"title": "Holiday weekend", "days_of_week": [5, 6], "start_time": "22:00", "end_time": "06:00",
                    "date_from": "2027-12-24", "date_to": "2027-12-26", "sources": ["Zillow", "Realtor.com"],
                    "strategy": "weighted_random", "agent_ids": [sam, team.member_id],
                    "weights": {sam: 70, team.member_id: 30}, "claim_seconds": 86400 + 2 * 3600 + 90 * 60 + 5,
                    "claim_deadline": {"days": 1, "hours": 3, "minutes": 30, "seconds": 5},
                    "position": 0, "active": True}
        assert {key: created[key] for key in expected} == expected
        got = await api.client.get(f"/routes/{created['id']}", headers=team.rainmaker)
        assert got.json() == created
        assert (await api.client.get("/routes", headers=team.rainmaker)).json() == [created]

    async def test_claim_seconds_come_back_in_parts_too(self, api: Api) -> None:
        team = await api.team()
        created = await post_route(api, team, claim_seconds=THIRTY_DAYS)
        assert created["claim_deadline"] == {"days": 30, "hours": 0, "minutes": 0, "seconds": 0}
        shortest = await post_route(api, team, claim_seconds=None, claim_deadline={"seconds": 10})
        assert (shortest["claim_seconds"], shortest["claim_deadline"]) == (
            10, {"days": 0, "hours": 0, "minutes": 0, "seconds": 10})

    async def test_the_row_routing_reads_is_the_route_as_saved(self, api: Api) -> None:
        team = await api.team()
        created = await post_route(api, team, start_time="22:00", end_time="06:30", date_from="2027-07-04",
                                   strategy="jump_ball")
        await api.client.post(f"/routes/{created['id']}/pause", headers=team.rainmaker)
        async with session_scope(api.harness.sessions) as session:
            [row] = await team_routes(session, team.id)
            rule = rule_of(row)
        assert rule.model_dump() == {
            "id": created["id"], "title": "Weekdays", "position": 0, "active": False, "days_of_week": [0, 1, 2, 3, 4],
            "start_time": time(22, 0), "end_time": time(6, 30), "date_from": date(2027, 7, 4), "date_to": None,
            "sources": ["Zillow"], "strategy": "jump_ball", "agent_ids": [team.member_id, team.rainmaker_id],
            "weights": None, "claim_seconds": 300}


# (fields changed from a valid route, the refusals expected): each names the field and its rule.
BAD_FIELDS: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
    ({"title": ""}, [("title", "R-ROUTE-1")]),
    ({"title": "   "}, [("title", "R-ROUTE-1")]),
    ({"title": "x" * 31}, [("title", "R-ROUTE-1")]),
    ({"days_of_week": []}, [("days_of_week", "R-ROUTE-1")]),
    ({"days_of_week": [7]}, [("days_of_week.0", "R-ROUTE-1")]),
    ({"days_of_week": [0, "funday"]}, [("days_of_week.1", "R-ROUTE-1")]),
    ({"days_of_week": [True]}, [("days_of_week.0", "R-ROUTE-1")]),
    ({"start_time": "9:00"}, [("start_time", "R-ROUTE-1")]),
    ({"end_time": "24:00"}, [("end_time", "R-ROUTE-1")]),
    ({"date_from": "2027-12-31", "date_to": "2027-12-24"}, [("date_to", "R-ROUTE-1")]),
    ({"date_from": "31/12/2027"}, [("date_from", "R-ROUTE-1")]),
    ({"sources": []}, [("sources", "R-ROUTE-1")]),
    ({"sources": ["Zillow", "  "]}, [("sources.1", "R-ROUTE-1")]),
    ({"sources": ["x" * 61]}, [("sources.0", "R-ROUTE-1")]),
    ({"strategy": "lottery"}, [("strategy", "R-ROUTE-6")]),
    ({"agent_ids": []}, [("agent_ids", "R-ROUTE-1")]),
    ({"agent_ids": ["ag_nobody"]}, [("agent_ids", "R-ROUTE-1")]),
    ({"strategy": "assign_to_agent"}, [("agent_ids", "R-ROUTE-6")]),
    ({"weights": {"x": 100}}, [("weights", "R-ROUTE-6")]),
    ({"strategy": "weighted_random"}, [("weights", "R-ROUTE-6")]),
    ({"claim_seconds": 9}, [("claim_seconds", "R-OFFER-4")]),
    ({"claim_seconds": THIRTY_DAYS + 1}, [("claim_seconds", "R-OFFER-4")]),
    ({"claim_seconds": "300"}, [("claim_seconds", "R-OFFER-4")]),
    ({"claim_seconds": None}, [("claim_seconds", "R-OFFER-4")]),
    ({"claim_deadline": {"minutes": 5}}, [("claim_seconds", "R-OFFER-4")]),
    ({"claim_seconds": None, "claim_deadline": {"seconds": 9}}, [("claim_deadline", "R-OFFER-4")]),
    ({"claim_seconds": None, "claim_deadline": {"days": 30, "seconds": 1}}, [("claim_deadline", "R-OFFER-4")]),
    ({"claim_seconds": None, "claim_deadline": {"days": 31}}, [("claim_deadline.days", "R-OFFER-4")]),
    ({"claim_seconds": None, "claim_deadline": {"weeks": 1}}, [("claim_deadline.weeks", "R-OFFER-4")]),
    ({"days_of_week": [0, 1, 2, 3, 4, 5, 6, 0]}, [("days_of_week", "R-ROUTE-1")]),
]


class TestRRoute1BadFieldsAreRefusedByNameAndRule:
    @pytest.mark.parametrize(("change", "expected"), BAD_FIELDS)
    async def test_each_bad_field_is_named_with_its_rule_and_nothing_is_saved(
            self, api: Api, change: dict[str, Any], expected: list[tuple[str, str]]) -> None:
        team = await api.team()
        answer = await api.client.post("/routes", json=route(team, **change), headers=team.rainmaker)
        assert refusals(answer) == expected
        assert all(entry["help"] == f"docs/rules.md#{entry['rule'].lower()}" for entry in answer.json()["detail"])
        assert await listed(api, team) == []

    async def test_the_limits_themselves_are_accepted(self, api: Api) -> None:
        team = await api.team()
        for fields in ({"title": "x" * 30, "claim_seconds": 10}, {"claim_seconds": THIRTY_DAYS},
                       {"days_of_week": [0, 0, 6], "sources": ["y" * 60]}):
            await post_route(api, team, **fields)
        assert len(await listed(api, team)) == 3

    async def test_a_weight_of_0_a_boolean_day_and_a_source_differing_only_in_case(self, api: Api) -> None:
        team = await api.team()
        zero = await api.client.post("/routes", headers=team.rainmaker, json=route(
            team, strategy="weighted_random", weights={team.member_id: 100, team.rainmaker_id: 0}))
        assert refusals(zero) == [(f"weights.{team.rainmaker_id}", "R-ROUTE-6")]
        boolean = await api.client.post("/routes", headers=team.rainmaker, json=route(team, days_of_week=[True]))
        assert refusals(boolean) == [("days_of_week.0", "R-ROUTE-1")]
        assert "true is not a day of the week but a boolean" in boolean.json()["detail"][0]["msg"]
        eight = await api.client.post("/routes", headers=team.rainmaker,
                                      json=route(team, days_of_week=[0, 1, 2, 3, 4, 5, 6, 0]))
        assert "at most 7 days, each day of the week once (8 given)" in eight.json()["detail"][0]["msg"]
        assert await listed(api, team) == []
        created = await post_route(api, team, sources=["Zillow", " zillow ", "Realtor.com", "ZILLOW"])
        assert created["sources"] == ["Zillow", "Realtor.com"]  # matched without case: one source, first spelling

    async def test_agents_of_another_team_or_listed_twice_are_refused(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        stranger = await api.client.post("/routes", headers=team.rainmaker,
                                         json=route(team, agent_ids=[team.member_id, other.member_id]))
        assert refusals(stranger) == [("agent_ids", "R-ROUTE-1")]
        assert other.member_id in stranger.json()["detail"][0]["msg"]
        twice = await api.client.post("/routes", headers=team.rainmaker,
                                      json=route(team, agent_ids=[team.member_id, team.member_id]))
        assert refusals(twice) == [("agent_ids", "R-ROUTE-1")]
        assert await listed(api, team) == []

    async def test_weights_name_each_agent_and_add_up_to_100(self, api: Api) -> None:
        team = await api.team()
        stray = {team.member_id: 50, team.rainmaker_id: 40, "ag_x": 10}
        for weights, words in (({team.member_id: 100}, f"missing for {team.rainmaker_id}"),
                               ({team.member_id: 50, team.rainmaker_id: 40}, "summing to 100 (90 given)"),
                               (stray, "given for ag_x, not on the route")):
            answer = await api.client.post("/routes", headers=team.rainmaker, json=route(
                team, strategy="weighted_random", weights=weights))
            assert refusals(answer) == [("weights", "R-ROUTE-6")]
            assert words in answer.json()["detail"][0]["msg"]
        too_much = await api.client.post("/routes", headers=team.rainmaker, json=route(
            team, strategy="weighted_random", weights={team.member_id: 101, team.rainmaker_id: -1}))
        assert refusals(too_much) == [(f"weights.{team.member_id}", "R-ROUTE-6"),
                                      (f"weights.{team.rainmaker_id}", "R-ROUTE-6")]
        assert await listed(api, team) == []

    async def test_every_rule_between_fields_is_reported_at_once(self, api: Api) -> None:
        team = await api.team()
        answer = await api.client.post("/routes", headers=team.rainmaker, json=route(
            team, agent_ids=[team.member_id, "ag_nobody"], strategy="assign_to_agent", weights={team.member_id: 100},
            date_from="2028-01-02", date_to="2028-01-01", claim_deadline={"hours": 1}))
        assert refusals(answer) == [("agent_ids", "R-ROUTE-1"), ("date_to", "R-ROUTE-1"), ("agent_ids", "R-ROUTE-6"),
                                    ("weights", "R-ROUTE-6"), ("claim_seconds", "R-OFFER-4")]

    async def test_an_unknown_field_is_refused_by_name(self, api: Api) -> None:
        team = await api.team()
        answer = await api.client.post("/routes", headers=team.rainmaker, json=route(team, colour="red"))
        assert answer.status_code == 422
        assert [d["loc"] for d in answer.json()["detail"]] == [["body", "colour"]]


class TestRRoute4PriorityOrder:
    async def test_a_new_route_goes_on_top(self, api: Api) -> None:
        team = await api.team()
        for title in ("Everything", "Weekends", "Holidays"):
            await post_route(api, team, title=title)
        assert await listed(api, team) == [("Holidays", 0, True), ("Weekends", 1, True), ("Everything", 2, True)]

    async def test_routes_created_at_once_take_distinct_places(self, api: Api) -> None:
        team = await api.team()
        created = await asyncio.gather(*(api.client.post("/routes", json=route(team, title=f"R{i}"),
                                                         headers=team.rainmaker) for i in range(6)))
        assert [answer.status_code for answer in created] == [201] * 6
        assert sorted(position for _, position, _ in await listed(api, team)) == list(range(6))

    async def test_the_order_is_rewritten_top_first(self, api: Api) -> None:
        team = await api.team()
        ids = {title: (await post_route(api, team, title=title))["id"] for title in ("A", "B", "C")}
        ordered = await api.client.put("/routes/order", headers=team.rainmaker,
                                       json={"ids": [ids["B"], ids["A"], ids["C"]]})
        assert ordered.status_code == 200, ordered.text
        assert [(r["title"], r["position"]) for r in ordered.json()] == [("B", 0), ("A", 1), ("C", 2)]
        assert await listed(api, team) == [("B", 0, True), ("A", 1, True), ("C", 2, True)]

    async def test_an_order_must_list_each_route_of_the_team_once(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        a, b = (await post_route(api, team, title="A"))["id"], (await post_route(api, team, title="B"))["id"]
        theirs = (await post_route(api, other, title="Theirs"))["id"]
        for ids, words in (([a], f"missing: {b}"), ([a, b, a], f"listed twice: {a}"),
                           ([a, b, "rt_nothing"], "not routes of your team: rt_nothing"),
                           ([a, theirs], f"missing: {b}; not routes of your team: {theirs}")):
            answer = await api.client.put("/routes/order", headers=team.rainmaker, json={"ids": ids})
            assert refusals(answer) == [("ids", "R-ROUTE-4")]
            assert words in answer.json()["detail"][0]["msg"]
        assert refusals(await api.client.put("/routes/order", headers=team.rainmaker, json={"ids": "A,B"})) == [
            ("ids", "R-ROUTE-4")]
        assert await listed(api, team) == [("B", 0, True), ("A", 1, True)]
        assert await listed(api, other) == [("Theirs", 0, True)]

    async def test_pausing_and_reactivating_keep_the_place(self, api: Api) -> None:
        team = await api.team()
        a, _ = (await post_route(api, team, title="A"))["id"], await post_route(api, team, title="B")
        paused = await api.client.post(f"/routes/{a}/pause", headers=team.rainmaker)
        assert (paused.status_code, paused.json()["active"]) == (200, False)
        assert (await api.client.post(f"/routes/{a}/pause", headers=team.rainmaker)).json()["active"] is False
        assert await listed(api, team) == [("B", 0, True), ("A", 1, False)]
        assert (await stored(api, a)).active is False
        active = await api.client.post(f"/routes/{a}/activate", headers=team.rainmaker)
        assert (active.status_code, active.json()["active"]) == (200, True)
        assert await listed(api, team) == [("B", 0, True), ("A", 1, True)]

    async def test_deleting_moves_the_routes_below_up_and_leads_keep_the_route_id(self, api: Api) -> None:
        team = await api.team()
        a, b, c = [(await post_route(api, team, title=title))["id"] for title in ("A", "B", "C")]
        lead = await add_lead(api, team, route_id=b)
        assert (await api.client.delete(f"/routes/{b}", headers=team.rainmaker)).status_code == 204
        assert await listed(api, team) == [("C", 0, True), ("A", 1, True)]
        assert (await api.client.get(f"/routes/{b}", headers=team.rainmaker)).status_code == 404
        async with session_scope(api.harness.sessions) as session:
            row = await session.get(Lead, lead)
            assert row is not None
            assert row.route_id == b
        assert {a, c} == {r["id"] for r in (await api.client.get("/routes", headers=team.rainmaker)).json()}


async def add_lead(api: Api, team: Team, **fields: Any) -> str:
    async with session_scope(api.harness.sessions) as session:
        contact = Contact(id=new_id("ct"), team_id=team.id, first_name="Lee")
        session.add(contact)
        await session.flush()
        lead = Lead(id=new_id("ld"), team_id=team.id, contact_id=contact.id, source="Zillow",
                    received_at=await api.harness.env.get_current_time(), status="pool", **fields)
        session.add(lead)
    return lead.id


class TestRRoute1ReplacingARoute:
    async def test_put_replaces_the_fields_and_keeps_place_state_and_rotation(self, api: Api) -> None:
        team = await api.team()
        a = (await post_route(api, team, title="A", date_from="2027-01-01"))["id"]
        await post_route(api, team, title="B")
        await api.client.post(f"/routes/{a}/pause", headers=team.rainmaker)
        await set_rotation(api, a)
        replaced = await api.client.put(f"/routes/{a}", headers=team.rainmaker, json=route(
            team, title="A2", sources=["Realtor.com"], claim_seconds=None, claim_deadline={"minutes": 2}))
        assert replaced.status_code == 200, replaced.text
        body = replaced.json()
        assert (body["title"], body["sources"], body["claim_seconds"], body["date_from"]) == (
            "A2", ["Realtor.com"], 120, None)
        assert (body["position"], body["active"]) == (1, False)
        assert body["updated_at"] is not None
        row = await stored(api, a)
        assert (row.rotation, row.rotation_version) == ({"cursor": 1}, 3)

    @pytest.mark.parametrize("change", ["order", "agents", "strategy"])
    async def test_new_agents_their_order_or_a_new_strategy_start_the_rotation_afresh(
            self, api: Api, change: str) -> None:
        team = await api.team()
        sam, _ = await add_agent(api, team)
        a = (await post_route(api, team))["id"]
        await set_rotation(api, a)
        changes: dict[str, dict[str, Any]] = {"order": {"agent_ids": [team.rainmaker_id, team.member_id]},
                                              "agents": {"agent_ids": [team.member_id, team.rainmaker_id, sam]},
                                              "strategy": {"strategy": "random"}}
        fields = changes[change]
        replaced = await api.client.put(f"/routes/{a}", headers=team.rainmaker, json=route(team, **fields))
        assert replaced.status_code == 200, replaced.text
        row = await stored(api, a)
        assert (row.rotation, row.rotation_version) == (None, 4)

    async def test_a_refused_replacement_changes_nothing(self, api: Api) -> None:
        team = await api.team()
        created = await post_route(api, team)
        answer = await api.client.put(f"/routes/{created['id']}", headers=team.rainmaker,
                                      json=route(team, title="New", agent_ids=["ag_nobody"]))
        assert refusals(answer) == [("agent_ids", "R-ROUTE-1")]
        assert (await api.client.get(f"/routes/{created['id']}", headers=team.rainmaker)).json() == created


async def set_rotation(api: Api, route_id: str) -> None:
    """A rotation as routing would have stored it after a few leads."""
    async with session_scope(api.harness.sessions) as session:
        row = await session.get(Route, route_id)
        assert row is not None
        row.rotation, row.rotation_version = {"cursor": 1}, 3


class TestRRoute1OnlyTheRainmakerChangesRoutes:
    async def test_members_read_the_routes_and_are_refused_every_change(self, api: Api) -> None:
        team = await api.team()
        _, enhanced = await add_agent(api, team, "Erin", permission="enhanced")
        created = await post_route(api, team)
        rid = created["id"]
        for headers in (team.member, enhanced):
            assert (await api.client.get("/routes", headers=headers)).json() == [created]
            assert (await api.client.get(f"/routes/{rid}", headers=headers)).json() == created
            for method, url, body in (("POST", "/routes", route(team)), ("PUT", f"/routes/{rid}", route(team)),
                                      ("PUT", "/routes/order", {"ids": [rid]}), ("POST", f"/routes/{rid}/pause", None),
                                      ("POST", f"/routes/{rid}/activate", None), ("DELETE", f"/routes/{rid}", None)):
                answer = await api.client.request(method, url, json=body, headers=headers)
                assert answer.status_code == 403, f"{method} {url}: {answer.text}"
                assert "Rainmaker" in answer.json()["detail"]
        assert (await api.client.get(f"/routes/{rid}", headers=team.rainmaker)).json() == created
        async with session_scope(api.harness.sessions) as session:
            assert len(await team_routes(session, team.id)) == 1

    async def test_the_admin_key_is_not_an_agent(self, api: Api) -> None:
        team = await api.team()
        assert (await api.client.post("/routes", json=route(team), headers=ADMIN)).status_code == 403
        assert (await api.client.get("/routes", headers=ADMIN)).status_code == 403
        assert await listed(api, team) == []
