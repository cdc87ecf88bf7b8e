"""A change of what decides timing reaches running enrollments through the API, from their next step on: the
contact's time zone (R-TXT-3) and the account's slots (R-PLAN-4); labels follow the contact's name (R-MERGE-1)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.conftest import Api, Team
from tests.api.test_enrollments import enroll, make_contact, make_plan, progress
from tests.factories import CT, eventually, task, text


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
