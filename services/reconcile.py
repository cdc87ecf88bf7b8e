"""One invariant, kept without a person: an `active` enrollment row exists if and only if its workflow runs.

The API commits the row, then starts the workflow. A crash between the two (the API killed, Temporal down and the
row's release failing too) leaves a row no workflow runs, which would block re-enrolling the contact for ever; a
workflow terminated by an operator leaves a row that never ends. The worker runs `reconcile_enrollments` every
`EVERY` seconds:

- an active row still *unconfirmed* `GRACE` after it was written (its workflow's first activity confirms it) has
  its workflow looked up by id, and its memo compared with the row: running → confirmed; absent, or an earlier
  enrollment's run → started now; this row's own run, closed → the row ends, with a timeline event.
- enrollment workflows closed in the last `LOOKBACK` other than by completing (terminated, failed, timed out,
  cancelled) end their row if it is still active.

The other direction, a workflow whose row has ended, is the workflow's own check: it ends when its context load
finds the row no longer active (`EnrollmentContext.enrollment_active`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from db.base import utcnow
from db.models import Contact, Enrollment, Plan
from db.queries import write_timeline
from db.session import session_scope
from domain.merge import full_name
from services.enrollments import ENROLLMENT_MEMO, start_workflow

log = logging.getLogger("smartplans.reconcile")

EVERY = 20.0
GRACE = timedelta(seconds=30)
LOOKBACK = timedelta(minutes=15)
BATCH = 500
_ENDED_ABNORMALLY = ("Terminated", "Failed", "TimedOut", "Canceled")


@dataclass
class Reconciled:
    confirmed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)


async def reconcile_enrollments(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str, *,
                                now: datetime, closed_lookup: bool = True) -> Reconciled:
    """One pass; `closed_lookup` False skips the visibility query (a server without one, like the test server)."""
    done = Reconciled()
    async with sessions() as session:
        unconfirmed = list((await session.scalars(select(Enrollment).where(
            Enrollment.status == "active", Enrollment.confirmed_at.is_(None), Enrollment.started_at <= now - GRACE)
            .order_by(Enrollment.started_at).limit(BATCH))).all())
    for row in unconfirmed:
        await _settle_unconfirmed(sessions, client, task_queue, row, done)
    if closed_lookup:
        await _end_rows_of_closed_runs(sessions, client, now, done)
    return done


async def _settle_unconfirmed(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str,
                              row: Enrollment, done: Reconciled) -> None:
    description = await _describe(client, row.workflow_id)
    ours = description is not None and (await description.memo()).get(ENROLLMENT_MEMO) == row.id
    if ours and description is not None and description.status == WorkflowExecutionStatus.RUNNING:
        await _confirm(sessions, row.id)
        done.confirmed.append(row.id)
    elif ours and description is not None:
        if await _end(sessions, row.id, _status_name(description.status)):
            done.ended.append(row.id)
    else:
        async with sessions() as session:
            plan = await session.get(Plan, row.plan_id)
            contact = await session.get(Contact, row.contact_id)
        if plan is None or contact is None:
            if await _end(sessions, row.id, "record_gone"):
                done.ended.append(row.id)
            return
        try:
            await start_workflow(client, task_queue, row, plan, full_name(contact.first_name, contact.last_name))
        except WorkflowAlreadyStartedError:
            return  # another enrollment's run still finishing: the next pass looks again
        log.warning("enrollment %s had no workflow (a start lost between the row and Temporal); started it", row.id)
        done.started.append(row.id)


async def _end_rows_of_closed_runs(sessions: async_sessionmaker[AsyncSession], client: Client, now: datetime,
                                   done: Reconciled) -> None:
    since = (now - LOOKBACK).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = (f"WorkflowType = 'EnrollmentWorkflow' AND CloseTime > '{since}' AND "
             + " AND ".join(f"ExecutionStatus != '{s}'" for s in ("Running", "Completed", "ContinuedAsNew")))
    async for execution in client.list_workflows(query, limit=BATCH):
        enrollment_id = (await execution.memo()).get(ENROLLMENT_MEMO)
        if isinstance(enrollment_id, str) and execution.status is not None and \
                await _end(sessions, enrollment_id, _status_name(execution.status)):
            done.ended.append(enrollment_id)


async def _describe(client: Client, workflow_id: str) -> WorkflowExecutionDescription | None:
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


def _status_name(status: WorkflowExecutionStatus | None) -> str:
    return f"workflow_{status.name.lower()}" if status is not None else "workflow_closed"


async def _confirm(sessions: async_sessionmaker[AsyncSession], enrollment_id: str) -> None:
    async with session_scope(sessions) as session:
        row = await session.get(Enrollment, enrollment_id)
        if row is not None and row.confirmed_at is None:
            row.confirmed_at = utcnow()


async def _end(sessions: async_sessionmaker[AsyncSession], enrollment_id: str, reason: str) -> bool:
    """End a row whose workflow is over without having ended it; False when it was no longer active."""
    async with session_scope(sessions) as session:
        row = await session.get(Enrollment, enrollment_id)
        if row is None or row.status != "active":
            return False
        plan = await session.get(Plan, row.plan_id)
        now = utcnow()
        row.status, row.ended_at, row.end_reason = "removed", now, reason[:40]
        await write_timeline(
            session, team_id=row.team_id, contact_id=row.contact_id, kind="removed", at=now,
            detail=f"Left plan '{plan.name if plan else row.plan_id}': its workflow ended without finishing "
                   f"({reason.removeprefix('workflow_').replace('_', ' ')})",
            idempotency_key=f"{row.id}:end", plan_id=row.plan_id, enrollment_id=row.id, data={"reason": reason})
        log.warning("enrollment %s ended: its workflow closed (%s) without ending it", row.id, reason)
        return True


async def reconcile_forever(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str) -> None:
    """The worker's background pass; an error (Temporal or the database down) is logged and the next pass retries."""
    while True:
        try:
            done = await reconcile_enrollments(sessions, client, task_queue, now=datetime.now(UTC))
            if done.started or done.ended:
                log.info("reconciled enrollments: started %s, ended %s", done.started, done.ended)
        except Exception:  # noqa: BLE001 - a supervisor loop: report and go on
            log.exception("reconciling enrollments failed; retrying in %.0fs", EVERY)
        await asyncio.sleep(EVERY)
