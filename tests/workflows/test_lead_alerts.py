"""An offered agent's alert through the official Twilio and SendGrid SDKs against the loopback fakes: each channel
reaches its provider exactly once when an attempt dies after a provider took the message and the activity is retried
(R-COMP-2 "nothing is sent twice because of a retry", R-OFFER-4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.messaging.providers import EmailRequest, ProviderReceipt, SmsRequest
from config import Settings
from db.models import Agent, Message
from db.session import session_scope
from tests.factories import TWILIO_SID, TWILIO_TOKEN, eventually, running_worker, seed
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.workflows.test_lead_offer import lead_row, new_lead, start
from worker import providers

Sessions = async_sessionmaker[AsyncSession]
TEAM_NUMBER = "+15125550112"
Request = TypeVar("Request", SmsRequest, EmailRequest)


class AnswerLostOnce(Generic[Request]):
    """A provider whose first send reaches the real one and then raises what no provider error is (an SDK bug, the
    worker dying before the answer is recorded): the attempt fails after the message went out."""

    def __init__(self, inner: Any) -> None:
        self.name: str = inner.name
        self._inner = inner
        self.lost = 0

    def send(self, request: Request) -> ProviderReceipt:
        receipt: ProviderReceipt = self._inner.send(request)
        if not self.lost:
            self.lost += 1
            raise RuntimeError("the worker lost the provider's answer")
        return receipt


class SmsAnswerLostOnce(AnswerLostOnce[SmsRequest]):
    """The same for texts, which Twilio can be asked about afterwards (`find_sent`)."""

    def find_sent(self, request: SmsRequest, since: datetime) -> ProviderReceipt | None:
        found: ProviderReceipt | None = self._inner.find_sent(request, since)
        return found


@dataclass
class Alerted:
    rows: dict[str, Message]  # the alert's message rows by channel
    alerted: list[str]  # the routing record's "alerted" entries
    lost: int  # how many provider answers were lost (the attempts that failed after a send)


async def alert_with_one_answer_lost(env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio,
                                     sendgrid: FakeSendGrid, *, lost: Literal["sms", "email"]) -> Alerted:
    """A lead offered to Alex, held open until its alert is on the routing record, with the first answer of one
    channel's provider lost (so the activity is retried after that channel's message went out)."""
    world = await seed(sessions)
    async with session_scope(sessions) as session:  # lead alerts text from the Rainmaker's Twilio number
        rainmaker = await session.get(Agent, world.rainmaker_id)
        assert rainmaker is not None
        rainmaker.twilio_account_sid, rainmaker.twilio_auth_token = TWILIO_SID, TWILIO_TOKEN
        rainmaker.twilio_from_number = TEAM_NUMBER
    twilio.add_account(TWILIO_SID, TWILIO_TOKEN)
    settings = Settings(environment="test", messaging_provider="live", twilio_base_url=twilio.base_url,
                        twilio_timeout_seconds=2, public_base_url="https://plans.example.com",
                        sendgrid_api_key="SG.test-key", sendgrid_base_url=sendgrid.base_url, sendgrid_timeout_seconds=2)
    sms, email = providers(settings)
    sms_lost = SmsAnswerLostOnce(sms) if lost == "sms" else None
    email_lost = AnswerLostOnce[EmailRequest](email) if lost == "email" else None
    lead_id = await new_lead(sessions, world)
    async with running_worker(env, sessions, settings=settings, sms=sms_lost or sms, email=email_lost or email) as h:
        handle = await start(env, h.task_queue, world, lead_id, [world.agent_id])

        async def recorded() -> bool:
            return any(e["kind"] == "alerted" for e in (await lead_row(sessions, lead_id)).routing_record)

        await eventually(recorded, seconds=30)  # the retry waits out its 2 s backoff in real time
        await handle.terminate("test over")
    async with session_scope(sessions) as session:
        rows = await session.scalars(select(Message).where(Message.idempotency_key.like(f"{lead_id}:%")))
        by_channel = {row.channel: row for row in rows}
    record = (await lead_row(sessions, lead_id)).routing_record
    answers_lost = (sms_lost.lost if sms_lost else 0) + (email_lost.lost if email_lost else 0)
    return Alerted(by_channel, [e["detail"] for e in record if e["kind"] == "alerted"], answers_lost)


class TestRComp2LeadAlertSentOnce:
    async def test_an_email_provider_failing_after_the_sms_went_does_not_send_a_second_sms(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        alert = await alert_with_one_answer_lost(env, sessions, twilio, sendgrid, lost="email")
        assert alert.lost == 1  # the first attempt did fail after both providers had the alert
        (text,) = twilio.messages
        assert (text["to"], text["from"]) == ("+15125550101", TEAM_NUMBER)
        assert "(about 5 minutes left)" in text["body"]
        (mail,) = sendgrid.emails
        assert mail["personalizations"][0]["to"][0]["email"] == "alex@example.com"
        assert (alert.rows["sms"].status, alert.rows["sms"].provider_id) == ("sent", text["sid"])
        # SendGrid cannot be asked whether it has the mail: not sent again, and said so.
        assert alert.rows["email"].status == "unconfirmed"
        assert alert.alerted == ["Alex Agent: sms already sent; email may have been sent by an interrupted attempt: "
                                 "not sent again (sendgrid cannot be asked)"]

    async def test_an_sms_whose_answer_was_lost_is_found_at_twilio_and_not_sent_again(
            self, env: WorkflowEnvironment, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid) -> None:
        alert = await alert_with_one_answer_lost(env, sessions, twilio, sendgrid, lost="sms")
        assert alert.lost == 1
        (text,) = twilio.messages
        (mail,) = sendgrid.emails
        assert (alert.rows["sms"].status, alert.rows["sms"].provider_id) == ("sent", text["sid"])
        assert (alert.rows["email"].status, alert.rows["email"].provider_id) == ("sent", sendgrid.message_ids[0])
        assert mail["subject"] == "New lead to claim: Dana Smith"
        assert alert.alerted == ["Alex Agent: sms sent (found after an interrupted attempt); email sent"]
