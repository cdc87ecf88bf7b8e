"""Fresh, migrated databases for tests, on SQLite or PostgreSQL.

Every test database is built by the real Alembic migrations (not `metadata.create_all`) so tests exercise
the schema production runs. PostgreSQL databases are created per call with a unique name, which isolates
tests completely (including from concurrently running test processes) and makes cleanup a single DROP.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Literal

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from db.migrate import upgrade

DatabaseKind = Literal["sqlite", "postgresql"]

# The server's maintenance database we connect to in order to CREATE/DROP the per-test databases.
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def admin_conninfo() -> str:
    return make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)


@lru_cache(maxsize=1)
def postgres_available() -> bool:
    """Whether PostgreSQL tests can run here; checked once so a missing server costs one timeout."""
    try:
        with psycopg.connect(admin_conninfo(), connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def _create_postgres_database() -> tuple[str, Callable[[], None]]:
    name = f"smartplans_test_{uuid.uuid4().hex[:16]}"
    # CREATE/DROP DATABASE cannot run inside a transaction block, hence autocommit.
    with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
            # FORCE ends connections a test forgot to close instead of failing the teardown.
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False), drop


def make_empty_database(kind: DatabaseKind, tmp_path: Path) -> tuple[str, Callable[[], None]]:
    """An async URL for a database with no tables at all, and the callable that removes it."""
    if kind == "postgresql":
        return _create_postgres_database()
    path = tmp_path / f"smartplans-{uuid.uuid4().hex[:8]}.db"

    def remove() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    return f"sqlite+aiosqlite:///{path}", remove


def make_database(kind: DatabaseKind, tmp_path: Path) -> tuple[str, Callable[[], None]]:
    """An async URL for a fresh database migrated to head, and the callable that removes it.

    Dispose every engine on the URL before calling the cleanup (PostgreSQL drops are forced anyway).
    """
    url, cleanup = make_empty_database(kind, tmp_path)
    try:
        upgrade(url)
    except BaseException:
        cleanup()
        raise
    return url, cleanup
