"""R-TEAM-1 as one table: every plan, design, settings, library and credits action, tried by each role.

Team plans, the team design library and the team settings are managed by the Rainmaker and by `enhanced` or
`unlimited` members; `basic` members use team plans (read, preview, enroll) but do not create or change them.
Everyone manages their own personal plans and designs. Credits are the Rainmaker's alone (R-TEAM-4). Each cell
runs on fresh records, so one role's success cannot hide another role's refusal.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import httpx

from tests.api.conftest import ADMIN, Api, Team
from tests.api.test_enrollments import make_contact

Role = Literal["rainmaker", "enhanced", "unlimited", "basic"]
ROLES: tuple[Role, ...] = ("rainmaker", "enhanced", "unlimited", "basic")
Who = Literal["everyone", "managers", "rainmaker"]
STEPS = [{"delay_days": 0, "steps": [{"kind": "task", "name": "Call", "priority": "none"}]}]


@dataclass
class Cell:
    api: Api
    team_id: str
    headers: dict[str, str]  # the role trying the action
    keys: dict[Role, dict[str, str]]
    ids: dict[Role, str]

    async def plan(self, *, team_plan: bool = True) -> str:
        """A plan made by the Rainmaker (team) or by the role itself (personal)."""
        headers = self.keys["rainmaker"] if team_plan else self.headers
        made = await self.api.client.post("/plans", headers=headers,
                                          json={"name": "Plan", "team_plan": team_plan, "days": STEPS})
        assert made.status_code == 201, made.text
        plan_id: str = made.json()["id"]
        return plan_id

    async def entry(self) -> str:
        """A library entry: the Rainmaker's team plan, published."""
        published = await self.api.client.post(f"/plans/{await self.plan()}/publish", headers=self.keys["rainmaker"],
                                               json={})
        assert published.status_code == 200, published.text
        entry_id: str = published.json()["entry"]["id"]
        return entry_id

    async def design(self) -> str:
        made = await self.api.client.post("/designs", headers=self.keys["rainmaker"],
                                          json={"name": "News", "subject": "News", "html": "<p>Hi</p>", "team": True})
        assert made.status_code == 201, made.text
        design_id: str = made.json()["id"]
        return design_id

    async def tag(self) -> str:
        made = await self.api.client.post("/tags", headers=self.keys["rainmaker"],
                                          json={"name": f"t-{uuid.uuid4().hex[:12]}"})
        assert made.status_code == 201, made.text
        tag_id: str = made.json()["id"]
        return tag_id


Try = Callable[[Cell], Awaitable[httpx.Response]]


async def _create_team_plan(c: Cell) -> httpx.Response:
    return await c.api.client.post("/plans", headers=c.headers, json={"name": "P", "team_plan": True, "days": STEPS})


async def _create_own_plan(c: Cell) -> httpx.Response:
    return await c.api.client.post("/plans", headers=c.headers, json={"name": "P", "days": STEPS})


async def _read_team_plan(c: Cell) -> httpx.Response:
    return await c.api.client.get(f"/plans/{await c.plan()}", headers=c.headers)


async def _edit_team_plan(c: Cell) -> httpx.Response:
    return await c.api.client.put(f"/plans/{await c.plan()}", headers=c.headers,
                                  json={"name": "Renamed", "days": STEPS})


async def _edit_own_plan(c: Cell) -> httpx.Response:
    return await c.api.client.put(f"/plans/{await c.plan(team_plan=False)}", headers=c.headers,
                                  json={"name": "Renamed", "days": STEPS})


async def _delete_team_plan(c: Cell) -> httpx.Response:
    return await c.api.client.delete(f"/plans/{await c.plan()}", headers=c.headers)


async def _deactivate_team_plan(c: Cell) -> httpx.Response:
    return await c.api.client.post(f"/plans/{await c.plan()}/deactivate", headers=c.headers)


async def _activate_team_plan(c: Cell) -> httpx.Response:
    return await c.api.client.post(f"/plans/{await c.plan()}/activate", headers=c.headers)


async def _duplicate_team_plan(c: Cell) -> httpx.Response:
    return await c.api.client.post(f"/plans/{await c.plan()}/duplicate", headers=c.headers)


async def _preview_team_plan(c: Cell) -> httpx.Response:
    return await c.api.client.post(f"/plans/{await c.plan()}/preview", headers=c.headers,
                                   json={"start_at": "2030-01-07T09:00:00-06:00"})


async def _enroll_in_team_plan(c: Cell) -> httpx.Response:
    contact_id = await make_contact(c.api, _team(c))
    return await c.api.client.post(f"/plans/{await c.plan()}/enrollments", headers=c.headers,
                                   json={"contact_id": contact_id})


async def _set_team_plan_triggers(c: Cell) -> httpx.Response:
    return await c.api.client.put(f"/plans/{await c.plan()}/triggers", headers=c.headers,
                                  json={"tag_ids": [await c.tag()]})


async def _set_team_plan_removal_rules(c: Cell) -> httpx.Response:
    return await c.api.client.put(f"/plans/{await c.plan()}/removal-rules", headers=c.headers,
                                  json={"on_email_reply": True, "on_text_reply": False})


async def _create_team_design(c: Cell) -> httpx.Response:
    return await c.api.client.post("/designs", headers=c.headers,
                                   json={"name": "D", "subject": "S", "html": "<p>x</p>", "team": True})


async def _edit_team_design(c: Cell) -> httpx.Response:
    return await c.api.client.put(f"/designs/{await c.design()}", headers=c.headers,
                                  json={"name": "D2", "subject": "S2", "html": "<p>y</p>"})


async def _delete_team_design(c: Cell) -> httpx.Response:
    return await c.api.client.delete(f"/designs/{await c.design()}", headers=c.headers)


async def _read_team_design(c: Cell) -> httpx.Response:
    return await c.api.client.get(f"/designs/{await c.design()}", headers=c.headers)


async def _create_own_design(c: Cell) -> httpx.Response:
    return await c.api.client.post("/designs", headers=c.headers,
                                   json={"name": "Mine", "subject": "S", "html": "<p>x</p>"})


async def _own_settings(c: Cell) -> httpx.Response:
    return await c.api.client.patch("/settings", headers=c.headers, json={"postal_address": "2 Elm St"})


async def _team_defaults(c: Cell) -> httpx.Response:
    return await c.api.client.patch("/settings", headers=c.headers, json={"default_task_assignee": "contact_assignee"})


async def _team_timing(c: Cell) -> httpx.Response:
    return await c.api.client.patch("/settings", headers=c.headers, json={"team_slot_times": {"morning": "09:30"}})


async def _publish_team_plan(c: Cell) -> httpx.Response:
    return await c.api.client.post(f"/plans/{await c.plan()}/publish", headers=c.headers, json={})


async def _publish_own_plan(c: Cell) -> httpx.Response:
    return await c.api.client.post(f"/plans/{await c.plan(team_plan=False)}/publish", headers=c.headers, json={})


async def _browse_library(c: Cell) -> httpx.Response:
    return await c.api.client.get("/library", headers=c.headers)


async def _copy_into_own_plans(c: Cell) -> httpx.Response:
    return await c.api.client.post(f"/library/{await c.entry()}/copy", headers=c.headers, json={})


async def _copy_into_team_plans(c: Cell) -> httpx.Response:
    return await c.api.client.post(f"/library/{await c.entry()}/copy", headers=c.headers, json={"team_plan": True})


async def _credits_report(c: Cell) -> httpx.Response:
    return await c.api.client.get("/reports/credits", headers=c.headers)


async def _raise_a_quota(c: Cell) -> httpx.Response:
    return await c.api.client.patch(f"/agents/{c.ids['basic']}/credits", headers=c.headers,
                                    json={"email_quota_monthly": 6000})


def _team(c: Cell) -> Team:
    return Team(c.team_id, c.keys["rainmaker"], c.keys["basic"], c.ids["rainmaker"], c.ids["basic"])


# (action, who may, the success status)
MATRIX: list[tuple[str, Who, int, Try]] = [
    ("create a team plan", "managers", 201, _create_team_plan),
    ("create a personal plan", "everyone", 201, _create_own_plan),
    ("edit one's personal plan", "everyone", 200, _edit_own_plan),
    ("read a team plan", "everyone", 200, _read_team_plan),
    ("preview a team plan", "everyone", 200, _preview_team_plan),
    ("enroll a contact in a team plan", "everyone", 201, _enroll_in_team_plan),
    ("edit a team plan", "managers", 200, _edit_team_plan),
    ("delete a team plan", "managers", 204, _delete_team_plan),
    ("deactivate a team plan", "managers", 200, _deactivate_team_plan),
    ("activate a team plan", "managers", 200, _activate_team_plan),
    ("duplicate a team plan", "managers", 201, _duplicate_team_plan),
    ("set a team plan's tag triggers", "managers", 200, _set_team_plan_triggers),
    ("set a team plan's removal rules", "managers", 200, _set_team_plan_removal_rules),
    ("read a team design", "everyone", 200, _read_team_design),
    ("add a team design", "managers", 201, _create_team_design),
    ("edit a team design", "managers", 200, _edit_team_design),
    ("delete a team design", "managers", 204, _delete_team_design),
    ("add one's own design", "everyone", 201, _create_own_design),
    ("change one's own settings", "everyone", 200, _own_settings),
    ("change the team's default assignees", "managers", 200, _team_defaults),
    ("change the team's slot times", "managers", 200, _team_timing),
    ("publish a team plan to the library", "managers", 200, _publish_team_plan),
    ("publish one's personal plan to the library", "everyone", 200, _publish_own_plan),
    ("browse the library", "everyone", 200, _browse_library),
    ("copy a library plan into one's own plans", "everyone", 201, _copy_into_own_plans),
    ("copy a library plan into the team's plans", "managers", 201, _copy_into_team_plans),
    ("see every agent's credits", "rainmaker", 200, _credits_report),
    ("change an agent's email quota", "rainmaker", 200, _raise_a_quota),
]


def allowed(who: Who, role: Role) -> bool:
    return who == "everyone" or (who == "managers" and role != "basic") or role == "rainmaker"


async def test_each_role_may_do_exactly_what_r_team_1_allows(api: Api) -> None:
    team = await api.team()
    keys: dict[Role, dict[str, str]] = {"rainmaker": team.rainmaker, "basic": team.member}
    ids: dict[Role, str] = {"rainmaker": team.rainmaker_id, "basic": team.member_id}
    for permission in ("enhanced", "unlimited"):
        made = await api.client.post(f"/teams/{team.id}/agents", headers=ADMIN, json={
            "first_name": permission.title(), "last_name": "Agent", "email": f"{permission}.{team.id[-6:]}@example.com",
            "role": "member", "permission": permission})
        assert made.status_code == 201, made.text
        keys[permission] = {"Authorization": f"Bearer {made.json()['api_key']}"}
        ids[permission] = made.json()["id"]
    wrong = []
    for action, who, success, attempt in MATRIX:
        for role in ROLES:
            answer = await attempt(Cell(api, team.id, keys[role], keys, ids))
            expected = success if allowed(who, role) else 403
            if answer.status_code != expected:
                wrong.append(f"{role} may{'' if allowed(who, role) else ' not'} {action}: expected {expected}, "
                             f"got {answer.status_code} {answer.text[:200]}")
            elif expected == 403:
                assert "R-TEAM" in answer.json()["detail"], (action, role, answer.text)
    assert not wrong, "\n".join(wrong)
