"""Task, call and text-task steps (R-TASK-1, R-CALL-1, R-TXT-1): a task for the designated agent."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messaging.checks import enrollment_ended
from activities.parties import Parties, load_parties, load_step_rows
from activities.step_events import step_event, step_failed, step_skipped
from db.base import table_of
from db.models import Task
from db.session import session_scope
from domain.ids import new_id
from domain.merge import render
from domain.plan import CallStep, TaskStep, TextStep, text_for_repeat
from domain.texting import by_hand_blocked
from domain.validation import Violation, task_field_problems
from domain.windows import at_local, local_date, zone
from workflows.types import StepInput, StepOutcome

ALL_DAY = time(23, 59)
_TASK_INSERT = insert(table_of(Task))


def due_at(created: datetime, due_in_days: int, due_time: str | None, time_zone: str) -> datetime:
    """Due `due_in_days` calendar days after creation at `due_time` (default 23:59, "all day") account time.

    R-TASK-1: never due before it is created. A due time already past when a same-day task appears (due 09:00,
    created at 14:00 because the contact was enrolled then) makes it due at the end of that day instead: still
    "today", as the plan's author asked, and not overdue at birth (docs/decisions.md).
    """
    tz = zone(time_zone)
    clock = ALL_DAY
    if due_time:
        hours, minutes = due_time.split(":")
        clock = time(int(hours), int(minutes))
    day = local_date(created, tz) + timedelta(days=due_in_days)
    due = at_local(day, clock, tz)
    if due < created:
        due = max(at_local(day, ALL_DAY, tz), created)
    return due


async def create_task_for(session: AsyncSession, step: StepInput, parties: Parties, note: str = "") -> StepOutcome:
    """Create the step's task (the caller found none under the step's idempotency key) and write it to the
    timeline."""
    spec = step.step
    assert isinstance(spec, TaskStep | CallStep | TextStep)
    values = parties.merge_values()
    kind = "call" if isinstance(spec, CallStep) else "text" if isinstance(spec, TextStep) else "task"
    name = render(spec.name, values) or ("Text " + parties.contact_name if kind == "text" else spec.name)
    description = render(spec.description, values) or None
    if isinstance(spec, TextStep) and spec.mode == "automated":
        # R-TXT-5's stand-in for an automated text: the agent texts by hand, so the task says what to send.
        description = render(text_for_repeat(spec, step.repeat), values) or description
    task_id = new_id("tk")
    # A plain insert, not the session's unit of work: nothing reads the new row in this transaction, and flushing
    # an object costs several times the statement itself (issue 11, docs/performance.md).
    await session.execute(_TASK_INSERT, [{
        "id": task_id, "team_id": step.team_id, "contact_id": step.contact_id, "enrollment_id": step.enrollment_id,
        "plan_id": step.plan_id, "step_id": spec.id, "kind": kind, "name": name, "description": description,
        "link": spec.link or None, "priority": spec.priority.value, "contact_task": spec.contact_task,
        "assignee_id": parties.agent.id,
        "due_at": due_at(step.scheduled_for, spec.due_in_days, spec.due_time, step.time_zone),
        "created_at": step.scheduled_for, "idempotency_key": step.idempotency_key}])
    label = {"call": "Call task", "text": "Text task", "task": "Task"}[kind]
    detail = f"{label} '{name}' created for {parties.agent_name}{note}"
    await step_event(session, step, "step_executed", detail, {"task_id": task_id})
    return StepOutcome(status="executed", detail=detail, record_id=task_id)


class TaskActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn
    async def create_task(self, step: StepInput) -> StepOutcome:
        refusal: ApplicationError | None = None
        async with session_scope(self._sessions) as session:
            # Created once, keyed by the step's idempotency key: a retry finds the first attempt's task.
            existing = await load_step_rows(session, step, Task)
            if existing is not None:
                return StepOutcome(status="executed", detail=f"task '{existing.name}' already created",
                                   record_id=existing.id)
            left = await enrollment_ended(session, step)
            if left is not None:
                return await step_skipped(session, step, f"Task not created: {left.why}", ends=left.ends)
            spec = step.step
            assert isinstance(spec, TaskStep | CallStep | TextStep)
            problems = task_field_problems(spec)
            if problems:
                refusal = await _refuse(session, step, problems)
            else:
                parties = await load_parties(session, step)
                blocked = by_hand_blocked(spec, parties.contact)
                if blocked is not None:  # read at the attempt, like a send's opt-out check (R-TXT-4)
                    return await step_skipped(session, step, blocked)
                # An automated text that reaches here is R-TXT-5's fallback: the designated sender has no Twilio.
                note = (f" ({parties.agent_name} has no Twilio number)"
                        if isinstance(spec, TextStep) and spec.mode == "automated" else "")
                return await create_task_for(session, step, parties, note=note)
        raise refusal  # only now: the failure's timeline event is committed


async def _refuse(session: AsyncSession, step: StepInput, problems: list[Violation]) -> ApplicationError:
    """A step saved before its task fields were checked (an automated text's were not until R-TXT-5's fallback was
    found to use them) that breaks them: failed on the timeline with the reasons, and not retried, since no attempt
    can read a due time of "99:99" or make a `javascript:` link safe; the plan moves on."""
    spec = step.step
    label = "Text task" if isinstance(spec, TextStep) else "Call task" if isinstance(spec, CallStep) else "Task"
    detail = (f"{label} not created: the step was saved with " + "; ".join(map(str, problems))
              + "; correct the step in the plan and save it")
    return await step_failed(session, step, "StepInvalid", detail)
