"""A loopback HTTP server that speaks SendGrid's v3 `POST /v3/mail/send` as the official SDK calls it.

Validation mirrors the checks SendGrid applies (and the error body it answers with) closely enough that a
malformed Mail built by our adapter fails here instead of in production.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Headers SendGrid refuses in the `headers` object because it sets them itself.
_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
_MESSAGE_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass
class _Failure:
    status: int
    message: str


def sendgrid_errors(*errors: tuple[str, str | None]) -> dict[str, Any]:
    """SendGrid's error body: a list of {message, field, help}."""
    return {"errors": [{"message": message, "field": field, "help": None} for message, field in errors]}


def validate_mail(payload: Any) -> list[tuple[str, str | None]]:
    """Return (message, field) for every problem SendGrid would report; empty when the mail is sendable."""
    if not isinstance(payload, dict):
        return [("Bad Request", None)]
    errors: list[tuple[str, str | None]] = []
    templated = bool(payload.get("template_id"))
    personalizations = payload.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        errors.append(
            ("The personalizations field is required and must have at least one personalization.", "personalizations")
        )
        personalizations = []
    for i, personalization in enumerate(personalizations):
        to = personalization.get("to") if isinstance(personalization, dict) else None
        if not isinstance(to, list) or not to:
            errors.append(
                (
                    "The to array is required for all personalization objects, and must have at least one email "
                    "object with a valid email address.",
                    f"personalizations.{i}.to",
                )
            )
            continue
        for j, recipient in enumerate(to):
            if not _valid_address(recipient):
                errors.append(("Does not contain a valid address.", f"personalizations.{i}.to.{j}.email"))
    sender = payload.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        errors.append(("The from object must be provided for every email send.", "from.email"))
    elif not _valid_address(sender):
        errors.append(("The from email does not contain a valid address.", "from.email"))
    reply_to = payload.get("reply_to")
    if reply_to is not None and not _valid_address(reply_to):
        errors.append(("The reply_to email does not contain a valid address.", "reply_to.email"))
    every_personalization_has_subject = bool(personalizations) and all(
        isinstance(p, dict) and p.get("subject") for p in personalizations
    )
    if not payload.get("subject") and not templated and not every_personalization_has_subject:
        errors.append(
            (
                "The subject is required. You can get around this requirement if you use a template "
                "with a subject defined or if every personalization has a subject defined.",
                "subject",
            )
        )
    errors.extend(_content_errors(payload.get("content"), templated))
    errors.extend(_string_map_errors(payload.get("headers"), "headers", reserved=_RESERVED_HEADERS))
    errors.extend(_string_map_errors(payload.get("custom_args"), "custom_args", reserved=frozenset()))
    return errors


def _valid_address(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("email"), str) and bool(_EMAIL_RE.match(value["email"]))


def _content_errors(content: Any, templated: bool) -> list[tuple[str, str | None]]:
    if content is None or content == []:
        if templated:
            return []
        return [
            (
                "Unless a valid template_id is provided, the content parameter is required. There must be at "
                "least one defined content block.",
                "content",
            )
        ]
    if not isinstance(content, list):
        return [("Invalid type. Expected: array, given: " + type(content).__name__, "content")]
    errors: list[tuple[str, str | None]] = []
    types: list[str] = []
    for i, block in enumerate(content):
        if not isinstance(block, dict) or not block.get("type"):
            errors.append(("The content type is required.", f"content.{i}.type"))
            continue
        types.append(str(block["type"]))
        if not isinstance(block.get("value"), str) or not block["value"]:
            errors.append(
                ("The content value must be a string at least one character in length.", f"content.{i}.value")
            )
    if "text/plain" in types and types[0] != "text/plain":
        errors.append(
            (
                "If present, text/plain content must be first, followed by text/html, followed by any other content.",
                "content",
            )
        )
    if len(types) != len(set(types)):
        errors.append(("Each content type may only be provided once.", "content"))
    return errors


def _string_map_errors(value: Any, name: str, *, reserved: frozenset[str]) -> list[tuple[str, str | None]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [(f"Invalid type. Expected: object, given: {type(value).__name__}", name)]
    errors: list[tuple[str, str | None]] = []
    for key, item in value.items():
        if not isinstance(item, str):
            errors.append((f"Invalid type. Expected: string, given: {type(item).__name__}", f"{name}.{key}"))
        if key.lower() in reserved:
            errors.append((f"The following header is reserved and cannot be used: {key}", name))
    return errors


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeSendGrid) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out hang up before a delayed response is written; that is the point, not a bug.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        cast(_Server, self.server).fake._dispatch(self, "POST")

    def do_GET(self) -> None:
        cast(_Server, self.server).fake._dispatch(self, "GET")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeSendGrid:
    """Thread-safe recorder of accepted mail behind a real socket."""

    def __init__(self, api_keys: list[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._api_keys: set[str] = set(api_keys or [])
        self._emails: list[dict[str, Any]] = []
        self._message_ids: list[str] = []
        self._failures: list[_Failure] = []
        self._delays: list[float] = []
        self._closing = threading.Event()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for assertions
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-sendgrid", daemon=True
        )
        self._thread.start()

    # -- control -------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def emails(self) -> list[dict[str, Any]]:
        """Snapshot of accepted mail bodies (parsed JSON exactly as posted), oldest first."""
        with self._lock:
            return [json.loads(json.dumps(e)) for e in self._emails]

    @property
    def message_ids(self) -> list[str]:
        """X-Message-Id handed out for each entry of `emails`, same order."""
        with self._lock:
            return list(self._message_ids)

    def add_api_key(self, key: str) -> None:
        with self._lock:
            self._api_keys.add(key)

    def fail_next(self, status: int = 500, message: str | None = None) -> None:
        """The next request fails with `status` without being recorded."""
        with self._lock:
            self._failures.append(_Failure(status, message or f"HTTP {status}"))

    def delay_next_response(self, seconds: float) -> None:
        """The next request is fully processed (mail recorded) but its response is held back."""
        with self._lock:
            self._delays.append(seconds)

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()  # wakes delayed handlers so they don't outlive the test
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeSendGrid:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- request handling ----------------------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append((method, handler.path))
            delay = self._delays.pop(0) if self._delays else 0.0
            failure = self._failures.pop(0) if self._failures else None
        headers: dict[str, str] = {}
        payload: dict[str, Any] | None
        if failure is not None:
            status, payload = failure.status, sendgrid_errors((failure.message, None))
        else:
            status, payload, headers = self._route(handler, method, raw_body)
        if delay:
            self._closing.wait(delay)
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        try:
            handler.send_response(status)
            if data:
                handler.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # client gave up (read timeout) before the delayed response

    def _route(
        self, handler: BaseHTTPRequestHandler, method: str, raw_body: bytes
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        if handler.path.split("?", 1)[0] != "/v3/mail/send":
            return 404, sendgrid_errors(("resource not found", None)), {}
        if method != "POST":
            return 405, sendgrid_errors(("method not allowed", None)), {}
        auth = handler.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return 401, sendgrid_errors(("Permission denied, wrong credentials", None)), {}
        with self._lock:
            known = auth[len("Bearer ") :] in self._api_keys
        if not known:
            return 401, sendgrid_errors(("The provided authorization grant is invalid, expired, or revoked", None)), {}
        try:
            payload = json.loads(raw_body.decode("utf-8"))
        except ValueError:
            return 400, sendgrid_errors(("Bad Request", None)), {}
        problems = validate_mail(payload)
        if problems:
            return 400, sendgrid_errors(*problems), {}
        message_id = "".join(secrets.choice(_MESSAGE_ID_ALPHABET) for _ in range(22))
        with self._lock:
            self._emails.append(payload)
            self._message_ids.append(message_id)
        return 202, None, {"X-Message-Id": message_id}
