"""Leads, offers and the pool (R-ROUTE-5..7, R-OFFER-1..4, R-POOL-1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import EmailStr, Field

from api.schemas.common import Instant, PhoneNumber, Public, Request, TimeZoneName


class LeadContact(Request):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: EmailStr | None = None
    phone: PhoneNumber | None = Field(default=None, description="E.164, e.g. +15125550199")
    time_zone: TimeZoneName | None = None


class LeadCreate(Request):
    field_rules = {"source": "R-ROUTE-2", "received_at": "R-ROUTE-2", "owner_agent_id": "R-ROUTE-5",
                   "tag_ids": "R-RULE-1"}
    nested_fields = ("contact",)

    source: str | None = Field(default=None, max_length=60, examples=["zillow"],
                               description="Where the lead came from; a lead with no source is not routed (R-ROUTE-5)."
                               " `agent_app` / `agent_site` with `owner_agent_id`: the agent's own app or site.")
    received_at: Instant | None = Field(default=None, description="When it arrived (default: now)")
    owner_agent_id: str | None = Field(default=None, description="The agent whose app or site captured it")
    contact: LeadContact
    tag_ids: list[str] = Field(default_factory=list, max_length=20,
                               description="Tags put on the contact once the lead has its owner (plan triggers fire)")


class LeadCreated(Public):
    id: str
    route_id: str | None
    status: str
    owner_agent_id: str | None


class OfferPublic(Public):
    agent_id: str
    offered_at: datetime
    deadline: datetime
    outcome: str
    decided_at: datetime | None


class LeadPublic(Public):
    id: str
    status: str = Field(description="offered | claimed | assigned | pool | not_routed")
    source: str | None
    received_at: datetime
    contact_id: str
    route_id: str | None
    owner_agent_id: str | None
    owned_at: datetime | None
    offers: list[OfferPublic]
    current_deadline: datetime | None
    routing_record: list[dict[str, Any]] | None = Field(
        description="R-ROUTE-7, for the Rainmaker: routes considered and why, agents skipped and why, each offer's "
                    "outcome and where the lead ended; null for other agents")


class OpenOffer(Public):
    lead_id: str
    contact_id: str
    source: str | None
    offered_at: datetime
    deadline: datetime
    seconds_left: int


class ClaimAnswer(Public):
    lead_id: str
    owner_agent_id: str | None
    status: str
    detail: str


class PoolAssign(Request):
    field_rules = {"agent_id": "R-POOL-1"}

    agent_id: str = Field(min_length=1, max_length=40)
