"""Leads: intake and routing, the lead with its routing record, an agent's open offers, claim and pass, and the
unassigned pool (R-ROUTE-5..7, R-OFFER-1..4, R-POOL-1).

A claim or a pass on an offer goes to the lead's workflow as an update, so the answer is the workflow's decision;
once the offer is over (claimed, or in the pool) the lead's row answers. A pool claim and an assignment use the same
single-winner guard as an offer claim: two at once give one owner.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.access import team_agent, team_record
from api.deps import CurrentAgent, NowDep, SessionDep, SessionsDep, SettingsDep, TemporalDep
from api.errors import Conflict, Forbidden, Invalid, Unavailable
from api.paging import PageDep
from api.schemas.leads import ClaimAnswer, LeadCreate, LeadCreated, LeadPublic, OfferPublic, OpenOffer, PoolAssign
from db.models import Agent
from db.routing_models import Lead, LeadOffer
from services.lead_intake import ingest
from services.leads import agent_names, fire_lead_tags, take_ownership
from workflows.lead_types import ClaimRequest, ClaimResult, PassRequest, PassResult, offer_ran_out

Answer = TypeVar("Answer", ClaimResult, PassResult)

router = APIRouter(tags=["leads"])
UPDATE_TIMEOUT = timedelta(seconds=10)
# How far ahead of this server's clock a lead source's own clock may run. A lead is routed when it arrives, by the
# routes covering its arrival (R-ROUTE-2): an arrival later than that is a mistake, and routing it by a holiday
# route a month early would be a wrong answer given at once.
CLOCK_SKEW = timedelta(minutes=5)
# The offer is over: its workflow has ended ("already completed"), or was ending when the update arrived ("aborted
# by closing workflow"). The lead's row then says whose it is or that it is in the pool.
OFFER_OVER = (RPCStatusCode.NOT_FOUND, RPCStatusCode.ABORTED, RPCStatusCode.FAILED_PRECONDITION)
RAINMAKER_ONLY = "only the Rainmaker {} (R-POOL-1, R-ROUTE-7)"


async def _lead(session: AsyncSession, agent: Agent, lead_id: str) -> Lead:
    return await team_record(session, Lead, lead_id, agent, "lead")


async def _public(session: AsyncSession, agent: Agent, lead: Lead) -> LeadPublic:
    offers = (await session.scalars(select(LeadOffer).where(LeadOffer.lead_id == lead.id)
                                    .order_by(LeadOffer.offered_at, LeadOffer.id))).all()
    open_deadlines = [o.deadline for o in offers if o.outcome == "open"]
    return LeadPublic(id=lead.id, status=lead.status, source=lead.source, received_at=lead.received_at,
                      contact_id=lead.contact_id, route_id=lead.route_id, owner_agent_id=lead.owner_agent_id,
                      owned_at=lead.owned_at, offers=[OfferPublic.model_validate(o) for o in offers],
                      current_deadline=max(open_deadlines) if open_deadlines else None,
                      routing_record=list(lead.routing_record) if agent.role == "rainmaker" else None)


@router.post("/leads", status_code=status.HTTP_201_CREATED, response_model=LeadCreated)
async def create_lead(body: LeadCreate, agent: CurrentAgent, session: SessionDep, sessions: SessionsDep,
                      client: TemporalDep, settings: SettingsDep, now: NowDep) -> LeadCreated:
    """A new lead: its contact is matched (email or phone) or created, then it is routed once (R-ROUTE-5)."""
    if body.received_at is not None and body.received_at > now + CLOCK_SKEW:
        raise Invalid("received_at", "R-ROUTE-2", f"a lead arrives when it is sent: {body.received_at.isoformat()} "
                      f"is later than now ({now.astimezone(UTC).isoformat(timespec='seconds')}); leave it out for now")
    if body.owner_agent_id is not None:
        await team_agent(session, agent, body.owner_agent_id, "owner_agent_id")
    await session.commit()  # intake runs its own transaction
    intake = await ingest(sessions, client, settings.temporal_task_queue, team_id=agent.team_id, source=body.source,
                          received_at=body.received_at or now, owner_agent_id=body.owner_agent_id,
                          contact=body.contact.model_dump(), tag_ids=body.tag_ids, at=now)
    return LeadCreated(id=intake.lead_id, route_id=intake.route_id, status=intake.status,
                       owner_agent_id=intake.owner_agent_id)


@router.get("/leads/{lead_id}", response_model=LeadPublic)
async def get_lead(lead_id: str, agent: CurrentAgent, session: SessionDep) -> LeadPublic:
    """Status, offers so far and the open offer's deadline; the routing record for the Rainmaker (R-ROUTE-7)."""
    return await _public(session, agent, await _lead(session, agent, lead_id))


@router.get("/leads", response_model=list[LeadPublic])
async def list_leads(agent: CurrentAgent, session: SessionDep, lead_status: Annotated[str | None, Query(
        alias="status", pattern="^(offered|claimed|assigned|pool|not_routed)$")] = None,
                     agent_id: str | None = None, *, page: PageDep, request: Request,
                     response: Response) -> list[LeadPublic]:
    """The team's leads, newest first; `agent_id` narrows to the leads that agent owns."""
    query = select(Lead).where(Lead.team_id == agent.team_id)
    if lead_status is not None:
        query = query.where(Lead.status == lead_status)
    if agent_id is not None:
        query = query.where(Lead.owner_agent_id == agent_id)
    leads = (await session.scalars(query.order_by(Lead.received_at.desc(), Lead.id.desc())
                                   .offset(page.offset).limit(page.fetch))).all()
    return [await _public(session, agent, lead) for lead in page.cut(leads, request, response)]


@router.get("/offers", response_model=list[OpenOffer])
async def my_offers(agent: CurrentAgent, session: SessionDep, now: NowDep, page: PageDep, request: Request,
                    response: Response) -> list[OpenOffer]:
    """R-OFFER-1: the caller's open offers with their deadlines and the time left, the nearest deadline first."""
    rows = page.cut((await session.execute(
        select(LeadOffer, Lead).join(Lead, Lead.id == LeadOffer.lead_id)
        .where(LeadOffer.agent_id == agent.id, LeadOffer.outcome == "open", LeadOffer.deadline > now)
        .order_by(LeadOffer.deadline, LeadOffer.id).limit(page.fetch).offset(page.offset))).all(), request, response)
    return [OpenOffer(lead_id=lead.id, contact_id=lead.contact_id, source=lead.source, offered_at=offer.offered_at,
                      deadline=offer.deadline, seconds_left=max(0, int((offer.deadline - now).total_seconds())))
            for offer, lead in rows]


@router.post("/leads/{lead_id}/claim", response_model=ClaimAnswer)
async def claim(lead_id: str, agent: CurrentAgent, session: SessionDep, client: TemporalDep,
                now: NowDep) -> ClaimAnswer:
    """R-OFFER-2: 200 when the caller won the lead; 409 with the reason when it is not theirs to claim (expired,
    someone else's, not offered to them)."""
    won = await _offer_update(session, client, agent, lead_id, "claim", ClaimResult, now)
    return ClaimAnswer(lead_id=lead_id, owner_agent_id=agent.id, status="claimed", detail=won.detail)


@router.post("/leads/{lead_id}/pass", response_model=ClaimAnswer)
async def pass_lead(lead_id: str, agent: CurrentAgent, session: SessionDep, client: TemporalDep,
                    now: NowDep) -> ClaimAnswer:
    """R-OFFER-2: the offered agent passes; the lead goes to the next agent in line (or to the pool)."""
    passed = await _offer_update(session, client, agent, lead_id, "pass", PassResult, now)
    return ClaimAnswer(lead_id=lead_id, owner_agent_id=None, status=passed.status, detail=passed.detail)


async def _offer_update(session: AsyncSession, client: TemporalDep, agent: Agent, lead_id: str, name: str,
                        result_type: type[Answer], now: datetime) -> Answer:
    """The workflow's answer to the caller's claim or pass while the lead is on offer; once the offer is over, a
    409 from the lead's row (whose it is, or that it is in the pool)."""
    lead = await _lead(session, agent, lead_id)
    decided = await _decided_offer(session, lead_id, agent, now)
    await session.commit()
    if decided is not None:  # the database knows the answer: no need for the workflow (or its worker) to give it
        raise Conflict(decided)
    if lead.workflow_id is not None and lead.status == "offered":
        handle = client.get_workflow_handle(lead.workflow_id)
        request = ClaimRequest(agent_id=agent.id) if name == "claim" else PassRequest(agent_id=agent.id)
        try:
            answer: Answer = await handle.execute_update(name, request, result_type=result_type,
                                                         rpc_timeout=UPDATE_TIMEOUT)
            return answer
        except WorkflowUpdateFailedError as err:
            raise Conflict(_refusal(err)) from err
        except WorkflowUpdateRPCTimeoutOrCancelledError as err:
            raise Unavailable(f"lead routing did not answer your {name} in time (its worker may be restarting); "
                              f"see GET /leads/{lead_id} and {name} again if it is still offered to you") from err
        except RPCError as err:
            if err.status not in OFFER_OVER:
                raise
    raise Conflict(await _why_not(session, lead_id, agent))


async def _decided_offer(session: AsyncSession, lead_id: str, agent: Agent, now: datetime) -> str | None:
    """Why the caller's offer of the lead is over, as its row says (passed, ran out, another agent won), or None:
    answered from the database, as the workflow would, even while its worker is away (R-OFFER-2)."""
    offer = await session.scalar(select(LeadOffer).where(LeadOffer.lead_id == lead_id,
                                                         LeadOffer.agent_id == agent.id))
    if offer is None:
        return None
    if offer.outcome == "passed":
        return "you already passed on this lead"
    if offer.outcome == "withdrawn":
        return "this lead was already claimed by another agent"
    if offer.outcome == "expired" or (offer.outcome == "open" and offer.deadline <= now):
        return offer_ran_out(offer.deadline)
    return None


def _refusal(err: WorkflowUpdateFailedError) -> str:
    """The workflow's reason (deadline passed, not offered to you, already claimed), as the 409's detail."""
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)


async def _why_not(session: AsyncSession, lead_id: str, agent: Agent) -> str:
    lead = await session.get(Lead, lead_id, populate_existing=True)
    assert lead is not None
    if lead.owner_agent_id is not None:
        who = "you" if lead.owner_agent_id == agent.id else \
            (await agent_names(session, [lead.owner_agent_id])).get(lead.owner_agent_id, "another agent")
        return f"this lead already belongs to {who}"
    if lead.status == "pool":
        return f"this lead's offers are over; it is in the unassigned pool: POST /pool/{lead.id}/claim"
    return "this lead is not offered to you"


@router.get("/pool", response_model=list[LeadPublic])
async def pool(agent: CurrentAgent, session: SessionDep, page: PageDep, request: Request,
               response: Response) -> list[LeadPublic]:
    """R-POOL-1: the team's unassigned leads, oldest first, for the Rainmaker and every agent."""
    leads = page.cut((await session.scalars(select(Lead).where(Lead.team_id == agent.team_id, Lead.status == "pool")
                                            .order_by(Lead.received_at, Lead.id).limit(page.fetch)
                                            .offset(page.offset))).all(), request, response)
    return [await _public(session, agent, lead) for lead in leads]


@router.post("/pool/{lead_id}/claim", response_model=ClaimAnswer)
async def claim_from_pool(lead_id: str, agent: CurrentAgent, session: SessionDep, sessions: SessionsDep,
                          client: TemporalDep, settings: SettingsDep, now: NowDep) -> ClaimAnswer:
    """R-POOL-1: an agent claims a pool lead; two claims at once give it to one agent only (409 for the other)."""
    return await _own(session, sessions, client, settings.temporal_task_queue, agent, lead_id, agent, now,
                      "pool_claimed")


@router.post("/pool/{lead_id}/assign", response_model=ClaimAnswer)
async def assign_from_pool(lead_id: str, body: PoolAssign, agent: CurrentAgent, session: SessionDep,
                           sessions: SessionsDep, client: TemporalDep, settings: SettingsDep,
                           now: NowDep) -> ClaimAnswer:
    """R-POOL-1: the Rainmaker assigns a pool lead to an agent of the team, or a lead no route took (R-ROUTE-5)."""
    if agent.role != "rainmaker":
        raise Forbidden(RAINMAKER_ONLY.format("assigns leads from the pool"))
    await _lead(session, agent, lead_id)  # another team's lead is a 404 before anything about the body
    assignee = await team_agent(session, agent, body.agent_id, "agent_id")
    return await _own(session, sessions, client, settings.temporal_task_queue, agent, lead_id, assignee, now,
                      "assigned")


def _not_pooled(lead: Lead) -> str:
    if lead.status == "offered":
        return "this lead is not in the pool: it is still being offered"
    if lead.status == "not_routed":
        return ("this lead is not in the pool: no route took it; the Rainmaker can assign it "
                f"(POST /pool/{lead.id}/assign)")
    return f"this lead is not in the pool ({lead.status})"


async def _own(session: AsyncSession, sessions: SessionsDep, client: TemporalDep, task_queue: str, caller: Agent,
               lead_id: str, owner: Agent, now: datetime, how: str) -> ClaimAnswer:
    lead = await _lead(session, caller, lead_id)
    # A lead no route took (no source, R-ROUTE-5) is nobody's until the Rainmaker gives it to someone: left to be
    # claimed it would stay with nobody, and left out of every agent's reach it would stay there for good.
    takeable = ("pool", "not_routed") if how == "assigned" else ("pool",)
    if lead.status not in takeable and lead.owner_agent_id is None:
        raise Conflict(_not_pooled(lead))
    won, detail = await take_ownership(session, lead.id, owner.id, now.astimezone(UTC),
                                       "assigned" if how == "assigned" else "pool_claimed")
    if not won:
        raise Conflict(detail)
    await session.commit()
    await fire_lead_tags(sessions, client, task_queue, lead.id, now)
    return ClaimAnswer(lead_id=lead.id, owner_agent_id=owner.id, status="assigned" if how == "assigned"
                       else "claimed", detail=detail)
