"""SendGrid email adapter built on the official `sendgrid` SDK (python_http_client + urllib underneath).

The SDK is synchronous; callers run `send` in a worker thread.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, CustomArg, From, Header, Mail, ReplyTo, To

from activities.messaging.providers import EmailRequest, ProviderError, ProviderReceipt


class SendGridEmailProvider:
    """EmailProvider backed by SendGrid's v3 /mail/send.

    SendGrid has no lookup-by-content API, so ambiguous failures can only be reconciled through the
    `custom_args` (e.g. an idempotency key) that come back on event webhooks.
    """

    name: str = "sendgrid"

    def __init__(self, api_key: str, base_url: str, timeout_seconds: float) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds

    def send(self, request: EmailRequest) -> ProviderReceipt:
        client = SendGridAPIClient(api_key=self._api_key, host=self._base_url)
        # Without this urllib waits forever; _build_client copies the timeout into each url-segment client.
        client.client.timeout = self._timeout
        try:
            body = build_mail(request)
        except Exception as exc:
            # The SDK helpers reject some malformed input (e.g. an address without "@") before any I/O.
            raise ProviderError(
                f"sendgrid request could not be built: {exc!r}", code=None, permanent=True, reached_provider=False
            ) from exc
        try:
            response = client.send(body)
        except Exception as exc:
            raise _to_provider_error(exc) from exc
        status = int(response.status_code)
        if not 200 <= status < 300:
            # urllib only returns non-error statuses here (e.g. an unexpected 1xx/3xx); treat as ambiguous.
            raise ProviderError(
                f"sendgrid unexpected status {status}", code=str(status), permanent=False, reached_provider=True
            )
        # A missing id must not turn an accepted send into a failure (a retry would double-send).
        message_id = response.headers.get("X-Message-Id") if response.headers is not None else None
        return ProviderReceipt(provider=self.name, provider_id=str(message_id or ""), status="accepted")


def build_mail(request: EmailRequest) -> dict[str, Any]:
    """Build the /mail/send JSON via the SDK's Mail so the shape (content order, header placement) is the
    SDK's, not ours. Serialising here surfaces the SDK's own input errors before any I/O."""
    mail = Mail(
        from_email=From(request.from_email, request.from_name or None),
        to_emails=To(request.to_email, request.to_name or None),
        subject=request.subject,
    )
    # SendGrid requires text/plain before text/html and rejects empty content values.
    if request.text:
        mail.add_content(Content("text/plain", request.text))
    if request.html:
        mail.add_content(Content("text/html", request.html))
    if request.reply_to:
        mail.reply_to = ReplyTo(request.reply_to)
    for key, value in request.headers.items():
        mail.add_header(Header(key, value))
    for key, value in request.custom_args.items():
        mail.add_custom_arg(CustomArg(key, value))
    body: dict[str, Any] = mail.get()
    return body


def _to_provider_error(exc: Exception) -> ProviderError:
    if isinstance(exc, HTTPError):
        status = int(exc.status_code)
        return ProviderError(
            f"sendgrid {status}: {_error_text(exc.body)}",
            code=str(status),
            permanent=400 <= status < 500 and status != 429,
            reached_provider=True,
        )
    if isinstance(exc, urllib.error.URLError):
        # urllib only wraps errors raised while connecting/writing the request (refused, DNS, connect timeout,
        # TLS handshake), i.e. before SendGrid had a complete request it could accept.
        reason = exc.reason
        return ProviderError(
            f"sendgrid unreachable: {reason!r}",
            code=None,
            permanent=False,
            reached_provider=not isinstance(reason, OSError),
        )
    if isinstance(exc, (TimeoutError, OSError, http.client.HTTPException)):
        # Raised while awaiting the response: the request was sent and may have been accepted.
        return ProviderError(f"sendgrid no response: {exc!r}", code=None, permanent=False, reached_provider=True)
    return ProviderError(f"sendgrid unexpected error: {exc!r}", code=None, permanent=False, reached_provider=True)


def _error_text(body: object) -> str:
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        payload = json.loads(raw)
    except ValueError:
        return raw[:500]
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
    return raw[:500]
