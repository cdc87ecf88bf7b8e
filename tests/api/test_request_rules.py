"""Bad input gets a 422 naming the field and the rule: every request body names, for each of its fields, the rule
that governs it, and a field no behaviour rule governs (a name's length, an unknown field, a query parameter) names
`request_fields`, explained like the others in docs/rules.md."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute

from api.app import create_app
from api.errors import _body_model
from api.schemas.common import REQUEST_FIELDS, Request
from config import PROJECT_ROOT
from tests.api.conftest import ADMIN, Api

ANCHORS = {heading.lower() for heading in re.findall(r"^### (\S+)$", (PROJECT_ROOT / "docs" / "rules.md").read_text(),
                                                     re.MULTILINE)}


def body_models() -> set[type[Request]]:
    """Every request body the API takes, with the bodies nested in them."""
    found: set[type[Request]] = set()
    for route in create_app().routes:
        model = _body_model(route.endpoint) if isinstance(route, APIRoute) else None
        if model is not None:
            found.add(model)
    return found


class TestEveryBodyNamesItsRules:
    def test_each_rule_a_body_names_is_one_of_its_fields_and_explained_on_the_rules_page(self) -> None:
        models = body_models()
        assert len(models) >= 25
        wrong = [f"{model.__name__}.{name} -> {rule}" for model in models for name, rule in model.field_rules.items()
                 if name not in model.model_fields or rule.lower() not in ANCHORS]
        assert wrong == []
        assert REQUEST_FIELDS in ANCHORS

    def test_every_field_and_an_unknown_one_names_an_explained_rule_in_every_body(self) -> None:
        unnamed = []
        for model in body_models():
            for name in [*model.model_fields, "misspelt"]:
                violation = model.shape_violation((name,), "Field required")
                if violation is None or violation.rule.lower() not in ANCHORS:
                    unnamed.append(f"{model.__name__}.{name}")
        assert unnamed == []


def plan_path(suffix: str) -> str:
    return f"/plans/pl_missing/{suffix}"


# (method, path, body, [(loc after "body"/"query", rule)]): the body is refused before the path's ids are looked up.
REFUSALS: list[tuple[str, str, Any, list[tuple[str, str]]]] = [
    ("POST", "/tags", {"name": ""}, [("body.name", REQUEST_FIELDS)]),
    ("POST", "/tags", {"name": "Buyers", "colour": "red"}, [("body.colour", REQUEST_FIELDS)]),
    ("POST", "/tags", [1], [("body", REQUEST_FIELDS)]),
    ("POST", "/designs", {"name": "Welcome", "subject": "Hi"}, [("body.html", "R-EMAIL-1")]),
    ("POST", "/contacts", {"first_name": "Dana", "phone": "555"}, [("body.phone", REQUEST_FIELDS)]),
    ("POST", "/contacts/ct_missing/tags", {}, [("body.tag_id", "team_tag")]),
    ("PUT", plan_path("triggers"), {"tag_ids": "tg_1"}, [("body.tag_ids", "R-RULE-1")]),
    ("PUT", plan_path("removal-rules"), {"on_email_reply": "yes", "on_text_reply": False},
     [("body.on_email_reply", "R-RULE-5")]),
    ("POST", plan_path("enrollments"), {}, [("body.contact_id", "R-ENR-1")]),
    ("POST", plan_path("enrollments/batch"), {"contact_ids": []}, [("body.contact_ids", "R-ENR-1")]),
    ("POST", plan_path("enrollments/batch"), {"contact_ids": ["ct_1", "x" * 41]}, [("body.contact_ids.1", "R-ENR-1")]),
    ("POST", plan_path("preview"), {"start_at": "2027-01-04T09:00:00"}, [("body.start_at", "R-PLAN-2")]),
    ("POST", plan_path("publish"), {"include_linked": "yes"}, [("body.include_linked", "R-LIB-3")]),
    ("POST", "/leads", {"source": "zillow", "contact": {"last_name": "Lee"}}, [("body.contact.first_name",
                                                                                  REQUEST_FIELDS)]),
    ("POST", "/leads", {"source": "zillow", "received_at": "today", "contact": {"first_name": "Lee"}},
     [("body.received_at", "R-ROUTE-2")]),
    ("POST", "/pool/ld_missing/assign", {}, [("body.agent_id", "R-POOL-1")]),
    ("POST", "/tasks/tk_missing/complete", {"notes": 5}, [("body.notes", "R-CALL-1")]),
    ("GET", "/tasks?status=pending", None, [("query.status", REQUEST_FIELDS)]),
]


class TestEachRefusalNamesTheFieldAndTheRule:
    @pytest.mark.parametrize(("method", "path", "body", "expected"), REFUSALS)
    async def test_the_refusal_names_the_field_and_its_rule(
            self, api: Api, method: str, path: str, body: Any, expected: list[tuple[str, str]]) -> None:
        team = await api.team()
        answer = await api.client.request(method, path, json=body, headers=team.rainmaker)
        assert answer.status_code == 422, answer.text
        items = answer.json()["detail"]
        assert [(".".join(map(str, item["loc"])), item["rule"]) for item in items] == expected
        assert all(item["help"] == f"docs/rules.md#{item['rule'].lower()}" for item in items)

    async def test_an_agent_of_a_role_that_does_not_exist_is_refused_by_the_team_rule(self, api: Api) -> None:
        team = await api.team()
        answer = await api.client.post(f"/teams/{team.id}/agents", headers=ADMIN, json={
            "first_name": "Sam", "last_name": "Lee", "email": "sam.lee@example.com", "role": "boss"})
        assert answer.status_code == 422, answer.text
        [item] = answer.json()["detail"]
        assert (item["loc"], item["rule"]) == (["body", "role"], "R-TEAM-1")
        assert item["msg"].startswith("role: Input should be 'rainmaker' or 'member'")

    async def test_a_refusal_does_not_send_a_huge_input_back(self, api: Api) -> None:
        team = await api.team()
        html = await api.client.post("/designs", headers=team.rainmaker, json={
            "name": "Huge", "subject": "Huge", "html": "<p>" + "x" * 600_000 + "</p>"})
        listed = await api.client.post("/tags", headers=team.rainmaker, json=list(range(300)))
        assert (html.status_code, listed.status_code) == (422, 422)
        assert len(html.content) < 2_000
        [item] = listed.json()["detail"]
        assert (item["loc"], item["input"]) == (["body"], "list of 300 items")
