"""Lead routing (R-ROUTE, R-OFFER, R-POOL, R-STATS): routes with their stored rotation, per-agent routing
settings, leads with their routing record, and one row per offer (unique per lead and agent, R-OFFER-4).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 21:24:28.997286+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routes",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=30), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("days_of_week", sa.JSON(), nullable=False),
        sa.Column("start_time", sa.String(length=5), nullable=False),
        sa.Column("end_time", sa.String(length=5), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=True),
        sa.Column("date_to", sa.Date(), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("agent_ids", sa.JSON(), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=True),
        sa.Column("claim_seconds", sa.Integer(), nullable=False),
        sa.Column("rotation", sa.JSON(), nullable=True),
        sa.Column("rotation_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_routes_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routes")),
    )
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.create_index("ix_routes_team_id_position", ["team_id", "position"], unique=False)

    op.create_table(
        "agent_routing",
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("lead_limit", sa.Integer(), nullable=True),
        sa.Column("routes_paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("leads_paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_agent_routing_agent_id_agents")),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_routing")),
    )
    with op.batch_alter_table("agent_routing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_routing_team_id"), ["team_id"], unique=False)

    op.create_table(
        "leads",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("route_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("owner_agent_id", sa.String(length=40), nullable=True),
        sa.Column("owned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owned_how", sa.String(length=20), nullable=True),
        sa.Column("workflow_id", sa.String(length=200), nullable=True),
        sa.Column("routing_record", sa.JSON(), nullable=False),
        sa.Column("tag_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_leads_contact_id_contacts")),
        sa.ForeignKeyConstraint(["owner_agent_id"], ["agents.id"], name=op.f("fk_leads_owner_agent_id_agents")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_leads_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index("ix_leads_team_id_status", ["team_id", "status"], unique=False)

    op.create_table(
        "lead_offers",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("lead_id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("route_id", sa.String(length=40), nullable=True),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), server_default="open", nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_lead_offers_agent_id_agents")),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_offers_lead_id_leads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_offers")),
        sa.UniqueConstraint("lead_id", "agent_id", name=op.f("uq_lead_offers_lead_id")),
    )
    with op.batch_alter_table("lead_offers", schema=None) as batch_op:
        batch_op.create_index("ix_lead_offers_agent_id_outcome", ["agent_id", "outcome"], unique=False)
        batch_op.create_index("ix_lead_offers_team_id_offered_at", ["team_id", "offered_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lead_offers", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_offers_team_id_offered_at")
        batch_op.drop_index("ix_lead_offers_agent_id_outcome")

    op.drop_table("lead_offers")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_team_id_status")
        batch_op.drop_index(batch_op.f("ix_leads_contact_id"))

    op.drop_table("leads")
    with op.batch_alter_table("agent_routing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_routing_team_id"))

    op.drop_table("agent_routing")
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_index("ix_routes_team_id_position")

    op.drop_table("routes")
