"""The whole stack as it runs under `make dev`, minus the processes: the real Temporal dev server (not the
time-skipping one, so visibility and search attributes are real), the real worker, and the API in-process over
ASGI. Everything a client does goes over HTTP; the proof that the engine took it is the workflow found in Temporal
by its `ContactId` search attribute, which is what a person types into the Temporal UI."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config import Settings
from db.models import Contact
from db.session import session_scope
from domain.ids import new_id
from tests.factories import World, add_plan, email, eventually, plan_doc, running_worker, task

Sessions = async_sessionmaker[AsyncSession]
ADMIN_KEY = "stack-admin-key"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def routes(http: httpx.AsyncClient) -> dict[str, Any]:
    paths: dict[str, Any] = (await http.get("/openapi.json")).json()["paths"]
    return paths


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, f"{response.request.method} {response.request.url.path}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def test_enrolling_over_http_starts_a_workflow_found_by_contact_id(dev_server: WorkflowEnvironment,
                                                                         sessions: Sessions) -> None:
    async with running_worker(dev_server, sessions) as harness:
        settings = Settings(environment="test", smartplans_admin_key=ADMIN_KEY,
                            temporal_task_queue=harness.task_queue)
        app = create_app(settings, temporal=dev_server.client, sessions=sessions)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api.test") as http:
            assert (await http.get("/health")).json() == {"status": "ok"}
            team = (await created(await http.post("/teams", json={"name": "Stack Realty"}, headers=ADMIN)))["id"]
            agent = await created(await http.post(f"/teams/{team}/agents", headers=ADMIN, json={
                "first_name": "Alex", "last_name": "Agent", "email": "alex@stack.example", "role": "rainmaker",
                "permission": "unlimited"}))
            auth = {"Authorization": f"Bearer {agent['api_key']}"}
            assert (await http.patch("/settings", headers=auth, json={
                "twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "stack-token",
                "twilio_from_number": "+15125550111", "team_postal_address": "1 Main St, Austin TX 78701",
            })).status_code == 200
            paths = await routes(http)

            contact_body = {"first_name": "Dana", "last_name": "Smith", "email": "dana@example.com",
                            "phone": "+15125550199"}
            if "post" in paths.get("/contacts", {}):
                contact_id = (await created(await http.post("/contacts", headers=auth, json=contact_body)))["id"]
            else:  # the contacts router is written alongside this test; the row is the same either way
                async with session_scope(sessions) as session:
                    contact_id = new_id("ct")
                    session.add(Contact(id=contact_id, team_id=team, owner_agent_id=agent["id"],
                                        assignee_id=agent["id"], **contact_body))
            plan = plan_doc((0, [email("Welcome, {contact.first.name}")]), (3, [task("Call {contact.first.name}")]),
                            name="Stack Plan")
            if "post" in paths.get("/plans", {}):
                plan_id = (await created(await http.post("/plans", headers=auth,
                                                         json=plan.model_dump(mode="json"))))["id"]
            else:
                plan_id = await add_plan(sessions, World(team, agent["id"], agent["id"], contact_id), plan)

            assert "post" in paths.get("/plans/{plan_id}/enrollments", {}), "POST /plans/{id}/enrollments missing"
            enrolled = await created(await http.post(f"/plans/{plan_id}/enrollments", headers=auth,
                                                     json={"contact_id": contact_id}))
            again = await http.post(f"/plans/{plan_id}/enrollments", headers=auth, json={"contact_id": contact_id})
            assert again.status_code == 409, again.text

            found: list[str] = []

            async def listed_by_contact_id() -> bool:
                found[:] = [w.id async for w in dev_server.client.list_workflows(f'ContactId = "{contact_id}"')]
                return bool(found)

            await eventually(listed_by_contact_id, seconds=20)
            assert found == [enrolled["workflow_id"]]

            async def step_one_ran() -> bool:
                shown = (await http.get(f"/enrollments/{enrolled['id']}", headers=auth)).json()
                return bool(shown["steps_done_total"] >= 1 and shown["live"])

            await eventually(step_one_ran, seconds=20)
            shown = (await http.get(f"/enrollments/{enrolled['id']}", headers=auth)).json()
            assert shown["status"] == "active"
            assert shown["next_step_kind"] == "task"
