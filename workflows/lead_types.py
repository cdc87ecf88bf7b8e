"""What crosses the lead-offer workflow's boundary: its input and result, the claim/pass updates, the progress query
and the activity inputs. One model in, one model out, so each can gain fields without breaking running histories."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from temporalio.common import SearchAttributeKey

from domain.routing.late_start import OfferResume

# The Temporal UI reads like the lead's journey: find a lead (`LeadId = "ld_…"`), who holds the offer, its state.
LEAD_ID = SearchAttributeKey.for_keyword("LeadId")
ROUTE_ID = SearchAttributeKey.for_keyword("RouteId")
LEAD_SOURCE = SearchAttributeKey.for_keyword("LeadSource")
OFFERED_AGENT_ID = SearchAttributeKey.for_keyword_list("OfferedAgentId")
LEAD_STATUS = SearchAttributeKey.for_keyword("LeadStatus")
LEAD_SEARCH_ATTRIBUTE_KEYS = (LEAD_ID, ROUTE_ID, LEAD_SOURCE, OFFERED_AGENT_ID, LEAD_STATUS)

LeadStatus = Literal["offered", "claimed", "assigned", "pool", "not_routed"]
OfferOutcome = Literal["open", "claimed", "passed", "expired", "withdrawn"]


def offer_ran_out(deadline: datetime) -> str:
    """R-OFFER-2's answer to a claim or pass after the agent's claim deadline, from the workflow or the database."""
    return (f"your offer of this lead ran out at its claim deadline, {deadline:%Y-%m-%d %H:%M:%S} UTC; the lead has "
            "moved on")


def lead_workflow_id(lead_id: str) -> str:
    return f"lead-{lead_id}"


class LeadOfferInput(BaseModel):
    lead_id: str
    team_id: str
    route_id: str | None
    route_title: str = ""
    line: list[str]  # agents in the order they are offered the lead (R-ROUTE-6), each once (R-OFFER-4)
    all_at_once: bool = False  # jump ball: every agent in the line at once
    claim_seconds: int
    lead_name: str = ""
    source: str = ""
    agent_names: dict[str, str] = Field(default_factory=dict)
    # Issue 10, item 3: a start the reconciler made late picks up at the turn the line has reached by now.
    resume: OfferResume | None = None


class LeadOfferResult(BaseModel):
    # "not_offered": the lead was gone or had left offer (the pool, an owner) when the workflow came to offer it.
    status: Literal["claimed", "pool", "not_offered"]
    owner_agent_id: str | None = None


class ClaimRequest(BaseModel):
    agent_id: str


class ClaimResult(BaseModel):
    lead_id: str
    agent_id: str
    won: bool
    detail: str


class PassRequest(BaseModel):
    agent_id: str


class PassResult(BaseModel):
    lead_id: str
    agent_id: str
    detail: str
    # Where the lead goes now: still on offer (to others holding it, or the next in line), or to the pool when this
    # was the last pass of the last offer. Older runs answered without it.
    status: Literal["offered", "pool"] = "offered"


class LeadProgress(BaseModel):
    status: LeadStatus
    offered_to: list[str]  # who holds the offer now
    deadline: datetime | None
    offers_made: int
    owner_agent_id: str | None


class OpenOfferInput(BaseModel):
    lead_id: str
    team_id: str
    route_id: str | None
    agent_ids: list[str]
    offered_at: datetime
    deadline: datetime
    resume: OfferResume | None = None  # on the first offer of a late start: recorded with the missed turns


class OfferOpened(BaseModel):
    """Who was offered the lead just now: an agent who became unavailable since routing is skipped with the reason."""

    offered: list[str]
    skipped: dict[str, str] = Field(default_factory=dict)  # agent id → why
    # Anything but "offered" (None: the lead is gone) ends the workflow without offering.
    lead_status: LeadStatus | None = "offered"


class NotifyInput(BaseModel):
    lead_id: str
    team_id: str
    agent_id: str
    deadline: datetime
    lead_name: str
    source: str


class DecideInput(BaseModel):
    lead_id: str
    agent_ids: list[str]
    outcome: Literal["passed", "expired", "withdrawn"]
    at: datetime


class OwnershipInput(BaseModel):
    lead_id: str
    agent_id: str
    at: datetime
    how: Literal["claimed", "pool_claimed", "assigned", "app_or_site"]


class OwnershipResult(BaseModel):
    won: bool
    owner_agent_id: str | None
    detail: str


class PoolInput(BaseModel):
    lead_id: str
    at: datetime
    reason: str
