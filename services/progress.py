"""What a person reads about an enrollment before its workflow has said anything: the first step and when it runs
(R-ENR-4: "the next step is known from the moment the enrollment exists"), and who its labels are rendered for
(R-MERGE-1): the contact, and for each step the agent that step acts as (R-TEAM-2). The workflow's context activity
and the API share these, with the same plan version, settings and schedule code, so the estimate is the instant the
workflow then runs.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from db.models import Agent, Contact, Enrollment, Plan, Team
from db.queries import plan_version, rainmaker_of
from domain.merge import Person
from domain.plan import PlanDefinition
from domain.schedule import ScheduledStep, next_step, start_cursor
from domain.team import StepParties, TeamDefaults, can_text
from services.plans import schedule_context


async def step_parties(session: AsyncSession, plan: Plan, contact: Contact) -> StepParties:
    """Who a step of `contact`'s enrollment may act as (R-TEAM-2): the owner of a personal plan; for a team plan the
    Rainmaker and the contact's assignee as they are now, with the team's defaults. Labels are rendered per step from
    it, by the resolution the step uses when it runs (R-TEAM-3), so `{agent.*}` reads as it will be sent."""
    person = Person.of(contact)
    if not plan.team_plan and plan.owner_agent_id is not None:
        owner = await session.get(Agent, plan.owner_agent_id)
        return StepParties(owner_id=plan.owner_agent_id, contact=person,
                           agents={owner.id: Person.of(owner)} if owner else {})
    team = await session.get(Team, plan.team_id)
    rainmaker = await rainmaker_of(session, plan.team_id)
    assignee = await session.get(Agent, contact.assignee_id) if contact.assignee_id else None
    defaults = TeamDefaults.of(team) if team else TeamDefaults()
    agents = {agent.id: Person.of(agent) for agent in (rainmaker, assignee) if agent is not None}
    return StepParties(team_plan=plan.team_plan, rainmaker_id=rainmaker.id if rainmaker else "",
                       contact_assignee_id=contact.assignee_id, defaults=defaults, contact=person,
                       agents=agents)


async def texting_agents(session: AsyncSession, parties: StepParties, settings: Settings) -> set[str]:
    """Of the agents `parties` may designate, those with the Twilio setup R-TXT-5 asks for, as they are now."""
    outbox = settings.messaging_provider == "outbox"
    texting = set()
    for agent_id in parties.agents:
        agent = await session.get(Agent, agent_id)
        if agent is not None and can_text(agent.twilio_from_number, agent.twilio_account_sid,
                                          agent.twilio_auth_token or settings.twilio_auth_token, outbox=outbox):
            texting.add(agent_id)
    return texting


async def planned_first_step(session: AsyncSession, row: Enrollment) -> tuple[ScheduledStep, StepParties] | None:
    """The enrollment's first step and its instant as the workflow will compute them, with who the labels name."""
    plan = await session.get(Plan, row.plan_id)
    contact = await session.get(Contact, row.contact_id)
    version = await plan_version(session, row.plan_id, row.plan_version)
    if plan is None or contact is None or version is None or row.started_at is None:
        return None
    ctx = await schedule_context(session, plan, contact_time_zone=contact.time_zone, spread_key=row.workflow_id)
    first = next_step(PlanDefinition.model_validate(version.definition), start_cursor(row.started_at, ctx), ctx)
    return (first, await step_parties(session, plan, contact)) if first is not None else None
