"""SQLite for the async engine with one trip to the driver's thread per transaction, and one for its commit.

aiosqlite runs the sqlite3 connection on a thread of its own, and every call crosses to it and back: a queue put, a
wake-up of that thread, and a wake-up of the event loop with the answer. SQLAlchemy's adapter makes four such trips
per statement (open a cursor, execute, fetch, close) and three for our `BEGIN IMMEDIATE`. Each costs about 0.15 ms on
a small machine with the Temporal worker's threads busy, more than the statement itself: a plan step's transaction
made about twenty. Here a statement is one trip: the cursor is opened, executed, read to the end and closed on the
driver's thread, and the adapter answers `description`, `rowcount`, `lastrowid` and the rows from what came back.

A transaction's `BEGIN` travels with its first statement (`OneTripConnection.begin_with_next_statement`), and the
statements after it make no trip at all: they run on the event loop's thread. That first trip is where SQLite may
wait, up to the busy timeout, for the file's write lock (`BEGIN IMMEDIATE`); once a transaction holds it, or reads a
WAL snapshot, a statement never waits for another process, and our statements take micro- to milliseconds, less
than the two thread wake-ups a trip costs. `COMMIT`, which may checkpoint the WAL to disk, still goes to the driver's
thread. Only one of the two threads touches the connection at a time: a trip has finished with it before the event
loop runs again, and the adapter's mutex orders the statements (hence `check_same_thread=False`).

Only the buffered cursor changes; the server-side cursor (`stream()`), transactions, errors and the driver are
SQLAlchemy's and aiosqlite's own. SQLite serves development and tests; PostgreSQL (asyncpg) is unaffected.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

Description = tuple[tuple[Any, ...], ...] | None
Answer = tuple[Description, list[Any], int, int | None]


def _run(connection: aiosqlite.Connection, begin: str | None, operation: str, parameters: Any, many: bool) -> Answer:
    """The transaction's BEGIN if this is its first statement, then the whole statement, its rows read before the
    cursor closes: on the driver's thread for a transaction's first statement, on the event loop's after it."""
    cursor = connection._conn.cursor()  # noqa: SLF001 — the sqlite3 connection, touched by one thread at a time
    try:
        if begin is not None:
            cursor.execute(begin)
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor holding no driver cursor between statements: each `execute` is one trip that brings back
    everything SQLAlchemy asks of a cursor afterwards."""

    # Plain attributes here, where aiosqlite's cursor has properties reading its driver cursor.
    __slots__ = ("description", "rowcount", "lastrowid", "arraysize")
    description: Description
    rowcount: int
    lastrowid: Any  # sqlite3 gives None before any insert; SQLAlchemy annotates int
    arraysize: int

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:  # no trip to open a cursor
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self.description, self.rowcount, self.lastrowid, self.arraysize = None, -1, None, 1

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._answer(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._answer(operation, seq_of_parameters, many=True)

    async def _answer(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection = self._adapt_connection
        async with connection._execute_mutex:
            begin = connection.take_begin() if isinstance(connection, OneTripConnection) else None
            driver = cast(aiosqlite.Connection, self._connection)
            if begin is None and driver.in_transaction:  # the lock is held: nothing to wait for
                answer: Answer = _run(driver, None, operation, parameters, many)
            else:
                answer = await driver._execute(  # type: ignore[no-untyped-call]  # untyped in aiosqlite
                    _run, driver, begin, operation, parameters, many)
        self.description, rows, self.rowcount, self.lastrowid = answer
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        return None  # nothing is open on the driver's side

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None

    def nextset(self) -> None:
        return None  # SQLite answers a statement with one result set: there is never a next one


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """A connection whose transactions open in the trip of their first statement (`begin_with_next_statement`)."""

    __slots__ = ("_begin",)
    _cursor_cls = OneTripCursor  # type: ignore[assignment]  # a subclass; the base annotates its own class

    def __init__(self, dbapi: Any, connection: Any) -> None:  # an aiosqlite connection, as the base class takes it
        super().__init__(dbapi, connection)
        self._begin: str | None = None

    def begin_with_next_statement(self, begin: str) -> None:
        """Run `begin` (`BEGIN IMMEDIATE` or `BEGIN`) on the driver's thread just before the next statement, in the
        same trip. SQLAlchemy begins a transaction as its first statement is about to run, so the lock is taken
        exactly when it was before, one trip sooner; an error opening it is that statement's error."""
        self._begin = begin

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        return begin

    def cursor(self, server_side: bool = False) -> Any:
        if server_side and self._begin is not None:
            # A streaming cursor makes trips of its own: its transaction is opened first, in a trip of its own.
            OneTripCursor(self).execute(self.take_begin())
        return super().cursor(server_side)

    def commit(self) -> None:
        if self._begin is not None:  # the transaction never ran a statement: nothing was opened, nothing to commit
            self._begin = None
            return
        super().commit()

    def rollback(self) -> None:
        self._begin = None
        # Nothing to roll back is common (the pool's reset after a commit): answered here, without a trip.
        if self._connection._connection is not None and self._connection.in_transaction:
            super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy adapts it, with `OneTripConnection` for its connections."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        kw.setdefault("check_same_thread", False)  # a transaction's later statements run on the event loop's thread
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    """The DBAPI module to give `create_async_engine(module=…)` for an `sqlite+aiosqlite` URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)


__all__: Sequence[str] = ("OneTripCursor", "OneTripConnection", "OneTripDBAPI", "one_trip_dbapi")
