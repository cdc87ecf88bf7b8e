"""Enrollments record a removal as soon as it is asked for, before their workflow ends them, so a send deciding in
the meantime finds it in the row it re-reads and sends nothing (R-ENR-2).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 00:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(sa.Column("removal_requested", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("removal_requested")
