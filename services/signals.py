"""Telling running enrollments about something: a plan edit, a deactivation, a reply.

The change itself is already committed when this runs, so a signal that cannot be delivered is logged, not raised:
a workflow that closed meanwhile has nothing to be told, and one that missed an edit or a deactivation catches up
when its next run loads the plan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from workflows.enrollment import EnrollmentWorkflow
from workflows.types import EnrollmentResult

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
