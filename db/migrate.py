"""Bring a database schema to the latest Alembic revision, from code or `python -m db.migrate`.

Tests, `make dev` and deploys all call this rather than the `alembic` CLI so that the working directory
and the location of alembic.ini never matter.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ALEMBIC_INI = Path(__file__).resolve().parent / "alembic.ini"


def alembic_config(database_url: str) -> Config:
    """An Alembic Config bound to `database_url` (async or sync spelling; env.py converts it)."""
    cfg = Config(str(ALEMBIC_INI))
    # ConfigParser interpolation treats "%" specially; URL-escaped passwords contain it.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply every pending migration to the database at `database_url`."""
    from db.session import sqlite_file, sync_url

    path = sqlite_file(sync_url(database_url))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


def main() -> None:
    from config import get_settings

    url = get_settings().database_url
    upgrade(url)
    print(f"database at {url.split('@')[-1]} is at the latest revision")


if __name__ == "__main__":
    main()
