"""Webhooks through the real app: Twilio texts and delivery reports signed with Twilio's own algorithm, SendGrid
Inbound Parse behind its secret, the unsubscribe link; and their effect on running plans."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from twilio.request_validator import RequestValidator

from api.app import create_app
from db.models import Agent, Contact, Message, TimelineEvent
from db.session import session_scope
from domain.email_content import unsubscribe_token
from tests.api.conftest import Api
from tests.factories import TWILIO_SID, TWILIO_TOKEN, World, add_plan, email, eventually, next_local, plan_doc, seed
from tests.factories import task as task_step
from tests.factories import text as text_step
from tests.fakes import FakeTwilio
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import EnrollmentResult

PUBLIC = "https://plans.example.com"  # the api fixture's PUBLIC_BASE_URL: what Twilio calls and signs
AGENT_NUMBER = "+15125550111"  # the seeded agent's Twilio number
CONTACT_PHONE = "+15125550199"
SECRET = "parse-secret"
Handle = WorkflowHandle[EnrollmentWorkflow, EnrollmentResult]


def sms(body: str, sid: str | None = None, **fields: str) -> dict[str, str]:
    return {"MessageSid": sid or "SM" + uuid.uuid4().hex, "AccountSid": TWILIO_SID, "From": CONTACT_PHONE,
            "To": AGENT_NUMBER, "Body": body, "NumMedia": "0", **fields}


def signed(path: str, params: dict[str, str], token: str = TWILIO_TOKEN, base: str = PUBLIC) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(base + path, params)}


async def text_in(client: httpx.AsyncClient, params: dict[str, str], **sign: str) -> httpx.Response:
    headers = signed("/webhooks/twilio/sms", params, **sign)
    return await client.post("/webhooks/twilio/sms", data=params, headers=headers)


async def status_in(client: httpx.AsyncClient, sid: str, status: str, **extra: str) -> httpx.Response:
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": TWILIO_SID, "From": AGENT_NUMBER,
              "To": CONTACT_PHONE, **extra}
    return await client.post("/webhooks/twilio/status", data=params, headers=signed("/webhooks/twilio/status", params))


@asynccontextmanager
async def client_for(api: Api, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The same app, database and Temporal as `api`, with other settings (a provider, a secret)."""
    app = create_app(api.harness.settings.model_copy(update=settings), temporal=api.harness.env.client,
                     sessions=api.harness.sessions, clock=api.harness.env.get_current_time)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test") as client:
        yield client


async def contact_of(api: Api, world: World) -> Contact:
    (contact,) = await api.harness.rows(Contact, id=world.contact_id)
    assert isinstance(contact, Contact)
    return contact


async def kinds(api: Api, world: World) -> list[str]:
    return [e.kind for e in await api.harness.rows(TimelineEvent, contact_id=world.contact_id)]


async def signal_handled(handle: Handle) -> bool:
    """The workflow took the reply signal and acted on it (a workflow task completed after it)."""
    events = [e.event_type for e in (await handle.fetch_history()).events]
    if EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED not in events:
        return False
    after = events[events.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED):]
    return EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in after


class TestTwilioSignature:
    async def test_a_validly_signed_text_is_recorded_and_answered_with_empty_twiml(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        answer = await text_in(api.client, sms("Sounds good", sid="SM1"))
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/xml")
        assert answer.text.endswith("<Response/>")
        (message,) = await api.harness.rows(Message)
        assert (message.direction, message.channel, message.status, message.provider, message.provider_id,
                message.idempotency_key, message.contact_id, message.agent_id) == (
            "inbound", "sms", "received", "twilio", "SM1", "twilio:in:SM1", world.contact_id, world.agent_id)
        assert await kinds(api, world) == ["reply_received"]

    async def test_a_text_holding_nul_is_recorded_without_it(self, api: Api) -> None:
        """The signature is checked on what Twilio sent; PostgreSQL cannot store NUL, so the record drops it."""
        await seed(api.harness.sessions)
        answer = await text_in(api.client, sms("Sounds\x00 good", sid="SM9"))
        assert answer.status_code == 200
        (message,) = await api.harness.rows(Message)
        assert message.body == "Sounds good"

    @pytest.mark.parametrize("headers", [
        pytest.param(signed("/webhooks/twilio/sms", sms("STOP", sid="SM2"), token="another-token"), id="wrong-token"),
        pytest.param(signed("/webhooks/twilio/sms", sms("STOP", sid="SM2"), base="http://api.test"), id="internal-url"),
        pytest.param(signed("/webhooks/twilio/sms", sms("Hello", sid="SM2")), id="other-body"),
        pytest.param({}, id="missing"),
    ])
    async def test_a_bad_or_missing_signature_is_403_and_changes_nothing(self, api: Api,
                                                                         headers: dict[str, str]) -> None:
        world = await seed(api.harness.sessions)
        answer = await api.client.post("/webhooks/twilio/sms", data=sms("STOP", sid="SM2"), headers=headers)
        assert answer.status_code == 403
        assert await api.harness.rows(Message) == []
        assert await kinds(api, world) == []
        assert not (await contact_of(api, world)).opted_out

    async def test_a_number_without_its_own_token_is_checked_with_the_configured_one(self, api: Api) -> None:
        world = await seed(api.harness.sessions, agent_twilio=False,
                           agent={"twilio_account_sid": TWILIO_SID, "twilio_from_number": AGENT_NUMBER})
        assert (await text_in(api.client, sms("Hi"))).status_code == 403  # no token anywhere: cannot verify
        async with client_for(api, twilio_auth_token="account-token") as client:
            assert (await text_in(client, sms("Hi"), token="account-token")).status_code == 200
        assert await kinds(api, world) == ["reply_received"]

    async def test_a_text_to_a_number_no_agent_owns_is_accepted_and_ignored(self, api: Api) -> None:
        await seed(api.harness.sessions)
        async with client_for(api, twilio_auth_token="account-token") as client:
            answer = await text_in(client, sms("Hi", To="+15125550999"), token="account-token")
        assert answer.status_code == 200
        assert await api.harness.rows(Message) == []


class TestRTxt4OptOut:
    @pytest.mark.parametrize("body", ["STOP", "  stop ", "Opt Out", "opt   out", "StopAll", "unsubscribe\n", "End",
                                      "quit", "CANCEL", "revoke", "OPTOUT"])
    async def test_an_opt_out_word_opts_out_and_is_confirmed_once(self, api: Api, body: str) -> None:
        world = await seed(api.harness.sessions)
        assert (await text_in(api.client, sms(body, sid="SM10"))).status_code == 200
        contact = await contact_of(api, world)
        assert contact.opted_out
        assert contact.opted_out_at is not None
        assert await kinds(api, world) == ["reply_received", "opted_out"]
        (confirmation,) = await api.harness.rows(Message, direction="outbound")
        assert (confirmation.to_address, confirmation.from_address, confirmation.status,
                confirmation.idempotency_key) == (CONTACT_PHONE, AGENT_NUMBER, "recorded", "twilio:optout-confirm:SM10")
        assert "Reply START" in confirmation.body

    async def test_a_replayed_stop_is_processed_once(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        params = sms("STOP", sid="SM11")
        first, again = await text_in(api.client, params), await text_in(api.client, params)
        assert (first.status_code, again.status_code) == (200, 200)
        assert first.text == again.text
        assert len(await api.harness.rows(Message, direction="inbound")) == 1
        assert len(await api.harness.rows(Message, direction="outbound")) == 1
        assert await kinds(api, world) == ["reply_received", "opted_out"]

    async def test_two_deliveries_at_once_are_processed_once(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        params = sms("STOP", sid="SM15")
        answers = await asyncio.gather(text_in(api.client, params), text_in(api.client, params))
        assert [a.status_code for a in answers] == [200, 200]
        assert len(await api.harness.rows(Message, direction="inbound")) == 1
        assert len(await api.harness.rows(Message, direction="outbound")) == 1
        assert await kinds(api, world) == ["reply_received", "opted_out"]

    async def test_an_opt_out_word_inside_a_sentence_is_a_reply(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        await text_in(api.client, sms("Please stop texting me on Sundays"))
        assert not (await contact_of(api, world)).opted_out
        assert await api.harness.rows(Message, direction="outbound") == []

    @pytest.mark.parametrize("word", ["START", " unstop "])
    async def test_start_opts_back_in_and_is_confirmed_once(self, api: Api, word: str) -> None:
        world = await seed(api.harness.sessions)
        await text_in(api.client, sms("STOP", sid="SM12"))
        params = sms(word, sid="SM13")
        await text_in(api.client, params)
        await text_in(api.client, params)
        contact = await contact_of(api, world)
        assert (contact.opted_out, contact.opted_out_at) == (False, None)
        assert await kinds(api, world) == ["reply_received", "opted_out", "reply_received", "opted_in"]
        keys = [m.idempotency_key for m in await api.harness.rows(Message, direction="outbound")]
        assert keys == ["twilio:optout-confirm:SM12", "twilio:optin-confirm:SM13"]

    async def test_start_from_a_contact_who_never_opted_out_or_is_on_do_not_call_gets_no_text(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        await text_in(api.client, sms("START", sid="SM16"))
        async with session_scope(api.harness.sessions) as session:
            contact = await session.get_one(Contact, world.contact_id)
            contact.do_not_call = True
        await text_in(api.client, sms("STOP", sid="SM17"))

        await text_in(api.client, sms("START", sid="SM18"))

        contact = await contact_of(api, world)
        assert (contact.opted_out, contact.do_not_call) == (False, True)
        assert await kinds(api, world) == ["reply_received", "reply_received", "opted_out", "reply_received",
                                           "opted_in"]
        keys = [m.idempotency_key for m in await api.harness.rows(Message, direction="outbound")]
        assert keys == ["twilio:optout-confirm:SM17"]

    async def test_the_confirmation_goes_out_through_twilio_when_live(self, api: Api, twilio: FakeTwilio) -> None:
        twilio.add_account(TWILIO_SID, TWILIO_TOKEN)
        await seed(api.harness.sessions)
        async with client_for(api, messaging_provider="live", twilio_base_url=twilio.base_url) as client:
            params = sms("Stop", sid="SM14")
            await text_in(client, params)
            await text_in(client, params)
        (sent,) = twilio.messages
        assert (sent["to"], sent["from"], sent["status_callback"]) == (
            CONTACT_PHONE, AGENT_NUMBER, f"{PUBLIC}/webhooks/twilio/status")
        (confirmation,) = await api.harness.rows(Message, direction="outbound")
        assert (confirmation.provider, confirmation.provider_id, confirmation.status) == ("twilio", sent["sid"], "sent")

    async def test_a_stop_skips_the_next_text_of_a_running_plan(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        h = api.harness
        plan_id = await add_plan(h.sessions, world, plan_doc((0, [task_step()]), (1, [text_step("Day two")])))
        start = await next_local(h, 11)
        await h.advance_to(start)
        handle = await h.enroll(plan_id, world.contact_id)
        await text_in(api.client, sms("STOP"))
        assert (await h.finish(handle)).reason == "completed"
        (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
        assert skipped.detail == "Text not sent: the contact opted out of texts"
        assert [m.body for m in await h.rows(Message, direction="outbound")] == [
            "You're unsubscribed from Alex Agent's texts and will get no more messages. Reply START to resubscribe."]


class TestRRule5ReplyRemoval:
    async def test_a_text_reply_removes_the_contact_only_from_plans_with_the_rule(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        h = api.harness
        ruled = await add_plan(h.sessions, world, plan_doc((0, [text_step("A1")]), (5, [text_step("A2")]), name="A"),
                               on_text_reply=True)
        plain = await add_plan(h.sessions, world, plan_doc((0, [text_step("B1")]), (5, [text_step("B2")]), name="B"))
        await h.advance_to(await next_local(h, 11))
        removed, kept = await h.enroll(ruled, world.contact_id), await h.enroll(plain, world.contact_id)
        await eventually(lambda: h.has(Message, 2, direction="outbound"))
        assert (await text_in(api.client, sms("Yes, call me tomorrow"))).status_code == 200
        # The clock stays locked (no `finish`): removal needs no time, and plan B must not reach its day 6.
        assert (await removed.result()).reason == "replied_text"
        await eventually(lambda: signal_handled(kept))
        assert (await kept.query(EnrollmentWorkflow.progress)).status == "active"
        assert sorted(await kinds(api, world)) == ["enrolled", "enrolled", "removed", "reply_received",
                                                   "step_executed", "step_executed"]

    async def test_a_reply_from_an_unknown_number_is_recorded_without_a_contact(self, api: Api) -> None:
        await seed(api.harness.sessions)
        assert (await text_in(api.client, sms("Who is this?", From="+15125550000"))).status_code == 200
        (message,) = await api.harness.rows(Message)
        assert (message.contact_id, message.from_address) == (None, "+15125550000")
        assert await api.harness.rows(TimelineEvent) == []


class TestTwilioStatusCallbacks:
    async def _sent_text(self, api: Api, world: World, sid: str, status: str = "sent") -> None:
        async with session_scope(api.harness.sessions) as session:
            session.add(Message(id=f"msg_{sid}", team_id=world.team_id, contact_id=world.contact_id,
                                agent_id=world.agent_id, direction="outbound", channel="sms", to_address=CONTACT_PHONE,
                                from_address=AGENT_NUMBER, body="Hi", provider="twilio", provider_id=sid,
                                status=status))

    async def _status(self, api: Api, sid: str) -> tuple[str, str | None]:
        (message,) = await api.harness.rows(Message, provider_id=sid)
        return message.status, message.error_code

    async def test_statuses_only_move_forward(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        await self._sent_text(api, world, "SM20", status="sending")
        for reported, expected in [("sent", "sent"), ("queued", "sent"), ("delivered", "delivered"),
                                   ("sent", "delivered"), ("failed", "delivered")]:
            assert (await status_in(api.client, "SM20", reported)).status_code == 200
            assert (await self._status(api, "SM20"))[0] == expected, reported

    async def test_an_undelivered_text_keeps_its_error_and_21610_opts_the_contact_out(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        await self._sent_text(api, world, "SM21")
        await status_in(api.client, "SM21", "undelivered", ErrorCode="21610")
        assert await self._status(api, "SM21") == ("undelivered", "21610")
        assert (await contact_of(api, world)).opted_out
        assert await kinds(api, world) == ["opted_out"]

    async def test_an_unknown_sid_changes_nothing(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        await self._sent_text(api, world, "SM22")
        assert (await status_in(api.client, "SM-unknown", "delivered")).status_code == 200
        assert await self._status(api, "SM22") == ("sent", None)

    async def test_a_bad_signature_is_403_and_changes_nothing(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        await self._sent_text(api, world, "SM23")
        params = {"MessageSid": "SM23", "MessageStatus": "delivered", "From": AGENT_NUMBER}
        answer = await api.client.post("/webhooks/twilio/status", data=params,
                                       headers=signed("/webhooks/twilio/status", params, token="nope"))
        assert answer.status_code == 403
        assert await self._status(api, "SM23") == ("sent", None)


def inbound_email(message_id: str | None = "<reply-1@mail.example.com>", sender: str = "Dana Smith <DANA@example.com>",
                  to: str = "Alex Agent <alex@example.com>") -> dict[str, Any]:
    """Keyword arguments for a multipart post shaped like Inbound Parse's (fields plus an attachment)."""
    headers = f"Message-ID: {message_id}\nSubject: Re: Hello\n" if message_id else "Subject: Re: Hello\n"
    fields = {"from": sender, "to": to, "subject": "Re: Hello", "text": "Yes please, send listings.",
              "html": "<p>Yes please</p>", "headers": headers, "attachments": "1",
              "envelope": json.dumps({"to": [parseaddr(to)[1]], "from": "bounce@mail.example.com"})}
    return {"data": fields, "files": {"attachment1": ("budget.txt", b"up to 450k", "text/plain")}}


class TestSendGridInbound:
    async def test_a_reply_holding_nul_is_recorded_without_it(self, api: Api) -> None:
        await seed(api.harness.sessions)
        post = inbound_email()
        post["data"]["text"] = "Yes\x00 please"
        async with client_for(api, sendgrid_inbound_secret=SECRET) as client:
            answer = await client.post(f"/webhooks/sendgrid/inbound?secret={SECRET}", **post)
        assert answer.status_code == 200
        (message,) = await api.harness.rows(Message)
        assert message.body == "Yes please"

    async def test_a_reply_with_the_secret_is_recorded_once_per_message_id(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        async with client_for(api, sendgrid_inbound_secret=SECRET) as client:
            by_query = await client.post(f"/webhooks/sendgrid/inbound?secret={SECRET}", **inbound_email())
            auth = {"Authorization": "Basic " + base64.b64encode(f"sendgrid:{SECRET}".encode()).decode()}
            by_basic_auth = await client.post("/webhooks/sendgrid/inbound", **inbound_email(), headers=auth)
        assert (by_query.status_code, by_basic_auth.status_code) == (200, 200)
        (message,) = await api.harness.rows(Message)
        assert (message.channel, message.direction, message.from_address, message.to_address, message.contact_id,
                message.agent_id, message.idempotency_key, message.body) == (
            "email", "inbound", "dana@example.com", "alex@example.com", world.contact_id, world.agent_id,
            "sendgrid:in:reply-1@mail.example.com", "Yes please, send listings.")
        assert await kinds(api, world) == ["reply_received"]

    @pytest.mark.parametrize(("configured", "query", "auth"), [
        pytest.param(SECRET, "?secret=wrong", None, id="wrong-secret"),
        pytest.param(SECRET, "", None, id="missing"),
        pytest.param(SECRET, "", "sendgrid:wrong", id="wrong-basic-auth"),
        pytest.param("", "?secret=", None, id="not-configured"),
    ])
    async def test_a_bad_or_missing_secret_is_403_and_changes_nothing(self, api: Api, configured: str, query: str,
                                                                      auth: str | None) -> None:
        await seed(api.harness.sessions)
        headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
        async with client_for(api, sendgrid_inbound_secret=configured) as client:
            answer = await client.post(f"/webhooks/sendgrid/inbound{query}", **inbound_email(), headers=headers)
        assert answer.status_code == 403
        assert await api.harness.rows(Message) == []

    async def test_the_receiving_agent_scopes_the_sender_to_their_team(self, api: Api) -> None:
        ours, theirs = await seed(api.harness.sessions), await seed(api.harness.sessions)
        async with session_scope(api.harness.sessions) as session:
            other_agent = await session.get(Agent, theirs.agent_id)
            assert other_agent is not None
            other_agent.email = "sam@other.example.com"
        async with client_for(api, sendgrid_inbound_secret=SECRET) as client:
            await client.post(f"/webhooks/sendgrid/inbound?secret={SECRET}", **inbound_email())
            assert await kinds(api, ours) == ["reply_received"]
            assert await kinds(api, theirs) == []
            # Sent to no agent we know: each team's contact with that address hears of it, within its own team.
            await client.post(f"/webhooks/sendgrid/inbound?secret={SECRET}",
                              **inbound_email(message_id="<r2@x>", to="inbox@parse.example.com"))
        assert await kinds(api, ours) == ["reply_received", "reply_received"]
        assert await kinds(api, theirs) == ["reply_received"]

    async def test_an_email_reply_removes_the_contact_from_a_plan_that_emailed_them(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        h = api.harness
        plan_id = await add_plan(h.sessions, world, plan_doc((0, [email()]), (5, [email("Again")])),
                                 on_email_reply=True)
        await h.advance_to(await next_local(h, 11))
        handle = await h.enroll(plan_id, world.contact_id)
        await eventually(lambda: h.has(Message, direction="outbound"))
        async with client_for(api, sendgrid_inbound_secret=SECRET) as client:
            answer = await client.post(f"/webhooks/sendgrid/inbound?secret={SECRET}",
                                       **inbound_email(message_id=None, to="someone@elsewhere.example"))
        assert answer.status_code == 200
        assert (await h.finish(handle)).reason == "replied_email"
        assert len(await h.rows(Message, direction="outbound")) == 1


class TestREmail4Unsubscribe:
    async def test_the_link_unsubscribes_once_however_often_it_is_used(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        token = unsubscribe_token(api.harness.settings.link_secret, world.contact_id)
        page = await api.client.get(f"/unsubscribe/{token}")  # what a link scanner does: it must change nothing
        assert (page.status_code, '<form method="post">' in page.text) == (200, True)
        assert page.headers["content-type"].startswith("text/html")
        assert not (await contact_of(api, world)).unsubscribed
        button = await api.client.post(f"/unsubscribe/{token}")
        assert (button.status_code, "You're unsubscribed" in button.text) == (200, True)
        one_click = await api.client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert (one_click.status_code, "You're already unsubscribed" in one_click.text) == (200, True)
        again = await api.client.get(f"/unsubscribe/{token}")
        assert (again.status_code, "You're already unsubscribed" in again.text) == (200, True)
        contact = await contact_of(api, world)
        assert contact.unsubscribed
        assert contact.unsubscribed_at is not None
        assert await kinds(api, world) == ["unsubscribed"]

    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_a_forged_or_unknown_link_is_404(self, api: Api, method: str) -> None:
        world = await seed(api.harness.sessions)
        forged = unsubscribe_token("another-secret", world.contact_id)
        unknown = unsubscribe_token(api.harness.settings.link_secret, "ct_GONE")
        for token in (forged, unknown, "garbage"):
            assert (await api.client.request(method, f"/unsubscribe/{token}")).status_code == 404
        assert not (await contact_of(api, world)).unsubscribed

    async def test_after_unsubscribing_the_next_plan_email_is_skipped(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        h = api.harness
        plan_id = await add_plan(h.sessions, world, plan_doc((0, [email("First")]), (2, [email("Second")])))
        start = await next_local(h, 11)
        await h.advance_to(start)
        handle = await h.enroll(plan_id, world.contact_id)
        await eventually(lambda: h.has(Message, direction="outbound"))
        (first,) = await h.rows(Message, direction="outbound")
        link = re.search(r"/unsubscribe/(\S+)", first.body)
        assert link is not None
        assert (await api.client.post(f"/unsubscribe/{link.group(1)}")).status_code == 200
        await h.advance_to(start + timedelta(days=2, hours=1))
        assert (await h.finish(handle)).reason == "completed"
        (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
        assert skipped.detail == "Email not sent: the contact unsubscribed from plan email"
        assert [m.subject for m in await h.rows(Message, direction="outbound")] == ["First"]
