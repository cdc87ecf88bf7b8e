"""The demo team `make dev` seeds through the API, piece by piece and at most once.

Every piece (the team and its agents, the sample plans, the contacts, their enrollments) is recorded in
`demo.json` as soon as it exists; a restart on the same data folder creates only what is missing, so it never
enrolls a contact twice and an older `demo.json` is completed rather than replaced. When the database no longer
knows the saved keys (a new database), everything is seeded afresh.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from config import SAMPLES_DIR

SAMPLE_PLANS = ("8x8-new-lead", "33-touch-sphere", "open-house-follow-up")  # 8x8 first: open house adds to it
# The local outbox records a text only for an agent with a Twilio number (see `activities.messaging`), so the
# agent who owns the sample plans gets one; the account and token are well-formed but reach nothing.
FAKE_TWILIO = {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "demo-token-not-real",
               "twilio_from_number": "+15125550111"}
# Each with a phone: the sample plans sign off with `{agent.phone}`, and lead offers are texted to it (R-OFFER-4).
PEOPLE = {"rainmaker": ("Rita", "Rain", "rainmaker", "unlimited", "+15125550100"),
          "agent": ("Alex", "Agent", "member", "enhanced", "+15125550101"),
          "second_agent": ("Sam", "Seller", "member", "basic", "+15125550102")}
# Each demo contact (the key of its id in demo.json), what the agent knows of them, and the plan they are in.
CONTACTS: dict[str, tuple[dict[str, str], str]] = {
    "contact_id": ({"first_name": "Dana", "last_name": "Smith", "email": "dana@example.com",
                    "phone": "+15125550199"}, "8x8-new-lead"),
    "second_contact_id": ({"first_name": "Jamie", "last_name": "Rivera", "email": "jamie@example.com",
                           "phone": "+15125550142"}, "open-house-follow-up"),
}


class SeedError(Exception):
    """The API refused a seeding call; the message quotes its answer."""


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def call(request: Awaitable[httpx.Response], *, allow: tuple[int, ...] = ()) -> Any:
    """Await an httpx call and return its JSON, failing with the API's own words on an error status."""
    answer = await request
    if answer.status_code >= 400 and answer.status_code not in allow:
        raise SeedError(f"seeding: {answer.request.method} {answer.request.url.path} -> {answer.status_code} "
                        f"{answer.text[:500]}")
    return answer.json() if answer.content else None


def sample_plan(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return document


def resolve_targets(doc: dict[str, Any], ids: Mapping[str, str]) -> dict[str, Any]:
    """Replace each add-to-plan step's `target_plan` (a sample file's name) by the created plan's id."""
    days = []
    for day in doc.get("days", []):
        steps = []
        for step in day.get("steps", []):
            step = dict(step)
            if "target_plan" in step:
                step["target_plan_id"] = ids[step.pop("target_plan")]
            steps.append(step)
        days.append({**day, "steps": steps})
    return {**doc, "days": days}


class DemoSeeder:
    """Seeds through the running API (`http` has its base URL), saving `demo.json` after every piece."""

    def __init__(self, http: httpx.AsyncClient, demo_file: Path, admin_key: str,
                 say: Callable[[str], None]) -> None:
        self.http, self.demo_file, self.admin_key, self.say = http, demo_file, admin_key, say
        self.demo: dict[str, Any] = {}

    def save(self) -> None:
        self.demo_file.write_text(json.dumps(self.demo, indent=2))

    async def seed(self) -> dict[str, Any]:
        if not await self._saved_team_still_works():
            await self._team()
        agent = bearer(self.demo["agent"]["api_key"])
        plans: dict[str, str] = self.demo.setdefault("plans", {})
        for name in SAMPLE_PLANS:
            if name not in plans:
                body = resolve_targets(sample_plan(name), plans)
                plans[name] = (await call(self.http.post("/plans", headers=agent, json=body)))["id"]
                self.save()
        enrollments: dict[str, str] = self.demo.setdefault("enrollments", {})
        for key, (person, plan_name) in CONTACTS.items():
            if key not in self.demo:
                body = {**person, "assignee_id": self.demo["agent"]["id"]}
                self.demo[key] = (await call(self.http.post("/contacts", headers=agent, json=body)))["id"]
                self.save()
            if key not in enrollments:
                enrollments[key] = await self._enroll(agent, plans[plan_name], self.demo[key])
                self.save()
        self.say(f"demo team ready; keys saved in {self.demo_file}")
        return self.demo

    async def _saved_team_still_works(self) -> bool:
        if not self.demo_file.exists():
            return False
        saved: dict[str, Any] = json.loads(self.demo_file.read_text())
        if (await self.http.get("/me", headers=bearer(saved["rainmaker"]["api_key"]))).status_code != 200:
            self.say(f"the keys in {self.demo_file} no longer work (new database?); seeding a new demo team")
            return False
        self.demo = saved
        return True

    async def _team(self) -> None:
        admin = bearer(self.admin_key)
        team = await call(self.http.post("/teams", json={"name": "Demo Realty"}, headers=admin))
        self.demo = {"team_id": team["id"]}
        for slot, (first, last, role, permission, phone) in PEOPLE.items():
            created = await call(self.http.post(f"/teams/{team['id']}/agents", headers=admin, json={
                "first_name": first, "last_name": last, "email": f"{first.lower()}@demo-realty.example",
                "phone": phone, "role": role, "permission": permission}))
            self.demo[slot] = {"id": created["id"], "api_key": created["api_key"], "name": f"{first} {last}"}
        await call(self.http.patch("/settings", headers=bearer(self.demo["rainmaker"]["api_key"]),
                                   json={"team_postal_address": "100 Congress Ave, Austin TX 78701"}))
        await call(self.http.patch("/settings", headers=bearer(self.demo["agent"]["api_key"]), json=FAKE_TWILIO))
        self.demo["agent"]["twilio_from_number"] = FAKE_TWILIO["twilio_from_number"]
        self.save()
        self.say("seeded the demo team")

    async def _enroll(self, agent: dict[str, str], plan_id: str, contact_id: str) -> str:
        """Enroll, or adopt the running enrollment should one exist already (a run stopped before saving it)."""
        enrolled = await call(self.http.post(f"/plans/{plan_id}/enrollments", headers=agent,
                                             json={"contact_id": contact_id}), allow=(409,))
        if "id" in enrolled:
            return str(enrolled["id"])
        rows = await call(self.http.get(f"/contacts/{contact_id}/enrollments", headers=agent))
        running = [row["id"] for row in rows if row["plan_id"] == plan_id and row["status"] == "active"]
        if not running:
            raise SeedError(f"seeding: enrolling {contact_id} in {plan_id} was refused: {enrolled}")
        return str(running[0])
