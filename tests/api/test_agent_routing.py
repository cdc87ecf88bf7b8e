"""An agent's routing settings (R-STATS-1, R-OFFER-3): the Rainmaker sets a monthly lead limit and pauses an agent's
routes or leads; an agent reads their own."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from db.routing_models import AgentRouting
from db.session import session_scope
from tests.api.conftest import Api
from tests.api.test_routes import add_agent, refusals

UNSET = {"lead_limit": None, "routes_paused": False, "leads_paused": False, "leads_this_month": 0}


async def settings_rows(api: Api) -> int:
    async with session_scope(api.harness.sessions) as session:
        return int(await session.scalar(select(func.count()).select_from(AgentRouting)) or 0)


class TestRStats1RoutingSettings:
    async def test_an_agent_starts_with_no_limit_and_nothing_paused(self, api: Api) -> None:
        team = await api.team()
        got = await api.client.get(f"/agents/{team.member_id}/routing", headers=team.rainmaker)
        assert got.status_code == 200, got.text
        assert got.json() == {"agent_id": team.member_id, **UNSET}
        assert await settings_rows(api) == 0

    async def test_only_the_fields_sent_change(self, api: Api) -> None:
        team = await api.team()
        url = f"/agents/{team.member_id}/routing"
        steps: list[tuple[dict[str, Any], dict[str, Any]]] = [
            ({"lead_limit": 20}, {"lead_limit": 20}),
            ({"routes_paused": True}, {"lead_limit": 20, "routes_paused": True}),
            ({"leads_paused": True, "lead_limit": 0}, {"lead_limit": 0, "routes_paused": True, "leads_paused": True}),
            ({}, {"lead_limit": 0, "routes_paused": True, "leads_paused": True}),
            ({"lead_limit": None, "routes_paused": False}, {"leads_paused": True}),
        ]
        for change, expected in steps:
            answer = await api.client.patch(url, json=change, headers=team.rainmaker)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"agent_id": team.member_id, **UNSET, **expected}, change
        assert (await api.client.get(url, headers=team.member)).json() == {
            "agent_id": team.member_id, **UNSET, "leads_paused": True}
        assert await settings_rows(api) == 1

    @pytest.mark.parametrize(("change", "field"), [
        ({"lead_limit": -1}, "lead_limit"), ({"lead_limit": 2.5}, "lead_limit"), ({"lead_limit": "5"}, "lead_limit"),
        ({"lead_limit": True}, "lead_limit"), ({"lead_limit": 100_001}, "lead_limit"),
        ({"routes_paused": None}, "routes_paused"), ({"routes_paused": "yes"}, "routes_paused"),
        ({"leads_paused": 1}, "leads_paused")])
    async def test_bad_values_are_refused_by_name_and_rule_and_nothing_is_written(
            self, api: Api, change: dict[str, Any], field: str) -> None:
        team = await api.team()
        answer = await api.client.patch(f"/agents/{team.member_id}/routing", json={"lead_limit": 5, **change},
                                        headers=team.rainmaker)
        assert refusals(answer) == [(field, "R-STATS-1")]
        assert await settings_rows(api) == 0

    async def test_an_unknown_field_or_agent_is_refused(self, api: Api) -> None:
        team = await api.team()
        unknown = await api.client.patch(f"/agents/{team.member_id}/routing", json={"paused": True},
                                         headers=team.rainmaker)
        assert unknown.status_code == 422
        assert [d["loc"] for d in unknown.json()["detail"]] == [["body", "paused"]]
        for method in ("GET", "PATCH"):
            missing = await api.client.request(method, "/agents/ag_nobody/routing", json={"lead_limit": 1},
                                               headers=team.rainmaker)
            assert (missing.status_code, missing.json()) == (404, {"detail": "agent ag_nobody not found"})
        assert await settings_rows(api) == 0


class TestRStats1OnlyTheRainmakerSetsThem:
    async def test_members_read_their_own_and_change_none(self, api: Api) -> None:
        team = await api.team()
        sam, sams = await add_agent(api, team, permission="unlimited")
        for headers, target in ((team.member, team.member_id), (team.member, sam), (sams, sam),
                                (sams, team.rainmaker_id)):
            refused = await api.client.patch(f"/agents/{target}/routing", json={"lead_limit": 1}, headers=headers)
            assert refused.status_code == 403, refused.text
            assert "R-STATS-1" in refused.json()["detail"]
        assert (await api.client.get(f"/agents/{team.member_id}/routing", headers=team.member)).status_code == 200
        for headers, target in ((team.member, sam), (sams, team.rainmaker_id)):
            refused = await api.client.get(f"/agents/{target}/routing", headers=headers)
            assert refused.status_code == 403, refused.text
        assert await settings_rows(api) == 0
        own = await api.client.patch(f"/agents/{team.rainmaker_id}/routing", json={"routes_paused": True},
                                     headers=team.rainmaker)
        assert (own.status_code, own.json()["routes_paused"]) == (200, True)
