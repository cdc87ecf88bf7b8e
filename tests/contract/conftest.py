"""The app the contract run talks to: served over HTTP on the test database, with a worker on the time-skipping
server behind it (enrolling and routing start workflows), and a seeded team whose Rainmaker the run acts as."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config import Settings
from tests.contract import world
from tests.factories import running_worker
from tests.serving import served

ADMIN_KEY = "contract-admin-key"
TWILIO_TOKEN = "contract-twilio-token"
INBOUND_SECRET = "contract-inbound-secret"


@dataclass
class Stack:
    base_url: str
    settings: Settings
    world: world.World


@pytest.fixture
async def stack(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Stack]:
    async with running_worker(env, sessions) as harness:
        settings = Settings(environment="test", smartplans_admin_key=ADMIN_KEY, temporal_task_queue=harness.task_queue,
                            public_base_url="https://plans.example.com", twilio_auth_token=TWILIO_TOKEN,
                            sendgrid_inbound_secret=INBOUND_SECRET)
        app = create_app(settings, temporal=env.client, sessions=sessions, clock=env.get_current_time)
        async with served(app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
            seeded = await world.build(client, ADMIN_KEY, settings.link_secret, TWILIO_TOKEN, sessions)
            yield Stack(base_url, settings, seeded)
