"""One invariant for leads, kept without a person (issue 10, item 3): a lead is `offered` if and only if its offer
workflow runs.

The intake commits the lead `offered`, then starts `LeadOfferWorkflow` (`lead-{lead id}`), and sends the lead to the
pool when the start fails. The intake killed between the two leaves a lead offered to nobody; a start that failed
by timing out may have gone through after all, offering a lead that is in the pool; an operator's terminate leaves
a lead `offered` for ever. The worker runs `reconcile_leads` in the loop that reconciles enrollments:

- a lead with a workflow id still *unchecked* `GRACE` after it was written (the workflow's first offer checks it)
  has its workflow looked up. On offer: running → checked; closed → the pool; absent → started now at the turn its
  line has reached (`domain.routing.late_start`), or, every claim deadline passed, the pool. Off offer (the intake
  gave up on the start) with its workflow running → that workflow is cancelled before it offers any more.
- offer workflows closed in the last `LOOKBACK` by termination, failure, timeout or cancellation send their lead,
  still on offer, to the pool.
- a lead on offer whose claim deadlines are all `GRACE` behind (its workflow should have moved on) and whose
  workflow no longer runs goes to the pool: the net for a close the lookback missed (the worker down longer).

Every move to the pool says why on the lead's routing record and withdraws its open offers; it is the conditional
UPDATE `services.leads.send_to_pool`, so it never undoes a claim. The other direction, a workflow whose lead is gone
or left offer, is the workflow's own check: its next offer finds the lead not offered and it ends without offering.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError

from db.base import utcnow
from db.routing_models import Lead, LeadOffer, Route
from db.session import session_scope
from domain.routing.late_start import resume_offers
from services.lead_offers import offer_input, planned_line, start_offer
from services.leads import send_to_pool
from services.reconcile_lookup import BATCH, GRACE, closed_abnormally, describe, status_words, unsettled
from workflows.lead_types import LEAD_ID, lead_workflow_id

log = logging.getLogger("smartplans.reconcile")

RUNNING = WorkflowExecutionStatus.RUNNING
# Inlined rather than bound, so SQLite and PostgreSQL match the partial index `ix_leads_offered_created_at`.
OFFERED = literal("offered", literal_execute=True)


@dataclass
class LeadsReconciled:
    checked: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    pooled: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)


async def reconcile_leads(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str, *,
                          now: datetime, closed_lookup: bool = True) -> LeadsReconciled:
    """One pass; `closed_lookup` False skips the visibility query (a server without one, like the test server)."""
    done = LeadsReconciled()
    for lead in await unsettled(sessions, Lead, Lead.created_at, Lead.workflow_id.is_not(None),
                                Lead.offer_checked_at.is_(None), now=now):
        await _settle_unchecked(sessions, client, task_queue, lead, now, done)
    if closed_lookup:
        async for execution in closed_abnormally(client, "LeadOfferWorkflow", now):
            lead_id = execution.typed_search_attributes.get(LEAD_ID)
            if lead_id and await _pool(sessions, lead_id, now, _ended(execution.status)):
                done.pooled.append(lead_id)
    await _pool_overdue(sessions, client, now, done)
    return done


async def _settle_unchecked(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str, lead: Lead,
                            now: datetime, done: LeadsReconciled) -> None:
    workflow_id = lead.workflow_id or lead_workflow_id(lead.id)
    description = await describe(client, workflow_id)
    running = description is not None and description.status == RUNNING
    if lead.status != "offered":
        if running:
            # The intake gave up on this start and sent the lead to the pool (where it may have been claimed since);
            # the start went through after all: the workflow must not offer a lead that is not on offer.
            await client.get_workflow_handle(workflow_id).cancel()
            log.warning("lead %s is %s but its offer workflow ran; cancelled it", lead.id, lead.status)
            done.stopped.append(lead.id)
        await _check(sessions, lead.id)
    elif running:
        await _check(sessions, lead.id)
        done.checked.append(lead.id)
    elif description is not None:
        if await _pool(sessions, lead.id, now, _ended(description.status)):
            done.pooled.append(lead.id)
    else:
        await _start_late(sessions, client, task_queue, lead, now, done)


async def _start_late(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str, lead: Lead,
                      now: datetime, done: LeadsReconciled) -> None:
    """The intake died between the lead's commit and its workflow's start: the offers go on as if it had not."""
    planned = planned_line(lead)
    resume = resume_offers(planned.line, all_at_once=planned.all_at_once, claim_seconds=planned.claim_seconds,
                           routed_at=planned.routed_at, now=now) if planned is not None else None
    if planned is None or resume is None:
        why = "and every claim deadline passed before it could" if planned else "and its line was not recorded"
        if await _pool(sessions, lead.id, now, f"its offer workflow never started, {why}"):
            done.pooled.append(lead.id)
        return
    async with sessions() as session:
        route = await session.get(Route, lead.route_id) if lead.route_id else None
        offer = await offer_input(session, lead, route, line=planned.line, all_at_once=planned.all_at_once,
                                  claim_seconds=planned.claim_seconds, resume=resume)
    try:
        await start_offer(client, task_queue, offer)
    except WorkflowAlreadyStartedError:
        return  # the intake's own start landed after all: the next pass finds it running
    log.warning("lead %s was offered with no workflow (a start lost between the row and Temporal); started it "
                "%s s late", lead.id, resume.late_seconds)
    done.started.append(lead.id)


async def _pool_overdue(sessions: async_sessionmaker[AsyncSession], client: Client, now: datetime,
                        done: LeadsReconciled) -> None:
    deadline_ahead = exists().where(LeadOffer.lead_id == Lead.id, LeadOffer.deadline > now - GRACE)
    async with sessions() as session:
        overdue = list((await session.execute(select(Lead.id, Lead.workflow_id).where(
            Lead.status == OFFERED, Lead.offer_checked_at <= now - GRACE, ~deadline_ahead)
            .order_by(Lead.created_at).limit(BATCH))).all())
    for lead_id, workflow_id in overdue:
        description = await describe(client, workflow_id or lead_workflow_id(lead_id))
        if description is not None and description.status == RUNNING:
            continue  # a worker behind: the workflow moves the lead on when it catches up
        if await _pool(sessions, lead_id, now, _ended(description.status) if description is not None
                       else "its offer workflow is gone"):
            done.pooled.append(lead_id)


def _ended(status: WorkflowExecutionStatus | None) -> str:
    return f"its offer workflow ended ({status_words(status)}) while it was on offer"


async def _pool(sessions: async_sessionmaker[AsyncSession], lead_id: str, now: datetime, reason: str) -> bool:
    async with session_scope(sessions) as session:
        pooled = await send_to_pool(session, lead_id, now, reason)
        lead = pooled or await session.get(Lead, lead_id)
        if lead is not None and lead.offer_checked_at is None:
            lead.offer_checked_at = utcnow()
    if pooled is not None:
        log.warning("lead %s sent to the pool: %s", lead_id, reason)
    return pooled is not None


async def _check(sessions: async_sessionmaker[AsyncSession], lead_id: str) -> None:
    async with session_scope(sessions) as session:
        lead = await session.get(Lead, lead_id)
        if lead is not None and lead.offer_checked_at is None:
            lead.offer_checked_at = utcnow()

