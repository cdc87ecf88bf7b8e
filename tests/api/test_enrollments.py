"""Enrollments over HTTP: enrolling starts the plan's workflow, progress is read live, removal ends it (R-ENR)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle

from db.models import Contact, Enrollment, Task, TimelineEvent
from db.session import session_scope
from domain.ids import new_id
from services.plans import create_plan
from tests.api.conftest import ADMIN, Api, Team
from tests.factories import email, eventually, next_local, plan_doc, task, text
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import EnrollmentResult

Handle = WorkflowHandle[EnrollmentWorkflow, EnrollmentResult]


async def make_contact(api: Api, team: Team, first_name: str = "Dana", **fields: Any) -> str:
    """Contacts are written directly: the contacts API is not what these tests are about."""
    async with session_scope(api.harness.sessions) as session:
        contact = Contact(id=new_id("ct"), team_id=team.id, owner_agent_id=team.member_id, assignee_id=team.member_id,
                          first_name=first_name, last_name="Smith", email=f"{first_name.lower()}@example.com",
                          phone="+15125550199", **fields)
        session.add(contact)
    return contact.id


async def make_plan(api: Api, team: Team, *days: tuple[int, list[dict[str, Any]]], owner_id: str | None = None,
                    team_plan: bool = False, **columns: Any) -> str:
    """A plan saved through the real plan service, owned by the team's member unless said otherwise."""
    async with session_scope(api.harness.sessions) as session:
        plan = await create_plan(session, team_id=team.id, owner_agent_id=owner_id or team.member_id,
                                 definition=plan_doc(*days, team_plan=team_plan))
        for name, value in columns.items():
            setattr(plan, name, value)
        return plan.id


async def enroll(api: Api, headers: dict[str, str], plan_id: str, contact_id: str) -> tuple[str, Handle]:
    answer = await api.client.post(f"/plans/{plan_id}/enrollments", json={"contact_id": contact_id}, headers=headers)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return body["id"], api.harness.env.client.get_workflow_handle_for(EnrollmentWorkflow.run, body["workflow_id"])


async def progress(api: Api, headers: dict[str, str], enrollment_id: str) -> dict[str, Any]:
    answer = await api.client.get(f"/enrollments/{enrollment_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


class TestREnr1EnrollByHand:
    async def test_enrolling_runs_the_plan_and_its_task_reaches_the_assignees_list(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (0, [task("Call {contact.first.name}", id="T")]))
        contact_id = await make_contact(api, team)
        enrollment_id, handle = await enroll(api, team.member, plan_id, contact_id)
        assert handle.id == f"enrollment-{plan_id}-{contact_id}"
        assert (await api.harness.finish(handle)).status == "completed"
        tasks = (await api.client.get("/tasks", headers=team.member)).json()
        assert [(t["name"], t["plan_id"], t["step_id"], t["contact_id"], t["status"]) for t in tasks] == [
            ("Call Dana", plan_id, "T", contact_id, "open")]
        (row,) = await api.harness.rows(Enrollment)
        assert (row.id, row.status, row.source) == (enrollment_id, "completed", "manual")

    async def test_a_second_enrollment_is_409_with_a_clear_message_and_adds_nothing(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (2, [task()]))
        contact_id = await make_contact(api, team)
        enrollment_id, _ = await enroll(api, team.member, plan_id, contact_id)
        again = await api.client.post(f"/plans/{plan_id}/enrollments", json={"contact_id": contact_id},
                                      headers=team.member)
        assert (again.status_code, again.json()["detail"]) == (409, "Dana Smith is already in plan 'Test Plan'")
        assert [e.status for e in await api.harness.rows(Enrollment)] == ["active"]
        # The first enrollment's event only (on PostgreSQL the row and its event are one statement: issue 11).
        (event,) = await api.harness.rows(TimelineEvent, kind="enrolled")
        assert (event.enrollment_id, event.contact_id, event.plan_id, event.detail, event.idempotency_key) == (
            enrollment_id, contact_id, plan_id, "Dana Smith was added to plan 'Test Plan' (manual)",
            f"{enrollment_id}:enrolled")

    async def test_an_inactive_plan_or_one_without_steps_is_409(self, api: Api) -> None:
        team = await api.team()
        contact_id = await make_contact(api, team)
        inactive = await make_plan(api, team, (0, [task()]), active=False)
        empty = await make_plan(api, team)
        refused = [await api.client.post(f"/plans/{p}/enrollments", json={"contact_id": contact_id},
                                         headers=team.member) for p in (inactive, empty)]
        assert [r.status_code for r in refused] == [409, 409]
        assert "inactive" in refused[0].json()["detail"]
        assert "has no steps" in refused[1].json()["detail"]
        assert await api.harness.rows(Enrollment) == []

    async def test_team_plans_are_open_to_members_but_not_another_members_personal_plan(self, api: Api) -> None:
        team = await api.team()
        contact_id = await make_contact(api, team)
        team_plan = await make_plan(api, team, (2, [task()]), owner_id=team.rainmaker_id, team_plan=True)
        personal = await make_plan(api, team, (2, [task()]))
        await enroll(api, team.member, team_plan, contact_id)
        hidden = await api.client.post(f"/plans/{personal}/enrollments", json={"contact_id": contact_id},
                                       headers=team.rainmaker)
        assert (hidden.status_code, hidden.json()["detail"]) == (404, f"plan {personal} not found")
        assert [e.plan_id for e in await api.harness.rows(Enrollment)] == [team_plan]

    async def test_another_teams_plan_or_contact_is_404_and_nothing_is_enrolled(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        ours, theirs = await make_plan(api, team, (0, [task()])), await make_plan(api, other, (0, [task()]))
        our_contact, their_contact = await make_contact(api, team), await make_contact(api, other)
        for plan_id, contact_id in ((theirs, our_contact), (ours, their_contact), ("pl_unknown", our_contact)):
            answer = await api.client.post(f"/plans/{plan_id}/enrollments", json={"contact_id": contact_id},
                                           headers=team.member)
            assert answer.status_code == 404, (plan_id, contact_id)
        assert await api.harness.rows(Enrollment) == []

    async def test_a_404_names_the_plan_before_the_contact(self, api: Api) -> None:
        """The plan and the contact are read together; the answer still says which one was not found, the plan
        first, and a personal plan of someone else's is as unknown as a missing one."""
        team, other = await api.team(), await api.team("Other Team")
        ours, theirs = await make_plan(api, team, (0, [task()])), await make_plan(api, other, (0, [task()]))
        personal = await make_plan(api, team, (0, [task()]), owner_id=team.rainmaker_id)
        our_contact, their_contact = await make_contact(api, team), await make_contact(api, other)
        cases = {(theirs, their_contact): f"plan {theirs} not found",
                 ("pl_unknown", "ct_unknown"): "plan pl_unknown not found",
                 (personal, our_contact): f"plan {personal} not found",
                 (ours, their_contact): f"contact {their_contact} not found",
                 (ours, "ct_unknown"): "contact ct_unknown not found"}
        for (plan_id, contact_id), detail in cases.items():
            answer = await api.client.post(f"/plans/{plan_id}/enrollments", json={"contact_id": contact_id},
                                           headers=team.member)
            assert (answer.status_code, answer.json()["detail"]) == (404, detail)
        assert await api.harness.rows(Enrollment) == []

    async def test_401_without_a_key_403_for_the_admin_key_422_for_a_bad_body(self, api: Api) -> None:
        team = await api.team()
        plan_id, contact_id = await make_plan(api, team, (0, [task()])), await make_contact(api, team)
        path, body = f"/plans/{plan_id}/enrollments", {"contact_id": contact_id}
        assert (await api.client.post(path, json=body)).status_code == 401
        assert (await api.client.post(path, json=body, headers=ADMIN)).status_code == 403
        missing = await api.client.post(path, json={}, headers=team.member)
        assert (missing.status_code, missing.json()["detail"][0]["loc"]) == (422, ["body", "contact_id"])
        typo = await api.client.post(path, json={**body, "contactid": "x"}, headers=team.member)
        assert (typo.status_code, typo.json()["detail"][0]["loc"]) == (422, ["body", "contactid"])
        assert await api.harness.rows(Enrollment) == []


class TestREnr4Progress:
    async def test_next_step_and_its_time_while_waiting_then_the_final_state(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (0, [email("Welcome", id="W")]),
                                  (2, [task("Follow up", slot="morning", id="F")]))
        contact_id = await make_contact(api, team)
        start = await next_local(api.harness, 11)
        await api.harness.advance_to(start)
        enrollment_id, handle = await enroll(api, team.member, plan_id, contact_id)

        async def waiting_for_follow_up() -> bool:
            return bool((await progress(api, team.member, enrollment_id))["next_step_id"] == "F")

        await eventually(waiting_for_follow_up)
        now = await progress(api, team.member, enrollment_id)
        assert {k: now[k] for k in ("status", "live", "plan_version", "repeat", "day", "next_step_kind",
                                    "next_step_label", "ended_at")} == {
            "status": "active", "live": True, "plan_version": 1, "repeat": 0, "day": 3, "next_step_kind": "task",
            "next_step_label": "task 'Follow up'", "ended_at": None}
        # R-PLAN-4: day 3's morning slot is 10:00 on day 3, whatever the hour the contact was enrolled.
        assert datetime.fromisoformat(now["next_fire_at"]) == (start + timedelta(days=2)).replace(hour=10)
        assert [(s["step_id"], s["outcome"]) for s in now["steps_done"]] == [("W", "executed")]

        await api.harness.finish(handle)
        final = await progress(api, team.member, enrollment_id)
        assert {k: final[k] for k in ("status", "end_reason", "live", "next_step_id", "next_fire_at", "day")} == {
            "status": "completed", "end_reason": "completed", "live": False, "next_step_id": None,
            "next_fire_at": None, "day": None}
        assert final["ended_at"] is not None
        assert [(s["step_id"], s["outcome"]) for s in final["steps_done"]] == [("W", "executed"), ("F", "executed")]
        assert final["steps_done_total"] == 2

    async def test_an_active_enrollment_whose_workflow_is_gone_is_answered_from_the_database(self, api: Api) -> None:
        team = await api.team()
        enrollment_id = await orphan_enrollment(api, team)
        answer = await progress(api, team.member, enrollment_id)
        # The stored part, and the first step the plan and schedule give (R-ENR-4), though no workflow answers.
        assert (answer["status"], answer["live"], answer["next_step_kind"], answer["steps_done"]) == (
            "active", False, "task", [])

    async def test_another_teams_enrollment_or_another_members_personal_plan_is_404(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        enrollment_id = await orphan_enrollment(api, team)
        for headers in (other.rainmaker, team.rainmaker):
            assert (await api.client.get(f"/enrollments/{enrollment_id}", headers=headers)).status_code == 404
        assert (await api.client.get("/enrollments/en_unknown", headers=team.member)).status_code == 404
        assert (await api.client.get(f"/enrollments/{enrollment_id}")).status_code == 401


class TestREnr3EveryStepOnTheTimeline:
    async def test_executed_skipped_and_failed_steps_each_say_what_when_which_plan_and_step(self, api: Api) -> None:
        team = await api.team()
        gone = {"kind": "email", "mode": "design", "subject": "News", "design_id": "ds_gone", "id": "D"}
        plan_id = await make_plan(api, team, (0, [task("Call {contact.first.name}", id="T"), gone,
                                                  text("Hi", id="X")]))
        contact_id = await make_contact(api, team, do_not_call=True)
        await api.harness.advance_to(await next_local(api.harness, 11))
        _, handle = await enroll(api, team.member, plan_id, contact_id)
        await api.harness.finish(handle)
        events = (await api.client.get(f"/contacts/{contact_id}/timeline", headers=team.member)).json()
        steps = [(e["kind"], e["plan_id"], e["step_id"], e["detail"]) for e in events if e["step_id"]]
        assert steps == [  # newest first
            ("step_skipped", plan_id, "X", "Text not sent: the contact is on the Do-Not-Call list"),
            ("step_failed", plan_id, "D", "Email not sent: design ds_gone no longer exists"),
            ("step_executed", plan_id, "T", "Task 'Call Dana' created for Alex Agent")]
        times = [datetime.fromisoformat(e["at"]) for e in events]
        assert all(t.utcoffset() is not None for t in times)
        assert times == sorted(times, reverse=True)


class TestRTxt4NoTaskToTextOrCallThemByHand:
    async def test_a_do_not_call_contact_gets_no_text_or_call_task_and_an_opted_out_one_no_text_task(
            self, api: Api) -> None:
        team = await api.team()
        by_hand = {"kind": "text", "mode": "task", "time_of_day": "anytime", "name": "Text {contact.first.name}",
                   "priority": "high", "due_in_days": 1, "id": "X"}
        plan_id = await make_plan(api, team, (0, [by_hand, task("Call {contact.first.name}", kind="call", id="C"),
                                                  task("Send the CMA", id="T")]))
        await api.harness.advance_to(await next_local(api.harness, 11))
        seen = {}
        for first_name, fields in (("Dee", {"do_not_call": True}), ("Oz", {})):
            contact_id = await make_contact(api, team, first_name, **fields)
            if not fields:
                assert (await api.client.patch(f"/contacts/{contact_id}", headers=team.member,
                                               json={"opted_out": True})).status_code == 200
            _, handle = await enroll(api, team.member, plan_id, contact_id)
            await api.harness.finish(handle)
            events = (await api.client.get(f"/contacts/{contact_id}/timeline", headers=team.member)).json()
            seen[first_name] = [(e["kind"], e["step_id"], e["detail"]) for e in reversed(events) if e["step_id"]]
        assert seen == {
            "Dee": [("step_skipped", "X", "Text task not created: the contact is on the Do-Not-Call list"),
                    ("step_skipped", "C", "Call task not created: the contact is on the Do-Not-Call list"),
                    ("step_executed", "T", "Task 'Send the CMA' created for Alex Agent")],
            "Oz": [("step_skipped", "X", "Text task not created: the contact opted out of texts"),
                   ("step_executed", "C", "Call task 'Call Oz' created for Alex Agent"),
                   ("step_executed", "T", "Task 'Send the CMA' created for Alex Agent")]}
        assert sorted(t.name for t in await api.harness.rows(Task)) == ["Call Oz", "Send the CMA", "Send the CMA"]


class TestREnr2Removal:
    async def test_delete_ends_the_enrollment_at_once_with_a_removed_timeline_event(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (2, [task()]))
        contact_id = await make_contact(api, team)
        enrollment_id, handle = await enroll(api, team.member, plan_id, contact_id)
        removed = await api.client.delete(f"/enrollments/{enrollment_id}", headers=team.member)
        assert removed.status_code == 200
        body = removed.json()
        assert (body["id"], body["status"], body["end_reason"], body["live"]) == (enrollment_id, "removed", "removed",
                                                                                  False)
        assert body["ended_at"] is not None
        # R-ENR-2: answered once it has taken effect: a GET straight after already reads `removed`.
        final = await progress(api, team.member, enrollment_id)
        assert (final["status"], final["end_reason"]) == ("removed", "removed")
        result = await api.harness.finish(handle)
        assert (result.status, result.reason) == ("removed", "removed")
        (event,) = await api.harness.rows(TimelineEvent, kind="removed")
        assert event.detail == "Dana Smith was removed from the plan 'Test Plan' (by Alex Agent)"
        assert await api.harness.rows(Task) == []  # nothing scheduled after the removal ran
        again = await api.client.delete(f"/enrollments/{enrollment_id}", headers=team.member)
        assert (again.status_code, again.json()["detail"]) == (409, f"enrollment {enrollment_id} already ended "
                                                                    "(removed)")

    async def test_an_enrollment_whose_workflow_is_gone_is_ended_by_the_api(self, api: Api) -> None:
        team = await api.team()
        enrollment_id = await orphan_enrollment(api, team)
        removed = await api.client.delete(f"/enrollments/{enrollment_id}", headers=team.member)
        assert (removed.status_code, removed.json()["status"]) == (200, "removed")
        (row,) = await api.harness.rows(Enrollment)
        assert (row.status, row.end_reason, row.ended_at is not None) == ("removed", "removed", True)
        assert len(await api.harness.rows(TimelineEvent, kind="removed", enrollment_id=enrollment_id)) == 1

    async def test_others_get_404_or_401_and_the_enrollment_stays(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        plan_id = await make_plan(api, team, (2, [task()]))
        enrollment_id, handle = await enroll(api, team.member, plan_id, await make_contact(api, team))
        path = f"/enrollments/{enrollment_id}"
        assert (await api.client.delete(path, headers=other.rainmaker)).status_code == 404
        assert (await api.client.delete(path, headers=team.rainmaker)).status_code == 404  # not their plan
        assert (await api.client.delete(path)).status_code == 401
        assert (await progress(api, team.member, enrollment_id))["status"] == "active"
        assert (await handle.query(EnrollmentWorkflow.progress)).status == "active"


async def orphan_enrollment(api: Api, team: Team) -> str:
    """An `active` row whose workflow does not exist (terminated by hand, or lost with a dev server's data)."""
    plan_id = await make_plan(api, team, (2, [task()]))
    contact_id = await make_contact(api, team)
    async with session_scope(api.harness.sessions) as session:
        row = Enrollment(id=new_id("en"), team_id=team.id, plan_id=plan_id, contact_id=contact_id, plan_version=1,
                         workflow_id=f"enrollment-{plan_id}-{contact_id}", status="active", source="manual")
        session.add(row)
    return row.id
