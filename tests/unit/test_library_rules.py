"""The shared library's rules on plan documents (R-LIB-2..5), without a database."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from domain import library
from domain.plan import AddToPlanStep, EmailStep, PlanDefinition


def design(n: int) -> dict[str, Any]:
    return {"kind": "email", "mode": "design", "subject": f"Letter {n}", "html": f"<p>{n}</p>", "design_id": "ds_1",
            "id": f"E{n}"}


def document(**changes: Any) -> dict[str, Any]:
    """A published plan as saved: every step has its id."""
    base: dict[str, Any] = {"name": "Buyer drip", "repeat": {"times": 2, "delay_days": 10}, "days": [
        {"delay_days": 0, "steps": [
            {"id": "T", "kind": "task", "time_of_day": "morning", "name": "Call", "description": "Ask",
             "due_in_days": 1},
            {"id": "S", "kind": "text", "time_of_day": "afternoon", "mode": "automated", "messages": ["Hi"]}]},
        {"delay_days": 3, "steps": [
            {"id": "X", "kind": "text", "mode": "task", "name": "Text them", "description": "Say hi"},
            {"id": "A", "kind": "add_to_plan", "target_plan_id": "pl_next", "assignee": "rainmaker"}]}]}
    base.update(changes)
    return base


def plan(data: dict[str, Any]) -> PlanDefinition:
    return PlanDefinition.model_validate(data)


def edited(change: Any) -> PlanDefinition:
    data = copy.deepcopy(document())
    change(data)
    return plan(data)


class TestRLib2DesignEmails:
    def test_twelve_design_emails_may_be_published(self) -> None:
        twelve = plan({"name": "Twelve", "days": [{"steps": [design(n) for n in range(12)]}]})
        assert library.design_email_count(twelve) == 12
        assert library.design_limit_violation(twelve) is None

    def test_thirteen_are_refused_at_the_thirteenth_suggesting_to_split_with_an_add_to_plan_step(self) -> None:
        simple = {"kind": "email", "mode": "simple", "subject": "S", "body": "B"}
        thirteen = plan({"name": "Thirteen", "days": [{"steps": [design(n) for n in range(12)]},
                                                      {"delay_days": 1, "steps": [simple, design(12)]}]})
        violation = library.design_limit_violation(thirteen)
        assert violation is not None
        assert (violation.field, violation.rule) == ("days[1].steps[1]", "R-LIB-2")
        assert "13 design emails" in violation.message
        assert "at most 12" in violation.message
        assert "add-to-plan step" in violation.message


class TestRLib3LinkedPlans:
    def test_the_linked_plans_are_the_add_to_plan_targets_once_each(self) -> None:
        add = {"kind": "add_to_plan", "target_plan_id": "pl_b"}
        linked = plan({"name": "A", "days": [{"steps": [add, {**add, "target_plan_id": "pl_c"}, add]}]})
        assert library.linked_plan_ids(linked) == ["pl_b", "pl_c"]


class TestRLib4PublishedEdits:
    def test_the_name_text_messages_and_task_descriptions_may_change(self) -> None:
        def allowed(data: dict[str, Any]) -> None:
            data["name"] = "Renamed"
            data["days"][0]["steps"][0]["description"] = "Ask about {contact.first.name}"
            data["days"][0]["steps"][1]["messages"] = ["Hello {contact.first.name}"]
            data["days"][1]["steps"][0]["description"] = "Say hello"

        assert library.published_edit_violations(plan(document()), edited(allowed)) == []

    @pytest.mark.parametrize(("change", "field"), [
        (lambda d: d["days"][0]["steps"].append({"kind": "task", "name": "New"}), "days[0].steps[2]"),
        (lambda d: d["days"][0]["steps"].pop(0), "days[0].steps[0]"),
        (lambda d: d["days"][0]["steps"].reverse(), "days[0].steps[0]"),
        (lambda d: d["days"][1].update(delay_days=4), "days[1].delay_days"),
        (lambda d: d["days"][0]["steps"][0].update(time_of_day="evening"), "days[0].steps[0].time_of_day"),
        (lambda d: d.update(repeat={"times": 3, "delay_days": 10}), "repeat"),
        (lambda d: d["days"][0]["steps"][0].update(due_in_days=2), "days[0].steps[0].due_in_days"),
        (lambda d: d["days"][0]["steps"][0].update(name="Phone"), "days[0].steps[0].name"),
        (lambda d: d["days"][0]["steps"][1].update(mode="task", name="Text"), "days[0].steps[1].mode"),
        (lambda d: d["days"][0]["steps"][0].update(kind="call"), "days[0].steps[0].kind"),
        (lambda d: d["days"][1]["steps"][1].update(target_plan_id="pl_other"), "days[1].steps[1].target_plan_id"),
        (lambda d: d["days"].append({"delay_days": 1, "steps": [d["days"][1]["steps"].pop()]}), "days"),
    ], ids=["add step", "delete step", "reorder", "delay", "time of day", "repeat", "due days", "task name",
            "text mode", "kind", "add-to-plan target", "move to a new day"])
    def test_anything_else_is_refused_at_its_field(self, change: Any, field: str) -> None:
        violations = library.published_edit_violations(plan(document()), edited(change))
        assert violations, field
        assert (violations[0].field, violations[0].rule) == (field, "R-LIB-4")

    def test_the_refusal_names_the_field_the_rule_and_points_to_duplicating(self) -> None:
        later = edited(lambda d: d["days"][1].update(delay_days=5))
        (first, *_) = library.published_edit_violations(plan(document()), later)
        answer = library.published_edit_refusal("pl_1", "Buyer drip", first)
        assert answer.startswith("days[1].delay_days: the delay would change from 3 to 5 days.")
        assert "(R-LIB-4)" in answer
        assert "POST /plans/pl_1/duplicate" in answer


class TestRLib1And5Documents:
    def test_the_library_keeps_no_owner_step_ids_or_design_ids_and_links_entries(self) -> None:
        source = plan(document(team_plan=True, days=[*document()["days"], {"delay_days": 1, "steps": [design(1)]}]))
        published = library.library_document(source, {"pl_next": "lib_next"})
        assert published.team_plan is False
        assert all(p.step.id is None for p in published.positions())
        steps = [p.step for p in published.positions()]
        assert isinstance(steps[3], AddToPlanStep)
        assert (steps[3].target_plan_id, steps[3].assignee) == ("lib_next", "rainmaker")
        assert isinstance(steps[4], EmailStep)
        assert (steps[4].design_id, steps[4].html) == (None, "<p>1</p>")

    def test_a_copy_points_at_the_linked_copies_and_a_personal_copy_drops_assignees(self) -> None:
        published = library.library_document(plan(document(team_plan=True)), {"pl_next": "lib_next"})
        personal = library.copied_document(published, {"lib_next": "pl_copy"}, team_plan=False)
        add = [p.step for p in personal.positions()][3]
        assert isinstance(add, AddToPlanStep)
        assert (personal.team_plan, add.target_plan_id, add.assignee) == (False, "pl_copy", None)
        team = library.copied_document(published, {"lib_next": "pl_copy"}, team_plan=True)
        assert [p.step for p in team.positions()][3].assignee == "rainmaker"
