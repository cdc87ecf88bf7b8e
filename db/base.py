"""Declarative base, the constraint naming convention and the one timestamp type every table uses.

Constraint names are deterministic so that Alembic migrations (and batch rebuilds on SQLite) can refer to
them by name on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The single source of "now" for defaults, so every stored timestamp is aware UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the backend stores.

    SQLite has no timezone support: SQLAlchemy writes the wall-clock digits and silently drops `tzinfo`,
    so a non-UTC aware value would be stored as the wrong instant. We therefore normalise to UTC before
    binding (keeping string comparisons in SQLite correct) and re-attach UTC when reading. PostgreSQL
    returns `timestamptz` in the session time zone, which we also normalise to UTC so callers never see
    a mix. Naive datetimes are refused outright: their meaning depends on the machine's clock settings.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UtcDateTime expects a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value!r} refused: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UtcDateTime read a {type(value).__name__} from the database")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Root of all models; carries the naming convention so migrations get stable constraint names."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}


def table_of(model: type[Base]) -> Table:
    """A mapped class's table, for the plain inserts of hot paths: a statement on the table skips the ORM's bulk-insert
    machinery, which costs more than running the statement (issue 11, docs/performance.md)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
