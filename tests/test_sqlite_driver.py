"""SQLite's one-trip cursor (`db.sqlite_driver`): a transaction crosses to aiosqlite's thread once with its BEGIN and
first statement and once to commit, and SQLAlchemy gets everything a cursor answers — rows, description, row counts,
inserted ids, errors — as from aiosqlite's own.

The rest of the suite runs on it too; these pin what it promises on its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite.core
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.session import create_engine_for, create_session_factory, read_scope, session_scope, write_after_reading
from db.sqlite_driver import OneTripConnection


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'one-trip.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls that cross to aiosqlite's thread, by the name of what runs there."""
    crossed: list[str] = []
    real: Any = aiosqlite.core.Connection._execute  # untyped in aiosqlite

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        crossed.append(getattr(fn, "__name__", repr(fn)))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    return crossed


async def test_a_write_transaction_is_two_trips_however_many_statements(engine: AsyncEngine, trips: list[str]) -> None:
    sessions = create_session_factory(engine)
    async with session_scope(sessions) as session:
        await session.execute(text("SELECT 1"))  # warm the pool: connecting makes trips of its own
    trips.clear()
    async with session_scope(sessions) as session:
        assert (await session.execute(text("SELECT 41 + 1"))).scalar_one() == 42
    # BEGIN IMMEDIATE with the statement, then COMMIT; the pool's reset finds no transaction and makes no trip.
    assert trips == ["_run", "commit"]
    trips.clear()
    async with session_scope(sessions) as session:
        await session.execute(text("INSERT INTO item (name) VALUES ('a')"))
        await session.execute(text("INSERT INTO item (name) VALUES ('b')"))
        assert (await session.execute(text("SELECT count(*) FROM item"))).scalar_one() == 2
    # Once the transaction holds the lock, its statements run where they are called: still two trips.
    assert trips == ["_run", "commit"]
    trips.clear()
    async with session_scope(sessions) as session:
        await session.connection()  # begun, and nothing run in it: nothing opened, committed or rolled back
    assert trips == []


async def test_the_write_lock_is_held_from_the_first_statement(engine: AsyncEngine, tmp_path: Path) -> None:
    """BEGIN IMMEDIATE still opens the transaction: from its first statement, even a read, no other writer gets in
    (the busy timeout waits for the lock there, not at a later write)."""
    sessions = create_session_factory(engine)
    other = sqlite3.connect(tmp_path / "one-trip.db", timeout=0, isolation_level=None)
    try:
        async with session_scope(sessions) as session:
            await session.execute(text("SELECT count(*) FROM item"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        async with engine.connect() as conn:  # the pool's one connection: wait 50 ms for the lock, not 30 s
            await conn.exec_driver_sql("PRAGMA busy_timeout=50")
        other.execute("BEGIN IMMEDIATE")  # released at commit
        other.execute("INSERT INTO item (name) VALUES ('other')")
        with pytest.raises(OperationalError, match="locked"):
            async with session_scope(sessions) as session:
                # The BEGIN that cannot get the lock fails as the statement it came with, after the busy timeout.
                await session.execute(text("SELECT 1"))
        other.execute("COMMIT")
        async with session_scope(sessions) as session:  # the connection is good again
            assert (await session.execute(text("SELECT name FROM item"))).scalars().all() == ["other"]
    finally:
        other.close()


async def test_waiting_for_the_lock_leaves_the_event_loop_free(engine: AsyncEngine, tmp_path: Path) -> None:
    """The one statement that can wait for another process (its transaction's first, with the BEGIN) waits on the
    driver's thread: the event loop goes on meanwhile, and the statement runs once the lock is released."""
    sessions = create_session_factory(engine)
    other = sqlite3.connect(tmp_path / "one-trip.db", timeout=0, isolation_level=None)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def release_later() -> None:
        await asyncio.sleep(0.3)
        other.execute("COMMIT")

    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO item (name) VALUES ('first')")
        ticker, releaser = asyncio.create_task(tick()), asyncio.create_task(release_later())
        async with session_scope(sessions) as session:
            await session.execute(text("INSERT INTO item (name) VALUES ('second')"))
            names = (await session.execute(text("SELECT name FROM item ORDER BY id"))).scalars().all()
        ticker.cancel()
        await releaser
        assert names == ["first", "second"]
        assert ticks >= 10, f"the event loop ran {ticks} times in 0.3 s of waiting"
    finally:
        other.close()


async def test_a_write_after_reading_is_not_refused_for_a_writer_that_got_in_between(engine: AsyncEngine,
                                                                                     tmp_path: Path) -> None:
    """A read (`read_scope`) takes no lock, so another writer may commit while it is open; its snapshot is then
    stale, and SQLite refuses at once, whatever the timeout, to make that transaction a writer. The write after it
    (`write_after_reading`, as the context load confirms a row) gets a transaction of its own instead."""
    sessions = create_session_factory(engine)
    other = sqlite3.connect(tmp_path / "one-trip.db", timeout=0, isolation_level=None)
    try:
        async with read_scope(sessions) as session:
            assert (await session.execute(text("SELECT count(*) FROM item"))).scalar_one() == 0
            other.execute("INSERT INTO item (name) VALUES ('other')")
            await write_after_reading(session, text("INSERT INTO item (name) VALUES (:name)"), {"name": "mine"})
        async with session_scope(sessions) as session:
            names = (await session.execute(text("SELECT name FROM item ORDER BY id"))).scalars().all()
        assert names == ["other", "mine"]
    finally:
        other.close()


async def test_rows_description_counts_and_inserted_ids_come_back(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO item (name) VALUES ('a')"))
        assert inserted.lastrowid == 1
        assert inserted.rowcount == 1
        many = await conn.execute(text("INSERT INTO item (name) VALUES (:name)"), [{"name": "b"}, {"name": "c"}])
        assert many.rowcount == 2
        returned = await conn.execute(text("INSERT INTO item (name) VALUES ('d') RETURNING id, name"))
        assert returned.all() == [(4, "d")]
        updated = await conn.execute(text("UPDATE item SET name = name || '!' WHERE id > 2"))
        assert updated.rowcount == 2
        result = await conn.execute(text("SELECT id, name FROM item ORDER BY id"))
        assert list(result.keys()) == ["id", "name"]
        assert result.fetchmany(2) == [(1, "a"), (2, "b")]
        assert result.fetchall() == [(3, "c!"), (4, "d!")]


async def test_errors_are_sqlalchemys_and_the_transaction_rolls_back(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    async with sessions() as session:
        await session.execute(text("INSERT INTO item (name) VALUES ('x')"))
        with pytest.raises(IntegrityError):
            await session.execute(text("INSERT INTO item (name) VALUES ('x')"))
        await session.rollback()
        with pytest.raises(OperationalError):
            await session.execute(text("SELECT nothing FROM nowhere"))
        await session.rollback()
    async with session_scope(sessions) as session:
        assert (await session.execute(text("SELECT count(*) FROM item"))).scalar_one() == 0
        await session.execute(text("INSERT INTO item (name) VALUES ('x')"))  # the connection is still good
    async with engine.connect() as conn:
        assert isinstance((await conn.get_raw_connection()).dbapi_connection, OneTripConnection)


async def test_streaming_still_reads_through_a_server_side_cursor(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO item (name) VALUES (:name)"), [{"name": f"n{i}"} for i in range(5)])
    async with engine.connect() as conn:
        streamed = await conn.stream(text("SELECT name FROM item ORDER BY id"))
        assert [row.name async for row in streamed] == [f"n{i}" for i in range(5)]
    async with engine.begin() as conn:  # a stream as a transaction's first statement opens the transaction first
        streamed = await conn.stream(text("SELECT count(*) FROM item"))
        assert [row[0] async for row in streamed] == [5]
        await conn.execute(text("INSERT INTO item (name) VALUES ('after')"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM item"))).scalar_one() == 6
