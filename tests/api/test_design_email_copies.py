"""R-EMAIL-1: a design email chosen from the library is edited within the plan, so each step keeps its own copy of
the design. Editing or deleting the library design changes no saved plan and no email it sends; editing the step's
html changes that plan only."""

from __future__ import annotations

from typing import Any

from db.models import Message
from tests.api.conftest import Api, Team, answered
from tests.api.test_designs import create, design_plan
from tests.api.test_enrollments import enroll, make_contact

LETTER = "<h1>Hello {contact.first.name}</h1><p>Prices rose.</p>"


def steps(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for day in plan["days"] for step in day["steps"]]


def as_read(plan: dict[str, Any]) -> dict[str, Any]:
    return {key: plan[key] for key in ("name", "days", "repeat")}


async def save(api: Api, headers: dict[str, str], document: dict[str, Any]) -> dict[str, Any]:
    plan: dict[str, Any] = answered(await api.client.post("/plans", json=document, headers=headers), 201)
    return plan


async def library_letter(api: Api, team: Team) -> dict[str, Any]:
    return await create(api, team.rainmaker, team=True, subject="Market news for {contact.first.name}", html=LETTER)


class TestREmail1StepsKeepTheirCopy:
    async def test_saving_copies_the_designs_html_and_an_empty_subject_into_the_step(self, api: Api) -> None:
        team = await api.team()
        letter = await library_letter(api, team)
        document = design_plan(letter["id"])
        document["days"][0]["steps"].append({**document["days"][0]["steps"][0], "subject": ""})
        plan = await save(api, team.member, document)
        first, second = steps(plan)
        assert (first["subject"], first["html"], first["design_id"]) == ("News", LETTER, letter["id"])
        assert (second["subject"], second["html"]) == ("Market news for {contact.first.name}", LETTER)

    async def test_editing_the_library_design_changes_neither_the_saved_plan_nor_its_email(self, api: Api) -> None:
        team = await api.team()
        letter = await library_letter(api, team)
        plan = await save(api, team.member, design_plan(letter["id"]))
        edited = await api.client.put(f"/designs/{letter['id']}", headers=team.rainmaker, json={
            "name": "Welcome", "subject": "New subject", "html": "<p>Rewritten {contact.first.name}</p>"})
        assert edited.status_code == 200, edited.text
        assert (await api.client.get(f"/plans/{plan['id']}", headers=team.member)).json() == plan
        _, handle = await enroll(api, team.member, plan["id"], await make_contact(api, team))
        await api.harness.finish(handle)
        (sent,) = await api.harness.rows(Message)
        assert sent.subject == "News"
        assert sent.body.startswith("Hello Dana\nPrices rose.")
        assert "Rewritten" not in sent.body

    async def test_editing_the_steps_html_changes_only_that_plan(self, api: Api) -> None:
        team = await api.team()
        letter = await library_letter(api, team)
        mine = await save(api, team.member, design_plan(letter["id"], name="Mine"))
        other = await save(api, team.member, design_plan(letter["id"], name="Other"))
        document = as_read(mine)
        document["days"][0]["steps"][0]["html"] = "<p>Only mine, {contact.first.name}</p>"
        saved = await api.client.put(f"/plans/{mine['id']}", json=document, headers=team.member)
        assert saved.status_code == 200, saved.text
        assert steps(saved.json())[0]["html"] == "<p>Only mine, {contact.first.name}</p>"
        assert (await api.client.get(f"/plans/{other['id']}", headers=team.member)).json() == other
        assert (await api.client.get(f"/designs/{letter['id']}", headers=team.member)).json() == letter
        _, handle = await enroll(api, team.member, mine["id"], await make_contact(api, team))
        await api.harness.finish(handle)
        (sent,) = await api.harness.rows(Message)
        assert sent.body.startswith("Only mine, Dana")


class TestREmail1DesignStepNeedsContent:
    async def test_a_design_step_without_html_or_design_is_422_naming_the_field_and_rule(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/plans", headers=team.member, json=design_plan(""))
        assert refused.status_code == 422
        (problem,) = refused.json()["detail"]
        assert (problem["loc"], problem["rule"]) == (["body", "days", "0", "steps", "0", "design_id"], "R-EMAIL-1")
        assert (await api.client.get("/plans", headers=team.member)).json() == []

    async def test_a_design_step_may_hold_its_own_html_without_a_library_design(self, api: Api) -> None:
        team = await api.team()
        document = design_plan("")
        document["days"][0]["steps"][0] |= {"design_id": None, "html": "<p>Hand made</p>"}
        plan = await save(api, team.member, document)
        assert (steps(plan)[0]["html"], steps(plan)[0]["design_id"]) == ("<p>Hand made</p>", None)

    async def test_merge_fields_in_the_steps_html_are_checked_and_a_simple_email_has_none(self, api: Api) -> None:
        team = await api.team()
        typo = design_plan("")
        typo["days"][0]["steps"][0] |= {"design_id": None, "html": "<p>Hi {contact.frist.name}</p>"}
        simple = {"kind": "email", "mode": "simple", "subject": "Hi", "body": "Hi", "html": "<p>Hi</p>"}
        for document, rule in ((typo, "R-MERGE-1"), ({"name": "Simple", "days": [{"steps": [simple]}]}, "R-EMAIL-1")):
            refused = await api.client.post("/plans", headers=team.member, json=document)
            assert refused.status_code == 422, refused.text
            (problem,) = refused.json()["detail"]
            assert (problem["loc"][-1], problem["rule"]) == ("html", rule)
