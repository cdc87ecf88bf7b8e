"""Issue 10, item 5: the OpenAPI document says what the API enforces, and the requests schemathesis answered with a
500 are refused with a 4xx naming the field and its rule (tests/contract runs schemathesis itself)."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

import jsonschema_rs
import pytest

from api.schemas.common import ZONE_NAME_PATTERN
from api.schemas.plans import EXAMPLE_PLAN
from tests.api.conftest import Api, Team, answered
from tests.api.test_plans import doc, sample
from tests.factories import task, text


async def document(api: Api) -> dict[str, Any]:
    return answered(await api.client.get("/openapi.json"), 200)  # type: ignore[no-any-return]


def conforms(openapi: dict[str, Any], component: str, value: Any) -> list[str]:
    """Why `value` does not match the document's schema `component` (empty when it does)."""
    validator = jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{component}",
                                             "components": openapi["components"]})
    return [error.message for error in validator.iter_errors(value)]


async def route(api: Api, team: Team, **fields: Any) -> Any:
    return await api.client.post("/routes", headers=team.rainmaker, json={
        "title": "Zillow", "days_of_week": [0, 1, 2, 3, 4], "start_time": "08:00", "end_time": "18:00",
        "sources": ["zillow"], "strategy": "round_robin", "agent_ids": [team.member_id], **fields})


class TestIssue10TheDocumentSaysWhatTheApiTakesAndAnswers:
    async def test_the_sample_plans_and_the_documented_example_are_valid_by_the_schema_and_answered_as_it_says(
            self, api: Api) -> None:
        """The plan schema states the limits `domain.validation` enforces, never more: every plan the API saves is
        valid by the document, and so is its answer."""
        team, openapi = await api.team(), await document(api)
        for plan in (EXAMPLE_PLAN, sample("8x8-new-lead"), sample("33-touch-sphere")):
            assert conforms(openapi, "PlanCreate", plan) == []
            saved = answered(await api.client.post("/plans", json=plan, headers=team.member), 201)
            assert conforms(openapi, "PlanPublic", saved) == []

    async def test_what_the_schema_states_of_a_plan_the_api_refuses(self, api: Api) -> None:
        """A document the schema calls invalid (a day without steps, a task due in 15 days) is one the API refuses,
        naming the rule."""
        team, openapi = await api.team(), await document(api)
        for body, rule in ((doc((0, [])), "R-PLAN-3"), (doc((0, [task(due_in_days=15)])), "R-TASK-1"),
                           (doc((0, [text(due_time="24:00")])), "R-TASK-1"),
                           (doc((0, [task()]), repeat={"times": 7}), "R-PLAN-7")):
            assert conforms(openapi, "PlanCreate", body) != []
            refused = answered(await api.client.post("/plans", json=body, headers=team.member), 422)
            assert [item["rule"] for item in refused["detail"]] == [rule]

    async def test_every_422_reads_as_the_document_describes_it(self, api: Api) -> None:
        team, openapi = await api.team(), await document(api)
        shape = await api.client.post("/plans", json={"days": []}, headers=team.member)  # pydantic's, with a rule
        business = await api.client.post("/plans", json=doc((0, [task("Call {contact.nick}")])), headers=team.member)
        plain = await api.client.post("/tags", json={"name": 5}, headers=team.member)  # pydantic's own words
        for refused in (shape, business, plain):
            assert conforms(openapi, "HTTPValidationError", answered(refused, 422)) == [], refused.text
        assert "type" not in business.json()["detail"][0]

    def test_every_iana_time_zone_is_one_by_the_document(self) -> None:
        """`TimeZone` lists the common zones and admits every other IANA name by pattern: no zone the API takes is
        refused by a client generated from the document."""
        validator = jsonschema_rs.validator_for({"type": "string", "pattern": ZONE_NAME_PATTERN})
        assert [zone for zone in sorted(available_timezones()) if not validator.is_valid(zone)] == []


class TestIssue10TheServerErrorsSchemathesisFound:
    async def test_a_null_team_time_zone_is_a_422_naming_the_field_and_rule(self, api: Api) -> None:
        team = await api.team()
        refused = answered(await api.client.patch("/settings", json={"team_time_zone": None},
                                                  headers=team.rainmaker), 422)
        assert [(item["loc"], item["rule"]) for item in refused["detail"]] == [(["body", "team_time_zone"],
                                                                                "R-PLAN-4")]

    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_a_non_ascii_unsubscribe_token_is_an_unknown_link(self, api: Api, method: str) -> None:
        for token in ("%C3%A9t%C3%A9", "ct_1.%F0%9F%98%80", "%C2%96"):
            answer = await api.client.request(method, f"/unsubscribe/{token}")
            assert (answer.status_code, answer.json()) == (404, {"detail": "unsubscribe link not found"})

    @pytest.mark.parametrize("path", ["/contacts", "/offers", "/pool", "/tags", "/plans", "/library"])
    async def test_an_offset_past_a_million_is_a_422_naming_it_not_a_database_overflow(self, api: Api,
                                                                                       path: str) -> None:
        team = await api.team()
        refused = answered(await api.client.get(path, params={"offset": 955637752179443499008},
                                                headers=team.member), 422)
        assert [item["loc"] for item in refused["detail"]] == [["query", "offset"]]
        assert answered(await api.client.get(path, params={"offset": 1_000_000}, headers=team.member), 200) == []

    async def test_a_whole_number_written_with_a_decimal_point_is_that_number(self, api: Api) -> None:
        """JSON Schema's `integer` includes 3600.0; the API reads it as 3600, and still refuses `true` and "3600"."""
        team = await api.team()
        saved = answered(await route(api, team, days_of_week=[0.0, 6.0], claim_seconds=3600.0), 201)
        assert (saved["days_of_week"], saved["claim_seconds"]) == ([0, 6], 3600)
        for wrong in (True, "3600", 3600.5):
            refused = answered(await route(api, team, claim_seconds=wrong), 422)
            assert [(item["loc"], item["rule"]) for item in refused["detail"]] == [(["body", "claim_seconds"],
                                                                                    "R-OFFER-4")]


def _keywords(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        return set(schema) | {key for value in schema.values() for key in _keywords(value)}
    if isinstance(schema, list):
        return {key for value in schema for key in _keywords(value)}
    return set()


async def test_every_limit_is_stated_in_json_schemas_words(api: Api) -> None:
    """`minimum`/`maximum`, never pydantic's `ge`/`le`, which JSON Schema does not know: a client reading the
    document would see no limit (a lead limit, a route's weights, a claim deadline)."""
    components = (await document(api))["components"]["schemas"]
    assert _keywords(components) & {"ge", "le", "gt", "lt"} == set()

