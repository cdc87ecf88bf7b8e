"""Provider-neutral interface for outbound SMS and email.

Activities talk to these protocols rather than to the vendor SDKs so that retry/idempotency logic can be
written once against a single error model (`ProviderError`) and tested against loopback fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class SmsRequest:
    """Credentials travel with the request because every agent sends from their own Twilio account."""

    account_sid: str
    auth_token: str
    from_number: str
    to_number: str
    body: str
    status_callback: str | None = None
    # Our own key for this message (its row's idempotency key): the outbox derives the message's id from it, so two
    # texts alike (a static text on each pass, two STOP confirmations) have ids of their own. Twilio never sees it.
    reference: str = ""


@dataclass(frozen=True)
class EmailRequest:
    from_email: str
    from_name: str
    to_email: str
    to_name: str
    subject: str
    html: str
    text: str
    reply_to: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # e.g. List-Unsubscribe
    custom_args: dict[str, str] = field(default_factory=dict)  # e.g. {"idempotency_key": ...}


@dataclass(frozen=True)
class ProviderReceipt:
    provider: str  # "twilio" | "sendgrid"
    provider_id: str  # Twilio MessageSid (SM...), SendGrid X-Message-Id
    status: str  # provider's status word, e.g. "queued", "accepted"


class ProviderError(Exception):
    """A send that did not produce a receipt, classified so callers can decide between retry and give-up.

    code: provider error code as str (Twilio "21610", or HTTP status for SendGrid "401").
    permanent: retrying cannot help (invalid number, unsubscribed recipient, bad credentials, 4xx other than
    429).
    reached_provider: False only when we KNOW the request was not accepted (connection refused / DNS /
    connect timeout); True when it may have been (read timeout, 5xx, unknown). A True value means a blind
    retry could double-send, so the caller must reconcile (e.g. `SmsProvider.find_sent`) first.
    """

    def __init__(self, message: str, *, code: str | None, permanent: bool, reached_provider: bool) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.reached_provider = reached_provider

    @property
    def ambiguous(self) -> bool:
        """True when the provider may have accepted the message even though we saw a failure."""
        return self.reached_provider and not self.permanent

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.message!r}, code={self.code!r}, permanent={self.permanent}, "
            f"reached_provider={self.reached_provider})"
        )


class SmsProvider(Protocol):
    name: str

    def send(self, request: SmsRequest) -> ProviderReceipt: ...

    def find_sent(self, request: SmsRequest, since: datetime) -> ProviderReceipt | None:
        """Look the provider up for a message already accepted with the same from/to/body since `since` (used
        to reconcile after an ambiguous failure so a retry never sends twice)."""
        ...


class EmailProvider(Protocol):
    name: str

    def send(self, request: EmailRequest) -> ProviderReceipt: ...
