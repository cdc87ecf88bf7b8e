"""The database layer's guarantees, checked on SQLite and PostgreSQL alike.

The rest of the system leans on these: the migration is the schema (no drift from the models), a contact
is in a plan at most once at a time, timestamps are always aware UTC, and idempotency keys are unique.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import bindparam, create_engine, event, func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.base import Base, utcnow
from db.migrate import alembic_config, upgrade
from db.models import Agent, Contact, Enrollment, Message, Plan, PlanVersion, Team
from db.session import (
    create_engine_for,
    create_session_factory,
    normalize_async_url,
    read_scope,
    session_scope,
    sync_url,
    write_after_reading,
)
from services.enrollments import Enrollee, Recorded, record_enrollments
from tests.dbtools import DatabaseKind, make_database, make_empty_database
from tests.factories import add_plan, plan_doc, seed, task

# PostgreSQL is production's database and CI's: an unreachable server fails these tests rather than skipping.
KINDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql")]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> DatabaseKind:
    value: DatabaseKind = request.param
    return value


@pytest.fixture
def database_url(kind: DatabaseKind, tmp_path: Path) -> Iterator[str]:
    url, cleanup = make_database(kind, tmp_path)
    yield url
    cleanup()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine_for(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


def _head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _current_revision(url: str) -> str | None:
    sync_engine = create_engine(sync_url(url))
    try:
        with sync_engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        sync_engine.dispose()


async def _seed(factory: async_sessionmaker[AsyncSession]) -> None:
    """A team with one agent, two contacts and a plan: enough rows for the foreign keys below."""
    async with session_scope(factory) as session:
        session.add(Team(id="tm_1", name="Rainmakers"))
        await session.flush()
        session.add(
            Agent(
                id="ag_1",
                team_id="tm_1",
                first_name="Rae",
                last_name="Maker",
                email="rae@example.com",
                role="rainmaker",
                permission="unlimited",
            )
        )
        await session.flush()
        session.add_all(
            [
                Contact(id="ct_1", team_id="tm_1", first_name="Ann", assignee_id="ag_1"),
                Contact(id="ct_2", team_id="tm_1", first_name="Bob"),
                Plan(id="pl_1", team_id="tm_1", owner_agent_id="ag_1", name="New lead", current_version=1),
            ]
        )
        await session.flush()
        session.add(PlanVersion(id="pv_1", plan_id="pl_1", version=1, definition={"steps": []}))


def _enrollment(enrollment_id: str, contact_id: str = "ct_1", status: str = "active") -> Enrollment:
    return Enrollment(
        id=enrollment_id,
        team_id="tm_1",
        plan_id="pl_1",
        contact_id=contact_id,
        plan_version=1,
        workflow_id=f"enrollment-{enrollment_id}",
        status=status,
        source="manual",
    )


def _message(message_id: str, idempotency_key: str | None) -> Message:
    return Message(
        id=message_id,
        team_id="tm_1",
        contact_id="ct_1",
        agent_id="ag_1",
        direction="outbound",
        channel="email",
        to_address="ann@example.com",
        from_address="rae@example.com",
        subject="Hi",
        body="Hello",
        provider="outbox",
        status="recorded",
        idempotency_key=idempotency_key,
    )


def test_upgrade_from_empty_to_head(kind: DatabaseKind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, cleanup = make_empty_database(kind, tmp_path)
    try:
        assert _current_revision(url) is None
        monkeypatch.chdir(tmp_path)  # alembic.ini is found relative to the package, not the cwd
        upgrade(url)
        assert _current_revision(url) == _head_revision(url)
        sync_engine = create_engine(sync_url(url))
        try:
            tables = set(inspect(sync_engine).get_table_names())
        finally:
            sync_engine.dispose()
        assert set(Base.metadata.tables) <= tables
    finally:
        cleanup()


def test_migrated_schema_matches_models(database_url: str) -> None:
    sync_engine = create_engine(sync_url(database_url))
    try:
        with sync_engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        sync_engine.dispose()
    command.check(alembic_config(database_url))  # the same check through env.py, as `alembic check` runs it


def test_downgrade_to_base_and_back(database_url: str) -> None:
    cfg = alembic_config(database_url)
    command.downgrade(cfg, "base")
    assert _current_revision(database_url) is None
    command.upgrade(cfg, "head")
    assert _current_revision(database_url) == _head_revision(database_url)


async def test_contact_is_active_in_a_plan_at_most_once(factory: async_sessionmaker[AsyncSession]) -> None:
    await _seed(factory)
    async with session_scope(factory) as session:
        session.add(_enrollment("en_1"))

    with pytest.raises(IntegrityError):
        async with session_scope(factory) as session:
            session.add(_enrollment("en_2"))

    async with session_scope(factory) as session:
        session.add(_enrollment("en_other_contact", contact_id="ct_2"))
        first = await session.get_one(Enrollment, "en_1")
        first.status = "completed"
        first.ended_at = utcnow()

    async with session_scope(factory) as session:
        session.add(_enrollment("en_3"))
        session.add(_enrollment("en_old_removed", status="removed"))

    async with factory() as session:
        count = await session.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.contact_id == "ct_1")
        )
    assert count == 3


async def test_utc_datetime_round_trips_aware_utc(factory: async_sessionmaker[AsyncSession]) -> None:
    await _seed(factory)
    chicago = datetime(2025, 3, 9, 1, 30, 15, 123456, tzinfo=ZoneInfo("America/Chicago"))
    async with session_scope(factory) as session:
        contact = await session.get_one(Contact, "ct_1")
        contact.opted_out, contact.opted_out_at = True, chicago

    async with factory() as session:
        loaded = await session.scalar(select(Contact.opted_out_at).where(Contact.id == "ct_1"))
        created = await session.scalar(select(Contact.created_at).where(Contact.id == "ct_1"))
        # Comparisons happen in the database, so they must see the same instant too.
        later = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.opted_out_at > chicago - timedelta(seconds=1))
        )
    assert loaded == chicago
    assert loaded is not None
    assert loaded.tzinfo is UTC
    assert loaded.hour == 7  # 01:30 CST is 07:30 UTC
    assert created is not None
    assert created.tzinfo is UTC
    assert later == 1


async def test_utc_datetime_refuses_naive(factory: async_sessionmaker[AsyncSession]) -> None:
    await _seed(factory)
    async with factory() as session:
        contact = await session.get_one(Contact, "ct_1")
        contact.unsubscribed_at = datetime(2025, 1, 1, 12, 0)
        with pytest.raises(StatementError, match="naive datetime"):
            await session.flush()


async def test_message_idempotency_key_is_unique(factory: async_sessionmaker[AsyncSession]) -> None:
    await _seed(factory)
    async with session_scope(factory) as session:
        session.add_all([_message("ms_1", "send:en_1:s1"), _message("ms_2", None), _message("ms_3", None)])

    with pytest.raises(IntegrityError):
        async with session_scope(factory) as session:
            session.add(_message("ms_4", "send:en_1:s1"))


async def test_savepoint_absorbs_a_duplicate_and_keeps_the_outer_work(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    """The idempotent-insert pattern activities use; on SQLite it needs our own BEGIN handling."""
    await _seed(factory)
    async with session_scope(factory) as session:
        session.add(_message("ms_1", "key-1"))

    async with session_scope(factory) as session:
        session.add(_message("ms_2", "key-2"))
        await session.flush()
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                session.add(_message("ms_dup", "key-1"))

    async with factory() as session:
        ids = set(await session.scalars(select(Message.id)))
    assert ids == {"ms_1", "ms_2"}


async def _add_team_then_fail(factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_scope(factory) as session:
        session.add(Team(id="tm_gone", name="Never"))
        await session.flush()
        raise RuntimeError("boom")


async def test_session_scope_rolls_back_on_error(factory: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        await _add_team_then_fail(factory)
    async with factory() as session:
        assert await session.get(Team, "tm_gone") is None


async def test_a_write_after_reading_joins_the_reads_transaction_on_postgresql_only(
        kind: DatabaseKind, engine: AsyncEngine, factory: async_sessionmaker[AsyncSession]) -> None:
    """PostgreSQL's reads take no lock, so the write after them (`write_after_reading`) commits in their transaction:
    one BEGIN and one session. SQLite's read transaction cannot safely become a write: it ends, and the write has its
    own. Either way the write is committed and the team renamed."""
    async with session_scope(factory) as session:
        session.add(Team(id="tm_read", name="Before"))
    begun: list[object] = []
    event.listen(engine.sync_engine, "begin", begun.append)
    async with read_scope(factory) as session:
        team = await session.get(Team, "tm_read")
        assert team is not None
        assert team.name == "Before"
        await write_after_reading(session, update(Team).where(Team.id == "tm_read").values(name=bindparam("renamed")),
                                  {"renamed": "After"})
    assert len(begun) == (1 if kind == "postgresql" else 2)
    async with factory() as session:
        assert await session.scalar(select(Team.name).where(Team.id == "tm_read")) == "After"


async def test_enrolling_a_contact_added_in_the_same_transaction_writes_the_contact_first(
        factory: async_sessionmaker[AsyncSession]) -> None:
    """`record_enrollments` inserts on the session's connection, past `Session.execute`'s autoflush: a contact still
    pending in the session is flushed first, so the row's foreign key finds it (R-ENR-1's row, in one transaction)."""
    world = await seed(factory)
    plan_id = await add_plan(factory, world, plan_doc((1, [task()])))
    async with session_scope(factory) as session:  # the plan's steps looked up (and remembered) by a first contact
        plan = await session.get_one(Plan, plan_id)
        await record_enrollments(session, plan, [Enrollee(world.contact_id, "Dana")], source="manual", at=utcnow())
    async with session_scope(factory) as session:
        plan = await session.get_one(Plan, plan_id)
        session.add(Contact(id="ct_new", team_id=world.team_id, first_name="Newt"))
        [answer] = await record_enrollments(session, plan, [Enrollee("ct_new", "Newt")], source="manual", at=utcnow())
    assert isinstance(answer, Recorded)
    async with factory() as session:
        assert await session.scalar(select(Enrollment.status).where(Enrollment.contact_id == "ct_new")) == "active"


async def test_foreign_keys_are_enforced(factory: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(IntegrityError):
        async with session_scope(factory) as session:
            session.add(Contact(id="ct_orphan", team_id="tm_missing", first_name="Nobody"))


async def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'x.db'}")
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert await conn.scalar(text("PRAGMA busy_timeout")) == 30000
    finally:
        await engine.dispose()
    assert engine.url.drivername == "sqlite+aiosqlite"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+asyncpg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql://u@h/d?sslmode=require", "postgresql+asyncpg://u@h/d?ssl=require"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_url_normalisation(given: str, expected: str) -> None:
    assert normalize_async_url(given).render_as_string(hide_password=False) == expected
    assert sync_url(expected).drivername in ("sqlite", "postgresql+psycopg")
