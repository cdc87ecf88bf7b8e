"""R-PLAN-6 through the real app: a plan written in the older builder's shape — one list in which "Set Delay" starts
the next day and "Restart Flow" is the repeat — is saved as the plan it describes, and every refusal names the
place in the list the person wrote."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.test_plan_errors import problems
from tests.factories import email, task, text


def delay(days: Any) -> dict[str, Any]:
    return {"kind": "set_delay", "days": days}


def restart(times: Any = "unlimited") -> dict[str, Any]:
    return {"kind": "restart_flow", "times": times}


class TestRPlan6OlderBuilderShape:
    async def test_delays_become_days_and_restart_flow_the_repeat(self, api: Api) -> None:
        team = await api.team()
        answer = await api.client.post("/plans/import", headers=team.member, json={"name": "Sphere", "steps": [
            text("Hi"), task("Call", slot="afternoon"),  # no delay between them: the same day
            delay(3), email("Three days on"),
            delay(5), delay(2), task("Ten days on"),  # delays in a row add up
            delay(30), restart(4)]})
        assert answer.status_code == 201, answer.text
        plan = answer.json()
        assert [(d["day"], d["delay_days"], [s["kind"] for s in d["steps"]]) for d in plan["days"]] == [
            (1, 0, ["text", "task"]), (4, 3, ["email"]), (11, 7, ["task"])]
        assert plan["repeat"] == {"times": 4, "delay_days": 30}
        assert (plan["owner_agent_id"], plan["team_plan"], plan["version"]) == (team.member_id, False, 1)
        read = (await api.client.get(f"/plans/{plan['id']}", headers=team.member)).json()
        assert read["days"] == plan["days"]  # an ordinary plan from now on

    async def test_a_leading_delay_is_day_ones_and_no_restart_means_no_repeat(self, api: Api) -> None:
        team = await api.team()
        answer = await api.client.post("/plans/import", headers=team.member, json={
            "name": "Later", "steps": [delay(2), task("Two days after enrolling")]})
        plan = answer.json()
        assert [(d["day"], d["delay_days"]) for d in plan["days"]] == [(1, 2)]  # day 1, two days after enrolling
        assert plan["repeat"] is None

    async def test_the_lists_own_shape_is_refused_at_its_place(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/plans/import", headers=team.member, json={"name": "Odd", "steps": [
            task(), delay(0), task(), restart(2), task("After the restart")]})
        assert [(path, rule) for path, rule, _ in problems(refused)] == [
            ("steps[1].days", "R-PLAN-2"), ("steps[4]", "R-PLAN-6")]
        dangling = await api.client.post("/plans/import", headers=team.member, json={"name": "Odd", "steps": [
            task(), delay(3)]})
        assert problems(dangling) == [
            ("steps[1]", "R-PLAN-6", "a delay comes before a step or Restart Flow; nothing follows this one")]
        assert (await api.client.get("/plans", headers=team.member)).json() == []

    async def test_the_plans_rules_name_the_place_in_the_list(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/plans/import", headers=team.member, json={"name": "Bad", "steps": [
            task("Call {contact.frist.name}"), delay(200), task(), delay(200), task(), restart(9)]})
        got = [(path, rule) for path, rule, _ in problems(refused)]
        assert ("steps[0].name", "R-MERGE-1") in got
        assert ("steps[5].times", "R-PLAN-7") in got
        assert any(path == "steps[3].days" for path, _ in got), got  # the day 401 days after day 1 (R-PLAN-1 span)
        assert all(path.startswith("steps[") for path, _ in got), got
        shapes = await api.client.post("/plans/import", headers=team.member, json={"name": "Shapes", "steps": [
            task(priority="urgent"), {"kind": "wait", "days": 1}, delay("soon"), restart("often")]})
        assert [(path, rule) for path, rule, _ in problems(shapes)] == [
            ("steps[0].priority", "R-TASK-1"), ("steps[1].kind", "R-PLAN-6"), ("steps[2].days", "R-PLAN-2"),
            ("steps[3].times", "R-PLAN-7")]
        assert (await api.client.get("/plans", headers=team.member)).json() == []

    async def test_the_delay_before_restart_flow_takes_the_repeats_limit_and_one_between_steps_the_plans(
            self, api: Api) -> None:
        team = await api.team()
        long_repeat = await api.client.post("/plans/import", headers=team.member, json={"name": "Yearly", "steps": [
            task(), delay(369), restart(2)]})
        assert long_repeat.status_code == 201, long_repeat.text
        assert long_repeat.json()["repeat"] == {"times": 2, "delay_days": 369}
        too_long = await api.client.post("/plans/import", headers=team.member, json={"name": "Odd", "steps": [
            task(), delay(366), task()]})
        assert [path for path, _, _ in problems(too_long)] == ["steps[1].days"]
        beyond = await api.client.post("/plans/import", headers=team.member, json={"name": "Odd", "steps": [
            task(), delay(370), restart(2)]})
        assert [(path, rule) for path, rule, _ in problems(beyond)] == [("steps[1].days", "R-PLAN-2")]

    async def test_a_team_plan_needs_the_role_that_manages_team_plans(self, api: Api) -> None:
        team = await api.team()
        body = {"name": "Team", "team_plan": True, "steps": [task()]}
        assert (await api.client.post("/plans/import", headers=team.member, json=body)).status_code == 403
        made = await api.client.post("/plans/import", headers=team.rainmaker, json=body)
        assert (made.status_code, made.json()["team_plan"]) == (201, True)

    async def test_a_boolean_or_a_numeric_string_is_no_number_and_a_number_or_string_no_flag(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/plans/import", headers=team.rainmaker, json={
            "name": "Types", "team_plan": "yes", "steps": [task(due_in_days=True), delay(True), task(), delay("3"),
                                                           task(contact_task=1), restart("2")]})
        assert [(path, rule) for path, rule, _ in problems(refused)] == [
            ("team_plan", "R-PLAN-1"), ("steps[0].due_in_days", "R-TASK-1"), ("steps[1].days", "R-PLAN-2"),
            ("steps[3].days", "R-PLAN-2"), ("steps[4].contact_task", "R-TASK-1"), ("steps[5].times", "R-PLAN-7")]
        assert (await api.client.get("/plans", headers=team.rainmaker)).json() == []
        made = await api.client.post("/plans/import", headers=team.member, json={
            "name": "Whole", "steps": [task(), delay(3.0), task(), restart(2.0)]})
        assert made.status_code == 201, made.text
        assert ([d["delay_days"] for d in made.json()["days"]], made.json()["repeat"]["times"]) == ([0, 3], 2)
