"""What contacts send back: texts (opt-out words, R-TXT-4; replies, R-RULE-5), Twilio delivery reports, email
replies, and the email unsubscribe link (R-EMAIL-4).

Providers deliver webhooks at least once and retry on errors, so every inbound message is recorded under the
provider's own id (`twilio:in:{MessageSid}`, `sendgrid:in:{Message-ID}`): the unique key turns a replay, even a
concurrent one, into a no-op. Everything is committed *before* anything leaves the process (a confirmation text,
a signal to a workflow): a replay then finds the record and sends nothing, so a confirmation goes out at most once
(R-COMP-2). Opting out is a flag on the contact, read by every text step at send time, so it stops every plan at
once without signalling any workflow.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.messaging.providers import ProviderError, SmsProvider, SmsRequest
from config import Settings
from db.base import utcnow
from db.models import Agent, Contact, Enrollment, Message, Plan
from db.queries import write_timeline
from db.session import session_scope
from domain.email_content import html_to_text
from domain.ids import new_id
from domain.merge import full_name
from services.enrollments import request_removal
from services.signals import signal_each
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import Channel, ReplyReceived

log = logging.getLogger("smartplans.inbound")

SmsIntent = Literal["opt_out", "opt_in", "reply"]
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "REVOKE", "OPTOUT", "OPT OUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
OPT_OUT_REPLY = "You're unsubscribed from {agent}'s texts and will get no more messages. Reply START to resubscribe."
OPT_IN_REPLY = "You're resubscribed to texts from {agent}. Reply STOP to unsubscribe."

# Twilio's MessageStatus mapped onto the messages vocabulary, and how far along each one is: a callback may only
# move a message forward (callbacks arrive out of order; a late "sent" must not undo "delivered").
_TWILIO_STATUS = {"accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "sending",
                  "sent": "sent", "delivered": "delivered", "read": "delivered", "undelivered": "undelivered",
                  "failed": "failed", "canceled": "failed"}
_PROGRESS = {"queued": 0, "sending": 1, "sent": 2, "recorded": 2, "unconfirmed": 2,
             "delivered": 3, "undelivered": 3, "failed": 3}
TWILIO_UNSUBSCRIBED = "21610"  # the carrier has opted the recipient out (R-TXT-4)
_KEY_ROOM = 120  # idempotency keys are at most 200 characters, with room for a per-contact suffix


def sms_intent(body: str) -> SmsIntent:
    """R-TXT-4: only a whole body of one keyword counts (any case, outer and repeated spaces ignored)."""
    word = " ".join(body.split()).upper()
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    return "reply"


@dataclass(frozen=True)
class InboundSms:
    message_sid: str
    from_number: str
    to_number: str
    body: str


@dataclass(frozen=True)
class InboundEmail:
    sender: str  # lower-cased address
    recipients: tuple[str, ...]  # lower-cased addresses from `to` and the envelope
    subject: str | None
    body: str
    message_id: str | None


@dataclass
class _Recorded:
    message_ids: dict[str, str] = field(default_factory=dict)  # contact id → the reply as recorded for that contact
    # workflow id → (the contact it runs for, whether the reply removes them)
    answered: dict[str, tuple[str, bool]] = field(default_factory=dict)
    confirmation: tuple[str, SmsRequest] | None = None  # (message id, what to send) once committed


_RecordFn = Callable[[AsyncSession], Awaitable[_Recorded | None]]


def parse_inbound_email(form: Mapping[str, str]) -> InboundEmail | None:
    """The fields SendGrid Inbound Parse posts (`from`, `to`, `envelope`, `headers`, `text`, `html`, …)."""
    try:
        parsed = json.loads(form.get("envelope") or "{}")
    except ValueError:
        parsed = None
    envelope: dict[str, object] = parsed if isinstance(parsed, dict) else {}
    sender = parseaddr(form.get("from", ""))[1] or str(envelope.get("from") or "")
    if "@" not in sender:
        return None
    envelope_to = envelope.get("to")
    listed = [str(a) for a in envelope_to] if isinstance(envelope_to, list) else []
    recipients = tuple(dict.fromkeys(a.lower() for _, a in getaddresses([form.get("to", ""), *listed]) if "@" in a))
    message_id = HeaderParser().parsestr(form.get("headers", "")).get("Message-ID")
    message_id = message_id.strip().strip("<>").strip() if message_id else None
    body = form.get("text") or html_to_text(form.get("html", ""))
    return InboundEmail(sender=sender.lower(), recipients=recipients, subject=form.get("subject") or None,
                        body=body, message_id=message_id or None)


def _bounded(key: str) -> str:
    return key if len(key) <= _KEY_ROOM else key[:40] + hashlib.sha256(key.encode()).hexdigest()


class Inbound:
    """Runs its own transactions (commit before any send or signal), like `services.enrollments.enroll`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], temporal: Client, settings: Settings,
                 sms: SmsProvider) -> None:
        self._sessions = sessions
        self._temporal = temporal
        self._settings = settings
        self._sms = sms

    async def _replied(self, recorded: _Recorded, channel: Channel) -> None:
        """Each running enrollment the reply answers hears of it, and whether it removes the contact (R-RULE-5)."""
        answered = recorded.answered
        await signal_each(self._temporal, list(answered), lambda handle: handle.signal(
            EnrollmentWorkflow.contact_replied,
            ReplyReceived(channel=channel, message_id=recorded.message_ids.get(answered[handle.id][0]),
                          removes=answered[handle.id][1])))

    async def twilio_token_for_number(self, number: str) -> tuple[str | None, str]:
        """(agent id, auth token) of the Twilio account owning `number`; the configured token when no agent does."""
        async with self._sessions() as session:
            agent = await session.scalar(select(Agent).where(Agent.twilio_from_number == number)
                                         .order_by(Agent.created_at, Agent.id).limit(1))
        if agent is None:
            return None, self._settings.twilio_auth_token
        return agent.id, agent.twilio_auth_token or self._settings.twilio_auth_token

    async def twilio_token_for_status(self, message_sid: str, from_number: str) -> str:
        """Status callbacks are signed by the account that sent the message: its agent, else the From number's."""
        async with self._sessions() as session:
            agent = await session.scalar(
                select(Agent).join(Message, Message.agent_id == Agent.id)
                .where(Message.provider_id == message_sid, Message.direction == "outbound").limit(1))
        if agent is not None:
            return agent.twilio_auth_token or self._settings.twilio_auth_token
        return (await self.twilio_token_for_number(from_number))[1]

    async def text_received(self, sms: InboundSms, agent_id: str | None) -> None:
        """Record the text; STOP/START change the contact's text consent and are confirmed; anything else is a reply
        for the contact's running plans to weigh (R-RULE-5)."""
        if agent_id is None:
            log.warning("text %s to %s: no agent owns that number; ignored", sms.message_sid, sms.to_number)
            return
        key = f"twilio:in:{_bounded(sms.message_sid)}"
        recorded = await self._once(key, lambda session: self._record_text(session, sms, agent_id, key))
        if recorded is None:
            return
        if recorded.confirmation is not None:
            await self._send_confirmation(*recorded.confirmation)
        await self._replied(recorded, "sms")

    async def email_received(self, email: InboundEmail) -> None:
        """Record an email reply and tell the sender's running plans (R-RULE-5). Without a Message-ID there is
        nothing stable to deduplicate on, so such a mail is recorded each time it is delivered."""
        key = f"sendgrid:in:{_bounded(email.message_id)}" if email.message_id else None
        recorded = await self._once(key, lambda session: self._record_email(session, email, key))
        if recorded is not None:
            await self._replied(recorded, "email")

    async def status_received(self, message_sid: str, twilio_status: str, error_code: str | None) -> None:
        """A Twilio delivery report: moves the message forward only; an unknown sid or status changes nothing."""
        status = _TWILIO_STATUS.get(twilio_status.lower())
        async with session_scope(self._sessions) as session:
            message = await session.scalar(
                select(Message).where(Message.provider_id == message_sid, Message.direction == "outbound")
                .order_by(Message.created_at).limit(1))
            if message is None or status is None:
                log.info("status %r for message %s: nothing to update", twilio_status, message_sid)
                return
            if _PROGRESS[status] <= _PROGRESS.get(message.status, 0):
                return
            message.status = status
            if error_code and status in ("undelivered", "failed"):
                message.error_code, message.error_message = error_code, f"Twilio error {error_code}"
                if error_code == TWILIO_UNSUBSCRIBED and message.contact_id is not None:
                    contact = await session.get(Contact, message.contact_id)
                    if contact is not None:
                        await self._set_text_consent(session, contact, opted_out=True, key=f"twilio:st:{message_sid}",
                                                     why="the carrier reports the contact texted STOP (Twilio 21610)")

    async def _once(self, key: str | None, record: _RecordFn) -> _Recorded | None:
        """Run `record` in one transaction unless a message with `key` exists; None when it did (a replay)."""
        try:
            async with session_scope(self._sessions) as session:
                if key is not None and await _message_id(session, key) is not None:
                    log.info("inbound %s already recorded; replay ignored", key)
                    return None
                return await record(session)
        except IntegrityError:
            async with self._sessions() as session:
                if key is None or await _message_id(session, key) is None:
                    raise
            log.info("inbound %s recorded by a concurrent delivery; ignored", key)
            return None

    async def _record_text(self, session: AsyncSession, sms: InboundSms, agent_id: str, key: str) -> _Recorded:
        agent = await session.get(Agent, agent_id)
        assert agent is not None
        contacts = list(await session.scalars(select(Contact).where(
            Contact.team_id == agent.team_id, Contact.phone == sms.from_number).order_by(Contact.created_at)))
        now = utcnow()

        def text_for(contact: Contact | None, message_key: str | None) -> Message:
            return Message(id=new_id("msg"), team_id=agent.team_id, contact_id=contact.id if contact else None,
                           agent_id=agent.id, direction="inbound", channel="sms", to_address=sms.to_number,
                           from_address=sms.from_number, subject=None, body=sms.body, provider="twilio",
                           provider_id=sms.message_sid[:100], status="received", idempotency_key=message_key,
                           created_at=now)

        copies = await _record_for_each(session, contacts, key, text_for)
        recorded = _Recorded(message_ids={cid: m.id for cid, m in copies.items() if cid is not None})
        if not contacts:
            log.warning("text %s: no contact of team %s has that phone number", sms.message_sid, agent.team_id)
            return recorded
        intent = sms_intent(sms.body)
        opted_back_in = intent == "opt_in" and any(contact.opted_out for contact in contacts)
        for contact in contacts:
            await _reply_event(session, contact, copies[contact.id], f"Replied by text: {_quote(sms.body)}")
            if intent != "reply":
                await self._set_text_consent(session, contact, opted_out=intent == "opt_out", key=key,
                                             why=f"the contact texted {_quote(sms.body)}")
        if intent == "reply":
            recorded.answered = await _answered(session, [c.id for c in contacts], "sms", agent.id)
            return recorded
        if intent == "opt_in" and (not opted_back_in or any(contact.do_not_call for contact in contacts)):
            # R-TXT-4: a START that changed nothing needs no answer, and a number on the Do-Not-Call list gets no
            # text at all, a confirmation included; only STOP is always confirmed, as carriers require.
            return recorded
        body = (OPT_OUT_REPLY if intent == "opt_out" else OPT_IN_REPLY).format(
            agent=full_name(agent.first_name, agent.last_name))
        kind = "optout" if intent == "opt_out" else "optin"
        # Committed as `sending` with the inbound text: whatever happens next, it is never sent a second time.
        confirm = Message(id=new_id("msg"), team_id=agent.team_id, contact_id=contacts[0].id, agent_id=agent.id,
                          direction="outbound", channel="sms", to_address=sms.from_number, from_address=sms.to_number,
                          subject=None, body=body, provider=self._sms.name, status="sending",
                          idempotency_key=f"twilio:{kind}-confirm:{_bounded(sms.message_sid)}", created_at=now)
        session.add(confirm)
        callback = f"{self._settings.public_base_url}/webhooks/twilio/status" if self._sms.name != "outbox" else None
        request = SmsRequest(account_sid=agent.twilio_account_sid or "",
                             auth_token=agent.twilio_auth_token or self._settings.twilio_auth_token,
                             from_number=sms.to_number, to_number=sms.from_number, body=body, status_callback=callback,
                             reference=confirm.idempotency_key or confirm.id)
        recorded.confirmation = (confirm.id, request)
        return recorded

    async def _record_email(self, session: AsyncSession, email: InboundEmail, key: str | None) -> _Recorded | None:
        agents = list(await session.scalars(select(Agent).where(func.lower(Agent.email).in_(email.recipients))
                                            .order_by(Agent.created_at))) if email.recipients else []
        query = select(Contact).where(func.lower(Contact.email) == email.sender)
        if agents:  # the receiving agent's team only; otherwise each matching contact within its own team
            query = query.where(Contact.team_id.in_({a.team_id for a in agents}))
        contacts = list(await session.scalars(query.order_by(Contact.created_at)))
        if not contacts and not agents:
            log.warning("email %s: neither the sender nor a recipient is known; ignored", email.message_id)
            return None
        now = utcnow()

        def email_for(contact: Contact | None, message_key: str | None) -> Message:
            # Each contact's copy belongs to the contact's team (a sender may be a contact of several teams), and
            # to the agent of that team it was sent to, if any.
            team_id = contact.team_id if contact else agents[0].team_id
            agent = next((a for a in agents if a.team_id == team_id), None)
            to = agent.email if agent else (email.recipients[0] if email.recipients else "")
            return Message(id=new_id("msg"), team_id=team_id, contact_id=contact.id if contact else None,
                           agent_id=agent.id if agent else None, direction="inbound", channel="email",
                           to_address=to[:320], from_address=email.sender[:320],
                           subject=(email.subject or "")[:500], body=email.body, provider="sendgrid",
                           status="received", idempotency_key=message_key, created_at=now,
                           provider_id=email.message_id if email.message_id and len(email.message_id) <= 100 else None)

        copies = await _record_for_each(session, contacts, key, email_for)
        recorded = _Recorded(message_ids={cid: m.id for cid, m in copies.items() if cid is not None})
        for contact in contacts:
            await _reply_event(session, contact, copies[contact.id],
                               f"Replied by email: {_quote(email.subject or email.body)}")
        if not contacts:
            log.warning("email %s to team %s: no contact has the sender's address", email.message_id,
                        agents[0].team_id)
        by_team = {a.team_id: a.id for a in agents}
        for team_id in dict.fromkeys(c.team_id for c in contacts):
            # Each team's plans weigh the reply by the agent of that team it was sent to (none: every plan).
            recorded.answered |= await _answered(session, [c.id for c in contacts if c.team_id == team_id], "email",
                                                 by_team.get(team_id))
        return recorded

    async def _set_text_consent(self, session: AsyncSession, contact: Contact, *, opted_out: bool, key: str,
                                why: str) -> None:
        if contact.opted_out == opted_out:
            return
        contact.opted_out, contact.opted_out_at = opted_out, utcnow() if opted_out else None
        kind = "opted_out" if opted_out else "opted_in"
        detail = (f"Opted out of all texts: {why}" if opted_out else f"Opted back in to texts: {why}")
        await write_timeline(session, team_id=contact.team_id, contact_id=contact.id, kind=kind, detail=detail,
                             at=utcnow(), idempotency_key=f"{key}:{contact.id}:{kind}")

    async def _send_confirmation(self, message_id: str, request: SmsRequest) -> None:
        status, provider_id, error = "sent", None, None
        try:
            receipt = await asyncio.to_thread(self._sms.send, request)
            status = "recorded" if receipt.provider == "outbox" else "sent"
            provider_id = receipt.provider_id
        except ProviderError as err:
            # Twilio's own STOP handling may already block the number (21610): recorded, never retried.
            log.warning("opt-out confirmation %s not sent: %r", message_id, err)
            status, error = ("unconfirmed" if err.ambiguous else "failed"), err
        async with session_scope(self._sessions) as session:
            message = await session.get(Message, message_id)
            assert message is not None
            message.status, message.provider_id = status, provider_id
            if error is not None:
                message.error_code, message.error_message = error.code, error.message
            elif status != "recorded":  # the outbox sends nothing
                message.sent_at = utcnow()


async def _record_for_each(session: AsyncSession, contacts: Sequence[Contact], key: str | None,
                           build: Callable[[Contact | None, str | None], Message]) -> dict[str | None, Message]:
    """The reply recorded once for each contact it came from, so each sees it among its own messages (a number two
    contacts share; an address contacts of two teams have), or once for no contact. The first copy carries the
    provider's key, which a replay finds; the others add their contact to it."""
    copies: dict[str | None, Message] = {}
    for i, contact in enumerate([*contacts] or [None]):
        contact_id = contact.id if contact else None
        copies[contact_id] = build(contact, key if i == 0 or key is None else f"{key}:{contact_id}")
    session.add_all(list(copies.values()))
    await session.flush()  # a concurrent replay fails here, before anything else is written
    return copies


async def _message_id(session: AsyncSession, key: str) -> str | None:
    return await session.scalar(select(Message.id).where(Message.idempotency_key == key))


# An outbound message in these states never reached the contact (or not yet): a reply before the plan wrote on its
# channel does not count (R-RULE-5), as the workflow counts only the steps it executed.
_NOT_WRITTEN = ("queued", "sending", "failed", "cancelled")


async def _answered(session: AsyncSession, contact_ids: list[str], channel: Channel,
                    agent_id: str | None) -> dict[str, tuple[str, bool]]:
    """The running enrollments a reply answers, by workflow id, each with its contact and whether the reply removes
    the contact.

    Answered (R-RULE-5, R-TEAM-3): those that sent the contact a message on this channel from the agent it was sent
    back to. On a team plan each step may come from a different agent, so a reply to the assignee's number answers
    the plan whose texts came from that number, not every plan. With no known receiving agent (an email to an
    address that is nobody's), every running enrollment weighs it.

    Removes: the plan removes on a reply on this channel (its rules as they are now) and the enrollment has written
    to the contact on it. Those enrollments are marked as being removed here, in the transaction that records the
    reply, before their workflows hear of it: a step deciding after this commits finds the mark and sends nothing,
    as for a removal by hand (R-ENR-2), instead of a text already on its way going out after the contact replied.
    """
    if not contact_ids:
        return {}
    outbound = select(Message.id).where(Message.enrollment_id == Enrollment.id, Message.direction == "outbound",
                                        Message.channel == channel)
    rule = Plan.on_text_reply if channel == "sms" else Plan.on_email_reply
    query = (select(Enrollment.id, Enrollment.workflow_id, Enrollment.contact_id, rule,
                    outbound.where(Message.status.not_in(_NOT_WRITTEN)).exists().label("written"))
             .join(Plan, Plan.id == Enrollment.plan_id)
             .where(Enrollment.contact_id.in_(contact_ids), Enrollment.status == "active"))
    if agent_id is not None:
        query = query.where(outbound.where(Message.agent_id == agent_id,
                                           Message.status.not_in(("failed", "cancelled"))).exists())
    rows = (await session.execute(query.order_by(Enrollment.started_at))).all()
    removing = [enrollment_id for enrollment_id, _, _, removes_on_reply, written in rows
                if removes_on_reply and written]
    if removing:
        await request_removal(session, "replied_text" if channel == "sms" else "replied_email",
                              Enrollment.id.in_(removing))
    return {workflow_id: (contact_id, bool(removes_on_reply and written))
            for _, workflow_id, contact_id, removes_on_reply, written in rows}


async def _reply_event(session: AsyncSession, contact: Contact, message: Message, detail: str) -> None:
    channel: Channel = "sms" if message.channel == "sms" else "email"
    key = f"{message.idempotency_key}:{contact.id}" if message.idempotency_key else None
    await write_timeline(session, team_id=contact.team_id, contact_id=contact.id, kind="reply_received",
                         detail=detail, at=message.created_at, idempotency_key=key,
                         data={"message_id": message.id, "channel": channel})


def _quote(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return f"“{flat[:limit]}…”" if len(flat) > limit else f"“{flat}”"
