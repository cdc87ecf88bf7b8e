"""The records a contract run starts from, made through the API as a team would make them, and the dictionaries that
hand their ids to schemathesis.

Generated ids are unknown ids: without real ones, every operation on `/plans/{plan_id}` (or a body naming a tag or
an agent) would only ever meet its 404 or 422, and the logic behind it would go untested. So the run gets the ids of
a working team — agents, tags, contacts, a plan with enrollments, a design, a route with a lead on offer and a lead
in the pool, a task, a library entry, an unsubscribe link, a Twilio number — and `schemathesis.toml` draws on them
for about half of the values it sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Task
from db.session import session_scope
from domain.email_content import unsubscribe_token
from domain.ids import new_id


@dataclass
class World:
    team_id: str
    agent_id: str  # the Rainmaker the run authenticates as
    api_key: str
    spare_agent_id: str  # whose key changes when the run would change its own (tests/contract/hooks.py)
    route_id: str = ""  # the route the run edits; a deletion of it deletes `spare_route_id` instead (hooks.py)
    spare_route_id: str = ""
    entry_id: str = ""  # the library entry the run reads and copies; a deletion of it takes `spare_entry_id` out
    spare_entry_id: str = ""
    ids: dict[str, list[str]] = field(default_factory=dict)  # dictionary name -> ids

    def write_dictionaries(self, folder: Path) -> None:
        """One libFuzzer-style file per kind of id (`"value"` per line), as `schemathesis.toml` names them."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, values in self.ids.items():
            (folder / f"{name}.dict").write_text("".join(f'"{value}"\n' for value in values))


def _created(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


TWILIO_NUMBER = "+15125550111"


async def build(client: httpx.AsyncClient, admin_key: str, link_secret: str, twilio_token: str,
                sessions: async_sessionmaker[AsyncSession]) -> World:
    admin = {"Authorization": f"Bearer {admin_key}"}
    team_id = _created(await client.post("/teams", headers=admin, json={"name": "Contract Team"}))["id"]
    agents = {}
    for first, role, permission in (("Rita", "rainmaker", "unlimited"), ("Alex", "member", "enhanced"),
                                    ("Sam", "member", "basic")):
        agents[first] = _created(await client.post(f"/teams/{team_id}/agents", headers=admin, json={
            "first_name": first, "last_name": "Agent", "email": f"{first.lower()}@example.com", "role": role,
            "permission": permission}))
    world = World(team_id, agents["Rita"]["id"], agents["Rita"]["api_key"], agents["Sam"]["id"])
    rita = {"Authorization": f"Bearer {world.api_key}"}
    # A new team has no postal address, and plan emails fail without one (R-EMAIL-4).
    _created(await client.patch("/settings", headers=rita, json={"team_postal_address": "1 Main St, Austin TX 78701"}))
    # Sam's Twilio number receives the run's texts: his settings are his own, so the run (as Rita) leaves them be.
    _created(await client.patch("/settings", headers={"Authorization": f"Bearer {agents['Sam']['api_key']}"}, json={
        "twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": twilio_token, "twilio_from_number": TWILIO_NUMBER}))

    async def post(path: str, body: dict[str, Any]) -> Any:
        return _created(await client.post(path, headers=rita, json=body))

    tags = [(await post("/tags", {"name": name}))["id"] for name in ("Buyer", "Seller", "Hot lead")]
    contacts = [(await post("/contacts", body))["id"] for body in (
        {"first_name": "Dana", "last_name": "Smith", "email": "dana@example.com", "phone": "+15125550199",
         "time_zone": "America/Chicago", "assignee_id": world.agent_id},
        {"first_name": "Lee", "last_name": "Jones", "email": "lee@example.com"},
        *({"first_name": name} for name in ("Ari", "Bo", "Cy", "Di")))]
    design = (await post("/designs", {"name": "Listing", "subject": "New listing", "html": "<p>Hi</p>"}))["id"]
    plan = (await post("/plans", {"name": "New buyer lead", "days": [
        {"delay_days": 0, "steps": [{"kind": "call", "time_of_day": "afternoon", "name": "Call {contact.first.name}",
                                     "priority": "high"}]},
        {"delay_days": 2, "steps": [{"kind": "email", "mode": "design", "design_id": design,
                                     "subject": "Homes for you"}]}]}))["id"]
    await client.put(f"/plans/{plan}/triggers", headers=rita, json={"tag_ids": [tags[2]]})
    # Two enrolled, four not: a removal and an enrollment each have someone to act on for a while.
    enrollments = [(await post(f"/plans/{plan}/enrollments", {"contact_id": contact}))["id"]
                   for contact in contacts[:2]]
    # Published apart: a plan in the library changes only its texts and names (R-LIB-4), and the run edits `plan`.
    shared = (await post("/plans", {"name": "Open house follow-up", "days": [{"delay_days": 1, "steps": [
        {"kind": "task", "name": "Send the open house photos", "due_in_days": 1}]}]}))["id"]
    entry = (await post(f"/plans/{shared}/publish", {}))["entry"]["id"]
    world.entry_id = entry
    spare = (await post("/plans", {"name": "Spare", "days": [{"delay_days": 0, "steps": [
        {"kind": "task", "name": "Spare", "due_in_days": 1}]}]}))["id"]
    world.spare_entry_id = (await post(f"/plans/{spare}/publish", {}))["entry"]["id"]
    route = (await post("/routes", {
        "title": "Zillow", "days_of_week": list(range(7)), "start_time": "00:00", "end_time": "00:00",
        "sources": ["zillow"], "strategy": "round_robin", "agent_ids": [world.agent_id, agents["Alex"]["id"]],
        "claim_seconds": 86_400}))["id"]
    world.route_id = route
    world.spare_route_id = (await post("/routes", {
        "title": "Spare", "days_of_week": [0], "start_time": "09:00", "end_time": "10:00", "sources": ["spare"],
        "strategy": "round_robin", "agent_ids": [world.agent_id], "claim_seconds": 600}))["id"]
    offered = await post("/leads", {"source": "zillow", "contact": {"first_name": "Kim", "email": "kim@example.com"}})
    pooled = await post("/leads", {"source": "open_house", "contact": {"first_name": "Pat", "phone": "+15125550142"}})
    async with session_scope(sessions) as session:
        task = Task(id=new_id("tk"), team_id=team_id, contact_id=contacts[0], kind="call", name="Call Dana",
                    priority="high", assignee_id=world.agent_id, due_at=datetime(2030, 1, 7, 23, 59, tzinfo=UTC))
        session.add(task)
    world.ids = {
        "teams": [team_id], "agents": [agent["id"] for agent in agents.values()], "tags": tags,
        "contacts": contacts, "designs": [design],
        "plans": [plan], "enrollments": enrollments, "entries": [entry], "routes": [route],
        "leads": [offered["id"], pooled["id"]],
        "tasks": [task.id], "tokens": [unsubscribe_token(link_secret, contact) for contact in contacts],
        "numbers": [TWILIO_NUMBER], "phones": ["+15125550199"],
    }
    return world
