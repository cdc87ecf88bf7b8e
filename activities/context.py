"""Loads what a run needs to decide timing: the plan version, the account's zone and slots, the contact's zone."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.models import Agent, Contact, Plan, Team
from db.queries import plan_version
from db.session import session_scope
from domain.plan import DEFAULT_SLOT_TIMES, PlanDefinition
from domain.schedule import DEFAULT_TIME_ZONE, ScheduleContext
from workflows.types import EnrollmentContext, LoadContextInput, RemovalRules


class ContextActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn
    async def load_enrollment_context(self, request: LoadContextInput) -> EnrollmentContext:
        async with session_scope(self._sessions) as session:
            plan = await session.get(Plan, request.plan_id)
            contact = await session.get(Contact, request.contact_id)
            version = await plan_version(session, request.plan_id, request.plan_version)
            if plan is None or contact is None or version is None:
                raise ApplicationError(
                    f"plan {request.plan_id} v{request.plan_version} or contact {request.contact_id} is gone",
                    type="MissingRecord", non_retryable=True)
            team = await session.get(Team, plan.team_id)
            owner = await session.get(Agent, plan.owner_agent_id) if plan.owner_agent_id else None
            # The account time zone and slots: the owner's own settings, else the team's (team plans: the team's).
            time_zone = (owner.time_zone if owner else None) or (team.time_zone if team else None) or DEFAULT_TIME_ZONE
            slots = {**DEFAULT_SLOT_TIMES, **((team.slot_times if team else None) or {}),
                     **((owner.slot_times if owner else None) or {})}
            name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
            return EnrollmentContext(
                plan=PlanDefinition.model_validate(version.definition),
                plan_version=version.version,
                plan_name=plan.name,
                plan_active=plan.active,
                schedule=ScheduleContext(time_zone=time_zone, slot_times=slots, contact_time_zone=contact.time_zone,
                                         spread_key=request.workflow_id),
                removal_rules=RemovalRules(on_email_reply=plan.on_email_reply, on_text_reply=plan.on_text_reply),
                contact_name=name or contact.id,
            )
