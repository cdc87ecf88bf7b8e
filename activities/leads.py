"""The I/O of a lead offer: opening an offer (re-checking the agent is still available), alerting the agent, deciding
an offer, taking ownership (the single-winner guard) and sending the lead to the pool. Every step is written to the
lead's routing record (R-ROUTE-7), and each is safe to retry: a retried step finds what its first attempt wrote."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from activities.lead_alerts import LeadAlerts
from activities.messaging.providers import EmailProvider, SmsProvider
from config import Settings
from db.base import utcnow
from db.models import Team
from db.routing_models import Lead, LeadOffer
from db.session import session_scope
from domain.ids import new_id
from domain.routing.late_start import OfferResume
from domain.routing.selection import skip_detail, unavailable_reason
from services.lead_stats import agent_states
from services.leads import agent_names, fire_lead_tags, record, send_to_pool, take_ownership
from workflows.lead_types import (
    DecideInput,
    LeadStatus,
    NotifyInput,
    OfferOpened,
    OpenOfferInput,
    OwnershipInput,
    OwnershipResult,
    PoolInput,
)


class LeadActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings, sms: SmsProvider,
                 email: EmailProvider, client: Client, task_queue: str) -> None:
        self._sessions = sessions
        self._client = client
        self._task_queue = task_queue
        self._alerts = LeadAlerts(sessions, settings, sms, email)

    @activity.defn
    async def open_offer(self, request: OpenOfferInput) -> OfferOpened:
        """R-OFFER-1/3/4: one row per agent offered (never twice: a retry finds its rows), skipping an agent who
        became unavailable since the lead was routed."""
        async with session_scope(self._sessions) as session:
            lead = await session.get(Lead, request.lead_id)
            team = await session.get(Team, request.team_id)
            if lead is None or team is None or lead.status != "offered":
                # Issue 10, item 3: its lead is gone or left offer (sent to the pool while this workflow's start
                # looked lost, then maybe claimed there): the workflow ends without offering.
                return OfferOpened(offered=[], lead_status=cast(LeadStatus, lead.status) if lead is not None else None)
            if lead.offer_checked_at is None:  # the workflow runs: the reconciler need not look at this lead
                lead.offer_checked_at = utcnow()
            if request.resume is not None:
                await _record_late_start(session, lead, request.resume, request.offered_at)
            existing = {o.agent_id: o for o in (await session.scalars(
                select(LeadOffer).where(LeadOffer.lead_id == lead.id, LeadOffer.agent_id.in_(request.agent_ids))))}
            states = await agent_states(session, team.id, request.agent_ids, request.offered_at, team.time_zone)
            names = await agent_names(session, request.agent_ids)
            offered, skipped = [], {}
            for agent_id in request.agent_ids:
                if agent_id in existing:
                    if existing[agent_id].offered_at == request.offered_at:
                        offered.append(agent_id)  # this offer's own row, from an earlier attempt
                    continue
                reason = unavailable_reason(states.get(agent_id))
                if reason is not None:
                    why = skip_detail(names.get(agent_id, agent_id), reason, states.get(agent_id))
                    skipped[agent_id] = why
                    record(lead, request.offered_at, "skipped", why, agent_id=agent_id, reason=reason)
                    continue
                session.add(LeadOffer(id=new_id("of"), lead_id=lead.id, team_id=team.id, route_id=request.route_id,
                                      agent_id=agent_id, offered_at=request.offered_at, deadline=request.deadline))
                record(lead, request.offered_at, "offered", f"offered to {names.get(agent_id, agent_id)} until "
                       f"{request.deadline.isoformat()}", agent_id=agent_id, deadline=request.deadline.isoformat())
                offered.append(agent_id)
            return OfferOpened(offered=offered, skipped=skipped)

    @activity.defn
    async def notify_offer(self, request: NotifyInput) -> None:
        """R-OFFER-4: SMS and email to the agent with the lead's name and source, the time left and how to claim;
        each channel sent at most once whatever the retries (R-COMP-2, `activities.lead_alerts`)."""
        await self._alerts.notify(request)

    @activity.defn
    async def decide_offer(self, request: DecideInput) -> None:
        async with session_scope(self._sessions) as session:
            lead = await session.get(Lead, request.lead_id)
            if lead is None:
                return
            await session.execute(update(LeadOffer).where(
                LeadOffer.lead_id == request.lead_id, LeadOffer.agent_id.in_(request.agent_ids),
                LeadOffer.outcome == "open").values(outcome=request.outcome, decided_at=request.at))
            names = await agent_names(session, request.agent_ids)
            words = {"passed": "passed", "expired": "did not claim it before the deadline",
                     "withdrawn": "no longer holds the offer (another agent claimed it)"}[request.outcome]
            for agent_id in request.agent_ids:
                record(lead, request.at, request.outcome, f"{names.get(agent_id, agent_id)} {words}",
                       agent_id=agent_id)

    @activity.defn
    async def take_ownership(self, request: OwnershipInput) -> OwnershipResult:
        async with session_scope(self._sessions) as session:
            won, detail = await take_ownership(session, request.lead_id, request.agent_id, request.at, request.how)
            owner = (await session.get(Lead, request.lead_id))
            owner_id = owner.owner_agent_id if owner is not None else None
        if won:
            await fire_lead_tags(self._sessions, self._client, self._task_queue, request.lead_id, request.at)
        return OwnershipResult(won=won, owner_agent_id=owner_id, detail=detail)

    @activity.defn
    async def to_pool(self, request: PoolInput) -> None:
        """R-OFFER-2: nobody claimed it; the unassigned pool, where agents claim and the Rainmaker assigns."""
        async with session_scope(self._sessions) as session:
            await send_to_pool(session, request.lead_id, request.at, request.reason)


async def _record_late_start(session: AsyncSession, lead: Lead, resume: OfferResume, at: datetime) -> None:
    """R-ROUTE-7 for a late start: why the offers began late, and whose turns passed unoffered (once, however often
    the first offer is attempted)."""
    if any(entry.get("kind") == "resumed" for entry in lead.routing_record or []):
        return
    names = await agent_names(session, resume.missed)
    record(lead, at, "resumed", f"its offers began {resume.late_seconds} s late (the offer workflow's start was "
           "lost and the reconciler made it), at the turn its line had reached", late_seconds=resume.late_seconds)
    for agent_id in resume.missed:
        record(lead, at, "skipped", f"{names.get(agent_id, agent_id)}'s turn passed before the offers began",
               agent_id=agent_id, reason="turn_passed")

