"""Counting leads and offers (R-OFFER-3, R-STATS-1): the leads an agent came to own this month, each agent's routing
state, and the lead routing report.

Every boundary is a calendar boundary in the team's time zone: a claim at 23:30 Central on 31 January belongs to
January for a team in Chicago, though it is 1 February in UTC. An offer counts in the period it was made in, with
its outcome (a lead offered on 31 January and claimed on 1 February is January's claim), so a period's claims never
outnumber its offers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agent
from db.routing_models import AgentRouting, Lead, LeadOffer
from domain.account_settings import known_zone
from domain.routing.model import AgentState
from domain.schedule import DEFAULT_TIME_ZONE

Period = Literal["mtd", "ytd", "all"]
OUTCOMES = ("claimed", "passed", "expired", "open", "withdrawn")


def _zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(known_zone(name) or DEFAULT_TIME_ZONE)


def month_bounds(at: datetime, zone_name: str | None) -> tuple[datetime, datetime]:
    """The calendar month of `at` in the zone, as [start, end) instants."""
    local = at.astimezone(_zone(zone_name))
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    # A ZoneInfo datetime takes the offset of its own wall time, so `replace` is right across a DST change.
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def period_start(period: Period, now: datetime, zone_name: str | None) -> datetime | None:
    """Month to date, year to date (from local midnight on the 1st), or all time (None)."""
    if period == "all":
        return None
    start, _ = month_bounds(now, zone_name)
    return start if period == "mtd" else start.replace(month=1)


async def leads_this_month(session: AsyncSession, agent_ids: Sequence[str], at: datetime,
                           team_zone: str | None) -> dict[str, int]:
    """Leads each agent came to own (`owned_at`) in the calendar month of `at`, team zone: what the limit counts."""
    start, end = month_bounds(at, team_zone)
    rows = await session.execute(
        select(Lead.owner_agent_id, func.count()).where(
            Lead.owner_agent_id.in_(agent_ids), Lead.owned_at >= start, Lead.owned_at < end,
        ).group_by(Lead.owner_agent_id))
    return {str(agent_id): int(count) for agent_id, count in rows}


async def agent_states(session: AsyncSession, team_id: str, agent_ids: Sequence[str], at: datetime,
                       team_zone: str) -> dict[str, AgentState]:
    """What routing needs to know about each agent at `at` (R-OFFER-3): still on the team, paused or not, the
    monthly limit and the leads counted against it. An id that is not an agent of the team is `on_team=False`."""
    on_team = set(await session.scalars(select(Agent.id).where(Agent.team_id == team_id, Agent.id.in_(agent_ids))))
    settings = {s.agent_id: s for s in await session.scalars(
        select(AgentRouting).where(AgentRouting.agent_id.in_(on_team)))}
    counts = await leads_this_month(session, list(on_team), at, team_zone)
    states = {}
    for agent_id in agent_ids:
        own = settings.get(agent_id)
        states[agent_id] = AgentState(
            agent_id=agent_id, on_team=agent_id in on_team, leads_paused=bool(own and own.leads_paused),
            routes_paused=bool(own and own.routes_paused), lead_limit=own.lead_limit if own else None,
            leads_this_month=counts.get(agent_id, 0))
    return states


@dataclass
class Tally:
    """One row of the report: offers by outcome and the seconds each claim took."""

    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    claim_seconds: list[float] = field(default_factory=list)

    @property
    def offered(self) -> int:
        return sum(self.outcomes.values())

    @property
    def median_seconds_to_claim(self) -> float | None:
        return median(self.claim_seconds) if self.claim_seconds else None


@dataclass
class Tallies:
    by_agent: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_agent_route: dict[tuple[str, str | None], Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_route: dict[str | None, Tally] = field(default_factory=lambda: defaultdict(Tally))
    leads_by_route: dict[str, int] = field(default_factory=dict)

    def tallies(self, agent_id: str, route_id: str | None) -> tuple[Tally, Tally, Tally]:
        return self.by_agent[agent_id], self.by_agent_route[(agent_id, route_id)], self.by_route[route_id]


async def offer_tallies(session: AsyncSession, team_id: str, start: datetime | None, end: datetime) -> Tallies:
    """The team's offers made in [start, end] (start None: since the beginning), counted per agent, per agent and
    route, and per route; with the leads each route took, by when they were received."""
    window = [LeadOffer.team_id == team_id, LeadOffer.offered_at <= end]
    if start is not None:
        window.append(LeadOffer.offered_at >= start)
    found = Tallies()
    counted = await session.execute(
        select(LeadOffer.agent_id, LeadOffer.route_id, LeadOffer.outcome, func.count()).where(*window)
        .group_by(LeadOffer.agent_id, LeadOffer.route_id, LeadOffer.outcome))
    for agent_id, route_id, outcome, count in counted:
        for tally in found.tallies(agent_id, route_id):
            # An outcome this report does not know (a later addition) still counts as an offer, as still open.
            key = outcome if outcome in OUTCOMES else "open"
            tally.outcomes[key] += int(count)
    claims = await session.execute(
        select(LeadOffer.agent_id, LeadOffer.route_id, LeadOffer.offered_at, LeadOffer.decided_at)
        .where(*window, LeadOffer.outcome == "claimed", LeadOffer.decided_at.is_not(None)))
    for agent_id, route_id, offered_at, decided_at in claims:
        assert decided_at is not None
        seconds = max(0.0, (decided_at - offered_at).total_seconds())
        for tally in found.tallies(agent_id, route_id):
            tally.claim_seconds.append(seconds)
    leads = [Lead.team_id == team_id, Lead.route_id.is_not(None), Lead.received_at <= end]
    if start is not None:
        leads.append(Lead.received_at >= start)
    routed = await session.execute(select(Lead.route_id, func.count()).where(*leads).group_by(Lead.route_id))
    found.leads_by_route = {str(route_id): int(count) for route_id, count in routed}
    return found
