"""An offered agent's alert (R-OFFER-4), by SMS and email, each sent at most once whatever the retries (R-COMP-2).

Twilio and SendGrid take no idempotency key, so each channel's message row is the guard, as for plan messages
(`activities.messaging.activities`): the first attempt writes both rows `queued` with the alert's text; before a
channel's provider call its row is committed `sending`, and after it `sent` (or `failed`). A retry — the email
provider raised after the SMS went, the worker died, the attempt timed out — finds the rows: a channel already settled
is not sent again; one left `sending` may have reached its provider, which is asked (`find_sent`: Twilio, the outbox)
and sent to only when it has no such message; a provider that cannot be asked (SendGrid) gets `unconfirmed`, never a
second copy. The retry sends the text the rows hold, not one written again, so the provider finds the same message.

No transaction is open during a provider call: on SQLite every transaction holds the write lock, and a slow provider
must not hold up the claims the agent is being told to make. A provider's refusal is recorded and does not fail the
offer (a failed alert is recorded and the offer goes on); each channel's outcome goes on the lead's routing record.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.messaging.providers import (
    EmailProvider,
    EmailRequest,
    ProviderError,
    ProviderReceipt,
    SmsProvider,
    SmsRequest,
)
from config import Settings
from db.base import utcnow
from db.models import Agent, Message, Team
from db.queries import rainmaker_of
from db.routing_models import Lead
from db.session import session_scope
from domain.ids import new_id
from domain.merge import full_name
from domain.routing.time_left import time_left
from services.leads import record
from workflows.lead_types import NotifyInput

SUBJECT = "New lead to claim"
# How far before its row an interrupted attempt's message may carry the provider's timestamp (clock skew).
_FIND_SLACK = timedelta(minutes=10)
_SETTLED = ("sent", "recorded", "delivered", "undelivered", "unconfirmed", "failed", "cancelled")


@dataclass
class _Alert:
    message: Message
    request: SmsRequest | EmailRequest


@dataclass
class _Prepared:
    agent_name: str
    alerts: list[_Alert] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class LeadAlerts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings, sms: SmsProvider,
                 email: EmailProvider) -> None:
        self._sessions = sessions
        self._settings = settings
        self._sms = sms
        self._email = email

    async def notify(self, request: NotifyInput) -> None:
        async with session_scope(self._sessions) as session:
            prepared = await self._prepare(session, request)
        if prepared is None:
            return
        outcomes = [*prepared.notes]
        for alert in prepared.alerts:
            outcomes.append(await self._deliver(alert))
        async with session_scope(self._sessions) as session:
            lead = await session.get(Lead, request.lead_id)
            if lead is not None:
                record(lead, datetime.now(UTC), "alerted", f"{prepared.agent_name}: " + "; ".join(outcomes),
                       agent_id=request.agent_id)

    async def _prepare(self, session: AsyncSession, request: NotifyInput) -> _Prepared | None:
        """The alert's rows, those of an earlier attempt or written now as `queued` with the alert's text."""
        agent = await session.get(Agent, request.agent_id)
        team = await session.get(Team, request.team_id)
        lead = await session.get(Lead, request.lead_id)
        if agent is None or team is None or lead is None:
            return None
        rainmaker = await rainmaker_of(session, request.team_id)
        prepared = _Prepared(agent_name=full_name(agent.first_name, agent.last_name))
        keys = {channel: f"{lead.id}:{agent.id}:alert:{channel}" for channel in ("sms", "email")}
        rows = {m.channel: m for m in await session.scalars(select(Message).where(
            Message.idempotency_key.in_(keys.values())))}
        sender = rainmaker.twilio_from_number if rainmaker else None
        local = request.deadline.astimezone(ZoneInfo(team.time_zone))
        left = time_left((request.deadline - datetime.now(UTC)).total_seconds())
        text = (f"New lead: {request.lead_name} ({request.source}). Claim it by {local:%a %H:%M %Z} ({left}): "
                f"POST {self._settings.public_base_url}/leads/{lead.id}/claim")

        def row(channel: str, provider: str, to: str, sender: str, subject: str | None) -> Message:
            return Message(id=new_id("msg"), team_id=lead.team_id, contact_id=lead.contact_id, agent_id=None,
                           direction="outbound", channel=channel, to_address=to, from_address=sender,
                           subject=subject, body=text, provider=provider, status="queued",
                           idempotency_key=keys[channel])

        if "sms" not in rows and agent.phone and sender:
            rows["sms"] = row("sms", self._sms.name, agent.phone, sender, None)
        if "email" not in rows:
            rows["email"] = row("email", self._email.name, agent.email, rainmaker.email if rainmaker else agent.email,
                                f"{SUBJECT}: {request.lead_name}"[:500])
        session.add_all(rows.values())
        if "sms" in rows:
            sms = rows["sms"]
            prepared.alerts.append(_Alert(sms, SmsRequest(
                account_sid=(rainmaker.twilio_account_sid if rainmaker else None) or "",
                auth_token=(rainmaker.twilio_auth_token if rainmaker else None) or self._settings.twilio_auth_token,
                from_number=sms.from_address, to_number=sms.to_address, body=sms.body,
                reference=sms.idempotency_key or sms.id)))
        else:
            prepared.notes.append("no SMS (the agent has no phone or the team no Twilio number)")
        mail = rows["email"]
        prepared.alerts.append(_Alert(mail, EmailRequest(
            from_email=mail.from_address, from_name=team.name, to_email=mail.to_address, to_name=prepared.agent_name,
            subject=mail.subject or SUBJECT, html=f"<p>{escape(mail.body)}</p>", text=mail.body,
            custom_args={"idempotency_key": mail.idempotency_key or ""})))
        return prepared

    async def _deliver(self, alert: _Alert) -> str:
        """One channel, sent unless an earlier attempt settled it or may have sent it; what happened, in words."""
        message, channel = alert.message, alert.message.channel
        if message.status in _SETTLED:
            return f"{channel} already {message.status}" + (f" ({message.error_message})"
                                                            if message.status == "failed" else "")
        if message.status == "sending":
            found = await self._ask(alert)
            if found is not None:
                return found
        else:
            await self._save(message, status="sending")  # committed before the provider is called
        provider: SmsProvider | EmailProvider = self._sms if channel == "sms" else self._email
        try:
            receipt = await asyncio.to_thread(provider.send, alert.request)  # type: ignore[arg-type]
        except ProviderError as err:
            # A refusal, or a failure that may have reached the provider (a read timeout, a 5xx): either way not
            # sent again by this alert, and said as it is.
            status = "unconfirmed" if err.ambiguous else "failed"
            await self._save(message, status=status, error_code=err.code, error_message=err.message)
            return f"{channel} {'may have failed' if err.ambiguous else 'failed'}: {err.message}"
        return await self._sent(message, receipt, "")

    async def _ask(self, alert: _Alert) -> str | None:
        """An earlier attempt committed `sending` and did not come back: did its message reach the provider?
        None when the provider has no such message (sending may go on)."""
        message, channel = alert.message, alert.message.channel
        provider: SmsProvider | EmailProvider = self._sms if channel == "sms" else self._email
        find = getattr(provider, "find_sent", None)
        unconfirmed = f"{channel} may have been sent by an interrupted attempt: not sent again"
        if find is None:
            await self._save(message, status="unconfirmed")
            return f"{unconfirmed} ({provider.name} cannot be asked)"
        since = min(message.created_at, utcnow()) - _FIND_SLACK
        try:
            receipt: ProviderReceipt | None = await asyncio.to_thread(find, alert.request, since)
        except ProviderError as err:
            await self._save(message, status="unconfirmed", error_code=err.code, error_message=err.message)
            return f"{unconfirmed} ({provider.name} could not be asked: {err.message})"
        if receipt is None:
            return None
        return await self._sent(message, receipt, " (found after an interrupted attempt)")

    async def _sent(self, message: Message, receipt: ProviderReceipt, how: str) -> str:
        recorded = receipt.provider == "outbox"
        # The outbox sends nothing: a recorded message has no `sent_at`.
        await self._save(message, status="recorded" if recorded else "sent", provider_id=receipt.provider_id,
                         sent_at=None if recorded else utcnow())
        return f"{message.channel} {'recorded' if recorded else 'sent'}{how}"

    async def _save(self, message: Message, **changes: object) -> None:
        """Write the row as this attempt last committed it, changed (its own short transaction)."""
        async with session_scope(self._sessions) as session:
            session.add(message)
            for name, value in changes.items():
                setattr(message, name, value)
