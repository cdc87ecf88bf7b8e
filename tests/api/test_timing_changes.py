"""A change of what decides timing reaches running enrollments through the API, from their next step on: the
contact's time zone (R-TXT-3) and the account's slots (R-PLAN-4); labels follow the contact's name (R-MERGE-1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.models import Message
from tests.api.conftest import Api, Team
from tests.api.test_enrollments import enroll, make_contact, make_plan, progress
from tests.factories import CT, email, eventually, task, text


async def fires_at(api: Api, team: Team, enrollment_id: str, instant: datetime) -> bool:
    now = await progress(api, team.member, enrollment_id)
    return now["next_fire_at"] is not None and datetime.fromisoformat(now["next_fire_at"]) == instant


class TestRTxt3ContactZoneThroughTheApi:
    async def test_patching_the_contacts_zone_moves_the_next_text_at_once(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (0, [task("First")]), (1, [text("Day two {contact.first.name}")]))
        contact_id = await make_contact(api, team)
        start = datetime(2027, 2, 3, 11, tzinfo=CT)
        await api.harness.advance_to(start)
        enrollment_id, handle = await enroll(api, team.member, plan_id, contact_id)

        await eventually(lambda: fires_at(api, team, enrollment_id, start + timedelta(days=1)))
        patched = await api.client.patch(f"/contacts/{contact_id}", headers=team.member,
                                         json={"time_zone": "Asia/Tokyo", "first_name": "Dee"})
        assert patched.status_code == 200, patched.text
        # Tokyo's 08:00 is 17:00 Central in February: the earliest instant both windows allow on day two.
        await eventually(lambda: fires_at(api, team, enrollment_id, (start + timedelta(days=1)).replace(hour=17)))
        assert (await progress(api, team.member, enrollment_id))["next_step_label"] == "text 'Day two Dee'"
        await api.harness.finish(handle)


class TestRPlan4SlotSettingsThroughTheApi:
    async def test_a_new_morning_slot_counts_from_the_next_step(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (0, [task("First")]), (2, [task("Morning call", slot="morning")]))
        contact_id = await make_contact(api, team)
        start = datetime(2027, 2, 3, 11, tzinfo=CT)
        await api.harness.advance_to(start)
        enrollment_id, handle = await enroll(api, team.member, plan_id, contact_id)

        await eventually(lambda: fires_at(api, team, enrollment_id, (start + timedelta(days=2)).replace(hour=10)))
        changed = await api.client.patch("/settings", headers=team.member, json={"slot_times": {"morning": "09:15"}})
        assert changed.status_code == 200, changed.text
        earlier = (start + timedelta(days=2)).replace(hour=9, minute=15)
        await eventually(lambda: fires_at(api, team, enrollment_id, earlier))
        await api.harness.finish(handle)


class TestRPlan4ANewAccountZoneThroughTheApi:
    async def test_a_day_1_step_waits_for_the_new_zones_day_1_and_nothing_runs_at_once(self, api: Api) -> None:
        team = await api.team()
        plan_id = await make_plan(api, team, (1, [email("Day one", slot="morning")]), (1, [email("Day two")]))
        contact_id = await make_contact(api, team)
        start = datetime(2027, 2, 3, 19, 40, tzinfo=CT)  # 10:40 on the 4th in Tokyo
        await api.harness.advance_to(start)
        enrollment_id, handle = await enroll(api, team.member, plan_id, contact_id)

        await eventually(lambda: fires_at(api, team, enrollment_id, datetime(2027, 2, 4, 10, tzinfo=CT)))
        changed = await api.client.patch("/settings", headers=team.member, json={"time_zone": "Asia/Tokyo"})
        assert changed.status_code == 200, changed.text
        # Day 1 in Tokyo is the 5th (the enrollment was on the 4th there): 10:00 JST, 01:00 UTC.
        await eventually(lambda: fires_at(api, team, enrollment_id, datetime(2027, 2, 5, 1, tzinfo=UTC)))
        assert await api.harness.rows(Message) == []
        assert (await progress(api, team.member, enrollment_id))["steps_done"] == []
        await api.harness.finish(handle)
