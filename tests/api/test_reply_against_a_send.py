"""R-RULE-5 where a reply meets a send under way: a plan that removes the contact when they reply to its text sends
nothing after the reply is recorded, not even a text whose step had already started. The webhook marks the
enrollment as being removed in the transaction that records the reply, before the workflow hears of it, and the
step's deciding transaction reads that mark (R-ENR-2's ordering). Run through the real app and worker against the
loopback Twilio, with the second text's step held between its start and its decision."""

from __future__ import annotations

import asyncio

from db.models import Enrollment, TimelineEvent
from tests.api.conftest import Api, Live, Team
from tests.api.test_enrollments import Handle, enroll, make_contact, make_plan
from tests.api.test_removal_against_a_send import MORNING, give_member_twilio
from tests.api.test_webhooks import sms, text_in
from tests.factories import eventually, text
from tests.fakes import FakeTwilio


async def two_texts(api: Api, *, on_text_reply: bool) -> tuple[Team, str, Handle]:
    """A contact enrolled, inside both texting windows, in a plan of two texts at once."""
    team = await api.team()
    await give_member_twilio(api, team)
    plan_id = await make_plan(api, team, (0, [text("Checking in"), text("Still there?")]),
                              on_text_reply=on_text_reply)
    contact_id = await make_contact(api, team)
    await api.harness.advance_to(MORNING)
    enrollment_id, handle = await enroll(api, team.member, plan_id, contact_id)
    return team, enrollment_id, handle


async def reply_while_the_second_text_is_held(live: Live) -> None:
    await asyncio.wait_for(live.hold.started.wait(), timeout=15)
    assert [m["body"] for m in live.twilio.messages] == ["Checking in"]
    answer = await text_in(live.api.client, sms("Yes, still looking"))
    assert answer.status_code == 200
    live.hold.release.set()


class TestRRule5AReplyStopsASendUnderWay:
    async def test_a_text_whose_step_started_before_the_reply_but_decides_after_it_is_not_sent(
            self, live: Live) -> None:
        live.hold.hold_run = 2
        _, enrollment_id, handle = await two_texts(live.api, on_text_reply=True)
        await reply_while_the_second_text_is_held(live)
        result = await handle.result()
        assert (result.status, result.reason) == ("removed", "replied_text")
        assert [m["body"] for m in live.twilio.messages] == ["Checking in"]
        (skipped,) = await live.api.harness.rows(TimelineEvent, kind="step_skipped")
        assert skipped.detail == "Text not sent: the contact left the plan (replied_text)"
        (row,) = await live.api.harness.rows(Enrollment, id=enrollment_id)
        assert (row.status, row.end_reason, row.removal_requested) == ("removed", "replied_text", "replied_text")
        removed = await live.api.harness.rows(TimelineEvent, kind="removed")
        assert [e.detail for e in removed] == [
            "Dana Smith was removed from the plan 'Test Plan' after replying to its text"]

    async def test_a_plan_that_does_not_remove_on_text_replies_sends_the_held_text(self, live: Live) -> None:
        live.hold.hold_run = 2
        _, enrollment_id, handle = await two_texts(live.api, on_text_reply=False)
        await reply_while_the_second_text_is_held(live)
        result = await handle.result()
        assert (result.status, result.reason) == ("completed", "completed")
        assert [m["body"] for m in live.twilio.messages] == ["Checking in", "Still there?"]
        (row,) = await live.api.harness.rows(Enrollment, id=enrollment_id)
        assert row.removal_requested is None
        assert await live.api.harness.rows(TimelineEvent, kind="step_skipped") == []

    async def test_a_text_before_the_plan_wrote_any_is_no_reply_and_marks_nothing(self, live: Live) -> None:
        """Only a reply counts: held at its first text, the plan has written nothing when the contact texts."""
        live.hold.hold_run = 1
        _, enrollment_id, handle = await two_texts(live.api, on_text_reply=True)
        await asyncio.wait_for(live.hold.started.wait(), timeout=15)
        assert (await text_in(live.api.client, sms("Hi, who is this?"))).status_code == 200
        (row,) = await live.api.harness.rows(Enrollment, id=enrollment_id)
        assert row.removal_requested is None
        live.hold.release.set()
        await eventually(lambda: _sent(live.twilio, 2))
        result = await handle.result()
        assert (result.status, result.reason) == ("completed", "completed")


async def _sent(twilio: FakeTwilio, count: int) -> bool:
    return len(twilio.messages) >= count
