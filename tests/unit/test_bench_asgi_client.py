"""The enroll benches' lean client (`bench.asgi_client`) gives the app the request httpx's ASGI transport gives it,
and reads back the same answer: only the client's own cost differs between the two."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from bench.asgi_client import AsgiClient, bench_client

KEY = {"Authorization": "Bearer sp_bench"}


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo/{name}")
    async def echo(name: str, body: dict[str, Any], request: Request,
                   authorization: str = Header()) -> dict[str, Any]:
        return {"name": name, "body": body, "authorization": authorization, "host": request.headers["host"],
                "length": request.headers["content-length"], "type": request.headers["content-type"]}

    @app.post("/refuse")
    async def refuse(body: dict[str, int]) -> dict[str, int]:
        return body

    @app.post("/chunks")
    async def chunks() -> StreamingResponse:
        async def parts() -> Any:
            for part in (b"one,", b"two,", b"three"):
                yield part
        return StreamingResponse(parts(), media_type="text/plain")

    return app


@pytest.mark.parametrize(("path", "body"), [
    ("/echo/ann", {"contact_id": "co_1", "nested": [1, "two", None]}),
    ("/refuse", {"count": "not a number"}),
    ("/chunks", {}),
    ("/nowhere", {}),
])
async def test_the_app_answers_both_clients_alike(path: str, body: dict[str, Any]) -> None:
    app = echo_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
        lean = await bench_client("asgi", app, http, KEY).post(path, body)
        through_httpx = await bench_client("httpx", app, http, KEY).post(path, body)
    assert (lean.status_code, lean.content) == (through_httpx.status_code, through_httpx.content)
    assert lean.status_code in (200, 404, 422)


async def test_the_request_carries_the_key_the_body_and_its_length() -> None:
    answer = await AsgiClient(echo_app(), KEY).post("/echo/ann", {"contact_id": "co_1"})
    assert answer.status_code == 200
    assert answer.json() == {"name": "ann", "body": {"contact_id": "co_1"}, "authorization": "Bearer sp_bench",
                             "host": "bench", "length": str(len(b'{"contact_id":"co_1"}')),
                             "type": "application/json"}


async def test_an_app_that_never_finishes_its_answer_is_an_error_not_a_half_answer() -> None:
    async def half(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"par", "more_body": True})

    with pytest.raises(RuntimeError, match="without a whole answer"):
        await AsgiClient(half, KEY).post("/x", {})
