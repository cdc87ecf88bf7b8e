"""The lead routing report (R-STATS-1) and the agent states routing reads (R-OFFER-3), against a known sequence of
leads and offers written as rows: every figure below follows from `sequence()` by hand.

The clock is the time-skipping server's, moved to NOW (10 February next year, noon in Chicago), so month-to-date
and year-to-date are fixed, and the rows straddle both boundaries in the team's zone: an offer claimed at 23:30
Chicago time on 31 January is 1 February in UTC, and must count in January.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from db.models import Contact
from db.routing_models import Lead, LeadOffer
from db.session import session_scope
from domain.ids import new_id
from services.lead_stats import agent_states
from tests.api.conftest import Api, Team
from tests.api.test_routes import add_agent, post_route
from tests.factories import CT


@dataclass
class World:
    team: Team
    now: datetime
    agents: dict[str, str]  # alex, rita, sam → id
    routes: dict[str, str]  # A, B → id
    sam: dict[str, str]  # Sam's headers


def sequence(year: int) -> list[tuple[str, datetime, list[tuple[str, int, str, int | None]]]]:
    """(route, received in Chicago, offers as (agent, seconds after arrival, outcome, seconds to decide))."""
    def at(month: int, day: int, hour: int, minute: int, y: int = year) -> datetime:
        return datetime(y, month, day, hour, minute, tzinfo=CT)
    return [
        ("A", at(2, 2, 10, 0), [("alex", 0, "passed", 60), ("rita", 60, "claimed", 30)]),  # L1
        ("A", at(2, 3, 9, 0), [("rita", 0, "expired", 300), ("alex", 300, "claimed", 90)]),  # L2
        ("B", at(2, 4, 15, 0), [("rita", 0, "withdrawn", 10), ("alex", 0, "claimed", 10)]),  # L3: jump ball
        ("B", at(2, 5, 8, 0), [("alex", 0, "claimed", 50)]),  # L4
        ("A", at(1, 31, 23, 30), [("rita", 0, "claimed", 20)]),  # L5: 1 February in UTC, January here
        ("A", at(2, 10, 11, 58), [("alex", 0, "open", None)]),  # L6: still waiting at NOW
        ("B", at(12, 31, 23, 50, year - 1), [("alex", 0, "claimed", 1000)]),  # L7: last year here, not in UTC
        ("A", at(1, 1, 0, 10), [("sam", 0, "passed", 30)]),  # L8: first minutes of the year
        ("B", at(2, 1, 0, 30), [("sam", 0, "claimed", 40)]),  # L9: first minutes of February
    ]


async def world(api: Api) -> World:
    team = await api.team()
    sam, sam_headers = await add_agent(api, team)
    agents = {"alex": team.member_id, "rita": team.rainmaker_id, "sam": sam}
    routes = {name: (await post_route(api, team, title=f"Route {name}", agent_ids=list(agents.values())))["id"]
              for name in ("B", "A")}
    year = (await api.harness.env.get_current_time()).year + 1
    now = datetime(year, 2, 10, 12, 0, tzinfo=CT)
    await api.harness.advance_to(now)
    async with session_scope(api.harness.sessions) as session:
        for route, received, offers in sequence(year):
            contact = Contact(id=new_id("ct"), team_id=team.id, first_name="Lee")
            session.add(contact)
            await session.flush()
            lead = Lead(id=new_id("ld"), team_id=team.id, contact_id=contact.id, source="Zillow", received_at=received,
                        route_id=routes[route], status="offered")
            session.add(lead)
            await session.flush()
            for who, after, outcome, took in offers:
                offered = received + timedelta(seconds=after)
                decided = offered + timedelta(seconds=took) if took is not None else None
                session.add(LeadOffer(id=new_id("lo"), lead_id=lead.id, team_id=team.id, route_id=routes[route],
                                      agent_id=agents[who], offered_at=offered, deadline=offered + timedelta(minutes=5),
                                      outcome=outcome, decided_at=decided))
                if outcome == "claimed":
                    lead.status, lead.owner_agent_id, lead.owned_at, lead.owned_how = (
                        "claimed", agents[who], decided, "claimed")
    return World(team, now, agents, routes, sam_headers)


async def report(api: Api, w: World, period: str | None = None) -> dict[str, Any]:
    answer = await api.client.get("/reports/lead-routing", params={"period": period} if period else None,
                                  headers=w.team.rainmaker)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def figures(offered: int, claimed: int = 0, passed: int = 0, missed: int = 0, open_: int = 0, withdrawn: int = 0,
            median: float | None = None) -> dict[str, Any]:
    return {"offered": offered, "claimed": claimed, "passed": passed, "missed": missed, "open": open_,
            "withdrawn": withdrawn, "median_seconds_to_claim": median}


def by_agent(body: dict[str, Any], w: World) -> dict[str, dict[str, Any]]:
    names = {agent_id: name for name, agent_id in w.agents.items()}
    return {names[row["agent_id"]]: row for row in body["agents"]}


def counts(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in figures(0)}


def per_route(row: dict[str, Any], w: World) -> dict[str | None, dict[str, Any]]:
    names = {route_id: name for name, route_id in w.routes.items()}
    return {names.get(r["route_id"]): counts(r) for r in row["routes"]}


class TestRStats1LeadRoutingReport:
    async def test_month_to_date_counts_each_agent_and_route_from_the_first_in_the_team_zone(self, api: Api) -> None:
        w = await world(api)
        body = await report(api, w)  # mtd is the default
        assert (body["period"], body["time_zone"]) == ("mtd", "America/Chicago")
        assert body["from"] == f"{w.now.year}-02-01T00:00:00-06:00"
        assert body["to"].startswith(f"{w.now.year}-02-10T12:00")
        agents = by_agent(body, w)
        assert {name: counts(row) for name, row in agents.items()} == {
            "alex": figures(5, claimed=3, passed=1, open_=1, median=50),  # L1 L2 L3 L4 L6; claims 90, 10, 50
            "rita": figures(3, claimed=1, missed=1, withdrawn=1, median=30),  # L1 L2 L3
            "sam": figures(1, claimed=1, median=40)}  # L9
        assert per_route(agents["alex"], w) == {"A": figures(3, claimed=1, passed=1, open_=1, median=90),
                                                "B": figures(2, claimed=2, median=30)}
        assert per_route(agents["rita"], w) == {"A": figures(2, claimed=1, missed=1, median=30),
                                                "B": figures(1, withdrawn=1)}
        assert [row["title"] for row in agents["alex"]["routes"]] == ["Route A", "Route B"]  # the list's order
        assert [(r["title"], r["leads"], r["deleted"], counts(r)) for r in body["routes"]] == [
            ("Route A", 3, False, figures(5, claimed=2, passed=1, missed=1, open_=1, median=60)),
            ("Route B", 3, False, figures(4, claimed=3, withdrawn=1, median=40))]

    async def test_year_to_date_starts_at_midnight_on_1_january_in_the_team_zone(self, api: Api) -> None:
        w = await world(api)
        body = await report(api, w, "ytd")
        assert body["from"] == f"{w.now.year}-01-01T00:00:00-06:00"
        assert {name: counts(row) for name, row in by_agent(body, w).items()} == {
            "alex": figures(5, claimed=3, passed=1, open_=1, median=50),  # L7 was last year in Chicago
            "rita": figures(4, claimed=2, missed=1, withdrawn=1, median=25),  # + L5 (20 s)
            "sam": figures(2, claimed=1, passed=1, median=40)}  # + L8
        assert [(r["title"], r["leads"], counts(r)) for r in body["routes"]] == [
            ("Route A", 5, figures(7, claimed=3, passed=2, missed=1, open_=1, median=30)),
            ("Route B", 3, figures(4, claimed=3, withdrawn=1, median=40))]

    async def test_all_time_has_every_offer_and_a_deleted_route_stays_in_the_figures(self, api: Api) -> None:
        w = await world(api)
        assert (await api.client.delete(f"/routes/{w.routes['B']}", headers=w.team.rainmaker)).status_code == 204
        body = await report(api, w, "all")
        assert body["from"] is None
        alex = by_agent(body, w)["alex"]
        assert counts(alex) == figures(6, claimed=4, passed=1, open_=1, median=70)  # + L7: 90, 10, 50, 1000
        assert [(r["route_id"], r["title"], counts(r)) for r in alex["routes"]] == [
            (w.routes["A"], "Route A", figures(3, claimed=1, passed=1, open_=1, median=90)),
            (w.routes["B"], None, figures(3, claimed=3, median=50))]
        assert [(r["route_id"], r["title"], r["leads"], r["deleted"], counts(r)) for r in body["routes"]] == [
            (w.routes["A"], "Route A", 5, False, figures(7, claimed=3, passed=2, missed=1, open_=1, median=30)),
            (w.routes["B"], None, 4, True, figures(5, claimed=4, withdrawn=1, median=45))]

    async def test_each_agent_comes_with_their_settings_and_leads_this_month(self, api: Api) -> None:
        w = await world(api)
        limited = await api.client.patch(f"/agents/{w.agents['alex']}/routing", headers=w.team.rainmaker,
                                         json={"lead_limit": 3, "routes_paused": True})
        assert limited.status_code == 200, limited.text
        assert limited.json() == {"agent_id": w.agents["alex"], "lead_limit": 3, "routes_paused": True,
                                  "leads_paused": False, "leads_this_month": 3}
        agents = by_agent(await report(api, w, "all"), w)
        assert {name: (row["name"], row["lead_limit"], row["leads_this_month"], row["routes_paused"],
                       row["leads_paused"]) for name, row in agents.items()} == {
            "alex": ("Alex Agent", 3, 3, True, False),  # owns L2 L3 L4 in February; L7 in January
            "rita": ("Rita Agent", None, 1, False, False),  # L1; L5 was claimed in January here
            "sam": ("Sam Agent", None, 1, False, False)}  # L9
        assert list(agents) == ["alex", "rita", "sam"]  # by name

    async def test_the_periods_follow_the_teams_own_zone(self, api: Api) -> None:
        w = await world(api)
        moved = await api.client.patch("/settings", headers=w.team.rainmaker, json={"team_time_zone": "Asia/Tokyo"})
        assert moved.status_code == 200, moved.text
        body = await report(api, w)
        assert (body["from"], body["time_zone"]) == (f"{w.now.year}-02-01T00:00:00+09:00", "Asia/Tokyo")
        assert body["to"].startswith(f"{w.now.year}-02-11T03:00")
        rita = by_agent(body, w)["rita"]
        # L5 (23:30 on 31 January in Chicago) is 14:30 on 1 February in Tokyo: February's now.
        assert (rita["offered"], rita["claimed"], rita["leads_this_month"]) == (4, 2, 2)

    async def test_only_the_rainmaker_reads_it_and_the_period_is_one_of_three(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.get("/reports/lead-routing", headers=team.member)
        assert refused.status_code == 403
        assert "R-STATS-1" in refused.json()["detail"]
        wrong = await api.client.get("/reports/lead-routing", params={"period": "week"}, headers=team.rainmaker)
        assert wrong.status_code == 422
        assert [d["loc"] for d in wrong.json()["detail"]] == [["query", "period"]]
        empty = await api.client.get("/reports/lead-routing", headers=team.rainmaker)
        assert [counts(row) for row in empty.json()["agents"]] == [figures(0), figures(0)]
        assert empty.json()["routes"] == []


class TestROffer3AgentStates:
    async def test_states_carry_settings_and_the_leads_owned_in_the_month_of_at_in_the_zone_given(
            self, api: Api) -> None:
        w = await world(api)
        other = await api.team("Other Team")
        for who, change in (("alex", {"lead_limit": 3}), ("sam", {"leads_paused": True, "routes_paused": True})):
            answer = await api.client.patch(f"/agents/{w.agents[who]}/routing", headers=w.team.rainmaker, json=change)
            assert answer.status_code == 200, answer.text
        ids = [w.agents["alex"], w.agents["rita"], w.agents["sam"], other.member_id, "ag_nobody"]

        async def states(at: datetime, zone: str) -> list[tuple[bool, bool, bool, int | None, int]]:
            async with session_scope(api.harness.sessions) as session:
                found = await agent_states(session, w.team.id, ids, at, zone)
            assert list(found) == ids
            assert all(found[agent_id].agent_id == agent_id for agent_id in ids)
            return [(s.on_team, s.leads_paused, s.routes_paused, s.lead_limit, s.leads_this_month)
                    for s in found.values()]

        assert await states(w.now, "America/Chicago") == [
            (True, False, False, 3, 3), (True, False, False, None, 1), (True, True, True, None, 1),
            (False, False, False, None, 0), (False, False, False, None, 0)]
        # In January (Chicago): Rita's L5 and Alex's L7, claimed 00:06 on 1 January after the New Year's Eve offer.
        assert [s[4] for s in await states(datetime(w.now.year, 1, 15, tzinfo=CT), "America/Chicago")] == [
            1, 1, 0, 0, 0]
        # In UTC, L5's claim (05:30 UTC on 1 February) belongs to February.
        assert [s[4] for s in await states(w.now, "UTC")] == [3, 2, 1, 0, 0]
