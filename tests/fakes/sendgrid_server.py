"""A loopback HTTP server that speaks SendGrid's v3 `POST /v3/mail/send` as the official SDK calls it.

Validation mirrors the checks SendGrid applies (and the error body it answers with) closely enough that a
malformed Mail built by our adapter fails here instead of in production.
"""

from __future__ import annotations

import json
import re
import secrets
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer, Reply

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


class FakeSendGrid(LoopbackServer):
    """Thread-safe recorder of accepted mail behind a real socket."""

    def __init__(self, api_keys: list[str] | None = None) -> None:
        self._api_keys: set[str] = set(api_keys or [])
        self._emails: list[dict[str, Any]] = []
        self._message_ids: list[str] = []
        super().__init__("fake-sendgrid")

    # -- control -------------------------------------------------------------------------------------------

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
        self._fail_next_with(Reply(status, sendgrid_errors((message or f"HTTP {status}", None))))

    # -- request handling ----------------------------------------------------------------------------------

    def _route(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> Reply:
        if handler.path.split("?", 1)[0] != "/v3/mail/send":
            return Reply(404, sendgrid_errors(("resource not found", None)))
        if method != "POST":
            return Reply(405, sendgrid_errors(("method not allowed", None)))
        auth = handler.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return Reply(401, sendgrid_errors(("Permission denied, wrong credentials", None)))
        with self._lock:
            known = auth[len("Bearer ") :] in self._api_keys
        if not known:
            return Reply(
                401, sendgrid_errors(("The provided authorization grant is invalid, expired, or revoked", None))
            )
        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError:
            return Reply(400, sendgrid_errors(("Bad Request", None)))
        problems = validate_mail(payload)
        if problems:
            return Reply(400, sendgrid_errors(*problems))
        message_id = "".join(secrets.choice(_MESSAGE_ID_ALPHABET) for _ in range(22))
        with self._lock:
            self._emails.append(payload)
            self._message_ids.append(message_id)
        return Reply(202, headers={"X-Message-Id": message_id})
