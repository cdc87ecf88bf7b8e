"""What a person reads about an enrollment before its workflow has said anything: the first step and when it runs
(R-ENR-4: "the next step is known from the moment the enrollment exists"), and the merge values labels are
rendered with (R-MERGE-1). The workflow's context activity and the API share these, with the same plan version,
settings and schedule code, so the estimate is the instant the workflow then runs.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agent, Contact, Enrollment, Plan
from db.queries import plan_version, rainmaker_of
from domain.merge import Person, merge_values
from domain.plan import PlanDefinition
from domain.schedule import ScheduledStep, next_step, start_cursor
from services.plans import schedule_context


async def label_values(session: AsyncSession, plan: Plan, contact: Contact) -> dict[str, str]:
    """Merge values for labels: the contact, and as `{agent.*}` the owner of a personal plan, or for a team plan the
    contact's assignee, else the Rainmaker (a step itself resolves its sender when it runs, R-TEAM-3)."""
    agent_id = plan.owner_agent_id or contact.assignee_id
    agent = await session.get(Agent, agent_id) if agent_id else None
    agent = agent if agent is not None else await rainmaker_of(session, plan.team_id)
    return merge_values(Person(contact.first_name, contact.last_name, contact.email, contact.phone),
                        Person(agent.first_name, agent.last_name, agent.email, agent.phone) if agent else Person())


async def planned_first_step(session: AsyncSession, row: Enrollment) -> tuple[ScheduledStep, dict[str, str]] | None:
    """The enrollment's first step and its instant as the workflow will compute them, with the label values."""
    plan = await session.get(Plan, row.plan_id)
    contact = await session.get(Contact, row.contact_id)
    version = await plan_version(session, row.plan_id, row.plan_version)
    if plan is None or contact is None or version is None or row.started_at is None:
        return None
    ctx = await schedule_context(session, plan, contact_time_zone=contact.time_zone, spread_key=row.workflow_id)
    first = next_step(PlanDefinition.model_validate(version.definition), start_cursor(row.started_at, ctx), ctx)
    return (first, await label_values(session, plan, contact)) if first is not None else None
