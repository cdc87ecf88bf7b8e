"""What the reconcilers (`services.reconcile`, `services.reconcile_leads`) look up each pass: the rows whose
workflow has not been seen to agree with them yet, their workflows by id, and the runs of a workflow type closed
other than by finishing.

A row is looked at only `GRACE` after it was written, so a start still in flight is never taken for a lost one;
at most `BATCH` a pass, oldest first. Closed runs are found through visibility (rate-limited: one paged query per
pass) over the last `LOOKBACK`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

EVERY = 20.0
GRACE = timedelta(seconds=30)
LOOKBACK = timedelta(minutes=15)
BATCH = 500

Row = TypeVar("Row")


async def unsettled(sessions: async_sessionmaker[AsyncSession], model: type[Row],
                    written_at: InstrumentedAttribute[Any], *where: ColumnElement[bool], now: datetime) -> list[Row]:
    """The rows matching `where` (not yet seen to agree with their workflow) written `GRACE` ago or more."""
    async with sessions() as session:
        return list((await session.scalars(select(model).where(*where, written_at <= now - GRACE)
                                           .order_by(written_at).limit(BATCH))).all())


async def describe(client: Client, workflow_id: str) -> WorkflowExecutionDescription | None:
    """The latest run under `workflow_id`, running or closed; None when Temporal has none."""
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


def status_name(status: WorkflowExecutionStatus | None) -> str:
    return f"workflow_{status.name.lower()}" if status is not None else "workflow_closed"


def status_words(status: WorkflowExecutionStatus | None) -> str:
    """"terminated", "timed out": how a closed run ended, for the records people read."""
    return status_name(status).removeprefix("workflow_").replace("_", " ")


async def closed_abnormally(client: Client, workflow_type: str, now: datetime) -> AsyncIterator[WorkflowExecution]:
    """Runs of `workflow_type` closed in the last `LOOKBACK` by termination, failure, timeout or cancellation."""
    since = (now - LOOKBACK).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = (f"WorkflowType = '{workflow_type}' AND CloseTime > '{since}' AND "
             + " AND ".join(f"ExecutionStatus != '{s}'" for s in ("Running", "Completed", "ContinuedAsNew")))
    async for execution in client.list_workflows(query, limit=BATCH):
        if execution.status is not None:
            yield execution
