"""The shared library through the real app (R-LIB-1..5): publishing, linked plans, edits a published plan may make,
browsing, copying into another team, and who may publish."""

from __future__ import annotations

from typing import Any

import pytest

import services.library
from tests.api.conftest import Api, Team, answered
from tests.api.test_plans import doc, editable, post_plan
from tests.factories import task, text


def design(n: int = 1) -> dict[str, Any]:
    return {"kind": "email", "time_of_day": "anytime", "mode": "design", "subject": f"Letter {n}",
            "html": f"<p>Letter {n} for {{contact.first.name}}</p>"}


def add_to(plan_id: str) -> dict[str, Any]:
    return {"kind": "add_to_plan", "time_of_day": "anytime", "target_plan_id": plan_id}


async def publish(api: Api, headers: dict[str, str], plan_id: str, **body: Any) -> Any:
    return await api.client.post(f"/plans/{plan_id}/publish", json=body, headers=headers)


async def published(api: Api, headers: dict[str, str], plan_id: str, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = answered(await publish(api, headers, plan_id, **body), 200)
    return result


async def library(api: Api, team: Team) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = answered(await api.client.get("/library", headers=team.member), 200)
    return listed


async def copied(api: Api, headers: dict[str, str], entry_id: str, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = answered(await api.client.post(f"/library/{entry_id}/copy", json=body, headers=headers),
                                      201)
    return result


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for day in document["days"] for step in day["steps"]]


class TestRLib1NoTriggersOrRemovalRulesInTheLibrary:
    async def test_the_published_copy_has_none_and_the_authors_plan_keeps_them(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        plan = await post_plan(api, team.rainmaker, doc((0, [task(), text()]), name="Buyer drip", team_plan=True))
        tag = (await api.client.post("/tags", json={"name": "Buyer"}, headers=team.rainmaker)).json()["id"]
        url = f"/plans/{plan['id']}"
        assert (await api.client.put(f"{url}/triggers", json={"tag_ids": [tag]}, headers=team.rainmaker)).is_success
        rules = {"on_email_reply": True, "on_text_reply": True}
        assert (await api.client.put(f"{url}/removal-rules", json=rules, headers=team.rainmaker)).is_success
        entry = (await published(api, team.rainmaker, plan["id"]))["entry"]
        assert set(entry["definition"]) == {"name", "days", "repeat"}
        assert [s["kind"] for s in steps(entry["definition"])] == ["task", "text"]
        copy = (await copied(api, other.rainmaker, entry["id"]))["plan"]
        assert copy["removal_rules"] == {"on_email_reply": False, "on_text_reply": False}
        theirs = await api.client.get(f"/plans/{copy['id']}/triggers", headers=other.rainmaker)
        assert theirs.json()["tag_ids"] == []
        assert (await api.client.get(f"{url}/triggers", headers=team.rainmaker)).json()["tag_ids"] == [tag]
        assert (await api.client.get(f"{url}/removal-rules", headers=team.rainmaker)).json() == {
            "plan_id": plan["id"], **rules}


class TestRLib2AtMostTwelveDesignEmails:
    async def test_thirteen_are_refused_suggesting_a_split_and_twelve_are_published(self, api: Api) -> None:
        team = await api.team()
        thirteen = await post_plan(api, team.member, doc((0, [design(n) for n in range(13)]), name="Big"))
        refused = await publish(api, team.member, thirteen["id"])
        assert refused.status_code == 422
        (problem,) = refused.json()["detail"]
        assert (problem["rule"], problem["help"]) == ("R-LIB-2", "docs/rules.md#r-lib-2")
        assert problem["loc"] == ["body", "days", "0", "steps", "12"]
        assert "13 design emails" in problem["msg"]
        assert "add-to-plan step" in problem["msg"]
        assert await library(api, team) == []
        twelve = await post_plan(api, team.member, doc((0, [design(n) for n in range(12)]), name="Twelve"))
        entry = (await published(api, team.member, twelve["id"]))["entry"]
        assert (entry["design_count"], entry["version"]) == (12, 1)

    async def test_a_linked_plan_published_with_it_is_checked_too(self, api: Api) -> None:
        team = await api.team()
        big = await post_plan(api, team.member, doc((0, [design(n) for n in range(13)]), name="Big"))
        opener = await post_plan(api, team.member, doc((0, [design(), add_to(big["id"])]), name="Opener"))
        refused = await publish(api, team.member, opener["id"], include_linked=True)
        assert refused.status_code == 422
        (problem,) = refused.json()["detail"]
        assert problem["rule"] == "R-LIB-2"
        assert f"'Big' ({big['id']})" in problem["msg"]
        assert await library(api, team) == []


class TestRLib3LinkedPlansArePublishedTogether:
    async def test_refused_listing_every_linked_plan_not_yet_published(self, api: Api) -> None:
        team = await api.team()
        last = await post_plan(api, team.member, doc((0, [task()]), name="Last"))
        middle = await post_plan(api, team.member, doc((0, [add_to(last["id"])]), name="Middle"))
        first = await post_plan(api, team.member, doc((0, [text(), add_to(middle["id"])]), name="First"))
        refused = await publish(api, team.member, first["id"])
        assert refused.status_code == 409
        detail = refused.json()["detail"]
        assert f"'Middle' ({middle['id']}), 'Last' ({last['id']})" in detail
        assert "(R-LIB-3)" in detail
        assert '{"include_linked": true}' in detail
        assert detail.endswith("(see docs/rules.md#r-lib-3)")
        assert await library(api, team) == []

    async def test_include_linked_publishes_them_together_with_links_between_the_entries(self, api: Api) -> None:
        team = await api.team()
        last = await post_plan(api, team.member, doc((0, [task()]), name="Last"))
        middle = await post_plan(api, team.member, doc((0, [add_to(last["id"])]), name="Middle"))
        first = await post_plan(api, team.member, doc((0, [text(), add_to(middle["id"])]), name="First"))
        result = await published(api, team.member, first["id"], include_linked=True)
        entry, (middle_entry, last_entry) = result["entry"], result["linked"]
        assert [e["name"] for e in (entry, middle_entry, last_entry)] == ["First", "Middle", "Last"]
        assert steps(entry["definition"])[1]["target_plan_id"] == middle_entry["id"]
        assert (entry["linked_entry_ids"], middle_entry["linked_entry_ids"]) == ([middle_entry["id"]],
                                                                                 [last_entry["id"]])
        assert {e["id"] for e in await library(api, team)} == {entry["id"], middle_entry["id"], last_entry["id"]}

    async def test_plans_adding_contacts_to_each_other_are_published_together(self, api: Api) -> None:
        team = await api.team()
        a = await post_plan(api, team.member, doc((0, [task()]), name="A"))
        b = await post_plan(api, team.member, doc((0, [add_to(a["id"])]), name="B"))
        a_linked = editable(a)
        a_linked["days"][0]["steps"].append(add_to(b["id"]))
        assert (await api.client.put(f"/plans/{a['id']}", json=a_linked, headers=team.member)).status_code == 200
        result = await published(api, team.member, a["id"], include_linked=True)
        a_entry, (b_entry,) = result["entry"], result["linked"]
        assert (a_entry["linked_entry_ids"], b_entry["linked_entry_ids"]) == ([b_entry["id"]], [a_entry["id"]])

    async def test_a_linked_plan_already_published_needs_no_include_linked(self, api: Api) -> None:
        team = await api.team()
        target = await post_plan(api, team.member, doc((0, [task()]), name="Target"))
        target_entry = (await published(api, team.member, target["id"]))["entry"]
        opener = await post_plan(api, team.member, doc((0, [add_to(target["id"])]), name="Opener"))
        result = await published(api, team.member, opener["id"])
        assert (result["entry"]["linked_entry_ids"], result["linked"]) == ([target_entry["id"]], [])


class TestRLib4PublishedPlansChangeOnlyTheirWords:
    async def test_name_text_messages_and_task_descriptions_change_and_publishing_again_takes_them(
            self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [task(description="Ask"), text("Hi")]), (3, [task()])))
        entry = (await published(api, team.member, plan["id"]))["entry"]
        document = editable(plan)
        document["name"] = "Renamed"
        document["days"][0]["steps"][0]["description"] = "Ask about {contact.first.name}"
        document["days"][0]["steps"][1]["messages"] = ["Hello {contact.first.name}"]
        saved = await api.client.put(f"/plans/{plan['id']}", json=document, headers=team.member)
        assert saved.status_code == 200, saved.text
        assert (await library(api, team))[0]["name"] == "Plan"  # the library changes when published again
        again = (await published(api, team.member, plan["id"]))["entry"]
        assert (again["id"], again["version"], again["name"]) == (entry["id"], 2, "Renamed")
        assert again["updated_at"] > entry["updated_at"]
        assert again["published_at"] == entry["published_at"]
        first, second, _ = steps(again["definition"])
        assert (first["description"], second["messages"]) == ("Ask about {contact.first.name}",
                                                              ["Hello {contact.first.name}"])

    async def test_adding_deleting_reordering_and_timing_changes_are_refused_pointing_to_duplicating(
            self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [task(), text()]), (3, [task()]),
                                                     repeat={"times": 2, "delay_days": 5}))
        await published(api, team.member, plan["id"])
        url = f"/plans/{plan['id']}"
        changes: dict[str, tuple[Any, str]] = {
            "add a step": (lambda d: d["days"][1]["steps"].append(task("New")), "days[1].steps[1]"),
            "delete a step": (lambda d: d["days"][0]["steps"].pop(1), "days[0].steps[1]"),
            "reorder": (lambda d: d["days"][0]["steps"].reverse(), "days[0].steps[0]"),
            "change a delay": (lambda d: d["days"][1].update(delay_days=4, day=5), "days[1].delay_days"),
            "change a time of day": (lambda d: d["days"][1]["steps"][0].update(time_of_day="evening"),
                                     "days[1].steps[0].time_of_day"),
            "change the repeat": (lambda d: d.update(repeat={"times": 3, "delay_days": 5}), "repeat"),
        }
        for what, (change, field) in changes.items():
            document = editable(plan)
            change(document)
            refused = await api.client.put(url, json=document, headers=team.member)
            assert refused.status_code == 409, (what, refused.text)
            detail = refused.json()["detail"]
            assert detail.startswith(f"{field}: "), (what, detail)
            assert "(R-LIB-4)" in detail
            assert f"POST /plans/{plan['id']}/duplicate" in detail
        assert (await api.client.get(url, headers=team.member)).json() == plan  # nothing changed
        duplicate = (await api.client.post(f"{url}/duplicate", headers=team.member)).json()
        document = editable(duplicate)
        document["days"][1]["steps"].append(task("New"))
        assert (await api.client.put(f"/plans/{duplicate['id']}", json=document,
                                     headers=team.member)).status_code == 200


class TestRLib5CopyingFromTheLibrary:
    async def test_another_team_copies_a_plan_with_its_linked_plan_into_editable_plans(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        letter = (await api.client.post("/designs", headers=team.rainmaker, json={
            "name": "Letter", "subject": "News", "html": "<p>Market news</p>", "team": True})).json()
        follow_up = await post_plan(api, team.rainmaker, doc((0, [task("Follow up")]), name="Follow-up",
                                                             team_plan=True))
        opener = await post_plan(api, team.rainmaker, doc((0, [
            {**design(), "html": None, "subject": "", "design_id": letter["id"], "assignee": "contact_assignee"},
            add_to(follow_up["id"])]), name="Opener", team_plan=True))
        entry = (await published(api, team.rainmaker, opener["id"], include_linked=True))["entry"]
        assert [e["team"] for e in await library(api, other)] == ["Smith Team", "Smith Team"]
        result = await copied(api, other.member, entry["id"])
        copy, (linked,) = result["plan"], result["linked"]
        assert (copy["name"], copy["team_plan"], copy["owner_agent_id"], copy["version"], copy["active"]) == (
            "Opener", False, other.member_id, 1, True)
        email, add = steps(copy)
        assert (email["html"], email["subject"], email["design_id"], email["assignee"]) == (
            "<p>Market news</p>", "News", None, None)
        assert add["target_plan_id"] == linked["id"]
        assert (linked["name"], steps(linked)[0]["name"]) == ("Follow-up", "Follow up")
        listed = {p["id"] for p in (await api.client.get("/plans", headers=other.member)).json()}
        assert listed == {copy["id"], linked["id"]}
        document = editable(copy)
        document["days"].append({"delay_days": 2, "steps": [task("Mine now")]})
        assert (await api.client.put(f"/plans/{copy['id']}", json=document, headers=other.member)).status_code == 200

    async def test_a_team_copy_needs_a_manager_and_keeps_step_assignees(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        plan = await post_plan(api, team.rainmaker, doc((0, [task(assignee="rainmaker")]), team_plan=True))
        entry = (await published(api, team.rainmaker, plan["id"]))["entry"]
        refused = await api.client.post(f"/library/{entry['id']}/copy", json={"team_plan": True},
                                        headers=other.member)
        assert refused.status_code == 403
        assert (await api.client.get("/plans", headers=other.member)).json() == []
        copy = (await copied(api, other.rainmaker, entry["id"], team_plan=True))["plan"]
        assert (copy["team_plan"], copy["owner_agent_id"], steps(copy)[0]["assignee"]) == (True, None, "rainmaker")

    async def test_a_plan_without_steps_is_not_published(self, api: Api) -> None:
        team = await api.team()
        draft = await post_plan(api, team.member, {"name": "Draft", "days": []})
        refused = await publish(api, team.member, draft["id"])
        assert refused.status_code == 422, refused.text
        [item] = refused.json()["detail"]
        assert (item["loc"], item["rule"]) == (["body", "days"], "R-PLAN-3")
        assert "a plan without steps cannot be published" in item["msg"]
        assert await library(api, team) == []

    async def test_publishing_and_copying_without_a_body_take_every_fields_default(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        plan = await post_plan(api, team.member, doc((0, [task()]), name="Bare"))
        bare = await api.client.post(f"/plans/{plan['id']}/publish", headers=team.member)
        assert bare.status_code == 200, bare.text
        entry = bare.json()["entry"]
        copy = await api.client.post(f"/library/{entry['id']}/copy", headers=other.member)
        assert copy.status_code == 201, copy.text
        assert (copy.json()["plan"]["name"], copy.json()["plan"]["team_plan"], copy.json()["linked"]) == (
            "Bare", False, [])

    async def test_an_unknown_entry_is_404(self, api: Api) -> None:
        team = await api.team()
        assert (await api.client.get("/library/lib_missing", headers=team.member)).status_code == 404
        missing = await api.client.post("/library/lib_missing/copy", json={}, headers=team.member)
        assert (missing.status_code, missing.json()["detail"]) == (404, "library entry lib_missing not found")


class TestRepublishing:
    async def test_publishing_again_updates_the_entry_and_leaves_earlier_copies_as_they_were(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        plan = await post_plan(api, team.member, doc((0, [task(description="First words")]), name="Drip"))
        entry = (await published(api, team.member, plan["id"]))["entry"]
        earlier = (await copied(api, other.member, entry["id"]))["plan"]
        document = editable(plan)
        document["name"], document["days"][0]["steps"][0]["description"] = "Drip v2", "Second words"
        assert (await api.client.put(f"/plans/{plan['id']}", json=document, headers=team.member)).status_code == 200
        again = (await published(api, team.member, plan["id"]))["entry"]
        assert (again["id"], again["version"], again["name"]) == (entry["id"], 2, "Drip v2")
        assert [e["id"] for e in await library(api, other)] == [entry["id"]]
        assert (await api.client.get(f"/plans/{earlier['id']}", headers=other.member)).json() == earlier
        assert steps(earlier)[0]["description"] == "First words"


class TestWhoMayPublish:
    async def test_a_basic_member_publishes_a_personal_plan_but_not_a_team_plan(self, api: Api) -> None:
        team = await api.team()
        shared = await post_plan(api, team.rainmaker, doc((0, [task()]), name="Team drip", team_plan=True))
        refused = await publish(api, team.member, shared["id"])
        assert refused.status_code == 403
        assert "(R-TEAM-1)" in refused.json()["detail"]
        own = await post_plan(api, team.member, doc((0, [task()]), name="Mine"))
        linking = await post_plan(api, team.member, doc((0, [add_to(shared["id"])]), name="Into the team's"))
        assert (await publish(api, team.member, linking["id"], include_linked=True)).status_code == 403
        assert [e["name"] for e in await library(api, team)] == []
        entry = (await published(api, team.member, own["id"]))["entry"]
        assert (entry["name"], entry["author"], entry["team"]) == ("Mine", "Alex Agent", "Smith Team")

    async def test_another_teams_plan_is_404_and_nothing_is_published(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        theirs = await post_plan(api, other.rainmaker, doc((0, [task()]), team_plan=True))
        rita_own = await post_plan(api, team.rainmaker, doc((0, [task()])))
        for plan_id in (theirs["id"], rita_own["id"]):
            answer = await publish(api, team.member, plan_id, include_linked=True)
            assert (answer.status_code, answer.json()["detail"]) == (404, f"plan {plan_id} not found")
        assert await library(api, team) == []

    async def test_browsing_is_newest_first_paged_and_needs_a_key(self, api: Api) -> None:
        team = await api.team()
        names = ["One", "Two", "Three"]
        for name in names:
            await published(api, team.member, (await post_plan(api, team.member, doc((0, [task()]), name=name)))["id"])
        assert [e["name"] for e in await library(api, team)] == names[::-1]
        page = await api.client.get("/library", params={"limit": 1, "offset": 1}, headers=team.member)
        assert [e["name"] for e in page.json()] == ["Two"]
        assert (await api.client.get("/library", params={"limit": 201}, headers=team.member)).status_code == 422
        for method, path in (("GET", "/library"), ("GET", "/library/lib_x"), ("POST", "/library/lib_x/copy"),
                             ("POST", "/plans/pl_x/publish")):
            assert (await api.client.request(method, path)).status_code == 401, (method, path)


class TestPublishingTwiceAtOnce:
    async def test_the_second_of_two_first_publications_is_409_and_the_plan_keeps_one_entry(
            self, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [task()]), name="Raced"))
        first = (await published(api, team.member, plan["id"]))["entry"]

        async def not_yet_seen(session: Any, plan_ids: Any) -> dict[str, Any]:
            return {}  # as a request that read before the other one's entry was committed

        monkeypatch.setattr(services.library, "entries_by_plan", not_yet_seen)
        raced = await publish(api, team.member, plan["id"])
        assert raced.status_code == 409, raced.text
        assert "publish it again" in raced.json()["detail"]
        assert [(e["id"], e["version"]) for e in await library(api, team)] == [(first["id"], 1)]


class TestRLib4TakingAPlanOutOfTheLibrary:
    async def test_a_published_cycle_is_taken_out_whole_and_its_plans_can_then_be_edited_and_deleted(
            self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        one = await post_plan(api, team.member, doc((0, [task()]), name="L1"))
        two = await post_plan(api, team.member, doc((0, [add_to(one["id"])]), name="L2"))
        three = await post_plan(api, team.member, doc((0, [add_to(two["id"])]), name="L3"))
        answered(await api.client.put(f"/plans/{one['id']}", headers=team.member,
                                      json=doc((0, [task(), add_to(three["id"])]), name="L1")), 200)
        publication = await published(api, team.member, one["id"], include_linked=True)
        entries = {e["name"]: e["id"] for e in [publication["entry"], *publication["linked"]]}
        unrelated = (await published(api, team.member, (await post_plan(api, team.member, doc(
            (0, [task()]), name="Alone")))["id"]))["entry"]["id"]

        refused = await api.client.delete(f"/plans/{one['id']}", headers=team.member)
        assert refused.status_code == 409
        assert f"take it out with DELETE /library/{entries['L2']} to edit it" in refused.json()["detail"]
        stranger = await api.client.delete(f"/library/{entries['L1']}", headers=other.rainmaker)
        assert stranger.status_code == 403
        assert len(await library(api, team)) == 4

        taken = answered(await api.client.delete(f"/library/{entries['L1']}", headers=team.member), 200)
        assert (sorted(taken["removed"]), sorted(taken["plan_ids"])) == (
            sorted(entries.values()), sorted([one["id"], two["id"], three["id"]]))
        assert [e["id"] for e in await library(api, team)] == [unrelated]
        answered(await api.client.put(f"/plans/{two['id']}", headers=team.member,
                                      json=doc((0, [task()]), name="L2")), 200)
        assert (await api.client.delete(f"/plans/{one['id']}", headers=team.member)).status_code == 204
        gone = await api.client.delete(f"/library/{entries['L1']}", headers=team.member)
        assert gone.status_code == 404
