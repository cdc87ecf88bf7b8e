"""The development providers: every message is recorded in the database's messages table and nothing leaves.

Ids are derived from the message itself, so an attempt that is retried after an interruption finds "its" message
again (`find_sent`) exactly like the Twilio provider finds an accepted message.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from activities.messaging.providers import EmailRequest, ProviderReceipt, SmsRequest


def _outbox_id(*parts: str) -> str:
    return "OB" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:30]


class OutboxSmsProvider:
    name = "outbox"

    def send(self, request: SmsRequest) -> ProviderReceipt:
        return ProviderReceipt("outbox", _outbox_id(request.from_number, request.to_number, request.body,
                                                    request.reference), "recorded")

    def find_sent(self, request: SmsRequest, since: datetime) -> ProviderReceipt | None:
        return self.send(request)


class OutboxEmailProvider:
    name = "outbox"

    def send(self, request: EmailRequest) -> ProviderReceipt:
        return ProviderReceipt("outbox", _outbox_id(request.from_email, request.to_email, request.subject,
                                                    request.custom_args.get("idempotency_key", "")), "recorded")

    def find_sent(self, request: EmailRequest, since: datetime) -> ProviderReceipt | None:
        return self.send(request)
