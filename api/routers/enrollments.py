"""Enrollments (enroll, progress, remove), tasks (list, complete) and messages (list).

The database says what an enrollment *is* (status, version, history); the running workflow says where it is
*now* (next step and when). Anything that ends an enrollment goes through the workflow, which writes the end to the
row and the timeline; a removal is first marked on the row, where every step's deciding transaction looks, so it
can never race a step that is about to fire.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, cast

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError, RPCStatusCode

from api.access import enrolling, sees_plan, team_record, visible_plan
from api.deps import CurrentAgent, SessionDep, StateDep, TemporalDep, can_manage_team
from api.errors import Conflict, Forbidden, NotFound
from api.paging import PageDep
from api.plan_privacy import hide_unseen_plans
from api.schemas.enrollments import (
    BatchEnrollment,
    EnrollmentBatch,
    EnrollmentCreate,
    EnrollmentCreated,
    EnrollmentPublic,
    MessagePublic,
    StepDone,
    StepOutcome,
    TaskComplete,
    TaskPublic,
)
from db.models import Agent, Contact, Enrollment, Message, Plan, Task, TimelineEvent
from db.queries import write_timeline
from domain.merge import full_name
from domain.plan import describe_step
from services.enrollments import (
    Result,
    plan_refusal,
    record_enrollments,
    request_removal,
    start_one,
    start_recorded,
    team_enrollees,
)
from services.progress import planned_first_step
from services.tasks import TaskStatus, complete_task, list_tasks
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import EnrollmentProgress, EnrollmentStatus, RemoveRequest

router = APIRouter()

# A progress query needs a worker to answer; without one the server would hold the request far longer than a
# person waits for a page. Past this, the answer is the database part with `live: false`.
QUERY_TIMEOUT = timedelta(seconds=5)
# A removal waits this long for the workflow to confirm it; past it, the API ends the row itself.
REMOVE_TIMEOUT = timedelta(seconds=10)
STEP_EVENTS: dict[str, StepOutcome] = {"step_executed": "executed", "step_skipped": "skipped", "step_failed": "failed"}


async def _enrollment(session: AsyncSession, agent: Agent, enrollment_id: str) -> Enrollment:
    row = await session.get(Enrollment, enrollment_id)
    plan = await session.get(Plan, row.plan_id) if row is not None and row.team_id == agent.team_id else None
    if row is None or plan is None or not sees_plan(agent, plan):
        raise NotFound("enrollment", enrollment_id)
    return row


@router.post("/plans/{plan_id}/enrollments", status_code=status.HTTP_201_CREATED, response_model=EnrollmentCreated,
             tags=["enrollments"])
async def create_enrollment(plan_id: str, body: EnrollmentCreate, agent: CurrentAgent, session: SessionDep,
                            state: StateDep) -> EnrollmentCreated:
    """R-ENR-1: enroll by hand. 409 when already enrolled, or the plan is inactive or has no steps."""
    # The app's state whole (sessions, client, settings, clock), not a dependency for each: FastAPI resolves every
    # dependency on every request, and on the busiest endpoint four of them cost more than reading four fields.
    plan, contact = await enrolling(session, agent, plan_id, body.contact_id)
    # One transaction, the caller's key lookup included: the row is committed before its workflow starts.
    [answer] = await record_enrollments(session, plan, [contact], source="manual", at=await state.clock())
    await session.commit()
    enrolled = await start_one(state.sessions, state.temporal, state.settings.temporal_task_queue, answer)
    return EnrollmentCreated(id=enrolled.enrollment_id, workflow_id=enrolled.workflow_id)


@router.post("/plans/{plan_id}/enrollments/batch", response_model=list[BatchEnrollment], tags=["enrollments"])
async def create_enrollments(plan_id: str, body: EnrollmentBatch, agent: CurrentAgent, session: SessionDep,
                             state: StateDep) -> list[BatchEnrollment]:
    """R-ENR-1 for up to 1,000 contacts at once: one outcome per entry, in order. The rows are written in one
    transaction, then the workflows start together. 404 for a plan you cannot see, 409 when it is inactive or has
    no steps (nobody is enrolled), 422 for more than 1,000 contacts."""
    plan = await visible_plan(session, agent, plan_id)
    refused = await plan_refusal(session, plan)
    if refused is not None:
        raise refused
    found = await team_enrollees(session, agent.team_id, body.contact_ids)
    answers = await record_enrollments(session, plan, list(found.values()), source="manual", at=await state.clock())
    await session.commit()
    started = await start_recorded(state.sessions, state.temporal, state.settings.temporal_task_queue, answers)
    results = {r.contact_id: r for r in started}
    return _per_entry(body.contact_ids, results)


def _per_entry(contact_ids: Sequence[str], results: Mapping[str, Result]) -> list[BatchEnrollment]:
    first: dict[str, int] = {}
    answered = []
    for index, contact_id in enumerate(contact_ids):
        result = results.get(contact_id)
        if contact_id in first:
            answered.append(BatchEnrollment(contact_id=contact_id, outcome="duplicate",
                                            detail=f"listed earlier in this batch (entry {first[contact_id]})"))
        elif result is None:
            answered.append(BatchEnrollment(contact_id=contact_id, outcome="not_found",
                                            detail=f"contact {contact_id} not found"))
        else:
            answered.append(BatchEnrollment(contact_id=contact_id, id=result.enrollment_id, outcome=result.outcome,
                                            detail=result.detail))
        first.setdefault(contact_id, index)
    return answered


@router.get("/enrollments/{enrollment_id}", response_model=EnrollmentPublic, tags=["enrollments"])
async def get_enrollment(enrollment_id: str, agent: CurrentAgent, session: SessionDep,
                         client: TemporalDep) -> EnrollmentPublic:
    """R-ENR-4: progress. An ended enrollment is answered from the database alone: its workflow may be gone."""
    row = await _enrollment(session, agent, enrollment_id)
    events = await _step_events(session, row)
    await session.commit()  # do not hold a database transaction open across a call to Temporal
    live: EnrollmentProgress | None = None
    if row.status == "active":
        try:
            live = await client.get_workflow_handle_for(EnrollmentWorkflow.run, row.workflow_id).query(
                EnrollmentWorkflow.progress, rpc_timeout=QUERY_TIMEOUT)
        except TemporalError:
            live = None  # no worker, or the workflow was terminated by hand: the stored part is still true
    public = _public(row, events, live)
    if row.status == "active" and public.next_step_id is None and not events:
        # Just enrolled: the workflow has not reached its first step yet (or no worker runs), but the plan and
        # the schedule already say what it is and when (R-ENR-4).
        planned = await planned_first_step(session, row)
        await session.commit()
        if planned is not None:
            first, parties = planned
            public = public.model_copy(update={
                "repeat": 0, "day": first.day_number, "next_step_id": first.step_id,
                "next_step_kind": first.step.kind,
                "next_step_label": describe_step(first.step, parties.merge_values(first.step)),
                "next_fire_at": first.fire_at})
    return public


@router.delete("/enrollments/{enrollment_id}", response_model=EnrollmentPublic, tags=["enrollments"])
async def remove_enrollment(enrollment_id: str, agent: CurrentAgent, session: SessionDep,
                            client: TemporalDep) -> EnrollmentPublic:
    """R-ENR-2: end the enrollment now and answer once it has ended: the body (and any `GET` after it) reads
    `removed`. The removal takes effect in the database first (`request_removal`), so a send that has not yet
    committed `sending` sends nothing, however far it got; then the workflow takes it as an update, ends the step in
    progress and writes the row and the timeline before this answers. When no worker answers in time, the row is
    ended here and the workflow is told durably: every attempt to send re-checks the row, so nothing goes out
    meanwhile."""
    row = await _enrollment(session, agent, enrollment_id)
    if row.status != "active":
        raise Conflict(f"enrollment {row.id} already ended ({row.end_reason or row.status})")
    await request_removal(session, "removed", Enrollment.id == row.id)
    await session.commit()
    handle = client.get_workflow_handle_for(EnrollmentWorkflow.run, row.workflow_id)
    by = full_name(agent.first_name, agent.last_name)
    request = RemoveRequest(reason="removed", detail=f"by {by}")
    try:
        await handle.execute_update(EnrollmentWorkflow.remove_now, request, rpc_timeout=REMOVE_TIMEOUT)
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        await _end_here(session, row.id, agent, "its worker did not answer in time; it stops when it resumes")
        await handle.signal(EnrollmentWorkflow.remove, request)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        await _end_here(session, row.id, agent, "its workflow had already stopped")
    ended = await session.get(Enrollment, enrollment_id, populate_existing=True)
    assert ended is not None
    return _public(ended, await _step_events(session, ended), None)


async def _step_events(session: AsyncSession, row: Enrollment) -> list[TimelineEvent]:
    return list((await session.scalars(
        select(TimelineEvent).where(TimelineEvent.enrollment_id == row.id, TimelineEvent.kind.in_(list(STEP_EVENTS)))
        .order_by(TimelineEvent.at, TimelineEvent.id))).all())


def _public(row: Enrollment, events: list[TimelineEvent], live: EnrollmentProgress | None) -> EnrollmentPublic:
    done = [StepDone(step_id=e.step_id, outcome=STEP_EVENTS[e.kind], at=e.at, detail=e.detail) for e in events]
    return EnrollmentPublic(
        id=row.id, plan_id=row.plan_id, contact_id=row.contact_id, status=cast(EnrollmentStatus, row.status),
        plan_version=live.plan_version if live else row.plan_version,
        repeat=live.repeat if live else None, day=live.day if live else None,
        next_step_id=live.next_step_id if live else None, next_step_kind=live.next_step_kind if live else None,
        next_step_label=live.next_step_label if live else None, next_fire_at=live.next_fire_at if live else None,
        steps_done=done, steps_done_total=len(done), started_at=row.started_at, ended_at=row.ended_at,
        end_reason=row.end_reason, live=live is not None)


async def _end_here(session: AsyncSession, enrollment_id: str, agent: Agent, why: str) -> None:
    """End the row without the workflow's help. If the workflow ended it meanwhile (finished, say), that stands;
    otherwise the row must not stay `active`, which would block re-enrolling for ever."""
    row = await session.get(Enrollment, enrollment_id, populate_existing=True)
    assert row is not None
    if row.status != "active":
        if row.end_reason != "removed":
            raise Conflict(f"enrollment {row.id} already ended ({row.end_reason or row.status})")
        return
    now = datetime.now(UTC)
    row.status, row.ended_at, row.end_reason = "removed", now, "removed"
    by = full_name(agent.first_name, agent.last_name)
    await write_timeline(session, team_id=row.team_id, contact_id=row.contact_id, kind="removed", at=now,
                         detail=f"Removed from the plan by {by} ({why})", idempotency_key=f"{row.id}:end",
                         plan_id=row.plan_id, enrollment_id=row.id, data={"reason": "removed"})
    await session.commit()


@router.get("/tasks", response_model=list[TaskPublic], tags=["tasks"])
async def get_tasks(agent: CurrentAgent, session: SessionDep,
                    task_status: Annotated[TaskStatus, Query(alias="status")] = "open",
                    assignee_id: str | None = None, contact_id: str | None = None, *, page: PageDep,
                    request: Request, response: Response) -> list[TaskPublic]:
    """The caller's own open tasks by default. Another agent's list needs the Rainmaker or an enhanced/unlimited
    member (the people who run the team, R-TEAM-1); a basic member gets 403. A task of a personal plan that is not
    the caller's is shown without its plan (R-RULE-1)."""
    assignee = assignee_id or agent.id
    if assignee != agent.id:
        await team_record(session, Agent, assignee, agent, "agent")
        if not can_manage_team(agent):
            raise Forbidden("only the Rainmaker or an enhanced/unlimited member sees another agent's tasks")
    if contact_id is not None:
        await team_record(session, Contact, contact_id, agent, "contact")
    tasks = await list_tasks(session, team_id=agent.team_id, assignee_id=assignee, status=task_status,
                             contact_id=contact_id, limit=page.fetch, offset=page.offset)
    return await hide_unseen_plans(session, agent, [TaskPublic.model_validate(task)
                                                    for task in page.cut(tasks, request, response)])


@router.post("/tasks/{task_id}/complete", response_model=TaskPublic, tags=["tasks"])
async def complete(task_id: str, agent: CurrentAgent, session: SessionDep,
                   body: TaskComplete | None = None) -> TaskPublic:
    """R-CALL-1: completing a call task logs the call, with its notes, on the contact's timeline. The assignee
    completes their task; the Rainmaker or an enhanced/unlimited member may complete it for them."""
    task = await team_record(session, Task, task_id, agent, "task")
    if task.assignee_id != agent.id and not can_manage_team(agent):
        raise Forbidden("only the task's assignee, the Rainmaker or an enhanced/unlimited member completes it")
    notes = body.notes if body is not None else None
    if task.status == "done" or not await complete_task(session, task, by=agent, notes=notes, at=datetime.now(UTC)):
        raise Conflict(f"task {task_id} is already done")
    [public] = await hide_unseen_plans(session, agent, [TaskPublic.model_validate(task)])
    return public


@router.get("/messages", response_model=list[MessagePublic], tags=["messages"])
async def get_messages(agent: CurrentAgent, session: SessionDep, page: PageDep, request: Request,
                       response: Response, contact_id: str | None = None) -> list[MessagePublic]:
    """Outbound and inbound texts and emails of the team, newest first; `contact_id` narrows to one contact. A
    message sent by a plan the caller cannot see is shown without that plan (R-RULE-1)."""
    query = select(Message).where(Message.team_id == agent.team_id)
    if contact_id is not None:
        await team_record(session, Contact, contact_id, agent, "contact")
        query = query.where(Message.contact_id == contact_id)
    query = query.order_by(Message.created_at.desc(), Message.id.desc()).offset(page.offset).limit(page.fetch)
    rows = page.cut((await session.scalars(query)).all(), request, response)
    return await hide_unseen_plans(session, agent, [MessagePublic.model_validate(m) for m in rows])
