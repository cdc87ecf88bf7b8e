"""A loopback HTTP server that speaks the slice of Twilio's 2010-04-01 REST API the official SDK uses.

It exists so the real `twilio` SDK (request building, auth, error parsing, paging) is exercised end to end
without the internet, including the ambiguous "accepted but the response never arrived" case that mocks
of the SDK cannot reproduce.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.loopback import LoopbackServer, Reply

_API = "/2010-04-01"
_LIST_RE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_ONE_RE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")
_E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
_DEFAULT_CODES = {400: 20001, 401: 20003, 403: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


@dataclass
class _Rejection:
    code: int
    status: int
    message: str


def twilio_error(code: int, status: int, message: str) -> dict[str, Any]:
    """Twilio's legacy error body, which the SDK turns into TwilioRestException(status, code, msg)."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def num_segments(body: str) -> int:
    """Segment count as Twilio bills it, so tests can notice when a template silently becomes UCS-2."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in body):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in body)
        single, multi = 160, 153
    else:
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in body)
        single, multi = 70, 67
    return 1 if units <= single else -(-units // multi)


class FakeTwilio(LoopbackServer):
    """Thread-safe in-memory Twilio account store behind a real socket.

    `hold_in_queue=True` leaves accepted messages "queued" with `date_sent: null`, as on real Twilio before
    the carrier hand-off, so DateSent filters do not see them.
    """

    content_type = "application/json; charset=utf-8"

    def __init__(self, accounts: dict[str, str] | None = None, *, hold_in_queue: bool = False) -> None:
        self._accounts: dict[str, str] = dict(accounts or {})
        self._messages: list[dict[str, Any]] = []
        self._rejections: dict[str, _Rejection] = {}
        self.hold_in_queue = hold_in_queue
        super().__init__("fake-twilio")

    # -- control -------------------------------------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Snapshot of accepted messages (Twilio resource + `status_callback`), oldest first."""
        with self._lock:
            return [dict(m) for m in self._messages]

    def add_account(self, sid: str, token: str) -> None:
        with self._lock:
            self._accounts[sid] = token

    def reject_number(self, number: str, code: int, status: int = 400, message: str | None = None) -> None:
        with self._lock:
            self._rejections[number] = _Rejection(code, status, message or f"Message to {number} rejected")

    def fail_next(self, status: int = 500, code: int | None = None, message: str | None = None) -> None:
        """The next request (any method) fails with `status` without being recorded."""
        code = code or _DEFAULT_CODES.get(status, 20500)
        self._fail_next_with(Reply(status, twilio_error(code, status, message or f"HTTP {status}")))

    def go_down(self, status: int = 500) -> None:
        """Every request fails with `status` until `come_back()`: Twilio having an outage."""
        code = _DEFAULT_CODES.get(status, 20500)
        self._go_down_with(Reply(status, twilio_error(code, status, f"HTTP {status}")))

    # -- request handling ----------------------------------------------------------------------------------

    def _route(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> Reply:
        return Reply(*self._answer(handler, method, body.decode("utf-8")))

    def _answer(self, handler: BaseHTTPRequestHandler, method: str, raw_body: str) -> tuple[int, dict[str, Any]]:
        url = urlsplit(handler.path)
        list_match = _LIST_RE.match(url.path)
        one_match = _ONE_RE.match(url.path)
        match = list_match or one_match
        if match is None:
            return 404, twilio_error(20404, 404, f"The requested resource {url.path} was not found")
        account = match.group("account")
        if not self._authorized(handler, account):
            return 401, twilio_error(20003, 401, "Authenticate")
        if list_match and method == "POST":
            return self._create(account, parse_qs(raw_body, keep_blank_values=True))
        if list_match and method == "GET":
            return self._list(account, url.path, parse_qs(url.query, keep_blank_values=True))
        if one_match and method == "GET":
            return self._fetch(account, one_match.group("sid"))
        return 405, twilio_error(20004, 405, "Method not allowed")

    def _authorized(self, handler: BaseHTTPRequestHandler, account: str) -> bool:
        header = handler.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            return False
        with self._lock:
            expected = self._accounts.get(user)
        # Real Twilio also refuses credentials of one account on another account's resources.
        return expected is not None and secrets.compare_digest(expected, password) and user == account

    def _create(self, account: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        def field(name: str) -> str:
            return form.get(name, [""])[0]

        to, from_, body = field("To"), field("From"), field("Body")
        if not to:
            return 400, twilio_error(21604, 400, "A 'To' phone number is required.")
        if not from_ and not field("MessagingServiceSid"):
            return 400, twilio_error(21603, 400, "A 'From' phone number is required.")
        if not body and not field("MediaUrl") and not field("ContentSid"):
            return 400, twilio_error(21602, 400, "Message body is required.")
        if len(body) > 1600:
            return 400, twilio_error(21617, 400, "The concatenated message body exceeds the 1600 character limit.")
        if not _E164_RE.match(to):
            return 400, twilio_error(21211, 400, f"The 'To' number {to} is not a valid phone number.")
        if from_ and not _E164_RE.match(from_):
            return 400, twilio_error(21212, 400, f"The 'From' number {from_} is not a valid phone number.")
        with self._lock:
            rejection = self._rejections.get(to)
        if rejection is not None:
            return rejection.status, twilio_error(rejection.code, rejection.status, rejection.message)

        now = datetime.now(UTC).replace(microsecond=0)
        sid = "SM" + secrets.token_hex(16)
        uri = f"{_API}/Accounts/{account}/Messages/{sid}.json"
        stamp = format_datetime(now)
        resource: dict[str, Any] = {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": stamp,
            "date_sent": None if self.hold_in_queue else stamp,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_ or None,
            "messaging_service_sid": field("MessagingServiceSid") or None,
            "num_media": "0",
            "num_segments": str(num_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{_API}/Accounts/{account}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": uri,
        }
        with self._lock:
            self._messages.append({**resource, "status_callback": field("StatusCallback") or None})
        return 201, resource

    def _fetch(self, account: str, sid: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            for message in self._messages:
                if message["sid"] == sid and message["account_sid"] == account:
                    return 200, _public(message)
        missing = f"{_API}/Accounts/{account}/Messages/{sid}.json"
        return 404, twilio_error(20404, 404, f"The requested resource {missing} was not found")

    def _list(self, account: str, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        def param(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        try:
            page_size = min(int(param("PageSize") or 50), 1000)
            page = int(param("Page") or 0)
            filters = [(op, _parse_filter_date(value)) for op, value in _date_filters(query)]
        except ValueError as exc:
            return 400, twilio_error(20001, 400, f"Invalid parameter: {exc}")
        to, from_ = param("To"), param("From")
        with self._lock:
            candidates = [dict(m) for m in self._messages if m["account_sid"] == account]
        selected = [
            m
            for m in reversed(candidates)  # Twilio lists newest first
            if (to is None or m["to"] == to)
            and (from_ is None or m["from"] == from_)
            and all(_date_matches(m["date_sent"], op, value) for op, value in filters)
        ]
        start = page * page_size
        chunk = selected[start : start + page_size]
        paging = {"Page", "PageSize", "PageToken"}
        base_query = [(k, v) for k, values in query.items() if k not in paging for v in values]

        def page_uri(number: int) -> str:
            extra = [("PageSize", str(page_size)), ("Page", str(number))]
            if number > 0:
                extra.append(("PageToken", f"PASM{number}"))
            return f"{path}?{urlencode(base_query + extra)}"

        has_next = start + page_size < len(selected)
        return 200, {
            "end": start + max(len(chunk) - 1, 0),
            "first_page_uri": page_uri(0),
            "messages": [_public(m) for m in chunk],
            "next_page_uri": page_uri(page + 1) if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "status_callback"}


def _date_filters(query: dict[str, list[str]]) -> list[tuple[str, str]]:
    # The SDK sends `DateSent>` / `DateSent<` as keys, which on the wire read as DateSent>=... / DateSent<=...
    ops = {"DateSent": "=", "DateSent>": ">=", "DateSent<": "<="}
    return [(op, values[0]) for key, op in ops.items() if (values := query.get(key))]


def _parse_filter_date(value: str) -> date | datetime:
    if "T" in value:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return date.fromisoformat(value)


def _date_matches(date_sent: str | None, op: str, value: date | datetime) -> bool:
    if date_sent is None:
        return False  # queued messages have no date_sent, so Twilio's DateSent filters never match them
    sent = datetime.strptime(date_sent, "%a, %d %b %Y %H:%M:%S %z")
    if isinstance(value, datetime):
        left, right = sent.timestamp(), value.timestamp()
    else:
        left, right = float(sent.date().toordinal()), float(value.toordinal())
    if op == ">=":
        return left >= right
    if op == "<=":
        return left <= right
    return left == right
