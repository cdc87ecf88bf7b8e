"""Contacts of a team, their tags, timeline and enrollments through the real app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from db.models import Contact, Enrollment, Message, TimelineEvent
from db.session import session_scope
from domain.ids import new_id
from tests.api.conftest import Api, Team
from tests.api.test_plans import doc, post_plan
from tests.api.test_triggers import make_plan, make_tag
from tests.factories import eventually, next_local, task, text
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import RemoveRequest

DANA = {"first_name": "Dana", "last_name": "Smith", "email": "dana@example.com", "phone": "+15125550199",
        "time_zone": "America/New_York", "do_not_call": True}


async def create(api: Api, team: Team, body: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> dict[str, Any]:
    created = await api.client.post("/contacts", json=body or DANA, headers=headers or team.member)
    assert created.status_code == 201, created.text
    contact: dict[str, Any] = created.json()
    return contact


async def team_contacts(api: Api, team: Team) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await api.client.get("/contacts", headers=team.member)).json()
    return listed


class TestContacts:
    async def test_create_read_list_and_update(self, api: Api) -> None:
        team = await api.team()
        contact = await create(api, team, {**DANA, "assignee_id": team.rainmaker_id})
        assert {k: contact[k] for k in DANA} == DANA
        assert (contact["team_id"], contact["owner_agent_id"], contact["assignee_id"], contact["tags"]) == (
            team.id, team.member_id, team.rainmaker_id, [])
        assert (await api.client.get(f"/contacts/{contact['id']}", headers=team.rainmaker)).json() == contact
        assert [c["id"] for c in await team_contacts(api, team)] == [contact["id"]]
        changed = await api.client.patch(f"/contacts/{contact['id']}", headers=team.member,
                                         json={"email": None, "last_name": "Jones", "assignee_id": team.member_id})
        assert changed.status_code == 200
        assert (changed.json()["email"], changed.json()["last_name"], changed.json()["phone"],
                changed.json()["assignee_id"]) == (None, "Jones", DANA["phone"], team.member_id)

    async def test_keys_are_required_and_another_teams_contact_is_404(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        contact = (await create(api, team))["id"]
        assert (await api.client.get("/contacts")).status_code == 401
        assert (await api.client.post("/contacts", json=DANA)).status_code == 401
        tag_id = await make_tag(api, other, "Theirs")
        for method, path, body in (
            ("GET", f"/contacts/{contact}", None), ("PATCH", f"/contacts/{contact}", {"first_name": "X"}),
            ("DELETE", f"/contacts/{contact}", None), ("GET", f"/contacts/{contact}/timeline", None),
            ("GET", f"/contacts/{contact}/enrollments", None),
            ("POST", f"/contacts/{contact}/tags", {"tag_id": tag_id}),
            ("DELETE", f"/contacts/{contact}/tags/{tag_id}", None),
        ):
            answer = await api.client.request(method, path, json=body, headers=other.rainmaker)
            assert answer.status_code == 404, (method, path)
        assert await team_contacts(api, other) == []
        got = (await api.client.get(f"/contacts/{contact}", headers=team.member)).json()
        assert (got["first_name"], got["tags"]) == ("Dana", [])

    async def test_invalid_fields_are_422_naming_the_field_and_create_nothing(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        for body, field in (({**DANA, "phone": "512-555-0199"}, "phone"),
                            ({**DANA, "time_zone": "Central"}, "time_zone"),
                            ({**DANA, "email": "not-an-email"}, "email"),
                            ({**DANA, "nickname": "D"}, "nickname"),
                            ({"last_name": "Smith"}, "first_name"),
                            ({**DANA, "assignee_id": other.rainmaker_id}, "assignee_id")):
            refused = await api.client.post("/contacts", json=body, headers=team.member)
            assert refused.status_code == 422, field
            assert refused.json()["detail"][0]["loc"] == ["body", field]
        assert await team_contacts(api, team) == []

    async def test_an_invalid_update_changes_nothing(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        contact = await create(api, team)
        path = f"/contacts/{contact['id']}"
        for body, field in (({"first_name": None}, "first_name"), ({"do_not_call": None}, "do_not_call"),
                            ({"last_name": "X", "assignee_id": other.member_id}, "assignee_id"),
                            ({"phone": "5550199"}, "phone")):
            refused = await api.client.patch(path, json=body, headers=team.member)
            assert (refused.status_code, refused.json()["detail"][0]["loc"]) == (422, ["body", field])
        assert (await api.client.get(path, headers=team.member)).json() == contact

    async def test_a_flag_is_true_or_false_and_a_zone_one_the_iana_database_names(self, api: Api) -> None:
        """`"yes"`, 1 or `"true"` is no flag, and `localtime` (whatever the host is set to), `Factory` (zone not set)
        or `posixrules` no time zone: each is a 422 naming the field and its rule, never stored as a lax reading of it.
        """
        team = await api.team()
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({"do_not_call": "yes"}, "do_not_call", "R-TXT-4"), ({"do_not_call": 1}, "do_not_call", "R-TXT-4"),
            *(({"time_zone": zone}, "time_zone", "R-TXT-3")
              for zone in ("localtime", "Factory", "posixrules", "posix/America/Chicago"))]
        for body, field, rule in cases:
            refused = await api.client.post("/contacts", json={"first_name": "A", **body}, headers=team.member)
            assert refused.status_code == 422, body
            assert [(d["loc"], d["rule"]) for d in refused.json()["detail"]] == [(["body", field], rule)], body
        assert await team_contacts(api, team) == []
        contact = await create(api, team, {"first_name": "A", "time_zone": "US/Central"})  # a link is an IANA name
        path = f"/contacts/{contact['id']}"
        for body in ({"do_not_call": 0}, {"opted_out": "true"}, {"time_zone": "localtime"}):
            refused = await api.client.patch(path, json=body, headers=team.member)
            assert (refused.status_code, refused.json()["detail"][0]["loc"]) == (422, ["body", *body]), body
        assert (await api.client.get(path, headers=team.member)).json() == contact


class TestDeletingContacts:
    async def test_a_contact_without_history_is_deleted_by_its_owner_or_a_manager(self, api: Api) -> None:
        team = await api.team()
        mine = (await create(api, team, headers=team.rainmaker))["id"]
        tagged = (await create(api, team))["id"]
        tag_id = await make_tag(api, team, "Buyer")
        await api.client.post(f"/contacts/{tagged}/tags", json={"tag_id": tag_id}, headers=team.member)
        assert (await api.client.delete(f"/contacts/{mine}", headers=team.member)).status_code == 403
        assert (await api.client.delete(f"/contacts/{mine}", headers=team.rainmaker)).status_code == 204
        assert (await api.client.delete(f"/contacts/{tagged}", headers=team.member)).status_code == 204
        assert (await api.client.get(f"/contacts/{mine}", headers=team.member)).status_code == 404
        assert (await api.client.get(f"/tags/{tag_id}", headers=team.member)).json()["contacts"] == 0

    async def test_an_enrolled_contact_is_refused_naming_the_enrollment_then_kept_for_its_history(
            self, api: Api) -> None:
        team = await api.team()
        contact = (await create(api, team))["id"]
        plan_id = await make_plan(api, team)
        handle = await api.harness.enroll(plan_id, contact)
        [enrollment] = (await api.client.get(f"/contacts/{contact}/enrollments", headers=team.member)).json()
        refused = await api.client.delete(f"/contacts/{contact}", headers=team.member)
        assert refused.status_code == 409
        assert enrollment["id"] in refused.json()["detail"]

        await handle.signal(EnrollmentWorkflow.remove, RemoveRequest())

        async def ended() -> bool:
            return not await api.harness.has(Enrollment, contact_id=contact, status="active")

        await eventually(ended)
        kept = await api.client.delete(f"/contacts/{contact}", headers=team.member)
        assert (kept.status_code, "compliance record" in kept.json()["detail"]) == (409, True)
        assert (await api.client.get(f"/contacts/{contact}", headers=team.member)).status_code == 200


class TestContactTags:
    async def test_tags_are_added_shown_and_removed(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        contact = (await create(api, team))["id"]
        buyer, seller = await make_tag(api, team, "Buyer"), await make_tag(api, team, "Seller")
        for tag_id in (seller, buyer):
            added = await api.client.post(f"/contacts/{contact}/tags", json={"tag_id": tag_id}, headers=team.member)
            assert added.status_code == 200
        got = (await api.client.get(f"/contacts/{contact}", headers=team.member)).json()
        assert [t["name"] for t in got["tags"]] == ["Buyer", "Seller"]
        filtered = (await api.client.get("/contacts", params={"tag_id": buyer}, headers=team.member)).json()
        assert [c["id"] for c in filtered] == [contact]

        foreign = await make_tag(api, other, "Theirs")
        refused = await api.client.post(f"/contacts/{contact}/tags", json={"tag_id": foreign}, headers=team.member)
        assert (refused.status_code, refused.json()["detail"][0]["loc"]) == (422, ["body", "tag_id"])
        assert (await api.client.post(f"/contacts/{contact}/tags", json={"tag_id": buyer})).status_code == 401

        assert (await api.client.delete(f"/contacts/{contact}/tags/{buyer}", headers=team.member)).status_code == 204
        assert (await api.client.delete(f"/contacts/{contact}/tags/{buyer}", headers=team.member)).status_code == 404
        assert (await api.client.delete(f"/contacts/{contact}/tags/{foreign}",
                                        headers=team.member)).status_code == 404
        got = (await api.client.get(f"/contacts/{contact}", headers=team.member)).json()
        assert [t["name"] for t in got["tags"]] == ["Seller"]


class TestTimelineAndEnrollments:
    async def test_the_timeline_is_newest_first(self, api: Api) -> None:
        team = await api.team()
        contact = (await create(api, team))["id"]
        base = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
        async with session_scope(api.harness.sessions) as session:
            for hours, kind in ((0, "call_logged"), (2, "step_skipped"), (1, "message_received")):
                session.add(TimelineEvent(id=new_id("ev"), team_id=team.id, contact_id=contact, kind=kind,
                                          at=base + timedelta(hours=hours), detail=kind, step_id="st_1"))
        events = (await api.client.get(f"/contacts/{contact}/timeline", headers=team.member)).json()
        assert [e["kind"] for e in events] == ["step_skipped", "message_received", "call_logged"]
        assert {"at", "kind", "plan_id", "step_id", "detail"} <= events[0].keys()
        page = (await api.client.get(f"/contacts/{contact}/timeline", params={"limit": 1, "offset": 1},
                                     headers=team.member)).json()
        assert [e["kind"] for e in page] == ["message_received"]
        assert (await api.client.get(f"/contacts/{contact}/timeline", params={"limit": 0},
                                     headers=team.member)).status_code == 422

    async def test_enrollments_list_the_contacts_plans_with_status(self, api: Api) -> None:
        team = await api.team()
        contact = (await create(api, team))["id"]
        plan_id = await make_plan(api, team)
        await api.harness.enroll(plan_id, contact)
        [enrollment] = (await api.client.get(f"/contacts/{contact}/enrollments", headers=team.member)).json()
        assert (enrollment["plan_id"], enrollment["status"], enrollment["ended_at"], enrollment["end_reason"]) == (
            plan_id, "active", None, None)
        assert enrollment["started_at"] is not None
        timeline = (await api.client.get(f"/contacts/{contact}/timeline", headers=team.member)).json()
        assert [(e["kind"], e["plan_id"]) for e in timeline] == [("enrolled", plan_id)]


class TestRTxt4OptOutByHand:
    async def test_an_agent_opts_a_contact_out_once_with_a_timeline_event_naming_them(self, api: Api) -> None:
        team = await api.team()
        contact = await create(api, team)
        assert contact["opted_out"] is False
        path = f"/contacts/{contact['id']}"
        changed = await api.client.patch(path, json={"opted_out": True}, headers=team.member)
        assert (changed.status_code, changed.json()["opted_out"]) == (200, True)
        (row,) = await api.harness.rows(Contact, id=contact["id"])
        assert (row.opted_out, row.opted_out_at is not None) == (True, True)
        again = await api.client.patch(path, json={"opted_out": True}, headers=team.rainmaker)
        assert (again.status_code, again.json()["opted_out"]) == (200, True)
        (after,) = await api.harness.rows(Contact, id=contact["id"])
        assert after.opted_out_at == row.opted_out_at  # already out: nothing changes, no second event
        events = (await api.client.get(f"{path}/timeline", headers=team.member)).json()
        assert [(e["kind"], e["detail"]) for e in events] == [("opted_out", "Opted out of texts by Alex Agent")]

    async def test_putting_a_contact_on_or_off_do_not_call_is_on_their_timeline_naming_who(self, api: Api) -> None:
        team = await api.team()
        contact = await create(api, team, {**DANA, "do_not_call": False})
        path = f"/contacts/{contact['id']}"
        for headers, listed in ((team.member, True), (team.member, True), (team.rainmaker, False)):
            changed = await api.client.patch(path, json={"do_not_call": listed}, headers=headers)
            assert (changed.status_code, changed.json()["do_not_call"]) == (200, listed)
        events = (await api.client.get(f"{path}/timeline", headers=team.member)).json()
        assert [(e["kind"], e["detail"]) for e in events] == [  # newest first; setting it twice is one change
            ("do_not_call_cleared", "Taken off the Do-Not-Call list by Rita Agent"),
            ("do_not_call", "Put on the Do-Not-Call list by Alex Agent")]

    async def test_only_the_contact_opts_back_in_so_false_and_null_are_422_and_change_nothing(
            self, api: Api) -> None:
        team = await api.team()
        contact = await create(api, team)
        path = f"/contacts/{contact['id']}"
        refused = await api.client.patch(path, json={"opted_out": False, "last_name": "Jones"}, headers=team.member)
        assert refused.status_code == 422
        (problem,) = refused.json()["detail"]
        assert (problem["loc"], problem["rule"]) == (["body", "opted_out"], "R-TXT-4")
        assert "only the contact can opt back in, by texting START" in problem["msg"]
        assert (await api.client.get(path, headers=team.member)).json() == contact
        await api.client.patch(path, json={"opted_out": True}, headers=team.member)
        for body in ({"opted_out": False}, {"opted_out": None}):
            answer = await api.client.patch(path, json=body, headers=team.rainmaker)
            [problem] = answer.json()["detail"]
            assert (answer.status_code, problem["loc"], problem["rule"]) == (
                422, ["body", "opted_out"], "R-TXT-4"), body
        got = (await api.client.get(path, headers=team.member)).json()
        assert got["opted_out"] is True
        assert [e["kind"] for e in (await api.client.get(f"{path}/timeline", headers=team.member)).json()] == [
            "opted_out"]

    async def test_a_contact_opted_out_by_hand_is_not_texted_by_a_running_plan(self, api: Api) -> None:
        team = await api.team()
        await api.client.patch("/settings", headers=team.member, json={
            "twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "token-123",
            "twilio_from_number": "+15125550111"})
        contact = (await create(api, team, {**DANA, "do_not_call": False}))["id"]
        plan = await post_plan(api, team.member, doc((0, [task()]), (1, [text("Day two")])))
        h = api.harness
        await h.advance_to(await next_local(h, 11))
        handle = await h.enroll(plan["id"], contact)
        await api.client.patch(f"/contacts/{contact}", json={"opted_out": True}, headers=team.member)
        assert (await h.finish(handle)).reason == "completed"
        (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
        assert skipped.detail == "Text not sent: the contact opted out of texts"
        assert await h.rows(Message, direction="outbound") == []
