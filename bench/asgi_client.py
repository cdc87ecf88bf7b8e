"""The enroll benches' client: the app called as a server calls it, with nothing around the call.

The benches run the app in their own process, so whatever their client spends per request is charged to the API
on a machine whose cores every process shares. httpx's ASGI transport spent about 0.45 ms of CPU a request here
(building and reading its `Request` and `Response`, its URL and headers: docs/performance.md, "A client that costs
the API nothing"), a sixth of the app's own cost, where a client on another machine costs the API nothing. This
one hands the app an ASGI scope and the body, and keeps the status and body it answers: what uvicorn does once it
has parsed a request, less the parsing. The app still does everything it does behind uvicorn (middleware, routing,
validation, its transaction and the start). `--client httpx` in the benches measures with httpx instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.types import ASGIApp, Message


@dataclass(frozen=True)
class Answer:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class AsgiClient:
    """POSTs of JSON with fixed headers (the caller's key), answered whole."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self._app = app
        own = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        self._headers = [(b"host", b"bench"), (b"content-type", b"application/json"), *own]

    async def post(self, path: str, body: object) -> Answer:
        # The bytes httpx sends for the same body, so the app parses exactly what it parsed before.
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "headers": [*self._headers, (b"content-length", str(len(payload)).encode("latin-1"))],
                 "scheme": "http", "path": path, "raw_path": path.encode("latin-1"), "query_string": b"",
                 "server": ("bench", 80), "client": ("127.0.0.1", 123), "root_path": ""}
        status = 0
        parts: list[bytes] = []
        answered = asyncio.Event()
        pending: list[Message] = [{"type": "http.request", "body": payload, "more_body": False}]

        async def receive() -> Message:
            if pending:
                return pending.pop()
            await answered.wait()  # as a client that stays connected until it has the whole answer
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body", False):
                    answered.set()

        await self._app(scope, receive, send)
        if not answered.is_set():
            raise RuntimeError(f"POST {path}: the app returned without a whole answer")
        return Answer(status, b"".join(parts))


class HttpxClient:
    """The same calls through httpx's ASGI transport, as the benches made them before (`--client httpx`)."""

    def __init__(self, http: httpx.AsyncClient, headers: Mapping[str, str]) -> None:
        self._http, self._headers = http, dict(headers)

    async def post(self, path: str, body: object) -> Answer:
        response = await self._http.post(path, headers=self._headers, json=body)
        return Answer(response.status_code, response.content)


CLIENTS = ("asgi", "httpx")


def bench_client(kind: str, app: ASGIApp, http: httpx.AsyncClient,
                 headers: Mapping[str, str]) -> AsgiClient | HttpxClient:
    return AsgiClient(app, headers) if kind == "asgi" else HttpxClient(http, headers)
