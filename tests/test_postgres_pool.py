"""PostgreSQL's connection pool: connections are opened once and kept, and one the server has closed is replaced at
checkout, so the request that takes it still works (issue 11: no overflow churn, no pre-ping round trips).

PostgreSQL is production's database and CI's: an unreachable server fails these tests rather than skipping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from config import Settings
from db.session import create_engine_for, create_session_factory, session_scope
from tests.dbtools import admin_conninfo, make_database

POOL = 3


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    url, cleanup = make_database("postgresql", tmp_path)
    yield url
    cleanup()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine_for(database_url, postgres_pool_size=POOL)
    yield eng
    await eng.dispose()


def _opened(engine: AsyncEngine) -> list[object]:
    """Every connection the engine opens from now on, as it opens it."""
    opened: list[object] = []

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        opened.append(dbapi_connection)

    event.listen(engine.sync_engine, "connect", on_connect)
    return opened


async def _transactions(engine: AsyncEngine, count: int) -> None:
    """`count` short transactions at once, each holding a connection for a moment."""
    sessions = create_session_factory(engine)

    async def transaction() -> None:
        async with session_scope(sessions) as session:
            await session.execute(text("SELECT pg_sleep(0.02)"))

    await asyncio.gather(*(transaction() for _ in range(count)))


async def _backend_pid(engine: AsyncEngine) -> int:
    async with session_scope(create_session_factory(engine)) as session:
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


def _terminate(database: str) -> None:
    """What a restart or an administrator does to the engine's connections: end them from the server's side, and
    wait until their backends are gone."""
    with psycopg.connect(admin_conninfo(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                      "AND pid <> pg_backend_pid()", (database,))
        deadline = time.monotonic() + 10
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                            (database,)).fetchone() != (0,):
            assert time.monotonic() < deadline, "the terminated backends did not go away"
            time.sleep(0.02)


async def test_connections_are_opened_once_and_kept(engine: AsyncEngine) -> None:
    """More transactions at once than the pool holds wait for a connection: none is opened beyond the pool's size,
    and none is closed when it comes back, so a second wave opens nothing."""
    opened = _opened(engine)
    await _transactions(engine, 4 * POOL)
    assert len(opened) == POOL
    await _transactions(engine, 4 * POOL)
    assert len(opened) == POOL


async def test_a_connection_the_server_closed_is_replaced_at_checkout(engine: AsyncEngine) -> None:
    opened = _opened(engine)
    before = await _backend_pid(engine)
    database = engine.url.database
    assert database is not None
    await asyncio.to_thread(_terminate, database)
    await asyncio.sleep(0.1)  # the event loop reads the closed socket's end, as it would between two requests

    after = await _backend_pid(engine)  # no error: the closed connection was swapped for a new one

    assert after != before
    assert len(opened) == 2


async def test_the_api_keeps_as_many_connections_as_api_database_pool_size(database_url: str) -> None:
    settings = Settings(environment="test", database_url=database_url, api_database_pool_size=2,
                        temporal_address="127.0.0.1:1")  # never reached: the client connects lazily
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engine = app.state.smartplans.sessions.kw["bind"]
        opened = _opened(engine)
        await _transactions(engine, 6)
    assert len(opened) == 2
