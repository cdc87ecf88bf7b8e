"""Who may see and change a plan — one rule for every router (plans, triggers, enrollments).

Team plans are every team member's to see and use; changing them needs the Rainmaker or an enhanced/unlimited
member (R-TEAM-1). A personal plan, and everything hanging off it, exists only for its owner: anyone else gets
404, exactly as for another team's plan, so its existence does not leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Protocol, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import can_manage_team
from api.errors import Forbidden, Invalid, NotFound
from db.models import Agent, Contact, Plan
from domain.merge import full_name
from services.enrollment_records import PlanFacts, PlanRecord
from services.enrollments import Enrollee


class _TeamOwned(Protocol):
    @property
    def team_id(self) -> str: ...


Record = TypeVar("Record", bound=_TeamOwned)


async def team_agent(session: AsyncSession, agent: Agent, agent_id: str, field: str) -> Agent:
    """The agent a body names (a contact's assignee, a lead's owner, a pool lead's new owner), of the caller's team;
    another team's or none is a 422 naming `field` (docs/rules.md#team_agent), as if it did not exist."""
    named = await session.get(Agent, agent_id)
    if named is None or named.team_id != agent.team_id:
        raise Invalid(field, "team_agent", f"agent {agent_id} is not an agent of your team")
    return named


async def team_record(session: AsyncSession, model: type[Record], ident: str, agent: Agent, what: str) -> Record:
    """The caller's team's `model` row by id; missing or another team's is the same 404, so an id reveals nothing."""
    record = await session.get(model, ident)
    if record is None or record.team_id != agent.team_id:
        raise NotFound(what, ident)
    return record


TEAM_PLAN_ROLE = "team plans are created and edited by the Rainmaker or enhanced/unlimited members (R-TEAM-1)"


def sees_plan(agent: Agent, plan: PlanFacts) -> bool:
    return plan.team_id == agent.team_id and (plan.team_plan or plan.owner_agent_id == agent.id)


async def unseen_plans(session: AsyncSession, agent: Agent, plan_ids: Iterable[str | None]) -> frozenset[str]:
    """Which of `plan_ids` the caller may not see, by `sees_plan`, for the answers that mention plans in passing (a
    contact's enrollments, timeline, tasks and messages): those must not name them (R-RULE-1), or a member would
    learn of the Rainmaker's personal plan that a tag put their contact in. An id that no longer names a plan (it
    was deleted) is not hidden: whose plan it was went with the row, and the contact's history (what was sent, which
    tasks were made) stays readable to the team, as `delete_plan` promises, rather than turning into "a plan you
    cannot see" for its own owner too."""
    wanted = {plan_id for plan_id in plan_ids if plan_id is not None}
    if not wanted:
        return frozenset()
    rows = await session.execute(select(*_PLAN_COLUMNS).where(Plan.id.in_(wanted)))
    return frozenset(plan.id for row in rows if not sees_plan(agent, plan := PlanRecord(*row)))


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


# Built once, its values bound per request. Plain columns, not ORM entities: entities (loaded, kept in the session,
# looked up again, expired at commit) cost the busiest endpoint 0.15-0.3 ms of its 3.4-4 ms of CPU (issue 11).
# The plan's columns are `PlanRecord`'s fields, in its order, so a row's head builds one.
_PLAN_COLUMNS = [getattr(Plan, field.name) for field in fields(PlanRecord)]
_PLAN_AND_CONTACT = (select(*_PLAN_COLUMNS, Contact.team_id, Contact.first_name, Contact.last_name)
                     .outerjoin(Contact, Contact.id == bindparam("contact_id"))
                     .where(Plan.id == bindparam("plan_id")))


async def enrolling(session: AsyncSession, agent: Agent, plan_id: str, contact_id: str) -> tuple[PlanRecord, Enrollee]:
    """A plan the caller sees and a contact of the caller's team, in one round trip: 404 for the plan first, then
    for the contact, as `visible_plan` and `team_record` would answer."""
    # On the session's connection, in its transaction: the request's first work after the key lookup, so there is
    # nothing for `Session.execute` to flush, and its ORM machinery would cost 60 µs.
    connection = await session.connection()
    row = (await connection.execute(_PLAN_AND_CONTACT, {"plan_id": plan_id, "contact_id": contact_id})).one_or_none()
    if row is None or not sees_plan(agent, plan := PlanRecord(*row[:len(_PLAN_COLUMNS)])):
        raise NotFound("plan", plan_id)
    contact_team, first_name, last_name = row[len(_PLAN_COLUMNS):]
    if contact_team != agent.team_id:  # no such contact (the outer join found none), or another team's
        raise NotFound("contact", contact_id)
    return plan, Enrollee(contact_id, full_name(first_name, last_name))
