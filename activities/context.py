"""Loads what a run needs to decide timing: the plan version, the account's zone and slots, the contact's zone."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.base import table_of, utcnow
from db.models import Agent, Contact, Enrollment, Plan, PlanVersion, Team
from db.session import read_scope, write_after_reading
from domain.merge import full_name
from domain.plan import PlanDefinition
from services.plans import schedule_context
from services.progress import step_parties
from workflows.types import EnrollmentContext, LoadContextInput, RemovalRules


class ContextActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn
    async def load_enrollment_context(self, request: LoadContextInput) -> EnrollmentContext:
        # Reads only: on SQLite they take no write lock, so a run's first load does not queue behind the API's
        # enrollments (issue 11); what it has to write is written after, in a transaction of one statement.
        async with read_scope(self._sessions) as session:
            version = await _prefetch(session, request)
            plan = await session.get(Plan, request.plan_id)
            contact = await session.get(Contact, request.contact_id)
            if plan is None or contact is None or version is None:
                raise ApplicationError(
                    f"plan {request.plan_id} v{request.plan_version} or contact {request.contact_id} is gone",
                    type="MissingRecord", non_retryable=True)
            name = full_name(contact.first_name, contact.last_name)
            row = await session.get(Enrollment, request.enrollment_id) if request.enrollment_id else None
            context = EnrollmentContext(
                plan=PlanDefinition.model_validate(version.definition).without_design_html(),
                plan_version=version.version,
                plan_name=plan.name,
                plan_active=plan.active,
                enrollment_active=request.enrollment_id is None or (row is not None and row.status == "active"),
                schedule=await schedule_context(session, plan, contact_time_zone=contact.time_zone,
                                                spread_key=request.workflow_id),
                removal_rules=RemovalRules(on_email_reply=plan.on_email_reply, on_text_reply=plan.on_text_reply),
                contact_name=name or contact.id,
                parties=await step_parties(session, plan, contact),
            )
            # R-PLAN-9: the row says which version the contact now follows, not only the workflow; and once the
            # workflow runs, the reconciler need not look at the row.
            if row is not None and (row.plan_version != version.version or row.confirmed_at is None):
                await write_after_reading(session, _ROW_CAUGHT_UP, {
                    "enrollment_id": row.id, "followed": version.version, "confirmed": row.confirmed_at or utcnow()})
        return context


# Built once, its values bound at each call, on the table: an ORM update built per call (its statement, its cache
# key, the session's synchronisation of loaded rows) cost the worker more than running it (issue 11).
_ENROLLMENTS = table_of(Enrollment)
_ROW_CAUGHT_UP = (update(_ENROLLMENTS).where(_ENROLLMENTS.c.id == bindparam("enrollment_id"))
                  .values(plan_version=bindparam("followed"), confirmed_at=bindparam("confirmed")))


async def _prefetch(session: AsyncSession, request: LoadContextInput) -> PlanVersion | None:
    """Every row the load reads, in one query: the plan, the contact, the version, the enrollment, the team and the
    agents the labels may name. They land in the session's identity map, where the `session.get` calls of the load
    (and of `schedule_context` and `step_parties`) find them; every start and every reload of every enrollment runs
    this, and each round trip costs the worker more than its rows (issue 11). A row missing here is looked up, and
    reported, where it is needed, as before; the version is returned (it has no key to look up by), None when the
    plan has no such version."""
    row = (await session.execute(_context_query(), {
        "plan_id": request.plan_id, "contact_id": request.contact_id, "version": request.plan_version,
        "enrollment_id": request.enrollment_id})).first()
    session.info["context_rows"] = row  # the identity map holds rows only while something refers to them
    version: PlanVersion | None = row[2] if row is not None else None
    return version


@cache
def _context_query() -> Select[Plan, Contact, PlanVersion, Enrollment, Team, Agent, Agent]:
    """Built once, its values bound at each call."""
    owner, assignee = aliased(Agent), aliased(Agent)
    return (select(Plan, Contact, PlanVersion, Enrollment, Team, owner, assignee).select_from(Plan)
            .outerjoin(Contact, Contact.id == bindparam("contact_id"))
            .outerjoin(PlanVersion, (PlanVersion.plan_id == Plan.id) & (PlanVersion.version == bindparam("version")))
            .outerjoin(Enrollment, Enrollment.id == bindparam("enrollment_id"))
            .outerjoin(Team, Team.id == Plan.team_id)
            .outerjoin(owner, owner.id == Plan.owner_agent_id)
            .outerjoin(assignee, assignee.id == Contact.assignee_id)
            .where(Plan.id == bindparam("plan_id")))
