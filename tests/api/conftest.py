"""The real app over ASGI, on the test database, with a worker on the time-skipping server behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from tests.factories import Harness, HoldActivity, live_worker, running_worker
from tests.fakes import FakeTwilio

ADMIN = {"Authorization": "Bearer test-admin-key"}
POSTAL_ADDRESS = "1 Main St, Austin TX 78701"


@dataclass
class Team:
    id: str
    rainmaker: dict[str, str]  # Authorization headers
    member: dict[str, str]
    rainmaker_id: str
    member_id: str


@dataclass
class Api:
    client: httpx.AsyncClient
    harness: Harness

    async def team(self, name: str = "Smith Team", postal_address: str | None = POSTAL_ADDRESS) -> Team:
        """A team with a Rainmaker and a member. `POST /teams` gives a team no postal address, and plan emails fail
        without one (R-EMAIL-4), so the team gets `postal_address` as a Rainmaker sets it (None: none)."""
        team = (await self.client.post("/teams", json={"name": name}, headers=ADMIN)).json()["id"]
        keys = {}
        for role, first in (("rainmaker", "Rita"), ("member", "Alex")):
            created = await self.client.post(f"/teams/{team}/agents", headers=ADMIN, json={
                "first_name": first, "last_name": "Agent", "email": f"{first.lower()}.{team[-6:].lower()}@example.com",
                "role": role, "permission": "unlimited" if role == "rainmaker" else "basic"})
            assert created.status_code == 201, created.text
            keys[role] = created.json()
        rainmaker = {"Authorization": f"Bearer {keys['rainmaker']['api_key']}"}
        if postal_address is not None:
            answered(await self.client.patch("/settings", headers=rainmaker,
                                             json={"team_postal_address": postal_address}), 200)
        return Team(team, rainmaker,
                    {"Authorization": f"Bearer {keys['member']['api_key']}"},
                    keys["rainmaker"]["id"], keys["member"]["id"])


def answered(response: httpx.Response, status: int) -> Any:
    """The JSON of an answer that must have `status` (the body is shown when it does not)."""
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
async def api(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Api]:
    async with running_worker(env, sessions) as harness:
        async with serving(harness) as served:
            yield served


@asynccontextmanager
async def serving(harness: Harness) -> AsyncIterator[Api]:
    """The app in front of `harness`'s worker (its task queue, database and clock), with the bootstrap admin key; the
    harness's own settings say how its worker sends (the outbox, or the loopback providers)."""
    settings = harness.settings.model_copy(update={
        "smartplans_admin_key": "test-admin-key", "temporal_task_queue": harness.task_queue,
        "public_base_url": "https://plans.example.com"})
    harness.settings = settings
    env = harness.env
    app = create_app(settings, temporal=env.client, sessions=harness.sessions, clock=env.get_current_time)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield Api(client, harness)


@dataclass
class Live:
    api: Api
    hold: HoldActivity
    twilio: FakeTwilio


@pytest.fixture
async def live(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession],
               twilio: FakeTwilio) -> AsyncIterator[Live]:
    """The app in front of a worker that texts through the loopback Twilio and holds the send_text run the test
    names (`live.hold.hold_run`; none until it does), so a test can act while a send is under way."""
    hold = HoldActivity("send_text", hold_run=0)
    async with live_worker(env, sessions, twilio, timeout=10.0, client=hold.client(env)) as harness:
        async with serving(harness) as api:
            yield Live(api, hold, twilio)
