"""People working their tasks: listing them and completing them (R-TASK-1, R-CALL-1).

Tasks are created by plan steps (`activities.tasks`); here they are read and closed. Completing writes the
contact's timeline in the same transaction, so a completed call always has its "call logged" activity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agent, Task
from db.queries import write_timeline
from domain.merge import full_name

TaskStatus = Literal["open", "done"]


async def list_tasks(session: AsyncSession, *, team_id: str, assignee_id: str, status: TaskStatus,
                     contact_id: str | None = None, limit: int = 100, offset: int = 0) -> list[Task]:
    """Open tasks soonest due first (a to-do list); done tasks most recently completed first (a log)."""
    query = select(Task).where(Task.team_id == team_id, Task.assignee_id == assignee_id, Task.status == status)
    if contact_id is not None:
        query = query.where(Task.contact_id == contact_id)
    order = (Task.due_at.asc(), Task.id.asc()) if status == "open" else (Task.completed_at.desc(), Task.id.desc())
    return list((await session.scalars(query.order_by(*order).offset(offset).limit(limit))).all())


async def complete_task(session: AsyncSession, task: Task, *, by: Agent, notes: str | None, at: datetime) -> bool:
    """Mark `task` done with `notes` and write it to the contact's timeline. False when it was already done.

    The status is switched with a conditional UPDATE rather than read-then-write, so two people completing the
    same task at once give one completion and one refusal, never two "call logged" activities.
    """
    notes = (notes or "").strip() or None
    result = cast(CursorResult[Any], await session.execute(
        update(Task).where(Task.id == task.id, Task.status == "open")
        .values(status="done", completed_at=at, notes=notes)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        return False
    task.status, task.completed_at, task.notes = "done", at, notes
    who = full_name(by.first_name, by.last_name)
    if task.kind == "call":
        # R-CALL-1: the call logged activity carries the notes themselves, not only a pointer to the task.
        kind, detail = "call_logged", f"Call logged by {who}" + (f": {notes}" if notes else " (no notes)")
    else:
        label = "Text task" if task.kind == "text" else "Task"
        kind, detail = "task_completed", f"{label} '{task.name}' completed by {who}" + (f": {notes}" if notes else "")
    await write_timeline(session, team_id=task.team_id, contact_id=task.contact_id, kind=kind, detail=detail, at=at,
                         idempotency_key=f"{task.id}:completed", plan_id=task.plan_id, step_id=task.step_id,
                         enrollment_id=task.enrollment_id,
                         data={"task_id": task.id, "agent_id": by.id, "notes": notes})
    return True
