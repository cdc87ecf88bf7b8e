"""Lead routing tables (R-ROUTE, R-OFFER, R-POOL, R-STATS): routes in priority order with their stored rotation,
leads with their routing record, and one row per offer.

Kept apart from `db.models` so each file stays readable; both register on the same `Base.metadata`.
The single-owner guarantee lives here: a lead gets its owner only through a conditional UPDATE on
`leads.owner_agent_id IS NULL` (a pool claim and a late offer claim meet at that one row), and an agent is offered a
lead at most once by the unique (lead, agent) pair on `lead_offers` (R-OFFER-4).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models import ID, _created_at, _flag, _id_column

OFFERED_LEAD = text("status = 'offered'")
UNCHECKED_LEAD = text("workflow_id IS NOT NULL AND offer_checked_at IS NULL")


class Route(Base):
    __tablename__ = "routes"
    __table_args__ = (Index("ix_routes_team_id_position", "team_id", "position"),)

    id: Mapped[str] = _id_column()
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"))
    title: Mapped[str] = mapped_column(String(30))
    position: Mapped[int] = mapped_column(Integer)  # 0 is the top of the list: the highest priority (R-ROUTE-2)
    active: Mapped[bool] = _flag(True)
    days_of_week: Mapped[list[int]] = mapped_column(JSON)  # 0 = Monday … 6 = Sunday, in the team's zone
    start_time: Mapped[str] = mapped_column(String(5))  # "HH:MM"; an end at or before the start crosses midnight
    end_time: Mapped[str] = mapped_column(String(5))
    date_from: Mapped[date | None] = mapped_column()
    date_to: Mapped[date | None] = mapped_column()
    sources: Mapped[list[str]] = mapped_column(JSON)
    strategy: Mapped[str] = mapped_column(String(20))
    agent_ids: Mapped[list[str]] = mapped_column(JSON)
    weights: Mapped[dict[str, int] | None] = mapped_column(JSON)
    claim_seconds: Mapped[int] = mapped_column(Integer)
    # The rotation (`domain.routing.Rotation`), stored so it survives restarts and continues where the last lead
    # left off (R-ROUTE-6); `rotation_version` makes two leads routed at once take turns instead of sharing one.
    rotation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rotation_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime | None] = mapped_column()


class AgentRouting(Base):
    """An agent's routing settings (R-STATS-1, R-OFFER-3): monthly lead limit, routes paused, leads paused."""

    __tablename__ = "agent_routing"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    team_id: Mapped[str] = mapped_column(ID, index=True)
    lead_limit: Mapped[int | None] = mapped_column(Integer)  # leads per calendar month (team zone); None: no limit
    routes_paused: Mapped[bool] = _flag()
    leads_paused: Mapped[bool] = _flag()
    updated_at: Mapped[datetime | None] = mapped_column()


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_team_id_status", "team_id", "status"),
        # What the lead reconciler (services.reconcile_leads) reads every pass: the few leads on offer now, and the
        # fewer whose offer workflow has not been seen to agree with them yet.
        Index("ix_leads_offered_created_at", "created_at", sqlite_where=OFFERED_LEAD, postgresql_where=OFFERED_LEAD),
        Index("ix_leads_unchecked_created_at", "created_at", sqlite_where=UNCHECKED_LEAD,
              postgresql_where=UNCHECKED_LEAD),
    )

    id: Mapped[str] = _id_column()
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    source: Mapped[str | None] = mapped_column(String(60))
    received_at: Mapped[datetime] = mapped_column()
    route_id: Mapped[str | None] = mapped_column(ID)
    # "offered" | "claimed" | "assigned" | "pool" | "not_routed"
    status: Mapped[str] = mapped_column(String(20))
    owner_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    owned_at: Mapped[datetime | None] = mapped_column()
    # "claimed" | "pool_claimed" | "assigned" | "app_or_site" | "existing_contact" (its contact was the agent's already)
    owned_how: Mapped[str | None] = mapped_column(String(20))
    workflow_id: Mapped[str | None] = mapped_column(String(200))
    # When the lead and its offer workflow were seen to agree: set by the workflow's first offer while the lead is on
    # offer, or by the reconciler. NULL with a workflow id means "look": a start lost between the commit and
    # Temporal, or a lead the intake sent to the pool after a start that failed and may have gone through after all.
    offer_checked_at: Mapped[datetime | None] = mapped_column()
    # R-ROUTE-7: routes considered and why, agents skipped and why, where the lead ended — appended as it happens.
    routing_record: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tag_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # fired as plan triggers once it has its owner
    created_at: Mapped[datetime] = _created_at()


class LeadOffer(Base):
    __tablename__ = "lead_offers"
    __table_args__ = (
        UniqueConstraint("lead_id", "agent_id"),  # R-OFFER-4: never offered twice to one agent
        Index("ix_lead_offers_agent_id_outcome", "agent_id", "outcome"),
        Index("ix_lead_offers_team_id_offered_at", "team_id", "offered_at"),
    )

    id: Mapped[str] = _id_column()
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"))
    team_id: Mapped[str] = mapped_column(ID)
    route_id: Mapped[str | None] = mapped_column(ID)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    offered_at: Mapped[datetime] = mapped_column()
    deadline: Mapped[datetime] = mapped_column()
    # "open" | "claimed" | "passed" | "expired" | "withdrawn" (another agent won a jump ball, or a pool claim did)
    outcome: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    decided_at: Mapped[datetime | None] = mapped_column()
