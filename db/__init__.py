"""Database layer: SQLAlchemy models, async engine/session helpers and the Alembic migrations.

Import models from `db.models` and engine helpers from `db.session`; this package root stays import-light
so that `alembic` and `python -m db.migrate` do not drag in the async drivers they do not need.
"""
