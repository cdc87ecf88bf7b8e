"""What an answer about a contact shows of a plan the caller cannot see (R-RULE-1: "an answer never names a plan
the caller cannot see").

A tag can put a member's contact in the Rainmaker's personal plan (its trigger fires for contacts assigned to the
Rainmaker), and that plan exists only for its owner: `GET /plans/{id}` and `GET /enrollments/{id}` answer 404 to
anyone else. The contact's own records still tell of it, so they are shown without the plan: timeline events keep
their kind and time, but lose the plan, step and enrollment ids and read as "… a plan you cannot see", since the
detail quotes the plan's name and steps; tasks and messages keep their content (they are the team's work and the
contact's correspondence) and lose the same three ids. Who sees which plan is `api.access.unseen_plans`, which
asks `sees_plan`, the one rule every router uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from api.access import unseen_plans
from api.schemas.contacts import TimelineEventPublic
from api.schemas.enrollments import MessagePublic, TaskPublic
from db.models import Agent

UNSEEN = "a plan you cannot see"
# What a timeline event of an unseen plan says instead of its detail, which names the plan or quotes its steps.
_UNSEEN_EVENTS = {
    "enrolled": f"Added to {UNSEEN}",
    "step_executed": f"A step of {UNSEEN} ran",
    "step_skipped": f"A step of {UNSEEN} was skipped",
    "step_failed": f"A step of {UNSEEN} failed",
    "completed": f"Finished {UNSEEN}",
    "removed": f"Left {UNSEEN}",
    "call_logged": f"A call for {UNSEEN} was logged",
    "task_completed": f"A task of {UNSEEN} was completed",
}

PlanLinked = TypeVar("PlanLinked", TimelineEventPublic, TaskPublic, MessagePublic)


async def hide_unseen_plans(session: AsyncSession, agent: Agent, items: Sequence[PlanLinked]) -> list[PlanLinked]:
    """`items` in their order, those of a plan the caller cannot see without its plan, step and enrollment ids (a
    timeline event's detail neutral too). Nothing is left out, so a page keeps its length and its next link."""
    unseen = await unseen_plans(session, agent, (item.plan_id for item in items))
    return [item.model_copy(update=_without_plan(item)) if item.plan_id in unseen else item for item in items]


def _without_plan(item: TimelineEventPublic | TaskPublic | MessagePublic) -> dict[str, str | None]:
    hidden: dict[str, str | None] = {"plan_id": None, "step_id": None, "enrollment_id": None}
    if isinstance(item, TimelineEventPublic):
        hidden["detail"] = _UNSEEN_EVENTS.get(item.kind, f"An event of {UNSEEN}")
    return hidden
