"""R-ENR-2 where a removal meets a send under way: the database decides which came first. `DELETE /enrollments/{id}`
marks the row before it asks the workflow, and a send decides in one transaction that re-reads the row (locked on
PostgreSQL), so either the removal's mark is there and nothing is sent — not even by an attempt that had already
started, or a retry — or the send committed `sending` first and the provider may have it: it goes, and the removal
still ends the enrollment. Run through the real app and worker against the loopback Twilio."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only
from temporalio.api.enums.v1 import EventType

from db.models import Agent, Enrollment, Message, Task, TimelineEvent
from db.session import session_scope
from tests.api.conftest import Api, Live, Team, answered
from tests.api.test_enrollments import Handle, enroll, make_contact, make_plan
from tests.factories import CT, TWILIO_SID, TWILIO_TOKEN, HoldActivity, eventually, text
from tests.factories import task as task_step
from tests.fakes import FakeTwilio

# Inside both texting windows (R-TXT-3): the text is attempted as soon as the contact is enrolled.
MORNING = datetime(2027, 2, 3, 11, tzinfo=CT)


async def enrolled(api: Api) -> tuple[Team, str, Handle]:
    """A contact enrolled, inside both texting windows, in a plan that texts at once and then has a task the removal
    must stop; the member who owns the plan has a Twilio number."""
    team = await api.team()
    await give_member_twilio(api, team)
    plan_id = await make_plan(api, team, (0, [text("Checking in"), task_step("After")]))
    contact_id = await make_contact(api, team)
    await api.harness.advance_to(MORNING)
    enrollment_id, handle = await enroll(api, team.member, plan_id, contact_id)
    return team, enrollment_id, handle


async def give_member_twilio(api: Api, team: Team) -> None:
    async with session_scope(api.harness.sessions) as session:
        member = await session.get(Agent, team.member_id)
        assert member is not None
        member.twilio_account_sid, member.twilio_auth_token = TWILIO_SID, TWILIO_TOKEN
        member.twilio_from_number = "+15125550111"


async def removal_taken(handle: Handle) -> bool:
    """The workflow has taken the removal and asked the server to cancel the send under way."""
    kinds = [e.event_type async for e in handle.fetch_history_events()]
    return EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED in kinds


async def remove_while_held(api: Api, hold: HoldActivity | HoldAfterFirstRead, team: Team, enrollment_id: str,
                            handle: Handle) -> None:
    """DELETE while the send is held; once the workflow has taken the removal, let the send go on; the answer reads
    `removed`."""
    await asyncio.wait_for(hold.started.wait(), timeout=15)
    removal = asyncio.create_task(api.client.delete(f"/enrollments/{enrollment_id}", headers=team.member))
    await eventually(lambda: removal_taken(handle))
    hold.release.set()
    body = answered(await removal, 200)
    assert (body["status"], body["end_reason"]) == ("removed", "removed")


async def assert_removed_once(api: Api, team: Team, enrollment_id: str) -> None:
    """Ended `removed`, read so straight after the answer, with one `removed` event, and nothing scheduled after."""
    got = answered(await api.client.get(f"/enrollments/{enrollment_id}", headers=team.member), 200)
    assert (got["status"], got["end_reason"]) == ("removed", "removed")
    (row,) = await api.harness.rows(Enrollment)
    assert (row.status, row.end_reason) == ("removed", "removed")
    (event,) = await api.harness.rows(TimelineEvent, kind="removed")
    assert event.detail == "Dana Smith was removed from the plan 'Test Plan' (by Alex Agent)"
    assert await api.harness.rows(Task) == []


async def assert_not_sent(live: Live) -> None:
    """Twilio was never asked, no message was written (the attempt decided not to send) and the step was skipped."""
    assert live.twilio.messages == []
    assert not await _posted(live.twilio)
    assert await live.api.harness.rows(Message) == []
    (skipped,) = await live.api.harness.rows(TimelineEvent, kind="step_skipped")
    assert skipped.detail == "Text not sent: the contact left the plan (removed)"


class TestREnr2RemovalOrderedAgainstASend:
    async def test_a_send_that_started_before_the_removal_but_decides_after_it_sends_nothing(
            self, live: Live) -> None:
        live.hold.hold_run = 1
        team, enrollment_id, handle = await enrolled(live.api)
        await remove_while_held(live.api, live.hold, team, enrollment_id, handle)
        await assert_not_sent(live)
        await assert_removed_once(live.api, team, enrollment_id)

    async def test_a_retry_that_decides_after_the_removal_sends_nothing_and_cancels_its_message(
            self, live: Live) -> None:
        api = live.api
        live.hold.hold_run = 2
        live.twilio.fail_next(500)  # the first attempt reaches Twilio and fails: the step is retried
        team, enrollment_id, handle = await enrolled(api)
        await eventually(lambda: api.harness.has(Message, status="sending"))
        await api.harness.env.sleep(timedelta(seconds=3))  # the retry's backoff
        await remove_while_held(api, live.hold, team, enrollment_id, handle)
        assert live.twilio.messages == []
        (message,) = await api.harness.rows(Message)
        assert (message.status, message.error_message) == ("cancelled",
                                                           "Text not sent: the contact left the plan (removed)")
        await assert_removed_once(api, team, enrollment_id)

    async def test_a_send_that_committed_sending_first_goes_and_the_removal_still_ends_the_enrollment(
            self, live: Live) -> None:
        api, twilio = live.api, live.twilio
        twilio.delay_next_response(2.0)  # Twilio has the message; its answer is slow
        team, enrollment_id, _ = await enrolled(api)
        await eventually(lambda: _posted(twilio))
        body = answered(await api.client.delete(f"/enrollments/{enrollment_id}", headers=team.member), 200)
        assert (body["status"], body["end_reason"]) == ("removed", "removed")
        assert [m["body"] for m in twilio.messages] == ["Checking in"]
        (message,) = await api.harness.rows(Message)
        assert (message.status, message.provider_id) == ("sent", twilio.messages[0]["sid"])
        await assert_removed_once(api, team, enrollment_id)


class HoldAfterFirstRead:
    """Holds the connection of the first step that reads its rows (the query joining messages), just after that read,
    inside its transaction: a database hook the test controls, awaited in SQLAlchemy's greenlet (`await_only`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _after(self, conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if "JOIN messages" in statement and not self.started.is_set():
            self.started.set()
            await_only(self.release.wait())


class TestREnr2RemovalOrderedInsideTheSendsTransaction:
    async def test_a_removal_committed_after_the_sends_first_read_is_seen_by_its_locked_read(
            self, live: Live) -> None:
        engine = live.api.harness.sessions.kw["bind"]
        if engine.dialect.name == "sqlite":
            pytest.skip("a SQLite step's transaction holds the write lock from BEGIN IMMEDIATE: nothing can commit "
                        "between its first read and its commit")
        hold = HoldAfterFirstRead(engine)  # PostgreSQL: the removal's mark commits after the send's first read
        team, enrollment_id, handle = await enrolled(live.api)
        await remove_while_held(live.api, hold, team, enrollment_id, handle)
        await assert_not_sent(live)
        await assert_removed_once(live.api, team, enrollment_id)


async def _posted(twilio: FakeTwilio) -> bool:
    return any(method == "POST" for method, _ in twilio.requests)
