"""Small things a person trips on: a phone number refused with an example of what to write; the next step known
the moment an enrollment exists (R-ENR-4), rendered for the contact (R-MERGE-1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import api.app  # noqa: F401  (every router, so every request body)
from api.schemas.common import Request
from tests.api.conftest import ADMIN, Api
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


def request_bodies(cls: type[Request] = Request) -> Iterator[type[Request]]:
    for body in cls.__subclasses__():
        yield body
        yield from request_bodies(body)


def lax_scalars(schema: Any, path: str = "") -> Iterator[str]:
    """Where a pydantic core schema reads an integer, a boolean or a number laxly (`true` as 1, "1" as true)."""
    if isinstance(schema, dict):
        if schema.get("type") in ("int", "bool", "float") and not schema.get("strict"):
            yield path
        for key, value in schema.items():
            if key != "serialization":  # how a value is written out, not read
                yield from lax_scalars(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from lax_scalars(value, f"{path}/{i}")


class TestNumbersAndFlagsAreTheJsonTypesTheyAreStatedAs:
    """docs/decisions.md (issue 10): a JSON boolean is not an integer, a string or a number is not a boolean, a numeric
    string is not an integer, in every request body; `30.0` is still 30, as JSON Schema's integer reads it."""

    def test_no_request_body_reads_a_boolean_as_a_number_or_a_string_or_number_as_a_boolean(self) -> None:
        lax = {body.__qualname__: list(lax_scalars(body.__pydantic_core_schema__)) for body in request_bodies()}
        assert len(lax) > 20
        assert {name: places for name, places in lax.items() if places} == {}

    async def test_a_flag_or_number_of_the_wrong_json_type_is_a_422_naming_the_field(self, api: Api) -> None:
        team = await api.team()
        plan_id = (await api.client.post("/plans", headers=team.member, json={"name": "P", "days": [
            {"delay_days": 0, "steps": [task()]}]})).json()["id"]
        start = "2026-03-02T06:00:00-06:00"
        for method, path, body, field in (
                ("POST", "/designs", {"name": "D", "subject": "S", "html": "<p>x</p>", "team": "yes"}, "team"),
                ("PUT", f"/plans/{plan_id}/removal-rules", {"on_email_reply": 1, "on_text_reply": False},
                 "on_email_reply"),
                ("POST", f"/plans/{plan_id}/publish", {"include_linked": "true"}, "include_linked"),
                ("POST", f"/plans/{plan_id}/preview", {"start_at": start, "passes": True}, "passes"),
                ("POST", f"/plans/{plan_id}/preview", {"start_at": start, "passes": "2"}, "passes")):
            refused = await api.client.request(method, path, json=body, headers=team.member)
            assert refused.status_code == 422, (path, body, refused.text)
            assert [d["loc"] for d in refused.json()["detail"]] == [["body", field]], (path, body)
        preview = await api.client.post(f"/plans/{plan_id}/preview", headers=team.member,
                                        json={"start_at": start, "passes": 1.0})
        assert preview.status_code == 200, preview.text


class TestTimeZonesAreZonesOfTheIanaDatabase:
    """Every field taking a time zone takes an IANA zone, and nothing else the zone database holds: `localtime` is
    whatever the host is set to, `Factory` the placeholder for a zone not yet set, `posixrules` a template."""

    async def test_every_field_taking_a_zone_refuses_a_name_that_is_no_zone(self, api: Api) -> None:
        team = await api.team()
        start = "2026-03-02T06:00:00-06:00"
        plan_id = (await api.client.post("/plans", headers=team.member, json={"name": "P", "days": [
            {"delay_days": 0, "steps": [task()]}]})).json()["id"]
        for zone in ("localtime", "Factory", "posixrules"):
            for method, path, body, headers in (
                    ("POST", "/teams", {"name": "T", "time_zone": zone}, ADMIN),
                    ("PATCH", "/settings", {"time_zone": zone}, team.member),
                    ("PATCH", "/settings", {"team_time_zone": zone}, team.rainmaker),
                    ("POST", "/contacts", {"first_name": "A", "time_zone": zone}, team.member),
                    ("POST", "/leads", {"source": "zillow", "contact": {"first_name": "A", "time_zone": zone}},
                     team.member),
                    ("POST", f"/plans/{plan_id}/preview", {"start_at": start, "contact_time_zone": zone},
                     team.member)):
                refused = await api.client.request(method, path, json=body, headers=headers)
                assert refused.status_code == 422, (path, zone, refused.text)
                [problem] = refused.json()["detail"]
                assert problem["loc"][-1] in ("time_zone", "team_time_zone", "contact_time_zone"), (path, problem)
                assert f"'{zone}' is not an IANA time zone" in problem["msg"], problem
        settled = await api.client.patch("/settings", headers=team.member, json={"time_zone": "Asia/Kolkata"})
        assert (settled.status_code, settled.json()["time_zone"]) == (200, "Asia/Kolkata")
