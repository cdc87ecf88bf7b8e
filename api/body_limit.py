"""Request bodies are capped: a client cannot make the API buffer an unbounded upload (a plan, a design and a lead
are all well under the cap; the largest, a design's HTML, is limited to 500,000 characters by its schema)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 2 * 1024 * 1024
# SendGrid's Inbound Parse posts the whole reply, attachments included, up to 30 MB: a contact's reply with a photo
# must still count (R-RULE-5). The handler checks the shared secret before it reads the body.
MAX_INBOUND_EMAIL_BYTES = 32 * 1024 * 1024
LARGER_BODIES = {"/webhooks/sendgrid/inbound": MAX_INBOUND_EMAIL_BYTES}


class BodyLimit:
    """413 for a body over `limit` bytes (or the path's own limit in `larger`), before the app sees any of it: at
    once when Content-Length says so (the server holds the client to its declared length); a body without one
    (chunked) is read here up to the limit and handed on whole, so the refusal never meets a half-read request
    inside the app."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES,
                 larger: Mapping[str, int] = LARGER_BODIES) -> None:
        self.app, self.default, self.larger = app, limit, larger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.default)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > limit:
                await _refuse(send, limit)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it as it would
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await _refuse(send, limit)
                return
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body over {limit // (1024 * 1024)} MB; send less"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """The messages already read, then the rest from the client (its disconnect, when the app waits for one)."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
