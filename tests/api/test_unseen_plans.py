"""R-RULE-1, "an answer never names a plan the caller cannot see", beyond the tagging answer: a contact's
enrollments, timeline, messages, tasks and the refusal to delete it, through the real app.

The auditor's probe: a member tags a contact assigned to the Rainmaker, and the Rainmaker's personal plan's trigger
enrolls it. That plan is the Rainmaker's alone (docs/decisions.md, "Visibility"), so no answer to the member may
carry its id, its name or the enrollment's id, while the Rainmaker's answers keep all three.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from db.models import Enrollment, Message, Task
from tests.api.conftest import Api, Team, answered
from tests.api.test_plans import doc, post_plan
from tests.api.test_triggers import make_tag, tag_contact
from tests.factories import email, eventually, next_local, task

SECRET = "Rita Private Farm"  # the Rainmaker's personal plan's name
UNSEEN = "a plan you cannot see"


@dataclass
class Probe:
    team: Team
    contact: str
    secret: str  # the Rainmaker's personal plan
    shared: str  # a team plan the same tag triggers
    hidden_enrollment: str
    shared_enrollment: str

    def paths(self) -> list[str]:
        return [f"/contacts/{self.contact}/enrollments", f"/contacts/{self.contact}/timeline",
                f"/messages?contact_id={self.contact}"]

    def leaks(self, answer: httpx.Response) -> list[str]:
        return [word for word in (self.secret, SECRET, self.hidden_enrollment) if word in answer.text]


async def probe(api: Api) -> Probe:
    """The member tags a contact assigned to the Rainmaker: it enters the Rainmaker's personal plan (which sends an
    email and makes a task at once, then waits three days) and a team plan, both triggered by the tag."""
    team = await api.team()
    await api.harness.advance_to(await next_local(api.harness, 11))
    steps = ((0, [email(id="E"), task(id="T")]), (3, [task(id="L")]))
    secret = (await post_plan(api, team.rainmaker, doc(*steps, name=SECRET)))["id"]
    shared = (await post_plan(api, team.rainmaker, doc(*steps, name="Team Nurture", team_plan=True)))["id"]
    tag_id = await make_tag(api, team, "Hot Lead")
    for plan_id in (secret, shared):
        answered(await api.client.put(f"/plans/{plan_id}/triggers", json={"tag_ids": [tag_id]},
                                      headers=team.rainmaker), 200)
    contact = answered(await api.client.post("/contacts", headers=team.member, json={
        "first_name": "Ann", "email": "ann@example.com", "assignee_id": team.rainmaker_id}), 201)["id"]
    tagged = await tag_contact(api, team, contact, tag_id, team.member)
    assert [e["plan_id"] for e in tagged["enrollments"]] == [shared]

    async def both_plans_ran() -> bool:
        return (await api.harness.has(Message, 2, contact_id=contact)
                and await api.harness.has(Task, 2, contact_id=contact))

    await eventually(both_plans_ran)
    rows = {row.plan_id: row.id for row in await api.harness.rows(Enrollment, contact_id=contact)}
    return Probe(team, contact, secret, shared, rows[secret], rows[shared])


class TestRRule1AContactsAnswersHideAPlanTheCallerCannotSee:
    async def test_the_member_is_not_told_of_the_rainmakers_personal_plan_anywhere(self, api: Api) -> None:
        p = await probe(api)
        for path in p.paths():
            answer = await api.client.get(path, headers=p.team.member)
            assert (answer.status_code, p.leaks(answer)) == (200, []), path

        listed = answered(await api.client.get(p.paths()[0], headers=p.team.member), 200)
        assert [(e["id"], e["plan_id"]) for e in listed] == [(p.shared_enrollment, p.shared)]

        events = answered(await api.client.get(p.paths()[1], headers=p.team.member), 200)
        unseen = [e for e in events if e["plan_id"] != p.shared]
        assert sorted((e["kind"], e["detail"]) for e in unseen) == [
            ("enrolled", f"Added to {UNSEEN}"), ("step_executed", f"A step of {UNSEEN} ran"),
            ("step_executed", f"A step of {UNSEEN} ran")]
        assert {(e["plan_id"], e["step_id"], e["enrollment_id"]) for e in unseen} == {(None, None, None)}
        assert {e["plan_id"] for e in events} == {p.shared, None}  # the team plan's events keep their plan

        messages = answered(await api.client.get(p.paths()[2], headers=p.team.member), 200)
        assert sorted((m["plan_id"], m["step_id"], m["enrollment_id"]) for m in messages
                      if m["plan_id"] != p.shared) == [(None, None, None)]  # the email itself is still listed

        refused = await api.client.delete(f"/contacts/{p.contact}", headers=p.team.member)
        assert (refused.status_code, p.leaks(refused)) == (409, [])
        assert refused.json()["detail"] == (
            f"contact {p.contact} is still enrolled: {p.shared_enrollment} (plan {p.shared}); remove those "
            f"enrollments first; it is also in {UNSEEN}, which only its owner, Rita Agent, can remove it from")

    async def test_the_rainmaker_who_owns_the_plan_still_sees_it_in_every_answer(self, api: Api) -> None:
        p = await probe(api)
        listed = answered(await api.client.get(p.paths()[0], headers=p.team.rainmaker), 200)
        assert sorted(e["plan_id"] for e in listed) == sorted([p.secret, p.shared])
        events = answered(await api.client.get(p.paths()[1], headers=p.team.rainmaker), 200)
        [enrolled] = [e for e in events if e["plan_id"] == p.secret and e["kind"] == "enrolled"]
        assert (enrolled["enrollment_id"], f"'{SECRET}'" in enrolled["detail"]) == (p.hidden_enrollment, True)
        assert sorted(e["step_id"] for e in events if e["plan_id"] == p.secret and e["step_id"]) == ["E", "T"]
        messages = answered(await api.client.get(p.paths()[2], headers=p.team.rainmaker), 200)
        assert sorted(m["plan_id"] for m in messages) == sorted([p.secret, p.shared])
        refused = answered(await api.client.delete(f"/contacts/{p.contact}", headers=p.team.rainmaker), 409)
        assert f"{p.hidden_enrollment} (plan {p.secret})" in refused["detail"]
        assert UNSEEN not in refused["detail"]

    async def test_a_page_of_enrollments_is_counted_after_leaving_out_the_unseen_ones(self, api: Api) -> None:
        p = await probe(api)
        page = await api.client.get(p.paths()[0], params={"limit": 1}, headers=p.team.member)
        assert ([e["id"] for e in answered(page, 200)], page.headers.get("link")) == ([p.shared_enrollment], None)
        page = await api.client.get(p.paths()[0], params={"limit": 1}, headers=p.team.rainmaker)
        assert (len(answered(page, 200)), "rel=\"next\"" in page.headers["link"]) == (1, True)


class TestRRule1TasksOfAnotherAgentsPersonalPlan:
    async def test_a_manager_reading_a_members_tasks_is_not_told_of_the_members_personal_plan(
            self, api: Api) -> None:
        """A personal plan is its owner's alone, the Rainmaker included (docs/decisions.md, "Visibility"): the
        Rainmaker still reads and completes the member's tasks (R-TEAM-1), without the plan."""
        team = await api.team()
        await api.harness.advance_to(await next_local(api.harness, 11))
        plan = (await post_plan(api, team.member, doc((0, [task(id="T")]), (3, [task(id="L")]),
                                                      name="Alex Open Houses")))["id"]
        contact = answered(await api.client.post("/contacts", json={"first_name": "Bo"}, headers=team.member),
                           201)["id"]
        answered(await api.client.post(f"/plans/{plan}/enrollments", json={"contact_id": contact},
                                       headers=team.member), 201)
        await eventually(lambda: api.harness.has(Task, contact_id=contact))

        [own] = answered(await api.client.get("/tasks", headers=team.member), 200)
        assert (own["plan_id"], own["step_id"]) == (plan, "T")
        path = f"/tasks?assignee_id={team.member_id}"
        [managed] = answered(await api.client.get(path, headers=team.rainmaker), 200)
        assert (managed["id"], managed["name"], managed["plan_id"], managed["step_id"], managed["enrollment_id"]) == (
            own["id"], "Call Bo", None, None, None)

        done = await api.client.post(f"/tasks/{own['id']}/complete", json={"notes": "Left a message"},
                                     headers=team.rainmaker)
        assert (answered(done, 200)["status"], plan in done.text) == ("done", False)
        timeline = await api.client.get(f"/contacts/{contact}/timeline", headers=team.rainmaker)
        assert (plan in timeline.text, "Alex Open Houses" in timeline.text) == (False, False)
        assert [e["detail"] for e in timeline.json() if e["kind"] == "task_completed"] == [
            f"A task of {UNSEEN} was completed"]
        mine = answered(await api.client.get(f"/contacts/{contact}/timeline", headers=team.member), 200)
        assert [e["plan_id"] for e in mine if e["kind"] == "task_completed"] == [plan]


class TestRRule1ADeletedPlansHistoryStaysReadable:
    async def test_after_its_owner_deletes_a_plan_the_contacts_timeline_still_says_what_it_did(self, api: Api) -> None:
        team = await api.team()
        await api.harness.advance_to(await next_local(api.harness, 11))
        plan_id = (await post_plan(api, team.member, doc((0, [task("Call {contact.first.name}", id="T")]),
                                                         name="Old plan")))["id"]
        contact = answered(await api.client.post("/contacts", headers=team.member, json={"first_name": "Ann"}),
                           201)["id"]
        await api.harness.finish(await api.harness.enroll(plan_id, contact))
        timeline = f"/contacts/{contact}/timeline"
        before = answered(await api.client.get(timeline, headers=team.member), 200)
        deleted = await api.client.delete(f"/plans/{plan_id}", headers=team.member)
        assert deleted.status_code == 204, deleted.text
        after = answered(await api.client.get(timeline, headers=team.member), 200)
        assert after == before
        assert "Task 'Call Ann' created for Alex Agent" in [e["detail"] for e in after]
