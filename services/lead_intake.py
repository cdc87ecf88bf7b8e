"""A new lead's way in (R-ROUTE-2..7): its contact (matched by email or phone, else created), the route it takes,
the agents in line with the route's rotation stored in the same transaction, and where it goes — offered (the
lead-offer workflow starts once the row is committed), assigned at once, to its own agent, to the pool, or not
routed. A lead for a contact the team already has is not routed again (R-ROUTE-5): it goes to the contact's agent,
or nowhere while an earlier lead of theirs is still offered or pooled. Every decision and its reasons go into the
lead's routing record (R-ROUTE-7).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from db.models import Contact, Team
from db.routing_models import Lead, Route
from db.session import session_scope
from domain.ids import new_id
from domain.merge import full_name
from domain.routing import match_route, plan_offers
from domain.routing.model import APP_OR_SITE_SOURCES, OfferPlan, Rotation
from services.lead_offers import offer_input, start_offer
from services.lead_stats import agent_states
from services.leads import agent_names, fire_lead_tags, record, send_to_pool, take_ownership
from services.routes import rule_of, team_routes
from workflows.lead_types import LeadOfferInput, lead_workflow_id

ROTATION_TRIES = 5


class RotationRaced(Exception):
    """Another lead moved the route's rotation between our read and our write: route again from the new one."""


@dataclass(frozen=True)
class Intake:
    lead_id: str
    status: str
    route_id: str | None
    owner_agent_id: str | None


async def ingest(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str, *, team_id: str,
                 source: str | None, received_at: datetime, owner_agent_id: str | None, contact: dict[str, Any],
                 tag_ids: list[str], at: datetime) -> Intake:
    intake, start = await admit(sessions, team_id=team_id, source=source, received_at=received_at,
                                owner_agent_id=owner_agent_id, contact=contact, tag_ids=tag_ids, at=at)
    if start is not None:
        try:
            await start_offer(client, task_queue, start)
        except Exception:
            await give_up_start(sessions, start.lead_id, at)
            raise
    elif intake.owner_agent_id is not None:
        await fire_lead_tags(sessions, client, task_queue, intake.lead_id, at)
    return intake


async def admit(sessions: async_sessionmaker[AsyncSession], *, team_id: str, source: str | None,
                received_at: datetime, owner_agent_id: str | None, contact: dict[str, Any], tag_ids: list[str],
                at: datetime) -> tuple[Intake, LeadOfferInput | None]:
    """The lead routed and committed, with the offer workflow's input when it is to be offered: what an intake
    killed before the start leaves behind (the reconciler starts that workflow late, issue 10 item 3)."""
    for attempt in range(ROTATION_TRIES):
        try:
            async with session_scope(sessions) as session:
                lead, start = await _route(session, team_id=team_id, source=source, received_at=received_at,
                                           owner_agent_id=owner_agent_id, contact=contact, tag_ids=tag_ids, at=at)
                intake = Intake(lead.id, lead.status, lead.route_id, lead.owner_agent_id)
            break
        except RotationRaced:
            if attempt == ROTATION_TRIES - 1:
                raise
    return intake, start


async def _route(session: AsyncSession, *, team_id: str, source: str | None, received_at: datetime,
                 owner_agent_id: str | None, contact: dict[str, Any], tag_ids: list[str],
                 at: datetime) -> tuple[Lead, LeadOfferInput | None]:
    team = await session.get(Team, team_id)
    assert team is not None
    person, known = await _contact(session, team_id, contact)
    lead = Lead(id=new_id("ld"), team_id=team_id, contact_id=person.id, source=(source or "").strip() or None,
                received_at=received_at, status="not_routed", routing_record=[], tag_ids=list(tag_ids))
    session.add(lead)
    await session.flush()
    if known and await _kept_with_contact(session, lead, person, at):
        return lead, None
    routes = await team_routes(session, team_id)
    match = match_route([rule_of(r) for r in routes], source=lead.source, arrival=received_at,
                        team_zone=team.time_zone, owner_agent_id=owner_agent_id)
    record(lead, at, "routes", match.reason, outcome=match.outcome,
           considered=[verdict.model_dump() for verdict in match.considered])
    if owner_agent_id is not None and match.outcome != "owner":
        record(lead, at, "owner", f"owner_agent_id {owner_agent_id} not used: only a lead from an agent's own app or "
               f"site (source {' or '.join(sorted(APP_OR_SITE_SOURCES))}) goes to that agent (R-ROUTE-5)")
    if match.outcome == "not_routed":
        return lead, None
    if match.outcome == "owner" and owner_agent_id is not None:
        await take_ownership(session, lead.id, owner_agent_id, at, "app_or_site")
        return lead, None
    route = next((r for r in routes if r.id == match.route_id), None)
    if match.outcome == "pool" or route is None:
        lead.status = "pool"
        record(lead, at, "pool", "to the unassigned pool: no route covers it")
        return lead, None
    lead.route_id = route.id
    plan = await _plan(session, route, team, lead.id, at)
    for skipped in plan.skipped:
        record(lead, at, "skipped", skipped.detail, agent_id=skipped.agent_id, reason=skipped.reason)
    # The line entry keeps what the offers need, so a lost workflow start can be made again from the row alone.
    record(lead, at, "line", plan.reason, line=plan.line, all_at_once=plan.all_at_once,
           claim_seconds=route.claim_seconds)
    if not plan.line:
        lead.status = "pool"
        record(lead, at, "pool", "to the unassigned pool: no agent of the route is available")
        return lead, None
    if plan.assign_at_once:
        await take_ownership(session, lead.id, plan.line[0], at, "assigned")
        return lead, None
    lead.status, lead.workflow_id = "offered", lead_workflow_id(lead.id)
    return lead, await offer_input(session, lead, route, line=plan.line, all_at_once=plan.all_at_once,
                                   claim_seconds=route.claim_seconds)


async def _plan(session: AsyncSession, route: Route, team: Team, lead_id: str, at: datetime) -> OfferPlan:
    """The line for this lead, and the route's rotation moved on — written only if no other lead moved it first."""
    states = await agent_states(session, team.id, route.agent_ids, at, team.time_zone)
    rotation = Rotation.model_validate(route.rotation or {})
    seed = int.from_bytes(hashlib.sha256(lead_id.encode()).digest()[:8], "big")
    plan = plan_offers(rule_of(route), states, rotation, seed=seed, names=await agent_names(session, route.agent_ids))
    result = cast(CursorResult[Any], await session.execute(
        update(Route).where(Route.id == route.id, Route.rotation_version == route.rotation_version)
        .values(rotation=plan.rotation.model_dump(mode="json"), rotation_version=route.rotation_version + 1)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        raise RotationRaced(route.id)
    return plan


async def _contact(session: AsyncSession, team_id: str, fields: dict[str, Any]) -> tuple[Contact, bool]:
    """The team's contact with this email or phone (and True), else a new one (a lead is a person, not a second copy).

    A contact found is locked until the lead is committed, so two leads for one person arriving at once are routed
    one after the other and the second sees the first (R-ROUTE-5). `FOR UPDATE` on PostgreSQL; SQLite has no row
    locks, and needs none: its write transactions take the database's lock at BEGIN (`db.session`)."""
    email, phone = fields.get("email"), fields.get("phone")
    # An address is one person whatever its case (`Dana@x.com` is `dana@x.com`), as a reply is matched to its sender.
    matches = [clause for clause in (func.lower(Contact.email) == email.lower() if email else None,
                                     Contact.phone == phone if phone else None) if clause is not None]
    if matches:
        found = await session.scalar(select(Contact).where(Contact.team_id == team_id, or_(*matches))
                                     .order_by(Contact.created_at).limit(1).with_for_update())
        if found is not None:
            return found, True
    contact = Contact(id=new_id("ct"), team_id=team_id, **{k: v for k, v in fields.items() if v is not None})
    session.add(contact)
    await session.flush()
    return contact, False


async def _kept_with_contact(session: AsyncSession, lead: Lead, person: Contact, at: datetime) -> bool:
    """R-ROUTE-5 "a lead goes through routing once": a new lead for a person the team already has is not routed
    again when that person is someone's, or has a lead still on its way to someone. True when the lead was settled
    here; False to route it (a contact with no agent and no open lead: an earlier lead with no source, say).

    The person's agent (assignee, else owner) gets the new lead at once, as Command and Follow Up Boss keep a known
    contact with its agent; the contact itself is not touched, so its assignee stays as it was."""
    who = full_name(person.first_name, person.last_name)
    agent_id = person.assignee_id or person.owner_agent_id
    if agent_id is not None:
        agent = (await agent_names(session, [agent_id])).get(agent_id, agent_id)
        record(lead, at, "existing_contact", f"{who} is already {agent}'s contact: not routed again (R-ROUTE-5)",
               contact_id=person.id, agent_id=agent_id)
        await take_ownership(session, lead.id, agent_id, at, "existing_contact")
        return True
    earlier = await session.scalar(select(Lead).where(
        Lead.contact_id == person.id, Lead.id != lead.id, Lead.status.in_(("offered", "pool")))
        .order_by(Lead.created_at).limit(1))
    if earlier is None:
        return False
    where = "being offered" if earlier.status == "offered" else "in the unassigned pool"
    record(lead, at, "existing_contact", f"{who} already has lead {earlier.id}, {where}: not routed again "
           "(R-ROUTE-5)", contact_id=person.id, lead_id=earlier.id)
    return True


async def give_up_start(sessions: async_sessionmaker[AsyncSession], lead_id: str, at: datetime) -> None:
    """No workflow, no offer: the lead must not sit "offered" to nobody; the pool is where people look. The start
    may have gone through after all (a timeout): left unchecked, the reconciler stops such a workflow."""
    async with session_scope(sessions) as session:
        lead = await send_to_pool(session, lead_id, at, "its offers could not be started")
        if lead is not None:
            lead.offer_checked_at = None
