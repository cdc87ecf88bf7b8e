"""Live delivery through the official Twilio and SendGrid SDKs against loopback servers speaking their REST APIs:
what the providers received, exactly once, whatever the retries (R-COMP-2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from db.models import Contact, Message, Task, TimelineEvent
from db.session import session_scope
from tests.factories import (
    Harness,
    add_plan,
    email,
    live_worker,
    next_local,
    plan_doc,
    seed,
    task,
    text,
)
from tests.fakes import FakeSendGrid, FakeTwilio

Sessions = async_sessionmaker[AsyncSession]


@asynccontextmanager
async def live(env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio,
               sendgrid: FakeSendGrid) -> AsyncIterator[Harness]:
    async with live_worker(env, sessions, twilio, sendgrid) as harness:
        await harness.advance_to(await next_local(harness, 11))
        yield harness


class TestTwilioDelivery:
    async def test_a_text_is_sent_from_the_agents_number_with_a_status_callback(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("Hi {contact.first.name}, it's "
                                                                      "{agent.first.name}")])))
        async with live(env, sessions, twilio, sendgrid) as h:
            await h.finish(await h.enroll(plan_id, world.contact_id))
        (received,) = twilio.messages
        assert (received["to"], received["from"], received["body"]) == ("+15125550199", "+15125550111",
                                                                         "Hi Dana, it's Alex")
        assert received["status_callback"] == "https://plans.example.com/webhooks/twilio/status"
        (row,) = await h.rows(Message)
        assert (row.provider, row.provider_id, row.status) == ("twilio", received["sid"], "sent")

    async def test_a_retry_after_the_provider_accepted_but_we_lost_the_answer_sends_once(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("only once")])))
        twilio.delay_next_response(2.0)  # Twilio accepts the message; our 0.5 s timeout fires before the answer
        async with live(env, sessions, twilio, sendgrid) as h:
            handle = await h.enroll(plan_id, world.contact_id)
            await h.finish(handle)
        assert [m["body"] for m in twilio.messages] == ["only once"]
        (row,) = await h.rows(Message)
        assert (row.status, row.provider_id) == ("sent", twilio.messages[0]["sid"])
        (event,) = await h.rows(TimelineEvent, kind="step_executed")
        assert event.detail == "Text to +15125550199 sent via twilio (found after an interrupted send)"
        history = await handle.fetch_history()
        sends = [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
                 and e.activity_task_scheduled_event_attributes.activity_type.name == "send_text"]
        assert len(sends) == 2  # it really was attempted again

    async def test_a_transient_provider_error_is_retried_and_sent_once(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("after a 500")])))
        twilio.fail_next(status=500)
        async with live(env, sessions, twilio, sendgrid) as h:
            await h.finish(await h.enroll(plan_id, world.contact_id))
        assert [m["body"] for m in twilio.messages] == ["after a 500"]

    async def test_an_invalid_number_fails_on_the_timeline_without_retry_and_the_plan_moves_on(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("x"), task()])))
        twilio.reject_number("+15125550199", 21211, message="The 'To' number is not a valid phone number.")
        async with live(env, sessions, twilio, sendgrid) as h:
            result = await h.finish(await h.enroll(plan_id, world.contact_id))
        assert twilio.messages == []
        (row,) = await h.rows(Message)
        assert (row.status, row.error_code) == ("failed", "21211")
        (failed,) = await h.rows(TimelineEvent, kind="step_failed")
        assert "refused by twilio" in failed.detail
        assert "(code 21211)" in failed.detail
        assert len(await h.rows(Task)) == 1
        assert result.status == "completed"

    async def test_a_carrier_level_stop_opts_the_contact_out_of_every_later_text(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [text("one")]), (1, [text("two")])))
        twilio.reject_number("+15125550199", 21610, message="Attempt to send to unsubscribed recipient")
        async with live(env, sessions, twilio, sendgrid) as h:
            await h.finish(await h.enroll(plan_id, world.contact_id))
        async with session_scope(sessions) as session:
            contact = await session.get(Contact, world.contact_id)
            assert contact is not None
            assert contact.opted_out
        (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
        assert skipped.detail == "Text not sent: the contact opted out of texts"


class TestSendGridDelivery:
    async def test_an_email_goes_out_with_unsubscribe_header_and_reply_to_the_agent(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [email("Hello {contact.first.name}")])))
        async with live(env, sessions, twilio, sendgrid) as h:
            await h.finish(await h.enroll(plan_id, world.contact_id))
        (sent,) = sendgrid.emails
        personalization = sent["personalizations"][0]
        assert personalization["to"] == [{"email": "dana@example.com", "name": "Dana Smith"}]
        assert (sent["from"]["email"], sent["reply_to"]["email"], sent["subject"]) == (
            "alex@example.com", "alex@example.com", "Hello Dana")
        unsubscribe = sent["headers"]["List-Unsubscribe"]
        assert unsubscribe.startswith(f"<https://plans.example.com/unsubscribe/{world.contact_id}.")
        html = next(c["value"] for c in sent["content"] if c["type"] == "text/html")
        assert "1 Main St, Austin TX 78701" in html
        (row,) = await h.rows(Message)
        assert (row.provider, row.provider_id, row.status) == ("sendgrid", sendgrid.message_ids[0], "sent")

    async def test_a_design_email_sends_the_steps_copy_as_html_with_a_text_part_unsubscribe_link_and_address(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        """R-EMAIL-1 and R-EMAIL-4: the step's own html (no library design behind it at all), fields filled."""
        world = await seed(sessions)
        step = {"kind": "email", "mode": "design", "subject": "Market news, {contact.first.name}",
                "html": "<h1>Hello {contact.first.name}</h1><p>Prices rose.</p>"}
        plan_id = await add_plan(sessions, world, plan_doc((0, [step])))
        async with live(env, sessions, twilio, sendgrid) as h:
            handle = await h.enroll(plan_id, world.contact_id)
            await h.finish(handle)
        (sent,) = sendgrid.emails
        parts = {c["type"]: c["value"] for c in sent["content"]}
        assert sent["subject"] == "Market news, Dana"
        assert parts["text/html"].startswith("<h1>Hello Dana</h1><p>Prices rose.</p>")
        assert parts["text/plain"].startswith("Hello Dana\nPrices rose.")
        link = f"https://plans.example.com/unsubscribe/{world.contact_id}."
        for part in parts.values():
            assert "1 Main St, Austin TX 78701" in part
            assert link in part
        # The workflow never carries the html (payload size): the activity read it from the saved plan version.
        assert not [e for e in (await handle.fetch_history()).events if b"Prices rose" in e.SerializeToString()]

    async def test_an_ambiguous_failure_is_never_sent_twice(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [email("Once")])))
        sendgrid.delay_next_response(2.0)
        async with live(env, sessions, twilio, sendgrid) as h:
            await h.finish(await h.enroll(plan_id, world.contact_id))
        assert [e["subject"] for e in sendgrid.emails] == ["Once"]
        (row,) = await h.rows(Message)
        assert row.status == "unconfirmed"
        (event,) = await h.rows(TimelineEvent, kind="step_executed")
        assert "not sent again so the contact never gets it twice" in event.detail
