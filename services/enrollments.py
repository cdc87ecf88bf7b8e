"""Enrolling a contact in a plan: the database row (the guarantee of "at most once at a time", R-ENR-1) and the
workflow that runs it. Used by the add-to-plan step now and by the API and tag triggers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from db.models import Contact, Enrollment, Plan
from db.queries import plan_version, write_timeline
from db.session import session_scope
from domain.ids import new_id
from domain.merge import full_name
from workflows.types import (
    CONTACT_ID,
    CONTACT_NAME,
    ENROLLMENT_STATUS,
    KEYWORD_LABEL_LIMIT,
    PLAN_ID,
    PLAN_NAME,
    TEAM_ID,
    enrollment_workflow_id,
)

ENROLLMENT_MEMO = "enrollment_id"


class EnrollmentRefused(Exception):
    """A business refusal: the API answers 409/422 with the message; a step writes it to the timeline."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Enrolled:
    enrollment_id: str
    workflow_id: str
    plan_name: str


async def enroll(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str, *, plan_id: str,
                 contact_id: str, source: str, at: datetime, source_key: str | None = None) -> Enrolled:
    """Record the enrollment, then start its workflow. With `source_key`, a repeat call returns the first result."""
    async with session_scope(sessions) as session:
        row = await _by_source_key(session, source_key)
        plan = await session.get(Plan, plan_id)
        contact = await session.get(Contact, contact_id)
        if plan is None or contact is None or plan.team_id != contact.team_id:
            raise EnrollmentRefused("not_found", f"plan {plan_id} or contact {contact_id} not found")
        contact_name = full_name(contact.first_name, contact.last_name)
        fresh = row is None
        if row is None:
            row = await _insert(session, plan, contact, contact_name, source, source_key, at)
    try:
        await start_workflow(client, task_queue, row, plan, contact_name)
    except WorkflowAlreadyStartedError as err:
        if fresh:
            # The previous enrollment's workflow is still writing its end: refuse rather than leave a row
            # that no workflow runs.
            await _abandon(sessions, row.id)
            raise EnrollmentRefused("already_enrolled", f"{contact_name} is still leaving plan '{plan.name}'; "
                                    "try again in a moment") from err
    except Exception:
        if fresh:
            await _abandon(sessions, row.id)
        raise
    return Enrolled(enrollment_id=row.id, workflow_id=row.workflow_id, plan_name=plan.name)


async def _by_source_key(session: AsyncSession, source_key: str | None) -> Enrollment | None:
    if source_key is None:
        return None
    return await session.scalar(select(Enrollment).where(Enrollment.source_key == source_key))


async def _insert(session: AsyncSession, plan: Plan, contact: Contact, contact_name: str, source: str,
                  source_key: str | None, at: datetime) -> Enrollment:
    if not plan.active:
        raise EnrollmentRefused("plan_inactive", f"plan '{plan.name}' is inactive; activate it to enroll contacts")
    version = await plan_version(session, plan.id, plan.current_version)
    # The saved document was validated when saved: looking for a step is enough (no re-parse on every enroll).
    if version is None or not any(day.get("steps") for day in version.definition.get("days", [])):
        raise EnrollmentRefused("plan_empty", f"plan '{plan.name}' has no steps yet")
    row = Enrollment(id=new_id("en"), team_id=plan.team_id, plan_id=plan.id, contact_id=contact.id,
                     plan_version=plan.current_version, workflow_id=enrollment_workflow_id(plan.id, contact.id),
                     status="active", source=source, started_at=at, source_key=source_key)
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError as err:
        raise EnrollmentRefused(
            "already_enrolled", f"{contact_name or contact.id} is already in plan '{plan.name}'") from err
    await write_timeline(session, team_id=plan.team_id, contact_id=contact.id, kind="enrolled",
                         detail=f"{contact_name or contact.id} was added to plan '{plan.name}' ({source})", at=at,
                         idempotency_key=f"{row.id}:enrolled", plan_id=plan.id, enrollment_id=row.id)
    return row


async def start_workflow(client: Client, task_queue: str, row: Enrollment, plan: Plan, contact_name: str) -> None:
    """The row's workflow; its memo names the row, so the reconciler tells this enrollment's run from an earlier
    enrollment's under the same workflow id."""
    # Imported here: the workflow module imports the activities, which import this module.
    from workflows.enrollment import EnrollmentWorkflow
    from workflows.types import EnrollmentInput

    attributes = TypedSearchAttributes([
        SearchAttributePair(PLAN_ID, plan.id), SearchAttributePair(CONTACT_ID, row.contact_id),
        SearchAttributePair(TEAM_ID, plan.team_id),
        SearchAttributePair(ENROLLMENT_STATUS, "active"),
        SearchAttributePair(PLAN_NAME, plan.name[:KEYWORD_LABEL_LIMIT]),
        SearchAttributePair(CONTACT_NAME, (contact_name or row.contact_id)[:KEYWORD_LABEL_LIMIT]),
    ])
    try:
        await client.start_workflow(
            EnrollmentWorkflow.run,
            EnrollmentInput(enrollment_id=row.id, plan_id=plan.id, contact_id=row.contact_id, team_id=plan.team_id,
                            agent_id=plan.owner_agent_id, plan_version=row.plan_version,
                            enrolled_at=row.started_at),
            id=row.workflow_id, task_queue=task_queue, search_attributes=attributes,
            static_summary=f"{contact_name or row.contact_id} in {plan.name}",
            memo={ENROLLMENT_MEMO: row.id},
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        if row.source_key is None:
            raise
        # A retried add-to-plan step whose first attempt started the workflow: nothing more to do.


async def _abandon(sessions: async_sessionmaker[AsyncSession], enrollment_id: str) -> None:
    """An enrollment whose workflow could not start must not stay `active` (it would block re-enrolling)."""
    async with session_scope(sessions) as session:
        row = await session.get(Enrollment, enrollment_id)
        if row is not None and row.status == "active":
            # The key is released so a retried add-to-plan step enrolls afresh instead of finding this row.
            row.status, row.end_reason, row.source_key = "removed", "start_failed", None
