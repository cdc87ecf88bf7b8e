"""Telling running enrollments about something: a plan edit, a deactivation, a reply, a change of timing.

The change itself is already committed when this runs, so a signal that cannot be delivered is logged, not raised:
a workflow that closed meanwhile has nothing to be told, and one that missed an edit or a deactivation catches up
when its next run loads the plan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from db.models import Enrollment, Plan
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import ContextChanged, EnrollmentResult

log = logging.getLogger(__name__)

# Bounded so one plan with thousands of contacts does not open thousands of RPCs at once.
SIGNAL_CONCURRENCY = 32

Handle = WorkflowHandle[EnrollmentWorkflow, EnrollmentResult]


async def signal_each(client: Client, workflow_ids: Sequence[str], send: Callable[[Handle], Awaitable[None]]) -> int:
    """Send to every enrollment workflow; the number that received it."""
    semaphore = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def one(workflow_id: str) -> bool:
        async with semaphore:
            try:
                await send(client.get_workflow_handle_for(EnrollmentWorkflow.run, workflow_id))
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: the run closed meanwhile
                    log.warning("could not signal %s: %s", workflow_id, err)
                return False
            return True

    return sum(await asyncio.gather(*(one(workflow_id) for workflow_id in workflow_ids)))


async def timing_changed(client: Client, session: AsyncSession, *, what: str, contact_id: str | None = None,
                         owner_agent_id: str | None = None, team_id: str | None = None) -> int:
    """Tell the running enrollments whose timing just changed to reload it, so it counts from their next step on:
    one contact's (its time zone), the plans of one agent (their zone or slots) or of a whole team (its zone or
    slots, which personal plans fall back to). The session's transaction is committed first."""
    query = select(Enrollment.workflow_id).where(Enrollment.status == "active")
    if contact_id is not None:
        query = query.where(Enrollment.contact_id == contact_id)
    elif owner_agent_id is not None:
        query = query.join(Plan, Plan.id == Enrollment.plan_id).where(Plan.owner_agent_id == owner_agent_id)
    elif team_id is not None:
        query = query.where(Enrollment.team_id == team_id)
    else:
        return 0
    workflow_ids = list((await session.scalars(query)).all())
    await session.commit()
    change = ContextChanged(what=what)
    return await signal_each(client, workflow_ids, lambda handle: handle.signal(EnrollmentWorkflow.context_changed,
                                                                                change))
