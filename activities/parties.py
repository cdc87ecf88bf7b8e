"""Who a step involves: the contact, the agent whose credits it uses (R-TEAM-3) and the plan's team; and the rows an
attempt of a step reads first, in one query."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.exceptions import ApplicationError

from db.models import Agent, Contact, Enrollment, Message, Task, Team
from db.queries import rainmaker_of, write_timeline
from domain.merge import Person, full_name, merge_values
from domain.plan import describe_step
from domain.team import TeamDefaults, designation_for
from workflows.types import StepInput


@dataclass(frozen=True)
class Parties:
    contact: Contact
    agent: Agent
    team: Team

    def merge_values(self) -> dict[str, str]:
        return merge_values(Person.of(self.contact), Person.of(self.agent))

    @property
    def contact_name(self) -> str:
        return full_name(self.contact.first_name, self.contact.last_name)

    @property
    def agent_name(self) -> str:
        return full_name(self.agent.first_name, self.agent.last_name)


Record = TypeVar("Record", Task, Message)


async def load_step_rows(session: AsyncSession, step: StepInput, record: type[Record]) -> Record | None:
    """The step's record from an earlier attempt (its task or message, by the step's idempotency key), or None; with
    it, in the same query, the rows each step re-reads (contact, team, the plan owner's agent, the enrollment).

    Every step of an enrollment, for as long as it runs, reads them afresh, and on SQLite each round trip costs more
    than its rows. Loaded here and held in `session.info`, they are what the `session.get` calls of `load_parties` and
    of the checks (`enrollment_ended`) find in the session's identity map. Nothing is decided here: every check still
    reads the rows as they are now, in this transaction, and a row missing here is looked up (and reported) where it
    is needed, as before.
    """
    owner = step.agent_id if not step.team_plan else None  # a team plan's sender is decided in `load_parties`
    values = {"key": step.idempotency_key, "team_id": step.team_id, "enrollment_id": step.enrollment_id,
              "contact_id": step.contact_id, "agent_id": owner}
    row = (await session.execute(_step_rows_query(record, owner is not None), values)).first()
    # The identity map holds rows only while something else refers to them.
    session.info["step_rows"] = row
    if row is None:  # the contact is gone (reported by `load_parties`); the record may still be there
        return await session.scalar(select(record).where(record.idempotency_key == step.idempotency_key))
    found: Record | None = row[0]
    return found


@cache
def _step_rows_query(record: type[Task] | type[Message], with_owner: bool) -> Select[Any]:
    """Built once per shape, its values bound at each call: building and keying a five-table select anew costs a good
    part of what running it does."""
    entities: list[Any] = [record, Contact, Team, Enrollment] + ([Agent] if with_owner else [])
    query = (select(*entities).select_from(Contact)
             .outerjoin(record, record.idempotency_key == bindparam("key"))
             .outerjoin(Team, Team.id == bindparam("team_id"))
             .outerjoin(Enrollment, Enrollment.id == bindparam("enrollment_id"))
             .where(Contact.id == bindparam("contact_id")))
    return query.outerjoin(Agent, Agent.id == bindparam("agent_id")) if with_owner else query


async def load_parties(session: AsyncSession, step: StepInput) -> Parties:
    contact = await session.get(Contact, step.contact_id)
    team = await session.get(Team, step.team_id)
    if contact is None or team is None:
        raise ApplicationError(f"contact {step.contact_id} or team {step.team_id} no longer exists",
                               type="MissingRecord", non_retryable=True)
    agent_id = step.agent_id
    if step.team_plan or agent_id is None:
        rainmaker = await rainmaker_of(session, team.id)
        if rainmaker is None:
            raise ApplicationError(f"team {team.id} has no Rainmaker", type="MissingRecord", non_retryable=True)
        designation = designation_for(step.step, team_plan=step.team_plan, owner_id=agent_id,
                                      defaults=TeamDefaults.of(team),
                                      rainmaker_id=rainmaker.id, contact_assignee_id=contact.assignee_id)
        agent_id = designation.agent_id
        if designation.fell_back:
            await _note_fallback(session, step, Parties(contact=contact, agent=rainmaker, team=team))
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise ApplicationError(f"agent {agent_id} no longer exists", type="MissingRecord", non_retryable=True)
    return Parties(contact=contact, agent=agent, team=team)


async def _note_fallback(session: AsyncSession, step: StepInput, parties: Parties) -> None:
    """R-TEAM-3: once per step and pass (the key), however often the step is attempted."""
    label = describe_step(step.step, parties.merge_values(), step.repeat)
    await write_timeline(
        session, team_id=step.team_id, contact_id=parties.contact.id, kind="assignee_fallback",
        detail=f"{parties.contact_name} has no assigned agent: the {label} goes to the Rainmaker, "
               f"{parties.agent_name}", at=step.scheduled_for, idempotency_key=f"{step.idempotency_key}:fallback",
        plan_id=step.plan_id, step_id=step.step.id, enrollment_id=step.enrollment_id)
