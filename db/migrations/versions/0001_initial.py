"""Initial schema: teams, agents, contacts, plans and their versions, designs, enrollments, tasks,
timeline events and messages.

Hand-checked against autogenerate: boolean server defaults use sa.false()/sa.true() so the same
revision runs on SQLite and PostgreSQL, and the partial unique index carries both dialects' WHERE.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:14:36.738372+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("time_zone", sa.String(length=64), server_default="America/Chicago", nullable=False),
        sa.Column("slot_times", sa.JSON(), nullable=True),
        sa.Column("postal_address", sa.Text(), nullable=True),
        sa.Column("default_task_assignee", sa.String(length=20), server_default="rainmaker", nullable=False),
        sa.Column("default_email_sender", sa.String(length=20), server_default="rainmaker", nullable=False),
        sa.Column("default_text_sender", sa.String(length=20), server_default="rainmaker", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("permission", sa.String(length=20), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("slot_times", sa.JSON(), nullable=True),
        sa.Column("postal_address", sa.Text(), nullable=True),
        sa.Column("api_key_hash", sa.String(length=128), nullable=True),
        sa.Column("twilio_account_sid", sa.String(length=64), nullable=True),
        sa.Column("twilio_auth_token", sa.String(length=128), nullable=True),
        sa.Column("twilio_from_number", sa.String(length=32), nullable=True),
        sa.Column("email_quota_monthly", sa.Integer(), server_default="5000", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_agents_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("api_key_hash", name=op.f("uq_agents_api_key_hash")),
    )
    op.create_index(op.f("ix_agents_team_id"), "agents", ["team_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("owner_agent_id", sa.String(length=40), nullable=True),
        sa.Column("assignee_id", sa.String(length=40), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("do_not_call", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["agents.id"], name=op.f("fk_contacts_assignee_id_agents")),
        sa.ForeignKeyConstraint(["owner_agent_id"], ["agents.id"], name=op.f("fk_contacts_owner_agent_id_agents")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_contacts_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index(op.f("ix_contacts_email"), "contacts", ["email"], unique=False)
    op.create_index(op.f("ix_contacts_phone"), "contacts", ["phone"], unique=False)
    op.create_index(op.f("ix_contacts_team_id"), "contacts", ["team_id"], unique=False)

    op.create_table(
        "designs",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_designs_agent_id_agents")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_designs_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_designs")),
    )
    op.create_index(op.f("ix_designs_team_id"), "designs", ["team_id"], unique=False)

    op.create_table(
        "plans",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("owner_agent_id", sa.String(length=40), nullable=True),
        sa.Column("team_plan", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("on_email_reply", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("on_text_reply", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_agent_id"], ["agents.id"], name=op.f("fk_plans_owner_agent_id_agents")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_plans_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_index(op.f("ix_plans_team_id"), "plans", ["team_id"], unique=False)

    op.create_table(
        "enrollments",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=40), nullable=True),
        sa.Column("source_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_enrollments_contact_id_contacts")),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_enrollments_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("source_key", name=op.f("uq_enrollments_source_key")),
    )
    op.create_index(op.f("ix_enrollments_contact_id"), "enrollments", ["contact_id"], unique=False)
    op.create_index(
        "uq_enrollments_active_plan_id_contact_id",
        "enrollments",
        ["plan_id", "contact_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )

    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=True),
        sa.Column("agent_id", sa.String(length=40), nullable=True),
        sa.Column("enrollment_id", sa.String(length=40), nullable=True),
        sa.Column("plan_id", sa.String(length=40), nullable=True),
        sa.Column("step_id", sa.String(length=64), nullable=True),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=20), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_messages_agent_id_agents")),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_messages_contact_id_contacts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_messages_idempotency_key")),
    )
    op.create_index(
        "ix_messages_agent_id_channel_direction_created_at",
        "messages",
        ["agent_id", "channel", "direction", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_messages_contact_id"), "messages", ["contact_id"], unique=False)
    op.create_index(op.f("ix_messages_provider_id"), "messages", ["provider_id"], unique=False)

    op.create_table(
        "plan_versions",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_versions_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_versions")),
        sa.UniqueConstraint("plan_id", "version", name="uq_plan_versions_plan_id_version"),
    )
    op.create_table(
        "timeline_events",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=True),
        sa.Column("step_id", sa.String(length=64), nullable=True),
        sa.Column("enrollment_id", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_timeline_events_contact_id_contacts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_events")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_timeline_events_idempotency_key")),
    )
    op.create_index("ix_timeline_events_contact_id_at", "timeline_events", ["contact_id", "at"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=40), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("enrollment_id", sa.String(length=40), nullable=True),
        sa.Column("plan_id", sa.String(length=40), nullable=True),
        sa.Column("step_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("link", sa.String(length=2000), nullable=True),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("contact_task", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("assignee_id", sa.String(length=40), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["assignee_id"], ["agents.id"], name=op.f("fk_tasks_assignee_id_agents")),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_tasks_contact_id_contacts")),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollments.id"], name=op.f("fk_tasks_enrollment_id_enrollments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_tasks_idempotency_key")),
    )
    op.create_index("ix_tasks_assignee_id_status", "tasks", ["assignee_id", "status"], unique=False)
    op.create_index(op.f("ix_tasks_contact_id"), "tasks", ["contact_id"], unique=False)


def downgrade() -> None:
    op.drop_table("tasks")
    op.drop_table("timeline_events")
    op.drop_table("plan_versions")
    op.drop_table("messages")
    op.drop_table("enrollments")
    op.drop_table("plans")
    op.drop_table("designs")
    op.drop_table("contacts")
    op.drop_table("agents")
    op.drop_table("teams")
