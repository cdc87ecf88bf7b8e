"""The preview (R-PLAN-4, R-PLAN-7): exactly when each step would run for a contact enrolled at `start_at`, from the
same schedule code and account settings the enrollment workflow uses."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from db.models import Contact, Plan
from db.session import session_scope
from domain.plan import DEFAULT_SLOT_TIMES, PlanDefinition
from domain.schedule import ScheduleContext, preview
from domain.windows import spread_offset
from services.plans import current_definition
from tests.api.conftest import Api, answered
from tests.api.test_enrollments import enroll, progress
from tests.api.test_plans import add_contact, doc, post_plan, sample
from tests.api.test_team_assignees import rainmaker_texts, team_with_twilio
from tests.factories import CT, email, eventually, fires_next_at, next_local, task, text
from workflows.types import enrollment_workflow_id

PHONE = "+15125550199"


async def previewed(api: Api, headers: dict[str, str], plan_id: str, **body: Any) -> list[tuple[Any, ...]]:
    answer = await api.client.post(f"/plans/{plan_id}/preview", headers=headers, json=body)
    assert answer.status_code == 200, answer.text
    return [(s["repeat"], s["day"], s["step_id"], s["kind"], datetime.fromisoformat(s["fire_at"]))
            for s in answer.json()]


async def computed(api: Api, plan_id: str, start: datetime, ctx: ScheduleContext,
                   passes: int | None = None) -> list[tuple[Any, ...]]:
    """The domain's own answer for the stored plan: what the enrollment workflow would run."""
    async with session_scope(api.harness.sessions) as session:
        row = await session.get(Plan, plan_id)
        assert row is not None
        definition: PlanDefinition = await current_definition(session, row)
    return [(s.repeat, s.day_number, s.step_id, s.step.kind, s.fire_at) for s in preview(definition, start, ctx,
                                                                                          passes)]


class TestRPlan4Preview:
    async def test_the_instants_are_the_domains_with_the_owners_or_the_teams_settings(self, api: Api) -> None:
        team = await api.team()
        await api.client.patch("/settings", headers=team.rainmaker,
                               json={"time_zone": "America/New_York", "slot_times": {"morning": "09:30"}})
        personal = await post_plan(api, team.rainmaker, sample("8x8-new-lead"))
        shared = await post_plan(api, team.rainmaker, {**sample("8x8-new-lead"), "team_plan": True})
        start = datetime(2026, 3, 2, 8, 15, tzinfo=CT)
        owners = ScheduleContext(time_zone="America/New_York", slot_times={**DEFAULT_SLOT_TIMES, "morning": "09:30"},
                                 spread_key=personal["id"])
        got = await previewed(api, team.rainmaker, personal["id"], start_at=start.isoformat())
        assert got == await computed(api, personal["id"], start, owners)
        assert len(got) == 10
        assert got[0][4].utcoffset() == timedelta(hours=-5)
        teams = ScheduleContext(spread_key=shared["id"])  # a team plan: the team's zone and slots, not Rita's
        assert await previewed(api, team.member, shared["id"], start_at=start.isoformat()) == await computed(
            api, shared["id"], start, teams)

    async def test_for_a_contact_their_zone_and_their_enrollments_text_spread(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, sample("8x8-new-lead"))
        contact_id = await add_contact(api, team, time_zone="America/Los_Angeles")
        start = datetime(2026, 3, 2, 20, 5, tzinfo=CT)
        ctx = ScheduleContext(contact_time_zone="America/Los_Angeles",
                              spread_key=enrollment_workflow_id(plan["id"], contact_id))
        got = await previewed(api, team.member, plan["id"], start_at=start.isoformat(), contact_id=contact_id)
        assert got == await computed(api, plan["id"], start, ctx)
        other = await api.team("Other Team")
        stranger = await add_contact(api, other)
        answer = await api.client.post(f"/plans/{plan['id']}/preview", headers=team.member,
                                       json={"start_at": start.isoformat(), "contact_id": stranger})
        assert answer.status_code == 404

    async def test_the_33_touch_plan_saves_and_previews_one_pass_by_default(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.rainmaker, sample("33-touch-sphere"))
        start = datetime(2026, 1, 5, 9, 30, tzinfo=CT)
        one = await previewed(api, team.rainmaker, plan["id"], start_at=start.isoformat())
        assert len(one) == 33
        assert {s[0] for s in one} == {0}
        two = await previewed(api, team.rainmaker, plan["id"], start_at=start.isoformat(), passes=2)
        assert two == await computed(api, plan["id"], start, ScheduleContext(spread_key=plan["id"]), passes=2)
        assert len(two) == 66
        assert two[-1][0] == 1
        url = f"/plans/{plan['id']}/preview"
        for body in ({"start_at": start.isoformat(), "passes": 11}, {"start_at": start.isoformat(), "passes": 0},
                     {"start_at": start.isoformat(), "repeats": 2}, {"start_at": "2026-01-05T09:30:00"},
                     {"start_at": start.isoformat(), "contact_time_zone": "Mars/Olympus"}, {"start": "x"}):
            assert (await api.client.post(url, headers=team.rainmaker, json=body)).status_code == 422, body


class TestRPlan7PreviewPasses:
    async def test_a_plan_repeating_twice_shows_all_three_passes_by_default_and_passes_limits_them(
            self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [task("Call")]), (2, [task("Again")]),
                                                     repeat={"times": 2, "delay_days": 7}))
        start = datetime(2026, 3, 2, 9, 0, tzinfo=CT)
        every = await previewed(api, team.member, plan["id"], start_at=start.isoformat())
        assert [s[0] for s in every] == [0, 0, 1, 1, 2, 2]
        assert every == await computed(api, plan["id"], start, ScheduleContext(spread_key=plan["id"]))
        one = await previewed(api, team.member, plan["id"], start_at=start.isoformat(), passes=1)
        assert one == every[:2]
        ten = await previewed(api, team.member, plan["id"], start_at=start.isoformat(), passes=10)
        assert ten == every  # a plan has no more passes than its repeat gives it

    async def test_the_old_name_repeats_is_an_unknown_field(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [task("Call")]), repeat={"times": 2, "delay_days": 7}))
        refused = await api.client.post(f"/plans/{plan['id']}/preview", headers=team.member,
                                        json={"start_at": "2026-03-02T09:00:00-06:00", "repeats": 1})
        assert refused.status_code == 422
        assert [d["loc"] for d in refused.json()["detail"]] == [["body", "repeats"]]


    async def test_an_instant_at_the_ends_of_the_calendar_is_a_422_naming_start_at_not_a_500(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [task("Call")]), repeat={"times": "unlimited",
                                                                                  "delay_days": 30}))
        for start_at in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1899-12-31T23:59:59Z"):
            refused = await api.client.post(f"/plans/{plan['id']}/preview", headers=team.member,
                                            json={"start_at": start_at, "passes": 10})
            assert refused.status_code == 422, start_at
            (problem,) = refused.json()["detail"]
            assert (problem["loc"], "1900 to 8999" in problem["msg"]) == (["body", "start_at"], True)
        latest = await api.client.post(f"/plans/{plan['id']}/preview", headers=team.member,
                                       json={"start_at": "8999-12-31T23:59:59-14:00", "passes": 10})
        assert latest.status_code == 200, latest.text  # ten passes of a year-long plan still fit the calendar


class TestRPlan7PreviewAfterAHeldStep:
    async def test_pass_two_starts_on_the_last_days_date_though_its_text_was_held_to_the_next_morning(
            self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [email("Welcome")]), (1, [text("Checking in")]),
                                                     repeat={"times": 1, "delay_days": 0}))
        start = datetime(2026, 3, 3, 20, 0, tzinfo=CT)

        def held_to(day: int) -> datetime:
            """R-TXT-3: a text due at 20:00 goes at 10:00 Central the next day plus the spread (the plan's id here)."""
            return datetime(2026, 3, day, 10, tzinfo=CT) + spread_offset(plan["id"])

        got = await previewed(api, team.member, plan["id"], start_at=start.isoformat())
        assert [(s[0], s[1], s[3], s[4]) for s in got] == [
            (0, 1, "email", start),
            (0, 2, "text", held_to(5)),  # due Mar 4 20:00
            # Pass 2's day 1 is Mar 4 (the last day's date + 0 days): its email, due Mar 4 20:00, goes right after
            # the held text; its day 2 is Mar 5, so its text is due Mar 5 20:00 and goes Mar 6, not Mar 7.
            (1, 1, "email", held_to(5)),
            (1, 2, "text", held_to(6)),
        ]
        assert got == await computed(api, plan["id"], start, ScheduleContext(spread_key=plan["id"]))


class TestRTxt3PreviewSaysWhatWouldBeSkipped:
    async def test_kolkata_and_dhaka_contacts_preview_200_with_skipped_texts_and_the_reason(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, sample("8x8-new-lead"))
        for zone_name, month in (("Asia/Kolkata", 1), ("Asia/Dhaka", 1), ("Asia/Dhaka", 7)):
            contact_id = await add_contact(api, team, time_zone=zone_name)
            start = datetime(2027, month, 12, 11, tzinfo=CT)
            answer = await api.client.post(f"/plans/{plan['id']}/preview", headers=team.member,
                                           json={"start_at": start.isoformat(), "contact_id": contact_id})
            assert answer.status_code == 200, answer.text
            steps = answer.json()
            texts = [s for s in steps if s["kind"] == "text"]
            assert texts
            assert all(s["outcome"] == "skipped" and zone_name in s["reason"] for s in texts)
            assert all(s["outcome"] == "runs" and s["reason"] is None for s in steps if s["kind"] != "text")

    async def test_kolkata_in_july_is_texted_between_1000_and_1030_central(self, api: Api) -> None:
        team = await team_with_twilio(api)  # the plan's owner texts (R-TXT-5)
        plan = await post_plan(api, team.member, sample("8x8-new-lead"))
        contact_id = await add_contact(api, team, time_zone="Asia/Kolkata", phone=PHONE)
        answer = await api.client.post(f"/plans/{plan['id']}/preview", headers=team.member, json={
            "start_at": datetime(2027, 7, 12, 11, tzinfo=CT).isoformat(), "contact_id": contact_id})
        texts = [s for s in answer.json() if s["kind"] == "text"]
        assert texts
        for sms in texts:
            local = datetime.fromisoformat(sms["fire_at"]).astimezone(CT)
            assert (sms["outcome"], local.hour, local.minute < 30) == ("runs", 10, True)

    async def test_labels_are_rendered_for_the_contact_and_plain_without_one(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [task("Call {contact.first.name}")])))
        contact_id = await add_contact(api, team)
        start = datetime(2027, 2, 3, 9, tzinfo=CT).isoformat()
        url = f"/plans/{plan['id']}/preview"
        for_dana = await api.client.post(url, headers=team.member, json={"start_at": start, "contact_id": contact_id})
        assert [s["label"] for s in for_dana.json()] == ["task 'Call Dana'"]
        plain = await api.client.post(url, headers=team.member, json={"start_at": start})
        assert [s["label"] for s in plain.json()] == ["task 'Call {contact.first.name}'"]


class TestRTxt4RTxt5PreviewShowsTextsThatWillNotGo:
    async def test_a_personal_plans_text_is_skipped_when_its_owner_has_no_twilio_as_its_attempt_skips_it(
            self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [text("Hi {contact.first.name}", slot="morning")])))
        contact_id = await add_contact(api, team, phone=PHONE)
        start = datetime(2027, 2, 3, 9, tzinfo=CT).isoformat()

        (step,) = answered(await api.client.post(f"/plans/{plan['id']}/preview", headers=team.member, json={
            "start_at": start, "contact_id": contact_id}), 200)

        assert (step["outcome"], step["reason"]) == ("skipped", "Text not sent: Alex Agent has no Twilio setup")

    async def test_a_text_to_a_contact_who_opted_out_or_is_on_do_not_call_is_skipped_saying_which(
            self, api: Api) -> None:
        team = await team_with_twilio(api)
        plan = await post_plan(api, team.member, doc((0, [text("Hi {contact.first.name}", slot="morning"),
                                                          task("Call {contact.first.name}", slot="morning")])))
        start = datetime(2027, 2, 3, 9, tzinfo=CT).isoformat()
        for fields, why in (({"opted_out": True}, "the contact opted out of texts"),
                            ({"do_not_call": True}, "the contact is on the Do-Not-Call list")):
            contact_id = await add_contact(api, team, phone=PHONE, **fields)

            texted, called = answered(await api.client.post(f"/plans/{plan['id']}/preview", headers=team.member,
                                                            json={"start_at": start, "contact_id": contact_id}), 200)

            assert (texted["outcome"], texted["reason"]) == ("skipped", f"Text not sent: {why}")
            assert (called["kind"], called["outcome"]) == ("task", "runs")

    async def test_an_email_to_a_contact_without_an_address_or_unsubscribed_is_skipped_saying_which(
            self, api: Api) -> None:
        team = await team_with_twilio(api)
        plan = await post_plan(api, team.member, doc((0, [email("Hello", slot="morning")])))
        start = datetime(2027, 2, 3, 9, tzinfo=CT).isoformat()
        bare, gone = await add_contact(api, team, phone=PHONE), await add_contact(api, team)
        async with session_scope(api.harness.sessions) as session:
            for contact_id, change in ((bare, {"email": None}), (gone, {"unsubscribed": True})):
                row = await session.get(Contact, contact_id)
                assert row is not None
                for name, value in change.items():
                    setattr(row, name, value)
        for contact_id, why in ((bare, "the contact has no email address"),
                                (gone, "the contact unsubscribed from plan email")):
            (step,) = answered(await api.client.post(f"/plans/{plan['id']}/preview", headers=team.member,
                                                     json={"start_at": start, "contact_id": contact_id}), 200)
            assert (step["outcome"], step["reason"]) == ("skipped", f"Email not sent: {why}")

    async def test_a_task_to_text_or_call_them_by_hand_is_not_made_either(self, api: Api) -> None:
        team = await team_with_twilio(api)
        by_hand = {"kind": "text", "time_of_day": "morning", "mode": "task", "name": "Text {contact.first.name}",
                   "priority": "high", "due_in_days": 1}
        plan = await post_plan(api, team.member, doc((0, [by_hand, task("Call", slot="morning", kind="call"),
                                                          task("Send the CMA", slot="morning")])))
        start = datetime(2027, 2, 3, 9, tzinfo=CT).isoformat()
        outcomes = {}
        for fields in ({"opted_out": True}, {"do_not_call": True}):
            contact_id = await add_contact(api, team, phone=PHONE, **fields)
            steps = answered(await api.client.post(f"/plans/{plan['id']}/preview", headers=team.member,
                                                   json={"start_at": start, "contact_id": contact_id}), 200)
            outcomes[next(iter(fields))] = [(s["kind"], s["outcome"], s["reason"]) for s in steps]
        assert outcomes == {
            "opted_out": [("text", "skipped", "Text task not created: the contact opted out of texts"),
                          ("call", "runs", None), ("task", "runs", None)],
            "do_not_call": [("text", "skipped", "Text task not created: the contact is on the Do-Not-Call list"),
                            ("call", "skipped", "Call task not created: the contact is on the Do-Not-Call list"),
                            ("task", "runs", None)]}


class TestRTxt5PreviewShowsTheTextTask:
    async def test_a_team_text_whose_sender_has_no_twilio_previews_as_the_text_task_the_enrollment_runs(
            self, api: Api) -> None:
        """R-TXT-5 + R-TASK-2: the team's text sender (the Rainmaker) has no Twilio, so the text enrolled at 17:04
        becomes a text task at 08:00 the next morning; the preview for that contact says so, as the enrollment does."""
        team, plan_id, contact_id = await rainmaker_texts(api, 0)
        start = await next_local(api.harness, 17, 4) + timedelta(seconds=18)
        await api.harness.advance_to(start)
        enrollment_id, handle = await enroll(api, team.member, plan_id, contact_id)
        started_at = (await progress(api, team.member, enrollment_id))["started_at"]
        (step,) = answered(await api.client.post(f"/plans/{plan_id}/preview", headers=team.member, json={
            "start_at": started_at, "contact_id": contact_id}), 200)
        tomorrow = start.date() + timedelta(days=1)
        next_morning = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 8, tzinfo=CT)
        assert (step["kind"], step["outcome"], datetime.fromisoformat(step["fire_at"])) == ("text", "runs",
                                                                                            next_morning)
        assert step["label"] == "text task for text 'Team hi Dana from Rita'"
        # The enrollment made at that instant: its text found no Twilio, and it waits for the task window.
        await eventually(lambda: fires_next_at(handle, next_morning))
        live = await progress(api, team.member, enrollment_id)
        assert (live["next_step_label"], datetime.fromisoformat(live["next_fire_at"])) == (step["label"],
                                                                                          next_morning)
        # Without a contact nobody is designated yet (R-TEAM-3): the plan's text, in the text window, as written.
        (plain,) = answered(await api.client.post(f"/plans/{plan_id}/preview", headers=team.member,
                                                  json={"start_at": started_at}), 200)
        assert (plain["label"], datetime.fromisoformat(plain["fire_at"])) == (
            "text 'Team hi {contact.first.name} from {agent…'", datetime.fromisoformat(started_at))
