"""The shared library (R-LIB): one entry per published plan, with its own copy of the plan's document.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "library_entries",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("source_plan_id", sa.String(length=40), nullable=True),
        sa.Column("author_agent_id", sa.String(length=40), nullable=False),
        sa.Column("author_team_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("design_count", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_agent_id"], ["agents.id"],
                                name=op.f("fk_library_entries_author_agent_id_agents")),
        sa.ForeignKeyConstraint(["author_team_id"], ["teams.id"], name=op.f("fk_library_entries_author_team_id_teams")),
        sa.ForeignKeyConstraint(["source_plan_id"], ["plans.id"], name=op.f("fk_library_entries_source_plan_id_plans"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_entries")),
        sa.UniqueConstraint("source_plan_id", name=op.f("uq_library_entries_source_plan_id")),
    )
    with op.batch_alter_table("library_entries", schema=None) as batch_op:
        batch_op.create_index("ix_library_entries_published_at", ["published_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("library_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_library_entries_published_at")

    op.drop_table("library_entries")
