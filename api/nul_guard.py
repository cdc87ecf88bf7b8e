"""No NUL in a request's path or query string. An id or a filter never holds NUL, and PostgreSQL cannot take it as a
parameter: `GET /plans/pl%00x` was a 500 there (a 404 on SQLite). Answered here, before any route reads it: a path
holding NUL names nothing (404), a query parameter holding it is refused naming the parameter (422), as request
bodies are (`api.schemas.common.nul_at`)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from api.schemas.common import NUL_ERROR

NUL = "\x00"
# Unsubscribe links answer every malformed token exactly as an unknown one (R-EMAIL-4: nothing to learn by trying),
# and check the token's signature before anything reads the database: they keep their own 404.
_OWN_ANSWER = "/unsubscribe/"


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if NUL in scope["path"] and not scope["path"].startswith(_OWN_ANSWER):
                await _answer(send, 404, {"detail": "no such resource: its path holds the NUL character"})
                return
            query: bytes = scope.get("query_string", b"")
            if b"%00" in query or b"\x00" in query:
                named = [name for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
                         if NUL in name or NUL in value]
                if named:
                    await _answer(send, 422, {"detail": [
                        {"type": NUL_ERROR, "loc": ["query", named[0]],
                         "msg": "text may not contain the NUL character (\\u0000)"}]})
                    return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, content: object) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
