"""Provider adapters driven through the real twilio/sendgrid SDKs against loopback fakes.

The point is to pin down the error classification (permanent vs transient, reached vs not) that the
retry/idempotency logic relies on, using the exceptions the SDKs actually raise rather than guesses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from activities.messaging.outbox import OutboxSmsProvider
from activities.messaging.providers import EmailProvider, EmailRequest, ProviderError, SmsProvider, SmsRequest
from activities.messaging.sendgrid_email import SendGridEmailProvider
from activities.messaging.twilio_sms import TwilioSmsProvider
from tests.fakes import FakeSendGrid, FakeTwilio

SID = "AC" + "a" * 32
TOKEN = "secret-token"
AGENT = "+15550001111"
LEAD = "+15552223333"
API_KEY = "SG.test-key"
TIMEOUT = 0.5
DELAY = 1.5


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio({SID: TOKEN}) as fake:
        yield fake


@pytest.fixture
def sms(twilio: FakeTwilio) -> TwilioSmsProvider:
    return TwilioSmsProvider(base_url=twilio.base_url, timeout_seconds=TIMEOUT)


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid([API_KEY]) as fake:
        yield fake


@pytest.fixture
def email(sendgrid: FakeSendGrid) -> SendGridEmailProvider:
    return SendGridEmailProvider(api_key=API_KEY, base_url=sendgrid.base_url, timeout_seconds=TIMEOUT)


def text(body: str = "Hi Sam, still looking in Ballard?", *, to: str = LEAD, token: str = TOKEN) -> SmsRequest:
    return SmsRequest(
        account_sid=SID,
        auth_token=token,
        from_number=AGENT,
        to_number=to,
        body=body,
        status_callback="https://hooks.example.com/twilio/status",
    )


def mail() -> EmailRequest:
    return EmailRequest(
        from_email="agent@example.com",
        from_name="Alex Agent",
        to_email="lead@example.org",
        to_name="Sam Lead",
        subject="New listings in Ballard",
        html="<p>Three new homes</p>",
        text="Three new homes",
        reply_to="alex@example.com",
        headers={"List-Unsubscribe": "<https://example.com/u/abc>"},
        custom_args={"idempotency_key": "enr-1:step-2"},
    )


def test_adapters_satisfy_the_provider_protocols() -> None:
    # The annotations make mypy check structural conformance; the asserts pin the names used in receipts.
    sms_provider: SmsProvider = TwilioSmsProvider(base_url=None, timeout_seconds=TIMEOUT)
    email_provider: EmailProvider = SendGridEmailProvider(API_KEY, "https://api.sendgrid.com", TIMEOUT)

    assert (sms_provider.name, email_provider.name) == ("twilio", "sendgrid")


# -- Twilio -----------------------------------------------------------------------------------------------


def test_sms_is_sent_and_recorded(twilio: FakeTwilio, sms: TwilioSmsProvider) -> None:
    receipt = sms.send(text())

    assert receipt.provider == "twilio"
    assert receipt.status == "queued"
    assert receipt.provider_id.startswith("SM")
    assert len(receipt.provider_id) == 34
    [recorded] = twilio.messages
    assert recorded["sid"] == receipt.provider_id
    assert (recorded["to"], recorded["from"], recorded["body"]) == (LEAD, AGENT, text().body)
    assert recorded["account_sid"] == SID
    assert recorded["status_callback"] == "https://hooks.example.com/twilio/status"
    assert recorded["num_segments"] == "1"


def test_sms_wrong_auth_is_permanent_20003(twilio: FakeTwilio, sms: TwilioSmsProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        sms.send(text(token="wrong"))

    assert (caught.value.code, caught.value.permanent, caught.value.reached_provider) == ("20003", True, True)
    assert twilio.messages == []


@pytest.mark.parametrize("code", [21211, 21610])
def test_sms_rejected_number_is_permanent(twilio: FakeTwilio, sms: TwilioSmsProvider, code: int) -> None:
    twilio.reject_number(LEAD, code, message="rejected by carrier")

    with pytest.raises(ProviderError) as caught:
        sms.send(text())

    assert caught.value.code == str(code)
    assert caught.value.permanent is True
    assert "rejected by carrier" in str(caught.value)
    assert twilio.messages == []


def test_sms_malformed_number_is_rejected_by_fake_as_21211(twilio: FakeTwilio, sms: TwilioSmsProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        sms.send(text(to="555-2223"))

    assert (caught.value.code, caught.value.permanent) == ("21211", True)
    assert twilio.messages == []


def test_sms_server_error_is_transient(twilio: FakeTwilio, sms: TwilioSmsProvider) -> None:
    twilio.fail_next(status=500)

    with pytest.raises(ProviderError) as caught:
        sms.send(text())

    assert (caught.value.code, caught.value.permanent, caught.value.reached_provider) == ("20500", False, True)
    assert twilio.messages == []


def test_sms_rate_limit_is_transient(twilio: FakeTwilio, sms: TwilioSmsProvider) -> None:
    twilio.fail_next(status=429)

    with pytest.raises(ProviderError) as caught:
        sms.send(text())

    assert (caught.value.code, caught.value.permanent) == ("20429", False)


def test_sms_read_timeout_is_ambiguous_and_reconciled(twilio: FakeTwilio, sms: TwilioSmsProvider) -> None:
    since = datetime.now(UTC)
    twilio.delay_next_response(DELAY)

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        sms.send(text())

    assert time.monotonic() - started < DELAY
    assert (caught.value.permanent, caught.value.reached_provider) == (False, True)
    [recorded] = twilio.messages  # Twilio accepted it although we saw a failure
    found = sms.find_sent(text(), since)
    assert found is not None
    assert found.provider_id == recorded["sid"]
    assert any("DateSent%3E=" in path for method, path in twilio.requests if method == "GET")


def test_find_sent_ignores_other_bodies_and_older_messages(twilio: FakeTwilio, sms: TwilioSmsProvider) -> None:
    sms.send(text("an earlier text"))

    assert sms.find_sent(text("a different body"), datetime.now(UTC) - timedelta(minutes=5)) is None
    assert sms.find_sent(text("an earlier text"), datetime.now(UTC) + timedelta(minutes=5)) is None


def test_find_sent_sees_messages_still_in_twilio_queue() -> None:
    since = datetime.now(UTC)
    with FakeTwilio({SID: TOKEN}, hold_in_queue=True) as queued:
        provider = TwilioSmsProvider(base_url=queued.base_url, timeout_seconds=TIMEOUT)
        receipt = provider.send(text())

        found = provider.find_sent(text(), since)

    assert queued.messages[0]["date_sent"] is None
    assert found is not None
    assert found.provider_id == receipt.provider_id


def test_find_sent_with_wrong_auth_raises_permanent(twilio: FakeTwilio, sms: TwilioSmsProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        sms.find_sent(text(token="wrong"), datetime.now(UTC))

    assert (caught.value.code, caught.value.permanent) == ("20003", True)


def test_sms_connection_refused_did_not_reach_provider() -> None:
    fake = FakeTwilio({SID: TOKEN})
    base_url = fake.base_url
    fake.close()
    provider = TwilioSmsProvider(base_url=base_url, timeout_seconds=TIMEOUT)

    with pytest.raises(ProviderError) as caught:
        provider.send(text())

    assert (caught.value.permanent, caught.value.reached_provider, caught.value.code) == (False, False, None)


# -- SendGrid ---------------------------------------------------------------------------------------------


def test_email_is_sent_and_recorded(sendgrid: FakeSendGrid, email: SendGridEmailProvider) -> None:
    receipt = email.send(mail())

    assert (receipt.provider, receipt.status) == ("sendgrid", "accepted")
    assert receipt.provider_id == sendgrid.message_ids[0]
    assert receipt.provider_id != ""
    [recorded] = sendgrid.emails
    assert recorded["subject"] == "New listings in Ballard"
    assert recorded["from"] == {"email": "agent@example.com", "name": "Alex Agent"}
    assert recorded["personalizations"][0]["to"] == [{"email": "lead@example.org", "name": "Sam Lead"}]
    assert recorded["content"] == [
        {"type": "text/plain", "value": "Three new homes"},
        {"type": "text/html", "value": "<p>Three new homes</p>"},
    ]
    assert recorded["reply_to"] == {"email": "alex@example.com"}
    assert recorded["headers"] == {"List-Unsubscribe": "<https://example.com/u/abc>"}
    assert recorded["custom_args"] == {"idempotency_key": "enr-1:step-2"}


def test_email_bad_key_is_permanent_401(sendgrid: FakeSendGrid) -> None:
    provider = SendGridEmailProvider(api_key="SG.wrong", base_url=sendgrid.base_url, timeout_seconds=TIMEOUT)

    with pytest.raises(ProviderError) as caught:
        provider.send(mail())

    assert (caught.value.code, caught.value.permanent, caught.value.reached_provider) == ("401", True, True)
    assert "invalid, expired, or revoked" in str(caught.value)
    assert sendgrid.emails == []


def test_email_invalid_payload_is_permanent_400(sendgrid: FakeSendGrid, email: SendGridEmailProvider) -> None:
    bad = EmailRequest(
        from_email="agent@example.com",
        from_name="",
        to_email="lead@localhost",
        to_name="",
        subject="s",
        html="<p>x</p>",
        text="x",
        headers={"Reply-To": "x@example.com"},
    )

    with pytest.raises(ProviderError) as caught:
        email.send(bad)

    assert (caught.value.code, caught.value.permanent) == ("400", True)
    assert "Does not contain a valid address" in str(caught.value)
    assert "reserved" in str(caught.value)
    assert sendgrid.emails == []


def test_email_unbuildable_request_is_permanent_and_never_sent(
    sendgrid: FakeSendGrid, email: SendGridEmailProvider
) -> None:
    bad = EmailRequest(
        from_email="agent@example.com",
        from_name="",
        to_email="not-an-address",
        to_name="",
        subject="s",
        html="<p>x</p>",
        text="x",
    )

    with pytest.raises(ProviderError) as caught:
        email.send(bad)

    assert (caught.value.permanent, caught.value.reached_provider) == (True, False)
    assert sendgrid.requests == []


def test_email_rate_limit_is_transient(sendgrid: FakeSendGrid, email: SendGridEmailProvider) -> None:
    sendgrid.fail_next(status=429)

    with pytest.raises(ProviderError) as caught:
        email.send(mail())

    assert (caught.value.code, caught.value.permanent, caught.value.reached_provider) == ("429", False, True)
    assert sendgrid.emails == []


def test_email_server_error_is_transient(sendgrid: FakeSendGrid, email: SendGridEmailProvider) -> None:
    sendgrid.fail_next(status=503)

    with pytest.raises(ProviderError) as caught:
        email.send(mail())

    assert (caught.value.code, caught.value.permanent) == ("503", False)


def test_email_read_timeout_is_ambiguous(sendgrid: FakeSendGrid, email: SendGridEmailProvider) -> None:
    sendgrid.delay_next_response(DELAY)

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        email.send(mail())

    assert time.monotonic() - started < DELAY
    assert (caught.value.permanent, caught.value.reached_provider, caught.value.ambiguous) == (False, True, True)
    [recorded] = sendgrid.emails
    assert recorded["custom_args"] == {"idempotency_key": "enr-1:step-2"}


def test_email_connection_refused_did_not_reach_provider() -> None:
    fake = FakeSendGrid([API_KEY])
    base_url = fake.base_url
    fake.close()
    provider = SendGridEmailProvider(api_key=API_KEY, base_url=base_url, timeout_seconds=TIMEOUT)

    with pytest.raises(ProviderError) as caught:
        provider.send(mail())

    assert (caught.value.permanent, caught.value.reached_provider) == (False, False)


def test_the_outbox_gives_two_texts_alike_ids_of_their_own_and_a_retry_the_same_one() -> None:
    """Outbox ids name one message each (a status report updates that one), and stay what a retry finds."""
    outbox = OutboxSmsProvider()
    first, second = replace(text(), reference="sms:first"), replace(text(), reference="sms:second")
    assert outbox.send(first).provider_id != outbox.send(second).provider_id
    found = outbox.find_sent(first, datetime.now(UTC))
    assert found is not None
    assert found.provider_id == outbox.send(first).provider_id
