"""The shapes lead routing decides with (R-ROUTE, R-OFFER): a route's rule, an agent's availability, the stored
rotation of a route, and every decision with its reasons — the lead's routing record (R-ROUTE-7).

Pure data: `domain.routing.matching` picks the route, `domain.routing.selection` the agents in line; the workflow,
the activities and the API share them.
"""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Strategy = Literal["round_robin", "random", "weighted_random", "jump_ball", "assign_to_agent"]
# Leads from an agent's own app or site: with no route for them they go to that agent, not the pool (R-ROUTE-5).
APP_OR_SITE_SOURCES = frozenset({"agent_app", "agent_site"})
MIN_CLAIM_SECONDS = 10  # R-OFFER-4
MAX_CLAIM_SECONDS = 30 * 24 * 3600


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class RouteRule(_Frozen):
    """One route as routing sees it (R-ROUTE-1). Days and times are read in the team's zone."""

    id: str
    title: str
    position: int  # 0 is the top of the list (R-ROUTE-2)
    active: bool = True
    days_of_week: list[int]  # 0 = Monday … 6 = Sunday
    start_time: time
    end_time: time  # at or before `start_time`: the window crosses midnight (22:00–06:00); equal: all day
    date_from: date | None = None  # inclusive
    date_to: date | None = None  # inclusive
    sources: list[str]
    strategy: Strategy
    agent_ids: list[str]
    weights: dict[str, int] | None = None  # weighted_random: percentages summing to 100
    claim_seconds: int


class AgentState(_Frozen):
    """What decides whether an agent can be offered a lead now (R-OFFER-3)."""

    agent_id: str
    on_team: bool = True
    leads_paused: bool = False
    routes_paused: bool = False
    lead_limit: int | None = None  # per calendar month, team zone
    leads_this_month: int = 0


class Rotation(_Frozen):
    """A route's rotation, stored with the route so the next lead continues where the last left off (R-ROUTE-6) and
    skipped agents keep their place (R-OFFER-3). Its fields belong to `domain.routing.selection`."""

    turns: dict[str, int] = Field(default_factory=dict)  # first offers each agent has had on this route
    last_first: str | None = None  # who had the previous lead's first offer (random: never twice in a row)
    cursor: int = 0  # round robin: the index in `agent_ids` whose turn is next
    # Round robin: the route's agents, the one who has waited longest for a first offer in front. A skipped agent
    # stays where they are (R-OFFER-3); empty on a rotation stored before it existed: `agent_ids` from `cursor`.
    queue: list[str] = Field(default_factory=list)


class RouteVerdict(_Frozen):
    route_id: str
    title: str
    matched: bool
    reason: str  # "paused", "not on Sundays", "source 'Zillow' not covered", "overridden by 'Agent A' (assign)" …


RouteOutcome = Literal["route", "pool", "owner", "not_routed"]


class RouteMatch(_Frozen):
    """R-ROUTE-2/3/5: the route a lead takes, or where it goes without one, and every route weighed on the way."""

    outcome: RouteOutcome
    route_id: str | None = None
    reason: str
    considered: list[RouteVerdict] = Field(default_factory=list)


SkipReason = Literal["not_on_team", "leads_paused", "routes_paused", "limit_reached", "already_offered"]


class SkippedAgent(_Frozen):
    agent_id: str
    reason: SkipReason
    detail: str  # "Alex Agent reached the monthly limit of 20 leads"


class OfferPlan(_Frozen):
    """R-ROUTE-6 / R-OFFER-1..4: the agents to offer the lead to, in order (jump ball: all at once), the agents
    skipped and why, and the rotation to store for the route's next lead."""

    line: list[str]
    all_at_once: bool = False  # jump_ball
    assign_at_once: bool = False  # assign_to_agent: no claim step
    skipped: list[SkippedAgent] = Field(default_factory=list)
    rotation: Rotation
    reason: str  # "round robin: Dana's turn (continuing after Alex)"
