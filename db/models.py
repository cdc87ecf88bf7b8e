"""The SmartPlans schema.

Ids are application-generated prefixed strings ("ct_01J...") so that Temporal workflows can name rows
before they exist and retries stay idempotent. Several `team_id` / `plan_id` columns on the high-volume
history tables (enrollments, tasks, timeline, messages) are deliberately plain copies without foreign keys:
they scope queries cheaply and keep history readable after the thing they point at is gone.

Booleans and defaulted strings also carry server defaults so rows inserted by raw SQL (fixtures, data
fixes) get the same values as rows inserted through the ORM.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, utcnow

ID = String(40)
ACTIVE_ENROLLMENT = text("status = 'active'")
UNCONFIRMED_ENROLLMENT = text("status = 'active' AND confirmed_at IS NULL")


def _id_column() -> Mapped[str]:
    return mapped_column(ID, primary_key=True, autoincrement=False)


def _created_at() -> Mapped[datetime]:
    return mapped_column(default=utcnow)


def _flag(default: bool = False) -> Mapped[bool]:
    return mapped_column(default=default, server_default=true() if default else false())


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[str] = _id_column()
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="America/Chicago", server_default="America/Chicago")
    # Per-slot wall-clock overrides, e.g. {"early_morning": "07:00"}; missing keys use the built-in times.
    slot_times: Mapped[dict[str, str] | None] = mapped_column(JSON)
    postal_address: Mapped[str | None] = mapped_column(Text)
    # "rainmaker" | "contact_assignee": who a plan step acts as when the plan does not say.
    default_task_assignee: Mapped[str] = mapped_column(String(20), default="rainmaker", server_default="rainmaker")
    default_email_sender: Mapped[str] = mapped_column(String(20), default="rainmaker", server_default="rainmaker")
    default_text_sender: Mapped[str] = mapped_column(String(20), default="rainmaker", server_default="rainmaker")
    created_at: Mapped[datetime] = _created_at()


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = _id_column()
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(20))  # "rainmaker" | "member"
    permission: Mapped[str] = mapped_column(String(20))  # "basic" | "enhanced" | "unlimited"
    time_zone: Mapped[str | None] = mapped_column(String(64))  # None: use the team's
    slot_times: Mapped[dict[str, str] | None] = mapped_column(JSON)
    postal_address: Mapped[str | None] = mapped_column(Text)
    # Only a hash is stored so a database leak does not leak working API keys.
    api_key_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    twilio_account_sid: Mapped[str | None] = mapped_column(String(64))
    twilio_auth_token: Mapped[str | None] = mapped_column(String(128))
    twilio_from_number: Mapped[str | None] = mapped_column(String(32))
    email_quota_monthly: Mapped[int] = mapped_column(Integer, default=5000, server_default="5000")
    created_at: Mapped[datetime] = _created_at()


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[str] = _id_column()
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    owner_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)  # E.164, for inbound-SMS lookup
    time_zone: Mapped[str | None] = mapped_column(String(64))
    do_not_call: Mapped[bool] = _flag()
    opted_out: Mapped[bool] = _flag()  # replied STOP to a text
    opted_out_at: Mapped[datetime | None] = mapped_column()
    unsubscribed: Mapped[bool] = _flag()  # used an email unsubscribe link
    unsubscribed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = _created_at()


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[str] = _id_column()
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    owner_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))  # None for team plans
    team_plan: Mapped[bool] = _flag()
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = _flag(default=True)
    current_version: Mapped[int] = mapped_column(Integer)
    # Removal rules: end the enrollment when the contact replies on that channel.
    on_email_reply: Mapped[bool] = _flag()
    on_text_reply: Mapped[bool] = _flag()
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # lazy="raise": an implicit lazy load cannot run under asyncio anyway, so fail loudly and early;
    # load with `selectinload(Plan.versions)` when needed.
    versions: Mapped[list[PlanVersion]] = relationship(
        order_by="PlanVersion.version",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )


class PlanVersion(Base):
    """An immutable snapshot of a plan document; enrollments run the version they started on."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_plan_versions_plan_id_version"),)

    id: Mapped[str] = _id_column()
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = _created_at()


class Design(Base):
    __tablename__ = "designs"

    id: Mapped[str] = _id_column()
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"), index=True)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))  # None: the team library
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(500))
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        # The database's guarantee that a contact is in a given plan at most once at a time, even when
        # two "add to plan" requests race; finished enrollments stay as history and do not count.
        Index(
            "uq_enrollments_active_plan_id_contact_id",
            "plan_id",
            "contact_id",
            unique=True,
            sqlite_where=ACTIVE_ENROLLMENT,
            postgresql_where=ACTIVE_ENROLLMENT,
        ),
        # The few rows whose workflow has not yet said it runs: what the reconciler looks at (services.reconcile).
        Index("ix_enrollments_unconfirmed_started_at", "started_at", sqlite_where=UNCONFIRMED_ENROLLMENT,
              postgresql_where=UNCONFIRMED_ENROLLMENT),
    )

    id: Mapped[str] = _id_column()
    team_id: Mapped[str] = mapped_column(ID)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    plan_version: Mapped[int] = mapped_column(Integer)
    workflow_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # "active" | "completed" | "removed"
    source: Mapped[str] = mapped_column(String(20))  # "manual" | "add_to_plan" | "tag"
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    end_reason: Mapped[str | None] = mapped_column(String(40))
    # When its workflow first ran (its first activity, or the reconciler finding it running): an active row that
    # stays unconfirmed lost its workflow start (a crash between the commit and the start) and is repaired.
    confirmed_at: Mapped[datetime | None] = mapped_column()
    # What enrolled it, when that was a plan step (its idempotency key): a retried add-to-plan step finds the
    # enrollment its first attempt made instead of reporting "already in plan" (R-ADD-1).
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # Why the enrollment is being ended (`removed`, `plan_deactivated`), written before its workflow is asked to end
    # it: every step's deciding transaction re-reads the row (locked), so a send decides after a removal or commits
    # `sending` before it — never both (R-ENR-2). The workflow still writes the end itself (status, timeline).
    removal_requested: Mapped[str | None] = mapped_column(String(40))


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_assignee_id_status", "assignee_id", "status"),)

    id: Mapped[str] = _id_column()
    team_id: Mapped[str] = mapped_column(ID)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    enrollment_id: Mapped[str | None] = mapped_column(ForeignKey("enrollments.id"))
    plan_id: Mapped[str | None] = mapped_column(ID)
    step_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))  # "task" | "call" | "text"
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2000))
    priority: Mapped[str] = mapped_column(String(10))
    contact_task: Mapped[bool] = _flag()
    assignee_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")  # "open" | "done"
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()
    completed_at: Mapped[datetime | None] = mapped_column()
    # Set by workflow activities so a retried activity cannot create the same task twice.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class TimelineEvent(Base):
    """What happened to a contact, in words a person reads, plus machine-readable `data`."""

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_events_contact_id_at", "contact_id", "at"),)

    id: Mapped[str] = _id_column()
    team_id: Mapped[str] = mapped_column(ID)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    plan_id: Mapped[str | None] = mapped_column(ID)
    step_id: Mapped[str | None] = mapped_column(String(64))
    enrollment_id: Mapped[str | None] = mapped_column(ID)
    detail: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class Message(Base):
    """Every text and email in or out, whichever provider carried it (or the local outbox)."""

    __tablename__ = "messages"
    __table_args__ = (
        # Serves the monthly email quota count: one agent, one channel, outbound, since the month start.
        Index("ix_messages_agent_id_channel_direction_created_at", "agent_id", "channel", "direction", "created_at"),
    )

    id: Mapped[str] = _id_column()
    team_id: Mapped[str] = mapped_column(ID)
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    enrollment_id: Mapped[str | None] = mapped_column(ID)
    plan_id: Mapped[str | None] = mapped_column(ID)
    step_id: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(10))  # "outbound" | "inbound"
    channel: Mapped[str] = mapped_column(String(10))  # "sms" | "email"
    to_address: Mapped[str] = mapped_column(String(320))
    from_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(String(20))  # "outbox" | "twilio" | "sendgrid"
    provider_id: Mapped[str | None] = mapped_column(String(100), index=True)  # for status callbacks
    # queued (not handed to a provider) → sending (handed over, answer pending) → sent | recorded (outbox) |
    # failed | unconfirmed (an interrupted attempt may have gone out; never resent); then delivered/undelivered
    # from status callbacks; inbound messages are `received`.
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = _created_at()
    sent_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Tag(Base):
    """A team's contact tag. Plans trigger on the tag's id (R-RULE-3), so renaming keeps every trigger."""

    __tablename__ = "tags"
    # Case-insensitive uniqueness through a stored key rather than a functional index: a plain constraint
    # reflects identically on SQLite and PostgreSQL, so the models-vs-migration check stays exact.
    __table_args__ = (UniqueConstraint("team_id", "name_key", name="uq_tags_team_id_name_key"),)

    id: Mapped[str] = _id_column()
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"))
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))  # `name` casefolded and trimmed; see services.tags
    created_at: Mapped[datetime] = _created_at()


class ContactTag(Base):
    """A tag on a contact. Deleting the tag (or the contact) takes these rows with it."""

    __tablename__ = "contact_tags"

    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[str] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_at: Mapped[datetime] = _created_at()


class PlanTrigger(Base):
    """A tag that enrolls a contact in the plan when it is added to the contact (R-RULE-1); at most 10 per plan."""

    __tablename__ = "plan_triggers"

    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True)
    # Indexed: adding a tag to a contact looks up the plans it triggers.
    tag_id: Mapped[str] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = _created_at()


class LibraryEntry(Base):
    """A plan published to the shared library (R-LIB): the document every agent of every team may browse and copy.

    Its own copy, not a view of the author's plan: edits reach it only when the author publishes again (`version`
    counts the publications), and copies already taken are plans of their own. Triggers and removal rules live in
    other tables, so the published document has none (R-LIB-1). Add-to-plan steps point at other entries. An entry
    outlives its plan: deleting the plan leaves `source_plan_id` empty, and the entry can then no longer change.
    """

    __tablename__ = "library_entries"
    __table_args__ = (Index("ix_library_entries_published_at", "published_at"),)

    id: Mapped[str] = _id_column()
    source_plan_id: Mapped[str | None] = mapped_column(ForeignKey("plans.id", ondelete="SET NULL"), unique=True)
    author_agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    author_team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"))
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    design_count: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
