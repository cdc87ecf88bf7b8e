"""Leads in the database: their routing record (R-ROUTE-7), their offers, and the one place a lead gets its owner.

`take_ownership` is the single-winner guard (R-OFFER-2, R-POOL-1): a conditional UPDATE on `owner_agent_id IS NULL`,
used alike by an offer claim (through the workflow's activity), a pool claim and a Rainmaker's assignment, so two
claims at once — or a pool claim racing a late offer claim — leave exactly one owner. The owner becomes the
contact's assignee, so team plans' "contact assignee" and tag triggers work for the lead (issue: "a claimed or
assigned lead becomes the agent's contact"). These functions never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from db.models import Agent, Contact, Team
from db.routing_models import AgentRouting, Lead, LeadOffer
from db.session import session_scope
from domain.merge import full_name
from services.lead_stats import leads_this_month
from services.tags import add_tag, enroll_by_tag, triggered_plans

OwnedHow = Literal["claimed", "pool_claimed", "assigned", "app_or_site", "existing_contact"]
_STATUS_OF: dict[str, str] = {"claimed": "claimed", "pool_claimed": "claimed", "assigned": "assigned",
                              "app_or_site": "assigned", "existing_contact": "assigned"}


def record(lead: Lead, at: datetime, kind: str, detail: str, **data: Any) -> None:
    """Append one entry to the lead's routing record (a new list, so the JSON column is seen as changed)."""
    entry = {"at": at.isoformat(), "kind": kind, "detail": detail, **data}
    lead.routing_record = [*(lead.routing_record or []), entry]


async def agent_names(session: AsyncSession, agent_ids: Sequence[str]) -> dict[str, str]:
    if not agent_ids:
        return {}
    rows = await session.scalars(select(Agent).where(Agent.id.in_(list(agent_ids))))
    return {agent.id: full_name(agent.first_name, agent.last_name) for agent in rows}


async def take_ownership(session: AsyncSession, lead_id: str, agent_id: str, at: datetime,
                         how: OwnedHow) -> tuple[bool, str]:
    """(won, what happened). Exactly one caller ever wins a lead; the loser learns who has it. An agent's own claim
    (of an offer, or from the pool) is refused once they have reached their monthly lead limit (R-OFFER-3)."""
    if how in ("claimed", "pool_claimed"):
        refusal = await _limit_refusal(session, agent_id, at)
        if refusal is not None:
            return False, refusal
    result = cast(CursorResult[Any], await session.execute(
        update(Lead).where(Lead.id == lead_id, Lead.owner_agent_id.is_(None))
        .values(owner_agent_id=agent_id, owned_at=at, owned_how=how, status=_STATUS_OF[how])
        .execution_options(synchronize_session=False)))
    lead = await session.get(Lead, lead_id, populate_existing=True)
    if lead is None:
        return False, f"lead {lead_id} not found"
    names = await agent_names(session, [a for a in (agent_id, lead.owner_agent_id) if a])
    if result.rowcount != 1:
        owner = names.get(lead.owner_agent_id or "", "another agent")
        return False, f"this lead already belongs to {owner}"
    offers = (await session.scalars(select(LeadOffer).where(LeadOffer.lead_id == lead_id,
                                                            LeadOffer.outcome == "open"))).all()
    for offer in offers:
        offer.outcome, offer.decided_at = ("claimed" if offer.agent_id == agent_id else "withdrawn"), at
    # A lead for a contact already someone's (R-ROUTE-5) leaves the contact as it is: its assignee stays.
    contact = await session.get(Contact, lead.contact_id) if how != "existing_contact" else None
    if contact is not None:
        contact.assignee_id = agent_id
        contact.owner_agent_id = contact.owner_agent_id or agent_id
    verb = {"claimed": "claimed it", "pool_claimed": "claimed it from the pool",
            "assigned": "was assigned it", "app_or_site": "owns it (their own app or site)",
            "existing_contact": "owns it (the contact is theirs)"}[how]
    detail = f"{names.get(agent_id, agent_id)} {verb}"
    record(lead, at, "owned", detail, agent_id=agent_id, how=how)
    return True, detail


async def _limit_refusal(session: AsyncSession, agent_id: str, at: datetime) -> str | None:
    """R-OFFER-3 at the claim: offers made while the agent was under their limit (two at once, one lead short of it)
    cannot take them past it. Their routing row is locked first, so two claims of theirs at once count one after the
    other (PostgreSQL; SQLite's write transactions are serial already)."""
    routing = await session.scalar(select(AgentRouting).where(AgentRouting.agent_id == agent_id).with_for_update())
    if routing is None or routing.lead_limit is None:
        return None
    team = await session.get(Team, routing.team_id)
    owned = (await leads_this_month(session, [agent_id], at, team.time_zone if team else None)).get(agent_id, 0)
    if owned < routing.lead_limit:
        return None
    plural = "" if routing.lead_limit == 1 else "s"
    return (f"you have reached your monthly limit of {routing.lead_limit} lead{plural} ({owned} this month), so you "
            "cannot claim more this month; your Rainmaker can raise it")


async def send_to_pool(session: AsyncSession, lead_id: str, at: datetime, reason: str) -> Lead | None:
    """R-OFFER-2/R-POOL-1: a lead still on offer and unowned goes to the unassigned pool, its open offers withdrawn,
    with `reason` on its routing record. A conditional UPDATE like `take_ownership`'s, so it never undoes a claim
    that won meanwhile; None when the lead had already left offer (claimed, or pooled by someone else)."""
    result = cast(CursorResult[Any], await session.execute(
        update(Lead).where(Lead.id == lead_id, Lead.status == "offered", Lead.owner_agent_id.is_(None))
        .values(status="pool").execution_options(synchronize_session=False)))
    lead = await session.get(Lead, lead_id, populate_existing=True)
    if result.rowcount != 1 or lead is None:
        return None
    await session.execute(update(LeadOffer).where(LeadOffer.lead_id == lead_id, LeadOffer.outcome == "open")
                          .values(outcome="withdrawn", decided_at=at).execution_options(synchronize_session=False))
    record(lead, at, "pool", f"to the unassigned pool: {reason}")
    return lead


async def fire_lead_tags(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str,
                         lead_id: str, at: datetime) -> list[str]:
    """The lead's tags go on its contact once it has an owner, so plan triggers fire for the right agent
    (R-RULE-1: a personal plan's triggers fire for its owner's contacts). The plans it entered, by id."""
    async with session_scope(sessions) as session:
        lead = await session.get(Lead, lead_id)
        contact = await session.get(Contact, lead.contact_id) if lead is not None else None
        if lead is None or contact is None or not lead.tag_ids:
            return []
        plan_ids: list[str] = []
        for tag_id in lead.tag_ids:
            if await add_tag(session, contact.id, tag_id, at):
                plan_ids += [plan.id for plan in await triggered_plans(session, tag_id, contact)]
        contact_id = contact.id
    if not plan_ids:
        return []
    outcomes = await enroll_by_tag(sessions, client, task_queue, contact_id=contact_id, plan_ids=plan_ids, at=at)
    return [o.plan_id for o in outcomes if o.outcome == "enrolled"]
