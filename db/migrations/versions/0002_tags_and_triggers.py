"""Tags, tags on contacts and plan triggers (R-RULE-1..3).

Tag names are unique per team without regard to case through a stored `name_key` and a plain unique
constraint, which both SQLite and PostgreSQL reflect identically. Deleting a tag cascades to the contacts
that carry it and the plans it triggers (R-RULE-3).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_tags_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("team_id", "name_key", name="uq_tags_team_id_name_key"),
    )
    op.create_table(
        "contact_tags",
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("tag_id", sa.String(length=40), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_contact_tags_contact_id_contacts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_contact_tags_tag_id_tags"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id", "tag_id", name=op.f("pk_contact_tags")),
    )
    op.create_index(op.f("ix_contact_tags_tag_id"), "contact_tags", ["tag_id"], unique=False)
    op.create_table(
        "plan_triggers",
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("tag_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_plan_triggers_plan_id_plans"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_plan_triggers_tag_id_tags"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("plan_id", "tag_id", name=op.f("pk_plan_triggers")),
    )
    op.create_index(op.f("ix_plan_triggers_tag_id"), "plan_triggers", ["tag_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_plan_triggers_tag_id"), table_name="plan_triggers")
    op.drop_table("plan_triggers")
    op.drop_index(op.f("ix_contact_tags_tag_id"), table_name="contact_tags")
    op.drop_table("contact_tags")
    op.drop_table("tags")
