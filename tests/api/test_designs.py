"""Email designs (R-EMAIL-1) through the real app: the team library and each agent's own, who may change which,
and that a plan may only send a design it can see."""

from __future__ import annotations

from typing import Any

from db.session import session_scope
from domain.plan import PlanDefinition
from services.plans import create_plan
from tests.api.conftest import Api, Team

HTML = "<h1 style=\"color: #333\">Hi {contact.first.name}</h1><style>p {margin: 0}</style>"


def body(name: str = "Welcome", **extra: Any) -> dict[str, Any]:
    return {"name": name, "subject": "Welcome, {contact.first.name}", "html": HTML, **extra}


async def create(api: Api, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    created = await api.client.post("/designs", json=body(**extra), headers=headers)
    assert created.status_code == 201, created.text
    design: dict[str, Any] = created.json()
    return design


def design_plan(design_id: str, *, team_plan: bool = False, name: str = "Newsletter") -> dict[str, Any]:
    step = {"kind": "email", "time_of_day": "morning", "mode": "design", "subject": "News", "design_id": design_id}
    return {"name": name, "team_plan": team_plan, "days": [{"delay_days": 0, "steps": [step]}]}


async def names(api: Api, headers: dict[str, str]) -> list[str]:
    return [d["name"] for d in (await api.client.get("/designs", headers=headers)).json()]


class TestREmail1DesignLibrary:
    async def test_team_designs_are_shared_and_own_designs_are_private(self, api: Api) -> None:
        team = await api.team()
        shared = await create(api, team.rainmaker, name="Team letter", team=True)
        assert (shared["team"], shared["agent_id"]) == (True, None)
        own = await create(api, team.member, name="Alex letter")
        assert (own["team"], own["agent_id"]) == (False, team.member_id)
        await create(api, team.rainmaker, name="Rita letter")
        assert await names(api, team.member) == ["Alex letter", "Team letter"]
        assert (await api.client.get(f"/designs/{shared['id']}", headers=team.member)).json() == shared
        assert (await api.client.get(f"/designs/{own['id']}", headers=team.rainmaker)).status_code == 404

    async def test_a_basic_member_neither_adds_to_nor_changes_the_team_library(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/designs", json=body(team=True), headers=team.member)
        assert refused.status_code == 403
        shared = await create(api, team.rainmaker, team=True)
        url = f"/designs/{shared['id']}"
        assert (await api.client.put(url, json=body("Mine"), headers=team.member)).status_code == 403
        assert (await api.client.delete(url, headers=team.member)).status_code == 403
        assert await names(api, team.member) == ["Welcome"]
        assert (await api.client.get(url, headers=team.member)).json() == shared

    async def test_edit_and_delete_own_designs(self, api: Api) -> None:
        team = await api.team()
        own = await create(api, team.member)
        url = f"/designs/{own['id']}"
        edited = await api.client.put(url, json=body("Renamed"), headers=team.member)
        assert (edited.status_code, edited.json()["name"], edited.json()["id"]) == (200, "Renamed", own["id"])
        assert (await api.client.delete(url, headers=team.member)).status_code == 204
        assert (await api.client.get(url, headers=team.member)).status_code == 404

    async def test_another_teams_design_is_404(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        theirs = await create(api, other.rainmaker, team=True)
        url = f"/designs/{theirs['id']}"
        for method, payload in (("GET", None), ("PUT", body()), ("DELETE", None)):
            assert (await api.client.request(method, url, json=payload, headers=team.rainmaker)).status_code == 404

    async def test_bad_bodies_are_422_and_keys_are_required(self, api: Api) -> None:
        team = await api.team()
        typo = await api.client.post("/designs", json=body(teams=True), headers=team.rainmaker)
        assert (typo.status_code, typo.json()["detail"][0]["loc"]) == (422, ["body", "teams"])
        merge = await api.client.post("/designs", json={**body(), "html": "Hi {contact.frist.name}"},
                                      headers=team.rainmaker)
        assert merge.status_code == 422
        assert merge.json()["detail"][0]["loc"] == ["body", "html"]
        assert merge.json()["detail"][0]["rule"] == "R-MERGE-1"
        own = await create(api, team.rainmaker)
        empty = await api.client.put(f"/designs/{own['id']}", json={**body(), "subject": ""}, headers=team.rainmaker)
        assert empty.status_code == 422
        assert (await api.client.get(f"/designs/{own['id']}", headers=team.rainmaker)).json() == own
        for method, path in (("GET", "/designs"), ("POST", "/designs"), ("GET", f"/designs/{own['id']}"),
                             ("PUT", f"/designs/{own['id']}"), ("DELETE", f"/designs/{own['id']}")):
            assert (await api.client.request(method, path)).status_code == 401, (method, path)


class TestREmail1PlansUseVisibleDesigns:
    async def test_a_team_plan_uses_the_team_library_and_a_personal_plan_also_its_owners(self, api: Api) -> None:
        team: Team = await api.team()
        other = await api.team("Other Team")
        shared = await create(api, team.rainmaker, team=True)
        rita_own = await create(api, team.rainmaker)
        theirs = await create(api, other.rainmaker, team=True)
        for design_id, team_plan in ((shared["id"], True), (shared["id"], False), (rita_own["id"], False)):
            saved = await api.client.post("/plans", json=design_plan(design_id, team_plan=team_plan),
                                          headers=team.rainmaker)
            assert saved.status_code == 201, saved.text
        for design_id, team_plan, headers in ((rita_own["id"], True, team.rainmaker),
                                              (theirs["id"], False, team.rainmaker),
                                              (rita_own["id"], False, team.member)):
            refused = await api.client.post("/plans", json=design_plan(design_id, team_plan=team_plan),
                                            headers=headers)
            assert refused.status_code == 422
            (problem,) = refused.json()["detail"]
            assert (problem["loc"][-1], problem["rule"]) == ("design_id", "R-EMAIL-1")

    async def test_a_step_with_its_own_html_still_names_a_design_it_may_use(self, api: Api) -> None:
        team = await api.team()
        rita_own = await create(api, team.rainmaker)
        with_copy = design_plan(rita_own["id"], team_plan=True)
        with_copy["days"][0]["steps"][0]["html"] = "<p>Edited</p>"
        refused = await api.client.post("/plans", json=with_copy, headers=team.rainmaker)
        assert refused.status_code == 422
        (problem,) = refused.json()["detail"]
        assert (problem["loc"][-1], problem["rule"]) == ("design_id", "R-EMAIL-1")
        assert (await api.client.get("/plans", headers=team.rainmaker)).json() == []


class TestREmail1DeletingADesign:
    async def test_plans_keep_their_copies_and_can_still_be_saved(self, api: Api) -> None:
        team = await api.team()
        shared = await create(api, team.rainmaker, team=True)
        plan = (await api.client.post("/plans", json=design_plan(shared["id"], name="Monthly"),
                                      headers=team.member)).json()
        assert (await api.client.delete(f"/designs/{shared['id']}", headers=team.rainmaker)).status_code == 204
        kept = (await api.client.get(f"/plans/{plan['id']}", headers=team.member)).json()
        assert kept == plan
        assert kept["days"][0]["steps"][0]["html"] == HTML
        as_read = {key: kept[key] for key in ("name", "days", "repeat")}
        saved = await api.client.put(f"/plans/{plan['id']}", json=as_read, headers=team.member)
        assert saved.status_code == 200, saved.text
        assert saved.json()["days"][0]["steps"][0]["design_id"] == shared["id"]  # where the copy came from

    async def test_refused_while_a_plan_saved_before_steps_held_copies_sends_it_until_that_plan_is_saved_again(
            self, api: Api) -> None:
        team = await api.team()
        shared = await create(api, team.rainmaker, team=True)
        async with session_scope(api.harness.sessions) as session:  # as saved before steps held their copy
            plan = await create_plan(session, team_id=team.id, owner_agent_id=team.member_id,
                                     definition=PlanDefinition.model_validate(design_plan(shared["id"], name="Old")))
        refused = await api.client.delete(f"/designs/{shared['id']}", headers=team.rainmaker)
        assert refused.status_code == 409
        assert f"'Old' ({plan.id})" in refused.json()["detail"]
        assert "save those plans again" in refused.json()["detail"]
        as_read = (await api.client.get(f"/plans/{plan.id}", headers=team.member)).json()
        assert as_read["days"][0]["steps"][0]["html"] is None
        saved = await api.client.put(f"/plans/{plan.id}", headers=team.member,
                                     json={key: as_read[key] for key in ("name", "days", "repeat")})
        assert saved.json()["days"][0]["steps"][0]["html"] == HTML
        assert (await api.client.delete(f"/designs/{shared['id']}", headers=team.rainmaker)).status_code == 204
