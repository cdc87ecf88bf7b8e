"""Enrollments record when their workflow was first seen running, so an active row whose workflow never started
(a crash between the row's commit and the start) is found by a cheap partial index and repaired.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 00:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNCONFIRMED = "status = 'active' AND confirmed_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
    # Rows from before: their workflows were started with them and have long run.
    op.execute("UPDATE enrollments SET confirmed_at = started_at")
    op.create_index("ix_enrollments_unconfirmed_started_at", "enrollments", ["started_at"], unique=False,
                    sqlite_where=sa.text(UNCONFIRMED), postgresql_where=sa.text(UNCONFIRMED))


def downgrade() -> None:
    op.drop_index("ix_enrollments_unconfirmed_started_at", table_name="enrollments",
                  sqlite_where=sa.text(UNCONFIRMED), postgresql_where=sa.text(UNCONFIRMED))
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("confirmed_at")
