"""Leads record when their offer workflow was seen to agree with them, so a lead `offered` whose workflow never
started (a crash between the row's commit and the start), or a lead sent to the pool whose workflow started after
all, is found by a cheap partial index and repaired (issue 10, item 3).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 00:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OFFERED = "status = 'offered'"
UNCHECKED = "workflow_id IS NOT NULL AND offer_checked_at IS NULL"
INDEXES = (("ix_leads_offered_created_at", OFFERED), ("ix_leads_unchecked_created_at", UNCHECKED))


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("offer_checked_at", sa.DateTime(timezone=True), nullable=True))
    # Leads from before: their workflows were started with them and have long run.
    op.execute("UPDATE leads SET offer_checked_at = created_at WHERE workflow_id IS NOT NULL")
    for name, where in INDEXES:
        op.create_index(name, "leads", ["created_at"], unique=False,
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def downgrade() -> None:
    for name, where in INDEXES:
        op.drop_index(name, table_name="leads", sqlite_where=sa.text(where), postgresql_where=sa.text(where))
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("offer_checked_at")
