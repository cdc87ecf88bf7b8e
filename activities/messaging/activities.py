"""Automated text and email steps, sent at most once per plan position.

Twilio and SendGrid take no idempotency key, so the messages row is the guard (R-COMP-2): it is written under the
step's idempotency key as `sending` by the transaction that decides to send — the last commit before the provider is
called — and completed after. A retry that finds `sending` knows an earlier attempt may have reached the provider: it
asks the provider (`find_sent`) and only sends when the provider has no such message; a provider that cannot be asked
(SendGrid) gets `unconfirmed`, never a second copy. Each activity run is one attempt decided by the workflow, and
every attempt re-checks the rules as they are now (`activities.messaging.checks`): the enrollment still running and
no removal asked for (its row read in the deciding transaction, locked, so a removal is ordered against the send,
R-ENR-2), Do-Not-Call, opt-out, unsubscribe, the sender's Twilio and the text window in the contact's current zone.
A row from an earlier attempt that never reached the provider becomes `cancelled` when a later one finds a reason not
to send. Skips and failures are written to the timeline. The outbox (the development provider) sends nothing and
lives in this database: its message is recorded by the transaction that decides to send, as a task is, with no
provider call to guard."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messaging.checks import attempt_instant, enrollment_ended, outside_text_window
from activities.messaging.compose import compose_email
from activities.messaging.providers import EmailProvider, ProviderError, ProviderReceipt, SmsProvider, SmsRequest
from activities.parties import Parties, load_parties, load_step_rows
from activities.step_events import step_event, step_failed, step_skipped
from config import Settings
from db.base import table_of, utcnow
from db.models import Agent, Contact, Design, Message
from db.queries import emails_sent_in_month, plan_version
from db.session import session_scope
from domain.email_content import missing_postal_address, sender_postal_address
from domain.ids import new_id
from domain.merge import render
from domain.plan import EmailStep, TextStep, text_for_repeat
from domain.team import can_text
from domain.texting import email_blocked, text_blocked
from domain.windows import task_creation_time
from workflows.types import Channel, StepInput, StepOutcome

# Twilio's "recipient replied STOP to this number": the carrier has opted the contact out (R-TXT-4).
TWILIO_UNSUBSCRIBED = "21610"
_DONE = ("sent", "recorded", "delivered", "undelivered", "unconfirmed")
# Message statuses: sending (committed by the attempt that decides to send) → sent/recorded (→ delivered/undelivered
# by callbacks); queued (an attempt whose call certainly did not reach the provider: the next may send); failed
# (refused by the provider); unconfirmed (an interrupted send that cannot be asked about); cancelled (a later attempt
# found the contact opted out, unsubscribed or removed before anything reached the provider).
_RECONCILE_SLACK = timedelta(minutes=10)
_MESSAGE_INSERT = insert(table_of(Message))
_MESSAGE_COLUMNS = tuple(table_of(Message).columns)


class MessagingActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], settings: Settings,
                 sms: SmsProvider, email: EmailProvider) -> None:
        self._sessions = session_factory
        self._settings = settings
        self._sms = sms
        self._email = email

    @activity.defn
    async def send_text(self, step: StepInput) -> StepOutcome:
        spec = step.step
        assert isinstance(spec, TextStep)
        async with session_scope(self._sessions) as session:
            message = await load_step_rows(session, step, Message)
            if message is not None:
                request = await self._sms_request(session, message)
                settled = await self._settled(session, step, message, "sms",
                                              lambda since: self._sms.find_sent(request, since))
                if settled is not None:
                    return settled
            parties = await load_parties(session, step)
            blocked = await self._text_blocked(session, step, parties)
            if blocked is not None:
                if message is not None:
                    message.status, message.error_message = "cancelled", blocked.detail
                return blocked
            if message is None:
                body = render(text_for_repeat(spec, step.repeat), parties.merge_values())
                message = _new_message(step, parties, "sms", self._sms.name, to=parties.contact.phone or "",
                                       sender=parties.agent.twilio_from_number or "", subject=None, body=body)
            request = await self._sms_request(session, message)
            if self._sms.name == "outbox":
                return await _complete(session, step, message, self._sms.send(request), "Text", "")
            message.status = "sending"  # committed before the provider is called
            session.add(message)
        return await self._send(step, message, "sms", send=lambda: self._sms.send(request))

    @activity.defn
    async def send_email(self, step: StepInput) -> StepOutcome:
        spec = step.step
        assert isinstance(spec, EmailStep)
        refusal: ApplicationError | None = None
        async with session_scope(self._sessions) as session:
            message = await load_step_rows(session, step, Message)
            parties = await load_parties(session, step)
            design_html = await _design_html(session, step) if spec.mode == "design" else None
            request = compose_email(self._settings, step, parties, design_html)
            find = getattr(self._email, "find_sent", None)
            if message is not None:
                settled = await self._settled(session, step, message, "email",
                                              (lambda since: find(request, since)) if find else None)
                if settled is not None:
                    return settled
            checked = await _email_checks(session, step, parties, design_html, first=message is None)
            if isinstance(checked, StepOutcome):
                if message is not None:
                    message.status, message.error_message = "cancelled", checked.detail
                return checked
            refusal = checked
            if refusal is not None and message is not None:
                # A row an earlier attempt left `queued` (nothing reached the provider): this attempt refuses it.
                message.status, message.error_message = "cancelled", refusal.message
            if refusal is None and message is None:
                message = _new_message(step, parties, "email", self._email.name, to=request.to_email,
                                       sender=request.from_email, subject=request.subject, body=request.text)
            if message is not None and refusal is None:
                if self._email.name == "outbox":
                    return await _complete(session, step, message, self._email.send(request), "Email", "")
                message.status = "sending"  # committed before the provider is called
                session.add(message)
        if refusal is not None or message is None:
            assert refusal is not None
            raise refusal  # only now: the failure's timeline event is committed
        return await self._send(step, message, "email", send=lambda: self._email.send(request))

    async def _text_blocked(self, session: AsyncSession, step: StepInput, parties: Parties) -> StepOutcome | None:
        """Every attempt: the enrollment, Do-Not-Call, opt-out, the sender's Twilio and the window, as they are now."""
        left = await enrollment_ended(session, step)
        if left is not None:
            return await step_skipped(session, step, f"Text not sent: {left.why}", ends=left.ends)
        reason = text_blocked(parties.contact)
        if reason is None and not self._has_twilio(parties):
            if step.team_plan:  # R-TXT-5: the designated sender has no Twilio: a text task for them instead
                created = task_creation_time(attempt_instant(step), step.time_zone)
                return StepOutcome(status="deferred", as_task=True, resume_at=created,
                                   detail=f"{parties.agent_name} has no Twilio number: a text task instead")
            reason = f"{parties.agent_name} has no Twilio setup"
        if reason is not None:
            return await step_skipped(session, step, f"Text not sent: {reason}")
        outside = outside_text_window(step, parties.contact)
        if outside is not None and outside.status == "skipped":
            return await step_skipped(session, step, outside.detail)
        return outside

    async def _settled(self, session: AsyncSession, step: StepInput, message: Message, channel: Channel,
                       find: Callable[[datetime], ProviderReceipt | None] | None) -> StepOutcome | None:
        """What an earlier attempt already came to, or None when nothing reached the provider (send may go on).

        A `sending` row means an earlier attempt may have reached the provider: it is asked before anything is
        sent again; a provider that cannot be asked (SendGrid) gets `unconfirmed`, never a second copy.
        """
        noun = "Text" if channel == "sms" else "Email"
        if message.status in _DONE:
            return StepOutcome(status="executed", detail=f"{noun} already {message.status}", channel=channel,
                               record_id=message.id)
        if message.status == "failed":
            return StepOutcome(status="failed", detail=message.error_message or f"{noun} failed",
                               record_id=message.id)
        if message.status == "cancelled":
            return StepOutcome(status="skipped", detail=message.error_message or f"{noun} not sent",
                               record_id=message.id)
        if message.status != "sending":
            return None
        # The first attempt happened at or after the row was written, in real time (the plan's instant,
        # created_at, can be ahead of the wall clock in simulation, never behind it in production).
        since = min(message.created_at, utcnow()) - _RECONCILE_SLACK
        receipt = await asyncio.to_thread(find, since) if find else None
        if receipt is not None:
            return await _complete(session, step, message, receipt, noun, "found after an interrupted send")
        if find is None:
            message.status = "unconfirmed"
            detail = (f"{noun} to {message.to_address} may have been sent by an interrupted attempt; "
                      "not sent again so the contact never gets it twice")
            await step_event(session, step, "step_executed", detail, {"message_id": message.id})
            return StepOutcome(status="executed", detail=detail, channel=channel, record_id=message.id)
        message.status = "queued"  # the provider has no such message: it was never accepted
        return None

    async def _send(self, step: StepInput, message: Message, channel: Channel,
                    send: Callable[[], ProviderReceipt]) -> StepOutcome:
        """Hand the message (its row committed as `sending`) to the provider and record the answer.

        Shielded from cancellation: once the row says `sending` the provider may have the message, so a removal
        arriving now lets the send finish and be recorded (R-ENR-2: "unless the provider already has it"). The
        heartbeat before the call restarts the heartbeat timeout for a provider that may be slow to answer.
        """
        activity.heartbeat()
        sending = asyncio.ensure_future(self._provider_call(step, message, channel, send))
        try:
            return await asyncio.shield(sending)
        except asyncio.CancelledError:
            return await sending

    async def _provider_call(self, step: StepInput, message: Message, channel: Channel,
                             send: Callable[[], ProviderReceipt]) -> StepOutcome:
        noun = "Text" if channel == "sms" else "Email"
        try:
            receipt = await asyncio.to_thread(send)
        except ProviderError as err:
            failure: ApplicationError | None = None
            async with session_scope(self._sessions) as session:
                session.add(message)  # the row as the deciding transaction committed it; no need to read it again
                if err.permanent:
                    message.status, message.error_code, message.error_message = "failed", err.code, err.message
                    if channel == "sms" and err.code == TWILIO_UNSUBSCRIBED:
                        await _mark_opted_out(session, message.contact_id, step.scheduled_for)
                    failure = await step_failed(session, step, "ProviderRejected",
                                                f"{noun} to {message.to_address} refused by {message.provider}: "
                                                f"{err.message} (code {err.code})")
                elif not err.reached_provider:
                    message.status = "queued"  # certainly not accepted: the next attempt may send
            if failure is not None:
                raise failure from err
            raise ApplicationError(f"{noun} provider unavailable: {err.message}", type="ProviderUnavailable") from err
        async with session_scope(self._sessions) as session:
            session.add(message)
            return await _complete(session, step, message, receipt, noun, "")

    def _has_twilio(self, parties: Parties) -> bool:
        agent = parties.agent
        return can_text(agent.twilio_from_number, agent.twilio_account_sid,
                        agent.twilio_auth_token or self._settings.twilio_auth_token, outbox=self._sms.name == "outbox")

    async def _sms_request(self, session: AsyncSession, message: Message) -> SmsRequest:
        agent = await session.get(Agent, message.agent_id) if message.agent_id else None
        live = self._sms.name != "outbox"
        return SmsRequest(
            account_sid=(agent.twilio_account_sid if agent else None) or "",
            auth_token=(agent.twilio_auth_token if agent else None) or self._settings.twilio_auth_token,
            from_number=message.from_address, to_number=message.to_address, body=message.body,
            status_callback=f"{self._settings.public_base_url}/webhooks/twilio/status" if live else None,
            reference=message.idempotency_key or message.id)


async def _design_html(session: AsyncSession, step: StepInput) -> str | None:
    """The HTML a design email sends: the step's own copy, read from the plan version the enrollment runs (the
    workflow does not carry it: `PlanDefinition.without_design_html`); for a step saved before steps held copies, the
    library design as it is now; None when neither exists."""
    spec = step.step
    assert isinstance(spec, EmailStep)
    if spec.html is not None:
        return spec.html
    version = await plan_version(session, step.plan_id, step.plan_version)
    saved = next((s for day in (version.definition.get("days", []) if version else [])
                  for s in day.get("steps", []) if spec.id is not None and s.get("id") == spec.id), None)
    if saved is not None and saved.get("html") is not None:
        return str(saved["html"])
    design = await session.get(Design, spec.design_id) if spec.design_id else None
    return design.html if design is not None else None


async def _email_checks(session: AsyncSession, step: StepInput, parties: Parties, design_html: str | None, *,
                        first: bool) -> StepOutcome | ApplicationError | None:
    """Every attempt: a skip (the enrollment ended, R-EMAIL-4), a refusal to raise once committed (no postal address,
    R-EMAIL-4, at every attempt; R-EMAIL-3, only before the first send is queued: a queued send already counts in the
    quota), or None to send.

    No postal address is a failure, not a skip: the law asks one of every email (CAN-SPAM), nothing about the contact
    changes by waiting, and the red failure on the timeline tells the agent what to fix; retrying would only send the
    email unannounced whenever an address appears, days after its step."""
    spec = step.step
    assert isinstance(spec, EmailStep)
    left = await enrollment_ended(session, step)
    if left is not None:
        return await step_skipped(session, step, f"Email not sent: {left.why}", ends=left.ends)
    blocked = email_blocked(parties.contact)
    if blocked is not None:
        return await step_skipped(session, step, f"Email not sent: {blocked}")
    if sender_postal_address(parties.agent.postal_address, parties.team.postal_address) is None:
        return await step_failed(session, step, "PostalAddressMissing",
                                 f"Email not sent: {missing_postal_address(parties.agent_name)}; "
                                 "it will not be retried")
    if not first:
        return None
    quota = parties.agent.email_quota_monthly
    if await emails_sent_in_month(session, parties.agent.id, step.scheduled_for) >= quota:
        return await step_failed(session, step, "QuotaExceeded",
                                 f"Email not sent: {parties.agent_name} reached the monthly limit of {quota:,} emails; "
                                 "it will not be retried")
    if spec.mode == "design" and design_html is None:
        return await step_failed(session, step, "DesignMissing",
                                 f"Email not sent: design {spec.design_id} no longer exists")
    return None


def _new_message(step: StepInput, parties: Parties, channel: Literal["sms", "email"], provider: str, *, to: str,
                 sender: str, subject: str | None, body: str) -> Message:
    # created_at is the plan's instant, so quotas count by the month the plan sent in.
    return Message(id=new_id("msg"), team_id=step.team_id, contact_id=step.contact_id, agent_id=parties.agent.id,
                   enrollment_id=step.enrollment_id, plan_id=step.plan_id, step_id=step.step.id,
                   direction="outbound", channel=channel, to_address=to, from_address=sender, subject=subject,
                   body=body, provider=provider, status="queued", idempotency_key=step.idempotency_key,
                   created_at=step.scheduled_for)


async def _complete(session: AsyncSession, step: StepInput, message: Message, receipt: ProviderReceipt, noun: str,
                    how: str) -> StepOutcome:
    message.provider_id = receipt.provider_id
    message.status = "recorded" if receipt.provider == "outbox" else "sent"
    # The outbox sends nothing: a recorded message has no `sent_at` (its `created_at` says when it was due).
    message.sent_at = None if message.status == "recorded" else utcnow()
    if inspect(message).transient:
        # A message recorded by the attempt that created it (the outbox) is written once, complete, by a plain
        # insert: the session's unit of work costs several times the statement (issue 11, docs/performance.md).
        await session.execute(_MESSAGE_INSERT, [_columns(message)])
    verb = "recorded in the outbox" if message.status == "recorded" else f"sent via {receipt.provider}"
    detail = f"{noun} to {message.to_address} {verb}" + (f" ({how})" if how else "")
    await step_event(session, step, "step_executed", detail, {"message_id": message.id})
    channel: Channel = "sms" if message.channel == "sms" else "email"
    return StepOutcome(status="executed", detail=detail, channel=channel, record_id=message.id)


def _columns(message: Message) -> dict[str, object]:
    """The columns set on a new message; the others take their defaults in the insert."""
    return {column.key: message.__dict__[column.key] for column in _MESSAGE_COLUMNS if column.key in message.__dict__}


async def _mark_opted_out(session: AsyncSession, contact_id: str | None, at: datetime) -> None:
    contact = await session.get(Contact, contact_id) if contact_id else None
    if contact is not None and not contact.opted_out:
        contact.opted_out, contact.opted_out_at = True, at
