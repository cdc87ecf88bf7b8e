"""Twilio SMS adapter built on the official `twilio` SDK.

The SDK is synchronous (requests underneath); callers run these methods in a worker thread.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from activities.messaging.providers import ProviderError, ProviderReceipt, SmsRequest

# Error codes where Twilio has decided about the recipient/credentials; resending can never succeed.
# 21610 STOP-ed recipient, 21211 invalid To, 21614 To not mobile, 21612 unreachable To/From pair,
# 21408 region not enabled, 21606 From not SMS-capable, 20003 authentication failed.
PERMANENT_CODES = frozenset({21610, 21211, 21614, 21612, 21408, 21606, 20003})

_FIND_LIMIT = 50


class TwilioSmsProvider:
    """SmsProvider backed by Twilio's Messages resource.

    A fresh SDK client is built per call because each agent sends from their own Twilio account; the
    session is closed afterwards so long-running workers do not accumulate idle sockets.
    """

    name: str = "twilio"

    def __init__(self, base_url: str | None, timeout_seconds: float) -> None:
        if timeout_seconds <= 0:
            # TwilioHttpClient only rejects bad timeouts at request time; fail at wiring time instead.
            raise ValueError("timeout_seconds must be positive")
        self._base_url = base_url
        self._timeout = timeout_seconds

    def send(self, request: SmsRequest) -> ProviderReceipt:
        client, http = self._client(request)
        try:
            message = client.messages.create(
                to=request.to_number,
                from_=request.from_number,
                body=request.body,
                status_callback=request.status_callback,
            )
        except Exception as exc:
            raise _to_provider_error(exc) from exc
        finally:
            _close(http)
        return ProviderReceipt(provider=self.name, provider_id=str(message.sid), status=str(message.status))

    def find_sent(self, request: SmsRequest, since: datetime) -> ProviderReceipt | None:
        """Reconcile after an ambiguous failure: was this exact text already accepted since `since`?

        Twilio's DateSent filter only sees messages that have left the queue (a queued message has no
        date_sent), so when the filtered query finds nothing we also scan the newest messages between the
        pair by date_created. `since` is truncated to whole seconds because Twilio timestamps are.
        """
        since_utc = _as_utc(since).replace(microsecond=0)
        client, http = self._client(request)
        try:
            sent = client.messages.list(
                to=request.to_number, from_=request.from_number, date_sent_after=since_utc, limit=_FIND_LIMIT
            )
            match = self._match(sent, request, since_utc, check_created=False)
            if match is None:
                recent = client.messages.list(to=request.to_number, from_=request.from_number, limit=_FIND_LIMIT)
                match = self._match(recent, request, since_utc, check_created=True)
        except Exception as exc:
            raise _to_provider_error(exc) from exc
        finally:
            _close(http)
        return match

    def _match(
        self, messages: list[Any], request: SmsRequest, since: datetime, *, check_created: bool
    ) -> ProviderReceipt | None:
        for message in messages:
            if message.body != request.body or message.to != request.to_number:
                continue
            if message.from_ is not None and message.from_ != request.from_number:
                continue
            if check_created:
                created = message.date_created
                if not isinstance(created, datetime) or created < since:
                    continue
            return ProviderReceipt(provider=self.name, provider_id=str(message.sid), status=str(message.status))
        return None

    def _client(self, request: SmsRequest) -> tuple[Any, TwilioHttpClient]:
        http = TwilioHttpClient(timeout=self._timeout)
        client = Client(request.account_sid, request.auth_token, http_client=http)
        if self._base_url:
            # Domain.absolute_url joins base_url + "/2010-04-01/...", so this redirects every Messages call.
            client.api.base_url = self._base_url
            # TWILIO_EDGE/TWILIO_REGION from the environment would rewrite the host of the override URL.
            client.edge = None
            client.region = None
        return client, http


def _close(http: TwilioHttpClient) -> None:
    session = getattr(http, "session", None)
    if session is not None:
        session.close()


def _as_utc(moment: datetime) -> datetime:
    # The SDK formats datetimes with strftime and ignores tzinfo, so convert first; naive means UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _classify(status: int, code: int | None) -> bool:
    """Return whether an HTTP error from Twilio is permanent."""
    if code in PERMANENT_CODES:
        return True
    return 400 <= status < 500 and status != 429


def _to_provider_error(exc: Exception) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TwilioRestException):
        code = _int_or_none(exc.code)
        status = int(exc.status)
        return ProviderError(
            f"twilio {status}: {exc.msg}",
            code=str(code if code is not None else status),
            permanent=_classify(status, code),
            reached_provider=True,
        )
    if isinstance(exc, TwilioException):
        return _from_page_error(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ProviderError(f"twilio connect timeout: {exc}", code=None, permanent=False, reached_provider=False)
    if isinstance(exc, requests.exceptions.ConnectionError):
        # requests also raises ConnectionError when the server drops the connection *after* the request was
        # written ("Connection aborted"), so only connect-phase failures prove Twilio never saw it.
        return ProviderError(
            f"twilio connection error: {exc}", code=None, permanent=False, reached_provider=not _connect_phase(exc)
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return ProviderError(f"twilio request failed: {exc}", code=None, permanent=False, reached_provider=True)
    return ProviderError(f"twilio unexpected error: {exc!r}", code=None, permanent=False, reached_provider=True)


def _connect_phase(exc: requests.exceptions.ConnectionError) -> bool:
    inner = exc.args[0] if exc.args else None
    # NewConnectionError (refused) and NameResolutionError are ConnectTimeoutError subclasses in urllib3 2.
    return isinstance(inner, MaxRetryError) and isinstance(inner.reason, ConnectTimeoutError)


def _from_page_error(exc: TwilioException) -> ProviderError:
    """List calls fail through Page.process_response as TwilioException(msg, response), not a REST error."""
    response = exc.args[1] if len(exc.args) > 1 else None
    status = getattr(response, "status_code", None)
    if not isinstance(status, int):
        return ProviderError(f"twilio error: {exc}", code=None, permanent=False, reached_provider=True)
    code: int | None = None
    message = str(exc.args[0])
    try:
        payload = json.loads(getattr(response, "text", "") or "")
        if isinstance(payload, dict):
            code = _int_or_none(payload.get("code"))
            message = str(payload.get("message", message))
    except ValueError:
        pass
    return ProviderError(
        f"twilio {status}: {message}",
        code=str(code if code is not None else status),
        permanent=_classify(status, code),
        reached_provider=True,
    )


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None
