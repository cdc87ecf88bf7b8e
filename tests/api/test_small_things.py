"""Small things a person trips on: a phone number refused with an example of what to write; the next step known
the moment an enrollment exists (R-ENR-4), rendered for the contact (R-MERGE-1)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.conftest import Api
from tests.api.test_enrollments import enroll, make_contact, make_plan, orphan_enrollment, progress
from tests.factories import CT, task


class TestPhoneNumbers:
    async def test_a_phone_that_is_not_e164_is_refused_with_an_example(self, api: Api) -> None:
        team = await api.team()
        for body in ({"first_name": "Dana", "phone": "512-555-0199"},):
            refused = await api.client.post("/contacts", headers=team.member, json=body)
            assert refused.status_code == 422
            (error,) = refused.json()["detail"]
            assert error["loc"] == ["body", "phone"]
            assert "e.g. +15125550199" in error["msg"]
            assert "'512-555-0199'" in error["msg"]
        refused = await api.client.patch("/settings", headers=team.member, json={"twilio_from_number": "5125550111"})
        assert refused.status_code == 422
        assert "e.g. +15125550199" in str(refused.json()["detail"])
        schema = (await api.client.get("/openapi.json")).json()["components"]["schemas"]["ContactCreate"]
        phone = schema["properties"]["phone"]["anyOf"][0]
        assert (phone["pattern"], phone["examples"]) == (r"^\+[1-9][0-9]{6,14}$", ["+15125550199"])


class TestTheNulCharacter:
    async def test_text_holding_nul_is_a_422_at_its_place_and_nothing_is_saved(self, api: Api) -> None:
        """PostgreSQL cannot store NUL: it is refused for every body, at its place, on either database."""
        team = await api.team()
        plan = {"name": "Plan", "days": [{"delay_days": 0, "steps": [task("Call\u0000 her")]}]}
        for path, body, loc in (
                ("/contacts", {"first_name": "Da\u0000na"}, ["body", "first_name"]),
                ("/plans", plan, ["body", "days", "0", "steps", "0", "name"]),
                ("/plans/import", {"name": "Plan", "steps": [task("Call\u0000 her")]}, ["body", "steps", "0", "name"])):
            refused = await api.client.post(path, headers=team.member, json=body)
            assert refused.status_code == 422, (path, refused.text)
            (error,) = refused.json()["detail"]
            assert ([str(part) for part in error["loc"]], "NUL" in error["msg"]) == (loc, True), path
        assert (await api.client.get("/contacts", headers=team.member)).json() == []
        assert (await api.client.get("/plans", headers=team.member)).json() == []


    async def test_a_path_or_query_holding_nul_is_a_404_or_a_422_naming_the_parameter(self, api: Api) -> None:
        team = await api.team()
        for path in ("/plans/pl%00x", "/contacts/ct%00", "/enrollments/%00"):
            missing = await api.client.get(path, headers=team.member)
            assert missing.status_code == 404, path
        refused = await api.client.get("/tasks", params={"assignee_id": "ag\x00"}, headers=team.member)
        assert refused.status_code == 422
        assert [d["loc"] for d in refused.json()["detail"]] == [["query", "assignee_id"]]


class TestREnr4NextStepFromTheStart:
    async def test_right_after_enrolling_the_next_step_and_its_time_are_known(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (1, [task("Call {contact.first.name}", slot="morning", id="C")]))
        contact_id = await make_contact(api, team)
        start = datetime(2027, 2, 3, 15, 20, tzinfo=CT)
        await api.harness.advance_to(start)
        enrollment_id, handle = await enroll(api, team.member, plan_id, contact_id)
        now = await progress(api, team.member, enrollment_id)  # no waiting for the worker
        assert (now["next_step_id"], now["next_step_label"], now["day"]) == ("C", "task 'Call Dana'", 1)
        assert datetime.fromisoformat(now["next_fire_at"]) == (start + timedelta(days=1)).replace(hour=10, minute=0)
        await handle.terminate("test over")

    async def test_with_no_worker_answering_the_plan_still_says_what_comes_first(self, api: Api) -> None:
        team = await api.team()
        enrollment_id = await orphan_enrollment(api, team)  # a row whose workflow does not run
        now = await progress(api, team.member, enrollment_id)
        assert (now["live"], now["next_step_kind"], now["next_step_label"]) == (False, "task", "task 'Call Dana'")
        assert now["next_fire_at"] is not None
