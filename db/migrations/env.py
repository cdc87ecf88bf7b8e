"""Alembic environment: migrations always run through a synchronous driver.

The application URL is async (`sqlite+aiosqlite`, `postgresql+psycopg`); Alembic's operations are sync,
so the URL is converted (psycopg 3 serves both). SQLite needs batch mode because it cannot ALTER most
things in place, and `compare_type` makes autogenerate notice column type changes.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection

import db.models  # noqa: F401  (registers every table on Base.metadata)
import db.routing_models  # noqa: F401
from db.base import Base, UtcDateTime
from db.session import sync_url

alembic_config = context.config

# Programmatic callers (tests, db.migrate) keep their own logging setup.
if alembic_config.config_file_name is not None and alembic_config.attributes.get("configure_logger", True):
    fileConfig(alembic_config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    url = alembic_config.get_main_option("sqlalchemy.url")
    if not url:
        from config import get_settings

        url = get_settings().database_url
    return sync_url(url).render_as_string(hide_password=False)


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not import application types that may change later; UtcDateTime is a Python-side
    # wrapper, so the schema only needs its implementation type.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    dialect = connection.dialect.name if connection is not None else (url or "").split(":", 1)[0]
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=dialect.startswith("sqlite"),
        compare_type=True,
        render_item=_render_item,
        literal_binds=connection is None,
        dialect_opts={"paramstyle": "named"} if connection is None else {},
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (`alembic upgrade head --sql`) instead of touching a database."""
    _configure(url=_database_url())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    shared: Connection | None = alembic_config.attributes.get("connection")
    if shared is not None:
        _configure(connection=shared)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
