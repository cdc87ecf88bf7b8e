"""Async engine and session construction, with the SQLite settings a multi-process dev setup needs.

The API, the Temporal worker and the CLI may all open the same SQLite file at once, so SQLite gets WAL
(readers do not block the writer), a generous busy timeout, enforced foreign keys (off by default in
SQLite), transactions that take the write lock up front (see `_sqlite_begin`) unless they only read
(`read_scope`), commits that do not wait for the disk (`synchronous=NORMAL`: WAL keeps the file consistent through a
crash of the process; only a power cut can lose the last commits) and one connection per process (see
`create_engine_for`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.expression import Executable

from db.sqlite_driver import OneTripConnection, one_trip_dbapi

SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL connections a process keeps open by default, none beyond (see `create_engine_for`).
POSTGRES_POOL_SIZE = 15
_READ_ONLY = "smartplans_read_only"


def normalize_async_url(url: str | URL) -> URL:
    """Accept the URL spellings people paste (`postgresql://`, `postgres://`, `sqlite:///`) for async use.

    Any PostgreSQL driver is mapped to asyncpg: per round trip its protocol loop costs a fraction of psycopg's
    async one, and an enrollment by hand is seven round trips (issue 11, docs/performance.md).
    """
    parsed = make_url(url)
    backend = parsed.drivername.split("+", 1)[0]
    if backend in ("postgresql", "postgres"):
        query = dict(parsed.query)
        if "sslmode" in query:
            # libpq's spelling, which hosted databases hand out; asyncpg takes the same modes as `ssl`.
            query["ssl"] = query.pop("sslmode")
        return parsed.set(drivername="postgresql+asyncpg", query=query)
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    return parsed


def sync_url(url: str | URL) -> URL:
    """The same database through a synchronous driver, for Alembic and other sync tooling."""
    parsed = make_url(url)
    backend = parsed.drivername.split("+", 1)[0]
    if backend in ("postgresql", "postgres"):
        # psycopg 3 for sync tooling (Alembic); the application itself runs on asyncpg.
        query = dict(parsed.query)
        if "ssl" in query:
            query["sslmode"] = query.pop("ssl")
        return parsed.set(drivername="postgresql+psycopg", query=query)
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory / URI-style databases."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or url.query.get("uri") == "true":
        return None
    return Path(database)


def _sqlite_connect(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    # Take transaction control away from the sqlite3 driver: its legacy mode skips BEGIN before SELECT
    # and SAVEPOINT, which breaks `begin_nested()` and repeatable reads (see the SQLAlchemy SQLite docs).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # SQLite serves development only (production refuses it): WAL's recommended durability, which stays
        # consistent after a crash but does not wait for the disk at every commit — one per plan step.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN, where busy_timeout waits for it. A deferred transaction
    # that reads and then writes fails instantly with SQLITE_BUSY under WAL when another writer got in
    # first, and no timeout helps. Transactions here are short, so serialising them costs little. One that
    # only reads (`read_scope`) takes no lock: under WAL it reads a snapshot while a writer works.
    begin = "BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE"
    driver = conn.connection.dbapi_connection
    if isinstance(driver, OneTripConnection):
        driver.begin_with_next_statement(begin)  # in the trip of the transaction's first statement
    else:
        conn.exec_driver_sql(begin)


def install_sqlite_pragmas(engine: AsyncEngine) -> None:
    """Attach the SQLite connection and transaction hooks to an engine (a no-op for other backends)."""
    if engine.dialect.name != "sqlite":
        return
    event.listen(engine.sync_engine, "connect", _sqlite_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_begin)


def create_engine_for(url: str, *, postgres_pool_size: int = POSTGRES_POOL_SIZE, **engine_kwargs: Any) -> AsyncEngine:
    """An async engine for `url`, normalised to the project's async drivers and configured per backend."""
    parsed = normalize_async_url(url)
    path = sqlite_file(parsed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if parsed.get_backend_name() == "postgresql":
        # No overflow: SQLAlchemy closes an overflow connection as soon as it is returned, so under load every
        # checkout past the pool's size forked a server backend and prepared its statements afresh (a twentieth of
        # an enrollment's API samples, docs/performance.md). Past the pool, callers queue for a connection instead.
        engine_kwargs.setdefault("pool_size", postgres_pool_size)
        engine_kwargs.setdefault("max_overflow", 0)
    elif path is not None:
        # Every transaction but a read takes the file's one write lock, so more connections would only wait in
        # SQLite's busy handler, which polls with sleeps of up to 100 ms: a process's transactions queue for its one
        # connection instead, first come first served (its pool timeout, 30 s, matches the busy timeout).
        engine_kwargs.setdefault("pool_size", 1)
        engine_kwargs.setdefault("max_overflow", 0)
    if parsed.get_backend_name() == "sqlite":
        engine_kwargs.setdefault("module", one_trip_dbapi())  # a transaction: one trip to the driver's thread + commit
    engine = create_async_engine(parsed, **engine_kwargs)
    install_sqlite_pragmas(engine)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine.sync_engine, "checkout", _drop_closed_connection)
    return engine


def _drop_closed_connection(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    """Replace, at checkout, a pooled connection the server has closed (a restart, an idle timeout, an
    administrator's `pg_terminate_backend`), so the request that takes it still gets a working one.

    asyncpg notices the server's close as the event loop reads the socket's end, so a flag check does what
    `pool_pre_ping` did with three round trips (BEGIN, a ping, ROLLBACK) on every checkout: two fifths of an
    enrollment's key lookup (docs/performance.md). Raising `DisconnectionError` here makes the pool discard the
    connection and check out another, opening a new one if need be.
    """
    driver = record.driver_connection  # asyncpg's connection: only PostgreSQL engines listen
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the database server closed this pooled connection")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit: async code cannot lazily reload them."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit if the block succeeds, roll back if it raises (then re-raise)."""
    async with factory() as session:
        try:
            yield session
            if session.in_transaction():  # a block that committed itself (enrolling does) has nothing left to commit
                await session.commit()
        except BaseException:
            await session.rollback()
            raise


@asynccontextmanager
async def read_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work that only reads (it is rolled back): on SQLite it takes no write lock, so a busy writer in
    another process neither waits for it nor makes it wait. Never write in it, except through `write_after_reading`."""
    async with factory() as session:
        await session.connection(execution_options={_READ_ONLY: True})
        yield session


async def write_after_reading(session: AsyncSession, statement: Executable, params: Mapping[str, Any]) -> None:
    """`statement` run and committed after the reads of `session`, a `read_scope`.

    On PostgreSQL it joins the reads' transaction: reads there take no lock, and a transaction and a session fewer
    saved a third of a millisecond of the worker's CPU on every enrollment's first load (issue 11). On SQLite the
    read transaction ends first, because a deferred read cannot safely become a write (`_begin`): the statement gets
    an IMMEDIATE transaction of its own, on the same session. Its rollback expires the objects read, so take what is
    needed of them before.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.rollback()
    await session.execute(statement, params)
    await session.commit()
