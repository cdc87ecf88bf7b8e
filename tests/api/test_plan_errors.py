"""What a refused plan document answers: every 422 names the field path and the rule it breaks, and nothing is
saved — merge fields (R-MERGE-1) and shape errors pydantic finds before the business rules run."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_plans import doc, post_plan, rules
from tests.factories import email, task, text


class TestRMerge1FieldsInAnyCase:
    async def test_a_case_variant_of_a_known_field_is_refused_saying_what_to_write(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/plans", headers=team.member, json=doc(
            (0, [task("Call {Contact.First.Name}"), text("Hi { contact.EMAIL }"),
                 email(subject="{contact.first.name}")])))
        assert refused.status_code == 422
        assert rules(refused) == {("body", "days", "0", "steps", "0", "name", "R-MERGE-1"),
                                  ("body", "days", "0", "steps", "1", "messages", "0", "R-MERGE-1")}
        assert [d["msg"] for d in refused.json()["detail"]] == [
            "days[0].steps[0].name: unknown merge field {Contact.First.Name}: write {contact.first.name} (R-MERGE-1)",
            "days[0].steps[1].messages[0]: unknown merge field {contact.EMAIL}: write {contact.email} (R-MERGE-1)"]
        assert (await api.client.get("/plans", headers=team.member)).json() == []

    async def test_braces_that_are_not_fields_are_saved_as_written(self, api: Api) -> None:
        team = await api.team()
        body = "Prices { from $300k } and p { color: red; } stay; {contact.first.name} is filled."
        plan = await post_plan(api, team.member, doc((0, [email(body=body)])))
        assert plan["days"][0]["steps"][0]["body"] == body

    async def test_a_design_with_a_case_variant_is_refused_and_css_braces_are_kept(self, api: Api) -> None:
        team = await api.team()
        design = {"name": "Letter", "subject": "Hi", "html": "<style>p { color: red; }</style><p>{Contact.First.Name}"}
        refused = await api.client.post("/designs", json=design, headers=team.member)
        assert refused.status_code == 422
        (problem,) = refused.json()["detail"]
        assert (problem["loc"], problem["rule"], problem["msg"]) == (
            ["body", "html"], "R-MERGE-1", "unknown merge field {Contact.First.Name}: write {contact.first.name}")
        fixed = {**design, "html": design["html"].replace("{Contact.First.Name}", "{contact.first.name}")}
        saved = await api.client.post("/designs", json=fixed, headers=team.member)
        assert (saved.status_code, saved.json()["html"]) == (201, fixed["html"])
