"""Issue 11, item 2: `POST /plans/{id}/enrollments/batch` enrolls up to 1,000 contacts in one request, one outcome per
entry in the order sent; the rows are written in one transaction and the workflows started together, and for each
contact an `active` row exists iff its workflow runs (R-ENR-1)."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowExecutionStatus

from db.models import Enrollment, TimelineEvent
from services.enrollments import ENROLLMENT_MEMO
from tests.api.conftest import ADMIN, Api, Team, answered
from tests.api.test_enrollments import enroll, make_contact, make_plan
from tests.factories import task
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import EnrollmentInput, enrollment_workflow_id


async def batch(api: Api, headers: dict[str, str], plan_id: str, contact_ids: list[str]) -> Any:
    return await api.client.post(f"/plans/{plan_id}/enrollments/batch", json={"contact_ids": contact_ids},
                                 headers=headers)


class TestIssue11BatchAnswersEachEntry:
    async def test_in_order_enrolled_already_enrolled_not_found_and_duplicate(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        plan_id = await make_plan(api, team, (2, [task()]))
        ann, bob, cy = [await make_contact(api, team, name) for name in ("Ann", "Bob", "Cy")]
        await enroll(api, team.member, plan_id, cy)
        eve = await make_contact(api, other, "Eve")
        answer = answered(await batch(api, team.member, plan_id, [ann, cy, "ct_unknown", eve, bob, ann]), 200)
        assert [(a["contact_id"], a["outcome"], a["detail"]) for a in answer] == [
            (ann, "enrolled", "added to plan 'Test Plan'"),
            (cy, "already_enrolled", "Cy Smith is already in plan 'Test Plan'"),
            ("ct_unknown", "not_found", "contact ct_unknown not found"),
            (eve, "not_found", f"contact {eve} not found"),  # another team's contact is no different
            (bob, "enrolled", "added to plan 'Test Plan'"),
            (ann, "duplicate", "listed earlier in this batch (entry 0)")]
        rows = {row.contact_id: row for row in await api.harness.rows(Enrollment, status="active")}
        assert set(rows) == {ann, bob, cy}
        assert [a["id"] for a in answer] == [rows[ann].id, None, None, None, rows[bob].id, None]
        for contact_id in (ann, bob):
            described = await api.harness.env.client.get_workflow_handle(
                enrollment_workflow_id(plan_id, contact_id)).describe()
            assert described.status == WorkflowExecutionStatus.RUNNING
            assert (await described.memo())[ENROLLMENT_MEMO] == rows[contact_id].id
        enrolled_events = await api.harness.rows(TimelineEvent, kind="enrolled")
        assert sorted(e.contact_id for e in enrolled_events) == sorted([ann, bob, cy])

    async def test_a_team_plan_takes_a_members_batch_and_the_source_is_manual(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (2, [task()]), owner_id=team.rainmaker_id, team_plan=True)
        contacts = [await make_contact(api, team, f"C{i}") for i in range(3)]
        answer = answered(await batch(api, team.member, plan_id, contacts), 200)
        assert [a["outcome"] for a in answer] == ["enrolled"] * 3
        assert {(row.source, row.status) for row in await api.harness.rows(Enrollment)} == {("manual", "active")}


class TestIssue11BatchLimits:
    async def test_more_than_1000_contacts_or_none_is_422_naming_the_field_and_enrolls_nobody(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (2, [task()]))
        contact_id = await make_contact(api, team)
        too_many = await batch(api, team.member, plan_id, [contact_id] * 1001)
        (error,) = answered(too_many, 422)["detail"]
        assert error["loc"] == ["body", "contact_ids"]
        assert "at most 1000" in error["msg"]
        (empty,) = answered(await batch(api, team.member, plan_id, []), 422)["detail"]
        assert (empty["loc"], "at least 1" in empty["msg"]) == (["body", "contact_ids"], True)
        assert answered(await batch(api, team.member, plan_id, [contact_id] * 1000), 200)[0]["outcome"] == "enrolled"
        assert len(await api.harness.rows(Enrollment)) == 1

    async def test_an_inactive_or_empty_plan_is_409_and_enrolls_nobody(self, api: Api) -> None:
        team = await api.team()
        contact_id = await make_contact(api, team)
        inactive = await make_plan(api, team, (0, [task()]), active=False)
        empty = await make_plan(api, team)
        refused = [await batch(api, team.member, plan_id, [contact_id]) for plan_id in (inactive, empty)]
        assert [r.status_code for r in refused] == [409, 409]
        assert "inactive" in refused[0].json()["detail"]
        assert "has no steps" in refused[1].json()["detail"]
        assert await api.harness.rows(Enrollment) == []

    async def test_a_plan_the_caller_cannot_see_is_404_and_keys_are_checked(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        contact_id = await make_contact(api, team)
        personal = await make_plan(api, team, (2, [task()]))  # the member's own
        theirs = await make_plan(api, other, (2, [task()]), owner_id=other.member_id)
        for plan_id in (personal, theirs):
            hidden = await batch(api, team.rainmaker, plan_id, [contact_id])
            assert (hidden.status_code, hidden.json()["detail"]) == (404, f"plan {plan_id} not found")
        path, body = f"/plans/{personal}/enrollments/batch", {"contact_ids": [contact_id]}
        assert (await api.client.post(path, json=body)).status_code == 401
        assert (await api.client.post(path, json=body, headers=ADMIN)).status_code == 403
        assert await api.harness.rows(Enrollment) == []


class TestIssue11BatchKeepsTheInvariant:
    async def test_a_contact_whose_start_fails_ends_as_start_failed_while_the_others_run(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (2, [task()]))
        busy, free = await make_contact(api, team, "Busy"), await make_contact(api, team, "Free")
        leaving = await leaving_workflow(api, team, plan_id, busy)
        try:
            answer = answered(await batch(api, team.member, plan_id, [busy, free]), 200)
            assert [(a["contact_id"], a["outcome"]) for a in answer] == [(busy, "already_enrolled"), (free, "enrolled")]
            assert "still leaving" in answer[0]["detail"]
            rows = {row.contact_id: row for row in await api.harness.rows(Enrollment)}
            assert (rows[busy].status, rows[busy].end_reason) == ("removed", "start_failed")
            assert (rows[free].status, rows[free].end_reason) == ("active", None)
        finally:
            await leaving.terminate()


async def leaving_workflow(api: Api, team: Team, plan_id: str, contact_id: str) -> Any:
    """An earlier enrollment's workflow still running under the contact's workflow id (its row already ended): on a
    task queue no worker polls, so it stays exactly there."""
    client = api.harness.env.client
    return await client.start_workflow(
        EnrollmentWorkflow.run,
        EnrollmentInput(enrollment_id="en_earlier", plan_id=plan_id, contact_id=contact_id, team_id=team.id,
                        agent_id=team.member_id, plan_version=1),
        id=enrollment_workflow_id(plan_id, contact_id), task_queue="nobody-polls-this-queue")
