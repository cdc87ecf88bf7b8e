"""Who a step involves: the contact, the agent whose credits it uses (R-TEAM-3) and the plan's team."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.exceptions import ApplicationError

from db.models import Agent, Contact, Team
from db.queries import rainmaker_of, write_timeline
from domain.merge import Person, full_name, merge_values
from domain.plan import Designated, describe_step
from domain.team import TeamDefaults, designate, designated_role
from workflows.types import StepInput


@dataclass(frozen=True)
class Parties:
    contact: Contact
    agent: Agent
    team: Team

    def merge_values(self) -> dict[str, str]:
        contact = Person(self.contact.first_name, self.contact.last_name, self.contact.email, self.contact.phone)
        agent = Person(self.agent.first_name, self.agent.last_name, self.agent.email, self.agent.phone)
        return merge_values(contact, agent)

    @property
    def contact_name(self) -> str:
        return full_name(self.contact.first_name, self.contact.last_name)

    @property
    def agent_name(self) -> str:
        return full_name(self.agent.first_name, self.agent.last_name)


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
        defaults = TeamDefaults(Designated(team.default_task_assignee), Designated(team.default_email_sender),
                                Designated(team.default_text_sender))
        designation = designate(designated_role(step.step, defaults), rainmaker.id, contact.assignee_id)
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
