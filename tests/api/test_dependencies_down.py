"""With Temporal or the database unreachable the API answers 503 with Retry-After, naming what is down, never a 500;
`/health` names the part. An enrollment whose workflow cannot start leaves no `active` row behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from temporalio.client import Client, Interceptor, OutboundInterceptor, StartWorkflowInput, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config import Settings
from db.models import Enrollment
from db.session import create_session_factory, session_scope
from tests.api.conftest import ADMIN
from tests.e2e.devstack import free_port

STEPS = [{"delay_days": 0, "steps": [{"kind": "task", "name": "Call", "priority": "none"}]}]


@asynccontextmanager
async def app_client(sessions: async_sessionmaker[AsyncSession], temporal: Client | None) -> AsyncIterator[
        httpx.AsyncClient]:
    """The real app; without a Temporal client it connects (lazily) to a port nothing listens on."""
    settings = Settings(environment="test", smartplans_admin_key="test-admin-key",
                        temporal_address=f"127.0.0.1:{free_port()}")
    app = create_app(settings, temporal=temporal, sessions=sessions)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test") as client:
        yield client


def assert_unavailable(answer: httpx.Response, what: str) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "5"
    assert answer.json()["detail"] == f"{what} is unreachable; try again in a few seconds"


async def rainmaker_and_plan(client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """A team's Rainmaker key and a plan of theirs with a step, made through the API."""
    team = (await client.post("/teams", json={"name": "Down Team"}, headers=ADMIN)).json()["id"]
    made = (await client.post(f"/teams/{team}/agents", headers=ADMIN, json={
        "first_name": "Rita", "last_name": "Rain", "email": "rita@example.com", "role": "rainmaker",
        "permission": "unlimited"})).json()
    key = {"Authorization": f"Bearer {made['api_key']}"}
    return key, (await client.post("/plans", headers=key, json={"name": "P", "days": STEPS})).json()["id"]


class TestTemporalDown:
    async def test_enrolling_answers_503_and_leaves_no_active_row(
            self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async with app_client(sessions, None) as client:
            key, plan = await rainmaker_and_plan(client)
            contact = (await client.post("/contacts", headers=key, json={"first_name": "Dana"})).json()["id"]
            answer = await client.post(f"/plans/{plan}/enrollments", headers=key, json={"contact_id": contact})
            assert_unavailable(answer, "Temporal")
            health = await client.get("/health")
            assert (health.status_code, health.headers["Retry-After"]) == (503, "5")
            assert [p.split(":")[0] for p in health.json()["problems"]] == ["temporal"]
        async with session_scope(sessions) as session:
            rows = (await session.execute(Enrollment.__table__.select())).all()
        assert [(row.status, row.end_reason) for row in rows] == [("removed", "start_failed")]

    async def test_a_batch_answers_start_failed_for_each_contact_and_leaves_no_active_row(
            self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Issue 11: each row of the batch is committed, its start fails, and it is ended before the answer."""
        async with app_client(sessions, None) as client:
            key, plan = await rainmaker_and_plan(client)
            contacts = [(await client.post("/contacts", headers=key, json={"first_name": name})).json()["id"]
                        for name in ("Dana", "Eli")]
            answer = await client.post(f"/plans/{plan}/enrollments/batch", headers=key,
                                       json={"contact_ids": contacts})
            assert answer.status_code == 200, answer.text
            assert [(a["contact_id"], a["outcome"], a["id"]) for a in answer.json()] == [
                (contact, "start_failed", None) for contact in contacts]
        async with session_scope(sessions) as session:
            rows = (await session.execute(Enrollment.__table__.select())).all()
        assert [(row.status, row.end_reason) for row in rows] == [("removed", "start_failed")] * 2


class _SearchAttributesNotLoaded(Interceptor):
    """What a Temporal server just restarted answers a start before its search attributes are loaded
    (temporalio/temporal#6195): the server's refusal, not our code's."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        class Refuse(OutboundInterceptor):
            async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
                raise RPCError("Namespace default has no mapping defined for search attribute EnrollmentStatus",
                               RPCStatusCode.INVALID_ARGUMENT, b"")

        return Refuse(next)


class TestTemporalRestarting:
    async def test_a_start_refused_for_search_attributes_not_yet_loaded_answers_503_not_500(
            self, sessions: async_sessionmaker[AsyncSession], env: WorkflowEnvironment) -> None:
        config = env.client.config()
        config["interceptors"] = [_SearchAttributesNotLoaded()]
        async with app_client(sessions, Client(**config)) as client:
            key, plan = await rainmaker_and_plan(client)
            contact = (await client.post("/contacts", headers=key, json={"first_name": "Dana"})).json()["id"]
            answer = await client.post(f"/plans/{plan}/enrollments", headers=key, json={"contact_id": contact})
            assert_unavailable(answer, "Temporal")
        async with session_scope(sessions) as session:
            rows = (await session.execute(Enrollment.__table__.select())).all()
        assert [(row.status, row.end_reason) for row in rows] == [("removed", "start_failed")]


class TestDatabaseDown:
    async def test_every_call_answers_503_naming_the_database(self, tmp_path: Path, env: WorkflowEnvironment) -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'smartplans.db'}")
        try:
            async with app_client(create_session_factory(engine), env.client) as client:
                assert_unavailable(await client.get("/plans", headers={"Authorization": "Bearer some-key"}),
                                   "the database")
                assert_unavailable(await client.post("/teams", json={"name": "T"}, headers=ADMIN), "the database")
                health = await client.get("/health")
                assert health.status_code == 503
                assert [p.split(":")[0] for p in health.json()["problems"]] == ["database"]
        finally:
            await engine.dispose()
