"""Tasks over HTTP: each agent's list, and completing a task (R-TASK-1); a completed call is logged (R-CALL-1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from db.models import Task, TimelineEvent
from db.session import session_scope
from domain.ids import new_id
from tests.api.conftest import Api, Team
from tests.api.test_enrollments import enroll, make_contact, make_plan
from tests.factories import task

DUE = datetime(2030, 1, 7, 23, 59, tzinfo=UTC)


async def make_task(api: Api, team: Team, contact_id: str, name: str, *, assignee_id: str | None = None,
                    kind: str = "task", due_in_days: int = 0, **fields: Any) -> str:
    """A task row as a plan step would leave it, without running a plan (for list and permission cases)."""
    async with session_scope(api.harness.sessions) as session:
        row = Task(id=new_id("tk"), team_id=team.id, contact_id=contact_id, kind=kind, name=name, priority="high",
                   assignee_id=assignee_id or team.member_id, due_at=DUE + timedelta(days=due_in_days), **fields)
        session.add(row)
    return row.id


class TestRTask1TaskLists:
    async def test_by_default_the_caller_sees_their_own_open_tasks_soonest_due_first(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        contact_id = await make_contact(api, team)
        later = await make_task(api, team, contact_id, "Later", due_in_days=3, description="Bring the CMA",
                                link="https://example.com/cma", contact_task=True)
        sooner = await make_task(api, team, contact_id, "Sooner", kind="call")
        await make_task(api, team, contact_id, "Done", status="done", completed_at=DUE)
        await make_task(api, team, contact_id, "The Rainmaker's", assignee_id=team.rainmaker_id)
        await make_task(api, other, await make_contact(api, other), "Another team's", assignee_id=other.member_id)
        listed = (await api.client.get("/tasks", headers=team.member)).json()
        assert [t["id"] for t in listed] == [sooner, later]
        first = listed[1]
        assert {k: first[k] for k in ("contact_id", "kind", "description", "link", "priority", "contact_task",
                                      "status", "notes", "plan_id", "step_id")} == {
            "contact_id": contact_id, "kind": "task", "description": "Bring the CMA",
            "link": "https://example.com/cma", "priority": "high", "contact_task": True, "status": "open",
            "notes": None, "plan_id": None, "step_id": None}
        assert datetime.fromisoformat(first["due_at"]) == DUE + timedelta(days=3)
        done = (await api.client.get("/tasks", params={"status": "done"}, headers=team.member)).json()
        assert [t["name"] for t in done] == ["Done"]

    async def test_another_agents_list_needs_the_rainmaker_or_enhanced_permission(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        contact_id = await make_contact(api, team)
        await make_task(api, team, contact_id, "Alex's")
        await make_task(api, team, contact_id, "Rita's", assignee_id=team.rainmaker_id)
        of_alex = await api.client.get("/tasks", params={"assignee_id": team.member_id}, headers=team.rainmaker)
        assert [t["name"] for t in of_alex.json()] == ["Alex's"]
        refused = await api.client.get("/tasks", params={"assignee_id": team.rainmaker_id}, headers=team.member)
        assert refused.status_code == 403
        foreign = await api.client.get("/tasks", params={"assignee_id": other.member_id}, headers=team.rainmaker)
        assert foreign.status_code == 404

    async def test_bad_filters_are_422_and_no_key_is_401(self, api: Api) -> None:
        team = await api.team()
        for params in ({"status": "closed"}, {"limit": "0"}, {"limit": "501"}):
            answer = await api.client.get("/tasks", params=params, headers=team.member)
            assert answer.status_code == 422, params
        assert (await api.client.get("/tasks")).status_code == 401


class TestRCall1CallLogged:
    async def test_completing_a_call_task_logs_the_call_with_its_notes_on_the_timeline(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (0, [task("Call {contact.first.name}", kind="call", id="C")]))
        contact_id = await make_contact(api, team)
        enrollment_id, handle = await enroll(api, team.member, plan_id, contact_id)
        await api.harness.finish(handle)
        (call,) = (await api.client.get("/tasks", headers=team.member)).json()
        assert (call["kind"], call["name"]) == ("call", "Call Dana")
        done = await api.client.post(f"/tasks/{call['id']}/complete", json={"notes": "Left a voicemail"},
                                     headers=team.member)
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["notes"]) == ("done", "Left a voicemail")
        assert done.json()["completed_at"] is not None
        (logged,) = await api.harness.rows(TimelineEvent, kind="call_logged")
        assert logged.detail == "Call logged by Alex Agent: Left a voicemail"
        assert (logged.contact_id, logged.plan_id, logged.step_id, logged.enrollment_id) == (
            contact_id, plan_id, "C", enrollment_id)
        assert logged.data == {"task_id": call["id"], "agent_id": team.member_id, "notes": "Left a voicemail"}
        assert (await api.client.get("/tasks", headers=team.member)).json() == []
        listed = (await api.client.get("/tasks", params={"status": "done"}, headers=team.member)).json()
        assert [t["id"] for t in listed] == [call["id"]]

    async def test_completing_a_done_task_is_409_and_logs_nothing_more(self, api: Api) -> None:
        team = await api.team()
        task_id = await make_task(api, team, await make_contact(api, team), "Call Dana", kind="call")
        assert (await api.client.post(f"/tasks/{task_id}/complete", headers=team.member)).status_code == 200
        again = await api.client.post(f"/tasks/{task_id}/complete", json={"notes": "again"}, headers=team.member)
        assert (again.status_code, again.json()["detail"]) == (409, f"task {task_id} is already done")
        (logged,) = await api.harness.rows(TimelineEvent, kind="call_logged")
        assert logged.detail == "Call logged by Alex Agent (no notes)"
        (row,) = await api.harness.rows(Task)
        assert row.notes is None

    async def test_notes_over_5000_characters_or_unknown_fields_are_422_and_change_nothing(self, api: Api) -> None:
        team = await api.team()
        task_id = await make_task(api, team, await make_contact(api, team), "Call Dana", kind="call")
        long = await api.client.post(f"/tasks/{task_id}/complete", json={"notes": "x" * 5001}, headers=team.member)
        assert (long.status_code, long.json()["detail"][0]["loc"]) == (422, ["body", "notes"])
        typo = await api.client.post(f"/tasks/{task_id}/complete", json={"note": "hi"}, headers=team.member)
        assert typo.status_code == 422
        (row,) = await api.harness.rows(Task)
        assert (row.status, row.completed_at) == ("open", None)
        assert await api.harness.rows(TimelineEvent) == []
        exactly = await api.client.post(f"/tasks/{task_id}/complete", json={"notes": "x" * 5000}, headers=team.member)
        assert exactly.status_code == 200

    async def test_a_plain_task_completed_for_a_member_by_the_rainmaker_writes_task_completed(self, api: Api) -> None:
        team = await api.team()
        task_id = await make_task(api, team, await make_contact(api, team), "Send the CMA")
        done = await api.client.post(f"/tasks/{task_id}/complete", json={"notes": "Sent by mail"},
                                     headers=team.rainmaker)
        assert done.status_code == 200
        (event,) = await api.harness.rows(TimelineEvent)
        assert (event.kind, event.detail) == ("task_completed", "Task 'Send the CMA' completed by Rita Agent: "
                                                                "Sent by mail")

    async def test_another_teams_task_is_404_and_a_basic_member_cannot_close_anothers_403(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        theirs = await make_task(api, other, await make_contact(api, other), "Theirs", assignee_id=other.member_id)
        ritas = await make_task(api, team, await make_contact(api, team), "Rita's", assignee_id=team.rainmaker_id)
        assert (await api.client.post(f"/tasks/{theirs}/complete", headers=team.rainmaker)).status_code == 404
        assert (await api.client.post("/tasks/tk_unknown/complete", headers=team.member)).status_code == 404
        assert (await api.client.post(f"/tasks/{ritas}/complete", headers=team.member)).status_code == 403
        assert (await api.client.post(f"/tasks/{ritas}/complete")).status_code == 401
        assert [t.status for t in await api.harness.rows(Task)] == ["open", "open"]
        assert await api.harness.rows(TimelineEvent) == []
