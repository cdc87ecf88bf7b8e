"""The real app served over HTTP by uvicorn on a free port, in the test's own event loop (beside the worker and the
Temporal client it shares), for tests whose client is another program: a browser, schemathesis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from tests.e2e.devstack import free_port


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """`app` on 127.0.0.1:<free port> until the block ends; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started or serving.done():
                break
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=10)
