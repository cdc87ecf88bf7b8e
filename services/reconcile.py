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
finds the row no longer active (`EnrollmentContext.enrollment_active`). The same loop keeps the lead invariant
(`services.reconcile_leads`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError

from db.base import utcnow
from db.models import Contact, Enrollment, Plan
from db.queries import write_timeline
from db.session import session_scope
from domain.merge import full_name
from services.enrollments import ENROLLMENT_MEMO, start_workflow
from services.reconcile_leads import reconcile_leads
from services.reconcile_lookup import EVERY, closed_abnormally, describe, status_name, unsettled

log = logging.getLogger("smartplans.reconcile")


@dataclass
class Reconciled:
    confirmed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)


async def reconcile_enrollments(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str, *,
                                now: datetime, closed_lookup: bool = True) -> Reconciled:
    """One pass; `closed_lookup` False skips the visibility query (a server without one, like the test server)."""
    done = Reconciled()
    for row in await unsettled(sessions, Enrollment, Enrollment.started_at, Enrollment.status == "active",
                               Enrollment.confirmed_at.is_(None), now=now):
        await _settle_unconfirmed(sessions, client, task_queue, row, done)
    if closed_lookup:
        await _end_rows_of_closed_runs(sessions, client, now, done)
    return done


async def _settle_unconfirmed(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str,
                              row: Enrollment, done: Reconciled) -> None:
    description = await describe(client, row.workflow_id)
    ours = description is not None and (await description.memo()).get(ENROLLMENT_MEMO) == row.id
    if ours and description is not None and description.status == WorkflowExecutionStatus.RUNNING:
        await _confirm(sessions, row.id)
        done.confirmed.append(row.id)
    elif ours and description is not None:
        if await _end(sessions, row.id, status_name(description.status)):
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
    async for execution in closed_abnormally(client, "EnrollmentWorkflow", now):
        enrollment_id = (await execution.memo()).get(ENROLLMENT_MEMO)
        if isinstance(enrollment_id, str) and await _end(sessions, enrollment_id, status_name(execution.status)):
            done.ended.append(enrollment_id)


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
    """The worker's background pass over enrollments, then leads (`services.reconcile_leads`); an error in one
    (Temporal or the database down) is logged, the other still runs, and the next pass retries."""
    passes: dict[str, Callable[..., Awaitable[object]]] = {"enrollments": reconcile_enrollments,
                                                           "leads": reconcile_leads}
    while True:
        for name, reconcile in passes.items():
            try:
                done = await reconcile(sessions, client, task_queue, now=datetime.now(UTC))
                changes = {what: ids for what, ids in vars(done).items() if ids}
                if changes:
                    log.info("reconciled %s: %s", name, changes)
            except Exception:  # noqa: BLE001 - a supervisor loop: report and go on
                log.exception("reconciling %s failed; retrying in %.0fs", name, EVERY)
        await asyncio.sleep(EVERY)
