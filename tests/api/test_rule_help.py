"""Every answer that quotes a rule code says where the rule is explained (`docs/rules.md`, anchored by the code), so
a user who meets `R-MERGE-1` can look it up."""

from __future__ import annotations

import re

from config import PROJECT_ROOT
from tests.api.conftest import Api

ANCHORS = {code.lower() for code in re.findall(r"^### (R-[A-Z]+-\d+)$",
                                               (PROJECT_ROOT / "docs" / "rules.md").read_text(), re.MULTILINE)}


def explained(link: str) -> bool:
    page, _, anchor = link.partition("#")
    return page == "docs/rules.md" and anchor in ANCHORS


class TestRuleCodesPointToTheirExplanation:
    async def test_each_refusal_of_a_plan_names_the_section_explaining_its_rule(self, api: Api) -> None:
        team = await api.team()
        text = {"kind": "text", "time_of_day": "evening", "mode": "automated", "message_type": "static",
                "messages": ["Hi {contact.frist.name}"]}
        call = {"kind": "call", "time_of_day": "morning", "name": "Call", "priority": "high", "due_in_days": 15}
        refused = await api.client.post("/plans", headers=team.rainmaker, json={
            "name": "Typos", "days": [{"delay_days": 0, "steps": [text, call]}]})
        assert refused.status_code == 422, refused.text
        helps = {item["rule"]: item["help"] for item in refused.json()["detail"]}
        assert helps == {"R-MERGE-1": "docs/rules.md#r-merge-1", "R-PLAN-5": "docs/rules.md#r-plan-5",
                         "R-TASK-1": "docs/rules.md#r-task-1"}
        assert all(explained(link) for link in helps.values())

    async def test_a_refusal_in_words_names_the_section_too(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/plans", headers=team.member, json={
            "name": "Team plan", "team_plan": True, "days": []})
        assert refused.status_code == 403, refused.text
        detail = refused.json()["detail"]
        assert "(R-TEAM-1)" in detail
        assert detail.endswith("(see docs/rules.md#r-team-1)")
        assert explained("docs/rules.md#r-team-1")

    async def test_an_answer_quoting_no_rule_is_left_as_it_is(self, api: Api) -> None:
        team = await api.team()
        missing = await api.client.get("/plans/pl_missing", headers=team.rainmaker)
        assert missing.status_code == 404
        assert missing.json() == {"detail": "plan pl_missing not found"}
