"""Who may see and change a plan — one rule for every router (plans, triggers, enrollments).

Team plans are every team member's to see and use; changing them needs the Rainmaker or an enhanced/unlimited
member (R-TEAM-1). A personal plan, and everything hanging off it, exists only for its owner: anyone else gets
404, exactly as for another team's plan, so its existence does not leak.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import can_manage_team
from api.errors import Forbidden, NotFound
from db.models import Agent, Plan


class _TeamOwned(Protocol):
    @property
    def team_id(self) -> str: ...


Record = TypeVar("Record", bound=_TeamOwned)


async def team_record(session: AsyncSession, model: type[Record], ident: str, agent: Agent, what: str) -> Record:
    """The caller's team's `model` row by id; missing or another team's is the same 404, so an id reveals nothing."""
    record = await session.get(model, ident)
    if record is None or record.team_id != agent.team_id:
        raise NotFound(what, ident)
    return record


TEAM_PLAN_ROLE = "team plans are created and edited by the Rainmaker or enhanced/unlimited members (R-TEAM-1)"


def sees_plan(agent: Agent, plan: Plan) -> bool:
    return plan.team_id == agent.team_id and (plan.team_plan or plan.owner_agent_id == agent.id)


async def visible_plan(session: AsyncSession, agent: Agent, plan_id: str) -> Plan:
    plan = await session.get(Plan, plan_id)
    if plan is None or not sees_plan(agent, plan):
        raise NotFound("plan", plan_id)
    return plan


async def editable_plan(session: AsyncSession, agent: Agent, plan_id: str) -> Plan:
    plan = await visible_plan(session, agent, plan_id)
    if plan.team_plan and not can_manage_team(agent):
        raise Forbidden(TEAM_PLAN_ROLE)
    return plan
