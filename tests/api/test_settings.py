"""Account settings (R-PLAN-4): slot times as HH:MM that keep their order once merged with the team's and the
defaults, real time zones, team slot times, and stored values from before these checks that must not break a page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.models import Agent, Team
from db.session import session_scope
from tests.api.conftest import ADMIN, Api
from tests.api.test_plans import doc, post_plan
from tests.factories import CT, task

DEFAULTS = {"early_morning": "07:00", "morning": "10:00", "afternoon": "13:00", "evening": "17:00"}


async def settings(api: Api, headers: dict[str, str]) -> dict[str, Any]:
    got = await api.client.get("/settings", headers=headers)
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def refusals(answer: Any) -> list[tuple[str, str, str]]:
    """(field, rule, message) of each refusal in a 422."""
    assert answer.status_code == 422, answer.text
    return [(".".join(map(str, d["loc"][1:])), d["rule"], d["msg"]) for d in answer.json()["detail"]]


async def morning_at(api: Api, headers: dict[str, str], plan_id: str) -> str:
    """When a plan's day-1 morning step runs for a contact enrolled at 06:00 Chicago time, as the preview says."""
    start = datetime(2026, 3, 2, 6, 0, tzinfo=CT)
    answer = await api.client.post(f"/plans/{plan_id}/preview", headers=headers, json={"start_at": start.isoformat()})
    assert answer.status_code == 200, answer.text
    return datetime.fromisoformat(answer.json()[0]["fire_at"]).astimezone(CT).strftime("%H:%M")


class TestRPlan4SlotTimesAreHHMM:
    async def test_anything_but_hh_mm_is_refused_naming_the_slot_and_nothing_changes(self, api: Api) -> None:
        team = await api.team()
        before = await settings(api, team.member)
        for value in ("9am", "9:30", "24:00", "09:60", "0930", "", 930):
            body = {"time_zone": "America/Denver", "slot_times": {"morning": value}}
            [(field, rule, msg)] = refusals(await api.client.patch("/settings", headers=team.member, json=body))
            assert (field, rule) == ("slot_times.morning", "R-PLAN-4"), value
            assert msg.startswith("slot_times.morning: "), msg
            assert msg.endswith(" (R-PLAN-4)"), msg
        assert "'9am' is not a time as HH:MM" in refusals(await api.client.patch(
            "/settings", headers=team.member, json={"slot_times": {"morning": "9am"}}))[0][2]
        [(field, rule, _)] = refusals(await api.client.patch("/settings", headers=team.member,
                                                             json={"slot_times": {"noon": "12:00"}}))
        assert (field, rule) == ("slot_times.noon", "R-PLAN-4")
        assert await settings(api, team.member) == before

    async def test_after_merging_the_slots_must_run_early_morning_morning_afternoon_evening(self, api: Api) -> None:
        team = await api.team()
        early = await api.client.patch("/settings", headers=team.member, json={"slot_times": {"morning": "06:30"}})
        assert refusals(early) == [("slot_times.morning", "R-PLAN-4", "slot_times.morning: your morning (06:30) must "
                                    "be later than early_morning (07:00): slot times run early_morning < morning < "
                                    "afternoon < evening (R-PLAN-4)")]
        equal = await api.client.patch("/settings", headers=team.member, json={"slot_times": {"evening": "13:00"}})
        assert [f for f, _, _ in refusals(equal)] == ["slot_times.evening"]
        both = await api.client.patch("/settings", headers=team.member,
                                      json={"slot_times": {"early_morning": "06:00", "morning": "06:30"}})
        assert both.json()["slot_times"] == {**DEFAULTS, "early_morning": "06:00", "morning": "06:30"}
        crossed = await api.client.patch("/settings", headers=team.member, json={"slot_times": {
            "early_morning": "11:00", "evening": "12:00", "afternoon": "12:30"}})
        assert [f for f, _, _ in refusals(crossed)] == ["slot_times.early_morning", "slot_times.evening"]
        assert (await settings(api, team.member))["slot_times"]["early_morning"] == "06:00"


class TestRPlan4TeamSlotTimes:
    async def test_team_plans_use_the_teams_slots_and_personal_plans_the_owners_over_the_teams(
            self, api: Api) -> None:
        team = await api.team()
        step = doc((0, [task(slot="morning")]))
        shared = (await post_plan(api, team.rainmaker, {**step, "team_plan": True}))["id"]
        ritas = (await post_plan(api, team.rainmaker, step))["id"]
        alexs = (await post_plan(api, team.member, step))["id"]
        assert (await api.client.patch("/settings", headers=team.member,
                                       json={"team_slot_times": {"morning": "09:00"}})).status_code == 403
        changed = await api.client.patch("/settings", headers=team.rainmaker,
                                         json={"team_slot_times": {"morning": "09:00"}})
        assert changed.json()["team_slot_times"] == changed.json()["slot_times"] == {**DEFAULTS, "morning": "09:00"}
        own = await api.client.patch("/settings", headers=team.member, json={"slot_times": {"morning": "08:30"}})
        assert (own.json()["slot_times"]["morning"], own.json()["team_slot_times"]["morning"]) == ("08:30", "09:00")
        assert await morning_at(api, team.member, shared) == "09:00"
        assert await morning_at(api, team.rainmaker, ritas) == "09:00"
        assert await morning_at(api, team.member, alexs) == "08:30"
        back = await api.client.patch("/settings", headers=team.member, json={"slot_times": {"morning": None}})
        assert back.json()["slot_times"]["morning"] == "09:00"  # a slot set to null falls back to the team's
        reset = await api.client.patch("/settings", headers=team.rainmaker, json={"team_slot_times": None})
        assert reset.json()["team_slot_times"] == DEFAULTS

    async def test_the_team_order_and_a_members_own_times_crossed_by_a_team_change_are_refused(
            self, api: Api) -> None:
        team = await api.team()
        await api.client.patch("/settings", headers=team.member, json={"slot_times": {"afternoon": "11:00"}})
        crossing = await api.client.patch("/settings", headers=team.rainmaker,
                                          json={"team_slot_times": {"morning": "11:30"}})
        [(field, rule, msg)] = refusals(crossing)
        assert (field, rule) == ("team_slot_times.morning", "R-PLAN-4")
        assert "with Alex Agent's own times, afternoon (11:00) must be later than morning (11:30)" in msg
        inverted = await api.client.patch("/settings", headers=team.rainmaker,
                                          json={"team_slot_times": {"evening": "06:00"}})
        assert [(f, r) for f, r, _ in refusals(inverted)] == [("team_slot_times.evening", "R-PLAN-4")]
        assert (await settings(api, team.rainmaker))["team_slot_times"] == DEFAULTS


class TestRPlan4TimeZones:
    async def test_null_zones_and_defaults_are_422_naming_the_field_but_an_agents_null_means_the_teams(
            self, api: Api) -> None:
        team = await api.team()
        for field in ("team_time_zone", "default_task_assignee", "default_email_sender", "default_text_sender"):
            [(got, rule, msg)] = refusals(await api.client.patch("/settings", headers=team.rainmaker,
                                                                 json={field: None}))
            assert (got, rule, "may not be null" in msg) == (
                field, "R-PLAN-4" if field == "team_time_zone" else "R-TEAM-2", True)
        zone = await api.client.patch("/settings", headers=team.rainmaker, json={"team_time_zone": "Mars/Olympus"})
        assert [(f, r) for f, r, _ in refusals(zone)] == [("team_time_zone", "R-PLAN-4")]
        own = await api.client.patch("/settings", headers=team.member, json={"time_zone": "America/Denver"})
        assert own.json()["time_zone"] == "America/Denver"
        cleared = await api.client.patch("/settings", headers=team.member, json={"time_zone": None})
        assert (cleared.status_code, cleared.json()["time_zone"]) == (200, "America/Chicago")
        await api.client.patch("/settings", headers=team.rainmaker, json={"team_time_zone": "America/New_York"})
        assert (await settings(api, team.member))["time_zone"] == "America/New_York"


class TestSettingsStoredBeforeTheChecks:
    async def test_bad_stored_values_read_as_what_applies_instead_and_are_dropped_on_the_next_change(
            self, api: Api) -> None:
        team = await api.team()
        async with session_scope(api.harness.sessions) as session:
            member, row = await session.get(Agent, team.member_id), await session.get(Team, team.id)
            assert member is not None
            assert row is not None
            # As a data fix or an older version might have written them: not zones, not HH:MM, not even a map.
            junk: list[Any] = [{"morning": "9am", "noon": "12:00", "evening": 1700}, ["junk"]]
            member.time_zone, member.slot_times = "Mars/Olympus", junk[0]
            row.time_zone, row.slot_times = "Central", junk[1]
        got = await settings(api, team.member)
        assert (got["time_zone"], got["slot_times"], got["team_time_zone"], got["team_slot_times"]) == (
            "America/Chicago", DEFAULTS, "America/Chicago", DEFAULTS)
        plan = (await post_plan(api, team.member, doc((0, [task(slot="morning")]))))["id"]
        assert await morning_at(api, team.member, plan) == "10:00"
        changed = await api.client.patch("/settings", headers=team.member, json={"slot_times": {"afternoon": "14:00"}})
        assert changed.json()["slot_times"] == {**DEFAULTS, "afternoon": "14:00"}
        async with session_scope(api.harness.sessions) as session:
            stored = await session.get(Agent, team.member_id)
            assert stored is not None
            assert stored.slot_times == {"afternoon": "14:00"}


class TestREmail4SettingsWarnWithoutAPostalAddress:
    async def test_get_settings_warns_until_the_agent_or_the_team_has_an_address(self, api: Api) -> None:
        team = await api.team(postal_address=None)
        (warning,) = (await settings(api, team.member))["warnings"]
        assert warning.startswith("Plan emails you send will fail: neither Alex Agent nor the team has a postal "
                                  "address")
        assert "PATCH /settings" in warning
        own = await api.client.patch("/settings", headers=team.member, json={"postal_address": "2 Elm St, Austin TX"})
        assert (own.status_code, own.json()["warnings"]) == (200, [])
        assert (await settings(api, team.rainmaker))["warnings"] != []  # the Rainmaker still has none, nor the team
        await api.client.patch("/settings", headers=team.rainmaker, json={"team_postal_address": "1 Main St"})
        assert (await settings(api, team.rainmaker))["warnings"] == []

    async def test_a_team_created_with_an_address_warns_no_one(self, api: Api) -> None:
        made = await api.client.post("/teams", headers=ADMIN, json={"name": "Lee Team",
                                                                    "postal_address": " 9 Oak Ave, Waco TX "})
        assert made.status_code == 201, made.text
        agent = await api.client.post(f"/teams/{made.json()['id']}/agents", headers=ADMIN, json={
            "first_name": "Lou", "last_name": "Lee", "email": "lou@example.com", "role": "rainmaker",
            "permission": "unlimited"})
        headers = {"Authorization": f"Bearer {agent.json()['api_key']}"}
        read = await settings(api, headers)
        assert (read["team_postal_address"], read["warnings"]) == ("9 Oak Ave, Waco TX", [])


def twilio(number: str, token: str = "token-12345678") -> dict[str, str]:
    return {"twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": token, "twilio_from_number": number}


class TestRTxt5OneAgentPerTwilioNumber:
    async def test_a_number_another_agent_has_is_refused_in_any_team_and_nothing_changes(self, api: Api) -> None:
        ours, theirs = await api.team(), await api.team("Jones Team")
        first = await api.client.patch("/settings", headers=ours.member, json=twilio("+15125550111"))
        assert first.status_code == 200, first.text
        same_team = await api.client.patch("/settings", headers=ours.rainmaker,
                                           json=twilio("+15125550111", "other-token-1"))
        other_team = await api.client.patch("/settings", headers=theirs.member, json=twilio("+15125550111"))
        assert (same_team.status_code, other_team.status_code) == (409, 409)
        assert same_team.json()["detail"].startswith(
            f"twilio_from_number: +15125550111 is already Alex Agent's ({ours.member_id})")
        assert "an agent's of another team" in other_team.json()["detail"]
        assert ours.member_id not in other_team.json()["detail"]
        for headers in (ours.rainmaker, theirs.member):
            assert (await settings(api, headers))["twilio"]["configured"] is False
        # The owner may send their own number again, with a new token.
        again = await api.client.patch("/settings", headers=ours.member, json=twilio("+15125550111", "new-token-1"))
        assert again.status_code == 200, again.text
