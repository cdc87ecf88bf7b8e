"""Issue 10, item 4: a provider outage delays texts, which then go out once, inside the window (R-TXT-3). Twilio
answers 500 for ten minutes, on the time-skipping server so the ten minutes pass in seconds, with the real worker
sending through the official SDK to the loopback Twilio."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta

from temporalio.testing import WorkflowEnvironment

from db.models import Contact, TimelineEvent
from db.session import session_scope
from domain.ids import new_id
from tests.factories import CT, add_plan, live_worker, plan_doc, seed, text
from tests.fakes import FakeTwilio
from tests.faults.traffic import Sessions

CONTACTS = 20
OUTAGE = timedelta(minutes=10)


async def add_contacts(sessions: Sessions, team_id: str, agent_id: str, count: int) -> dict[str, str]:
    """Contact id → phone."""
    phones = {new_id("ct"): f"+1512557{n:04d}" for n in range(count)}
    async with session_scope(sessions) as session:
        session.add_all(Contact(id=contact_id, team_id=team_id, owner_agent_id=agent_id, assignee_id=agent_id,
                                first_name=f"Contact{n}", phone=phone)
                        for n, (contact_id, phone) in enumerate(phones.items()))
    return phones


class TestTwilioDownForTenMinutes:
    async def test_texts_due_in_a_ten_minute_outage_go_out_once_each_after_it_inside_the_window(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio) -> None:
        world = await seed(sessions)
        phones = await add_contacts(sessions, world.team_id, world.agent_id, CONTACTS)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("Checking in, {contact.first.name}")])))
        twilio.go_down(500)
        async with live_worker(env, sessions, twilio) as h:
            start = datetime(2027, 2, 3, 11, 0, tzinfo=CT)
            await h.advance_to(start)
            handles = [await h.enroll(plan_id, contact) for contact in phones]
            await env.sleep(OUTAGE)
            assert twilio.messages == []  # nothing got through, and nothing was given up on
            history = await handles[0].fetch_history()
            assert sum(1 for e in history.events if e.HasField("activity_task_failed_event_attributes")) >= 4
            twilio.come_back()
            results = [await h.finish(handle) for handle in handles]
            sent = await h.rows(TimelineEvent, kind="step_executed")

        assert {result.status for result in results} == {"completed"}
        assert Counter(message["to"] for message in twilio.messages) == Counter(phones.values())
        assert len(sent) == CONTACTS
        for event in sent:
            at = event.at.astimezone(CT)
            assert at >= start + OUTAGE, at
            assert at.date() == start.date(), at
            assert time(10) <= at.time() < time(19), at
