"""Tags, plan tag triggers and removal rules through the real app (R-RULE-1..5)."""

from __future__ import annotations

import json
from typing import Any

from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from db.models import Enrollment
from tests.api.conftest import Api, Team
from tests.factories import World, add_plan, plan_doc, task
from workflows.types import enrollment_workflow_id


async def make_plan(api: Api, team: Team, *, owner_id: str | None = None, steps: bool = True,
                    team_plan: bool = False, **columns: Any) -> str:
    """A saved plan; its one step waits three days, so an enrollment stays active for the whole test."""
    world = World(team.id, team.rainmaker_id, owner_id or team.member_id, "")
    days = [(3, [task()])] if steps else []
    return await add_plan(api.harness.sessions, world, plan_doc(*days, team_plan=team_plan), **columns)


async def make_tag(api: Api, team: Team, name: str) -> str:
    created = await api.client.post("/tags", json={"name": name}, headers=team.member)
    assert created.status_code == 201, created.text
    tag_id: str = created.json()["id"]
    return tag_id


async def make_contact(api: Api, team: Team, first_name: str = "Dana") -> str:
    created = await api.client.post("/contacts", json={"first_name": first_name}, headers=team.member)
    assert created.status_code == 201, created.text
    contact_id: str = created.json()["id"]
    return contact_id


async def tag_contact(api: Api, team: Team, contact_id: str, tag_id: str,
                      headers: dict[str, str] | None = None) -> dict[str, Any]:
    tagged = await api.client.post(f"/contacts/{contact_id}/tags", json={"tag_id": tag_id},
                                   headers=headers or team.member)
    assert tagged.status_code == 200, tagged.text
    body: dict[str, Any] = tagged.json()
    return body


async def put_triggers(api: Api, team: Team, plan_id: str, tag_ids: list[str]) -> Any:
    return await api.client.put(f"/plans/{plan_id}/triggers", json={"tag_ids": tag_ids}, headers=team.member)


async def enrollments(api: Api, team: Team, contact_id: str) -> list[dict[str, Any]]:
    got = await api.client.get(f"/contacts/{contact_id}/enrollments", headers=team.member)
    assert got.status_code == 200, got.text
    rows: list[dict[str, Any]] = got.json()
    return rows


async def workflow_status(api: Api, plan_id: str, contact_id: str) -> WorkflowExecutionStatus | None:
    handle = api.harness.env.client.get_workflow_handle(enrollment_workflow_id(plan_id, contact_id))
    return (await handle.describe()).status


class TestTags:
    async def test_create_list_get_and_names_unique_whatever_the_case(self, api: Api) -> None:
        team = await api.team()
        tag_id = await make_tag(api, team, "Hot Lead")
        duplicate = await api.client.post("/tags", json={"name": "  hot lead "}, headers=team.rainmaker)
        assert duplicate.status_code == 409
        listed = (await api.client.get("/tags", headers=team.member)).json()
        assert [(t["id"], t["name"], t["contacts"], t["plan_ids"]) for t in listed] == [(tag_id, "Hot Lead", 0, [])]
        assert (await api.client.get(f"/tags/{tag_id}", headers=team.rainmaker)).json()["name"] == "Hot Lead"

    async def test_blank_names_and_unknown_fields_are_422(self, api: Api) -> None:
        team = await api.team()
        blank = await api.client.post("/tags", json={"name": "   "}, headers=team.member)
        assert (blank.status_code, blank.json()["detail"][0]["loc"]) == (422, ["body", "name"])
        assert (await api.client.post("/tags", json={"name": "A", "color": "red"},
                                      headers=team.member)).status_code == 422
        assert (await api.client.get("/tags", headers=team.member)).json() == []

    async def test_keys_are_required_and_another_teams_tag_is_404(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        tag_id = await make_tag(api, team, "Buyer")
        assert (await api.client.get("/tags")).status_code == 401
        assert (await api.client.post("/tags", json={"name": "X"})).status_code == 401
        assert (await api.client.get(f"/tags/{tag_id}", headers=other.rainmaker)).status_code == 404
        assert (await api.client.patch(f"/tags/{tag_id}", json={"name": "Mine"},
                                       headers=other.rainmaker)).status_code == 404
        assert (await api.client.delete(f"/tags/{tag_id}", headers=other.rainmaker)).status_code == 404
        assert (await api.client.get("/tags", headers=other.rainmaker)).json() == []
        assert (await api.client.get(f"/tags/{tag_id}", headers=team.member)).json()["name"] == "Buyer"

    async def test_renaming_and_deleting_need_a_manager_and_a_refusal_changes_nothing(self, api: Api) -> None:
        team = await api.team()
        tag_id = await make_tag(api, team, "Buyer")
        await make_tag(api, team, "Seller")
        assert (await api.client.patch(f"/tags/{tag_id}", json={"name": "B"}, headers=team.member)).status_code == 403
        assert (await api.client.delete(f"/tags/{tag_id}", headers=team.member)).status_code == 403
        taken = await api.client.patch(f"/tags/{tag_id}", json={"name": "SELLER"}, headers=team.rainmaker)
        assert taken.status_code == 409
        names = [t["name"] for t in (await api.client.get("/tags", headers=team.member)).json()]
        assert names == ["Buyer", "Seller"]
        same = await api.client.patch(f"/tags/{tag_id}", json={"name": "buyer"}, headers=team.rainmaker)
        assert (same.status_code, same.json()["name"]) == (200, "buyer")


class TestRRule1GoingForward:
    async def test_a_contact_that_already_had_the_tag_is_not_enrolled_a_newly_tagged_one_is(self, api: Api) -> None:
        team = await api.team()
        plan_id, tag_id = await make_plan(api, team), await make_tag(api, team, "Hot Lead")
        early = await make_contact(api, team, "Early")
        assert (await tag_contact(api, team, early, tag_id))["enrollments"] == []
        assert (await put_triggers(api, team, plan_id, [tag_id])).status_code == 200
        assert await enrollments(api, team, early) == []

        late = await make_contact(api, team, "Late")
        tagged = await tag_contact(api, team, late, tag_id)
        assert tagged["added"] is True
        assert [t["name"] for t in tagged["contact"]["tags"]] == ["Hot Lead"]
        [outcome] = tagged["enrollments"]
        assert (outcome["plan_id"], outcome["outcome"]) == (plan_id, "enrolled")
        [enrollment] = await enrollments(api, team, late)
        assert (enrollment["id"], enrollment["plan_id"], enrollment["status"]) == (
            outcome["enrollment_id"], plan_id, "active")
        assert await workflow_status(api, plan_id, late) == WorkflowExecutionStatus.RUNNING
        assert await enrollments(api, team, early) == []

    async def test_re_adding_a_tag_the_contact_has_does_nothing(self, api: Api) -> None:
        team = await api.team()
        plan_id, tag_id = await make_plan(api, team), await make_tag(api, team, "Hot Lead")
        await put_triggers(api, team, plan_id, [tag_id])
        contact = await make_contact(api, team)
        await tag_contact(api, team, contact, tag_id)
        again = await tag_contact(api, team, contact, tag_id)
        assert (again["added"], again["enrollments"]) == (False, [])
        assert len(await enrollments(api, team, contact)) == 1

    async def test_a_contact_already_in_the_plan_is_not_enrolled_twice(self, api: Api) -> None:
        team = await api.team()
        plan_id, tag_id = await make_plan(api, team), await make_tag(api, team, "Hot Lead")
        await put_triggers(api, team, plan_id, [tag_id])
        contact = await make_contact(api, team)
        await api.harness.enroll(plan_id, contact)
        [outcome] = (await tag_contact(api, team, contact, tag_id))["enrollments"]
        assert (outcome["outcome"], outcome["enrollment_id"]) == ("already_enrolled", None)
        assert [e["source"] for e in await enrollments(api, team, contact)] == ["manual"]

    async def test_one_tag_enrolls_in_every_active_plan_it_triggers_but_not_an_inactive_one(self, api: Api) -> None:
        team = await api.team()
        tag_id = await make_tag(api, team, "Hot Lead")
        first, second = await make_plan(api, team), await make_plan(api, team)
        inactive = await make_plan(api, team, active=False)
        for plan_id in (first, second, inactive):
            assert (await put_triggers(api, team, plan_id, [tag_id])).status_code == 200
        contact = await make_contact(api, team)
        tagged = await tag_contact(api, team, contact, tag_id)
        outcomes = {o["plan_id"]: o["outcome"] for o in tagged["enrollments"]}
        assert outcomes == {first: "enrolled", second: "enrolled", inactive: "plan_inactive"}  # said, not silent
        assert sorted(e["plan_id"] for e in await enrollments(api, team, contact)) == sorted([first, second])

    async def test_a_plan_takes_ten_triggers_and_refuses_an_eleventh_changing_nothing(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team)
        tags = [await make_tag(api, team, f"Tag {n}") for n in range(11)]
        ten = await put_triggers(api, team, plan_id, tags[:10])
        assert (ten.status_code, sorted(ten.json()["tag_ids"])) == (200, sorted(tags[:10]))
        eleven = await put_triggers(api, team, plan_id, tags)
        assert eleven.status_code == 422
        [error] = eleven.json()["detail"]
        assert (error["loc"], error["rule"]) == (["body", "tag_ids"], "R-RULE-1")
        got = (await api.client.get(f"/plans/{plan_id}/triggers", headers=team.member)).json()
        assert sorted(got["tag_ids"]) == sorted(tags[:10])
        repeated = await put_triggers(api, team, plan_id, [tags[0]] * 11)
        assert (repeated.status_code, repeated.json()["tag_ids"]) == (200, [tags[0]])


class TestRRule2RemovingATagKeepsTheEnrollment:
    async def test_untagging_leaves_the_contact_in_the_plan(self, api: Api) -> None:
        team = await api.team()
        plan_id, tag_id = await make_plan(api, team), await make_tag(api, team, "Hot Lead")
        await put_triggers(api, team, plan_id, [tag_id])
        contact = await make_contact(api, team)
        await tag_contact(api, team, contact, tag_id)
        removed = await api.client.delete(f"/contacts/{contact}/tags/{tag_id}", headers=team.member)
        assert removed.status_code == 204
        assert (await api.client.get(f"/contacts/{contact}", headers=team.member)).json()["tags"] == []
        assert [e["status"] for e in await enrollments(api, team, contact)] == ["active"]
        assert await workflow_status(api, plan_id, contact) == WorkflowExecutionStatus.RUNNING


class TestRRule3TriggersFollowTheTag:
    async def test_a_rename_keeps_the_trigger(self, api: Api) -> None:
        team = await api.team()
        plan_id, tag_id = await make_plan(api, team), await make_tag(api, team, "Hot Lead")
        await put_triggers(api, team, plan_id, [tag_id])
        renamed = await api.client.patch(f"/tags/{tag_id}", json={"name": "Very Hot"}, headers=team.rainmaker)
        # The plan is the member's own: the Rainmaker's answer does not name it (R-RULE-1), the owner's does.
        assert (renamed.status_code, renamed.json()["plan_ids"]) == (200, [])
        assert (await api.client.get(f"/tags/{tag_id}", headers=team.member)).json()["plan_ids"] == [plan_id]
        got = (await api.client.get(f"/plans/{plan_id}/triggers", headers=team.member)).json()
        assert [t["name"] for t in got["tags"]] == ["Very Hot"]
        contact = await make_contact(api, team)
        assert [o["outcome"] for o in (await tag_contact(api, team, contact, tag_id))["enrollments"]] == ["enrolled"]

    async def test_a_delete_drops_the_trigger_and_the_tag_but_not_enrollments(self, api: Api) -> None:
        team = await api.team()
        plan_id, tag_id = await make_plan(api, team), await make_tag(api, team, "Hot Lead")
        keep = await make_tag(api, team, "Keep")
        await put_triggers(api, team, plan_id, [tag_id, keep])
        contact = await make_contact(api, team)
        await tag_contact(api, team, contact, tag_id)
        assert (await api.client.delete(f"/tags/{tag_id}", headers=team.rainmaker)).status_code == 204
        assert (await api.client.get(f"/plans/{plan_id}/triggers", headers=team.member)).json()["tag_ids"] == [keep]
        assert (await api.client.get(f"/contacts/{contact}", headers=team.member)).json()["tags"] == []
        assert (await api.client.get(f"/tags/{tag_id}", headers=team.member)).status_code == 404
        assert [e["status"] for e in await enrollments(api, team, contact)] == ["active"]


class TestRRule4TriggersNeedASavedPlanWithSteps:
    async def test_a_plan_without_steps_refuses_triggers(self, api: Api) -> None:
        team = await api.team()
        plan_id, tag_id = await make_plan(api, team, steps=False), await make_tag(api, team, "Hot Lead")
        refused = await put_triggers(api, team, plan_id, [tag_id])
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["rule"] == "R-RULE-4"
        assert (await api.client.get(f"/plans/{plan_id}/triggers", headers=team.member)).json()["tag_ids"] == []
        assert (await put_triggers(api, team, plan_id, [])).status_code == 200

    async def test_an_unsaved_plan_is_404(self, api: Api) -> None:
        team = await api.team()
        tag_id = await make_tag(api, team, "Hot Lead")
        assert (await put_triggers(api, team, "pl_never_saved", [tag_id])).status_code == 404


class TestTriggerAccess:
    async def test_keys_teams_and_roles(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        personal, team_plan = await make_plan(api, team), await make_plan(api, team, team_plan=True)
        tag_id = await make_tag(api, team, "Hot Lead")
        path = f"/plans/{personal}/triggers"
        assert (await api.client.get(path)).status_code == 401
        assert (await api.client.put(path, json={"tag_ids": [tag_id]})).status_code == 401
        assert (await api.client.get(path, headers=other.rainmaker)).status_code == 404
        assert (await put_triggers(api, other, personal, [])).status_code == 404
        # R-TEAM-1: a basic member may not edit a team plan; a personal plan exists only for its owner, so even
        # the Rainmaker gets 404 for it, as everywhere else in the API.
        assert (await put_triggers(api, team, team_plan, [tag_id])).status_code == 403
        by_rainmaker = await api.client.put(path, json={"tag_ids": [tag_id]}, headers=team.rainmaker)
        assert by_rainmaker.status_code == 404
        assert (await api.client.get(path, headers=team.rainmaker)).status_code == 404
        allowed = await api.client.put(f"/plans/{team_plan}/triggers", json={"tag_ids": [tag_id]},
                                       headers=team.rainmaker)
        assert allowed.status_code == 200
        assert (await api.client.get(path, headers=team.member)).json()["tag_ids"] == []

    async def test_another_teams_tag_and_unknown_fields_are_422(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        plan_id = await make_plan(api, team)
        foreign = await make_tag(api, other, "Theirs")
        refused = await put_triggers(api, team, plan_id, [foreign])
        assert (refused.status_code, refused.json()["detail"][0]["loc"]) == (422, ["body", "tag_ids"])
        typo = await api.client.put(f"/plans/{plan_id}/triggers", json={"tags": []}, headers=team.member)
        assert typo.status_code == 422
        assert (await api.client.get(f"/plans/{plan_id}/triggers", headers=team.member)).json()["tag_ids"] == []


class TestRRule5RemovalRules:
    async def test_defaults_off_then_set_by_the_plans_editor(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team)
        path = f"/plans/{plan_id}/removal-rules"
        got = await api.client.get(path, headers=team.member)  # a personal plan: its owner's only
        assert got.json() == {"plan_id": plan_id, "on_email_reply": False, "on_text_reply": False}
        put = await api.client.put(path, json={"on_email_reply": True, "on_text_reply": False}, headers=team.member)
        assert (put.status_code, put.json()["on_email_reply"]) == (200, True)
        assert (await api.client.get(path, headers=team.member)).json()["on_email_reply"] is True

    async def test_refusals_change_nothing(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        team_plan = await make_plan(api, team, team_plan=True)
        path = f"/plans/{team_plan}/removal-rules"
        both = {"on_email_reply": True, "on_text_reply": True}
        assert (await api.client.put(path, json=both)).status_code == 401
        assert (await api.client.put(path, json=both, headers=team.member)).status_code == 403
        assert (await api.client.put(path, json=both, headers=other.rainmaker)).status_code == 404
        assert (await api.client.get(path, headers=other.rainmaker)).status_code == 404
        missing = await api.client.put(path, json={"on_email_reply": True}, headers=team.rainmaker)
        assert (missing.status_code, missing.json()["detail"][0]["loc"]) == (422, ["body", "on_text_reply"])
        assert (await api.client.get(path, headers=team.rainmaker)).json()["on_text_reply"] is False


async def has_workflow(api: Api, plan_id: str, contact_id: str) -> bool:
    try:
        await workflow_status(api, plan_id, contact_id)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


class TestRRule1WhoseContactsAPlanTriggersFor:
    async def test_a_members_own_contact_does_not_fire_the_rainmakers_personal_trigger(self, api: Api) -> None:
        team = await api.team()
        tag_id = await make_tag(api, team, "Hot Lead")
        ritas = await make_plan(api, team, owner_id=team.rainmaker_id)
        assert (await api.client.put(f"/plans/{ritas}/triggers", json={"tag_ids": [tag_id]},
                                     headers=team.rainmaker)).status_code == 200
        contact = await make_contact(api, team)  # the member's own contact
        tagged = await tag_contact(api, team, contact, tag_id, team.member)
        assert (tagged["added"], tagged["enrollments"]) == (True, [])
        assert ritas not in json.dumps(tagged)
        assert await api.harness.rows(Enrollment, plan_id=ritas) == []
        assert not await has_workflow(api, ritas, contact)

    async def test_the_rainmaker_tagging_their_own_contact_enrolls_it(self, api: Api) -> None:
        team = await api.team()
        tag_id = await make_tag(api, team, "Hot Lead")
        ritas = await make_plan(api, team, owner_id=team.rainmaker_id)
        await api.client.put(f"/plans/{ritas}/triggers", json={"tag_ids": [tag_id]}, headers=team.rainmaker)
        created = await api.client.post("/contacts", json={"first_name": "Ann"}, headers=team.rainmaker)
        contact = created.json()["id"]
        [outcome] = (await tag_contact(api, team, contact, tag_id, team.rainmaker))["enrollments"]
        assert (outcome["plan_id"], outcome["outcome"]) == (ritas, "enrolled")
        assert await workflow_status(api, ritas, contact) == WorkflowExecutionStatus.RUNNING

    async def test_a_contact_assigned_to_the_owner_fires_but_the_tagger_who_cannot_see_the_plan_is_not_told(
            self, api: Api) -> None:
        team = await api.team()
        tag_id = await make_tag(api, team, "Hot Lead")
        ritas = await make_plan(api, team, owner_id=team.rainmaker_id)
        await api.client.put(f"/plans/{ritas}/triggers", json={"tag_ids": [tag_id]}, headers=team.rainmaker)
        created = await api.client.post("/contacts", json={"first_name": "Ann", "assignee_id": team.rainmaker_id},
                                        headers=team.member)
        contact = created.json()["id"]
        tagged = await tag_contact(api, team, contact, tag_id, team.member)
        assert (tagged["enrollments"], ritas in json.dumps(tagged)) == ([], False)
        [row] = await api.harness.rows(Enrollment, contact_id=contact)
        assert (row.plan_id, row.source) == (ritas, "tag")
        assert await workflow_status(api, ritas, contact) == WorkflowExecutionStatus.RUNNING

    async def test_a_team_plans_trigger_fires_for_any_contact_of_the_team(self, api: Api) -> None:
        team = await api.team()
        tag_id = await make_tag(api, team, "Hot Lead")
        shared = await make_plan(api, team, team_plan=True)
        await api.client.put(f"/plans/{shared}/triggers", json={"tag_ids": [tag_id]}, headers=team.rainmaker)
        members = await make_contact(api, team, "Mo")
        ritas = (await api.client.post("/contacts", json={"first_name": "Ri"}, headers=team.rainmaker)).json()["id"]
        for headers, contact in ((team.member, members), (team.member, ritas)):
            [outcome] = (await tag_contact(api, team, contact, tag_id, headers))["enrollments"]
            assert (outcome["plan_id"], outcome["outcome"]) == (shared, "enrolled"), contact
            assert await workflow_status(api, shared, contact) == WorkflowExecutionStatus.RUNNING

    async def test_a_tag_lists_only_the_plans_the_caller_can_see(self, api: Api) -> None:
        team = await api.team()
        tag_id = await make_tag(api, team, "Hot Lead")
        ritas, alexs = await make_plan(api, team, owner_id=team.rainmaker_id), await make_plan(api, team)
        shared = await make_plan(api, team, team_plan=True)
        for plan_id, headers in ((ritas, team.rainmaker), (alexs, team.member), (shared, team.rainmaker)):
            await api.client.put(f"/plans/{plan_id}/triggers", json={"tag_ids": [tag_id]}, headers=headers)
        for headers, mine in ((team.member, alexs), (team.rainmaker, ritas)):
            one = (await api.client.get(f"/tags/{tag_id}", headers=headers)).json()
            [listed] = (await api.client.get("/tags", headers=headers)).json()
            assert sorted(one["plan_ids"]) == sorted(listed["plan_ids"]) == sorted([mine, shared])
