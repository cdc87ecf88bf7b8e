"""Plans through the real app: saving (R-PLAN-1, R-TEAM-1), visibility, edits running enrollments follow (R-PLAN-9),
deactivation (R-PLAN-8), duplication (R-PLAN-10), deletion and the preview (R-PLAN-4)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from config import SAMPLES_DIR
from db.models import Contact, Enrollment, Message, Plan, PlanTrigger, Tag, Task, TimelineEvent
from db.session import session_scope
from domain.ids import new_id
from services.enrollments import EnrollmentRefused
from tests.api.conftest import Api, Team
from tests.factories import email, eventually, next_local, task, waiting_for


def sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SAMPLES_DIR / f"{name}.json").read_text())
    return document


def doc(*days: tuple[int, list[dict[str, Any]]], name: str = "Plan", **extra: Any) -> dict[str, Any]:
    return {"name": name, "days": [{"delay_days": delay, "steps": steps} for delay, steps in days], **extra}


def editable(plan: dict[str, Any]) -> dict[str, Any]:
    """What a client sends back to PUT after reading GET /plans/{id}."""
    return copy.deepcopy({key: plan[key] for key in ("name", "team_plan", "days", "repeat")})


async def post_plan(api: Api, headers: dict[str, str], document: dict[str, Any]) -> dict[str, Any]:
    created = await api.client.post("/plans", json=document, headers=headers)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def get_plan(api: Api, team: Team, plan_id: str) -> dict[str, Any]:
    got = await api.client.get(f"/plans/{plan_id}", headers=team.rainmaker)
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


async def add_contact(api: Api, team: Team, **fields: Any) -> str:
    async with session_scope(api.harness.sessions) as session:
        contact = Contact(id=new_id("ct"), team_id=team.id, first_name="Dana", last_name="Smith",
                          email="dana@example.com", **fields)
        session.add(contact)
    return contact.id


async def add_trigger(api: Api, team: Team, plan_id: str) -> None:
    async with session_scope(api.harness.sessions) as session:
        tag = Tag(id=new_id("tg"), team_id=team.id, name="Buyer", name_key="buyer")
        session.add(tag)
        await session.flush()
        session.add(PlanTrigger(plan_id=plan_id, tag_id=tag.id))


def rules(response: Any) -> set[tuple[str, ...]]:
    return {(*map(str, d["loc"]), d["rule"]) for d in response.json()["detail"]}


class TestRPlan1Saving:
    async def test_a_personal_plan_belongs_to_the_caller_with_step_ids_and_day_numbers(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, sample("8x8-new-lead"))
        assert (plan["name"], plan["team_plan"], plan["owner_agent_id"], plan["version"], plan["active"]) == (
            "8x8 New Lead", False, team.member_id, 1, True)
        assert [d["day"] for d in plan["days"]] == [1, 8, 15, 22, 29, 36, 43, 50]
        ids = [s["id"] for d in plan["days"] for s in d["steps"]]
        assert len(set(ids)) == 10
        assert all(i.startswith("st_") for i in ids)
        assert plan["removal_rules"] == {"on_email_reply": False, "on_text_reply": False}
        assert (await api.client.get(f"/plans/{plan['id']}", headers=team.member)).json() == plan

    async def test_broken_rules_are_422_naming_each_field_and_rule_and_nothing_is_saved(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/plans", headers=team.rainmaker, json=doc(
            (0, [email(slot="evening"), task(slot="morning", due_in_days=20)])))
        assert refused.status_code == 422
        assert rules(refused) == {("body", "days", "0", "steps", "1", "time_of_day", "R-PLAN-5"),
                                  ("body", "days", "0", "steps", "1", "due_in_days", "R-TASK-1")}
        assert (await api.client.get("/plans", headers=team.rainmaker)).json() == []

    async def test_unknown_fields_are_422(self, api: Api) -> None:
        team = await api.team()
        typo = await api.client.post("/plans", headers=team.rainmaker, json={**doc((0, [task()])), "dayz": []})
        assert (typo.status_code, typo.json()["detail"][0]["loc"]) == (422, ["body", "dayz"])
        in_step = await api.client.post("/plans", headers=team.rainmaker, json=doc((0, [task(colour="red")])))
        assert in_step.status_code == 422

    async def test_every_plan_endpoint_needs_a_key(self, api: Api) -> None:
        for method, path in (("GET", "/plans"), ("POST", "/plans"), ("GET", "/plans/pl_x"), ("PUT", "/plans/pl_x"),
                             ("DELETE", "/plans/pl_x"), ("POST", "/plans/pl_x/activate"),
                             ("POST", "/plans/pl_x/deactivate"), ("POST", "/plans/pl_x/duplicate"),
                             ("POST", "/plans/pl_x/preview")):
            assert (await api.client.request(method, path)).status_code == 401, (method, path)


class TestRTeam1TeamPlans:
    async def test_a_basic_member_may_read_team_plans_but_not_create_or_change_them(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/plans", headers=team.member, json=doc((0, [task()]), team_plan=True))
        assert refused.status_code == 403
        assert (await api.client.get("/plans", headers=team.member)).json() == []
        plan = await post_plan(api, team.rainmaker, doc((0, [task()]), team_plan=True))
        assert plan["owner_agent_id"] is None
        assert (await api.client.get(f"/plans/{plan['id']}", headers=team.member)).status_code == 200
        pid = plan["id"]
        for method, path, body in (("PUT", f"/plans/{pid}", {**editable(plan), "name": "Mine"}),
                                   ("DELETE", f"/plans/{pid}", None), ("POST", f"/plans/{pid}/deactivate", None),
                                   ("POST", f"/plans/{pid}/activate", None), ("POST", f"/plans/{pid}/duplicate", None)):
            answer = await api.client.request(method, path, json=body, headers=team.member)
            assert answer.status_code == 403, (method, path)
        assert await get_plan(api, team, pid) == plan  # nothing changed
        assert len((await api.client.get("/plans", headers=team.member)).json()) == 1  # and nothing was copied

    async def test_an_enhanced_member_creates_team_plans(self, api: Api) -> None:
        team = await api.team()
        agent = await api.client.post(f"/teams/{team.id}/agents", headers=team.rainmaker, json={
            "first_name": "Eve", "last_name": "Agent", "email": "eve@example.com", "permission": "enhanced"})
        headers = {"Authorization": f"Bearer {agent.json()['api_key']}"}
        plan = await post_plan(api, headers, doc((0, [task()]), team_plan=True))
        assert plan["team_plan"] is True


class TestVisibility:
    async def test_lists_team_plans_and_own_plans_with_counts(self, api: Api) -> None:
        team = await api.team()
        shared = await post_plan(api, team.rainmaker, {**sample("8x8-new-lead"), "team_plan": True})
        own = await post_plan(api, team.member, doc((0, [task()]), name="Mine"))
        await post_plan(api, team.rainmaker, doc((0, [task()]), name="Rita's own"))
        listed = (await api.client.get("/plans", headers=team.member)).json()
        assert [(p["id"], p["step_count"], p["active_enrollments"], p["current_version"]) for p in listed] == [
            (shared["id"], 10, 0, 1), (own["id"], 1, 0, 1)]

    async def test_another_teams_plan_or_another_members_own_plan_is_404(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        theirs = await post_plan(api, other.rainmaker, doc((0, [task()]), team_plan=True))
        rita_own = await post_plan(api, team.rainmaker, doc((0, [task()])))
        for plan_id, headers in ((theirs["id"], team.rainmaker), (rita_own["id"], team.member)):
            for method, path, body in (("GET", "", None), ("PUT", "", editable(theirs)), ("DELETE", "", None),
                                       ("POST", "/activate", None), ("POST", "/deactivate", None),
                                       ("POST", "/duplicate", None),
                                       ("POST", "/preview", {"start_at": "2026-03-02T09:00:00-06:00"})):
                answer = await api.client.request(method, f"/plans/{plan_id}{path}", json=body, headers=headers)
                assert answer.status_code == 404, (method, path)
        assert (await api.client.get(f"/plans/{theirs['id']}", headers=other.member)).status_code == 200


class TestRAdd1Targets:
    async def test_a_target_must_be_a_plan_this_plan_can_use_and_not_itself(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        theirs = await post_plan(api, other.rainmaker, doc((0, [task()]), team_plan=True))
        shared = await post_plan(api, team.rainmaker, doc((0, [task()]), team_plan=True))
        personal = await post_plan(api, team.rainmaker, doc((0, [task()])))
        add = {"kind": "add_to_plan", "time_of_day": "morning"}
        field = ("body", "days", "0", "steps", "0", "target_plan_id", "R-ADD-1")
        for target, team_plan in ((theirs["id"], False), (personal["id"], True), ("pl_missing", False)):
            refused = await api.client.post("/plans", headers=team.rainmaker,
                                            json=doc((0, [{**add, "target_plan_id": target}]), team_plan=team_plan))
            assert (refused.status_code, rules(refused)) == (422, {field}), target
        linked = await post_plan(api, team.rainmaker, doc((0, [{**add, "target_plan_id": shared["id"]}])))
        to_itself = editable(linked)
        to_itself["days"][0]["steps"][0]["target_plan_id"] = linked["id"]
        refused = await api.client.put(f"/plans/{linked['id']}", headers=team.rainmaker, json=to_itself)
        assert (refused.status_code, rules(refused)) == (422, {field})
        assert "itself" in refused.json()["detail"][0]["msg"]


class TestRPlan9Edits:
    async def test_an_edit_is_a_new_version_and_returned_steps_keep_their_ids(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.rainmaker, doc((0, [email("One")]), (3, [task()])))
        document = editable(plan)
        document["days"][0]["steps"][0]["subject"] = "One, edited"
        document["days"][1]["steps"].append(email("New"))
        saved = await api.client.put(f"/plans/{plan['id']}", headers=team.rainmaker, json=document)
        assert saved.status_code == 200, saved.text
        edited = saved.json()
        assert (edited["version"], edited["days"][0]["steps"][0]["subject"]) == (2, "One, edited")
        old_ids = [s["id"] for d in plan["days"] for s in d["steps"]]
        new_ids = [s["id"] for d in edited["days"] for s in d["steps"]]
        assert new_ids[:2] == old_ids
        assert new_ids[2] not in old_ids
        assert await get_plan(api, team, plan["id"]) == edited

    async def test_a_plan_read_can_be_sent_back_whole_and_unchanged_it_saves_no_new_version(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.rainmaker, {**sample("8x8-new-lead"), "team_plan": True})
        url = f"/plans/{plan['id']}"
        read = await get_plan(api, team, plan["id"])
        same = await api.client.put(url, headers=team.rainmaker, json=read)
        assert same.status_code == 200, same.text
        assert same.json() == read  # version 1 still: nothing changed, nobody told
        renamed = await api.client.put(url, headers=team.rainmaker, json={**read, "name": "8x8, renamed"})
        assert (renamed.status_code, renamed.json()["version"]) == (200, 2)
        stale = await api.client.put(url, headers=team.rainmaker, json={**read, "name": "Lost edit"})
        assert stale.status_code == 409
        assert stale.json()["detail"].endswith("you read version 1, it is at version 2; read it again and make your "
                                               "change on that")
        for field, value, rule in (("id", "pl_other", "request_fields"), ("active", False, "R-PLAN-8"),
                                   ("owner_agent_id", team.member_id, "R-PLAN-1"),
                                   ("removal_rules", {"on_email_reply": True, "on_text_reply": False}, "R-RULE-5")):
            refused = await api.client.put(url, headers=team.rainmaker, json={**renamed.json(), field: value})
            assert refused.status_code == 422, refused.text
            assert [(e["loc"], e["rule"]) for e in refused.json()["detail"]] == [(["body", field], rule)]
        assert (await get_plan(api, team, plan["id"]))["version"] == 2

    async def test_a_refused_edit_changes_nothing(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.rainmaker, doc((0, [email("One")]), (3, [task()])))
        url = f"/plans/{plan['id']}"
        broken = editable(plan)
        broken["days"][1]["steps"][0]["due_in_days"] = 15
        assert rules(await api.client.put(url, headers=team.rainmaker, json=broken)) == {
            ("body", "days", "1", "steps", "0", "due_in_days", "R-TASK-1")}
        invented = editable(plan)
        invented["days"][0]["steps"][0]["id"] = "st_made_up"
        assert rules(await api.client.put(url, headers=team.rainmaker, json=invented)) == {
            ("body", "days", "0", "steps", "0", "id", "R-PLAN-9")}
        for change in ({"team_plan": True}, {"days": [{**plan["days"][0]}, {**plan["days"][1], "day": 9}]},
                       {"surprise": 1}):
            answer = await api.client.put(url, headers=team.rainmaker, json={**editable(plan), **change})
            assert answer.status_code == 422, change
        assert await get_plan(api, team, plan["id"]) == plan

    async def test_an_edit_without_days_is_refused_naming_days_and_its_contacts_stay_enrolled(self,
                                                                                               api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.rainmaker, doc((0, [task()]), (3, [task()])))
        await api.harness.enroll(plan["id"], await add_contact(api, team))

        answer = await api.client.put(f"/plans/{plan['id']}", headers=team.rainmaker, json={"name": "only name"})
        created = await api.client.post("/plans", headers=team.rainmaker, json={"name": "no days"})

        for refused in (answer, created):
            assert refused.status_code == 422, refused.text
            assert [error["loc"] for error in refused.json()["detail"]] == [["body", "days"]]
        assert await get_plan(api, team, plan["id"]) == plan
        assert [(row.status, row.plan_version) for row in await api.harness.rows(Enrollment)] == [("active", 1)]

    async def test_emptying_a_plan_contacts_are_in_is_refused_pointing_to_deactivating(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.rainmaker, doc((0, [task()]), (3, [task()])))
        await api.harness.enroll(plan["id"], await add_contact(api, team))

        answer = await api.client.put(f"/plans/{plan['id']}", headers=team.rainmaker,
                                      json={**editable(plan), "days": []})

        assert answer.status_code == 409, answer.text
        assert answer.json()["detail"] == ("1 contact is in plan 'Plan', so it keeps at least one step (R-PLAN-3); "
                                           "deactivate it to end their enrollments (R-PLAN-8) "
                                           "(see docs/rules.md#r-plan-3, docs/rules.md#r-plan-8)")
        assert await get_plan(api, team, plan["id"]) == plan

    async def test_a_plan_nobody_is_in_may_go_back_to_a_draft(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.rainmaker, doc((0, [task()])))

        answer = await api.client.put(f"/plans/{plan['id']}", headers=team.rainmaker,
                                      json={**editable(plan), "days": []})

        assert answer.status_code == 200, answer.text
        assert (answer.json()["version"], answer.json()["days"]) == (2, [])

    async def test_an_enrolled_contact_follows_the_new_version_from_its_next_step(self, api: Api) -> None:
        team, h = await api.team(), api.harness
        contact_id = await add_contact(api, team)
        plan = await post_plan(api, team.rainmaker, doc(*((delay, [email(subject, slot="morning", id=sid)])
                                                          for delay, subject, sid in ((0, "a", "A"), (3, "b", "B"),
                                                                                      (3, "c", "C")))))
        start = await next_local(h, 10)
        await h.advance_to(start - timedelta(hours=1))
        handle = await h.enroll(plan["id"], contact_id)
        await h.advance_to(start + timedelta(days=1))
        await eventually(lambda: waiting_for(handle, "B"))
        # v2: B's subject and delay change (its wait began, so the delay no longer moves it), C goes, a new step comes.
        v2 = doc((0, [email("a", slot="morning", id="A")]), (5, [email("b2", slot="morning", id="B")]),
                 (7, [email("d", slot="morning")]))
        saved = await api.client.put(f"/plans/{plan['id']}", headers=team.rainmaker, json=v2)
        assert saved.status_code == 200, saved.text
        result = await h.finish(handle)
        assert result.status == "completed"
        sent = [(m.subject, m.created_at) for m in await h.rows(Message)]
        assert sent == [("a", start), ("b2", start + timedelta(days=3)), ("d", start + timedelta(days=10))]


class TestRPlan8Deactivation:
    async def test_deactivating_ends_enrollments_and_refuses_new_ones_until_activated(self, api: Api) -> None:
        team, h = await api.team(), api.harness
        contact_id = await add_contact(api, team)
        plan = await post_plan(api, team.rainmaker, doc((0, [task()]), (5, [task()]), name="Drip"))
        await h.advance_to(await next_local(h, 11))
        handle = await h.enroll(plan["id"], contact_id)
        summary = (await api.client.get("/plans", headers=team.rainmaker)).json()[0]
        assert summary["active_enrollments"] == 1
        answer = await api.client.post(f"/plans/{plan['id']}/deactivate", headers=team.rainmaker)
        assert (answer.status_code, answer.json()["active"]) == (200, False)
        assert (await h.finish(handle)).reason == "plan_deactivated"
        (event,) = await h.rows(TimelineEvent, kind="removed")
        assert event.detail == "Dana Smith left the plan 'Drip' because it was deactivated"
        with pytest.raises(EnrollmentRefused) as refused:
            await h.enroll(plan["id"], contact_id)
        assert refused.value.code == "plan_inactive"
        activated = await api.client.post(f"/plans/{plan['id']}/activate", headers=team.rainmaker)
        assert (activated.status_code, activated.json()["active"]) == (200, True)
        await h.enroll(plan["id"], contact_id)

    async def test_an_enrollment_still_ending_is_not_counted_and_enrolling_again_says_it_is_leaving(
            self, api: Api) -> None:
        """Deactivated and activated again before every enrollment has written its end: the plan counts none, and
        enrolling such a contact again is refused saying it is still leaving, not that it is in the plan."""
        team, h = await api.team(), api.harness
        contact_id = await add_contact(api, team)
        plan = await post_plan(api, team.rainmaker, doc((0, [task()]), (5, [task()]), name="Drip"))
        await h.advance_to(await next_local(h, 11))
        await h.enroll(plan["id"], contact_id)
        async with session_scope(h.sessions) as session:  # the removal as deactivating marks it, before it ends
            (row,) = (await session.scalars(select(Enrollment).where(Enrollment.plan_id == plan["id"]))).all()
            row.removal_requested = "plan_deactivated"
        summary = (await api.client.post(f"/plans/{plan['id']}/activate", headers=team.rainmaker)).json()
        listed = (await api.client.get("/plans", headers=team.rainmaker)).json()[0]
        assert (summary["active_enrollments"], listed["active_enrollments"]) == (0, 0)
        again = await api.client.post(f"/plans/{plan['id']}/enrollments", headers=team.rainmaker,
                                      json={"contact_id": contact_id})
        assert again.status_code == 409
        assert again.json()["detail"] == ("Dana Smith is still leaving plan 'Drip' (the enrollment is ending, and not "
                                          "ended yet); try again in a moment")


class TestRPlan10Duplicate:
    async def test_a_copy_has_fresh_ids_version_1_the_removal_rules_and_no_enrollments(self, api: Api) -> None:
        team, h = await api.team(), api.harness
        plan = await post_plan(api, team.rainmaker, {**sample("8x8-new-lead"), "team_plan": True})
        async with session_scope(h.sessions) as session:
            row = await session.get(Plan, plan["id"])
            assert row is not None
            row.on_email_reply = True
        await api.client.put(f"/plans/{plan['id']}", headers=team.rainmaker, json=editable(plan))  # version 2
        await h.enroll(plan["id"], await add_contact(api, team))
        await add_trigger(api, team, plan["id"])
        copied = await api.client.post(f"/plans/{plan['id']}/duplicate", headers=team.rainmaker)
        assert copied.status_code == 201, copied.text
        dup = copied.json()
        assert (dup["name"], dup["version"], dup["active"], dup["team_plan"]) == ("Copy of 8x8 New Lead", 1,
                                                                                       True, True)
        assert dup["removal_rules"] == {"on_email_reply": True, "on_text_reply": False}
        old_ids = {s["id"] for d in plan["days"] for s in d["steps"]}
        assert not old_ids & {s["id"] for d in dup["days"] for s in d["steps"]}
        strip = [[{k: v for k, v in s.items() if k != "id"} for s in d["steps"]] for d in plan["days"]]
        assert [[{k: v for k, v in s.items() if k != "id"} for s in d["steps"]] for d in dup["days"]] == strip
        listed = (await api.client.get("/plans", headers=team.member)).json()
        assert {p["id"]: p["active_enrollments"] for p in listed} == {plan["id"]: 1, dup["id"]: 0}
        assert [t.plan_id for t in await h.rows(PlanTrigger)] == [plan["id"]]  # R-RULE triggers stay behind


class TestDeletion:
    async def test_refused_while_contacts_are_enrolled_then_deleted_keeping_their_history(self, api: Api) -> None:
        team, h = await api.team(), api.harness
        plan = await post_plan(api, team.rainmaker, doc((0, [task()]), (5, [task()])))
        await h.advance_to(await next_local(h, 11))
        handle = await h.enroll(plan["id"], await add_contact(api, team))
        await eventually(lambda: h.has(Task))
        refused = await api.client.delete(f"/plans/{plan['id']}", headers=team.rainmaker)
        assert refused.status_code == 409
        assert "1 active enrollment;" in refused.json()["detail"]
        assert "deactivate" in refused.json()["detail"]
        await api.client.post(f"/plans/{plan['id']}/deactivate", headers=team.rainmaker)
        await h.finish(handle)
        assert (await api.client.delete(f"/plans/{plan['id']}", headers=team.rainmaker)).status_code == 204
        assert (await api.client.get(f"/plans/{plan['id']}", headers=team.rainmaker)).status_code == 404
        (kept,) = await h.rows(Task)
        assert (kept.plan_id, kept.enrollment_id) == (plan["id"], None)
        assert await h.has(TimelineEvent, kind="removed")

    async def test_refused_while_another_plan_adds_contacts_to_it(self, api: Api) -> None:
        team = await api.team()
        target = await post_plan(api, team.rainmaker, doc((0, [task()]), team_plan=True))
        linking = await post_plan(api, team.rainmaker, doc((0, [{"kind": "add_to_plan", "time_of_day": "anytime",
                                                                 "target_plan_id": target["id"]}]), name="Opener"))
        refused = await api.client.delete(f"/plans/{target['id']}", headers=team.rainmaker)
        assert refused.status_code == 409
        assert "'Opener'" in refused.json()["detail"]
        assert (await api.client.delete(f"/plans/{linking['id']}", headers=team.rainmaker)).status_code == 204
        await add_trigger(api, team, target["id"])
        assert (await api.client.delete(f"/plans/{target['id']}", headers=team.rainmaker)).status_code == 204
        assert await api.harness.rows(PlanTrigger) == []
