"""Every route that takes an id answers 404 to another team — and changes nothing.

The routes come from the app itself, so a new route with a path id fails here until it is given a body below (or
listed as not team-scoped with a reason): it cannot be forgotten.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from api.app import create_app
from config import Settings
from db.models import Agent, Contact, Design, Enrollment, LibraryEntry, Plan, Tag, Task
from db.routing_models import AgentRouting, Lead, Route
from db.session import session_scope
from domain.ids import new_id
from tests.api.conftest import Api

PLAN = {"name": "A's plan", "days": [{"delay_days": 0, "steps": [
    {"kind": "task", "name": "Call", "priority": "high", "due_in_days": 1}]}, {"delay_days": 30, "steps": [
        {"kind": "task", "name": "Call again", "priority": "high", "due_in_days": 1}]}]}
DESIGN = {"name": "Newsletter", "subject": "News", "html": "<p>Hello</p>"}


def route_body(agent_id: str) -> dict[str, Any]:
    return {"title": "Everything", "days_of_week": [0, 1, 2, 3, 4, 5, 6], "start_time": "00:00", "end_time": "00:00",
            "sources": ["Zillow"], "strategy": "round_robin", "agent_ids": [agent_id], "claim_seconds": 300}


# Not team-scoped by id: the token itself is the credential, or the resource is shared by every team.
NOT_TEAM_SCOPED = {"/unsubscribe/{token}": "an HMAC-signed per-contact link, verified without an API key",
                   "/library/{entry_id}": "the shared library: every team browses it (R-LIB-5)",
                   "/library/{entry_id}/copy": "the shared library: every team copies from it (R-LIB-5)"}
RESOURCE_BY_SEGMENT = {"teams": "team", "plans": "plan", "designs": "design", "contacts": "contact", "tags": "tag",
                       "enrollments": "enrollment", "tasks": "task", "routes": "route", "agents": "agent",
                       "leads": "lead", "pool": "lead"}


def bodies(theirs: dict[str, str]) -> dict[tuple[str, str], dict[str, Any] | None]:
    """A valid body for every id-taking route, from the attacker's side, so only the id decides the answer."""
    return {
        ("POST", "/teams/{team_id}/agents"): {"first_name": "Eve", "last_name": "X", "email": "eve@example.com"},
        ("PUT", "/plans/{plan_id}"): PLAN,
        ("POST", "/plans/{plan_id}/preview"): {"start_at": "2027-01-04T09:00:00-06:00"},
        ("PUT", "/plans/{plan_id}/triggers"): {"tag_ids": [theirs["tag"]]},
        ("PUT", "/plans/{plan_id}/removal-rules"): {"on_email_reply": True, "on_text_reply": True},
        ("POST", "/plans/{plan_id}/enrollments"): {"contact_id": theirs["contact"]},
        ("POST", "/plans/{plan_id}/enrollments/batch"): {"contact_ids": [theirs["contact"]]},
        ("POST", "/plans/{plan_id}/publish"): {"include_linked": True},
        ("PUT", "/designs/{design_id}"): DESIGN,
        ("PATCH", "/contacts/{contact_id}"): {"first_name": "Hacked"},
        ("POST", "/contacts/{contact_id}/tags"): {"tag_id": theirs["tag"]},
        ("PATCH", "/tags/{tag_id}"): {"name": "renamed"},
        ("POST", "/tasks/{task_id}/complete"): {"notes": "not mine"},
        ("PUT", "/routes/{route_id}"): route_body(theirs["agent"]),
        ("PATCH", "/agents/{agent_id}/routing"): {"lead_limit": 0, "routes_paused": True, "leads_paused": True},
        ("PATCH", "/agents/{agent_id}/credits"): {"email_quota_monthly": 0},
        ("POST", "/pool/{lead_id}/assign"): {"agent_id": theirs["agent"]},
    }


def routes(app: FastAPI) -> Iterator[APIRoute]:
    stack: list[Any] = list(app.routes)
    while stack:
        route = stack.pop(0)
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI keeps included routers nested
            stack.extend(route.original_router.routes)


def id_routes() -> list[tuple[str, str, APIRoute]]:
    app = create_app(Settings(environment="test"))
    found: list[tuple[str, str, APIRoute]] = []
    for route in routes(app):
        if "{" in route.path and route.path not in NOT_TEAM_SCOPED:
            found.extend((method, route.path, route) for method in sorted(route.methods or ()))
    return found


async def create_everything(api: Api, headers: dict[str, str], team_id: str, agent_id: str) -> dict[str, str]:
    post = api.client.post
    plan = (await post("/plans", json=PLAN, headers=headers)).json()["id"]
    design = (await post("/designs", json=DESIGN, headers=headers)).json()["id"]
    contact = (await post("/contacts", json={"first_name": "Dana"}, headers=headers)).json()["id"]
    tag = (await post("/tags", json={"name": f"Buyer {team_id[-4:]}"}, headers=headers)).json()["id"]
    enrolled = await post(f"/plans/{plan}/enrollments", json={"contact_id": contact}, headers=headers)
    assert enrolled.status_code == 201, enrolled.text
    routed = await post("/routes", json=route_body(agent_id), headers=headers)
    assert routed.status_code == 201, routed.text
    pooled = await post("/leads", json={"source": "walk-in", "contact": {"first_name": "Pat"}}, headers=headers)
    assert (pooled.status_code, pooled.json()["status"]) == (201, "pool"), pooled.text
    limited = await api.client.patch(f"/agents/{agent_id}/routing", json={"lead_limit": 5}, headers=headers)
    assert limited.status_code == 200, limited.text
    task = new_id("tk")
    async with session_scope(api.harness.sessions) as session:
        session.add(Task(id=task, team_id=team_id, contact_id=contact, kind="call", name="Call", priority="high",
                         contact_task=False, assignee_id=agent_id, due_at=func.now()))
    return {"team": team_id, "plan": plan, "design": design, "contact": contact, "tag": tag,
            "enrollment": enrolled.json()["id"], "task": task, "route": routed.json()["id"], "agent": agent_id,
            "lead": pooled.json()["id"]}


async def snapshot(api: Api, ids: dict[str, str]) -> dict[str, Any]:
    async with session_scope(api.harness.sessions) as session:
        plan = await session.get(Plan, ids["plan"])
        contact = await session.get(Contact, ids["contact"])
        tag = await session.get(Tag, ids["tag"])
        design = await session.get(Design, ids["design"])
        enrollment = await session.get(Enrollment, ids["enrollment"])
        task = await session.get(Task, ids["task"])
        route = await session.get(Route, ids["route"])
        routing = await session.get(AgentRouting, ids["agent"])
        lead = await session.get(Lead, ids["lead"])
        agent = await session.get(Agent, ids["agent"])
        assert lead
        assert agent
        agents = await session.scalar(select(func.count()).select_from(Agent).where(Agent.team_id == ids["team"]))
        key = await session.scalar(select(Agent.api_key_hash).where(Agent.id == ids["agent"]))
        published = await session.scalar(select(func.count()).select_from(LibraryEntry))
        assert plan
        assert contact
        assert tag
        assert design
        assert enrollment
        assert task
        assert route
        assert routing
        return {"plan": (plan.current_version, plan.active, plan.name, plan.on_text_reply), "agents": (agents, key),
                "published": published,
                "contact": contact.first_name, "tag": tag.name, "design": design.name,
                "enrollment": enrollment.status, "task": task.status,
                "route": (route.title, route.position, route.active, route.agent_ids, route.updated_at),
                "routing": (routing.lead_limit, routing.routes_paused, routing.leads_paused, routing.updated_at),
                "lead": (lead.status, lead.owner_agent_id, len(lead.routing_record)),
                "email_quota": agent.email_quota_monthly}


async def test_another_teams_ids_answer_404_on_every_route_and_change_nothing(api: Api) -> None:
    mine, attacker = await api.team(), await api.team("Other Team")
    ids = await create_everything(api, mine.rainmaker, mine.id, mine.rainmaker_id)
    theirs = {"contact": (await api.client.post("/contacts", json={"first_name": "Eve"},
                                                headers=attacker.rainmaker)).json()["id"],
              "tag": (await api.client.post("/tags", json={"name": "Eve's"},
                                            headers=attacker.rainmaker)).json()["id"],
              "agent": attacker.rainmaker_id}
    before = await snapshot(api, ids)
    table = bodies(theirs)
    checked = []
    for method, path, route in id_routes():
        url = path
        for segment, param in re.findall(r"/(\w[\w-]*)/\{(\w+)\}", path):
            assert segment in RESOURCE_BY_SEGMENT, f"{method} {path}: which resource is {{{param}}}? add it above"
            url = url.replace(f"{{{param}}}", ids[RESOURCE_BY_SEGMENT[segment]])
        needs_body = route.body_field is not None
        assert not needs_body or (method, path) in table, f"{method} {path} takes a body: add a valid one above"
        answer = await api.client.request(method, url, json=table.get((method, path)), headers=attacker.rainmaker)
        assert answer.status_code == 404, f"{method} {path} answered {answer.status_code}: {answer.text}"
        checked.append(f"{method} {path}")
    assert await snapshot(api, ids) == before
    assert len(checked) >= 36  # every id-taking route of the contract was walked
    assert {"POST /plans/{plan_id}/publish", "PUT /routes/{route_id}", "DELETE /routes/{route_id}",
            "POST /routes/{route_id}/pause", "PATCH /agents/{agent_id}/routing", "GET /agents/{agent_id}/routing",
            "PATCH /agents/{agent_id}/credits", "GET /leads/{lead_id}", "POST /leads/{lead_id}/claim",
            "POST /leads/{lead_id}/pass", "POST /pool/{lead_id}/claim", "POST /pool/{lead_id}/assign",
            "POST /agents/{agent_id}/api-key", "DELETE /agents/{agent_id}/api-key"} <= set(checked)
