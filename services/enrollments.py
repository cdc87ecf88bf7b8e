"""Enrolling contacts in plans: the database row (the guarantee of "at most once at a time", R-ENR-1) and the
workflow that runs it. One path for every way in: by hand (one, or a batch of up to 1,000), a tag trigger, an
add-to-plan step.

Two halves, so the caller owns its transaction: `record_enrollments` writes the rows and their timeline events in
the caller's session (one INSERT for all the rows; a contact already in the plan is skipped by the database's
unique index, not by an error), and once that is committed `start_recorded` starts their workflows, a bounded number
at a time. A row whose start fails is ended (`start_failed`) before the answer; a row whose start is lost (the
process dies in between) is found by the worker's reconciler (`services.reconcile`): either way an `active` row
exists iff its workflow runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, Literal

from sqlalchemy import ColumnElement, Insert, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from db.base import table_of
from db.models import Contact, Enrollment, Plan, TimelineEvent
from db.queries import plan_version
from db.session import session_scope
from domain.ids import new_id
from domain.merge import full_name
from services.enrollment_records import (
    NEW_ENROLLMENT_COLUMNS,
    EnrollmentFacts,
    NewEnrollment,
    PlanFacts,
)
from workflows.types import (
    CONTACT_ID,
    CONTACT_NAME,
    ENROLLMENT_STATUS,
    KEYWORD_LABEL_LIMIT,
    PLAN_ID,
    PLAN_NAME,
    TEAM_ID,
    MarkedRemoval,
    enrollment_workflow_id,
)

ENROLLMENT_MEMO = "enrollment_id"
# Workflow starts in flight at once for one batch: enough to keep the Temporal server busy, few enough that a
# 1,000-contact batch does not queue 1,000 RPCs at the client.
START_CONCURRENCY = 32

Outcome = Literal["enrolled", "already_enrolled", "not_found", "plan_inactive", "plan_empty", "start_failed"]


class EnrollmentRefused(Exception):
    """A business refusal: the API answers 409/422 with the message; a step writes it to the timeline."""

    def __init__(self, code: Outcome, message: str, *, leaving: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.leaving = leaving  # the contact's earlier enrollment in the plan is ending: a moment later, it may go


@dataclass(frozen=True)
class Enrolled:
    enrollment_id: str
    workflow_id: str
    plan_name: str


@dataclass(frozen=True)
class Enrollee:
    contact_id: str
    name: str  # the contact's full name, or "" (labels then use the id)


@dataclass(frozen=True)
class Recorded:
    """A row written in the caller's transaction; its workflow starts once that is committed (`start_recorded`)."""

    row: EnrollmentFacts
    plan: PlanFacts
    name: str
    fresh: bool = True  # False: an add-to-plan step's retry found its first attempt's row, which it must not end


@dataclass(frozen=True)
class Result:
    """What came of one contact in one plan."""

    plan_id: str
    contact_id: str
    outcome: Outcome
    detail: str
    enrollment_id: str | None = None
    workflow_id: str | None = None
    error: Exception | None = field(default=None, compare=False)  # why a start failed, for a caller to re-raise
    leaving: bool = False  # already enrolled: an earlier enrollment in the plan that is ending, not ended yet


def enrollee(contact: Contact) -> Enrollee:
    return Enrollee(contact.id, full_name(contact.first_name, contact.last_name))


async def team_enrollees(session: AsyncSession, team_id: str, contact_ids: Sequence[str]) -> dict[str, Enrollee]:
    """The team's contacts among `contact_ids`, each once, in the order given; another team's are left out, like
    missing ones."""
    rows = (await session.execute(select(Contact.id, Contact.first_name, Contact.last_name)
                                  .where(Contact.id.in_(set(contact_ids)), Contact.team_id == team_id))).all()
    names = {contact_id: full_name(first, last) for contact_id, first, last in rows}
    return {contact_id: Enrollee(contact_id, names[contact_id]) for contact_id in dict.fromkeys(contact_ids)
            if contact_id in names}


# A plan version never changes once saved, so whether it has a step is known for good after one look.
_HAS_STEPS: dict[tuple[str, int], bool] = {}
_HAS_STEPS_LIMIT = 10_000


async def plan_refusal(session: AsyncSession, plan: PlanFacts) -> EnrollmentRefused | None:
    """Why nobody can be enrolled in `plan` now (inactive, no steps), or None."""
    if not plan.active:
        return EnrollmentRefused("plan_inactive", f"plan '{plan.name}' is inactive; activate it to enroll contacts")
    key = (plan.id, plan.current_version)
    if key not in _HAS_STEPS:
        version = await plan_version(session, plan.id, plan.current_version)
        if version is None:
            return EnrollmentRefused("plan_empty", f"plan '{plan.name}' has no steps yet")
        if len(_HAS_STEPS) >= _HAS_STEPS_LIMIT:
            _HAS_STEPS.clear()
        # The saved document was validated when saved: looking for a step is enough (no re-parse on every enroll).
        _HAS_STEPS[key] = any(day.get("steps") for day in version.definition.get("days", []))
    if not _HAS_STEPS[key]:
        return EnrollmentRefused("plan_empty", f"plan '{plan.name}' has no steps yet")
    return None


# The "enrolled" event's columns; its enrollment_id is the row's id.
_EVENT_COLUMNS = ("id", "team_id", "contact_id", "kind", "detail", "at", "plan_id", "idempotency_key")


@cache
def _insert_new(dialect: str) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id in the session's dialect: a contact already in the plan is skipped
    by the unique index on active rows, with no savepoint or error to unwind. Built once per dialect, its values bound
    at each call: every enrollment runs it, and building and keying it anew cost a good part of running it."""
    table = table_of(Enrollment)
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return dialect_insert(table).on_conflict_do_nothing().returning(table.c.id)


# The "enrolled" events: built once for the same reason, on the table (`table_of`): nothing reads them back here.
_ENROLLED_EVENTS = insert(table_of(TimelineEvent))


@cache
def _insert_one_with_event() -> Insert:
    """PostgreSQL, one contact: the row and its "enrolled" event in one statement (the row's insert as a
    data-modifying CTE), one round trip instead of two. The event is selected from the CTE's answer, so a contact
    already in the plan (the row skipped) gets no event, as with two statements. SQLite has no such CTE, and its
    statements cost no round trip to a server."""
    enrollments, events = table_of(Enrollment), table_of(TimelineEvent)
    row = (postgresql.insert(enrollments).values({name: bindparam(name) for name in NEW_ENROLLMENT_COLUMNS})
           .on_conflict_do_nothing().returning(enrollments.c.id).cte("enrolled_row"))
    event = select(*(bindparam(f"event_{name}", type_=events.c[name].type) for name in _EVENT_COLUMNS), row.c.id)
    return (insert(events).from_select([*_EVENT_COLUMNS, "enrollment_id"], event)
            .returning(events.c.enrollment_id))


async def _insert_rows_and_events(session: AsyncSession, rows: Sequence[NewEnrollment],
                                  events: Sequence[dict[str, Any]]) -> set[str]:
    """The rows not already in the plan and their events (`events[i]` is `rows[i]`'s); the ids of those inserted.

    The statements run on the session's connection, in its transaction: `Session.execute` adds 60 µs of ORM
    machinery to each, for statements on tables. What it would flush first (a contact the rows refer to, added in
    the same transaction) is flushed here."""
    values = [{name: getattr(row, name) for name in NEW_ENROLLMENT_COLUMNS} for row in rows]
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql" and len(rows) == 1:
        params = values[0] | {f"event_{name}": events[0][name] for name in _EVENT_COLUMNS}
        return set((await connection.execute(_insert_one_with_event(), params)).scalars())
    inserted = set((await connection.execute(_insert_new(dialect), values)).scalars())
    fresh = [event for event in events if event["enrollment_id"] in inserted]
    if fresh:
        await connection.execute(_ENROLLED_EVENTS, fresh)
    return inserted


async def record_enrollments(session: AsyncSession, plan: PlanFacts, enrollees: Sequence[Enrollee], *, source: str,
                             at: datetime, source_key: str | None = None) -> list[Recorded | Result]:
    """The rows and their "enrolled" timeline events for `enrollees` (distinct contacts of the plan's team), in the
    caller's transaction; one answer per enrollee, in order. Never commits."""
    refused = await plan_refusal(session, plan)
    if refused is not None:
        return [Result(plan.id, e.contact_id, refused.code, refused.message) for e in enrollees]
    rows = [NewEnrollment(id=new_id("en"), team_id=plan.team_id, plan_id=plan.id, contact_id=e.contact_id,
                          plan_version=plan.current_version, workflow_id=enrollment_workflow_id(plan.id, e.contact_id),
                          status="active", source=source, started_at=at, source_key=source_key) for e in enrollees]
    if not rows:
        return []
    events = [{"id": new_id("ev"), "team_id": plan.team_id, "contact_id": person.contact_id, "kind": "enrolled",
               "detail": f"{person.name or person.contact_id} was added to plan '{plan.name}' ({source})", "at": at,
               "plan_id": plan.id, "enrollment_id": row.id, "idempotency_key": f"{row.id}:enrolled"}
              for row, person in zip(rows, enrollees, strict=True)]
    inserted = await _insert_rows_and_events(session, rows, events)
    refused_ids = [row.contact_id for row in rows if row.id not in inserted]
    leaving = set(await session.scalars(select(Enrollment.contact_id).where(
        Enrollment.plan_id == plan.id, Enrollment.contact_id.in_(refused_ids), Enrollment.status == "active",
        Enrollment.removal_requested.is_not(None)))) if refused_ids else set()
    return [Recorded(row, plan, person.name) if row.id in inserted else
            Result(plan.id, person.contact_id, "already_enrolled", _already(person.name or person.contact_id,
                                                                            plan.name, person.contact_id in leaving),
                   leaving=person.contact_id in leaving)
            for row, person in zip(rows, enrollees, strict=True)]


def _already(who: str, plan_name: str, leaving: bool) -> str:
    """A contact in the plan now, or one whose enrollment is ending (removed, the plan deactivated) but has not
    ended yet: told apart, since the second can be enrolled again in a moment and the first cannot."""
    if leaving:
        return (f"{who} is still leaving plan '{plan_name}' (the enrollment is ending, and not ended yet); "
                "try again in a moment")
    return f"{who} is already in plan '{plan_name}'"


async def start_recorded(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str,
                         answers: Sequence[Recorded | Result], *, concurrency: int = START_CONCURRENCY) -> list[Result]:
    """Start the workflows of the committed rows among `answers`, at most `concurrency` at once; refusals pass
    through. One result per answer, in order. Every fresh row whose start failed is ended as `start_failed` (one
    transaction for all of them) before this returns."""
    gate = asyncio.Semaphore(concurrency)

    async def start(one: Recorded | Result) -> Result:
        if isinstance(one, Result):
            return one
        row = one.row
        async with gate:
            try:
                await start_workflow(client, task_queue, row, one.plan, one.name)
            except WorkflowAlreadyStartedError as err:
                # The previous enrollment's workflow is still writing its end: refuse rather than leave a row that
                # no workflow runs.
                return Result(row.plan_id, row.contact_id, "already_enrolled",
                              _already(one.name or row.contact_id, one.plan.name, leaving=True), error=err,
                              leaving=True)
            except Exception as err:  # noqa: BLE001 - whatever failed, the row must not stay active
                return Result(row.plan_id, row.contact_id, "start_failed",
                              f"could not start the enrollment: {err}", error=err)
        return Result(row.plan_id, row.contact_id, "enrolled", f"added to plan '{one.plan.name}'", row.id,
                      row.workflow_id)

    results = list(await asyncio.gather(*(start(one) for one in answers)))
    failed = [one.row.id for one, result in zip(answers, results, strict=True)
              if isinstance(one, Recorded) and one.fresh and result.error is not None]
    if failed:
        await _abandon(sessions, failed)
    return results


async def start_workflow(client: Client, task_queue: str, row: EnrollmentFacts, plan: PlanFacts,
                         contact_name: str) -> None:
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
                            enrolled_at=row.started_at, first_load_local=True),
            id=row.workflow_id, task_queue=task_queue, search_attributes=attributes,
            static_summary=f"{contact_name or row.contact_id} in {plan.name}",
            memo={ENROLLMENT_MEMO: row.id},
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        if row.source_key is None:
            raise
        # A retried add-to-plan step whose first attempt started the workflow: nothing more to do. The run under
        # that id may instead be the contact's earlier enrollment in the plan, writing its end: not ours.
        description = await client.get_workflow_handle(row.workflow_id).describe()
        if (await description.memo()).get(ENROLLMENT_MEMO) != row.id:
            raise


async def _abandon(sessions: async_sessionmaker[AsyncSession], enrollment_ids: Sequence[str]) -> None:
    """Enrollments whose workflow could not start must not stay `active` (they would block re-enrolling)."""
    async with session_scope(sessions) as session:
        # The key is released so a retried add-to-plan step enrolls afresh instead of finding this row.
        await session.execute(update(Enrollment).where(Enrollment.id.in_(enrollment_ids),
                                                       Enrollment.status == "active")
                              .values(status="removed", end_reason="start_failed", source_key=None))


async def request_removal(session: AsyncSession, reason: MarkedRemoval, *where: ColumnElement[bool]) -> None:
    """Mark the active enrollments matching `where` as being removed, in the caller's transaction, before their
    workflows are asked to end them (R-ENR-2, R-PLAN-8, R-RULE-5). A step deciding after this commit finds the mark
    (`activities.messaging.checks.enrollment_ended`) and sends nothing; on PostgreSQL the update waits for a step
    deciding now, which has locked the row, so that step's send either committed first or sees the mark. A removal
    already asked for keeps its reason. Never commits."""
    await session.execute(update(Enrollment).where(*where, Enrollment.status == "active",
                                                   Enrollment.removal_requested.is_(None))
                          .values(removal_requested=reason).execution_options(synchronize_session=False))


async def enroll(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str, *, plan_id: str,
                 contact_id: str, source: str, at: datetime, source_key: str | None = None) -> Enrolled:
    """One contact in one plan, in a transaction of its own, then its workflow; raises `EnrollmentRefused` (or the
    start's error). With `source_key`, a repeat call returns the first call's enrollment."""
    async with session_scope(sessions) as session:
        plan = await session.get(Plan, plan_id)
        contact = await session.get(Contact, contact_id)
        if plan is None or contact is None or plan.team_id != contact.team_id:
            raise EnrollmentRefused("not_found", f"plan {plan_id} or contact {contact_id} not found")
        earlier = await session.scalar(select(Enrollment).where(Enrollment.source_key == source_key)) \
            if source_key is not None else None
        if earlier is not None:
            answer: Recorded | Result = Recorded(earlier, plan, enrollee(contact).name, fresh=False)
        else:
            [answer] = await record_enrollments(session, plan, [enrollee(contact)], source=source, at=at,
                                                source_key=source_key)
    return await start_one(sessions, client, task_queue, answer)


async def start_one(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str,
                    answer: Recorded | Result) -> Enrolled:
    """Start one committed row's workflow, raising what refused or failed it, as a single enrollment answers."""
    [result] = await start_recorded(sessions, client, task_queue, [answer])
    if result.error is not None and result.outcome != "already_enrolled":
        raise result.error
    if result.enrollment_id is None or isinstance(answer, Result):
        raise EnrollmentRefused(result.outcome, result.detail, leaving=result.leaving) from result.error
    return Enrolled(enrollment_id=result.enrollment_id, workflow_id=answer.row.workflow_id,
                    plan_name=answer.plan.name)
