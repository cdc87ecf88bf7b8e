"""Saving plans: every save is a new version (R-PLAN-9 keeps them all); only a valid plan is saved."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Plan, PlanVersion
from domain.ids import new_id
from domain.plan import PlanDefinition
from domain.validation import ensure_valid, with_step_ids


def _step_id() -> str:
    return new_id("st")


async def create_plan(session: AsyncSession, *, team_id: str, owner_agent_id: str | None,
                      definition: PlanDefinition) -> Plan:
    """A new plan at version 1. Raises `PlanInvalid` naming each broken rule."""
    definition = ensure_valid(with_step_ids(definition, _step_id))
    plan = Plan(id=new_id("pl"), team_id=team_id, owner_agent_id=None if definition.team_plan else owner_agent_id,
                team_plan=definition.team_plan, name=definition.name, active=True, current_version=1)
    session.add(plan)
    await session.flush()
    session.add(PlanVersion(id=new_id("pv"), plan_id=plan.id, version=1,
                            definition=definition.model_dump(mode="json")))
    await session.flush()
    return plan


async def save_version(session: AsyncSession, plan: Plan, definition: PlanDefinition) -> PlanVersion:
    """The next version of `plan`; steps keep their ids so enrolled contacts follow by id."""
    definition = ensure_valid(with_step_ids(definition, _step_id))
    plan.current_version += 1
    plan.name = definition.name
    plan.updated_at = utcnow()
    version = PlanVersion(id=new_id("pv"), plan_id=plan.id, version=plan.current_version,
                          definition=definition.model_dump(mode="json"))
    session.add(version)
    await session.flush()
    return version
