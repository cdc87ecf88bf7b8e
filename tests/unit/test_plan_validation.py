"""Plan validation: bad plans are refused naming the field and the rule; the boundaries are accepted."""

from __future__ import annotations

from typing import Any

import pytest

from domain.plan import PlanDefinition
from domain.validation import PlanInvalid, Violation, ensure_valid, validate_plan, with_step_ids


def task(**fields: Any) -> dict[str, Any]:
    return {"kind": "task", "name": "Call back", "priority": "none", "due_in_days": 0, **fields}


def plan(*days: list[dict[str, Any]], delays: list[int] | None = None, **fields: Any) -> PlanDefinition:
    delays = delays or [0] + [1] * (len(days) - 1)
    return PlanDefinition.model_validate({
        "name": "Plan", "days": [{"delay_days": d, "steps": s} for d, s in zip(delays, days, strict=True)],
        **fields,
    })


def only(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, violations
    return violations[0]


class TestRTask1TaskLimits:
    def test_a_3001_character_description_is_refused(self) -> None:
        v = only(validate_plan(plan([task(description="x" * 3001)])))
        assert (v.field, v.rule) == ("days[0].steps[0].description", "R-TASK-1")
        assert "3,000" in v.message
        assert "3,001" in v.message

    def test_a_3000_character_description_is_accepted(self) -> None:
        assert validate_plan(plan([task(description="x" * 3000)])) == []

    def test_due_in_15_days_is_refused_and_14_accepted(self) -> None:
        v = only(validate_plan(plan([task(due_in_days=15)])))
        assert (v.field, v.rule) == ("days[0].steps[0].due_in_days", "R-TASK-1")
        assert validate_plan(plan([task(due_in_days=14), task(due_in_days=0)])) == []

    @pytest.mark.parametrize("link", ["javascript:alert(1)", "ftp://example.com/x", "data:text/html,hi", "https://"])
    def test_links_that_are_not_http_addresses_are_refused(self, link: str) -> None:
        v = only(validate_plan(plan([task(link=link)])))
        assert (v.field, v.rule) == ("days[0].steps[0].link", "R-TASK-1")

    def test_http_and_https_links_are_accepted(self) -> None:
        assert validate_plan(plan([task(link="https://kw.com/a?b=1"), task(link="http://example.com")])) == []

    def test_a_bad_due_time_is_refused(self) -> None:
        v = only(validate_plan(plan([task(due_time="24:00")])))
        assert (v.field, v.rule) == ("days[0].steps[0].due_time", "R-TASK-1")

    def test_the_text_task_and_call_share_the_task_limits(self) -> None:
        steps: list[dict[str, Any]] = [
            {"kind": "call", "name": "Call", "priority": "high", "due_in_days": 15},
            {"kind": "text", "mode": "task", "name": "Text", "description": "y" * 3001},
        ]
        fields = {(v.field, v.rule) for v in validate_plan(plan(steps))}
        assert fields == {("days[0].steps[0].due_in_days", "R-TASK-1"), ("days[0].steps[1].description", "R-TASK-1")}


class TestRPlan7Repeat:
    def test_repeat_delay_370_is_refused_and_369_accepted(self) -> None:
        v = only(validate_plan(plan([task()], repeat={"times": 2, "delay_days": 370})))
        assert (v.field, v.rule) == ("repeat.delay_days", "R-PLAN-7")
        assert validate_plan(plan([task()], repeat={"times": 2, "delay_days": 369})) == []

    def test_seven_repeats_are_refused_six_and_unlimited_accepted(self) -> None:
        v = only(validate_plan(plan([task()], repeat={"times": 7, "delay_days": 0})))
        assert (v.field, v.rule) == ("repeat.times", "R-PLAN-7")
        assert validate_plan(plan([task()], repeat={"times": 6, "delay_days": 0})) == []
        assert validate_plan(plan([task()], repeat={"times": "unlimited", "delay_days": 0})) == []

    def test_zero_repeats_are_refused(self) -> None:
        assert only(validate_plan(plan([task()], repeat={"times": 0}))).rule == "R-PLAN-7"


class TestRPlan5SlotOrder:
    def test_a_later_slot_before_an_earlier_one_is_refused_naming_both_steps(self) -> None:
        steps = [task(name="Evening call", time_of_day="evening"), task(name="Morning note", time_of_day="morning")]
        v = only(validate_plan(plan(steps)))
        assert (v.field, v.rule) == ("days[0].steps[1].time_of_day", "R-PLAN-5")
        assert "Evening call" in v.message
        assert "Morning note" in v.message

    def test_anytime_constrains_nothing(self) -> None:
        steps = [task(time_of_day="morning"), task(time_of_day="anytime"), task(time_of_day="early_morning")]
        assert only(validate_plan(plan(steps))).rule == "R-PLAN-5"
        ok = [task(time_of_day="anytime"), task(time_of_day="evening"), task(time_of_day="anytime")]
        assert validate_plan(plan(ok)) == []

    def test_the_same_slot_twice_is_in_order(self) -> None:
        assert validate_plan(plan([task(time_of_day="morning"), task(time_of_day="morning")])) == []


class TestRPlan1Span:
    def test_a_day_366_days_after_day_1_is_refused(self) -> None:
        v = only(validate_plan(plan([task()], [task()], delays=[0, 366])))
        assert (v.field, v.rule) == ("days[1].delay_days", "R-PLAN-1")
        assert "366" in v.message

    def test_the_last_day_365_days_after_day_1_is_accepted(self) -> None:
        assert validate_plan(plan([task()], [task()], [task()], delays=[3, 200, 165])) == []

    def test_a_name_is_required(self) -> None:
        assert only(validate_plan(plan([task()], name=" "))).field == "name"


class TestRPlan2And3Days:
    def test_later_days_come_at_least_a_day_after_the_previous(self) -> None:
        v = only(validate_plan(plan([task()], [task()], delays=[0, 0])))
        assert (v.field, v.rule) == ("days[1].delay_days", "R-PLAN-2")

    def test_a_day_holds_at_least_one_step(self) -> None:
        assert only(validate_plan(plan([]))).rule == "R-PLAN-3"

    def test_day_numbers_are_derived_from_delays(self) -> None:
        assert plan([task()], [task()], [task()], delays=[2, 7, 14]).day_numbers() == [1, 8, 22]


class TestRMerge1Fields:
    def test_an_unknown_merge_field_is_refused(self) -> None:
        steps = [{"kind": "text", "messages": ["Hi {contact.frist.name}"]}]
        v = only(validate_plan(plan(steps)))
        assert (v.field, v.rule) == ("days[0].steps[0].messages[0]", "R-MERGE-1")
        assert "{contact.frist.name}" in v.message
        assert "{contact.first.name}" in v.message

    def test_known_fields_and_non_field_braces_are_accepted(self) -> None:
        steps = [{"kind": "email", "subject": "Hi {contact.first.name}",
                  "body": "From {agent.first.name} {agent.phone}. a { b } c"}]
        assert validate_plan(plan(steps)) == []


class TestStepKinds:
    def test_each_kind_requires_its_content(self) -> None:
        steps: list[dict[str, Any]] = [
            {"kind": "email", "mode": "simple", "subject": "", "body": ""},
            {"kind": "email", "mode": "design", "subject": "S"},
            {"kind": "text", "message_type": "static", "messages": ["a", "b"]},
            {"kind": "add_to_plan"},
        ]
        got = {(v.field, v.rule) for v in validate_plan(plan(steps))}
        assert got == {
            ("days[0].steps[0].subject", "R-EMAIL-1"), ("days[0].steps[0].body", "R-EMAIL-1"),
            ("days[0].steps[1].design_id", "R-EMAIL-1"), ("days[0].steps[2].messages", "R-TXT-2"),
            ("days[0].steps[3].target_plan_id", "R-ADD-1"),
        }

    def test_duplicate_step_ids_are_refused(self) -> None:
        v = only(validate_plan(plan([task(id="a"), task(id="a")])))
        assert (v.field, v.rule) == ("days[0].steps[1].id", "R-PLAN-9")

    def test_step_assignee_is_for_team_plans(self) -> None:
        assert only(validate_plan(plan([task(assignee="rainmaker")]))).rule == "R-TEAM-2"
        assert validate_plan(plan([task(assignee="rainmaker")], team_plan=True)) == []


def test_ensure_valid_reports_every_violation_at_once() -> None:
    bad = plan([task(due_in_days=15, link="javascript:x")], repeat={"times": 7, "delay_days": 370})
    with pytest.raises(PlanInvalid) as caught:
        ensure_valid(bad)
    assert {v.rule for v in caught.value.violations} == {"R-TASK-1", "R-PLAN-7"}
    assert len(caught.value.violations) == 4


def test_with_step_ids_keeps_existing_ids_and_fills_missing() -> None:
    ids = iter(["n1", "n2"])
    filled = with_step_ids(plan([task(id="keep"), task()], [task()]), lambda: next(ids))
    assert filled.step_ids() == ["keep", "n1", "n2"]
