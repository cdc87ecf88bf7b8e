"""What a refused plan document answers: every 422 names the field path and the rule it breaks, and nothing is
saved — merge fields (R-MERGE-1) and shape errors pydantic finds before the business rules run."""

from __future__ import annotations

from typing import Any

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


def problems(response: Any) -> list[tuple[str, str, str]]:
    """(field path, rule, message) of each refusal, the path as the message names it."""
    assert response.status_code == 422, response.text
    out = []
    for item in response.json()["detail"]:
        field, _, rest = item["msg"].partition(": ")
        assert rest.endswith(f" ({item['rule']})"), item
        assert item["loc"] == ["body", *field.replace("[", ".").replace("]", "").split(".")], item
        out.append((field, item["rule"], rest.removesuffix(f" ({item['rule']})")))
    return out


class TestShapeErrorsNameTheFieldAndRule:
    async def test_each_step_field_of_the_wrong_shape_names_its_path_and_rule(self, api: Api) -> None:
        cases: list[tuple[dict[str, Any], str, str]] = [
            (task(slot="noon"), "time_of_day", "R-PLAN-4"),
            ({"kind": "sms", "time_of_day": "morning"}, "kind", "R-PLAN-6"),
            ({"time_of_day": "morning", "name": "x"}, "kind", "R-PLAN-6"),
            (task(priority="urgent"), "priority", "R-TASK-1"),
            (task(due_in_days="soon"), "due_in_days", "R-TASK-1"),
            (task(due_time=1700), "due_time", "R-TASK-1"),
            (task(link=["https://kw.com"]), "link", "R-TASK-1"),
            (task(description=12), "description", "R-TASK-1"),
            (task(kind="call", contact_task="maybe"), "contact_task", "R-TASK-1"),
            ({**task(kind="call"), "name": None}, "name", "R-CALL-1"),
            (text(mode="robot"), "mode", "R-TXT-1"),
            (text(message_type="random"), "message_type", "R-TXT-2"),
            (text(messages="Hi"), "messages", "R-TXT-2"),
            (email(mode="fancy"), "mode", "R-EMAIL-1"),
            ({**email(), "subject": None}, "subject", "R-EMAIL-1"),
            (email(colour="red"), "colour", "R-EMAIL-1"),
            ({"kind": "add_to_plan", "target_plan_id": 7}, "target_plan_id", "R-ADD-1"),
            (task(assignee="boss"), "assignee", "R-TEAM-2"),
            (task(id=["st_1"]), "id", "R-PLAN-9"),
        ]
        team = await api.team()
        refused = await api.client.post("/plans", headers=team.member,
                                        json=doc((0, [task("Fine"), *(step for step, _, _ in cases)])))
        assert [(path, rule) for path, rule, _ in problems(refused)] == [
            (f"days[0].steps[{i}].{field}", rule) for i, (_, field, rule) in enumerate(cases, start=1)]
        assert (await api.client.get("/plans", headers=team.member)).json() == []

    async def test_plan_level_fields_and_list_items_name_their_path_and_rule(self, api: Api) -> None:
        team = await api.team()
        body = doc((0, [text(messages=["Hi", 5])]), (1, [task()]), repeat={"times": "often"})
        body["days"][1]["delay_days"] = "x"
        got = problems(await api.client.post("/plans", headers=team.member, json=body))
        assert [(path, rule) for path, rule, _ in got] == [
            ("days[0].steps[0].messages[1]", "R-TXT-2"), ("days[1].delay_days", "R-PLAN-2"),
            ("repeat.times", "R-PLAN-7")]
        assert "'unlimited'" in got[2][2]  # both readings of `times` in one refusal: a number or "unlimited"
        assert problems(await api.client.post("/plans", headers=team.member, json={"days": []})) == [
            ("name", "R-PLAN-1", "Field required")]

    async def test_an_edit_names_them_too_and_changes_nothing(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [task("Fine")])))
        refused = await api.client.put(f"/plans/{plan['id']}", headers=team.member,
                                       json=doc((0, [task("Fine", slot="lunch")])))
        assert [(path, rule) for path, rule, _ in problems(refused)] == [("days[0].steps[0].time_of_day", "R-PLAN-4")]
        assert (await api.client.get(f"/plans/{plan['id']}", headers=team.member)).json()["version"] == 1

    async def test_a_field_no_behaviour_rule_governs_names_the_rule_for_request_fields(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/tags", headers=team.member, json={"name": 5})
        assert refused.status_code == 422
        [item] = refused.json()["detail"]
        assert (item["loc"], item["type"], item["rule"], item["help"]) == (
            ["body", "name"], "string_type", "request_fields", "docs/rules.md#request_fields")
        assert item["msg"] == "name: Input should be a valid string (request_fields)"


class TestRComp1NoPlanSwitchesComplianceOff:
    async def test_fields_that_would_switch_off_the_window_or_opt_out_are_refused_and_nothing_is_saved(
            self, api: Api) -> None:
        team = await api.team()
        body = doc((0, [text(ignore_quiet_hours=True, respect_opt_out=False)]))
        body["send_window"] = {"start": "00:00", "end": "23:59"}
        refused = await api.client.post("/plans", headers=team.member, json=body)
        assert [(path, rule) for path, rule, _ in problems(refused)] == [
            ("days[0].steps[0].ignore_quiet_hours", "R-TXT-1"), ("days[0].steps[0].respect_opt_out", "R-TXT-1"),
            ("send_window", "R-PLAN-1")]
        assert (await api.client.get("/plans", headers=team.member)).json() == []
        plan = await post_plan(api, team.member, doc((0, [text()])))
        edited = await api.client.put(f"/plans/{plan['id']}", headers=team.member, json=body)
        assert edited.status_code == 422
        assert (await api.client.get(f"/plans/{plan['id']}", headers=team.member)).json()["version"] == 1


class TestRTxt5AutomatedTextTaskFields:
    """R-TXT-1, R-TXT-5, R-TASK-1, R-MERGE-1: an automated text's task fields become the text task R-TXT-5 creates
    when its sender has no Twilio, so they are refused as a text task's are, naming each field and rule."""

    PROBE: dict[str, Any] = {"name": "Text {contact.frist.name}", "link": "javascript:alert(1)", "due_in_days": 99,
                             "due_time": "99:99", "description": "x" * 4000}

    async def test_the_auditors_probe_is_refused_field_by_field_as_for_a_text_task_and_nothing_is_saved(
            self, api: Api) -> None:
        team = await api.team()
        automated = problems(await api.client.post("/plans", headers=team.member, json=doc((0, [text(**self.PROBE)]))))
        assert [(path, rule) for path, rule, _ in automated] == [
            ("days[0].steps[0].description", "R-TASK-1"), ("days[0].steps[0].link", "R-TASK-1"),
            ("days[0].steps[0].due_in_days", "R-TASK-1"), ("days[0].steps[0].due_time", "R-TASK-1"),
            ("days[0].steps[0].name", "R-MERGE-1")]
        assert "scheme 'javascript'" in automated[1][2]
        assert "unknown merge field {contact.frist.name}" in automated[4][2]
        text_task = {"kind": "text", "mode": "task", **self.PROBE}
        assert problems(await api.client.post("/plans", headers=team.member, json=doc((0, [text_task])))) == automated
        assert (await api.client.get("/plans", headers=team.member)).json() == []

    async def test_an_edit_is_refused_too_and_a_name_is_optional_but_not_too_long(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [text()])))  # no name: the text task is "Text <contact>"
        refused = await api.client.put(f"/plans/{plan['id']}", headers=team.member,
                                       json=doc((0, [text(name="n" * 201, due_time="7:00")])))
        assert [(path, rule) for path, rule, _ in problems(refused)] == [
            ("days[0].steps[0].name", "R-TXT-1"), ("days[0].steps[0].due_time", "R-TASK-1")]
        assert (await api.client.get(f"/plans/{plan['id']}", headers=team.member)).json()["version"] == 1
        fine = text(name="Text {contact.first.name}", link="https://kw.com/x", due_in_days=14, due_time="17:00")
        saved = await api.client.put(f"/plans/{plan['id']}", headers=team.member, json=doc((0, [fine])))
        assert (saved.status_code, saved.json()["version"]) == (200, 2)


class TestNumbersAndFlagsAreTheJsonTypesTheDocumentStates:
    """A plan's integers and booleans are taken only as the JSON types stated for them (docs/decisions.md, issue 10):
    `true` is no number, "1" is neither a number nor a flag, 1 is no flag. Each is refused naming its field and rule,
    never saved as what a lax reading makes of it; `2.0` is still 2, as JSON Schema's integer reads it."""

    async def test_a_boolean_or_a_numeric_string_is_refused_where_a_plan_takes_a_number(self, api: Api) -> None:
        team = await api.team()
        body = doc((0, [task(due_in_days=True), text(due_in_days="1")]), (1, [task()]), (2, [task()]),
                   repeat={"times": True, "delay_days": "30"})
        for day, value in zip(body["days"], ({"day": True}, {"delay_days": True}, {"delay_days": "2"}), strict=True):
            day.update(value)
        got = problems(await api.client.post("/plans", headers=team.member, json=body))
        assert [(path, rule) for path, rule, _ in got] == [
            ("days[0].day", "R-PLAN-2"), ("days[0].steps[0].due_in_days", "R-TASK-1"),
            ("days[0].steps[1].due_in_days", "R-TASK-1"), ("days[1].delay_days", "R-PLAN-2"),
            ("days[2].delay_days", "R-PLAN-2"), ("repeat.times", "R-PLAN-7"), ("repeat.delay_days", "R-PLAN-7")]
        assert all("valid integer" in message for _, _, message in got), got
        assert (await api.client.get("/plans", headers=team.member)).json() == []

    async def test_a_string_or_a_number_is_refused_where_a_plan_takes_true_or_false(self, api: Api) -> None:
        team = await api.team()
        for team_plan in ("yes", 1, "true"):
            refused = await api.client.post("/plans", headers=team.rainmaker,
                                            json={"name": "x", "team_plan": team_plan, "days": []})
            assert problems(refused) == [("team_plan", "R-PLAN-1", "Input should be a valid boolean")], team_plan
        steps = [task(kind="call", contact_task=1), task(contact_task="true")]
        refused = await api.client.post("/plans", headers=team.member, json=doc((0, steps)))
        assert [(path, rule) for path, rule, _ in problems(refused)] == [
            ("days[0].steps[0].contact_task", "R-TASK-1"), ("days[0].steps[1].contact_task", "R-TASK-1")]
        plan = await post_plan(api, team.member, doc((0, [task()])))
        edit = await api.client.put(f"/plans/{plan['id']}", headers=team.member,
                                    json={**doc((0, [task()])), "team_plan": 0})
        assert problems(edit) == [("team_plan", "R-PLAN-1", "Input should be a valid boolean")]
        assert [p["name"] for p in (await api.client.get("/plans", headers=team.member)).json()] == ["Plan"]

    async def test_a_whole_number_written_with_a_fraction_is_that_number(self, api: Api) -> None:
        team = await api.team()
        body = doc((0, [task(due_in_days=1.0)]), (2, [task(due_in_days=0)]), repeat={"times": 2.0, "delay_days": 30.0})
        body["days"][0]["delay_days"], body["days"][1]["delay_days"], body["days"][1]["day"] = 0.0, 2.0, 3.0
        plan = await post_plan(api, team.member, body)
        assert [(d["day"], d["delay_days"], d["steps"][0]["due_in_days"]) for d in plan["days"]] == [
            (1, 0, 1), (3, 2, 0)]
        assert plan["repeat"] == {"times": 2, "delay_days": 30}
